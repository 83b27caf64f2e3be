"""What every paginated list of the API shares: the query parameters and the page body."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

import msgspec
from litestar.params import QueryParameter

T = TypeVar("T")

Offset = Annotated[int, QueryParameter(ge=0)]
Limit = Annotated[int, QueryParameter(ge=1, le=500)]


class Page(msgspec.Struct, Generic[T], rename="camel"):
    """``limit`` items from ``offset`` on, of ``total``."""

    items: list[T]
    total: int
    offset: int
    limit: int

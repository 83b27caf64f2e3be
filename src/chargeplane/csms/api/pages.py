"""What every paginated list of the API shares: the query parameters and the page body; and the integer types
of paths and bodies, bounded by what the database stores (an unbounded integer reached the database and
answered 500)."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

import msgspec
from litestar.params import PathParameter, QueryParameter

T = TypeVar("T")

INT32_MAX = 2**31 - 1  # an Integer column on PostgreSQL; OCPP's integers are 32-bit in practice too
INT64_MAX = 2**63 - 1  # SQL OFFSET on SQLite and PostgreSQL

Offset = Annotated[int, QueryParameter(ge=0, le=INT64_MAX)]
PathId = Annotated[int, PathParameter(ge=0, le=INT32_MAX)]  # a row id in a path: /reservations/{id}
Int32 = Annotated[int, msgspec.Meta(ge=-INT32_MAX - 1, le=INT32_MAX)]  # an integer in a body
Count = Annotated[int, msgspec.Meta(ge=0, le=INT32_MAX)]  # an id, a connector, a number in a body
Limit = Annotated[int, QueryParameter(ge=1, le=500)]


class Page(msgspec.Struct, Generic[T], rename="camel"):
    """``limit`` items from ``offset`` on, of ``total``."""

    items: list[T]
    total: int
    offset: int
    limit: int

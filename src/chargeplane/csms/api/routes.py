"""The route shapes the blocks share, one way each: a decorator says what kind of route it is, the route keeps
its own path, summary, parameters and body.

- :func:`station_call`: the route sends a CALL to a station and answers with the station's answer: 200, the
  statuses of every station call (:data:`~chargeplane.csms.api.errors.STATION_CALL`), the operator's scope.
- :func:`get_or_404`: a GET of something named in its path (a station, a report, a rule): 404 when there is none.
- :func:`paged`: a page of API items from what a paginated query found (``(records, total)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, TypeVar

from litestar import delete, get, post
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.openapi.spec import Operation
from litestar.status_codes import HTTP_200_OK, HTTP_404_NOT_FOUND

from chargeplane.csms.api.app import OPERATOR
from chargeplane.csms.api.errors import STATION_CALL, error_responses
from chargeplane.csms.api.pages import Page

R = TypeVar("R")
T = TypeVar("T")

# The methods a station call comes as: POST (most), GET (it reads from the station: the operator's scope all
# the same), DELETE (it removes something from the station).
_CALL_METHODS: dict[str, type[get] | type[post] | type[delete]] = {"GET": get, "POST": post, "DELETE": delete}


def station_call(
    path: str,
    *,
    summary: str,
    method: Literal["GET", "POST", "DELETE"] = "POST",
    status_code: int = HTTP_200_OK,
    also: Sequence[int] = (),
    operation_class: type[Operation] = Operation,
) -> HTTPRouteHandler:
    """A route that sends a CALL to a station: the statuses of every station call and ``also`` (a route's own,
    e.g. 400 for a rule the body breaks); the operator's scope; ``status_code`` 200 (the station's answer)
    unless the route creates something (201)."""
    return _CALL_METHODS[method](
        path,
        status_code=status_code,
        summary=summary,
        responses=error_responses(*STATION_CALL, *also),
        opt=OPERATOR,
        operation_class=operation_class,
    )


def get_or_404(path: str, *, summary: str) -> HTTPRouteHandler:
    """A GET of something named in the path: answered 404 when there is no such thing (no such station, for a
    path with ``{station_id}``)."""
    return get(path, summary=summary, responses=error_responses(HTTP_404_NOT_FOUND))


def paged(out: Callable[[R], T], found: tuple[Sequence[R], int], offset: int, limit: int) -> Page[T]:
    """The page of ``found`` (a query's records from ``offset`` on and their total), each record as ``out``
    makes it for the API."""
    records, total = found
    return Page([out(record) for record in records], total, offset, limit)

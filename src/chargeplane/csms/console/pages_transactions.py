"""The console's transaction pages: the list with its filters (station, id token, start time range, state),
the same filtered list as a CSV download, and one transaction with its charts, stop reason and cost.

The CSV is streamed a page of rows at a time (never the whole list in memory; at most ``MAX_CSV_ROWS``
rows, narrow the filters for more); every text cell that a spreadsheet would read as a formula (starting
with = + - @, or a tab / carriage return) is prefixed with a single quote, since station ids, id tokens and
stop reasons come from stations and drivers."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, get
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Stream
from litestar.status_codes import HTTP_404_NOT_FOUND

from chargeplane.csms.blocks.tariffs.service import CostRecord, NoCost, TariffService
from chargeplane.csms.blocks.transactions.queries import (
    TransactionFilter,
    TransactionQueries,
    TransactionRecord,
)
from chargeplane.csms.console.forms import moment, offset, text
from chargeplane.csms.console.users import Session
from chargeplane.csms.console.web import HEADERS

if TYPE_CHECKING:
    from chargeplane.csms.console.web import Console

AnyRequest = Request[Any, Any, Any]
PAGE = 50
CSV_PAGE = 500  # rows read per query while streaming
MAX_CSV_ROWS = 200_000
STATES = ("", "active", "ended", "refused")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "id",
    "transactionId",
    "stationId",
    "evseId",
    "connectorId",
    "status",
    "chargingState",
    "idToken",
    "tokenType",
    "startedAt",
    "endedAt",
    "energyWh",
    "stopReason",
    "ocppVersion",
)


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula (OWASP's CSV injection advice)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    cell = str(value)
    if isinstance(value, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def csv_row(record: TransactionRecord) -> list[str]:
    values: Sequence[object] = (
        record.id,
        record.transaction_id,
        record.station_id,
        record.evse_id,
        record.connector_id,
        record.status,
        record.charging_state,
        record.id_token,
        record.token_type,
        record.started_at,
        record.ended_at,
        None if record.energy_wh is None else round(record.energy_wh, 3),
        record.stop_reason,
        record.ocpp_version,
    )
    return [safe_cell(value) for value in values]


@dataclass(frozen=True, slots=True)
class Filters:
    """The list's filters as the query string carries them (the CSV link repeats them)."""

    station: str = ""
    id_token: str = ""
    start: str = ""  # as typed, shown again in the form
    end: str = ""
    state: str = ""

    @classmethod
    def of(cls, request: AnyRequest) -> Filters:
        query = request.query_params
        state = query.get("status", "")
        return cls(
            station=text(query.get("station"), 48) or "",
            id_token=text(query.get("id_token")) or "",
            start=text(query.get("from"), 40) or "",
            end=text(query.get("to"), 40) or "",
            state=state if state in STATES else "",
        )

    def where(self) -> TransactionFilter:
        """The block's filter; 400 for a time that is not one, or a range that ends before it starts."""
        start, end = moment(self.start), moment(self.end)
        if start is not None and end is not None and end <= start:
            raise HTTPException(status_code=400, detail="the time range ends before it starts")
        return TransactionFilter(
            station_id=self.station or None,
            status=self.state or None,
            id_token=self.id_token or None,
            started_from=start,
            started_to=end,
        )

    def query(self) -> dict[str, str]:
        return {
            "station": self.station,
            "id_token": self.id_token,
            "from": self.start,
            "to": self.end,
            "status": self.state,
        }


class TransactionPages:
    def __init__(self, console: Console, queries: TransactionQueries, tariffs: TariffService) -> None:
        self.console = console
        self.queries = queries
        self.tariffs = tariffs

    async def cost(self, key: int) -> CostRecord | None:
        try:
            return (await self.tariffs.receipt(key)).record
        except NoCost:
            return None  # no tariff applied to it: no cost known

    async def csv_lines(self, where: TransactionFilter) -> AsyncIterator[bytes]:
        # Newest first by offset: a transaction starting meanwhile would shift the pages, so the export ends at
        # the moment it was asked for.
        now = self.console.views.clock.now() + timedelta(microseconds=1)
        if where.started_to is None or where.started_to > now:
            where = replace(where, started_to=now)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180, quotes as needed
        writer.writerow(CSV_COLUMNS)
        yield buffer.getvalue().encode()
        at = 0
        while at < MAX_CSV_ROWS:
            records, _ = await self.queries.find(where, at, CSV_PAGE)
            if not records:
                return
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(csv_row(record) for record in records)
            yield buffer.getvalue().encode()
            at += len(records)

    def routes(self) -> list[Any]:
        pages = self
        console = self.console

        @get("/transactions", include_in_schema=False)
        async def transactions(request: AnyRequest) -> Response[Any]:
            filters = Filters.of(request)
            at = offset(request.query_params.get("offset"))

            async def build(session: Session) -> Response[Any]:
                status, message = 200, None
                try:
                    found, total = await pages.queries.find(filters.where(), at, PAGE)
                except HTTPException as error:  # a bad time: the form again, with the reason
                    (found, total), status, message = ([], 0), error.status_code, str(error.detail)
                return console.render(
                    "transactions.html",
                    status,
                    session=session,
                    transactions=found,
                    total=total,
                    offset=at,
                    page=len(found),
                    filters=filters,
                    query=filters.query(),
                    states=STATES,
                    message=message,
                )

            return await console.page(request, build)

        @get("/transactions.csv", include_in_schema=False)
        async def transactions_csv(request: AnyRequest) -> Response[Any]:
            filters = Filters.of(request)

            async def build(session: Session) -> Response[Any]:
                where = filters.where()  # 400 for a bad time, once signed in
                stamp = console.views.clock.now().strftime("%Y%m%dT%H%M%SZ")
                return Stream(
                    pages.csv_lines(where),
                    media_type="text/csv; charset=utf-8",
                    headers={
                        **HEADERS,
                        "Content-Disposition": f'attachment; filename="transactions-{stamp}.csv"',
                        "Cache-Control": "no-store",
                    },
                )

            return await console.page(request, build)

        @get("/transactions/{key:int}", include_in_schema=False)
        async def transaction(request: AnyRequest, key: FromPath[int]) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                detail, series = await console.views.transaction(key)
                chart = msgspec.json.encode(series.as_json()).decode().replace("</", "<\\/")
                return console.render(
                    "transaction.html",
                    session=session,
                    detail=detail,
                    chart=chart,
                    has_soc=bool(series.soc),
                    cost=await pages.cost(key),
                )

            return await console.page(request, build)

        @get("/fragments/transactions/{key:int}/{part:str}", include_in_schema=False)
        async def transaction_fragment(
            request: AnyRequest, key: FromPath[int], part: FromPath[str]
        ) -> Response[Any]:
            if part not in ("facts", "events"):
                raise HTTPException(status_code=HTTP_404_NOT_FOUND, detail=f"no part {part}")

            async def build(session: Session) -> Response[Any]:
                detail, _ = await console.views.transaction(key)
                cost = await pages.cost(key) if part == "facts" else None
                return console.render(f"_transaction_{part}.html", detail=detail, cost=cost)

            return await console.page(request, build)

        return [transactions, transactions_csv, transaction, transaction_fragment]

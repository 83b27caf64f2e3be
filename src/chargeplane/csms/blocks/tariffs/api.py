"""HTTP routes of tariffs: the operator's tariffs (a default one, per id token, per group), a transaction's
receipt, and the 2.1 local-cost commands (SetDefaultTariff, GetTariffs, ClearTariffs, ChangeTransactionTariff)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import delete, get, post, put
from litestar.params import FromQuery, JSONBody, PathParameter
from litestar.status_codes import (
    HTTP_201_CREATED,
    HTTP_204_NO_CONTENT,
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
)

from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.pages import Limit, Offset, Page, PathId
from chargeplane.csms.api.routes import get_or_404, paged, station_call
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.blocks.tariffs.repository import TariffRecord
from chargeplane.csms.blocks.tariffs.service import Receipt, TariffInput, TariffService

TariffId = Annotated[str, PathParameter(min_length=1, max_length=60)]
EvseId = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]


class TariffIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """A tariff: ``tariff`` is a 2.1 TariffType (tariffId, currency, energy, chargingTime, idleTime, fixedFee,
    minCost, maxCost, description, validFrom); conditions on time of day, day of week, dates and EVSE kind."""

    tariff: dict[str, Any]
    default: bool = False  # the tariff of every token without one of its own or of its group
    id_tokens: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=255)]], msgspec.Meta(max_length=1000)
    ] = []
    groups: Annotated[list[Annotated[str, msgspec.Meta(max_length=255)]], msgspec.Meta(max_length=1000)] = []


class TariffOut(msgspec.Struct, rename="camel"):
    tariff_id: str
    tariff: dict[str, Any]
    currency: str
    default: bool
    id_tokens: list[str]
    groups: list[str]
    created_at: datetime
    updated_at: datetime


class ReceiptOut(msgspec.Struct, rename="camel"):
    transaction_key: int
    station_id: str
    transaction_id: str
    status: str  # active | ended
    tariff_id: str
    currency: str | None
    total_excl_tax: str | None  # decimal text
    total_incl_tax: str | None
    cost_details: dict[str, Any] | None  # the CSMS's calculation as a CostDetailsType
    tariffs: list[dict[str, Any]]  # {"from": time, "tariff": TariffType}: the tariffs in force, in order
    station_cost_details: dict[str, Any] | None  # a 2.1 station's own costDetails (I12)
    mismatch: str | None  # why the station's total differs from the CSMS's
    last_cost_update: str | None
    updated_at: datetime


class DefaultTariffIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    tariff_id: Annotated[str, msgspec.Meta(max_length=60)]
    evse_id: EvseId = 0


class ClearTariffsIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    tariff_ids: (
        Annotated[list[Annotated[str, msgspec.Meta(max_length=60)]], msgspec.Meta(min_length=1)] | None
    ) = None
    evse_id: EvseId | None = None


class ChangeTariffIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    tariff_id: Annotated[str, msgspec.Meta(max_length=60)]


def _tariff_out(record: TariffRecord) -> TariffOut:
    return TariffOut(
        record.tariff_id,
        record.tariff,
        record.currency,
        record.is_default,
        list(record.id_tokens),
        list(record.groups),
        record.created_at,
        record.updated_at,
    )


def _input(data: TariffIn) -> TariffInput:
    return TariffInput(data.tariff, data.default, tuple(data.id_tokens), tuple(data.groups))


def _receipt_out(receipt: Receipt) -> ReceiptOut:
    r = receipt.record
    return ReceiptOut(
        r.transaction_key,
        r.station_id,
        r.transaction_id,
        r.status,
        r.tariff_id,
        (r.breakdown or {}).get("totalCost", {}).get("currency"),
        str(r.total_excl_tax) if r.total_excl_tax is not None else None,
        str(r.total_incl_tax) if r.total_incl_tax is not None else None,
        r.breakdown,
        receipt.spans,
        r.station_cost,
        r.mismatch,
        str(r.last_sent_cost) if r.last_sent_cost is not None else None,
        r.updated_at,
    )


def routes(service: TariffService) -> list[Any]:
    @post(
        "/tariffs",
        status_code=HTTP_201_CREATED,
        summary="Create a tariff",
        responses=error_responses(HTTP_400_BAD_REQUEST, HTTP_409_CONFLICT),
    )
    async def create_tariff(data: JSONBody[TariffIn]) -> TariffOut:
        """400 for a tariff the schema or the cost engine refuses, 409 when its tariffId exists. ``default``
        makes it the default tariff (the previous default stops being one); ``idTokens`` / ``groups`` give it to
        those tokens and groups (taken from the tariff they had)."""
        return _tariff_out(await service.create(_input(data)))

    @get("/tariffs", summary="The tariffs, by id")
    async def list_tariffs(offset: Offset = 0, limit: Limit = 100) -> Page[TariffOut]:
        """Every tariff with its tokens and groups."""
        return paged(_tariff_out, await service.all(offset, limit), offset, limit)

    @get_or_404("/tariffs/{tariff_id:str}", summary="One tariff")
    async def one_tariff(tariff_id: TariffId) -> TariffOut:
        """The tariff with its tokens and groups."""
        return _tariff_out(await service.get(tariff_id))

    @put(
        "/tariffs/{tariff_id:str}",
        summary="Replace a tariff",
        responses=error_responses(HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND),
    )
    async def replace_tariff(tariff_id: TariffId, data: JSONBody[TariffIn]) -> TariffOut:
        """Transactions that have started keep the tariff they got (a copy)."""
        return _tariff_out(await service.replace(tariff_id, _input(data)))

    @delete(
        "/tariffs/{tariff_id:str}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a tariff",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def delete_tariff(tariff_id: TariffId) -> None:
        """Its tokens and groups fall back to the default tariff."""
        await service.delete(tariff_id)

    @get_or_404("/transactions/{key:int}/cost", summary="A transaction's cost: the receipt")
    async def transaction_cost(key: PathId) -> ReceiptOut:
        """The CSMS's calculation (final once the transaction ended, else up to its last event) per component
        with taxes and charging periods, the tariffs in force, and a 2.1 station's own costDetails with any
        mismatch. 404 for a transaction without a tariff."""
        return _receipt_out(await service.receipt(key))

    @station_call(
        "/transactions/{key:int}/tariff",
        summary="Change an ongoing transaction's tariff (2.1 I11 ChangeTransactionTariff)",
        also=(HTTP_400_BAD_REQUEST,),
    )
    async def change_transaction_tariff(key: PathId, data: JSONBody[ChangeTariffIn]) -> dict[str, Any]:
        """The station's answer; accepted, the CSMS prices the transaction with the new tariff from now on. 422
        for a 2.0.1 station (no such message)."""
        return await service.change_transaction_tariff(key, data.tariff_id)

    @station_call(
        "/stations/{station_id:str}/tariffs/default",
        summary="Install a stored tariff as a station's default tariff (2.1 I07 SetDefaultTariff)",
    )
    async def set_default_tariff(
        known_station: KnownStation, data: JSONBody[DefaultTariffIn]
    ) -> dict[str, Any]:
        """The station's answer (Accepted, Rejected, TooManyElements, ConditionNotSupported, DuplicateTariffId).
        ``evseId`` 0: every EVSE. 422 for a 1.6 / 2.0.1 station."""
        return await service.set_default(known_station.station_id, data.tariff_id, data.evse_id)

    @station_call(
        "/stations/{station_id:str}/tariffs",
        summary="The tariffs a station holds (2.1 I09 GetTariffs)",
        method="GET",
    )
    async def get_station_tariffs(known_station: KnownStation, evse_id: FromQuery[int] = 0) -> dict[str, Any]:
        """Asks the station (GetTariffs): its status and tariff assignments. ``evse_id`` 0: all EVSEs."""
        return await service.get_tariffs(known_station.station_id, evse_id)

    @station_call(
        "/stations/{station_id:str}/tariffs/clear",
        summary="Clear tariffs on a station (2.1 I10 ClearTariffs)",
    )
    async def clear_station_tariffs(
        known_station: KnownStation, data: JSONBody[ClearTariffsIn]
    ) -> dict[str, Any]:
        """The station's clearTariffsResult; no filter: every tariff."""
        return await service.clear_tariffs(known_station.station_id, data.tariff_ids, data.evse_id)

    return [
        create_tariff,
        list_tariffs,
        one_tariff,
        replace_tariff,
        delete_tariff,
        transaction_cost,
        change_transaction_tariff,
        set_default_tariff,
        get_station_tariffs,
        clear_station_tariffs,
    ]

"""HTTP routes of V2X (2.1 block Q): allowed energy transfers per token / station (Q01), during a session
(NotifyAllowedEnergyTransfer, Q02), aFRR signals (Q08), a central setpoint for a transaction (Q03) and the
transaction's V2X view with the energy exported."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
)

from chargeplane.csms.api.app import OPERATOR
from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.pages import PathId
from chargeplane.csms.api.routes import get_or_404, station_call
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.blocks.smart_charging.api import SetProfileOut, profile_out
from chargeplane.csms.blocks.v2x.repository import AllowedRecord
from chargeplane.csms.blocks.v2x.service import Answer, ExternalControl, SetpointPeriod, V2xService
from chargeplane.ocpp.messages.v21.enums import EnergyTransferModeEnumType

Transfer = Annotated[
    str, msgspec.Meta(pattern="\\A(" + "|".join(m.value for m in EnergyTransferModeEnumType) + ")\\Z")
]
Transfers = Annotated[list[Transfer], msgspec.Meta(min_length=1, max_length=12)]
Scope = Annotated[str, msgspec.Meta(pattern=r"\A(token|station)\Z")]
Subject = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]


class AllowedIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    allowed_energy_transfer: Transfers


class AllowedOut(msgspec.Struct, rename="camel"):
    scope: str
    subject: str
    allowed_energy_transfer: list[str]
    updated_at: datetime


class NotifyAllowedIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    transaction_id: Annotated[str, msgspec.Meta(min_length=1, max_length=36)]
    allowed_energy_transfer: Transfers


class AfrrIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    timestamp: datetime
    signal: Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]


class AnswerOut(msgspec.Struct, rename="camel"):
    status: str  # the station's
    reason_code: str | None


class PeriodIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    start_period: Annotated[int, msgspec.Meta(ge=0)]
    setpoint: Annotated[float, msgspec.Meta(ge=-1e6, le=1e6)]  # W, negative: discharging


class SetpointIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """A TxProfile of CentralSetpoint periods (Q03): ascending startPeriod, the first at 0."""

    profile_id: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
    periods: Annotated[list[PeriodIn], msgspec.Meta(min_length=1, max_length=24)]
    stack_level: Annotated[int, msgspec.Meta(ge=0, le=10)] = 1
    duration: Annotated[int, msgspec.Meta(ge=1)] | None = None


class ExternalControlOut(msgspec.Struct, rename="camel"):
    source: str | None
    evse_id: int
    operation_mode: str  # ExternalSetpoint | ExternalLimits
    period: dict[str, Any]  # setpoint, setpointReactive, limit, dischargeLimit as notified
    received_at: datetime


class V2xOut(msgspec.Struct, rename="camel"):
    transaction_key: int
    station_id: str
    transaction_id: str | None
    status: str
    allowed_energy_transfer: list[str] | None
    requested_energy_transfer: str | None
    available_energy_transfer: list[str]
    v2x_charging_parameters: dict[str, Any] | None
    energy_exported_wh: float
    power_w: float | None
    external_control: ExternalControlOut | None  # Q06: an EMS controls the EVSE (its last notice)
    evse_sleep: bool  # Q10.FR.04: the station said its EVSE's electronics are off


def _allowed_out(record: AllowedRecord) -> AllowedOut:
    return AllowedOut(record.scope, record.subject, list(record.transfers), record.updated_at)


def _external_out(external: ExternalControl | None) -> ExternalControlOut | None:
    if external is None:
        return None
    e = external
    return ExternalControlOut(e.source, e.evse_id, e.operation_mode, e.period, e.received_at)


def _answer_out(answer: Answer) -> AnswerOut:
    return AnswerOut(answer.status, answer.reason)


def routes(service: V2xService) -> list[Any]:
    @put(
        "/v2x/allowed/{kind:str}/{subject:str}",
        summary="The energy transfers an id token or a station may use (Q01 allowedEnergyTransfer)",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def put_allowed(
        kind: FromPath[Scope], subject: FromPath[Subject], data: JSONBody[AllowedIn]
    ) -> AllowedOut:
        """``kind`` token (the id token as presented) or station (its id). A 2.1 station's Authorize answer
        carries the token's list, else its station's, else none (Q01.FR.08). 404: no such station."""
        return _allowed_out(await service.set_allowed(kind, subject, data.allowed_energy_transfer))

    @get("/v2x/allowed", summary="Every allowed energy transfer list")
    async def list_allowed(kind: FromQuery[Scope | None] = None) -> list[AllowedOut]:
        """Token and station lists, optionally of one kind (``?kind=token``)."""
        return [_allowed_out(r) for r in await service.allowed_list(kind)]

    @delete(
        "/v2x/allowed/{kind:str}/{subject:str}",
        status_code=HTTP_200_OK,
        summary="Forget an allowed energy transfer list",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def delete_allowed(kind: FromPath[Scope], subject: FromPath[Subject]) -> None:
        """404 when there is none."""
        await service.delete_allowed(kind, subject)

    @station_call(
        "/stations/{station_id:str}/v2x/allowed-energy-transfer",
        summary="Change the energy transfers of a running transaction (Q02 NotifyAllowedEnergyTransfer)",
    )
    async def notify_allowed(known_station: KnownStation, data: JSONBody[NotifyAllowedIn]) -> AnswerOut:
        """Sends NotifyAllowedEnergyTransfer; the station renegotiates with its EV (Q02.FR.06). 422: not 2.1."""
        answer = await service.notify_allowed(
            known_station.station_id, data.transaction_id, data.allowed_energy_transfer
        )
        return _answer_out(answer)

    @station_call(
        "/stations/{station_id:str}/v2x/afrr-signal", summary="Send an aFRR signal (Q08 AFRRSignal)"
    )
    async def afrr_signal(known_station: KnownStation, data: JSONBody[AfrrIn]) -> AnswerOut:
        """Rejected NoSignalWattCurve by a station with no LocalFrequency period with a signal curve in force
        (Q08.FR.11). 422: not 2.1."""
        return _answer_out(await service.afrr_signal(known_station.station_id, data.timestamp, data.signal))

    @post(
        "/transactions/{key:int}/v2x/setpoint",
        status_code=HTTP_200_OK,
        summary="A central setpoint TxProfile for a V2X transaction (Q03)",
        responses=error_responses(HTTP_404_NOT_FOUND, HTTP_409_CONFLICT, HTTP_422_UNPROCESSABLE_ENTITY),
        opt=OPERATOR,
    )
    async def central_setpoint(key: PathId, data: JSONBody[SetpointIn]) -> SetProfileOut:
        """CentralSetpoint periods without limits (Q03.FR.02), checked like the station would (V2X.05) and
        sent as a TxProfile. 409: the transaction ended, or discharging without a bidirectional transfer
        allowed; 422: a profile the station would refuse (its reasonCode), or not 2.1."""
        periods = [SetpointPeriod(p.start_period, p.setpoint) for p in data.periods]
        outcome = await service.central_setpoint(
            key, data.profile_id, data.stack_level, periods, data.duration
        )
        return SetProfileOut(
            outcome.status, outcome.reason, None if outcome.profile is None else profile_out(outcome.profile)
        )

    @get_or_404(
        "/transactions/{key:int}/v2x",
        summary="A transaction's V2X view: transfers, the EV's V2X parameters, energy exported",
    )
    async def transaction_v2x(key: PathId) -> V2xOut:
        """From the station's NotifyEVChargingNeeds and the transaction's meter values
        (Energy.Active.Export.Register since its first reading)."""
        view = await service.view(key)
        t, s = view.transaction, view.session
        return V2xOut(
            t.id,
            t.station_id,
            t.transaction_id,
            t.status,
            None if s is None or s.allowed is None else list(s.allowed),
            None if s is None else s.requested,
            [] if s is None else list(s.available),
            None if s is None else s.parameters,
            round(view.energy_exported_wh, 3),
            None if s is None else s.power_w,
            _external_out(view.external),
            s is not None and s.evse_sleep,
        )

    return [
        put_allowed,
        list_allowed,
        delete_allowed,
        notify_allowed,
        afrr_signal,
        central_setpoint,
        transaction_v2x,
    ]

"""Block K, Smart Charging (Part 6 §2.11), charging-station side.

Readings:
* TC_K_38_CS is for a station without the Smart Charging profile (Part 5: NOT Smart Charging): N/A for a
  declaration that lists that profile. The profile sent is a TxProfile, kind Relative, one period from 0 s
  with the declaration's ``number_phases`` and a limit of 6 A or 6000 W after its ``charging_rate_unit``;
  its id and stack level (not given by the table) are 1 and 0.
* Step 3's "InvalidateRequest" is the AuthorizeRequest: when the station sends one (AuthorizeRemoteStart
  true), it must carry the configured valid id token.
* Step 2's transactionId is checked when a transaction already ran before the request (a TxStartPoint
  EVConnected station, from EVConnectedPreSession).
* Step 5's TransactionEvent is the first one after the request (triggerReason RemoteStart, with the
  remoteStartId), as in the other remote start cases; step 7 is Reusable State EnergyTransferStarted.

Smart Charging cases (K01, K05, K08, K09, K10):
* <Configured chargingProfileId> is ``PROFILE_ID``; stack levels are 0 unless a table gives one. A profile whose
  kind the table leaves open is Absolute with startSchedule "now" minus <Configured max time deviation>
  (``MAX_TIME_DEVIATION``, as the tables that give one put it; K01.FR.40 needs one), its duration
  ``DURATION``; one period from 0 s with 6 A or 6000 W after the declaration's unit and its numberPhases.
* Before each case the tool clears every profile the station holds (a ClearChargingProfileRequest without
  criteria, its answer not judged), so the Memory States "N/a" and "no profile installed" hold.
* "EVSECount + 1" (TC_K_14, TC_K_47) is read as ``NO_SUCH_EVSE``, an id no station under test has.
* A reported profile is "the profile set" when its id, purpose, kind, stack level and periods are those sent
  (a station may add the transactionId it bound a remote-start profile to, K05.FR.03).
* A composite period the tables give as "n - x" (x: from the request to the scheduleStart) is checked at the
  instant it is due by the profiles sent, counted from the scheduleStart the station reports (so the two
  clocks need not agree), give or take ``ROUNDING_S``; limits in W are 1000 times the tables' amperes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec
from msgspec import UNSET

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import from_wire, to_wire
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import (
    StepFailed,
    expect_absent,
    expect_field,
    expect_present,
    field_value,
)
from chargeplane.tools.conformance.station_states import (
    Setting,
    TxEvent,
    booted,
    charging_from_idle,
    energy_transfer_started,
    ev_connected_pre_session,
    first_event_after_remote_start,
    set_variables,
    transaction_events,
    transaction_id,
    valid_token,
)
from chargeplane.tools.conformance.station_steps import StationTool

REMOTE_START_ID = 3838
PROFILE_ID = 1
DURATION = 300
NO_SUCH_EVSE = 999
# the Configuration State of TC_K_09 / TC_K_28: SmartChargingCtrlr.LimitChangeSignificance 1.0
SIGNIFICANCE: list[Setting] = [("SmartChargingCtrlr", "LimitChangeSignificance", None, "1.0", True)]
MAX_TIME_DEVIATION = timedelta(seconds=5)  # <Configured max time deviation>: the clocks' difference
Purpose = en.ChargingProfilePurposeEnumType
Kind = en.ChargingProfileKindEnumType


def charging_profile(
    tool: StationTool,
    purpose: Purpose,
    kind: Kind = Kind.ABSOLUTE,
    *,
    profile_id: int = PROFILE_ID,
    stack_level: int = 0,
    amps: float = 6.0,
    transaction_id: str | None = None,
    unit: str | None = None,
) -> dt.ChargingProfileType:
    """A profile as the tables describe it: one period from 0 s, ``amps`` A or 1000 x ``amps`` W (``unit``,
    else the configured one)."""
    absolute = kind is not Kind.RELATIVE
    return profile_of(
        tool,
        purpose,
        [(0, amps)],
        kind=kind,
        profile_id=profile_id,
        stack_level=stack_level,
        start=datetime.now(UTC) - MAX_TIME_DEVIATION if absolute else None,
        duration=DURATION if absolute else None,
        transaction_id=transaction_id,
        unit=unit,
    )


def profile_of(
    tool: StationTool,
    purpose: Purpose,
    periods: Sequence[tuple[int, float]],
    *,
    kind: Kind = Kind.ABSOLUTE,
    profile_id: int = PROFILE_ID,
    stack_level: int = 0,
    start: datetime | None = None,
    duration: int | None = None,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    transaction_id: str | None = None,
    unit: str | None = None,
) -> dt.ChargingProfileType:
    """A profile with ``periods`` (start in s, limit in A) in ``unit`` (else the configured one; in W the
    limits are 1000 times the amperes, as the tables note), each with the configured numberPhases."""
    rate_unit = en.ChargingRateUnitEnumType(unit or tool.configured.charging_rate_unit)
    factor = 1000 if rate_unit is en.ChargingRateUnitEnumType.W else 1
    schedule = dt.ChargingScheduleType(
        id=profile_id,
        charging_rate_unit=rate_unit,
        charging_schedule_period=[
            dt.ChargingSchedulePeriodType(
                start_period=offset, limit=amps * factor, number_phases=tool.configured.number_phases
            )
            for offset, amps in periods
        ],
        start_schedule=UNSET if start is None else to_wire(start),
        duration=UNSET if duration is None else duration,
    )
    return dt.ChargingProfileType(
        id=profile_id,
        stack_level=stack_level,
        charging_profile_purpose=purpose,
        charging_profile_kind=kind,
        charging_schedule=[schedule],
        valid_from=UNSET if valid_from is None else to_wire(valid_from),
        valid_to=UNSET if valid_to is None else to_wire(valid_to),
        transaction_id=transaction_id if transaction_id is not None else UNSET,
    )


def tx_profile(tool: StationTool) -> dt.ChargingProfileType:
    """TC_K_37 / TC_K_38: the TxProfile of a remote start (kind Relative, id 1, stack level 0)."""
    return charging_profile(tool, Purpose.TX_PROFILE, Kind.RELATIVE)


@case(
    "TC_K_38_CS",
    "Remote start transaction with charging profile - Ignore chargingProfile",
    use_cases=("F01",),
    requirements=("F01.FR.12", "F01.FR.13"),
    unless_profiles=("Smart Charging",),
    timeout=40.0,
)
async def tc_k_38_cs(tool: StationTool) -> None:
    await remote_start_with_profile(tool)


async def remote_start_with_profile(tool: StationTool) -> dt.ChargingProfileType:
    """Steps 1-7 of TC_K_37 / TC_K_38: the remote start with a TxProfile, up to EnergyTransferStarted."""
    await ev_connected_pre_session(tool)
    running = transaction_events(tool)
    profile = tx_profile(tool)
    request = msg.RequestStartTransactionRequest(
        id_token=valid_token(tool),
        evse_id=tool.configured.evse_id,
        remote_start_id=REMOTE_START_ID,
        charging_profile=profile,
    )
    tool.remote_started_at = len(tool.seen)
    response = await tool.send_as(1, request, msg.RequestStartTransactionResponse)
    expect_field(2, response, "status", "Accepted")
    tool.progress.add("Authorized")
    tool.remote_start_id = REMOTE_START_ID
    if running:
        expect_field(2, response, "transactionId", running[0].transaction_info.transaction_id)
    await energy_transfer_started(tool)  # 3.-6. on the way, 7.
    first_event_after_remote_start(tool, 5)
    for authorize in (m for m in tool.seen[tool.remote_started_at :] if isinstance(m, msg.AuthorizeRequest)):
        expect_field(3, authorize, "idToken.idToken", tool.configured.valid_idtoken)
        expect_field(3, authorize, "idToken.type", tool.configured.valid_idtoken_type)
    first = next(e for e in tool.seen[tool.remote_started_at :] if isinstance(e, TxEvent))
    expect_present(5, first, "transactionInfo.remoteStartId")
    return profile


@case(
    "TC_K_37_CS",
    "Remote start transaction with charging profile - Success",
    use_cases=("K05",),
    requirements=("K05.FR.02", "K05.FR.03"),
    timeout=40.0,
)
async def tc_k_37_cs(tool: StationTool) -> None:
    await clear_all(tool)
    profile = await remote_start_with_profile(tool)
    found = await reports(
        tool, 8, dt.ChargingProfileCriterionType(charging_profile_id=[profile.id]), request_id=137
    )
    expect_profile(10, found, profile)


# --- helpers of the Smart Charging cases ---

REPORT_WITHIN = 10.0


async def clear_all(tool: StationTool) -> None:
    """Before a case: no profile on the station (answer not judged)."""
    await tool.send(
        "before", msg.ClearChargingProfileRequest(charging_profile_criteria=dt.ClearChargingProfileType())
    )


async def set_profile(
    tool: StationTool,
    step: int | str,
    evse_id: int,
    profile: dt.ChargingProfileType,
    status: str = "Accepted",
) -> None:
    request = msg.SetChargingProfileRequest(evse_id=evse_id, charging_profile=profile)
    response = await tool.send_as(step, request, msg.SetChargingProfileResponse)
    expect_field(step, response, "status", status)


async def reports(
    tool: StationTool,
    get_step: int,
    criteria: dt.ChargingProfileCriterionType,
    *,
    request_id: int,
    evse_id: int | None = None,
) -> list[dt.ChargingProfileType]:
    """GetChargingProfiles answered Accepted, then every ReportChargingProfiles part (tbc) with its requestId
    (K09.FR.01/02); the profiles reported, each checked against ``evse_id`` when given."""
    request = msg.GetChargingProfilesRequest(
        request_id=request_id, charging_profile=criteria, evse_id=evse_id if evse_id is not None else UNSET
    )
    response = await tool.send_as(get_step, request, msg.GetChargingProfilesResponse)
    expect_field(get_step, response, "status", "Accepted")
    found: list[dt.ChargingProfileType] = []
    while True:
        report = await tool.expect_answered(get_step + 1, msg.ReportChargingProfilesRequest, REPORT_WITHIN)
        expect_field(get_step + 1, report, "requestId", request_id)
        found += report.charging_profile
        if report.tbc is not True:
            return found


def expect_profile(
    step: int | str, found: list[dt.ChargingProfileType], sent: dt.ChargingProfileType, evse_ok: bool = True
) -> None:
    """The profile set is among those reported (see the readings)."""
    for profile in found:
        if profile.id != sent.id:
            continue
        same = (
            profile.charging_profile_purpose == sent.charging_profile_purpose
            and profile.charging_profile_kind == sent.charging_profile_kind
            and profile.stack_level == sent.stack_level
            and [
                (p.start_period, p.limit)
                for s in profile.charging_schedule
                for p in s.charging_schedule_period
            ]
            == [(p.start_period, p.limit) for s in sent.charging_schedule for p in s.charging_schedule_period]
        )
        if same and evse_ok:
            return
        raise StepFailed(step, f"the reported profile {profile.id} is not the one set")
    raise StepFailed(step, f"profile {sent.id} was not reported")


async def report_of_one(
    tool: StationTool, get_step: int, sent: dt.ChargingProfileType, evse_id: int, request_id: int
) -> None:
    """Steps 3-6 of the K01 cases: GetChargingProfiles by id, the report on ``evse_id`` holds the profile."""
    request = msg.GetChargingProfilesRequest(
        request_id=request_id, charging_profile=dt.ChargingProfileCriterionType(charging_profile_id=[sent.id])
    )
    response = await tool.send_as(get_step, request, msg.GetChargingProfilesResponse)
    expect_field(get_step, response, "status", "Accepted")
    report = await tool.expect_answered(get_step + 1, msg.ReportChargingProfilesRequest, REPORT_WITHIN)
    expect_field(get_step + 1, report, "requestId", request_id)
    expect_field(get_step + 1, report, "evseId", evse_id)
    expect_profile(get_step + 1, report.charging_profile, sent)


async def composite(
    tool: StationTool, step: int, evse_id: int, duration: int
) -> msg.GetCompositeScheduleResponse:
    """GetCompositeSchedule in the configured unit; the answer (step + 1) Accepted, for the EVSE, duration
    and unit asked, its first period from 0."""
    unit = en.ChargingRateUnitEnumType(tool.configured.charging_rate_unit)
    request = msg.GetCompositeScheduleRequest(duration=duration, evse_id=evse_id, charging_rate_unit=unit)
    response = await tool.send_as(step, request, msg.GetCompositeScheduleResponse)
    answer = step + 1
    expect_field(answer, response, "status", "Accepted")
    expect_field(answer, response, "schedule.evseId", evse_id)
    expect_field(answer, response, "schedule.duration", duration)
    expect_field(answer, response, "schedule.chargingRateUnit", unit)
    expect_field(answer, response, "schedule.chargingSchedulePeriod[0].startPeriod", 0)
    return response


# --- K01 SetChargingProfile ---


@case(
    "TC_K_01_CS",
    "Set Charging Profile - TxDefaultProfile - Specific EVSE",
    use_cases=("K01",),
    requirements=("K01.FR.07", "K01.FR.15"),
)
async def tc_k_01_cs(tool: StationTool) -> None:
    await clear_all(tool)
    evse_id = tool.configured.evse_id
    profile = charging_profile(tool, Purpose.TX_DEFAULT_PROFILE)
    await set_profile(tool, 1, evse_id, profile)
    await report_of_one(tool, 3, profile, evse_id, 101)


@case(
    "TC_K_10_CS",
    "Set Charging Profile - TxDefaultProfile - All EVSE",
    use_cases=("K01",),
    requirements=("K01.FR.07", "K01.FR.14"),
)
async def tc_k_10_cs(tool: StationTool) -> None:
    await clear_all(tool)
    profile = charging_profile(tool, Purpose.TX_DEFAULT_PROFILE)
    await set_profile(tool, 1, 0, profile)
    await report_of_one(tool, 3, profile, 0, 110)


@case("TC_K_03_CS", "Set Charging Profile - ChargingStationMaxProfile", use_cases=("K01",))
async def tc_k_03_cs(tool: StationTool) -> None:
    await clear_all(tool)
    profile = charging_profile(tool, Purpose.CHARGING_STATION_MAX_PROFILE)
    await set_profile(tool, 1, 0, profile)
    await report_of_one(tool, 3, profile, 0, 103)


@case(
    "TC_K_02_CS",
    "Set Charging Profile - TxProfile without ongoing transaction on the specified EVSE",
    use_cases=("K01",),
    requirements=("K01.FR.04", "K01.FR.07", "K01.FR.09"),
)
async def tc_k_02_cs(tool: StationTool) -> None:
    await clear_all(tool)
    profile = charging_profile(
        tool, Purpose.TX_PROFILE, Kind.RELATIVE, transaction_id="UNKNOWN-TRANSACTION-ID"
    )
    await set_profile(tool, 1, tool.configured.evse_id, profile, "Rejected")


@case(
    "TC_K_04_CS",
    "Replace charging profile - With chargingProfileId",
    use_cases=("K01",),
    requirements=("K01.FR.05",),
)
async def tc_k_04_cs(tool: StationTool) -> None:
    await clear_all(tool)
    evse_id = tool.configured.evse_id
    await set_profile(tool, "memory", evse_id, charging_profile(tool, Purpose.TX_DEFAULT_PROFILE))
    replacement = charging_profile(tool, Purpose.TX_DEFAULT_PROFILE, amps=10.0)
    await set_profile(tool, 1, evse_id, replacement)
    await report_of_one(tool, 3, replacement, evse_id, 104)


@case(
    "TC_K_14_CS", "Set Charging Profile - Unexisting EVSEid", use_cases=("K01",), requirements=("K01.FR.28",)
)
async def tc_k_14_cs(tool: StationTool) -> None:
    await clear_all(tool)
    await set_profile(tool, 1, NO_SUCH_EVSE, charging_profile(tool, Purpose.TX_DEFAULT_PROFILE), "Rejected")


@case(
    "TC_K_60_CS",
    "Set Charging Profile - TxProfile with ongoing transaction on the specified EVSE",
    use_cases=("K01",),
    requirements=("K01.FR.04", "K01.FR.07", "K01.FR.15"),
    timeout=40.0,
)
async def tc_k_60_cs(tool: StationTool) -> None:
    await clear_all(tool)
    await charging_from_idle(tool)
    tx_id = transaction_id(tool, 1)
    profile = charging_profile(tool, Purpose.TX_PROFILE, Kind.RELATIVE, transaction_id=tx_id)
    await set_profile(tool, 1, tool.configured.evse_id, profile)
    found = await reports(
        tool, 3, dt.ChargingProfileCriterionType(charging_profile_id=[profile.id]), request_id=160
    )
    expect_profile(5, found, profile)


# --- K10 ClearChargingProfile ---


@case(
    "TC_K_05_CS",
    "Clear Charging Profile - With chargingProfileId",
    use_cases=("K10",),
    requirements=("K10.FR.03",),
)
async def tc_k_05_cs(tool: StationTool) -> None:
    await clear_all(tool)
    profile = charging_profile(tool, Purpose.TX_DEFAULT_PROFILE)
    await set_profile(tool, "memory", tool.configured.evse_id, profile)
    cleared = await tool.send_as(
        1, msg.ClearChargingProfileRequest(charging_profile_id=profile.id), msg.ClearChargingProfileResponse
    )
    expect_field(2, cleared, "status", "Accepted")
    request = msg.GetChargingProfilesRequest(
        request_id=105, charging_profile=dt.ChargingProfileCriterionType(charging_profile_id=[profile.id])
    )
    response = await tool.send_as(3, request, msg.GetChargingProfilesResponse)
    expect_field(4, response, "status", "NoProfiles")


@case(
    "TC_K_08_CS",
    "Clear Charging Profile - Without previous charging profile",
    use_cases=("K10",),
    requirements=("K10.FR.01",),
)
async def tc_k_08_cs(tool: StationTool) -> None:
    await clear_all(tool)
    request = msg.ClearChargingProfileRequest(charging_profile_id=PROFILE_ID + 807)
    cleared = await tool.send_as(1, request, msg.ClearChargingProfileResponse)
    expect_field(2, cleared, "status", "Unknown")


# --- K09 GetChargingProfiles ---


@case("TC_K_32_CS", "Get Charging Profile - chargingProfileId", use_cases=("K09",))
async def tc_k_32_cs(tool: StationTool) -> None:
    await clear_all(tool)
    station_max = charging_profile(tool, Purpose.CHARGING_STATION_MAX_PROFILE, profile_id=321)
    default = charging_profile(tool, Purpose.TX_DEFAULT_PROFILE, profile_id=322)
    await set_profile(tool, "memory", 0, station_max)
    await set_profile(tool, "memory", tool.configured.evse_id, default)
    found = await reports(tool, 1, dt.ChargingProfileCriterionType(charging_profile_id=[321]), request_id=132)
    expect_profile(3, found, station_max)
    if any(p.id != station_max.id for p in found):
        raise StepFailed(3, "profiles other than the one asked for were reported")


# --- K08 GetCompositeSchedule ---


@case(
    "TC_K_39_CS",
    "Get Composite Schedule - No ChargingProfile installed on Charging Station",
    use_cases=("K08",),
)
async def tc_k_39_cs(tool: StationTool) -> None:
    await clear_all(tool)
    await composite(tool, 1, 0, DURATION)


@case("TC_K_47_CS", "Get Composite Schedule - Unknown EVSEId", use_cases=("K08",))
async def tc_k_47_cs(tool: StationTool) -> None:
    unit = en.ChargingRateUnitEnumType(tool.configured.charging_rate_unit)
    request = msg.GetCompositeScheduleRequest(
        duration=DURATION, evse_id=NO_SUCH_EVSE, charging_rate_unit=unit
    )
    response = await tool.send_as(1, request, msg.GetCompositeScheduleResponse)
    expect_field(2, response, "status", "Rejected")
    expect_absent(2, response, "schedule")


# --- K09 GetChargingProfiles with criteria (TC_K_30..K_36: a station maximum and a TxDefault on the EVSE) ---

STATION_MAX_ID, TX_DEFAULT_ID, STACK_LEVEL = 301, 302, 1


async def two_profiles(tool: StationTool) -> tuple[dt.ChargingProfileType, dt.ChargingProfileType]:
    """The Memory State: <Generated Id1> a ChargingStationMaxProfile, <Generated Id2> a TxDefaultProfile on
    the configured EVSE, both at stack level ``STACK_LEVEL`` (<Configured stackLevel> and stackLevel2)."""
    await clear_all(tool)
    station_max = charging_profile(
        tool, Purpose.CHARGING_STATION_MAX_PROFILE, profile_id=STATION_MAX_ID, stack_level=STACK_LEVEL
    )
    default = charging_profile(
        tool, Purpose.TX_DEFAULT_PROFILE, profile_id=TX_DEFAULT_ID, stack_level=STACK_LEVEL
    )
    await set_profile(tool, "memory", 0, station_max)
    await set_profile(tool, "memory", tool.configured.evse_id, default)
    return station_max, default


def only(step: int, found: list[dt.ChargingProfileType], *wanted: dt.ChargingProfileType) -> None:
    """Exactly ``wanted`` were reported (K09.FR.04-06: the profiles that match every criterion)."""
    for profile in wanted:
        expect_profile(step, found, profile)
    extra = sorted({p.id for p in found} - {p.id for p in wanted})
    if extra:
        raise StepFailed(step, f"profiles that do not match the criteria were reported: {extra}")


@case("TC_K_30_CS", "Get Charging Profile - EvseId > 0", use_cases=("K09",), requirements=("K09.FR.04",))
async def tc_k_30_cs(tool: StationTool) -> None:
    _, default = await two_profiles(tool)
    criteria = dt.ChargingProfileCriterionType()
    found = await reports(tool, 1, criteria, request_id=130, evse_id=tool.configured.evse_id)
    only(3, found, default)


@case("TC_K_31_CS", "Get Charging Profile - No EvseId", use_cases=("K09",), requirements=("K09.FR.06",))
async def tc_k_31_cs(tool: StationTool) -> None:
    station_max, default = await two_profiles(tool)
    found = await reports(tool, 1, dt.ChargingProfileCriterionType(), request_id=131)
    only(3, found, station_max, default)


@case("TC_K_33_CS", "Get Charging Profile - EvseId > 0 + stackLevel", use_cases=("K09",))
async def tc_k_33_cs(tool: StationTool) -> None:
    _, default = await two_profiles(tool)
    criteria = dt.ChargingProfileCriterionType(stack_level=STACK_LEVEL)
    found = await reports(tool, 1, criteria, request_id=133, evse_id=tool.configured.evse_id)
    only(3, found, default)


@case("TC_K_35_CS", "Get Charging Profile - EvseId > 0 + chargingProfilePurpose", use_cases=("K09",))
async def tc_k_35_cs(tool: StationTool) -> None:
    _, default = await two_profiles(tool)
    criteria = dt.ChargingProfileCriterionType(charging_profile_purpose=Purpose.TX_DEFAULT_PROFILE)
    found = await reports(tool, 1, criteria, request_id=135, evse_id=tool.configured.evse_id)
    only(3, found, default)


@case(
    "TC_K_36_CS",
    "Get Charging Profile - EvseId > 0 + chargingProfilePurpose + stackLevel",
    use_cases=("K09",),
)
async def tc_k_36_cs(tool: StationTool) -> None:
    _, default = await two_profiles(tool)
    criteria = dt.ChargingProfileCriterionType(
        charging_profile_purpose=Purpose.TX_DEFAULT_PROFILE, stack_level=STACK_LEVEL
    )
    found = await reports(tool, 1, criteria, request_id=136, evse_id=tool.configured.evse_id)
    only(3, found, default)


@case(
    "TC_K_13_CS",
    "Set Charging Profile - Persistent over reboot",
    use_cases=("K01",),
    requirements=("K01.FR.27",),
    timeout=90.0,
)
async def tc_k_13_cs(tool: StationTool) -> None:
    await clear_all(tool)
    evse_id = tool.configured.evse_id
    profile = charging_profile(tool, Purpose.TX_DEFAULT_PROFILE)
    await set_profile(tool, 1, evse_id, profile)
    await booted(tool)  # 3.
    await report_of_one(tool, 4, profile, evse_id, 113)


@case("TC_K_19_CS", "Set Charging Profile - ChargingProfileKind is Recurring", use_cases=("K01",))
async def tc_k_19_cs(tool: StationTool) -> None:
    await clear_all(tool)
    recurring = msgspec.structs.replace(
        charging_profile(tool, Purpose.TX_DEFAULT_PROFILE, Kind.RECURRING),
        recurrency_kind=en.RecurrencyKindEnumType.DAILY,  # <Configured RecurrencyKind>
    )
    await set_profile(tool, 1, tool.configured.evse_id, recurring)


@case("TC_K_21_CS", "Set Charging Profile - ValidFrom", use_cases=("K01",), requirements=("K01.FR.36",))
async def tc_k_21_cs(tool: StationTool) -> None:
    """The profile becomes valid 300 s after the request: the composite's second period starts there (the
    table's 300 - x) with its limit; the first one, the local limit, is not judged."""
    await clear_all(tool)
    evse_id = tool.configured.evse_id
    sent_at = datetime.now(UTC)
    later = msgspec.structs.replace(
        charging_profile(tool, Purpose.TX_DEFAULT_PROFILE, Kind.RELATIVE),
        valid_from=to_wire(sent_at + timedelta(seconds=300)),
    )
    await set_profile(tool, 1, evse_id, later)
    response = await composite(tool, 3, evse_id, 400)
    expect_periods(4, tool, response, [Expected(), Expected(sent_at + timedelta(seconds=300), 6.0)])


# --- composite schedules as the tables expect them ---

ROUNDING_S = 2.0  # whole seconds of the station's periods and the milliseconds of the wire times
LIMIT_TOLERANCE = 0.01  # a limit written back as a decimal


@dataclass(frozen=True)
class Expected:
    """A period a table expects in a composite: from ``at`` (None: the composite's start; an instant: the
    tables' "n - x") with ``amps`` A, 1000 x ``amps`` W (None: "not validated")."""

    at: datetime | None = None
    amps: float | None = None


def expect_periods(
    step: int,
    tool: StationTool,
    response: msg.GetCompositeScheduleResponse,
    expected: Sequence[Expected],
    *,
    exact: bool = False,
) -> None:
    """The composite's first periods are ``expected``, in order (``exact``: and no others; otherwise periods
    after the table's list are not judged). A period's start is checked against the instant it is due, taken
    from the scheduleStart the station reports, so a difference between the two clocks cancels out; the
    tables' x is that scheduleStart minus the time of the request."""
    schedule = response.schedule
    if isinstance(schedule, msgspec.UnsetType):
        raise StepFailed(step, "the composite schedule is missing")
    start = from_wire(schedule.schedule_start)
    factor = 1000 if tool.configured.charging_rate_unit == "W" else 1
    wanted = [
        (0.0 if e.at is None else (e.at - start).total_seconds(), None if e.amps is None else e.amps * factor)
        for e in expected
    ]
    periods = schedule.charging_schedule_period
    got = [(p.start_period, p.limit) for p in periods]
    matches = len(got) == len(wanted) if exact else len(got) >= len(wanted)
    for (offset, limit), (want_offset, want_limit) in zip(got, wanted, strict=False):
        if abs(offset - want_offset) > ROUNDING_S:
            matches = False
        if want_limit is not None and abs(limit - want_limit) > LIMIT_TOLERANCE:
            matches = False
    if not matches:
        shown = ", ".join(f"{o:.0f}: {'any' if w is None else w}" for o, w in wanted)
        raise StepFailed(step, f"composite periods (startPeriod: limit) {got}, expected {shown}")


@case("TC_K_23_CS", "Set Charging Profile - StartSchedule", use_cases=("K01",), requirements=("K01.FR.30",))
async def tc_k_23_cs(tool: StationTool) -> None:
    """The table's times are now - <max time deviation> + 50 s (validFrom), + 60 s (startSchedule) and now +
    <max time deviation> + 400 s (validTo); the limit is expected from the startSchedule on (its 60 - x)."""
    await clear_all(tool)
    evse_id = tool.configured.evse_id
    sent_at = datetime.now(UTC)
    begins = sent_at - MAX_TIME_DEVIATION + timedelta(seconds=60)
    later = profile_of(
        tool,
        Purpose.TX_DEFAULT_PROFILE,
        [(0, 6.0)],
        start=begins,
        duration=DURATION,
        valid_from=sent_at - MAX_TIME_DEVIATION + timedelta(seconds=50),
        valid_to=sent_at + MAX_TIME_DEVIATION + timedelta(seconds=400),
    )
    await set_profile(tool, 1, evse_id, later)
    response = await composite(tool, 3, evse_id, DURATION)
    expect_periods(4, tool, response, [Expected(), Expected(begins, 6.0)])


@case("TC_K_29_CS", "Get Charging Profile - EvseId 0", use_cases=("K09",), requirements=("K09.FR.05",))
async def tc_k_29_cs(tool: StationTool) -> None:
    """The Memory State (not in the table) is read from the validations: the station maximum and a TxDefault
    on the configured EVSE, as in TC_K_30..K_36; EVSE 0 reports the station maximum only."""
    station_max, _ = await two_profiles(tool)
    found = await reports(tool, 1, dt.ChargingProfileCriterionType(), request_id=129, evse_id=0)
    only(3, found, station_max)


@case(
    "TC_K_11_CS",
    "Set Charging Profile - Unable to set TxProfile on all EVSE at once",
    use_cases=("K01",),
    requirements=("K01.FR.16",),
)
async def tc_k_11_cs(tool: StationTool) -> None:
    await clear_all(tool)
    profile = charging_profile(tool, Purpose.TX_PROFILE, Kind.RELATIVE)
    await set_profile(tool, 1, 0, profile, "Rejected")


@case(
    "TC_K_16_CS",
    "Set Charging Profile - Unknown transactionId",
    use_cases=("K01",),
    requirements=("K01.FR.33",),
    timeout=40.0,
)
async def tc_k_16_cs(tool: StationTool) -> None:
    await clear_all(tool)
    await charging_from_idle(tool)
    profile = charging_profile(
        tool, Purpose.TX_PROFILE, Kind.RELATIVE, transaction_id="UNKNOWN-TRANSACTION-ID"
    )
    await set_profile(tool, 1, tool.configured.evse_id, profile, "Rejected")


@case(
    "TC_K_28_CS",
    "Set Charging Profile - TxDefaultProfile with transaction ongoing",
    use_cases=("K01",),
    requirements=("K01.FR.32",),
    timeout=40.0,
)
async def tc_k_28_cs(tool: StationTool) -> None:
    await clear_all(tool)
    await set_variables(tool, "before", SIGNIFICANCE)
    await charging_from_idle(tool)
    evse_id = tool.configured.evse_id
    profile = charging_profile(tool, Purpose.TX_DEFAULT_PROFILE)
    await set_profile(tool, 1, evse_id, profile)
    response = await composite(tool, 3, evse_id, DURATION)
    limit = profile.charging_schedule[0].charging_schedule_period[0].limit
    expect_field(4, response, "schedule.chargingSchedulePeriod[0].limit", limit)


async def clear_defaults_at_stack_level(tool: StationTool, request_id: int) -> None:
    """Steps 1-4 of TC_K_06 / TC_K_24: clear by purpose TxDefaultProfile and ``STACK_LEVEL`` (Accepted), then
    no profile matches them (NoProfiles)."""
    purpose = Purpose.TX_DEFAULT_PROFILE
    criteria = dt.ClearChargingProfileType(charging_profile_purpose=purpose, stack_level=STACK_LEVEL)
    request = msg.ClearChargingProfileRequest(charging_profile_criteria=criteria)
    cleared = await tool.send_as(1, request, msg.ClearChargingProfileResponse)
    expect_field(2, cleared, "status", "Accepted")
    query = dt.ChargingProfileCriterionType(charging_profile_purpose=purpose, stack_level=STACK_LEVEL)
    get = msg.GetChargingProfilesRequest(request_id=request_id, charging_profile=query)
    response = await tool.send_as(3, get, msg.GetChargingProfilesResponse)
    expect_field(4, response, "status", "NoProfiles")


@case(
    "TC_K_06_CS",
    "Clear Charging Profile - With stackLevel/purpose combination for one profile",
    use_cases=("K10",),
    requirements=("K10.FR.04",),
    timeout=40.0,
)
async def tc_k_06_cs(tool: StationTool) -> None:
    """<Configured chargingProfilePurpose> / <Configured stackLevel>: TxDefaultProfile / ``STACK_LEVEL``."""
    await clear_all(tool)
    profile = charging_profile(tool, Purpose.TX_DEFAULT_PROFILE, stack_level=STACK_LEVEL)
    await set_profile(tool, "memory", tool.configured.evse_id, profile)
    await charging_from_idle(tool)
    await clear_defaults_at_stack_level(tool, 106)


@case(
    "TC_K_07_CS",
    "Clear Charging Profile - With unknown stackLevel/purpose combination",
    use_cases=("K10",),
    requirements=("K10.FR.01",),
)
async def tc_k_07_cs(tool: StationTool) -> None:
    await clear_all(tool)
    profile = charging_profile(tool, Purpose.TX_DEFAULT_PROFILE, stack_level=1)
    await set_profile(tool, "memory", tool.configured.evse_id, profile)
    criteria = dt.ClearChargingProfileType(
        charging_profile_purpose=Purpose.CHARGING_STATION_MAX_PROFILE, stack_level=0
    )
    cleared = await tool.send_as(
        1,
        msg.ClearChargingProfileRequest(charging_profile_criteria=criteria),
        msg.ClearChargingProfileResponse,
    )
    expect_field(2, cleared, "status", "Unknown")


@case(
    "TC_K_09_CS",
    "Clear Charging Profile - Clearing a TxDefaultProfile - With ongoing transaction",
    use_cases=("K10",),
    requirements=("K10.FR.07",),
    timeout=40.0,
)
async def tc_k_09_cs(tool: StationTool) -> None:
    """Step 1's duration, not in the table, is the 300 s its validations give."""
    await clear_all(tool)
    await set_variables(tool, "before", SIGNIFICANCE)
    evse_id = tool.configured.evse_id
    profile = charging_profile(tool, Purpose.TX_DEFAULT_PROFILE)
    await set_profile(tool, "memory", evse_id, profile)
    await charging_from_idle(tool)
    limit = profile.charging_schedule[0].charging_schedule_period[0].limit
    before = await composite(tool, 1, evse_id, DURATION)
    expect_field(2, before, "schedule.chargingSchedulePeriod[0].limit", limit)
    criteria = dt.ClearChargingProfileType(charging_profile_purpose=Purpose.TX_DEFAULT_PROFILE)
    cleared = await tool.send_as(
        3,
        msg.ClearChargingProfileRequest(charging_profile_criteria=criteria),
        msg.ClearChargingProfileResponse,
    )
    expect_field(4, cleared, "status", "Accepted")
    # the table numbers the request 6 and the answer 5; its validations judge "step 5", the answer
    after = await composite(tool, 4, evse_id, DURATION)
    if field_value(after, "schedule.chargingSchedulePeriod[0].limit") == limit:
        raise StepFailed(5, f"the limit is still {limit} after the TxDefaultProfile was cleared (K10.FR.07)")


@case(
    "TC_K_24_CS",
    "Clear Charging Profile - With stackLevel/purpose combination for multiple profiles",
    use_cases=("K10",),
    requirements=("K10.FR.04",),
    features=("HFS-8",),
)
async def tc_k_24_cs(tool: StationTool) -> None:
    """ "HFS-8 > 1" is declared as the feature HFS-8 (as TC_B_41_CS does), the second EVSE being the
    declaration's ``second_evse_id``; the profiles are TxDefault at ``STACK_LEVEL`` on both EVSEs."""
    await clear_all(tool)
    for number, evse_id in enumerate((tool.configured.evse_id, tool.configured.second_evse_id)):
        profile = charging_profile(
            tool, Purpose.TX_DEFAULT_PROFILE, profile_id=240 + number, stack_level=STACK_LEVEL
        )
        await set_profile(tool, "memory", evse_id, profile)
    await clear_defaults_at_stack_level(tool, 124)


# --- charging rate units (TC_K_12, TC_K_42: a station that supports only one of A and W) ---

ONE_RATE_UNIT = "not (SC-2.1 and SC-2.2)"  # Part 5's condition: not both SC-2.1 (A) and SC-2.2 (W)


def unsupported_unit(tool: StationTool) -> str:
    """<Configured unsupported chargingRateUnit>: as declared, else the unit other than the configured one."""
    configured = tool.configured
    return configured.unsupported_charging_rate_unit or ("W" if configured.charging_rate_unit == "A" else "A")


@case(
    "TC_K_12_CS",
    "Set Charging Profile - ChargerRateUnit Rejected",
    use_cases=("K01",),
    requirements=("K01.FR.26",),
    condition=ONE_RATE_UNIT,
)
async def tc_k_12_cs(tool: StationTool) -> None:
    """The profile, its purpose not given by the table, is the TxDefaultProfile of TC_K_01 on the configured
    EVSE, in the unit the station does not support."""
    await clear_all(tool)
    profile = charging_profile(tool, Purpose.TX_DEFAULT_PROFILE, unit=unsupported_unit(tool))
    await set_profile(tool, 1, tool.configured.evse_id, profile, "Rejected")


@case(
    "TC_K_42_CS",
    "Get Composite Schedule - chargingRateUnit not supported",
    use_cases=("K08",),
    requirements=("K08.FR.07",),
    condition=ONE_RATE_UNIT,
)
async def tc_k_42_cs(tool: StationTool) -> None:
    unit = en.ChargingRateUnitEnumType(unsupported_unit(tool))
    request = msg.GetCompositeScheduleRequest(duration=DURATION, evse_id=0, charging_rate_unit=unit)
    response = await tool.send_as(1, request, msg.GetCompositeScheduleResponse)
    expect_field(2, response, "status", "Rejected")
    expect_absent(2, response, "schedule")


# --- K01 validTo, K09 by chargingLimitSource ---


def whole_second_now() -> datetime:
    """The tables' <current dateTime>, on a whole second so that every period edge is one."""
    return datetime.now(UTC).replace(microsecond=0)


@case("TC_K_22_CS", "Set Charging Profile - ValidTo", use_cases=("K01",), requirements=("K01.FR.37",))
async def tc_k_22_cs(tool: StationTool) -> None:
    """A TxDefaultProfile for every EVSE (evseId 0) without a duration, valid for 300 s: every EVSE's
    composite has its limit (EVSE 0: the sum over the ``evse_count`` EVSEs), then from validTo (the table's
    300 - x) the local limit, whose value is not judged."""
    await clear_all(tool)
    now = whole_second_now()
    valid_to = now + timedelta(seconds=300)
    profile = profile_of(
        tool,
        Purpose.TX_DEFAULT_PROFILE,
        [(0, 6.0)],
        start=now,
        valid_from=now - MAX_TIME_DEVIATION,
        valid_to=valid_to,
    )
    await set_profile(tool, 1, 0, profile)
    count = tool.configured.evse_count
    for evse_id in range(count + 1):  # 3. / 4. for EVSE 0 and each EVSE
        response = await composite(tool, 3, evse_id, 400)
        amps = 6.0 * (count if evse_id == 0 else 1)
        expect_periods(4, tool, response, [Expected(amps=amps), Expected(valid_to)])


@case(
    "TC_K_34_CS",
    "Get Charging Profile - EvseId > 0 + chargingLimitSource",
    use_cases=("K09",),
    requirements=("K09.FR.02", "K09.FR.04"),
)
async def tc_k_34_cs(tool: StationTool) -> None:
    """<Configured chargingLimitSource> is CSO (the profiles the tool sets), chargingLimitSource2 EMS: the
    case starts with no external limit on the station (the Memory State asks for none)."""
    await clear_all(tool)
    evse_id = tool.configured.evse_id
    profile = charging_profile(tool, Purpose.TX_DEFAULT_PROFILE, profile_id=340, stack_level=STACK_LEVEL + 1)
    await set_profile(tool, "memory", evse_id, profile)
    source = en.ChargingLimitSourceEnumType
    criteria = dt.ChargingProfileCriterionType(charging_limit_source=[source.CSO])
    found = await reports(tool, 1, criteria, request_id=134, evse_id=evse_id)
    only(3, found, profile)
    other = msg.GetChargingProfilesRequest(
        request_id=1340,
        evse_id=evse_id,
        charging_profile=dt.ChargingProfileCriterionType(charging_limit_source=[source.EMS]),
    )
    response = await tool.send_as(5, other, msg.GetChargingProfilesResponse)
    expect_field(6, response, "status", "NoProfiles")


# --- K08 GetCompositeSchedule of stacked and combined profiles ---


@case(
    "TC_K_40_CS",
    "Get Composite Schedule - Stacking ChargingProfiles",
    use_cases=("K08",),
    requirements=("K08.FR.02", "K08.FR.06"),
)
async def tc_k_40_cs(tool: StationTool) -> None:
    """Two TxDefaultProfiles on the configured EVSE, stack levels 0 and 1 (ids 401, 402); no transaction, so
    the composite is the one a transaction would get (K08.FR.06). The level-1 profile leads while it lasts
    (150 + deviation s from its start, the table's 150 - x), then the level-0 one."""
    await clear_all(tool)
    evse_id = tool.configured.evse_id
    now = whole_second_now()
    start, deviation = now - MAX_TIME_DEVIATION, int(MAX_TIME_DEVIATION.total_seconds())
    valid_to = now + timedelta(seconds=deviation + 401)
    default = Purpose.TX_DEFAULT_PROFILE
    lower = profile_of(
        tool,
        default,
        [(0, 6.0), (100, 8.0), (200, 10.0)],
        profile_id=401,
        duration=400 + deviation,
        start=start,
        valid_from=start,
        valid_to=valid_to,
    )
    upper = profile_of(
        tool,
        default,
        [(0, 7.0), (100, 9.0)],
        profile_id=402,
        stack_level=1,
        duration=150 + deviation,
        start=start,
        valid_from=start,
        valid_to=valid_to,
    )
    await set_profile(tool, "memory", evse_id, lower)
    await set_profile(tool, "memory", evse_id, upper)
    response = await composite(tool, 1, evse_id, 350)
    expected = [
        Expected(amps=7.0),
        Expected(start + timedelta(seconds=100), 9.0),
        Expected(start + timedelta(seconds=150 + deviation), 8.0),
        Expected(start + timedelta(seconds=200), 10.0),
    ]
    expect_periods(2, tool, response, expected, exact=True)


@case(
    "TC_K_41_CS",
    "Get Composite Schedule - Combining chargingProfilePurposes",
    use_cases=("K08",),
    requirements=("K08.FR.02", "K08.FR.04"),
    timeout=40.0,
)
async def tc_k_41_cs(tool: StationTool) -> None:
    """A station maximum of 10 (id 411), a TxDefaultProfile (412) and a TxProfile (413). A TxProfile needs
    a transaction on its EVSE (K01.FR.03, K01.FR.09), which the Memory State leaves out: the case starts
    with EnergyTransferStarted and the TxProfile carries its transactionId. The TxProfile overrules the
    TxDefaultProfile while it is valid (Part 2 §3.5), also after its schedule ends at 260 s, and the maximum
    caps it: the table's four periods are the whole composite."""
    await clear_all(tool)
    await charging_from_idle(tool)
    tx_id = transaction_id(tool, "before")
    evse_id = tool.configured.evse_id
    now = whole_second_now()
    start = now - MAX_TIME_DEVIATION
    valid_to = now + MAX_TIME_DEVIATION + timedelta(seconds=401)
    station_max = profile_of(
        tool, Purpose.CHARGING_STATION_MAX_PROFILE, [(0, 10.0)], profile_id=411, start=start, duration=86400
    )
    default = profile_of(
        tool,
        Purpose.TX_DEFAULT_PROFILE,
        [(0, 6.0), (60, 10.0), (120, 8.0), (180, 15.0), (260, 8.0)],
        profile_id=412,
        duration=300,
        start=start,
        valid_from=start,
        valid_to=valid_to,
    )
    tx = profile_of(
        tool,
        Purpose.TX_PROFILE,
        [(0, 8.0), (50, 11.0), (140, 16.0), (200, 6.0), (240, 12.0)],
        profile_id=413,
        duration=260,
        transaction_id=tx_id,
        start=start,
        valid_from=start,
        valid_to=valid_to,
    )
    await set_profile(tool, "memory", 0, station_max)
    await set_profile(tool, "memory", evse_id, default)
    await set_profile(tool, "memory", evse_id, tx)
    response = await composite(tool, 1, evse_id, 400)
    expected = [
        Expected(amps=8.0),
        Expected(start + timedelta(seconds=50), 10.0),
        Expected(start + timedelta(seconds=200), 6.0),
        Expected(start + timedelta(seconds=240), 10.0),
    ]
    expect_periods(2, tool, response, expected, exact=True)

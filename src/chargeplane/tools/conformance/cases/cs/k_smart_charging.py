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
"""

from __future__ import annotations

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
) -> dt.ChargingProfileType:
    """A profile as the tables describe it: one period from 0 s, ``amps`` A or 1000 x ``amps`` W."""
    configured = tool.configured
    watts = configured.charging_rate_unit == "W"
    period = dt.ChargingSchedulePeriodType(
        start_period=0, limit=amps * 1000 if watts else amps, number_phases=configured.number_phases
    )
    absolute = kind is not Kind.RELATIVE
    schedule = dt.ChargingScheduleType(
        id=profile_id,
        charging_rate_unit=en.ChargingRateUnitEnumType.W if watts else en.ChargingRateUnitEnumType.A,
        charging_schedule_period=[period],
        start_schedule=to_wire(datetime.now(UTC) - MAX_TIME_DEVIATION) if absolute else UNSET,
        duration=DURATION if absolute else UNSET,
    )
    return dt.ChargingProfileType(
        id=profile_id,
        stack_level=stack_level,
        charging_profile_purpose=purpose,
        charging_profile_kind=kind,
        charging_schedule=[schedule],
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
    """The profile starts 300 s after the request; x (from the request to scheduleStart) gets the time the
    exchange took, plus a second of rounding."""
    await clear_all(tool)
    evse_id = tool.configured.evse_id
    sent_at = datetime.now(UTC)
    later = msgspec.structs.replace(
        charging_profile(tool, Purpose.TX_DEFAULT_PROFILE, Kind.RELATIVE),
        valid_from=to_wire(sent_at + timedelta(seconds=300)),
    )
    await set_profile(tool, 1, evse_id, later)
    response = await composite(tool, 3, evse_id, 400)
    expect_later_period(4, response, sent_at, 300, later)


def expect_later_period(
    step: int,
    response: msg.GetCompositeScheduleResponse,
    sent_at: datetime,
    after_s: float,
    profile: dt.ChargingProfileType,
    slack_s: float = 2.0,
) -> None:
    """The composite's second period starts ``after_s`` - x seconds in (x: from the request to the
    scheduleStart), give or take ``slack_s``, with the limit of ``profile``."""
    schedule = response.schedule
    if isinstance(schedule, msgspec.UnsetType) or len(schedule.charging_schedule_period) < 2:
        raise StepFailed(step, "the composite schedule has no second period")
    second = schedule.charging_schedule_period[1]
    x = (from_wire(schedule.schedule_start) - sent_at).total_seconds()
    if abs(second.start_period - (after_s - x)) > slack_s:
        raise StepFailed(
            step,
            f"chargingSchedulePeriod[1].startPeriod is {second.start_period}, expected {after_s - x:.0f}",
        )
    limit = profile.charging_schedule[0].charging_schedule_period[0].limit
    expect_field(step, response, "schedule.chargingSchedulePeriod[1].limit", limit)


@case("TC_K_23_CS", "Set Charging Profile - StartSchedule", use_cases=("K01",), requirements=("K01.FR.30",))
async def tc_k_23_cs(tool: StationTool) -> None:
    """The table's times are now - <max time deviation> + 50 s (validFrom), + 60 s (startSchedule) and now +
    <max time deviation> + 400 s (validTo), but it expects the limit at 60 - x: the deviation is allowed
    either way."""
    await clear_all(tool)
    evse_id = tool.configured.evse_id
    sent_at = datetime.now(UTC)
    base = charging_profile(tool, Purpose.TX_DEFAULT_PROFILE)
    schedule = msgspec.structs.replace(
        base.charging_schedule[0],
        start_schedule=to_wire(sent_at - MAX_TIME_DEVIATION + timedelta(seconds=60)),
    )
    later = msgspec.structs.replace(
        base,
        valid_from=to_wire(sent_at - MAX_TIME_DEVIATION + timedelta(seconds=50)),
        valid_to=to_wire(sent_at + MAX_TIME_DEVIATION + timedelta(seconds=400)),
        charging_schedule=[schedule],
    )
    await set_profile(tool, 1, evse_id, later)
    response = await composite(tool, 3, evse_id, DURATION)
    deviation = MAX_TIME_DEVIATION.total_seconds()
    expect_later_period(4, response, sent_at, 60 - deviation, later, slack_s=deviation + 2)


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

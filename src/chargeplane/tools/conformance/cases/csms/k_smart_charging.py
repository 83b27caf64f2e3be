"""Block K, Smart Charging (Part 6 §3.11), CSMS side: setting (K01), replacing, clearing (K10) and reading
(K09) charging profiles, and the composite schedule (K08).

Readings:
* Each case starts with the manual action that asks the CSMS for the request of its step 1, through the
  smart_charging block's routes. The profiles the action gives are the tables' values: <Configured
  stackLevel> 0, <Configured chargingProfileId> 1 (K_04's replacement keeps it), <Configured chargingRateUnit>
  and <Configured numberPhases> from the declaration, limit 6.0 (6000.0 in W), validFrom / startSchedule
  now, validTo now + duration, <Configured duration> 300 s.
* K_01 / K_10 / K_03 / K_19 / K_04 validate the request's fields; the tool answers Accepted.
* K_06 / K_08 clear by purpose, EVSE and stack level; K_05 by id only after the memory state's report (the
  tool reports one TxProfile-less ChargingStationMaxProfile, id 1).
* K_32..K_36: the criteria of the tables (<Received chargingProfileId> 1, <Configured chargingLimitSource>
  CSO, <Configured chargingProfilePurpose> TxDefaultProfile); K_70: stack levels 0 and 1.
* K_30 / K_31: the tool reports one profile per EVSE (one EVSE: one part with tbc false).
* K_43 / K_44: the tool answers a composite of 10 A (10000 W) over the asked duration.
* K_29: <Configured chargingProfilePurpose> is ChargingStationMaxProfile, asked during a charge.
* K_15: the tool refuses the SetChargingProfile with a CALLERROR NotSupported; the CSMS's API then answers
  its operator 502, which the case does not judge (it validates the request).
* K_60: the table's profile as a TxProfile for the transaction of the EnergyTransferStarted state.
* K_37: the remote start's TxProfile is Relative (no validity, no startSchedule: K01.FR.41); the tool starts
  the transaction with the CSMS's remoteStartId (steps 3 / 4).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chargeplane.ocpp.errors import NotSupported
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.tools.conformance.adapter import (
    ClearChargingProfile,
    GetChargingProfiles,
    GetCompositeSchedule,
    RequestStart,
    SetChargingProfile,
)
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import (
    ABSENT,
    expect_absent,
    expect_field,
    expect_present,
    field_value,
)
from chargeplane.tools.conformance.messages import (
    send_as,
    start_transaction,
    transaction_event,
    valid_token,
)
from chargeplane.tools.conformance.states import Event, energy_transfer_started
from chargeplane.tools.conformance.states import Trigger as Reason
from chargeplane.tools.conformance.steps import CsmsTool

PROFILE_ID = 1
STACK_LEVEL = 0
DURATION = 300  # <Configured duration> / <Configured Charging Schedule Duration>, seconds


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _limit(tool: CsmsTool, amperes: float) -> float:
    return amperes * 1000 if tool.configured.charging_rate_unit == "W" else amperes


def profile(
    tool: CsmsTool,
    purpose: str,
    *,
    kind: str = "Absolute",
    profile_id: int = PROFILE_ID,
    limit: float = 6.0,
    recurrency: str | None = None,
) -> dict[str, Any]:
    """The profile of the tables (wire JSON): valid from now for DURATION seconds."""
    now = _now()
    period: dict[str, Any] = {"startPeriod": 0, "limit": _limit(tool, limit)}
    if tool.configured.number_phases != 3:
        period["numberPhases"] = tool.configured.number_phases
    body: dict[str, Any] = {
        "id": profile_id,
        "stackLevel": STACK_LEVEL,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "validFrom": to_wire(now),
        "validTo": to_wire(now + timedelta(seconds=DURATION)),
        "chargingSchedule": [
            {
                "id": 1,
                "startSchedule": to_wire(now),
                "duration": DURATION,
                "chargingRateUnit": tool.configured.charging_rate_unit,
                "chargingSchedulePeriod": [period],
            }
        ],
    }
    if recurrency is not None:
        body["recurrencyKind"] = recurrency
    return body


async def set_profile(
    tool: CsmsTool, evse_id: int, purpose: str, *, kind: str = "Absolute", limit: float = 6.0, **extra: Any
) -> msg.SetChargingProfileRequest:
    """Steps 1 / 2: the CSMS's SetChargingProfile, checked as the tables do, answered Accepted."""
    tool.manual(SetChargingProfile(evse_id, profile(tool, purpose, kind=kind, limit=limit, **extra)))
    incoming = await tool.expect(1, msg.SetChargingProfileRequest)
    request = incoming.request
    expect_field(1, request, "evseId", evse_id)
    expect_field(1, request, "chargingProfile.id", PROFILE_ID)
    expect_field(1, request, "chargingProfile.stackLevel", STACK_LEVEL)
    expect_field(1, request, "chargingProfile.chargingProfilePurpose", purpose)
    expect_field(1, request, "chargingProfile.chargingProfileKind", kind)
    schedule = "chargingProfile.chargingSchedule[0]"
    expect_field(1, request, f"{schedule}.chargingRateUnit", tool.configured.charging_rate_unit)
    expect_field(1, request, f"{schedule}.duration", DURATION)
    expect_field(1, request, f"{schedule}.chargingSchedulePeriod[0].startPeriod", 0)
    expect_field(1, request, f"{schedule}.chargingSchedulePeriod[0].limit", _limit(tool, limit))
    if tool.configured.number_phases == 3:
        phases = field_or_absent(request, f"{schedule}.chargingSchedulePeriod[0].numberPhases")
        if phases is not None:
            expect_field(1, request, f"{schedule}.chargingSchedulePeriod[0].numberPhases", 3)
    else:
        expect_field(
            1, request, f"{schedule}.chargingSchedulePeriod[0].numberPhases", tool.configured.number_phases
        )
    incoming.answer(msg.SetChargingProfileResponse(status=en.ChargingProfileStatusEnumType.ACCEPTED))
    await tool.settle()
    return request


def field_or_absent(request: msg.SetChargingProfileRequest, path: str) -> object | None:
    value = field_value(request, path)
    return None if value is ABSENT else value


@case("TC_K_01_CSMS", "Set Charging Profile - TxDefaultProfile - Specific EVSE", use_cases=("K01",))
async def tc_k_01(tool: CsmsTool) -> None:
    await set_profile(tool, tool.configured.evse_id, "TxDefaultProfile")


@case("TC_K_10_CSMS", "Set Charging Profile - TxDefaultProfile - All EVSE", use_cases=("K01",))
async def tc_k_10(tool: CsmsTool) -> None:
    await set_profile(tool, 0, "TxDefaultProfile")


@case("TC_K_03_CSMS", "Set Charging Profile - ChargingStationMaxProfile", use_cases=("K01",))
async def tc_k_03(tool: CsmsTool) -> None:
    await set_profile(tool, 0, "ChargingStationMaxProfile")


@case("TC_K_19_CSMS", "Set Charging Profile - ChargingProfileKind is Recurring", use_cases=("K01",))
async def tc_k_19(tool: CsmsTool) -> None:
    request = await set_profile(tool, 0, "ChargingStationMaxProfile", kind="Recurring", recurrency="Daily")
    expect_field(1, request, "chargingProfile.recurrencyKind", "Daily")


@case("TC_K_70_CSMS", "Set Charging Profile - Multiple Profiles", use_cases=("K01",))
async def tc_k_70(tool: CsmsTool) -> None:
    await set_profile(tool, 0, "ChargingStationMaxProfile")
    # A second profile: another id and stack level (<Configured stackLevel2> 1).
    second = profile(tool, "ChargingStationMaxProfile", profile_id=PROFILE_ID + 1, limit=8.0)
    second["stackLevel"] = STACK_LEVEL + 1
    tool.manual(SetChargingProfile(0, second))
    incoming = await tool.expect(3, msg.SetChargingProfileRequest)
    expect_field(3, incoming.request, "chargingProfile.id", PROFILE_ID + 1)
    expect_field(3, incoming.request, "chargingProfile.stackLevel", STACK_LEVEL + 1)
    incoming.answer(msg.SetChargingProfileResponse(status=en.ChargingProfileStatusEnumType.ACCEPTED))
    await tool.settle()


@case("TC_K_04_CSMS", "Replace charging profile - With chargingProfileId", use_cases=("K01",))
async def tc_k_04(tool: CsmsTool) -> None:
    await set_profile(tool, tool.configured.evse_id, "TxDefaultProfile")
    # The same id, kind, purpose and stack level with another limit replaces it (K01.FR.05).
    tool.manual(SetChargingProfile(tool.configured.evse_id, profile(tool, "TxDefaultProfile", limit=8.0)))
    incoming = await tool.expect(3, msg.SetChargingProfileRequest)
    expect_field(3, incoming.request, "chargingProfile.id", PROFILE_ID)
    path = "chargingProfile.chargingSchedule[0].chargingSchedulePeriod[0].limit"
    expect_field(3, incoming.request, path, _limit(tool, 8.0))
    incoming.answer(msg.SetChargingProfileResponse(status=en.ChargingProfileStatusEnumType.ACCEPTED))
    await tool.settle()


async def clear(tool: CsmsTool, status: en.ClearChargingProfileStatusEnumType) -> None:
    evse = tool.configured.evse_id
    tool.manual(ClearChargingProfile(evse_id=evse, purpose="TxDefaultProfile", stack_level=STACK_LEVEL))
    incoming = await tool.expect(1, msg.ClearChargingProfileRequest)
    criteria = "chargingProfileCriteria"
    expect_field(1, incoming.request, f"{criteria}.chargingProfilePurpose", "TxDefaultProfile")
    expect_field(1, incoming.request, f"{criteria}.evseId", evse)
    expect_field(1, incoming.request, f"{criteria}.stackLevel", STACK_LEVEL)
    incoming.answer(msg.ClearChargingProfileResponse(status=status))
    await tool.settle()


@case(
    "TC_K_06_CSMS",
    "Clear Charging Profile - With stackLevel/purpose combination for one profile",
    use_cases=("K10",),
)
async def tc_k_06(tool: CsmsTool) -> None:
    await clear(tool, en.ClearChargingProfileStatusEnumType.ACCEPTED)


@case("TC_K_08_CSMS", "Clear Charging Profile - Without previous charging profile", use_cases=("K10",))
async def tc_k_08(tool: CsmsTool) -> None:
    await clear(tool, en.ClearChargingProfileStatusEnumType.UNKNOWN)


def reported(tool: CsmsTool) -> dt.ChargingProfileType:
    now = _now()
    return dt.ChargingProfileType(
        id=PROFILE_ID,
        stack_level=STACK_LEVEL,
        charging_profile_purpose=en.ChargingProfilePurposeEnumType.CHARGING_STATION_MAX_PROFILE,
        charging_profile_kind=en.ChargingProfileKindEnumType.ABSOLUTE,
        charging_schedule=[
            dt.ChargingScheduleType(
                id=1,
                start_schedule=to_wire(now),
                charging_rate_unit=en.ChargingRateUnitEnumType(tool.configured.charging_rate_unit),
                charging_schedule_period=[
                    dt.ChargingSchedulePeriodType(start_period=0, limit=_limit(tool, 6.0))
                ],
            )
        ],
    )


async def get_profiles(tool: CsmsTool, step: int, asked: GetChargingProfiles) -> None:
    """Steps ``step`` .. ``step + 3``: the CSMS's GetChargingProfiles with the criteria asked, Accepted, one
    report (tbc false)."""
    tool.manual(asked)
    incoming = await tool.expect(step, msg.GetChargingProfilesRequest)
    request = incoming.request
    if asked.evse_id is None:
        expect_absent(step, request, "evseId")
    else:
        expect_field(step, request, "evseId", asked.evse_id)
    for path, value in (
        ("chargingProfilePurpose", asked.purpose),
        ("stackLevel", asked.stack_level),
        ("chargingProfileId[0]", asked.profile_id),
        ("chargingLimitSource[0]", asked.source),
    ):
        if value is not None:
            expect_field(step, request, f"chargingProfile.{path}", value)
    evse_id = asked.evse_id
    incoming.answer(msg.GetChargingProfilesResponse(status=en.GetChargingProfileStatusEnumType.ACCEPTED))
    report = msg.ReportChargingProfilesRequest(
        request_id=incoming.request.request_id,
        charging_limit_source=en.ChargingLimitSourceEnumType.CSO,
        charging_profile=[reported(tool)],
        tbc=False,
        evse_id=0 if evse_id is None else evse_id,
    )
    await send_as(step + 2, tool, report, msg.ReportChargingProfilesResponse)
    await tool.settle()


@case("TC_K_29_CSMS", "Get Charging Profile - EvseId 0", use_cases=("K09",))
async def tc_k_29(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)  # before
    await get_profiles(tool, 1, GetChargingProfiles(evse_id=0, purpose="ChargingStationMaxProfile"))


@case("TC_K_15_CSMS", "Set Charging Profile - Not Supported", use_cases=("K01",))
async def tc_k_15(tool: CsmsTool) -> None:
    evse = tool.configured.evse_id
    tool.manual(SetChargingProfile(evse, profile(tool, "TxDefaultProfile")))
    incoming = await tool.expect(1, msg.SetChargingProfileRequest)
    request = incoming.request
    expect_field(1, request, "evseId", evse)
    expect_field(1, request, "chargingProfile.chargingProfilePurpose", "TxDefaultProfile")
    expect_field(1, request, "chargingProfile.chargingProfileKind", "Absolute")
    for path in ("validFrom", "validTo", "chargingSchedule[0].startSchedule"):
        expect_present(1, request, f"chargingProfile.{path}")
    incoming.refuse(NotSupported("smart charging is not supported"))
    # The CSMS's API answers its operator 502 (the station's CALLERROR): the case validates the request only.
    await tool.cancel_actions()


@case("TC_K_30_CSMS", "Get Charging Profile - EvseId > 0", use_cases=("K09",))
async def tc_k_30(tool: CsmsTool) -> None:
    await get_profiles(tool, 1, GetChargingProfiles(evse_id=tool.configured.evse_id))


@case("TC_K_31_CSMS", "Get Charging Profile - No EvseId", use_cases=("K09",))
async def tc_k_31(tool: CsmsTool) -> None:
    await get_profiles(tool, 1, GetChargingProfiles())


@case("TC_K_32_CSMS", "Get Charging Profile - chargingProfileId", use_cases=("K09",))
async def tc_k_32(tool: CsmsTool) -> None:
    await get_profiles(tool, 1, GetChargingProfiles(profile_id=PROFILE_ID))


@case("TC_K_33_CSMS", "Get Charging Profile - EvseId > 0 + stackLevel", use_cases=("K09",))
async def tc_k_33(tool: CsmsTool) -> None:
    asked = GetChargingProfiles(evse_id=tool.configured.evse_id, stack_level=STACK_LEVEL)
    await get_profiles(tool, 1, asked)


@case("TC_K_34_CSMS", "Get Charging Profile - EvseId > 0 + chargingLimitSource", use_cases=("K09",))
async def tc_k_34(tool: CsmsTool) -> None:
    await get_profiles(tool, 1, GetChargingProfiles(evse_id=tool.configured.evse_id, source="CSO"))


@case("TC_K_35_CSMS", "Get Charging Profile - EvseId > 0 + chargingProfilePurpose", use_cases=("K09",))
async def tc_k_35(tool: CsmsTool) -> None:
    asked = GetChargingProfiles(evse_id=tool.configured.evse_id, purpose="TxDefaultProfile")
    await get_profiles(tool, 1, asked)


@case(
    "TC_K_36_CSMS",
    "Get Charging Profile - EvseId > 0 + chargingProfilePurpose + stackLevel",
    use_cases=("K09",),
)
async def tc_k_36(tool: CsmsTool) -> None:
    asked = GetChargingProfiles(
        evse_id=tool.configured.evse_id, purpose="TxDefaultProfile", stack_level=STACK_LEVEL
    )
    await get_profiles(tool, 1, asked)


@case("TC_K_05_CSMS", "Clear Charging Profile - With chargingProfileId", use_cases=("K10",))
async def tc_k_05(tool: CsmsTool) -> None:
    await get_profiles(
        tool, 1, GetChargingProfiles()
    )  # the memory state: the CSMS learns the profile from the report
    tool.manual(ClearChargingProfile(profile_id=PROFILE_ID))
    incoming = await tool.expect(1, msg.ClearChargingProfileRequest)
    expect_field(1, incoming.request, "chargingProfileId", PROFILE_ID)
    expect_absent(1, incoming.request, "chargingProfileCriteria")
    incoming.answer(msg.ClearChargingProfileResponse(status=en.ClearChargingProfileStatusEnumType.ACCEPTED))
    await tool.settle()


async def composite(tool: CsmsTool, evse_id: int) -> None:
    unit = tool.configured.charging_rate_unit
    tool.manual(GetCompositeSchedule(evse_id, DURATION, unit))
    incoming = await tool.expect(1, msg.GetCompositeScheduleRequest)
    expect_field(1, incoming.request, "evseId", evse_id)
    expect_field(1, incoming.request, "duration", DURATION)
    expect_field(1, incoming.request, "chargingRateUnit", unit)
    schedule = dt.CompositeScheduleType(
        evse_id=evse_id,
        duration=DURATION,
        schedule_start=to_wire(_now()),
        charging_rate_unit=en.ChargingRateUnitEnumType(unit),
        charging_schedule_period=[dt.ChargingSchedulePeriodType(start_period=0, limit=_limit(tool, 10.0))],
    )
    incoming.answer(
        msg.GetCompositeScheduleResponse(status=en.GenericStatusEnumType.ACCEPTED, schedule=schedule)
    )
    await tool.settle()


@case("TC_K_43_CSMS", "Get Composite Schedule - Specific EVSE", use_cases=("K08",))
async def tc_k_43(tool: CsmsTool) -> None:
    await composite(tool, tool.configured.evse_id)


@case("TC_K_44_CSMS", "Get Composite Schedule - Charging Station", use_cases=("K08",))
async def tc_k_44(tool: CsmsTool) -> None:
    await composite(tool, 0)


@case(
    "TC_K_60_CSMS",
    "Set Charging Profile - TxProfile with ongoing transaction on the specified EVSE",
    use_cases=("K01",),
    requirements=("K01.FR.03", "K01.FR.31"),
)
async def tc_k_60(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)  # before
    assert tool.transaction is not None
    evse = tool.configured.evse_id
    body = profile(tool, "TxProfile") | {"transactionId": tool.transaction.id}
    tool.manual(SetChargingProfile(evse, body))
    incoming = await tool.expect(1, msg.SetChargingProfileRequest)
    expect_field(1, incoming.request, "evseId", evse)
    expect_field(1, incoming.request, "chargingProfile.chargingProfilePurpose", "TxProfile")
    expect_field(1, incoming.request, "chargingProfile.transactionId", tool.transaction.id)
    incoming.answer(msg.SetChargingProfileResponse(status=en.ChargingProfileStatusEnumType.ACCEPTED))
    await tool.settle()


@case(
    "TC_K_37_CSMS",
    "Remote start transaction with charging profile - Success",
    use_cases=("K05", "F01"),
    requirements=("K05.FR.02", "F01.FR.08", "F01.FR.09", "F01.FR.11"),
)
async def tc_k_37(tool: CsmsTool) -> None:
    c = tool.configured
    relative = profile(tool, "TxProfile", kind="Relative")
    relative.pop("validFrom")
    relative.pop("validTo")
    relative["chargingSchedule"][0].pop("startSchedule")  # K01.FR.41: Relative has none
    tool.manual(RequestStart(c.valid_idtoken, c.valid_idtoken_type, c.evse_id, relative))
    incoming = await tool.expect(1, msg.RequestStartTransactionRequest)
    request = incoming.request
    expect_field(1, request, "idToken.idToken", c.valid_idtoken)
    expect_field(1, request, "idToken.type", c.valid_idtoken_type)
    expect_field(1, request, "evseId", c.evse_id)
    expect_field(1, request, "chargingProfile.chargingProfilePurpose", "TxProfile")
    expect_absent(1, request, "chargingProfile.transactionId")
    expect_field(1, request, "chargingProfile.chargingProfileKind", "Relative")
    transaction = start_transaction(tool)
    incoming.answer(
        msg.RequestStartTransactionResponse(
            status=en.RequestStartStopStatusEnumType.ACCEPTED, transaction_id=transaction.id
        )
    )
    await tool.settle()
    await transaction_event(
        tool,
        3,
        Event.STARTED,
        Reason.REMOTE_START,
        remote_start_id=request.remote_start_id,
        token=valid_token(c),
    )

"""The conformance framework itself: field rules with their step, N/A for undeclared features, expected
failures, the declaration file, the JUnit and JSON reports, time limits and the command line."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from chargeplane.cli import build_parser
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.adapter import (
    ChargeplaneAdapter,
    InteractiveAdapter,
    ManualAction,
    RequestStart,
    Trigger,
)
from chargeplane.tools.conformance.case import Registry, TestCase, case
from chargeplane.tools.conformance.checks import ABSENT, StepFailed, expect_absent, expect_field, field_value
from chargeplane.tools.conformance.commands import run_command
from chargeplane.tools.conformance.declaration import (
    Configured,
    Declaration,
    DeclarationError,
    parse_declaration,
)
from chargeplane.tools.conformance.messages import authorize, id_token, send_as
from chargeplane.tools.conformance.report import Outcome, exit_status, judge, to_json, to_junit
from chargeplane.tools.conformance.runner import run_csms_case, run_csms_cases
from chargeplane.tools.conformance.steps import CsmsTool, LinkSettings
from tests.csms.conftest import RunningCsms
from tests.tools.conformance.conftest import PASSWORD, STATION_ID, Operator


class NoAdapter:
    """An adapter for cases that ask nothing of the CSMS."""

    async def prepare(self, station_id: str, password: str | None, configured: Configured) -> None:
        return None

    async def set_registration(self, station_id: str, status: str) -> None:
        raise AssertionError("not expected")

    async def perform(self, station_id: str, action: ManualAction) -> None:
        raise AssertionError("not expected")


def declare(registry: Registry, case_id: str, **options: object) -> TestCase:
    async def body(tool: CsmsTool) -> None:
        return None

    case(case_id, f"{case_id} for the framework tests", use_cases=("X01",), registry=registry, **options)(
        body
    )  # type: ignore[arg-type]
    return registry.get(case_id)


# -- field rules -------------------------------------------------------------------------------------


def test_a_field_rule_names_its_step_message_and_wire_path() -> None:
    response = msg.AuthorizeResponse(
        id_token_info=dt.IdTokenInfoType(status=en.AuthorizationStatusEnumType.INVALID)
    )
    assert expect_field(2, response, "idTokenInfo.status", "Invalid", "Unknown") == "Invalid"
    with pytest.raises(StepFailed) as failed:
        expect_field(2, response, "idTokenInfo.status", "Accepted")
    assert str(failed.value) == "step 2: AuthorizeResponse.idTokenInfo.status is Invalid, expected Accepted"
    assert failed.value.step == 2


def test_field_paths_follow_wire_names_lists_and_absence() -> None:
    request = msg.ChangeAvailabilityRequest(
        operational_status=en.OperationalStatusEnumType.INOPERATIVE, evse=dt.EVSEType(id=1)
    )
    assert field_value(request, "evse.id") == 1
    assert field_value(request, "evse.connectorId") is ABSENT
    expect_absent(1, request, "evse.connectorId")
    with pytest.raises(
        StepFailed, match=r"ChangeAvailabilityRequest.evse is \{\"id\":1\}, expected it absent"
    ):
        expect_absent(1, request, "evse")
    get = msg.GetVariablesRequest(
        get_variable_data=[
            dt.GetVariableDataType(component=dt.ComponentType(name="C"), variable=dt.VariableType(name="V"))
        ]
    )
    assert field_value(get, "getVariableData[0].component.name") == "C"
    assert field_value(get, "getVariableData[1].component.name") is ABSENT
    with pytest.raises(KeyError):
        field_value(get, "noSuchField")


async def test_a_failing_rule_against_a_live_csms_fails_the_case_at_its_step(
    csms: RunningCsms, adapter: ChargeplaneAdapter
) -> None:
    registry = Registry()

    @case("TC_C_90_CSMS", "an unknown token taken for a valid one", use_cases=("C01",), registry=registry)
    async def wrong(tool: CsmsTool) -> None:
        response = await send_as(
            1, tool, authorize(id_token("NO-SUCH-TOKEN", "ISO14443")), msg.AuthorizeResponse
        )
        expect_field(2, response, "idTokenInfo.status", "Accepted")

    settings = LinkSettings(csms.ocpp_url, STATION_ID, PASSWORD)
    await adapter.prepare(STATION_ID, PASSWORD, Configured())
    result = await run_csms_case(registry.get("TC_C_90_CSMS"), settings, adapter, Declaration())
    assert result.outcome is Outcome.FAIL
    assert result.step == "2"
    assert result.detail in (
        "step 2: AuthorizeResponse.idTokenInfo.status is Unknown, expected Accepted",
        "step 2: AuthorizeResponse.idTokenInfo.status is Invalid, expected Accepted",
    )


async def test_each_case_is_bounded_in_time(csms: RunningCsms, adapter: ChargeplaneAdapter) -> None:
    registry = Registry()

    @case(
        "TC_F_90_CSMS",
        "waits for a CALL that never comes",
        use_cases=("F01",),
        registry=registry,
        timeout=0.5,
    )
    async def waits(tool: CsmsTool) -> None:
        await tool.expect(1, msg.ResetRequest, within=5.0)

    settings = LinkSettings(csms.ocpp_url, STATION_ID, PASSWORD)
    await adapter.prepare(STATION_ID, PASSWORD, Configured())
    result = await run_csms_case(registry.get("TC_F_90_CSMS"), settings, adapter, Declaration())
    assert (result.outcome, result.detail) == (Outcome.FAIL, "no result within the case's 0.5 s")
    assert result.seconds < 3


# -- N/A, expected failures, exit status ---------------------------------------------------------------


async def test_a_case_whose_feature_is_not_declared_is_not_applicable_never_passed() -> None:
    registry = Registry()
    needs = declare(registry, "TC_B_91_CSMS", features=("C-44",))
    link = LinkSettings("ws://127.0.0.1:9/ocpp", "NOBODY")  # never dialled: nothing applicable runs
    [result] = await run_csms_cases([needs], link, NoAdapter(), Declaration())
    assert result.outcome is Outcome.NA
    assert "C-44" in result.detail
    assert exit_status([result]) == 0


# A condition formula (feature_condition.py), for the CSV conditions a plain feature list cannot state.
async def test_a_case_whose_condition_formula_fails_is_not_applicable() -> None:
    registry = Registry()
    formula = "C-09.4 and (C-51 or NOT (C-09.1 or C-09.2))"
    conditional = declare(registry, "TC_E_91_CS", condition=formula)
    assert conditional.missing_features({"C-09.4", "C-51", "C-09.1"}) == ()
    assert conditional.missing_features({"C-09.4"}) == ()  # no other start point: the NOT branch holds
    assert conditional.missing_features({"C-09.4", "C-09.2"}) == (formula,)
    assert conditional.missing_features({"C-51"}) == (formula,)
    both = declare(registry, "TC_E_92_CS", features=("HFS-1",), condition="not C-09.5")
    assert both.missing_features({"C-09.5"}) == ("HFS-1", "not C-09.5")
    assert both.missing_features({"HFS-1"}) == ()
    link = LinkSettings("ws://127.0.0.1:9/ocpp", "NOBODY")  # never dialled: nothing applicable runs
    [result] = await run_csms_cases([conditional], link, NoAdapter(), Declaration())
    assert result.outcome is Outcome.NA
    assert formula in result.detail
    for bad in ("C-09.4 and", "C-09.4 (C-51)", "(C-09.4", "C-09.4 or pending", "C-09.4 & C-51"):
        with pytest.raises(ValueError, match="condition"):
            declare(registry, "TC_E_93_CS", condition=bad)


async def test_a_case_for_implementations_without_a_declared_feature_or_profile_is_not_applicable() -> None:
    registry = Registry()
    without_c13 = declare(registry, "TC_B_97_CSMS", condition="not C-13")
    without_sc = declare(registry, "TC_K_97_CSMS", unless_profiles=("Smart Charging",))
    link = LinkSettings("ws://127.0.0.1:9/ocpp", "NOBODY")  # never dialled: nothing applicable runs
    declaration = Declaration(frozenset({"C-13"}), profiles=frozenset({"Smart Charging"}))
    results = await run_csms_cases([without_c13, without_sc], link, NoAdapter(), declaration)
    assert [r.outcome for r in results] == [Outcome.NA, Outcome.NA]
    assert "C-13" in results[0].detail
    assert "Smart Charging" in results[1].detail
    assert without_sc.excluded_by(("Reservation",)) == ()
    with pytest.raises(ValueError, match="unknown certification profile"):
        declare(registry, "TC_B_99_CSMS", unless_profiles=("Smart",))


def test_expected_failures_must_fail_and_anything_else_must_pass() -> None:
    registry = Registry()
    listed = declare(registry, "TC_B_92_CSMS")
    expected = {"TC_B_92_CSMS": "not implemented yet"}
    xfail = judge(listed, "step 1: nope", "1", expected, 0.1)
    xpass = judge(listed, None, None, expected, 0.1)
    fail = judge(declare(registry, "TC_B_93_CSMS"), "step 1: nope", "1", expected, 0.1)
    assert (xfail.outcome, xpass.outcome, fail.outcome) == (Outcome.XFAIL, Outcome.XPASS, Outcome.FAIL)
    assert "not implemented yet" in xfail.detail
    assert "not implemented yet" in xpass.detail
    assert exit_status([xfail]) == 0
    assert exit_status([xfail, xpass]) == 1
    assert exit_status([fail]) == 1


# -- declaration file ---------------------------------------------------------------------------------


def test_declaration_file() -> None:
    declaration = parse_declaration(
        'features = ["C-44", "C-29.1"]\n'
        '[configured]\nvalid_idtoken = "ABC"\nevse_id = 2\nmax_boot_wait = 3\n'
        '[expected-failures]\nTC_B_02_CSMS = "pending not implemented"\n'
    )
    assert declaration.features == {"C-44", "C-29.1"}
    assert (declaration.configured.valid_idtoken, declaration.configured.evse_id) == ("ABC", 2)
    assert declaration.expected_failures == {"TC_B_02_CSMS": "pending not implemented"}
    assert parse_declaration('profiles = ["Smart Charging"]').profiles == {"Smart Charging"}
    for bad in (
        'profiles = ["Gold"]',
        'features = ["Pending"]',
        "colour = 1",
        '[configured]\nevse_id = "one"',
        "[configured]\nnope = 1",
        '[expected-failures]\nB02 = "x"',
        '[expected-failures]\nTC_B_02_CSMS = ""',
        "features = [",
    ):
        with pytest.raises(DeclarationError):
            parse_declaration(bad)


def test_case_declarations_are_checked() -> None:
    registry = Registry()
    with pytest.raises(ValueError, match="bad test case id"):
        declare(registry, "B_01")
    with pytest.raises(ValueError, match="bad feature id"):
        declare(registry, "TC_B_94_CSMS", features=("pending",))
    with pytest.raises(ValueError, match="unknown certification profile"):
        declare(registry, "TC_B_95_CSMS", profiles=("Gold",))
    declare(registry, "TC_B_96_CSMS")
    with pytest.raises(ValueError, match="twice"):
        declare(registry, "TC_B_96_CSMS")


# -- reports and the command line -----------------------------------------------------------------------


def test_junit_and_json_shapes() -> None:
    registry = Registry()
    results = [
        judge(declare(registry, "TC_B_97_CSMS"), None, None, {}, 0.25),
        judge(declare(registry, "TC_E_97_CSMS"), "step 6: X.y is a, expected b", "6", {}, 1.0),
        judge(
            declare(registry, "TC_J_97_CSMS", profiles=("Core", "Smart Charging")),
            "step 1: z",
            "1",
            {"TC_J_97_CSMS": "why"},
            0.5,
        ),
    ]
    junit = to_junit(results, "csms").getroot()
    suites = {s.get("name"): s for s in junit.iter("testsuite")}
    assert set(suites) == {"csms.Core", "csms.Smart Charging"}
    core = suites["csms.Core"]
    assert (core.get("tests"), core.get("failures"), core.get("skipped")) == ("3", "1", "1")
    failure = core.find("testcase[@name='TC_E_97_CSMS']/failure")
    assert failure is not None
    assert failure.get("message") == "step 6: X.y is a, expected b"
    assert core.find("testcase[@name='TC_J_97_CSMS']/skipped") is not None
    report = to_json(results, "csms")
    assert report["passed"] is False
    assert report["profiles"]["Core"] == {"PASS": 1, "FAIL": 1, "N/A": 0, "XFAIL": 1, "XPASS": 0}
    assert report["cases"][1] | {"seconds": 0} == {
        "id": "TC_E_97_CSMS",
        "name": "TC_E_97_CSMS for the framework tests",
        "outcome": "FAIL",
        "step": "6",
        "detail": "step 6: X.y is a, expected b",
        "seconds": 0,
        "profiles": ["Core"],
        "useCases": ["X01"],
        "requirements": [],
        "features": [],
    }


async def test_command_line_runs_cases_and_writes_reports(
    csms: RunningCsms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    features = tmp_path / "features.toml"
    features.write_text('[expected-failures]\nTC_B_02_CSMS = "C-44 left undeclared: N/A, never run"\n')
    args = build_parser().parse_args(
        [
            "conformance", "csms", "--url", csms.ocpp_url, "--station-id", STATION_ID, "--password", PASSWORD,
            "--api", str(csms.api.base_url), "--api-token", csms.token, "--features", str(features),
            "--cases", "TC_B_01_CSMS,TC_B_02_CSMS,TC_P_0*", "--junit", str(junit), "--json", str(report),
        ]
    )  # fmt: skip
    assert await run_command(args) == 0
    out = capsys.readouterr().out
    assert "PASS  TC_B_01_CSMS" in out
    assert "N/A   TC_B_02_CSMS" in out
    assert "Core: 3 PASS, 1 N/A" in out
    outcomes = {c["id"]: c["outcome"] for c in json.loads(report.read_text())["cases"]}
    assert outcomes == {
        "TC_B_01_CSMS": "PASS",
        "TC_B_02_CSMS": "N/A",
        "TC_P_02_CSMS": "PASS",
        "TC_P_03_CSMS": "PASS",
    }
    assert ET.parse(junit).getroot().find("testsuite").get("tests") == "4"  # type: ignore[union-attr]


async def test_command_line_needs_one_way_to_perform_manual_actions() -> None:
    args = build_parser().parse_args(
        ["conformance", "csms", "--url", "ws://127.0.0.1:9/ocpp", "--station-id", "A"]
    )
    assert await run_command(args) == 2


async def test_interactive_adapter_asks_the_operator() -> None:
    operator = Operator()
    asked = operator.asked
    out = io.StringIO()
    adapter = InteractiveAdapter(ask=operator, out=out)
    await adapter.prepare("CS1", "secret", Configured())
    await adapter.set_registration("CS1", "Pending")
    await adapter.perform("CS1", RequestStart("TOKEN", "ISO14443", 1))
    assert "CONF-VALID-0001" in asked[0]
    assert "BootNotification of CS1 with Pending" in asked[1]
    assert "RequestStartTransaction for id token TOKEN (ISO14443) on EVSE 1" in out.getvalue()


async def test_a_call_of_another_type_than_expected_fails_the_step(
    csms: RunningCsms, adapter: ChargeplaneAdapter
) -> None:
    registry = Registry()

    @case("TC_F_91_CSMS", "expects a Reset, gets a TriggerMessage", use_cases=("F06",), registry=registry)
    async def confused(tool: CsmsTool) -> None:
        tool.manual(Trigger("Heartbeat"))
        await tool.expect(1, msg.ResetRequest)

    settings = LinkSettings(csms.ocpp_url, STATION_ID, PASSWORD)
    await adapter.prepare(STATION_ID, PASSWORD, Configured())
    result = await run_csms_case(registry.get("TC_F_91_CSMS"), settings, adapter, Declaration())
    assert (result.outcome, result.detail) == (
        Outcome.FAIL,
        "step 1: expected a ResetRequest, the CSMS sent TriggerMessageRequest",
    )


class RefusingAdapter(NoAdapter):
    async def perform(self, station_id: str, action: ManualAction) -> None:
        raise RuntimeError("HTTP 422 the CSMS will not send it")


async def test_a_refused_manual_action_fails_the_case_at_once(
    csms: RunningCsms, adapter: ChargeplaneAdapter
) -> None:
    registry = Registry()

    @case("TC_F_92_CSMS", "asks for a trigger the CSMS refuses", use_cases=("F06",), registry=registry)
    async def refused(tool: CsmsTool) -> None:
        tool.manual(Trigger("Heartbeat"))
        await tool.expect(1, msg.TriggerMessageRequest, within=10.0)

    await adapter.prepare(STATION_ID, PASSWORD, Configured())
    settings = LinkSettings(csms.ocpp_url, STATION_ID, PASSWORD)
    result = await run_csms_case(registry.get("TC_F_92_CSMS"), settings, RefusingAdapter(), Declaration())
    assert (result.outcome, result.step) == (Outcome.FAIL, "manual action")
    assert result.detail == (
        "step manual action: send TriggerMessage for Heartbeat: HTTP 422 the CSMS will not send it"
    )
    assert result.seconds < 5


async def test_command_line_lists_a_profile_with_what_the_tool_lacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["conformance", "station", "--listen", "127.0.0.1:9", "--station-id", "A", "--list"]
    args = build_parser().parse_args([*argv, "--profile", "core", "--profile", "advanced user interface"])
    assert args.profile == ["Core", "Advanced User Interface"]
    assert await run_command(args) == 0
    out = capsys.readouterr().out
    assert "TC_B_01_CS " in out
    assert "TC_D_01_CS " not in out  # Local Authorization List Management, not Core
    assert "TC_I_01_CS " in out  # block I: every case of the profile is in the tool
    assert "Advanced User Interface:" not in out  # no "case(s) of Part 5 not in this tool yet" line


def test_command_line_refuses_an_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            [
                "conformance",
                "csms",
                "--url",
                "ws://127.0.0.1:9/ocpp",
                "--station-id",
                "A",
                "--profile",
                "Gold",
            ]
        )
    assert "unknown profile 'Gold'" in capsys.readouterr().err

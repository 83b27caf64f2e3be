"""The pure parts of monitoring: which rule an event matches (alerts), which event closes an alert, how requests
are split to the station's limits (N04.FR.09, N06.FR.04) and how SetVariableMonitoring results are paired with
the monitors asked for (N04.FR.01, N04.FR.02)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import msgspec
import pytest

from chargeplane.csms.blocks.device_model.wire import Component, Evse, Variable
from chargeplane.csms.blocks.monitoring.alerting import Event, Rule, closes, matches
from chargeplane.csms.blocks.monitoring.service import Limits, chunks, pair_results
from chargeplane.csms.blocks.monitoring.wire import SetMonitoringData, SetMonitoringResult

NOW = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
RULE = Rule(1, "hot", None, 4, "Temp*", None, True, NOW)
EVENT = Event(
    station_id="CS1",
    event_id=1,
    timestamp=NOW,
    trigger="Alerting",
    actual_value="61",
    component="TemperatureSensor",
    variable="Temperature",
    monitor_id=10,
    severity=3,
)


def test_a_rule_matches_by_severity_threshold_station_and_name_patterns() -> None:
    assert matches(RULE, EVENT)
    assert matches(RULE, replace(EVENT, severity=4))  # at the threshold
    assert not matches(RULE, replace(EVENT, severity=5))  # less severe than the threshold
    assert not matches(RULE, replace(EVENT, component="EVSE"))
    assert matches(replace(RULE, station_id="cs1"), EVENT)  # identities compare casefolded
    assert not matches(replace(RULE, station_id="CS2"), EVENT)
    assert matches(replace(RULE, variable="Temp?rature"), EVENT)
    assert not matches(replace(RULE, variable="temperature"), EVENT)  # patterns are case-sensitive
    assert not matches(replace(RULE, enabled=False), EVENT)


def test_unknown_severity_matches_only_a_rule_for_every_severity() -> None:
    unknown = replace(EVENT, severity=None)
    assert not matches(RULE, unknown)
    assert matches(replace(RULE, max_severity=9), unknown)


@pytest.mark.parametrize("event", [replace(EVENT, cleared=True), replace(EVENT, trigger="Periodic")])
def test_cleared_and_periodic_events_never_open_an_alert(event: Event) -> None:
    assert not matches(replace(RULE, max_severity=9), event)


def test_N07_FR_02_a_cleared_event_closes_alerts_of_its_subject_and_monitor() -> None:
    cleared = replace(EVENT, cleared=True, evse_id=1, connector_id=2, component_instance="inlet")
    subject = "TemperatureSensor[inlet]@1.2/Temperature"
    assert cleared.subject() == subject
    assert closes(cleared, subject, 10)
    assert closes(cleared, subject, None)  # the alert's event named no monitor
    assert closes(replace(cleared, monitor_id=None), subject, 10)
    assert not closes(cleared, subject, 11)  # another monitor of the same variable (e.g. the lower threshold)
    assert not closes(cleared, "TemperatureSensor/Temperature", 10)
    assert not closes(replace(cleared, cleared=False), subject, 10)


def _size(part: Sequence[int]) -> int:
    return len(msgspec.json.encode({"id": part}))


def test_N06_FR_04_chunks_keep_within_items_and_bytes() -> None:
    ids = list(range(100, 107))
    assert chunks(ids, _size, Limits()) == [ids]
    assert chunks(ids, _size, Limits(items=3)) == [[100, 101, 102], [103, 104, 105], [106]]
    by_bytes = chunks(ids, _size, Limits(bytes=len('{"id":[100,101]}')))
    assert by_bytes == [[100, 101], [102, 103], [104, 105], [106]]
    assert all(_size(part) <= len('{"id":[100,101]}') for part in by_bytes)
    assert chunks(ids, _size, Limits(bytes=5)) == [[i] for i in ids]  # too large alone: alone
    assert chunks([], _size, Limits(items=1)) == []


def _item(name: str, severity: int) -> SetMonitoringData:
    return SetMonitoringData(
        1.0, "Delta", severity, Component(name, evse=Evse(1)), Variable("AvailabilityState")
    )


def _result(item: SetMonitoringData, status: str = "Accepted") -> SetMonitoringResult:
    return SetMonitoringResult(status, item.type, item.severity, item.component, item.variable, id=7)


def test_N04_FR_02_results_pair_with_their_items_in_order_or_by_what_they_name() -> None:
    a, b, c = _item("EVSE", 1), _item("EVSE", 2), _item("Connector", 1)
    in_order = pair_results([a, b, c], [_result(a), _result(b), _result(c)])
    assert [item for item, _ in in_order] == [a, b, c]
    shuffled = pair_results([a, b, c], [_result(c), _result(a), _result(b)])
    assert [(item, result.severity) for item, result in shuffled] == [(c, 1), (a, 1), (b, 2)]
    stranger = _item("Nope", 9)
    assert pair_results([a], [_result(stranger), _result(a)]) == [(a, _result(a))]
    twins = pair_results([a, a], [_result(a), _result(a)])  # the same item twice: each answered once
    assert len(twins) == 2

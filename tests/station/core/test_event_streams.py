"""2.1 periodic event streams on the station (N11-N15): opened for a monitor with periodicEventStream,
values buffered and flushed as NotifyPeriodicEventStream SEND messages, listed, adjusted and closed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from tests.station.core.helpers import Rig, make_rig

M, D = v21.messages, v21.datatypes


def csms(open_status: str = "Accepted") -> Callable[[Payload, datetime], Payload | None]:
    def answer(request: Payload, now: datetime) -> Payload | None:
        if isinstance(request, M.BootNotificationRequest):
            return M.BootNotificationResponse(current_time=to_wire(now), interval=60, status="Accepted")
        if isinstance(request, M.StatusNotificationRequest):
            return M.StatusNotificationResponse()
        if isinstance(request, M.NotifyEventRequest):
            return M.NotifyEventResponse()
        if isinstance(request, M.OpenPeriodicEventStreamRequest):
            return M.OpenPeriodicEventStreamResponse(status=open_status)
        if isinstance(request, M.ClosePeriodicEventStreamRequest):
            return M.ClosePeriodicEventStreamResponse()
        return None

    return answer


def rig(open_status: str = "Accepted") -> Rig:
    return make_rig(version=Version.V21, answer=csms(open_status))


def periodic(r: Rig, every: float, **params: int) -> D.SetMonitoringResultType:
    item = D.SetMonitoringDataType(
        value=every,
        type="Periodic",
        severity=5,
        component=D.ComponentType(name="ChargingStation"),
        variable=D.VariableType(name="Power"),
        periodic_event_stream=D.PeriodicEventStreamParamsType(**params),
    )
    [result] = r.handle(M.SetVariableMonitoringRequest(set_monitoring_data=[item])).set_monitoring_result
    return result


def streamed(r: Rig) -> list[M.NotifyPeriodicEventStream]:
    return r.of(M.NotifyPeriodicEventStream)


def test_N11_FR_01_02_N15_FR_01_04_07_08_09_flushed_every_values_values() -> None:
    r = rig()
    result = periodic(r, 10, values=3)
    assert result.status == "Accepted"
    [opened] = r.of(M.OpenPeriodicEventStreamRequest)
    data = opened.constant_stream_data
    assert (data.variable_monitoring_id, data.params.values) == (result.id, 3)
    r.advance(25)
    assert streamed(r) == []  # two values buffered
    r.advance(5)
    [message] = streamed(r)
    assert message.id == data.id
    assert [(d.t, d.v) for d in message.data] == [(0.0, "0"), (10.0, "0"), (20.0, "0")]
    assert message.basetime == to_wire(r.now - timedelta(seconds=20))  # the first value's time
    assert message.pending == 0
    assert r.of(M.NotifyEventRequest) == []  # the stream replaces NotifyEvent


def test_N15_FR_06_flushed_every_interval_seconds() -> None:
    r = rig()
    periodic(r, 10, interval=35)
    r.advance(34)
    assert streamed(r) == []
    r.advance(1)
    [message] = streamed(r)
    assert len(message.data) == 3


def test_N11_FR_05_07_a_rejected_stream_falls_back_to_NotifyEvent() -> None:
    r = rig("Rejected")
    periodic(r, 10, values=2)
    r.advance(20)
    assert streamed(r) == []
    assert len([e for m in r.of(M.NotifyEventRequest) for e in m.event_data]) == 2
    assert not r.handle(M.GetPeriodicEventStreamRequest()).constant_stream_data


def test_N11_FR_09_a_stream_without_interval_or_values_is_rejected() -> None:
    r = rig()
    result = periodic(r, 10)
    assert (result.status, result.status_info.reason_code) == ("Rejected", "NoParams")
    assert r.of(M.OpenPeriodicEventStreamRequest) == []


def test_N12_FR_01_N14_FR_02_03_get_and_adjust() -> None:
    r = rig()
    assert not r.handle(M.GetPeriodicEventStreamRequest()).constant_stream_data
    result = periodic(r, 10, values=5)
    [listed] = r.handle(M.GetPeriodicEventStreamRequest()).constant_stream_data
    assert (listed.variable_monitoring_id, listed.params.values) == (result.id, 5)
    refused = r.handle(
        M.AdjustPeriodicEventStreamRequest(
            id=listed.id + 99, params=D.PeriodicEventStreamParamsType(values=1)
        )
    )
    assert refused.status == "Rejected"
    empty = r.handle(
        M.AdjustPeriodicEventStreamRequest(id=listed.id, params=D.PeriodicEventStreamParamsType())
    )
    assert empty.status == "Rejected"
    r.advance(20)
    assert streamed(r) == []  # 2 of 5 values
    adjusted = r.handle(
        M.AdjustPeriodicEventStreamRequest(id=listed.id, params=D.PeriodicEventStreamParamsType(values=1))
    )
    assert adjusted.status == "Accepted"
    assert [len(m.data) for m in streamed(r)] == [1, 1]  # N15.FR.07: no more than values at a time
    assert [m.pending for m in streamed(r)] == [1, 0]  # N15.FR.04
    [listed] = r.handle(M.GetPeriodicEventStreamRequest()).constant_stream_data
    assert listed.params.values == 1


def test_N13_FR_03_04_05_clearing_the_monitor_flushes_then_closes_the_stream() -> None:
    r = rig()
    result = periodic(r, 10, values=10)
    r.advance(30)
    assert streamed(r) == []
    r.handle(M.ClearVariableMonitoringRequest(id=[result.id]))
    [message] = streamed(r)
    assert len(message.data) == 3
    [closed] = r.of(M.ClosePeriodicEventStreamRequest)
    assert closed.id == message.id
    assert r.sent.index(message) < r.sent.index(closed)  # N13.FR.03: buffered values first
    assert not r.handle(M.GetPeriodicEventStreamRequest()).constant_stream_data


def test_N13_FR_06_replacing_without_a_stream_closes_it_and_reverts_to_NotifyEvent() -> None:
    r = rig()
    result = periodic(r, 10, values=10)
    item = D.SetMonitoringDataType(
        id=result.id,
        value=10,
        type="Periodic",
        severity=5,
        component=D.ComponentType(name="ChargingStation"),
        variable=D.VariableType(name="Power"),
    )
    r.handle(M.SetVariableMonitoringRequest(set_monitoring_data=[item]))
    assert len(r.of(M.ClosePeriodicEventStreamRequest)) == 1
    r.advance(10)
    assert len(r.of(M.NotifyEventRequest)) == 1


def test_N11_streams_survive_a_reboot_and_are_opened_again() -> None:
    r = rig()
    periodic(r, 10, values=2)
    again = make_rig(storage=r.storage, version=Version.V21, answer=csms())
    again.advance(1)
    assert len(again.of(M.OpenPeriodicEventStreamRequest)) == 1
    again.advance(20)
    assert len(streamed(again)) == 1

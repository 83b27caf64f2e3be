"""MeteredRouter: each handler's outcome counted and its time observed; guard refusals counted without a
handler time. Driven through the sans-I/O endpoint, no network."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import generate_latest

from chargeplane.csms.observability.metrics import CsmsMetrics
from chargeplane.csms.observability.router import MeteredRouter
from chargeplane.ocpp.catalog import CSMS
from chargeplane.ocpp.endpoint import RpcEndpoint
from chargeplane.ocpp.errors import OcppError, SecurityError
from chargeplane.ocpp.events import CallReceived
from chargeplane.ocpp.messages import v2x, v21, v201
from chargeplane.ocpp.router import register_2x
from chargeplane.ocpp.versions import Version
from tests.csms.observability.test_metrics import value


def serve(router: MeteredRouter, message: str) -> list[bytes]:
    endpoint = RpcEndpoint(router.version, CSMS, handled_actions=router.handled_actions)
    endpoint.receive(message, now=0.0)
    for event in endpoint.events():
        assert isinstance(event, CallReceived)
        pending = router.dispatch(endpoint, event, Any)  # type: ignore[arg-type]  # the context is unused
        if pending is not None:
            asyncio.run(pending)
    return endpoint.data_to_send()


def test_outcomes_and_handler_times_per_version() -> None:
    metrics = CsmsMetrics()
    refuse = {"yes": False}

    def guard(action: str, _: object) -> OcppError | None:
        return SecurityError("not accepted yet") if refuse["yes"] else None

    routers = {v: MeteredRouter(v, CSMS, metrics, guard=guard) for v in (Version.V201, Version.V21)}

    async def heartbeat(request: v2x.HeartbeatRequestT, _: object) -> v2x.HeartbeatResponse:
        return v2x.dialect_of(request).HeartbeatResponse(current_time="2024-01-01T00:00:00Z")

    def status(request: v201.messages.StatusNotificationRequest, _: object) -> Any:
        raise RuntimeError("a bug")  # InternalError to the station

    register_2x(routers, (v201.messages.HeartbeatRequest, v21.messages.HeartbeatRequest), heartbeat)  # type: ignore[arg-type]
    routers[Version.V201].register(v201.messages.StatusNotificationRequest, status)
    assert serve(routers[Version.V201], '[2,"1","Heartbeat",{}]')[0].startswith(b'[3,"1"')
    assert serve(routers[Version.V21], '[2,"2","Heartbeat",{}]')[0].startswith(b'[3,"2"')
    notification = (
        '[2,"3","StatusNotification",{"timestamp":"2024-01-01T00:00:00Z","connectorStatus":"Available",'
        '"evseId":1,"connectorId":1}]'
    )
    assert b"InternalError" in serve(routers[Version.V201], notification)[0]
    refuse["yes"] = True
    assert b"SecurityError" in serve(routers[Version.V201], '[2,"4","Heartbeat",{}]')[0]

    text = generate_latest(metrics.registry).decode()
    inbound = {"direction": "in", "action": "Heartbeat"}
    assert value(text, "chargeplane_ocpp_messages_total", version="2.0.1", outcome="result", **inbound) == 1
    assert value(text, "chargeplane_ocpp_messages_total", version="2.1", outcome="result", **inbound) == 1
    assert value(text, "chargeplane_ocpp_messages_total", version="2.0.1", outcome="error", **inbound) == 1
    failed = {"version": "2.0.1", "action": "StatusNotification", "direction": "in", "outcome": "error"}
    assert value(text, "chargeplane_ocpp_messages_total", **failed) == 1
    # The refused Heartbeat has no handler time: one observation per version, from the answered ones.
    assert value(text, "chargeplane_ocpp_handler_seconds_count", version="2.0.1", action="Heartbeat") == 1
    assert value(text, "chargeplane_ocpp_handler_seconds_count", version="2.1", action="Heartbeat") == 1
    assert (
        value(text, "chargeplane_ocpp_handler_seconds_count", version="2.0.1", action="StatusNotification")
        == 1
    )

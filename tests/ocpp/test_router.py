"""Typed router: per-instance registration, return-type checks, error mapping."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Coroutine
from typing import Any

import pytest

from chargeplane.ocpp.catalog import CSMS, STATION
from chargeplane.ocpp.endpoint import RpcEndpoint
from chargeplane.ocpp.errors import SecurityError
from chargeplane.ocpp.events import CallReceived
from chargeplane.ocpp.messages import v2x, v21, v201
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.router import HandlerRegistrationError, Router, register_2x
from chargeplane.ocpp.versions import Version
from tests.ocpp import fakes

TIME = "2024-01-01T00:00:00Z"


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Drive a coroutine that never suspends (the handlers here do not), without an event loop."""
    with pytest.raises(StopIteration):
        coroutine.send(None)


def serve(router: Router[str], message: str) -> list[bytes]:
    endpoint = RpcEndpoint(Version.V201, CSMS, catalog=fakes.CATALOG, handled_actions=router.handled_actions)
    endpoint.receive(message, now=0.0)
    for event in endpoint.events():
        if isinstance(event, CallReceived):
            run(router.handle(endpoint, event, "ctx"))
    return endpoint.data_to_send()


def router() -> Router[str]:
    return Router[str](Version.V201, CSMS, catalog=fakes.CATALOG)


def test_sync_and_async_handlers_answer_with_their_result() -> None:
    r = router()
    seen: list[tuple[Any, str]] = []

    @r.on(fakes.PingRequest)
    async def ping(request: fakes.PingRequest, context: str) -> fakes.PingResponse:
        seen.append((request, context))
        return fakes.PingResponse(current_time=TIME)

    def hello(request: fakes.HelloRequest, context: str) -> fakes.HelloResponse:
        return fakes.HelloResponse(status=request.model)

    r.register(fakes.HelloRequest, hello)
    assert r.handled_actions == {"Ping", "Hello"}
    assert serve(r, '[2,"1","Ping",{}]') == [b'[3,"1",{"currentTime":"2024-01-01T00:00:00Z"}]']
    assert seen == [(fakes.PingRequest(), "ctx")]
    assert serve(r, '[2,"2","Hello",{"model":"ok"}]') == [b'[3,"2",{"status":"ok"}]']


def test_actions_without_handler_get_notsupported() -> None:
    assert serve(router(), '[2,"1","Ping",{}]') == [b'[4,"1","NotSupported","Ping is not supported",{}]']


def test_handler_raising_ocpp_error_answers_with_its_code() -> None:
    r = router()

    @r.on(fakes.PingRequest)
    def ping(request: fakes.PingRequest, context: str) -> fakes.PingResponse:
        raise SecurityError("station not accepted")

    assert serve(r, '[2,"1","Ping",{}]') == [b'[4,"1","SecurityError","station not accepted",{}]']


def test_handler_crash_becomes_generic_internalerror(caplog: pytest.LogCaptureFixture) -> None:
    r = router()

    @r.on(fakes.PingRequest)
    def ping(request: fakes.PingRequest, context: str) -> fakes.PingResponse:
        raise RuntimeError("database password is hunter2")

    with caplog.at_level(logging.ERROR):
        answer = serve(r, '[2,"1","Ping",{}]')
    assert answer == [b'[4,"1","InternalError","An internal error occurred",{}]']  # nothing leaked
    assert "handler for Ping failed" in caplog.text


def test_unannotated_handler_returning_wrong_type_is_refused_at_first_call() -> None:
    r = router()
    r.register(fakes.PingRequest, lambda request, context: fakes.HelloResponse(status="x"))
    assert serve(r, '[2,"1","Ping",{}]') == [b'[4,"1","InternalError","An internal error occurred",{}]']


def test_a_forwarding_handler_serves_many_actions_and_is_checked_per_call() -> None:
    r = router()
    answers: dict[type[Payload], Payload] = {
        fakes.PingRequest: fakes.PingResponse(current_time=TIME),
        fakes.HelloRequest: fakes.PingResponse(current_time=TIME),  # the wrong response for Hello
    }

    def forward(request: Payload, context: str) -> Payload:
        return answers[type(request)]

    r.delegate([fakes.PingRequest, fakes.HelloRequest], forward)
    assert serve(r, '[2,"1","Ping",{}]') == [b'[3,"1",{"currentTime":"2024-01-01T00:00:00Z"}]']
    assert serve(r, '[2,"2","Hello",{"model":"m"}]') == [
        b'[4,"2","InternalError","An internal error occurred",{}]'
    ]
    with pytest.raises(HandlerRegistrationError, match="already has a handler"):
        r.delegate([fakes.PingRequest], forward)


def test_handler_with_wrong_return_annotation_is_refused_at_registration() -> None:
    r = router()

    def ping(request: fakes.PingRequest, context: str) -> fakes.HelloResponse:
        return fakes.HelloResponse(status="x")

    with pytest.raises(HandlerRegistrationError, match="returns HelloResponse; it must return PingResponse"):
        r.register(fakes.PingRequest, ping)

    def nothing(request: fakes.PingRequest, context: str) -> None:
        return None

    with pytest.raises(HandlerRegistrationError, match="returns NoneType"):
        r.register(fakes.PingRequest, nothing)  # type: ignore[arg-type]


def test_unresolvable_annotations_fall_back_to_the_call_check() -> None:
    r = router()

    def ping(request: fakes.PingRequest, context: str) -> NotDefinedAnywhere:  # type: ignore[name-defined]  # noqa: F821
        return fakes.PingResponse(current_time=TIME)

    r.register(fakes.PingRequest, ping)
    assert serve(r, '[2,"1","Ping",{}]') == [b'[3,"1",{"currentTime":"2024-01-01T00:00:00Z"}]']


def test_registration_checks_version_direction_and_duplicates() -> None:
    r = router()
    with pytest.raises(HandlerRegistrationError, match=r"not a request of OCPP 2\.0\.1"):
        r.register(fakes.PingResponse, lambda request, context: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(HandlerRegistrationError, match="a CSMS never receives Reset"):
        r.register(fakes.ResetRequest, lambda request, context: fakes.ResetResponse(status="x"))
    with pytest.raises(HandlerRegistrationError, match="is a SEND message"):
        r.register(fakes.StreamRequest, lambda request, context: fakes.PingResponse(current_time=TIME))
    r.register(fakes.TransferRequest, lambda request, context: fakes.TransferResponse(status="Accepted"))
    with pytest.raises(HandlerRegistrationError, match="already has a handler"):
        r.register(fakes.TransferRequest, lambda request, context: fakes.TransferResponse(status="Accepted"))
    station_router = Router[str](Version.V201, STATION, catalog=fakes.CATALOG)
    station_router.register(fakes.ResetRequest, lambda request, context: fakes.ResetResponse(status="ok"))


def test_routers_are_independent_instances() -> None:
    first, second = router(), router()
    first.register(fakes.PingRequest, lambda request, context: fakes.PingResponse(current_time=TIME))
    assert second.handled_actions == frozenset()


def test_missing_handler_with_misconfigured_endpoint_is_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = router()
    endpoint = RpcEndpoint(Version.V201, CSMS, catalog=fakes.CATALOG)  # no handled_actions
    endpoint.receive('[2,"1","Ping",{}]', now=0.0)
    [event] = endpoint.events()
    assert isinstance(event, CallReceived)
    run(r.handle(endpoint, event, "ctx"))
    assert endpoint.data_to_send() == [b'[4,"1","InternalError","An internal error occurred",{}]']
    assert "no handler for Ping" in caplog.text


def test_awaitable_return_annotation_is_unwrapped() -> None:
    r = router()

    def ping(request: fakes.PingRequest, context: str) -> Awaitable[fakes.HelloResponse]:
        raise AssertionError("never called")

    with pytest.raises(HandlerRegistrationError, match="returns HelloResponse"):
        r.register(fakes.PingRequest, ping)


def test_handler_that_answered_itself_and_then_failed_is_not_answered_twice() -> None:
    r = router()
    endpoint = RpcEndpoint(Version.V201, CSMS, catalog=fakes.CATALOG, handled_actions={"Ping"})

    def ping(request: fakes.PingRequest, context: str) -> fakes.PingResponse:
        endpoint.send_error("1", SecurityError("no"))
        raise RuntimeError("after answering")

    r.register(fakes.PingRequest, ping)
    endpoint.receive('[2,"1","Ping",{}]', now=0.0)
    [event] = endpoint.events()
    assert isinstance(event, CallReceived)
    run(r.handle(endpoint, event, "ctx"))
    assert endpoint.data_to_send() == [b'[4,"1","SecurityError","no",{}]']


def test_guard_refuses_before_the_handler_runs() -> None:
    calls: list[str] = []

    def guard(action: str, context: str) -> SecurityError | None:
        return SecurityError("not accepted") if action == "Hello" else None

    r = Router[str](Version.V201, CSMS, catalog=fakes.CATALOG, guard=guard)
    r.register(
        fakes.HelloRequest, lambda request, context: calls.append("hello") or fakes.HelloResponse(status="x")
    )
    r.register(fakes.PingRequest, lambda request, context: fakes.PingResponse(current_time=TIME))
    assert serve(r, '[2,"1","Hello",{"model":"m"}]') == [b'[4,"1","SecurityError","not accepted",{}]']
    assert calls == []
    assert serve(r, '[2,"2","Ping",{}]') == [b'[3,"2",{"currentTime":"2024-01-01T00:00:00Z"}]']


def test_async_handler_errors_are_answered_like_sync_ones(caplog: pytest.LogCaptureFixture) -> None:
    r = router()

    @r.on(fakes.PingRequest)
    async def ping(request: fakes.PingRequest, context: str) -> fakes.PingResponse:
        raise SecurityError("async refusal")

    @r.on(fakes.HelloRequest)
    async def hello(request: fakes.HelloRequest, context: str) -> fakes.HelloResponse:
        raise RuntimeError("secret detail")

    assert serve(r, '[2,"1","Ping",{}]') == [b'[4,"1","SecurityError","async refusal",{}]']
    assert serve(r, '[2,"2","Hello",{"model":"m"}]') == [
        b'[4,"2","InternalError","An internal error occurred",{}]'
    ]


def test_dispatch_answers_sync_handlers_without_a_coroutine() -> None:
    r = router()
    r.register(fakes.PingRequest, lambda request, context: fakes.PingResponse(current_time=TIME))
    endpoint = RpcEndpoint(Version.V201, CSMS, catalog=fakes.CATALOG, handled_actions=r.handled_actions)
    endpoint.receive('[2,"1","Ping",{}]', now=0.0)
    [event] = endpoint.events()
    assert isinstance(event, CallReceived)
    assert not endpoint.has_output
    assert r.dispatch(endpoint, event, "ctx") is None
    assert endpoint.has_output


# -- handlers written once for 2.0.1 and 2.1 (return type: the union of both responses) ---------------------

HEARTBEAT = '[2,"1","Heartbeat",{}]'


def serve_version(router: Router[str], version: Version, message: str) -> list[bytes]:
    """Like :func:`serve`, with the version's real catalog."""
    endpoint = RpcEndpoint(version, CSMS, handled_actions=router.handled_actions)
    endpoint.receive(message, now=0.0)
    for event in endpoint.events():
        if isinstance(event, CallReceived):
            run(router.handle(endpoint, event, "ctx"))
    return endpoint.data_to_send()


def routers_2x() -> dict[Version, Router[str]]:
    return {version: Router[str](version, CSMS) for version in (Version.V201, Version.V21)}


async def heartbeat(request: v2x.HeartbeatRequestT, context: str) -> v2x.HeartbeatResponse:
    return v2x.dialect_of(request).HeartbeatResponse(current_time=TIME)


def test_union_holding_the_response_is_accepted_and_register_2x_serves_both_versions() -> None:
    routers = routers_2x()
    register_2x(routers, (v201.messages.HeartbeatRequest, v21.messages.HeartbeatRequest), heartbeat)
    for version, router_ in routers.items():
        assert router_.handled_actions == {"Heartbeat"}
        assert serve_version(router_, version, HEARTBEAT) == [
            b'[3,"1",{"currentTime":"2024-01-01T00:00:00Z"}]'
        ]


def test_sync_union_and_awaitable_union_annotations_are_accepted() -> None:
    def sync(request: v201.messages.HeartbeatRequest, context: str) -> v2x.HeartbeatResponse:
        return v201.messages.HeartbeatResponse(current_time=TIME)

    def awaitable(request: v201.messages.HeartbeatRequest, context: str) -> Awaitable[v2x.HeartbeatResponse]:
        raise AssertionError("never called")

    Router[str](Version.V201, CSMS).register(v201.messages.HeartbeatRequest, sync)
    Router[str](Version.V201, CSMS).register(v201.messages.HeartbeatRequest, awaitable)


def test_union_without_the_response_is_refused_at_registration() -> None:
    def wrong(request: v2x.HeartbeatRequestT, context: str) -> v2x.BootNotificationResponse:
        raise AssertionError("never called")

    with pytest.raises(
        HandlerRegistrationError,
        match=r"returns BootNotificationResponse \| BootNotificationResponse; it must return HeartbeatResponse",
    ):
        register_2x(routers_2x(), (v201.messages.HeartbeatRequest, v21.messages.HeartbeatRequest), wrong)


def test_register_2x_refuses_request_types_in_the_wrong_order() -> None:
    with pytest.raises(HandlerRegistrationError, match=r"not a request of OCPP 2\.0\.1"):
        register_2x(routers_2x(), (v21.messages.HeartbeatRequest, v201.messages.HeartbeatRequest), heartbeat)  # type: ignore[arg-type]


def test_handler_returning_the_other_versions_response_gets_internalerror(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def crossed(request: v201.messages.HeartbeatRequest, context: str) -> v2x.HeartbeatResponse:
        return v21.messages.HeartbeatResponse(current_time=TIME)  # passes the union, not the endpoint

    r = Router[str](Version.V201, CSMS)
    r.register(v201.messages.HeartbeatRequest, crossed)
    with caplog.at_level(logging.ERROR):
        answer = serve_version(r, Version.V201, HEARTBEAT)
    assert answer == [b'[4,"1","InternalError","An internal error occurred",{}]']
    assert "handler for Heartbeat failed" in caplog.text


async def test_send_consumers_refuse_what_is_no_send_drop_the_unconsumed_and_log_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """2.1 SEND messages (N15 NotifyPeriodicEventStream): only a SEND this side receives gets a consumer; one
    without a consumer is dropped; a consumer's failure is logged, never answered (there is no answer)."""
    r = Router[str](Version.V21, CSMS)
    with pytest.raises(HandlerRegistrationError, match="not a SEND"):
        r.register_send(v21.messages.BootNotificationRequest, _never)
    caplog.set_level(logging.INFO, logger="chargeplane.ocpp.router")
    stream = v21.messages.NotifyPeriodicEventStream(id=1, pending=0, basetime="2026-12-07T08:00:00Z", data=[])
    await r.consume("NotifyPeriodicEventStream", stream, "CS1")  # no consumer yet: dropped
    assert "without a consumer" in caplog.text

    async def failing(message: v21.messages.NotifyPeriodicEventStream, station: str) -> None:
        raise RuntimeError("consumer broke")

    r.register_send(v21.messages.NotifyPeriodicEventStream, failing)
    assert r.consumed_sends == {"NotifyPeriodicEventStream"}  # the endpoint takes them as no unknown action
    assert "NotifyPeriodicEventStream" not in r.handled_actions  # never answered
    await r.consume("NotifyPeriodicEventStream", stream, "CS1")
    assert "consumer of NotifyPeriodicEventStream failed" in caplog.text


async def _never(message: Payload, station: str) -> None:  # pragma: no cover (never registered)
    raise AssertionError

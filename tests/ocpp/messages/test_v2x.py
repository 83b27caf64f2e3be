"""The generated namespace classes and chargeplane.ocpp.messages.v2x (typed code written once for 2.x)."""

from __future__ import annotations

import enum
import inspect
import typing
from types import ModuleType

import msgspec
import pytest

from chargeplane.ocpp.messages import registry_for, v2x, v16, v21, v201
from chargeplane.ocpp.messages.base import Payload, present, unset_if_none
from chargeplane.ocpp.versions import Version


def _generated(package: ModuleType) -> dict[str, type]:
    return {
        name: value
        for module in (package.enums, package.datatypes, package.messages)
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and value.__module__ == module.__name__
        and issubclass(value, Payload | enum.Enum)
    }


@pytest.mark.parametrize("package", [v16, v201, v21], ids=["v16", "v201", "v21"])
def test_namespace_holds_every_generated_type_under_its_name(package: ModuleType) -> None:
    types = _generated(package)
    held = {name: value for name, value in vars(package.Messages).items() if inspect.isclass(value)}
    assert held == types


def _shared_actions() -> list[str]:
    v201_actions, v21_actions = registry_for("2.0.1"), registry_for("2.1")
    return sorted(
        action
        for action in set(v201_actions) & set(v21_actions)
        if not v201_actions[action].is_send and not v21_actions[action].is_send
    )


def test_every_shared_action_has_its_typevar_and_unions() -> None:
    shared = _shared_actions()
    assert "TransactionEvent" in shared
    assert "NotifyPeriodicEventStream" not in shared  # 2.1 only, and a SEND message
    for action in shared:
        old, new = registry_for("2.0.1")[action], registry_for("2.1")[action]
        assert old.response is not None
        assert new.response is not None
        request = old.request.__name__
        type_var = getattr(v2x, f"{request}T")
        assert isinstance(type_var, typing.TypeVar)
        assert type_var.__constraints__ == (old.request, new.request)
        assert typing.get_args(getattr(v2x, request)) == (old.request, new.request)
        assert typing.get_args(getattr(v2x, old.response.__name__)) == (old.response, new.response)


def test_dialect_is_constrained_to_the_two_namespaces() -> None:
    assert v2x.Dialect.__constraints__ == (type[v201.Messages], type[v21.Messages])


@pytest.mark.parametrize(
    ("payload", "namespace"),
    [
        (v201.messages.HeartbeatRequest(), v201.Messages),
        (v21.messages.HeartbeatRequest(), v21.Messages),
        (
            v201.messages.ClearCacheResponse(status=v201.enums.ClearCacheStatusEnumType.ACCEPTED),
            v201.Messages,
        ),
        (v21.messages.ClearCacheResponse(status=v21.enums.ClearCacheStatusEnumType.ACCEPTED), v21.Messages),
        (v201.datatypes.EVSEType(id=1), v201.Messages),
        (v21.datatypes.EVSEType(id=1), v21.Messages),
        (
            v21.messages.NotifyPeriodicEventStream(id=1, pending=0, basetime="2024-01-01T00:00:00Z", data=[]),
            v21.Messages,
        ),
    ],
)
def test_dialect_of_gives_the_namespace_of_the_payloads_version(payload: Payload, namespace: type) -> None:
    assert v2x.dialect_of(payload) is namespace


def test_dialect_of_refuses_payloads_of_other_versions() -> None:
    class Foreign(Payload, frozen=True, kw_only=True):
        pass

    for payload in (v16.messages.HeartbeatRequest(), Foreign()):
        with pytest.raises(TypeError, match=r"not an OCPP 2\.0\.1 or 2\.1 payload"):
            v2x.dialect_of(payload)


def test_dialect_for_gives_the_namespace_of_a_2x_version() -> None:
    assert v2x.dialect_for(Version.V201) is v201.Messages
    assert v2x.dialect_for(Version.V21) is v21.Messages
    with pytest.raises(ValueError, match=r"not a 2\.x version"):
        v2x.dialect_for(Version.V16)


def test_namespace_builds_what_the_modules_build() -> None:
    ns = v2x.dialect_of(v21.messages.HeartbeatRequest())
    response = ns.HeartbeatResponse(current_time="2024-01-01T00:00:00Z")
    assert type(response) is v21.messages.HeartbeatResponse
    assert msgspec.json.encode(response) == b'{"currentTime":"2024-01-01T00:00:00Z"}'


def test_with_dialect_calls_the_builder_with_the_versions_namespace() -> None:
    def build(ns: v2x.Dialect) -> v2x.ClearCacheRequest:
        return ns.ClearCacheRequest()

    assert type(v2x.with_dialect(Version.V201, build)) is v201.messages.ClearCacheRequest
    assert type(v2x.with_dialect(Version.V21, build)) is v21.messages.ClearCacheRequest
    with pytest.raises(ValueError, match=r"not a 2\.x version"):
        v2x.with_dialect(Version.V16, build)


def test_unset_if_none_is_the_inverse_of_present() -> None:
    assert unset_if_none(None) is msgspec.UNSET
    assert unset_if_none(0) == 0
    assert present(unset_if_none("x")) == "x"

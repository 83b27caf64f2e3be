"""Typed dispatch: every CSMS handler has a return annotation the router resolves and checks at registration
(a handler written once for 2.0.1 and 2.1 returns the union of both responses)."""

from __future__ import annotations

import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chargeplane.csms.app import Csms
from chargeplane.ocpp.catalog import ActionCatalog
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.versions import Version
from tests.csms.conftest import settings_for


def test_every_csms_handler_is_registered_with_a_resolvable_return_annotation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registered: list[tuple[Version, type[Payload], Callable[..., Any]]] = []
    register = Router.register

    def spy(router: Router[Any], request_type: type[Payload], handler: Callable[..., Any]) -> None:
        registered.append((router.version, request_type, handler))
        register(router, request_type, handler)  # refuses a return annotation without the response

    monkeypatch.setattr(Router, "register", spy)
    app = Csms(settings_for(f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"))

    assert {version for version, _, _ in registered} == set(Version)
    for version, request_type, handler in registered:
        returned = typing.get_type_hints(handler).get("return")  # raises if unresolvable
        assert returned not in (None, Any), (version, request_type.__name__)
    # Written once: the 2.0.1 and 2.1 routers serve the same actions, and 2.1 those 2.0.1 does not have.
    only_21 = set(ActionCatalog.for_version(Version.V21).actions) - set(
        ActionCatalog.for_version(Version.V201).actions
    )
    handled_21 = app.routers[Version.V21].handled_actions
    assert app.routers[Version.V201].handled_actions == handled_21 - only_21

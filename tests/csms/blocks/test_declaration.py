"""Block declarations: install order from ``requires``, the per-block settings reader, the manual clock."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chargeplane.csms.blocks import discover
from chargeplane.csms.blocks.authorization.settings import AuthorizationSettings
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block, BlockOrderError, NoSettings, install_order
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
from chargeplane.csms.blocks.reservation.settings import ReservationSettings
from chargeplane.csms.bus.events import EventBus
from chargeplane.csms.clock import ManualClock
from chargeplane.csms.settings import (
    CsmsSettings,
    SettingsError,
    UnknownStationPolicy,
    UnknownTokenPolicy,
    from_environment,
    read_dataclass,
)


def _nothing(context: BlockContext, settings: NoSettings) -> None:
    pass


def block(name: str, *requires: str) -> Block[NoSettings]:
    return Block(name, NoSettings, _nothing, requires=requires)


def names(blocks: list[Block[Any]]) -> list[str]:
    return [b.name for b in blocks]


# -- install order ----------------------------------------------------------------------------------------


def test_requirements_come_first_and_the_order_is_otherwise_kept() -> None:
    given = [block("a", "c"), block("b"), block("c", "b"), block("d")]
    assert names(install_order(given)) == ["b", "c", "a", "d"]
    assert names(install_order([block("x"), block("y"), block("z")])) == ["x", "y", "z"]


def test_a_missing_requirement_is_named() -> None:
    with pytest.raises(BlockOrderError, match=r"'a' requires 'ghost': no such block"):
        install_order([block("a", "ghost")])


def test_a_cycle_is_named() -> None:
    with pytest.raises(BlockOrderError, match=r"cycle: b -> c -> b"):
        install_order([block("a", "b"), block("b", "c"), block("c", "b")])
    with pytest.raises(BlockOrderError, match="cycle: s -> s"):
        install_order([block("s", "s")])


def test_a_name_used_twice_is_refused() -> None:
    with pytest.raises(BlockOrderError, match="two blocks"):
        install_order([block("a"), block("a")])


def test_the_csms_blocks_install_after_what_they_require() -> None:
    found = discover()
    order = names(found)
    assert order[0] == "provisioning"
    assert set(order) >= {"authorization", "availability", "reservation", "transactions", "remote_control"}
    for each in found:
        assert all(order.index(r) < order.index(each.name) for r in each.requires), each.name


class _Service:
    pass


def _bare_context() -> BlockContext:
    """A context without storage or OCPP (only provide/require are used)."""
    return BlockContext(CsmsSettings(), None, EventBus(), None, {}, None, ManualClock())  # type: ignore[arg-type]


def test_a_block_may_require_only_the_services_of_the_blocks_it_declares() -> None:
    context = _bare_context()
    provider = Block("a", NoSettings, lambda c, s: c.provide(_Service()))
    context.install(provider, NoSettings())
    honest = Block("b", NoSettings, lambda c, s: c.require(_Service), requires=("a",))
    context.install(honest, NoSettings())
    sneaky = Block("c", NoSettings, lambda c, s: c.require(_Service))
    with pytest.raises(RuntimeError, match="block 'c' uses _Service of block 'a': add 'a' to its requires"):
        context.install(sneaky, NoSettings())


# -- settings ---------------------------------------------------------------------------------------------


class Mode(enum.Enum):
    FAST = "fast"
    SLOW = "slow"


@dataclass(frozen=True)
class Sample:
    count: int = 1
    ratio: float = 0.5
    name: str = "x"
    on: bool = False
    mode: Mode = Mode.SLOW
    limit: float | None = 2.0
    tags: tuple[str, ...] = ()
    sizes: tuple[int, ...] = ()
    pair: tuple[int, int] = (0, 0)


def test_the_reader_converts_by_field_type() -> None:
    environ = {
        "P_COUNT": "3",
        "P_RATIO": "1.5",
        "P_NAME": "y",
        "P_ON": "yes",
        "P_MODE": "fast",
        "P_LIMIT": "",
        "OTHER_COUNT": "9",
    }
    assert read_dataclass(Sample, environ, "P_") == Sample(3, 1.5, "y", True, Mode.FAST, None)
    assert read_dataclass(Sample, {"P_LIMIT": "7"}, "P_").limit == 7.0
    assert read_dataclass(Sample, {}, "P_", base=Sample(count=5)) == Sample(count=5)
    # Lists are comma-separated (CHARGEPLANE_OCPP_VERSIONS=2.0.1,1.6), each item by the item type.
    listed = read_dataclass(Sample, {"P_TAGS": "a,b", "P_SIZES": "1,2"}, "P_")
    assert (listed.tags, listed.sizes) == (("a", "b"), (1, 2))


@pytest.mark.parametrize(
    ("variable", "text"),
    [
        ("P_COUNT", "three"),
        ("P_RATIO", "x"),
        ("P_ON", "maybe"),
        ("P_MODE", "medium"),
        ("P_SIZES", "1,x"),
        ("P_PAIR", "1,2"),
    ],
)
def test_a_bad_value_names_the_variable(variable: str, text: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        read_dataclass(Sample, {variable: text}, "P_")


def test_block_settings_from_their_prefix_and_the_older_names() -> None:
    settings = from_environment(
        {
            "CHARGEPLANE_RESERVATION_CHECK_INTERVAL": "5",
            "CHARGEPLANE_HEARTBEAT_INTERVAL": "60",  # the name from before the block prefix
            "CHARGEPLANE_PROVISIONING_BOOT_RETRY_INTERVAL": "7",
            "CHARGEPLANE_UNKNOWN_STATIONS": "accept",
            "CHARGEPLANE_AUTHORIZATION_UNKNOWN_TOKENS": "accept",
            "CHARGEPLANE_MASTER_PASS_GROUP": "BOSSES",
            "CHARGEPLANE_API_PORT": "9090",
            "CHARGEPLANE_OCPP_CALL_TIMEOUT": "3.5",
        }
    )
    assert settings.block(ReservationSettings) == ReservationSettings(check_interval=5.0)
    provisioning = settings.block(ProvisioningSettings)
    assert (provisioning.heartbeat_interval, provisioning.boot_retry_interval) == (60, 7)
    assert provisioning.unknown_stations is UnknownStationPolicy.ACCEPT
    assert settings.block(AuthorizationSettings) == AuthorizationSettings(UnknownTokenPolicy.ACCEPT, "BOSSES")
    assert (settings.api_port, settings.ocpp.call_timeout) == (9090, 3.5)


def test_the_prefixed_name_wins_over_the_older_one() -> None:
    settings = from_environment(
        {"CHARGEPLANE_HEARTBEAT_INTERVAL": "60", "CHARGEPLANE_PROVISIONING_HEARTBEAT_INTERVAL": "90"}
    )
    assert settings.block(ProvisioningSettings).heartbeat_interval == 90


def test_given_block_settings_are_kept_and_replaced_by_type() -> None:
    base = CsmsSettings(blocks=(ReservationSettings(check_interval=1.0),))
    assert base.block(ReservationSettings).check_interval == 1.0
    assert base.block(ProvisioningSettings) == ProvisioningSettings()  # defaults when not given
    assert from_environment({}, base).block(ReservationSettings).check_interval == 1.0
    replaced = base.with_blocks(ReservationSettings(check_interval=2.0))
    assert replaced.blocks == (ReservationSettings(check_interval=2.0),)
    with pytest.raises(SettingsError, match="CHARGEPLANE_API_PORT"):
        from_environment({"CHARGEPLANE_API_PORT": "http"})


# -- clock ------------------------------------------------------------------------------------------------


def test_manual_clock_moves_only_when_told() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = ManualClock(start)
    assert clock.now() == start
    assert clock.advance(30) == start + timedelta(seconds=30)
    assert clock.advance(timedelta(minutes=1)) == start + timedelta(seconds=90)
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 1, 1))


def test_a_block_setting_given_as_a_global_override_is_refused_not_ignored() -> None:
    with pytest.raises(ValueError, match="unknown_tokens"):
        CsmsSettings().with_overrides({"unknown_tokens": "accept", "api_port": 1})
    assert CsmsSettings().with_overrides({"api_port": 1, "ocpp_port": 2}).ocpp.port == 2

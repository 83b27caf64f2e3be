"""HTTP routes of the desired configuration: a group's desired set (replace, read, clear), the drift of a
group's stations and of one station, and applying it to a station now."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import delete, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT, HTTP_404_NOT_FOUND

from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.routes import get_or_404, station_call
from chargeplane.csms.blocks.desired_configuration.repository import KEY16, Setting
from chargeplane.csms.blocks.desired_configuration.service import (
    STATES,
    DesiredConfigurationService,
    Drift,
    StationDrift,
    component_of,
    key16_setting,
    variable_of,
    variable_setting,
)
from chargeplane.csms.blocks.device_model import wire
from chargeplane.csms.blocks.provisioning.api import KnownStation

MAX_SETTINGS = 500  # per group and kind


class DesiredVariable(msgspec.Struct, rename="camel", forbid_unknown_fields=True, omit_defaults=True):
    """A 2.0.1 / 2.1 variable attribute and the value it must have."""

    component: wire.Component
    variable: wire.Variable
    value: Annotated[str, msgspec.Meta(max_length=1000)]
    attribute_type: wire.AttributeType = "Actual"


class DesiredKey(msgspec.Struct, forbid_unknown_fields=True):
    """A 1.6 configuration key and the value it must have."""

    key: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    value: Annotated[str, msgspec.Meta(max_length=500)]


class DesiredSet(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """What a group's stations must have: ``variables`` for 2.0.1 / 2.1 stations, ``keys16`` for 1.6 ones."""

    variables: Annotated[list[DesiredVariable], msgspec.Meta(max_length=MAX_SETTINGS)] = msgspec.field(
        default_factory=list
    )
    keys16: Annotated[list[DesiredKey], msgspec.Meta(max_length=MAX_SETTINGS)] = msgspec.field(
        default_factory=list
    )


class ApplyIn(msgspec.Struct, forbid_unknown_fields=True):
    force: bool = False  # write every desired value, without reading the station's values first


class ResultOut(msgspec.Struct, rename="camel"):
    value: str  # the value sent
    group: str
    status: str  # the station's answer, or Failed (no answer)
    detail: str | None
    applied_at: datetime


class DriftOut(msgspec.Struct, rename="camel"):
    kind: str  # variable | key16
    target: str  # the inventory's variable key, or the 1.6 key
    desired: str
    group: str  # the group whose value it is
    overridden: list[str]  # groups of lower priority that ask another value
    known: str | None  # the last known value
    known_at: datetime | None
    state: str  # in_sync | drifted | pending | rejected | unknown
    last_result: ResultOut | None


class StationDriftOut(msgspec.Struct, rename="camel"):
    station_id: str
    connected_version: str | None
    states: dict[str, int]
    entries: list[DriftOut]


class GroupDriftOut(msgspec.Struct, rename="camel"):
    group: str
    states: dict[str, int]  # over every member and target this group decides
    stations: list[StationDriftOut]


def _desired_set(settings: list[Setting]) -> DesiredSet:
    variables = []
    keys = []
    for s in settings:
        if s.kind == KEY16:
            keys.append(DesiredKey(s.target, s.value))
        else:
            variables.append(
                DesiredVariable(component_of(s), variable_of(s), s.value, s.attribute_type or "Actual")
            )
    return DesiredSet(variables, keys)


def _drift_out(entry: Drift) -> DriftOut:
    result = entry.result
    last = (
        None
        if result is None
        else ResultOut(result.value, result.group_name, result.status, result.detail, result.applied_at)
    )
    return DriftOut(
        entry.kind,
        entry.target,
        entry.desired,
        entry.group,
        list(entry.overridden),
        entry.known,
        entry.known_at,
        entry.state,
        last,
    )


def _station_out(drift: StationDrift) -> StationDriftOut:
    return StationDriftOut(
        drift.station_id, drift.version, drift.counts(), [_drift_out(e) for e in drift.entries]
    )


def routes(service: DesiredConfigurationService) -> list[Any]:
    @get_or_404("/groups/{name:str}/desired-configuration", summary="A group's desired configuration")
    async def get_desired(name: FromPath[str]) -> DesiredSet:
        """The variables (2.0.1 / 2.1) and 1.6 keys the group's stations must have."""
        return _desired_set(await service.desired(name))

    @put(
        "/groups/{name:str}/desired-configuration",
        summary="Replace a group's desired configuration",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def put_desired(name: FromPath[str], data: JSONBody[DesiredSet]) -> DesiredSet:
        """Replaces the whole set (400 when a target is given twice). The connected members get it at once (in
        the background), the others after their next accepted boot: SetVariables on 2.0.1 / 2.1,
        ChangeConfiguration on 1.6, only for the values that differ. When a station's groups ask different
        values, the group of highest priority wins (equal priorities: the name that sorts first)."""
        settings = [
            variable_setting(v.component, v.variable, v.attribute_type, v.value) for v in data.variables
        ] + [key16_setting(k.key, k.value) for k in data.keys16]
        return _desired_set(await service.set_desired(name, settings))

    @delete(
        "/groups/{name:str}/desired-configuration",
        status_code=HTTP_204_NO_CONTENT,
        summary="Clear a group's desired configuration",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def clear_desired(name: FromPath[str]) -> None:
        """The stations keep the values they have; the CSMS stops asking for them."""
        await service.set_desired(name, [])

    @get_or_404(
        "/groups/{name:str}/drift", summary="Where a group's stations stand against its desired configuration"
    )
    async def group_drift(name: FromPath[str]) -> GroupDriftOut:
        """Per member, the targets whose value this group decides (not those a group of higher priority
        overrides), with their state: in_sync, drifted, pending, rejected, unknown."""
        drifts = await service.group_drift(name)
        stations = [_station_out(d) for d in drifts]
        totals = dict.fromkeys(STATES, 0)
        for station in stations:
            for state, count in station.states.items():
                totals[state] += count
        return GroupDriftOut((await service.groups.get(name)).name, totals, stations)

    @get_or_404(
        "/stations/{station_id:str}/desired-configuration",
        summary="A station's desired configuration and its drift",
    )
    async def station_drift(known_station: KnownStation) -> StationDriftOut:
        """Every target its groups decide (conflicts settled), with the last known value, the station's last
        answer and the state."""
        return _station_out(await service.drift(known_station.station_id))

    @station_call(
        "/stations/{station_id:str}/desired-configuration/apply",
        summary="Apply a station's desired configuration now",
    )
    async def apply(known_station: KnownStation, data: JSONBody[ApplyIn]) -> StationDriftOut:
        """Reads the station's values and writes those that differ (``force``: writes them all); answers with the
        drift afterwards (409 when the station is offline)."""
        return _station_out(await service.apply(known_station.station_id, data.force))

    return [get_desired, put_desired, clear_desired, group_drift, station_drift, apply]

"""Desired configuration for station groups: the operator states the values a group's stations must have; the
CSMS applies them and shows, per station and per group, where the stations stand (drift).

When: after every accepted boot of a member station (the provisioning block's accepted-boot listener), when a
station joins a group or a group's priority changes, when a group's desired set changes (its connected members),
and on the operator's request. How: the values are read
first (GetVariables on 2.0.1 / 2.1 through the device model, which keeps them in its inventory; GetConfiguration
on 1.6) and only those that differ are written (SetVariables; ChangeConfiguration, one key per call); every
answer is recorded per station and target.

Conflicts: a station in several groups that ask different values for the same target gets the value of the
group with the highest ``priority``; between equal priorities, of the group whose name sorts first
(casefolded). The drift view names the winning group and the groups it overrode.

Drift states, per station and target (``state``), from the last known value and the last answer to the current
desired value:

* ``rejected``: the station refused the current value (Rejected, UnknownComponent, UnknownVariable,
  NotSupportedAttributeType; 1.6 Rejected, NotSupported);
* ``in_sync``: the last known value is the desired one;
* ``pending``: not applied yet (station offline, no answer, a new value) or taken with RebootRequired and not
  known to be active yet;
* ``unknown``: applied (Accepted) but no value is known (a WriteOnly variable is never read back);
* ``drifted``: the station took it once, but its last known value differs (changed since, locally or by
  another request).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from chargeplane.csms.blocks.desired_configuration.repository import (
    KEY16,
    VARIABLE,
    DesiredRepository,
    Result,
    Setting,
)
from chargeplane.csms.blocks.device_model import wire
from chargeplane.csms.blocks.device_model.service import DeviceModelService
from chargeplane.csms.blocks.groups.service import GroupChange, StationGroupService
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.bus.commands import StationOffline
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Busy, Conflict, Invalid, Unsendable
from chargeplane.csms.queues import with_queued
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import CallError

log = logging.getLogger(__name__)

IN_SYNC, DRIFTED, PENDING, REJECTED, UNKNOWN = "in_sync", "drifted", "pending", "rejected", "unknown"
STATES = (IN_SYNC, DRIFTED, PENDING, REJECTED, UNKNOWN)
FAILED = "Failed"  # no answer from the station
_REFUSALS = frozenset(
    {"Rejected", "UnknownComponent", "UnknownVariable", "NotSupportedAttributeType", "NotSupported"}
)
_TAKEN = frozenset({"Accepted", "RebootRequired"})
_BATCH = 500  # queued stations whose groups are read together
_CHUNK = 20  # items per Get/SetVariables and keys per GetConfiguration: within what stations commonly take
_SEND_ERRORS = (StationOffline, CallError, Conflict, Busy, Unsendable)


@dataclass(frozen=True, slots=True)
class Effective:
    """The value a station must have for one target, the group it comes from and the groups it overrides."""

    setting: Setting
    group: str
    overridden: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Drift:
    kind: str
    target: str
    desired: str
    group: str
    overridden: tuple[str, ...]
    known: str | None
    known_at: datetime | None
    state: str
    result: Result | None  # the last answer about this target (maybe to an earlier value)


@dataclass(frozen=True, slots=True)
class StationDrift:
    station_id: str
    version: str | None  # the connected station's OCPP version, None when offline
    entries: list[Drift]

    def counts(self) -> dict[str, int]:
        counted = dict.fromkeys(STATES, 0)
        for entry in self.entries:
            counted[entry.state] += 1
        return counted


@dataclass
class _Queue:
    waiting: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    queued: set[str] = field(default_factory=set)


def state_of(desired: str, known: str | None, result: Result | None) -> str:
    """The drift state of one target (see the module's docstring)."""
    current = result if result is not None and result.value == desired else None
    if current is not None and current.status in _REFUSALS:
        return REJECTED
    if known is not None and known == desired:
        return IN_SYNC
    if current is None or current.status not in _TAKEN or current.status == "RebootRequired":
        return PENDING
    return UNKNOWN if known is None else DRIFTED


class _GetConfigurationAnswer(msgspec.Struct, rename="camel"):
    class Key(msgspec.Struct):
        key: str
        readonly: bool
        value: str | None = None

    configuration_key: list[Key] = msgspec.field(default_factory=list)
    unknown_key: list[str] = msgspec.field(default_factory=list)


class DesiredConfigurationService:
    def __init__(
        self,
        repository: DesiredRepository,
        groups: StationGroupService,
        device_model: DeviceModelService,
        commands: CommandService,
        events: EventBus,
        clock: Clock,
    ) -> None:
        self.repository = repository
        self.groups = groups
        self.device_model = device_model
        self.commands = commands
        self.events = events
        self.clock = clock
        self._queue = _Queue()
        self._locks: dict[str, asyncio.Lock] = {}
        groups.add_listener(self._group_changed)

    # -- the desired sets -----------------------------------------------------------------------------------

    async def set_desired(self, group: str, settings: Sequence[Setting]) -> list[Setting]:
        """Replace a group's desired set; its connected members get it applied (in the background)."""
        record = await self.groups.get(group)
        seen: set[tuple[str, str]] = set()
        for setting in settings:
            if (setting.kind, setting.target) in seen:
                raise Invalid(f"{setting.target} is given twice")
            seen.add((setting.kind, setting.target))
        await self.repository.replace(record.name, settings, self.clock.now())
        for station_id in await self.groups.members(record.name):
            self.schedule(station_id)
        return await self.desired(record.name)

    async def desired(self, group: str) -> list[Setting]:
        record = await self.groups.get(group)
        return (await self.repository.settings([record.name]))[record.name.casefold()]

    async def _group_changed(self, change: GroupChange) -> None:
        if change.kind == "deleted":
            await self.repository.replace(change.group, [], self.clock.now())
        elif change.kind in ("joined", "reprioritised"):
            for station_id in change.station_ids:
                self.schedule(station_id)

    async def effective(self, station_id: str, groups: list[str] | None = None) -> list[Effective]:
        """What the station's groups ask of it, conflicts settled (the module's docstring); ``groups``: the
        names of the station's groups as just read, in their order (else read here)."""
        if groups is None:  # highest priority first, then by name
            groups = [group.name for group in await self.groups.groups_of(station_id)]
        if not groups:
            return []
        settings = await self.repository.settings(groups)
        chosen: dict[tuple[str, str], Effective] = {}
        for group in groups:
            for setting in settings[group.casefold()]:
                key = (setting.kind, setting.target)
                winner = chosen.get(key)
                if winner is None:
                    chosen[key] = Effective(setting, group)
                elif winner.setting.value != setting.value:
                    chosen[key] = Effective(winner.setting, winner.group, (*winner.overridden, group))
        return [chosen[key] for key in sorted(chosen)]

    # -- drift ----------------------------------------------------------------------------------------------

    async def drift(self, station_id: str) -> StationDrift:
        effective = await self.effective(station_id)
        results = await self.repository.results(station_id)
        known = await self.device_model.values(
            station_id, [e.setting.target for e in effective if e.setting.kind == VARIABLE]
        )
        known.update(
            await self.repository.known16(station_id)
            if any(e.setting.kind == KEY16 for e in effective)
            else {}
        )
        entries = []
        for item in effective:
            setting = item.setting
            value, at = known.get(setting.target, (None, None))
            result = results.get((setting.kind, setting.target))
            entries.append(
                Drift(
                    kind=setting.kind,
                    target=setting.target,
                    desired=setting.value,
                    group=item.group,
                    overridden=item.overridden,
                    known=value,
                    known_at=at,
                    state=state_of(setting.value, value, result),
                    result=result,
                )
            )
        version = self.commands.version_of(station_id)
        return StationDrift(station_id, version.value if version else None, entries)

    async def group_drift(self, group: str) -> list[StationDrift]:
        """Every member's drift, limited to the targets this group's value decides."""
        record = await self.groups.get(group)
        drifts = []
        for station_id in await self.groups.members(record.name):
            drift = await self.drift(station_id)
            own = [e for e in drift.entries if e.group == record.name]
            drifts.append(StationDrift(drift.station_id, drift.version, own))
        return drifts

    # -- applying -------------------------------------------------------------------------------------------

    def schedule(self, station_id: str) -> None:
        """Apply to ``station_id`` in the background (once, however often asked before it is done); a station
        that is not connected is left for its next accepted boot."""
        if self.commands.version_of(station_id) is None or station_id in self._queue.queued:
            return
        self._queue.queued.add(station_id)
        self._queue.waiting.put_nowait(station_id)

    async def settle(self) -> None:
        """Wait until every scheduled application is done (tests, shutdown)."""
        await self._queue.waiting.join()

    async def work(self) -> None:
        """The background job: one application at a time, in the order they were asked for. The stations
        queued meanwhile (a storm's accepted boots) have their groups read together: a station in no group
        costs nothing more (issue #19)."""
        waiting = self._queue.waiting
        while True:
            batch = with_queued(await waiting.get(), waiting, _BATCH)
            self._queue.queued.difference_update(batch)
            try:
                groups: dict[str, list[str]] | None = await self.groups.group_names_of(batch)
            except Exception:
                log.exception("reading the groups of %d stations failed", len(batch))
                groups = None  # each station reads its own
            for station_id in batch:
                try:
                    await self._apply(
                        station_id, groups=None if groups is None else groups[station_id.casefold()]
                    )
                except StationOffline:  # gone before its turn: its next accepted boot schedules it again
                    log.info("%s: offline before its desired configuration was applied", station_id)
                except Exception:
                    log.exception("%s: applying the desired configuration failed", station_id)
                finally:
                    waiting.task_done()

    async def apply(self, station_id: str, force: bool = False) -> StationDrift:
        """Read the station's values of its desired targets and write those that differ (``force``: write them
        all, unread); record the answers. Raises :class:`StationOffline` when it is not connected."""
        await self._apply(station_id, force)
        return await self.drift(station_id)

    async def _apply(self, station_id: str, force: bool = False, groups: list[str] | None = None) -> None:
        """:meth:`apply` without the drift report (the background job after a boot discards it). A station
        none of whose groups wants anything of its kind costs one read, not a round of CALLs and reads;
        ``groups``: the station's groups as just read (else read here)."""
        version = self.commands.version_of(station_id)
        if version is None:
            raise StationOffline(station_id)
        lock = self._locks.setdefault(station_id.casefold(), asyncio.Lock())
        async with lock:
            effective = await self.effective(station_id, groups)
            kind = KEY16 if version is Version.V16 else VARIABLE
            wanted = [e for e in effective if e.setting.kind == kind]
            if wanted and version is Version.V16:
                await self._apply16(station_id, wanted, force)
            elif wanted:
                await self._apply2x(station_id, wanted, force)
        self.events.publish(StationEvent("desired_configuration.applied", station_id, {}))

    async def _per_message(self, station_id: str) -> tuple[int, int]:
        """How many items a Get / SetVariables may carry: ItemsPerMessageGet/SetVariables when the inventory
        knows them (B06.FR.05: a CSMS sends no more), at most :data:`_CHUNK`."""
        keys = [
            f"DeviceDataCtrlr/ItemsPerMessage[{kind}]:Actual" for kind in ("GetVariables", "SetVariables")
        ]
        known = await self.device_model.values(station_id, keys)
        sizes = []
        for key in keys:
            value = known.get(key, (None, None))[0]
            sizes.append(
                min(_CHUNK, int(value))
                if value is not None and value.isdigit() and int(value) > 0
                else _CHUNK
            )
        return sizes[0], sizes[1]

    async def _apply2x(self, station_id: str, wanted: list[Effective], force: bool) -> None:
        now = self.clock.now()
        known: dict[str, str | None] = {}
        get_size, set_size = await self._per_message(station_id)
        try:
            for chunk in [] if force else _chunks(wanted, get_size):
                results = await self.device_model.get_variables(
                    station_id, [_get_data(e.setting) for e in chunk]
                )
                for result in results:
                    if result.attribute_status == "Accepted":
                        ref = wire.ref_of(result.component, result.variable, result.attribute_type)
                        known[ref.key()] = result.attribute_value
        except _SEND_ERRORS as error:
            await self._failed(station_id, VARIABLE, wanted, error)
            return
        differing = [e for e in wanted if known.get(e.setting.target) != e.setting.value]
        for index, chunk in enumerate(_chunks(differing, set_size)):
            try:
                answered = await self.device_model.set_variables(
                    station_id, [_set_data(e.setting) for e in chunk]
                )
            except _SEND_ERRORS as error:
                await self._failed(station_id, VARIABLE, differing[index * set_size :], error)
                return
            answers = {wire.ref_of(r.component, r.variable, r.attribute_type).key(): r for r in answered}
            recorded = []
            for item in chunk:
                answer = answers.get(item.setting.target)
                status = answer.attribute_status if answer is not None else FAILED
                info = answer.attribute_status_info if answer is not None else None
                detail = (
                    info.reason_code + (f": {info.additional_info}" if info.additional_info else "")
                    if info is not None
                    else None
                    if answer is not None
                    else "the station gave no result for it"
                )
                recorded.append(_result(item, status, detail, now))
            await self.repository.record(station_id, recorded)

    async def _apply16(self, station_id: str, wanted: list[Effective], force: bool) -> None:
        now = self.clock.now()
        read: dict[str, str | None] = {}
        try:
            for chunk in [] if force else _chunks(wanted):
                payload = {"key": [e.setting.target for e in chunk]}
                sent = await self.commands.send_action(
                    station_id, "GetConfiguration", msgspec.json.encode(payload)
                )
                answer = msgspec.convert(msgspec.to_builtins(sent.response), _GetConfigurationAnswer)
                read.update({k.key: k.value for k in answer.configuration_key})
                read.update(dict.fromkeys(answer.unknown_key))
        except _SEND_ERRORS as error:
            await self._failed(station_id, KEY16, wanted, error)
            return
        await self.repository.store_known16(station_id, list(read.items()), now)
        for item in wanted:
            setting = item.setting
            if not force and read.get(setting.target) == setting.value:
                continue
            change = {"key": setting.target, "value": setting.value}
            try:
                sent = await self.commands.send_action(
                    station_id, "ChangeConfiguration", msgspec.json.encode(change)
                )
            except _SEND_ERRORS as error:
                await self._failed(station_id, KEY16, [item], error)
                continue
            status = wire.read(sent.response, wire.StatusAnswer).status
            await self.repository.record(station_id, [_result(item, status, None, now)])
            if status in _TAKEN:
                await self.repository.store_known16(station_id, [(setting.target, setting.value)], now)

    async def _failed(self, station_id: str, kind: str, items: list[Effective], error: Exception) -> None:
        log.info("%s: desired configuration not applied: %s", station_id, error)
        now = self.clock.now()
        detail = f"{type(error).__name__}: {error}"
        await self.repository.record(station_id, [_result(e, FAILED, detail, now) for e in items])


def _chunks(items: list[Effective], size: int = _CHUNK) -> list[list[Effective]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _result(item: Effective, status: str, detail: str | None, now: datetime) -> Result:
    setting = item.setting
    return Result(setting.kind, setting.target, setting.value, item.group, status, detail, now)


def component_of(setting: Setting) -> wire.Component:
    evse = None if setting.evse_id is None else wire.Evse(setting.evse_id, setting.connector_id)
    return wire.Component(setting.component or "", setting.component_instance, evse)


def variable_of(setting: Setting) -> wire.Variable:
    return wire.Variable(setting.variable or "", setting.variable_instance)


def _get_data(setting: Setting) -> wire.GetVariableData:
    return wire.GetVariableData(
        component_of(setting), variable_of(setting), setting.attribute_type or "Actual"
    )


def _set_data(setting: Setting) -> wire.SetVariableData:
    return wire.SetVariableData(
        component_of(setting), variable_of(setting), setting.value, setting.attribute_type or "Actual"
    )


def variable_setting(
    component: wire.Component, variable: wire.Variable, attribute_type: str, value: str
) -> Setting:
    evse = component.evse
    return Setting(
        kind=VARIABLE,
        target=wire.ref_of(component, variable, attribute_type).key(),
        value=value,
        component=component.name,
        component_instance=component.instance,
        evse_id=evse.id if evse is not None else None,
        connector_id=evse.connector_id if evse is not None else None,
        variable=variable.name,
        variable_instance=variable.instance,
        attribute_type=attribute_type,
    )


def key16_setting(key: str, value: str) -> Setting:
    return Setting(kind=KEY16, target=key, value=value)

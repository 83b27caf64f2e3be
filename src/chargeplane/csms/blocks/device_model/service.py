"""The device model on the CSMS side (B05-B08): report requests and the reports that answer them, Get/Set
Variables from the operator, and the inventory they build per station with the history of every value.

Requests go through the :class:`CommandService` (validated against the station's version, logged); a
station's NotifyReport parts are written before they are answered, whatever the order in which the request's
answer and the first part arrive.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

import msgspec

from chargeplane.csms.blocks.device_model import wire
from chargeplane.csms.blocks.device_model.repository import (
    COMPLETE,
    FAILED,
    GET,
    REFUSED,
    SET,
    ChangeRecord,
    DeviceModelRepository,
    ReportRecord,
    VariableFilter,
    VariableRecord,
)
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Invalid

# A value the station took: stored as the attribute's value (RebootRequired: taken, active after a reboot).
_SET_TAKEN = frozenset({"Accepted", "RebootRequired"})


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """A GetBaseReport (``report_base``) or a GetReport (criteria and/or component variables)."""

    report_base: str | None = None
    component_criteria: tuple[str, ...] = ()
    component_variables: tuple[wire.ComponentVariable, ...] = ()


class DeviceModelService:
    def __init__(
        self, repository: DeviceModelRepository, commands: CommandService, events: EventBus, clock: Clock
    ) -> None:
        self.repository = repository
        self.commands = commands
        self.events = events
        self.clock = clock

    # -- reports (B07, B08) ---------------------------------------------------------------------------------

    async def request_report(self, station_id: str, request: ReportRequest) -> ReportRecord:
        """Send GetBaseReport or GetReport with a new requestId; the report record tells what came of it."""
        station_id = await self._station_2x(station_id)
        await self._within_items_per_message(station_id, len(request.component_variables))
        request_id = await self._new_request_id(station_id)
        payload: dict[str, object] = {"requestId": request_id}
        if request.report_base is not None:
            action, kind = "GetBaseReport", "base"
            payload["reportBase"] = request.report_base
            criteria = None
        else:
            action, kind = "GetReport", "custom"
            if request.component_criteria:
                payload["componentCriteria"] = list(request.component_criteria)
            if request.component_variables:
                payload["componentVariable"] = msgspec.to_builtins(list(request.component_variables))
            criteria = msgspec.json.encode({k: v for k, v in payload.items() if k != "requestId"}).decode()
        await self.repository.add_report(
            station_id, request_id, kind, request.report_base, criteria, self.clock.now()
        )
        try:
            sent = await self.commands.send_action(station_id, action, msgspec.json.encode(payload))
        except Exception:
            await self.repository.report_answered(station_id, request_id, None, FAILED, self.clock.now())
            raise
        status = wire.read(sent.response, wire.StatusAnswer).status
        # EmptyResultSet (B08.FR.08): nothing matches, no NotifyReport follows: the report is complete.
        outcome = None if status == "Accepted" else COMPLETE if status == "EmptyResultSet" else REFUSED
        await self.repository.report_answered(station_id, request_id, status, outcome, self.clock.now())
        record = await self.repository.report(station_id, request_id)
        assert record is not None
        return record

    async def report_part(self, station_id: str, part: wire.NotifyReport) -> None:
        """One NotifyReport (B07.FR.*, B08.FR.*): stored before it is answered."""
        items = [a for data in part.report_data for a in wire.reported_attributes(data)]
        record = await self.repository.add_part(
            station_id, part.request_id, part.tbc, items, self.clock.now()
        )
        if record.status == COMPLETE:
            self.events.publish(
                StationEvent(
                    "device_model.report_complete",
                    station_id,
                    {"requestId": record.request_id, "parts": record.parts, "items": record.item_count},
                )
            )

    async def reports(self, station_id: str, offset: int, limit: int) -> tuple[list[ReportRecord], int]:
        return await self.repository.reports(station_id, offset, limit)

    async def report(self, station_id: str, request_id: int) -> ReportRecord | None:
        return await self.repository.report(station_id, request_id)

    # -- variables (B05, B06) -------------------------------------------------------------------------------

    async def get_variables(
        self, station_id: str, items: list[wire.GetVariableData]
    ) -> list[wire.GetVariableResult]:
        """GetVariables; the values the station returned Accepted are stored (source ``get``)."""
        station_id = await self._station_2x(station_id)
        payload = {"getVariableData": msgspec.to_builtins(items)}
        sent = await self.commands.send_action(station_id, "GetVariables", msgspec.json.encode(payload))
        results = wire.read(sent.response, wire.GetVariablesAnswer).get_variable_result
        values = [
            (wire.ref_of(r.component, r.variable, r.attribute_type), r.attribute_value)
            for r in results
            if r.attribute_status == "Accepted"
        ]
        await self.repository.store_values(station_id, values, GET, self.clock.now())
        return results

    async def set_variables(
        self, station_id: str, items: list[wire.SetVariableData]
    ) -> list[wire.SetVariableResult]:
        """SetVariables; a value the station took (Accepted, RebootRequired) is stored (source ``set``)."""
        station_id = await self._station_2x(station_id)
        payload = {"setVariableData": msgspec.to_builtins(items)}
        sent = await self.commands.send_action(station_id, "SetVariables", msgspec.json.encode(payload))
        results = wire.read(sent.response, wire.SetVariablesAnswer).set_variable_result
        asked = {
            wire.ref_of(i.component, i.variable, i.attribute_type).key(): i.attribute_value for i in items
        }
        values = []
        for result in results:
            ref = wire.ref_of(result.component, result.variable, result.attribute_type)
            if result.attribute_status in _SET_TAKEN and ref.key() in asked:
                values.append((ref, asked[ref.key()]))
        await self.repository.store_values(station_id, values, SET, self.clock.now())
        return results

    async def values(self, station_id: str, keys: list[str]) -> dict[str, tuple[str | None, datetime]]:
        """The last known value of each attribute of ``keys`` (:meth:`VariableRef.key`) the inventory holds,
        with when it was learnt (from a report, a GetVariables or an accepted SetVariables)."""
        return await self.repository.values(station_id, keys)

    async def variables(
        self, station_id: str, where: VariableFilter, offset: int, limit: int
    ) -> tuple[list[VariableRecord], int]:
        return await self.repository.variables(station_id, where, offset, limit)

    async def changes(
        self, station_id: str, key: str | None, offset: int, limit: int
    ) -> tuple[list[ChangeRecord], int]:
        """Value changes, newest first; ``key`` (:meth:`VariableRef.key`) narrows them to one attribute."""
        return await self.repository.changes(station_id, key, offset, limit)

    # -- helpers --------------------------------------------------------------------------------------------

    async def _station_2x(self, station_id: str) -> str:
        """1.6 has no device model: its configuration keys are read with GetConfiguration / ChangeConfiguration
        through /stations/{id}/commands."""
        return await self.commands.station_2x(
            station_id, "device model (use GetConfiguration / ChangeConfiguration)"
        )

    async def _within_items_per_message(self, station_id: str, count: int) -> None:
        """B08.FR.06: no more componentVariables than the station's ItemsPerMessageGetReport, when the inventory
        knows it (400 otherwise)."""
        key = "DeviceDataCtrlr/ItemsPerMessage[GetReport]:Actual"
        value = (await self.repository.values(station_id, [key])).get(key, (None, None))[0]
        if count and value is not None and value.isdigit() and count > int(value):
            raise Invalid(f"{count} componentVariable, the station takes {value} (ItemsPerMessageGetReport)")

    async def _new_request_id(self, station_id: str) -> int:
        used = await self.repository.used_request_ids(station_id)
        while True:
            candidate = random.randrange(1, 2**31)  # an id, not a secret
            if candidate not in used:
                return candidate

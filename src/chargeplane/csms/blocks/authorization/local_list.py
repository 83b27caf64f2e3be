"""Local authorization lists (D01, D02; 1.6 SendLocalList / GetLocalListVersion).

Theory of operation
-------------------
The CSMS keeps, per station, the list version and the entries the station last *accepted*
(``local_lists`` / ``local_list_entries``). The wanted list is computed from the token store (tokens with
``local_list`` set; NoAuthorization and Central tokens never go in, C02.FR.03 / C05.FR.02), limited to what
the station's version can carry (1.6: idTag <= 20 characters and one entry per value, since 1.6 has no
types; 2.0.1: idToken <= 36 characters and the 2.0.1 IdTokenEnumType values).

* **Full** sends the whole wanted list. **Differential** first reads the station's version
  (GetLocalListVersion, D02); when it differs from the recorded one the list on the station is not what the
  CSMS believes, and a Full update is sent instead. Otherwise only new or changed entries (with
  idTokenInfo, D01.FR.16) and removed ones (without idTokenInfo, D01.FR.17) are sent.
* **Limits** (D01.FR.11): 2.x reads ``LocalAuthListCtrlr.ItemsPerMessage`` and ``BytesPerMessage`` with
  GetVariables, 1.6 reads ``SendLocalListMaxLength`` with GetConfiguration. A limit the station does not
  report is taken as "no limit".
* **Splitting** (D01.FR.03, D01.FR.15 note): a list too large for one message is sent as one Full message
  with the first part, then Differential messages with the rest, each with the next version number
  (recorded version + 1, + 2, ...). A differential update is split the same way.
* Each message's result is recorded only once the station answered ``Accepted`` (so the record never runs
  ahead of the station). ``Failed`` / ``VersionMismatch`` on a Differential message starts over with a Full
  update (D01.FR.03), once. A failed Full update, or a call that got no answer, leaves the station's list
  unknown: the record is dropped so that the next synchronisation sends Full.
* Synchronisations of one station are serialised.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import msgspec

from chargeplane.csms.blocks.authorization.repository import (
    AuthorizationRepository,
    ListEntry,
    ListState,
    TokenRecord,
    token_key,
)
from chargeplane.csms.blocks.authorization.service import (
    NO_AUTHORIZATION,
    TokenDecision,
    decide,
    id_tag_info,
    id_token_info,
)
from chargeplane.csms.blocks.authorization.settings import AuthorizationSettings
from chargeplane.csms.bus.commands import CommandRouter, StationOffline
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.ocpp.messages import v2x, v16, v21, v201
from chargeplane.ocpp.messages.base import Payload, present
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import CallError

log = logging.getLogger(__name__)

EXCLUDED_TYPES = (NO_AUTHORIZATION, "Central")
_V201_TYPES = frozenset(t.value for t in v201.enums.IdTokenEnumType)
_MAX_TOKEN_LENGTH = {Version.V16: 20, Version.V201: 36, Version.V21: 255}
# Bytes of a CALL frame around the payload: [2,"<message id up to 36>","SendLocalList",{...}]
_FRAME_OVERHEAD = 64

AuthorizationData = (
    v16.datatypes.AuthorizationData | v201.datatypes.AuthorizationData | v21.datatypes.AuthorizationData
)
P = TypeVar("P", bound=Payload)

__all__ = ["ListLimits", "LocalListService", "SentMessage", "StationOffline", "SyncResult"]


@dataclass(frozen=True, slots=True)
class ListLimits:
    items: int | None = None  # entries per SendLocalList (2.x ItemsPerMessage, 1.6 SendLocalListMaxLength)
    bytes: int | None = None  # bytes per message (2.x BytesPerMessage)


@dataclass(slots=True)
class SentMessage:
    update_type: str
    version_number: int
    entries: int  # of which ``removals`` without idTokenInfo
    removals: int
    status: str  # the station's answer, or the error that stopped the synchronisation


@dataclass(slots=True)
class SyncResult:
    station_id: str
    requested: str  # Full | Differential
    limits: ListLimits
    messages: list[SentMessage] = field(default_factory=list)
    station_version_before: int | None = None  # from GetLocalListVersion (Differential only)
    version: int | None = None  # on record afterwards; None: unknown (next sync sends Full)
    completed: bool = False  # the record and the station's list now match the token store


@dataclass(frozen=True, slots=True)
class _Item:
    entry: ListEntry
    wire: AuthorizationData  # of the station's version
    size: int
    removal: bool


class LocalListService:
    def __init__(
        self,
        repository: AuthorizationRepository,
        settings: AuthorizationSettings,
        events: EventBus,
        commands: CommandRouter,
        clock: Clock,
    ) -> None:
        self.repository = repository
        self.settings = settings
        self.events = events
        self.commands = commands
        self.clock = clock
        self._locks: dict[str, asyncio.Lock] = {}

    async def summary(self, station_id: str) -> tuple[int, int, datetime] | None:
        """The list on record for the station: (version, entry count, updated at), or ``None``."""
        return await self.repository.list_summary(station_id)

    async def entries(self, station_id: str) -> list[ListEntry]:
        """The entries of the list the station last accepted, by token (none: no list on record)."""
        state = await self.repository.list_state(station_id)
        if state is None:
            return []
        return sorted(state.entries.values(), key=lambda entry: (entry.token_key, entry.type))

    async def holds(self, station_id: str, id_token: str, token_type: str) -> bool:
        """Whether the list the station last accepted holds this token (N10.FR.02's precondition)."""
        state = await self.repository.list_state(station_id)
        return state is not None and (token_key(id_token), token_type) in state.entries

    # -- reading the station ----------------------------------------------------------------------------

    async def station_version(self, station_id: str) -> int:
        """D02: the version of the list the station holds (0: none). Raises StationOffline / CallError."""
        version = self._version(station_id)
        if version is Version.V16:
            answer = await self.commands.call(station_id, v16.messages.GetLocalListVersionRequest())
            assert isinstance(answer, v16.messages.GetLocalListVersionResponse)
            return answer.list_version

        def request(ns: v2x.Dialect) -> v2x.GetLocalListVersionRequest:
            return ns.GetLocalListVersionRequest()

        reply = await self.commands.call(station_id, v2x.with_dialect(version, request))
        assert isinstance(reply, v2x.GetLocalListVersionResponse)
        return int(reply.version_number)

    async def limits(self, station_id: str) -> ListLimits:
        """D01.FR.11: the station's limits for one SendLocalList; unknown limits are None."""
        version = self._version(station_id)
        try:
            if version is Version.V16:
                return await self._v16_limits(station_id)
            return await self._v2x_limits(station_id, version)
        except CallError as error:  # the station does not support the query: no known limit
            log.info("%s: cannot read local list limits (%s)", station_id, error)
            return ListLimits()

    async def _v16_limits(self, station_id: str) -> ListLimits:
        answer = await self.commands.call(
            station_id, v16.messages.GetConfigurationRequest(key=["SendLocalListMaxLength"])
        )
        assert isinstance(answer, v16.messages.GetConfigurationResponse)
        for item in present(answer.configuration_key) or []:
            if item.key == "SendLocalListMaxLength":
                return ListLimits(items=_positive(present(item.value)))
        return ListLimits()

    async def _v2x_limits(self, station_id: str, version: Version) -> ListLimits:
        names = ("ItemsPerMessage", "BytesPerMessage")

        def request(ns: v2x.Dialect) -> v2x.GetVariablesRequest:
            return ns.GetVariablesRequest(
                get_variable_data=[
                    ns.GetVariableDataType(
                        component=ns.ComponentType(name="LocalAuthListCtrlr"),
                        variable=ns.VariableType(name=name),
                    )
                    for name in names
                ]
            )

        answer = await self.commands.call(station_id, v2x.with_dialect(version, request))
        assert isinstance(answer, v2x.GetVariablesResponse)
        found: dict[str, int | None] = {}
        for result in answer.get_variable_result:
            if result.component.name == "LocalAuthListCtrlr" and str(result.attribute_status) == "Accepted":
                found[result.variable.name] = _positive(present(result.attribute_value))
        return ListLimits(items=found.get("ItemsPerMessage"), bytes=found.get("BytesPerMessage"))

    def _version(self, station_id: str) -> Version:
        version = self.commands.version_of(station_id)
        if version is None:
            raise StationOffline(station_id)
        return version

    # -- synchronising ----------------------------------------------------------------------------------

    async def sync_local_list(self, station_id: str, full: bool) -> SyncResult:
        """Bring the station's local list in line with the token store (see the module docstring).

        Raises StationOffline when the station is not connected; errors of later calls end the
        synchronisation and are reported in the result.
        """
        lock = self._locks.setdefault(station_id.casefold(), asyncio.Lock())
        async with lock:
            return await self._sync(station_id, full)

    async def _sync(self, station_id: str, full: bool) -> SyncResult:
        version = self._version(station_id)
        limits = await self.limits(station_id)
        result = SyncResult(station_id, "Full" if full else "Differential", limits)
        state = await self.repository.list_state(station_id)
        wanted = await self._wanted(version)
        outcome = "not sent"
        try:
            if not full:
                result.station_version_before = await self.station_version(station_id)
                if state is None or result.station_version_before != state.version:
                    full = True  # the station does not hold what the record says
            if not full:
                assert state is not None
                outcome = await self._send(
                    station_id, version, limits, state, wanted, full=False, result=result
                )
                if outcome in ("Failed", "VersionMismatch"):  # D01.FR.03
                    state = await self.repository.list_state(station_id)
                    full = True
            if full:
                outcome = await self._send(
                    station_id, version, limits, state, wanted, full=True, result=result
                )
        except CallError as error:
            # No answer: the station may or may not have applied the message.
            result.messages.append(SentMessage("-", 0, 0, 0, f"{type(error).__name__}: {error}"))
            await self.repository.forget_list(station_id)
        summary = await self.repository.list_summary(station_id)
        result.version = summary[0] if summary is not None else None
        result.completed = outcome == "Accepted"
        self.events.publish(
            StationEvent(
                "local_list",
                station_id,
                {"requested": result.requested, "version": result.version, "completed": result.completed},
            )
        )
        return result

    async def _send(
        self,
        station_id: str,
        version: Version,
        limits: ListLimits,
        state: ListState | None,
        wanted: dict[tuple[str, str], _Item],
        *,
        full: bool,
        result: SyncResult,
    ) -> str:
        """Send a Full or Differential update (split as needed); the last status (``Accepted`` when all
        went through, nothing sent counts as Accepted)."""
        base = state.version if state is not None else 0
        if full:
            items = list(wanted.values())
        else:
            assert state is not None
            items = [
                item
                for key, item in wanted.items()
                if key not in state.entries or state.entries[key].digest != item.entry.digest
            ]
            items += [
                self._removal(version, entry) for key, entry in state.entries.items() if key not in wanted
            ]
            if not items:
                return "Accepted"  # D01.FR.05 would only bump the version: nothing worth sending
        chunks = _split(items, limits, version)
        for index, chunk in enumerate(chunks):
            number = base + index + 1
            update_type = "Full" if full and index == 0 else "Differential"
            request = _request(version, update_type, number, [item.wire for item in chunk])
            answer = await self.commands.call(station_id, request)
            assert isinstance(answer, v16.messages.SendLocalListResponse | v2x.SendLocalListResponse)
            status = str(answer.status)
            removals = sum(1 for item in chunk if item.removal)
            result.messages.append(SentMessage(update_type, number, len(chunk), removals, status))
            log.info(
                "%s: SendLocalList %s v%d (%d entries): %s",
                station_id,
                update_type,
                number,
                len(chunk),
                status,
            )
            if status != "Accepted":
                if full:  # the station's list is unknown now
                    await self.repository.forget_list(station_id)
                return status
            await self.repository.record_list_update(
                station_id,
                number,
                replace=update_type == "Full",
                upserts=[item.entry for item in chunk if not item.removal],
                removals=[(item.entry.token_key, item.entry.type) for item in chunk if item.removal],
                now=self.clock.now(),
            )
        return "Accepted"

    async def _wanted(self, version: Version) -> dict[tuple[str, str], _Item]:
        now = self.clock.now()
        records = await self.repository.local_list_tokens(EXCLUDED_TYPES)
        wanted: dict[tuple[str, str], _Item] = {}
        seen_v16: set[str] = set()
        for record in records:
            if not _fits(record, version):
                continue
            key = token_key(record.id_token)
            if version is Version.V16:
                if key in seen_v16:  # one entry per idTag (D01.FR.06); records come ISO14443 first
                    continue
                seen_v16.add(key)
            decision = decide(record, now, self.settings.master_pass_group)
            wire, info = _entry(version, record.id_token, record.type, decision)
            digest = hashlib.sha256(msgspec.json.encode(info)).hexdigest()[:32]
            entry = ListEntry(key, record.type, record.id_token, digest)
            wanted[(key, record.type)] = _Item(entry, wire, len(msgspec.json.encode(wire)), removal=False)
        return wanted

    def _removal(self, version: Version, entry: ListEntry) -> _Item:
        wire = _entry(version, entry.id_token, entry.type, None)[0]
        return _Item(entry, wire, len(msgspec.json.encode(wire)), removal=True)


def _fits(record: TokenRecord, version: Version) -> bool:
    if len(record.id_token) > _MAX_TOKEN_LENGTH[version] or not record.id_token:
        return False
    return version is not Version.V201 or record.type in _V201_TYPES


def _entry(
    version: Version, id_token: str, token_type: str, decision: TokenDecision | None
) -> tuple[AuthorizationData, Payload | None]:
    """AuthorizationData for one token (without idTokenInfo for a removal) and the info it carries."""
    if version is Version.V16:
        tag_info = id_tag_info(decision) if decision is not None else None
        data = v16.datatypes.AuthorizationData(
            id_tag=id_token, id_tag_info=tag_info if tag_info is not None else msgspec.UNSET
        )
        return data, tag_info

    def build(ns: v2x.Dialect) -> tuple[AuthorizationData, Payload | None]:
        kind = ns.IdTokenEnumType(token_type) if issubclass(ns, v201.Messages) else token_type
        info = id_token_info(decision, ns) if decision is not None else None
        data = ns.AuthorizationData(
            id_token=ns.IdTokenType(id_token=id_token, type=kind),
            id_token_info=info if info is not None else msgspec.UNSET,
        )
        return data, info

    return v2x.with_dialect(version, build)


def _request(version: Version, update_type: str, number: int, entries: list[AuthorizationData]) -> Payload:
    if version is Version.V16:
        return v16.messages.SendLocalListRequest(
            list_version=number,
            update_type=v16.enums.UpdateType(update_type),
            local_authorization_list=_all_of(entries, v16.datatypes.AuthorizationData),
        )

    def build(ns: v2x.Dialect) -> v2x.SendLocalListRequest:
        listed = _all_of(entries, ns.AuthorizationData)
        return ns.SendLocalListRequest(
            version_number=number,
            update_type=ns.UpdateEnumType(update_type),
            local_authorization_list=listed if listed else msgspec.UNSET,  # D01.FR.04: Full without list
        )

    return v2x.with_dialect(version, build)


def _all_of(entries: list[AuthorizationData], kind: type[P]) -> list[P]:
    """``entries`` as the AuthorizationData of the station's version, which they all are."""
    typed: list[P] = [entry for entry in entries if isinstance(entry, kind)]
    assert len(typed) == len(entries)
    return typed


def _split(items: Sequence[_Item], limits: ListLimits, version: Version) -> list[list[_Item]]:
    """Greedy split into messages within the station's item and byte limits (at least one message)."""
    empty = len(msgspec.json.encode(_request(version, "Differential", 2**31 - 1, [])))
    base = _FRAME_OVERHEAD + empty + len(',"localAuthorizationList":[]')
    chunks: list[list[_Item]] = [[]]
    size = base
    for item in items:
        current = chunks[-1]
        too_many = limits.items is not None and len(current) >= limits.items
        too_big = limits.bytes is not None and size + item.size + 1 > limits.bytes
        if current and (too_many or too_big):
            chunks.append([])
            size = base
        chunks[-1].append(item)
        size += item.size + 1
    return chunks


def _positive(text: str | None) -> int | None:
    try:
        value = int(text) if text is not None else 0
    except ValueError:
        return None
    return value if value > 0 else None

"""A05 (CSMS side): the security profile upgrade.

The CSMS learns of an upgrade from the station's own answers: an Accepted SetNetworkProfile (2.0.1 / 2.1) whose
``connectionData.securityProfile`` is above the station's recorded profile, or an Accepted ChangeConfiguration of
``SecurityProfile`` (1.6 security whitepaper), makes that profile the station's pending target. When the station
then connects with at least that profile (the transport reports the profile it actually authenticated with:
no TLS 1, TLS with Basic auth 2, a client certificate of our CA 3), the recorded profile is raised to it, and
from then on the transport refuses the station below it (A05.FR.07). Each outcome is a security event.

Decision where the spec is silent: a station that connects on a higher profile without a pending target keeps its
recorded profile (a test bench may reach the CSMS on both its ws and wss ports); the pending target is kept in
memory (a CSMS restart between the station's answer and its reconnection leaves the profile where it was, which is
the safe side: the station is still accepted on the higher profile, since higher is always accepted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from chargeplane.csms.blocks.pki.service import PkiService
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.blocks.security.service import SecurityService
from chargeplane.csms.blocks.security_upgrade.repository import Step, UpgradeRecord, UpgradeRepository
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Conflict, Invalid, UnknownStation
from chargeplane.ocpp.events import Event, ResultReceived
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection

log = logging.getLogger(__name__)
_T = TypeVar("_T")

RAISED = "SecurityProfileRaised"  # our own security event types (A04 lets the CSMS log its own)
STEP = "SecurityProfileUpgradeStep"
REVOKED = "CertificateRevoked"


def upgrade_target(version: Version, action: str, request: object, response: object) -> int | None:
    """The security profile a station has just agreed to move to, from one CALL and its result; else None."""
    if (
        not isinstance(request, dict)
        or not isinstance(response, dict)
        or response.get("status") != "Accepted"
    ):
        return None
    if version is not Version.V16 and action == "SetNetworkProfile":
        data = request.get("connectionData")
        profile = data.get("securityProfile") if isinstance(data, dict) else None
        return profile if isinstance(profile, int) and not isinstance(profile, bool) else None
    if version is Version.V16 and action == "ChangeConfiguration" and request.get("key") == "SecurityProfile":
        value = request.get("value")
        return int(value) if isinstance(value, str) and value.strip() in ("0", "1", "2", "3") else None
    return None


class Revocation(Protocol):
    """What this block reads of a certificate the PKI block revoked (its record)."""

    @property
    def kind(self) -> str: ...
    @property
    def serial(self) -> str: ...
    @property
    def station_key(self) -> str | None: ...
    @property
    def certificate_type(self) -> str: ...
    @property
    def revocation_reason(self) -> str | None: ...


class StepFailed(Exception):
    """A step of the upgrade workflow did not reach its outcome; the workflow stops there."""


class SecurityUpgradeService:
    def __init__(
        self,
        stations: ProvisioningService,
        security: SecurityService,
        pki: PkiService,
        set_client_crl: Callable[[bytes | None], None] | None,
        repository: UpgradeRepository,
        commands: CommandService,
        events: EventBus,
        clock: Clock,
        *,
        step_timeout: float = 60.0,
        csms_root: str | None = None,
    ) -> None:
        self.stations = stations
        self.security = security
        self.pki = pki
        self._set_client_crl = set_client_crl  # None: the TLS door checks no CRL
        self.repository = repository
        self.commands = commands
        self.events = events
        self.clock = clock
        self.step_timeout = step_timeout
        self.csms_root = csms_root  # PEM of the CA the CSMS's TLS server certificate chains to
        self._targets: dict[str, int] = {}  # station key -> the profile it agreed to move to
        self._reconnected: dict[str, asyncio.Future[int]] = {}  # station key -> the profile it came back with
        self._running: dict[str, asyncio.Task[None]] = {}

    def pending(self, station_id: str) -> int | None:
        return self._targets.get(station_id.casefold())

    def ocpp_event(self, connection: OcppConnection, event: Event) -> None:
        """Watch the station's answers for an accepted move to a higher profile (B09 / A05 step 2)."""
        if not isinstance(event, ResultReceived):
            return
        if event.action not in ("SetNetworkProfile", "ChangeConfiguration"):
            return
        request, response = msgspec.to_builtins(event.request), msgspec.to_builtins(event.payload)
        target = upgrade_target(connection.version, event.action, request, response)
        if target is None or target <= int(connection.security_profile or 1):
            return
        key = connection.station_id.casefold()
        self._targets[key] = max(target, self._targets.get(key, 0))

    async def connected(self, connection: OcppConnection) -> None:
        """A05.FR.06/07: the station came back on (at least) the profile it agreed to: record it."""
        key = connection.station_id.casefold()
        profile = int(connection.security_profile or 1)
        target = self._targets.get(key)
        if target is None or profile < target:
            return  # none pending, or still on the old profile (a fallback slot, B10.FR.07): it stays pending
        record = await self.stations.get_station(connection.station_id)
        if record is None:
            return
        del self._targets[key]
        if target > record.security_profile:
            await self.stations.update_station(record.station_id, None, {"security_profile": target})
            info = f"security profile {record.security_profile} -> {target}; lower ones refused from now on"
            log.info("%s: %s", record.station_id, info)
            await self.security.csms_event(record.station_id, RAISED, info)
        waiter = self._reconnected.get(key)
        if waiter is not None and not waiter.done():
            waiter.set_result(profile)

    # -- the TLS door: revoked station certificates ----------------------------------------------------------

    async def load_crl(self) -> None:
        """At start: the TLS door checks the CRL from the first handshakes on (the periodic job renews it)."""
        await self.refresh_crl()

    async def refresh_crl(self, now: datetime | None = None) -> None:
        """Put the station CA's current CRL into the TLS listener (a pass of the periodic job)."""
        if self._set_client_crl is None or self.pki.authority("station") is None:
            return
        crl = x509.load_der_x509_crl(await self.pki.crl("station"))
        self._set_client_crl(crl.public_bytes(serialization.Encoding.PEM))

    async def revoked(self, record: Revocation) -> None:
        """A certificate of our CA was revoked: the TLS door refuses it from the next handshake on."""
        if record.kind == "station":
            await self.refresh_crl()
        if record.station_key is not None:
            station = await self.stations.get_station(record.station_key)
            info = f"{record.certificate_type} {record.serial} revoked ({record.revocation_reason})"
            await self.security.csms_event(
                station.station_id if station else record.station_key, REVOKED, info
            )

    # -- the workflow driven from the API ---------------------------------------------------------------------

    async def upgrade(
        self,
        station_id: str,
        target: int,
        url: str,
        *,
        configuration_slot: int | None = None,
        reset_type: str = "Immediate",
        csms_root: str | None = None,
        ocpp_interface: str = "Wired0",
    ) -> UpgradeRecord:
        """Start the upgrade of a connected 2.0.1 / 2.1 station to ``target``; its steps run in the background
        (see :meth:`upgrade_record`). Refused (409) at or below the recorded profile: no downgrade (A05)."""
        record = await self.stations.get_station(station_id)
        if record is None:
            raise UnknownStation(station_id)
        station_id = record.station_id
        if target not in (2, 3):
            raise Invalid(f"targetProfile {target}: 2 or 3")
        if target <= record.security_profile:
            raise Conflict(
                f"station {station_id} is on security profile {record.security_profile}: an upgrade goes higher "
                "(A05 never lowers it)"
            )
        if urlsplit(url).scheme != "wss":
            raise Invalid("url: profiles 2 and 3 need a wss:// URL")
        if reset_type not in ("Immediate", "OnIdle"):
            raise Invalid("resetType: Immediate or OnIdle")
        root = csms_root or self.csms_root
        if root is None:
            raise Invalid(
                "csmsRootCertificate: none given and none configured (security_upgrade csms_root_file)"
            )
        version = self.commands.version_of(station_id)
        if version is None:
            raise Conflict(f"station {station_id} is not connected")
        if version is Version.V16:
            raise Invalid("the upgrade workflow drives OCPP 2.0.1 / 2.1 stations")
        key = station_id.casefold()
        if key in self._running and not self._running[key].done():
            raise Conflict(f"an upgrade of station {station_id} is running")
        upgrade = UpgradeRecord(
            station_id, target, url, configuration_slot, reset_type, "running", self.clock.now()
        )
        await self.repository.save(upgrade)
        task = asyncio.create_task(self._run(upgrade, root, ocpp_interface), name=f"security-upgrade-{key}")
        self._running[key] = task
        return upgrade

    async def upgrade_record(self, station_id: str) -> UpgradeRecord | None:
        return await self.repository.get(station_id)

    async def fail_interrupted(self) -> None:
        """At start: a workflow a stop interrupted is marked failed (where its station is now is unknown)."""
        for upgrade in await self.repository.interrupted():
            upgrade.status, upgrade.finished_at = "failed", self.clock.now()
            upgrade.steps.append(
                Step("Interrupted", "failed", "the CSMS stopped during the upgrade", upgrade.finished_at)
            )
            await self.repository.save(upgrade)

    def stop(self) -> None:
        for task in self._running.values():
            task.cancel()

    async def _run(self, upgrade: UpgradeRecord, root: str, interface: str) -> None:
        station_id = upgrade.station_id
        try:
            ok = ("Accepted",)
            install = self.pki.install(station_id, "CSMSRootCertificate", root)
            await self._step(upgrade, "InstallCsmsRoot", install, ok)  # A05.FR.02: needed by the station
            if upgrade.target_profile == 3:  # A05.FR.03: a certificate of our CA first
                authority = self.pki.authority("station")
                operator_root = (
                    authority.root.public_bytes(serialization.Encoding.PEM).decode() if authority else None
                )
                if operator_root is not None and _fingerprint(operator_root) != _fingerprint(root):
                    # the station accepts a certificate only from a hierarchy it trusts (A02.FR.06): our CA's root
                    install = self.pki.install(station_id, "CSMSRootCertificate", operator_root)
                    await self._step(upgrade, "InstallOperatorRoot", install, ok)
                await self._step(upgrade, "StationCertificate", self._station_certificate(station_id))
            slot = await self._step(upgrade, "ChooseSlot", self._free_slot(upgrade))
            upgrade.configuration_slot = slot
            data: dict[str, object] = {
                "ocppTransport": "JSON",
                "ocppCsmsUrl": upgrade.url,
                "messageTimeout": 30,
                "securityProfile": upgrade.target_profile,
                "ocppInterface": interface,
            }
            if self.commands.version_of(station_id) is Version.V201:
                data["ocppVersion"] = "OCPP20"
            payload = {"configurationSlot": slot, "connectionData": data}
            network = self._status_of("SetNetworkProfile", station_id, payload)
            await self._step(upgrade, "SetNetworkProfile", network, ok)
            order = await self._priority(station_id)
            value = ",".join(str(s) for s in [slot, *(s for s in order if s != slot)])
            priority = self._set_priority(station_id, value)
            await self._step(
                upgrade, "NetworkConfigurationPriority", priority, ("Accepted", "RebootRequired")
            )
            waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            self._reconnected[station_id.casefold()] = waiter
            reset = self._status_of("Reset", station_id, {"type": upgrade.reset_type})
            await self._step(upgrade, "Reset", reset, ("Accepted", "Scheduled"))
            upgrade.connected_profile = await self._step(upgrade, "Reconnect", self._wait(waiter))
            upgrade.status = "completed"
        except StepFailed:
            upgrade.status = "failed"
        except asyncio.CancelledError:
            upgrade.status = "failed"
            raise
        finally:
            self._reconnected.pop(station_id.casefold(), None)
            upgrade.finished_at = self.clock.now()
            with contextlib.suppress(Exception):
                await self.repository.save(upgrade)

    async def _step(
        self, upgrade: UpgradeRecord, name: str, work: Awaitable[_T], expect: tuple[str, ...] = ()
    ) -> _T:
        """Run one step, its state persisted before and after; its outcome is a security event. A station's
        answer not in ``expect`` (when given) fails it."""
        step = Step(name, "running", None, self.clock.now())
        upgrade.steps.append(step)
        await self.repository.save(upgrade)
        try:
            result = await asyncio.wait_for(work, self.step_timeout)
        except Exception as error:
            reason = (
                "no outcome in time"
                if isinstance(error, TimeoutError)
                else f"{type(error).__name__}: {error}"
            )
            step.status, step.detail, step.at = "failed", reason, self.clock.now()
            await self.repository.save(upgrade)
            await self.security.csms_event(upgrade.station_id, STEP, f"{name} failed: {reason}")
            raise StepFailed(name) from error
        good = not expect or str(result) in expect
        step.status, step.detail, step.at = "done" if good else "failed", str(result), self.clock.now()
        await self.repository.save(upgrade)
        await self.security.csms_event(
            upgrade.station_id, STEP, f"{name}{'' if good else ' failed'}: {result}"
        )
        if not good:
            raise StepFailed(name)
        return result

    async def _answer(self, action: str, station_id: str, payload: Mapping[str, object]) -> dict[str, object]:
        sent = await self.commands.send_action(station_id, action, msgspec.json.encode(payload))
        answer = msgspec.to_builtins(sent.response)
        return answer if isinstance(answer, dict) else {}

    async def _status_of(self, action: str, station_id: str, payload: Mapping[str, object]) -> str:
        return str((await self._answer(action, station_id, payload)).get("status"))

    async def _priority(self, station_id: str) -> list[int]:
        variable = {
            "component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": "NetworkConfigurationPriority"},
        }
        answer = await self._answer("GetVariables", station_id, {"getVariableData": [variable]})
        results = answer.get("getVariableResult")
        value = results[0].get("attributeValue") if isinstance(results, list) and results else None
        return [int(s) for s in value.split(",") if s.strip().isdigit()] if isinstance(value, str) else []

    async def _free_slot(self, upgrade: UpgradeRecord) -> int:
        """The slot given, else the lowest one (from 1) the station's priority does not name."""
        if upgrade.configuration_slot is not None:
            return upgrade.configuration_slot
        used = set(await self._priority(upgrade.station_id))
        return next(slot for slot in range(1, 1000) if slot not in used)

    async def _set_priority(self, station_id: str, value: str) -> str:
        data = {
            "component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": "NetworkConfigurationPriority"},
            "attributeValue": value,
        }
        answer = await self._answer("SetVariables", station_id, {"setVariableData": [data]})
        results = answer.get("setVariableResult")
        return str(results[0].get("attributeStatus") if isinstance(results, list) and results else None)

    async def _station_certificate(self, station_id: str) -> str:
        """TriggerMessage SignChargingStationCertificate, then the CertificateSigned the station accepted."""
        async with self.events.subscribe() as queue:
            status = await self.pki.trigger(station_id, "ChargingStationCertificate")
            if status != "Accepted":
                raise StepFailed(f"TriggerMessage {status}")
            while True:
                event = await queue.get()
                if not _signed_for(event, station_id):
                    continue
                if event.data.get("status") != "Accepted":
                    raise StepFailed(f"CertificateSigned {event.data.get('status')}")
                return f"certificate {event.data.get('serial')} accepted"

    @staticmethod
    async def _wait(waiter: asyncio.Future[int]) -> int:
        return await waiter


def _fingerprint(pem: str) -> bytes:
    return x509.load_pem_x509_certificate(pem.strip().encode()).fingerprint(hashes.SHA256())


def _signed_for(event: StationEvent, station_id: str) -> bool:
    return (
        event.kind == "pki.certificate_signed"
        and event.station_id.casefold() == station_id.casefold()
        and event.data.get("certificateType") == "ChargingStationCertificate"
    )

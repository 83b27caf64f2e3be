"""A01 on the CSMS side: a new Basic-auth password for a station, sent, pending, then settled.

1. The operator asks (``POST /stations/{id}/password-rotation``); the CSMS generates a strong random
   password for the station's OCPP version (A01.FR.06-07), or takes the operator's after the version's rules.
2. Its salted hash is stored as *pending* beside the current one (A01.FR.08) before it is sent, so that the
   station may come back with it at once; the password itself is never stored, logged nor answered
   (A01.FR.09).
3. SetVariables SecurityCtrlr.BasicAuthPassword (2.0.1, 2.1; A01.FR.02) or ChangeConfiguration
   AuthorizationKey (1.6 security extension), through the command service (B03.FR.03: not to a Rejected
   station), whose log shows the request without the password.
4. Accepted (or RebootRequired): both passwords are accepted until the station has connected with the new
   one; that connection retires the old one (the new hash becomes the station's). Any other answer: the
   pending password is dropped and the old one stays (A01.FR.04). No answer (timeout, lost connection): the
   station may or may not have taken it, so both stay valid.

Each step is a CSMS-side security event (ReconfigurationOfSecurityParameters), without the password.
"""

from __future__ import annotations

import logging

from chargeplane.csms.blocks.password_rotation.repository import RotationRecord, RotationRepository
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.blocks.security.service import SecurityService
from chargeplane.csms.bus.commands import StationOffline
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Invalid, UnknownStation
from chargeplane.ocpp.messages import v2x, v16, v21, v201
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.redaction import (
    HIDDEN,
)  # what the command log shows of the password (it hides it anyway)
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import CallFailed, OcppConnection
from chargeplane.transport.security import (
    check_password_rules,
    generate_password,
    hash_generated_password,
    hash_password,
)

log = logging.getLogger(__name__)
EVENT = "ReconfigurationOfSecurityParameters"
ACCEPTED = frozenset({"Accepted", "RebootRequired"})


def password_request(version: Version, password: str) -> Payload:
    """The request that sets the station's Basic-auth password in ``version``."""
    if version is Version.V16:
        return v16.messages.ChangeConfigurationRequest(key="AuthorizationKey", value=password)

    def build(ns: v2x.Dialect) -> v2x.SetVariablesRequest:
        item = ns.SetVariableDataType(
            attribute_value=password,
            component=ns.ComponentType(name="SecurityCtrlr"),
            variable=ns.VariableType(name="BasicAuthPassword"),
        )
        return ns.SetVariablesRequest(set_variable_data=[item])

    return v2x.with_dialect(version, build)


def answer_status(response: Payload) -> str:
    """The station's answer to :func:`password_request`."""
    if isinstance(response, v16.messages.ChangeConfigurationResponse):
        return str(response.status)
    if isinstance(response, v201.messages.SetVariablesResponse | v21.messages.SetVariablesResponse):
        results = response.set_variable_result
        return str(results[0].attribute_status) if results else "Rejected"
    raise TypeError(f"unexpected answer {type(response).__name__}")


class PasswordRotationService:
    def __init__(
        self,
        repository: RotationRepository,
        stations: ProvisioningService,
        security: SecurityService,
        commands: CommandService,
        events: EventBus,
        clock: Clock,
    ) -> None:
        self.repository = repository
        self.stations = stations
        self.security = security
        self.commands = commands
        self.events = events
        self.clock = clock

    async def rotate(self, station_id: str, password: str | None = None) -> RotationRecord:
        """Steps 1-4 above; answers once the station answered. Raises UnknownStation, Invalid (profile 3),
        PasswordRuleError (the operator's password), StationOffline and the station call's errors."""
        record = await self.stations.get_station(station_id)
        if record is None:
            raise UnknownStation(station_id)
        station_id = record.station_id
        if record.security_profile == 3:
            raise Invalid("the station authenticates with a client certificate (profile 3): no password")
        version = self.commands.version_of(station_id)
        if version is None:
            raise StationOffline(station_id)
        generated = password is None
        if password is None:
            password = generate_password(version)
        check_password_rules(password, version)
        pending = hash_generated_password(password) if generated else hash_password(password)
        await self.repository.start(station_id, pending, self.clock.now())
        try:
            response = await self.commands.send(
                station_id, password_request(version, password), logged=password_request(version, HIDDEN)
            )
        except CallFailed:  # a CALLERROR: the station did not take it
            await self._settle(station_id, "failed", None, "the station answered with a CALLERROR")
            raise
        except Exception:  # no answer: it may have taken it, so both passwords stay valid
            await self._settle(station_id, "unanswered", None, "no answer: both passwords stay valid")
            raise
        status = answer_status(response)
        if status in ACCEPTED:
            info = f"BasicAuthPassword {status}: the old one is valid until the station connects with the new"
            await self._settle(station_id, "accepted", status, info)
        else:  # A01.FR.04
            await self._settle(
                station_id, "rejected", status, f"BasicAuthPassword {status}: the old one stays"
            )
        found = await self.repository.get(station_id)
        assert found is not None
        return found

    async def _settle(self, station_id: str, status: str, station_status: str | None, info: str) -> None:
        await self.repository.answered(station_id, status, station_status, self.clock.now())
        await self.security.csms_event(station_id, EVENT, info)
        self.events.publish(
            StationEvent(
                "security.password_rotation", station_id, {"status": status, "stationStatus": station_status}
            )
        )

    async def rotation(self, station_id: str) -> RotationRecord | None:
        return await self.repository.get(station_id)

    async def pending_hash(self, station_id: str) -> str | None:
        """The pending password's hash, accepted beside the current one (the station directory asks)."""
        return await self.repository.pending_hash(station_id)

    async def connected(self, connection: OcppConnection) -> None:
        """A connection the server admitted with the pending password: it becomes the station's password and
        the old one is retired."""
        if not connection.pending_password:
            return
        station_id = connection.station_id
        pending = await self.repository.pending_hash(station_id)
        if pending is None:
            return
        await self.stations.set_password_hash(station_id, pending)
        if await self.repository.complete(station_id, pending, self.clock.now()):
            await self.security.csms_event(
                station_id,
                EVENT,
                "the station connected with the new BasicAuthPassword: the old one is retired",
            )
            self.events.publish(
                StationEvent("security.password_rotation", station_id, {"status": "completed"})
            )

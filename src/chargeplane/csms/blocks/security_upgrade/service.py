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

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from chargeplane.csms.blocks.pki.service import PkiService
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.security.service import SecurityService
from chargeplane.ocpp.events import Event, ResultReceived
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection

log = logging.getLogger(__name__)

RAISED = "SecurityProfileRaised"  # our own security event types (A04 lets the CSMS log its own)
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


class SecurityUpgradeService:
    def __init__(
        self,
        stations: ProvisioningService,
        security: SecurityService,
        pki: PkiService,
        set_client_crl: Callable[[bytes | None], None] | None,
    ) -> None:
        self.stations = stations
        self.security = security
        self.pki = pki
        self._set_client_crl = set_client_crl  # None: the TLS door checks no CRL
        self._targets: dict[str, int] = {}  # station key -> the profile it agreed to move to

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
        target = self._targets.get(connection.station_id.casefold())
        if target is None:
            return
        record = await self.stations.get_station(connection.station_id)
        profile = int(connection.security_profile or 1)
        if record is None or profile < target:
            return  # still on the old profile (a fallback slot, B10.FR.07): the target stays pending
        del self._targets[connection.station_id.casefold()]
        if target <= record.security_profile:
            return
        await self.stations.update_station(record.station_id, None, {"security_profile": target})
        info = (
            f"security profile {record.security_profile} -> {target}; lower profiles are refused from now on"
        )
        log.info("%s: %s", record.station_id, info)
        await self.security.csms_event(record.station_id, RAISED, info)

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

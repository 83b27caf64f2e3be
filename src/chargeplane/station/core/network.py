"""Network connection profiles (B09, B10): the profiles the CSMS stores in the station's configuration slots,
and which CSMS the station connects to.

Slot 0 holds the factory profile (the URL the station was installed with); SetNetworkProfile fills the other
slots after checking them (B09.FR.02/04/05). ``OCPPCommCtrlr.NetworkConfigurationPriority`` orders the slots;
a new order must name only slots that hold a profile (B10.FR.02) and takes effect at the next boot
(RebootRequired, B10.FR.04). The station then tries each slot ``NetworkProfileConnectionAttempts`` times in
that order (B10.FR.03) and, when all failed, goes back to the slot of its last successful connection and
keeps reconnecting there (B10.FR.07). The runtime asks :meth:`NetworkProfiles.next_url` before every
connection attempt; the core learns of a success from the connection coming up.

A05 (security profile upgrade): a priority naming a slot of a higher TLS profile is refused while no
CSMSRootCertificate is installed (A05.FR.02), one of profile 3 while the station holds no ChargingStationCertificate
signed by the CSMS (A05.FR.03; its validity is checked when a connection presents it); once the station has connected on a slot of a higher profile,
SecurityCtrlr.SecurityProfile takes it and the slots of lower profiles leave the priority (A05.FR.06).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from urllib.parse import urlsplit

from chargeplane.ocpp.messages import v2x
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.certificates import CSMS_ROOT, STATION_CERTIFICATE, Certificates
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.device_model import VariableKey

COMM = "OCPPCommCtrlr"
PRIORITY = "NetworkConfigurationPriority"
ATTEMPTS = "NetworkProfileConnectionAttempts"
FACTORY_SLOT = 0
SECURITY, PROFILE = "SecurityCtrlr", "SecurityProfile"
_STATE = "network_profiles"
_VERSIONS = {Version.V201: frozenset({"OCPP20"}), Version.V21: frozenset({"OCPP20", "OCPP201", "OCPP21"})}


@dataclass(frozen=True, slots=True)
class Profile:
    url: str
    security_profile: int
    ocpp_version: str
    message_timeout: int
    ocpp_interface: str


class NetworkProfiles(Controller):
    __slots__ = ("_attempts", "_index", "_last_good", "profiles")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        raw = ctx.storage.get_state(_STATE)
        self.profiles: dict[int, Profile] = (
            {int(slot): Profile(**data) for slot, data in json.loads(raw).items()} if raw else {}
        )
        self._index = 0  # position in the priority order of the slot being tried
        self._attempts = 0  # attempts made on it
        last_good = ctx.storage.get_state("network_last_good_slot")
        self._last_good = int(last_good) if last_good else FACTORY_SLOT

    def start(self, now: datetime) -> None:
        self.ctx.model.validators[(COMM, PRIORITY)] = self._check_priority

    # ------------------------------------------------------------------ slots
    def slots(self) -> list[int]:
        """The configuration slots this station has (the valuesList of NetworkConfigurationPriority)."""
        definition = next(d for d in self.ctx.model if (d.key.component, d.key.variable) == (COMM, PRIORITY))
        return [int(s) for s in (definition.values_list or "0").split(",")]

    def order(self) -> list[int]:
        return [int(s) for s in self.ctx.model.value(COMM, PRIORITY).split(",") if s.strip()] or [
            FACTORY_SLOT
        ]

    def store(self, slot: int, profile: Profile) -> str:
        """B09: Accepted, or Rejected with what is wrong."""
        if slot not in self.slots():
            return "Rejected"  # B09.FR.05
        current = self.ctx.model.number("SecurityCtrlr", "SecurityProfile")
        if profile.security_profile < current:
            return "Rejected"  # B09.FR.04: no downgrade
        scheme = urlsplit(profile.url).scheme.lower()
        if scheme not in ("ws", "wss") or (scheme == "ws") != (profile.security_profile <= 1):
            return "Rejected"  # profile 1 is plain ws://, profiles 2 and 3 are TLS
        if profile.ocpp_version not in _VERSIONS.get(self.ctx.version, frozenset()):
            return "Rejected"
        self.profiles[slot] = profile
        self._save()
        return "Accepted"

    def _check_priority(self, value: str) -> str | None:
        """B10.FR.02: every slot named must hold a profile (slot 0: the factory one); A05.FR.02: an upgrade to a
        TLS profile needs a CSMS root certificate."""
        current = self.ctx.model.number(SECURITY, PROFILE)
        for entry in value.split(","):
            slot = int(entry)
            if slot != FACTORY_SLOT and slot not in self.profiles:
                return f"slot {slot} holds no network connection profile"
            upgrade = self._security_profile(slot)
            certificates = self.ctx.get(Certificates)
            if upgrade > current and upgrade >= 2 and not certificates.roots(CSMS_ROOT):
                return "NoCsmsRoot"  # A05.FR.02: no CSMSRootCertificate installed
            if upgrade > current and upgrade == 3 and not certificates.holds(STATION_CERTIFICATE):
                return "NoCertificate"  # A05.FR.03: no ChargingStationCertificate to present
        return None

    def _security_profile(self, slot: int) -> int:
        profile = self.profiles.get(slot)
        return (
            profile.security_profile
            if slot != FACTORY_SLOT and profile is not None
            else self.ctx.layout.security_profile
        )

    # ------------------------------------------------------------------ connection targets
    def next_url(self, factory_url: str) -> str:
        """The CSMS URL of the next connection attempt (B10.FR.03/07)."""
        order = self.order()
        attempts = max(1, self.ctx.model.number(COMM, ATTEMPTS))
        if self._index < len(order) and self._attempts >= attempts:
            self._index += 1
            self._attempts = 0
        self._attempts += 1
        slot = order[self._index] if self._index < len(order) else self._last_good  # B10.FR.07: fall back
        return self._url(slot, factory_url)

    def connection_opened(self, now: datetime) -> None:
        order = self.order()
        slot = order[self._index] if self._index < len(order) else self._last_good
        self._last_good = slot
        self.ctx.storage.set_state("network_last_good_slot", str(slot))
        self._attempts = 0  # a later loss starts over on the same slot
        self._upgraded(slot)

    def _upgraded(self, slot: int) -> None:
        """A05.FR.06: connected on a slot of a higher security profile: SecurityProfile takes it, the slots of
        lower profiles go (profiles and priority)."""
        model = self.ctx.model
        profile = self._security_profile(slot)
        if profile <= model.number(SECURITY, PROFILE):
            return
        model.put(VariableKey(SECURITY, PROFILE), str(profile), persist=True)
        lower = [s for s in self.order() if self._security_profile(s) < profile]
        for gone in lower:
            self.profiles.pop(gone, None)
        self._save()
        kept = [str(s) for s in self.order() if s not in lower] or [str(slot)]
        model.put(VariableKey(COMM, PRIORITY), ",".join(kept), persist=True)
        self._index = kept.index(str(slot)) if str(slot) in kept else 0

    def _url(self, slot: int, factory_url: str) -> str:
        profile = self.profiles.get(slot)
        return factory_url if slot == FACTORY_SLOT or profile is None else profile.url

    def _save(self) -> None:
        data = {str(slot): asdict(p) for slot, p in self.profiles.items()}
        self.ctx.storage.set_state(_STATE, json.dumps(data))


def set_network_profile(
    ctl: NetworkProfiles, request: v2x.SetNetworkProfileRequestT, now: datetime
) -> v2x.SetNetworkProfileResponse:
    ns = v2x.dialect_of(request)
    data = request.connection_data
    version = data.ocpp_version
    profile = Profile(
        url=data.ocpp_csms_url,
        security_profile=data.security_profile,
        ocpp_version=str(version) if isinstance(version, str) else "OCPP201",
        message_timeout=data.message_timeout,
        ocpp_interface=str(data.ocpp_interface),
    )
    if str(data.ocpp_transport) != "JSON":
        return ns.SetNetworkProfileResponse(status=ns.SetNetworkProfileStatusEnumType.REJECTED)
    status = ctl.store(request.configuration_slot, profile)
    return ns.SetNetworkProfileResponse(status=ns.SetNetworkProfileStatusEnumType(status))


NetworkProfiles.on_2x = (route("SetNetworkProfile", set_network_profile),)

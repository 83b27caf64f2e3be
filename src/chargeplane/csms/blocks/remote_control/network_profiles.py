"""SetNetworkProfile from the API (B09): a connection profile for a configuration slot of a 2.0.1 / 2.1 station,
checked before it is sent (slot, CSMS URL, security profile against the URL's scheme, the fields the station's
version has), then validated against the version's schema like any command. The station's answer is kept in
the command log (every CSMS-initiated CALL is), which ``GET .../network-profiles`` reads. OCPP 1.6 has no
network profiles: 422 ``NoEquivalent``, as the convenience routes answer a value the version cannot express."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
from litestar.params import JSONBody

from chargeplane.csms.api.pages import Limit, Offset, Page
from chargeplane.csms.api.routes import get_or_404, station_call
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.blocks.remote_control.convenience import NO_EQUIVALENT
from chargeplane.csms.blocks.remote_control.service import CommandService, InvalidCommand
from chargeplane.csms.bus.commands import StationOffline
from chargeplane.csms.errors import Invalid
from chargeplane.ocpp.versions import Version

ACTION = "SetNetworkProfile"


class ConnectionDataIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """NetworkConnectionProfileType in wire names; ``identity`` and ``basicAuthPassword`` exist on 2.1 only."""

    ocpp_csms_url: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    security_profile: Annotated[int, msgspec.Meta(ge=1, le=3)]
    ocpp_interface: str  # Wired0-3, Wireless0-3 (2.1 also Any)
    message_timeout: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 30
    ocpp_transport: str = "JSON"
    ocpp_version: str | None = None  # 2.0.1 requires it: OCPP20 when absent
    apn: dict[str, object] | None = None  # APNType, checked against the version's schema
    vpn: dict[str, object] | None = None  # VPNType, idem
    identity: Annotated[str, msgspec.Meta(max_length=48)] | None = None
    basic_auth_password: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class NetworkProfileIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    configuration_slot: Annotated[int, msgspec.Meta(ge=0, le=1000)]
    connection_data: ConnectionDataIn


class NetworkProfileOut(msgspec.Struct, rename="camel"):
    configuration_slot: int | None
    connection_data: Any  # as sent (wire JSON)
    status: str | None  # Accepted | Rejected | Failed; None: no answer (see outcome)
    outcome: str  # the command log's: ok, error, timeout, offline, ...
    error_code: str | None
    sent_at: datetime


def check(data: NetworkProfileIn) -> None:
    """What the CSMS refuses before sending (400): a URL that is not ws:// or wss:// with a host, a TLS
    security profile (2, 3) on a plain ws:// URL."""
    url = urlsplit(data.connection_data.ocpp_csms_url)
    if url.scheme not in ("ws", "wss") or not url.hostname:
        raise Invalid("ocppCsmsUrl must be a ws:// or wss:// URL with a host")
    if data.connection_data.security_profile >= 2 and url.scheme != "wss":
        raise Invalid("security profiles 2 and 3 need TLS: a wss:// ocppCsmsUrl")


def payload(data: NetworkProfileIn, version: Version) -> dict[str, Any]:
    """The request for ``version`` (wire JSON); 1.6 and a 2.1-only field on 2.0.1: 422 NoEquivalent."""
    if not version.is_2x:
        raise InvalidCommand(NO_EQUIVALENT, f"OCPP {version.value} has no network connection profiles")
    given = data.connection_data
    if version is Version.V201 and (given.identity is not None or given.basic_auth_password is not None):
        raise InvalidCommand(NO_EQUIVALENT, "OCPP 2.0.1 has no identity / basicAuthPassword in a profile")
    profile: dict[str, Any] = {k: v for k, v in msgspec.to_builtins(given).items() if v is not None}
    if version is Version.V201 and given.ocpp_version is None:
        profile["ocppVersion"] = "OCPP20"
    return {"configurationSlot": data.configuration_slot, "connectionData": profile}


def _entry(
    request: str | None, response: str | None, outcome: str, error: str | None, at: datetime
) -> NetworkProfileOut:
    sent: dict[str, Any] = msgspec.json.decode(request) if request else {}
    answer: dict[str, Any] = msgspec.json.decode(response) if response else {}
    status = answer.get("status")
    return NetworkProfileOut(
        sent.get("configurationSlot"),
        sent.get("connectionData"),
        status if isinstance(status, str) else None,
        outcome,
        error,
        at,
    )


def routes(service: CommandService) -> list[Any]:
    @station_call(
        "/stations/{station_id:str}/network-profiles",
        summary="Set a network connection profile (B09 SetNetworkProfile)",
    )
    async def set_network_profile(
        known_station: KnownStation, data: JSONBody[NetworkProfileIn]
    ) -> NetworkProfileOut:
        """Sends the profile for ``configurationSlot`` (the station takes slots of its
        NetworkConfigurationPriority's valuesList); ``status`` is the station's answer (Accepted, Rejected,
        Failed). 400 for a URL that is not ws:// / wss:// or a TLS profile (2, 3) on ws://; 422 NoEquivalent
        for a 1.6 station (no network profiles) and for identity / basicAuthPassword on 2.0.1, 422 with the
        OCPP code for a profile against the version's schema; 409 offline."""
        check(data)
        version = service.commands.version_of(known_station.station_id)
        if version is None:
            raise StationOffline(known_station.station_id)
        sent = await service.send_action(
            known_station.station_id, ACTION, msgspec.json.encode(payload(data, version))
        )
        response = msgspec.json.encode(msgspec.to_builtins(sent.response)).decode()
        request = msgspec.json.encode(msgspec.to_builtins(sent.request)).decode()
        return _entry(request, response, "ok", None, service.clock.now())

    @get_or_404(
        "/stations/{station_id:str}/network-profiles",
        summary="The network profiles sent to a station, newest first",
    )
    async def list_network_profiles(
        known_station: KnownStation, offset: Offset = 0, limit: Limit = 100
    ) -> Page[NetworkProfileOut]:
        """Every SetNetworkProfile of the command log with the station's answer (or what became of it)."""
        records, total = await service.command_log(
            station_id=known_station.station_id, action=ACTION, offset=offset, limit=limit
        )
        items = [_entry(r.request, r.response, r.outcome, r.error_code, r.created_at) for r in records]
        return Page(items, total, offset, limit)

    return [set_network_profile, list_network_profiles]

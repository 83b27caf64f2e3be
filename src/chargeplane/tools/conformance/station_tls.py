"""The configuration states of the station-side TLS cases (blocks A, B, M): the station connected through the
tool's wss listener on security profile 2 (Basic auth over TLS) or 3 (a station certificate); for the AS-2
cases, AdditionalRootCertificateCheck true.

A station declared on that profile (``station_security_profile``), or left there by an earlier case, is used
as it is. Otherwise the tool asks for the installer's set-up (the manual action :class:`SetUpConnection`: the
listener's URL, the profile, the tool's CSMS root and, for profile 3, a station certificate of the tool's
station CA; the station's CSMS roots become that one root) and waits for the station to boot through the
listener. After the case (outside its verdict) the
station is set up as declared again, so that the next case finds what the declaration says.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.station_adapter import ConfigureRootCertificateCheck, SetUpConnection
from chargeplane.tools.conformance.station_states import after_boot
from chargeplane.tools.conformance.station_steps import StationTool
from chargeplane.tools.conformance.tls_front import TlsFront

log = logging.getLogger(__name__)


def active_profile(tool: StationTool) -> int:
    """The security profile the station connects with now (as declared, unless a case changed it)."""
    return tool.endpoint.security_profile or tool.configured.station_security_profile


def tls_profile(tool: StationTool) -> int:
    """The TLS profile of the cases that need one of 2 or 3: 3 on a station declared on it, else 2."""
    return 3 if tool.configured.station_security_profile == 3 else 2


async def listener(tool: StationTool, profile: int) -> TlsFront:
    """The wss listener as ``profile`` wants it: the CSMS server certificate of the tool's CSMS root; on
    profile 3 a station certificate of the tool's station CA required, or one of its V2G root (a combined
    certificate the tool signed, TC_A_13_CS: A00.FR.428 makes it the station's TLS certificate too)."""
    front = await tool.endpoint.start_tls()
    pki = tool.pki()
    front.present(pki.csms_server)
    front.require_client_certificates(*((pki.station_ca, pki.v2g_root) if profile == 3 else ()))
    return front


async def set_up(tool: StationTool, step: int | str, profile: int) -> None:
    """The installer's set-up of the station on ``profile`` (1: the tool's plain endpoint), then Booted."""
    endpoint = tool.endpoint
    pki = tool.pki()
    front = await listener(tool, profile)
    url = endpoint.url if profile == 1 else front.url(endpoint.settings.path_prefix)
    certificate = key = ""
    if profile == 3:
        station = pki.station_certificate(endpoint.settings.station_id, tool.configured.organization_name)
        certificate, key = station.pem + pki.station_ca.pem, station.key_pem
    connections, handshakes = endpoint.connections, len(front.handshakes)
    await tool.manual(SetUpConnection(url, profile, pki.csms_root.pem, certificate, key))
    await after_boot(tool, f"{step}")
    if endpoint.connections <= connections:
        raise StepFailed(step, "the station did not connect again after its set-up")
    through_front = front.active > 0 and any(h.ok for h in front.handshakes[handshakes:])
    if through_front != (profile >= 2):
        raise StepFailed(step, f"the station did not connect as security profile {profile} after its set-up")
    endpoint.security_profile = profile


@contextlib.asynccontextmanager
async def on_security_profile(tool: StationTool, profile: int) -> AsyncIterator[TlsFront]:
    """The station connected through the wss listener on ``profile`` for the case's steps; set up as declared
    again afterwards."""
    changed = active_profile(tool) != profile or not tool.endpoint.is_connected
    if changed:
        await set_up(tool, "before", profile)
    front = await listener(tool, profile)
    try:
        yield front
    finally:
        await back_as_declared(tool)


@contextlib.asynccontextmanager
async def root_certificate_check(tool: StationTool) -> AsyncIterator[None]:
    """Configuration state of the AS-2 cases: SecurityCtrlr.AdditionalRootCertificateCheck true (read-only:
    the station's configuration, a manual action and a boot), false again afterwards (the other CA
    certificate cases install roots that the check would refuse)."""
    await _configure_root_check(tool, "before", enabled=True)
    try:
        yield
    finally:
        try:
            await _configure_root_check(tool, "after", enabled=False)
        except StepFailed as failed:
            log.warning("turning AdditionalRootCertificateCheck off again failed: %s", failed)


async def _configure_root_check(tool: StationTool, step: str, *, enabled: bool) -> None:
    connections = tool.endpoint.connections
    await tool.manual(ConfigureRootCertificateCheck(enabled))
    await after_boot(tool, step)
    if tool.endpoint.connections <= connections:
        raise StepFailed(step, "the station did not connect again after its configuration")
    data = dt.GetVariableDataType(
        component=dt.ComponentType(name="SecurityCtrlr"),
        variable=dt.VariableType(name="AdditionalRootCertificateCheck"),
    )
    response = await tool.send_as(
        step, msg.GetVariablesRequest(get_variable_data=[data]), msg.GetVariablesResponse
    )
    wanted = str(enabled).lower()
    expect_field(step, response, "getVariableResult[0].attributeValue", wanted)


async def back_as_declared(tool: StationTool) -> None:
    """Outside the verdict: the station set up on its declared profile again, if a case changed it."""
    declared = tool.configured.station_security_profile
    if active_profile(tool) == declared:
        return
    try:
        await set_up(tool, "after", declared)
    except StepFailed as failed:
        log.warning("putting the station back on security profile %d failed: %s", declared, failed)
    finally:
        tool.endpoint.security_profile = None

"""Block A, Security (Part 6 §2.2): Basic auth, password rotation, TLS server certificates and security
profile upgrades, charging-station side.

Readings:
* "SecurityCtrl" / "OCPPCommCtrl" are the SecurityCtrlr / OCPPCommCtrlr components.
* TC_A_01_CS: the server admits only the configured identity and password (Basic auth), so a station that
  completes Booted presented them; the tool checks the password's own rules (16-40 characters of
  passwordString) on the configured value, and refuses to judge a run without a password.
* TC_A_09_CS: from step 2 on the tool accepts the new password only (A01.FR.04: the old one stays valid when
  the change was not accepted). When the answer is RebootRequired the tool sends ResetRequest Immediate (the
  table has no step for the reboot that its steps 5-8 follow). A refused connection attempt (the old
  password) fails step 3 at once. Outside the verdict the configured password is put back.
* TC_A_10_CS: steps 3-5 are Reusable State Booted, on the unchanged password; the post-scenario check (the
  password is still the configured one) is that reconnection.
* TLS cases (A_04, A_05, A_06, and A_19's reconnection): the tool's wss listener (``tls_front.py``) in front of
  its endpoint. "Booting" is a ResetRequest Immediate. A station whose new connection does not come through
  the listener fails step 1 (it must be on security profile 2 or 3, which its declaration's
  ``station_security_profile`` says). The cipher rule of A_04 is judged on the suites the station offered that the
  tool supports (OpenSSL's shared ciphers); TLS 1.3 satisfies "1.2 or above".
* TC_A_04_CS step 9 (and A_05 / A_06 step 12): the StatusNotification Available, as in Booted (the table's
  alternative, a NotifyEvent of AvailabilityState, is answered but not enough).
* TC_A_05_CS / TC_A_06_CS: the tool presents the bad certificate (signed by a root the station does not know) /
  offers TLS below 1.2 until one handshake failed, then the configured certificate. The security events may
  come in any order with the boot; A_06's InvalidTLSVersion event is optional.
* TC_A_19_CS upgrades from profile 1 to 2 only (the tool has no station certificate renewal, A02): its memory
  state installs the tool's CSMS root. The new profile's ocppCsmsUrl is the wss listener's URL without the
  identity. Booted (step 9) is the boot after the reconnection.
* TC_A_20_CS (AQ-1): the precondition "no valid CSMS root" is made by deleting every CSMSRootCertificate the
  station lists.
* TC_A_21_CS (AQ-1): the precondition "no valid ChargingStationCertificate" is the station's (not checked by
  the tool; a station that renewed one in an earlier case keeps it).
* TC_A_20_CS / TC_A_22_CS: their prerequisites (profile 1 / profile 2 or 3 active) are configuration states
  (``station_tls.py``): a station on another profile is set up on the one needed, and as declared afterwards.
  A_22's lower profile is the active one minus 1.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field, field_value
from chargeplane.tools.conformance.pki import Issued
from chargeplane.tools.conformance.station_states import BOOT_WITHIN, after_boot, booted, connector_status
from chargeplane.tools.conformance.station_steps import StationTool
from chargeplane.tools.conformance.station_tls import (
    active_profile,
    listener,
    on_security_profile,
    tls_profile,
)
from chargeplane.tools.conformance.tls_front import REQUIRED_SUITE_PAIRS, TlsFront

log = logging.getLogger(__name__)
Status = en.ConnectorStatusEnumType
# passwordString (Part 2 §2.1.4), 16 to 40 characters (A00.FR.205)
PASSWORD = re.compile(r"\A[a-zA-Z0-9*\-_=:+|@.]{16,40}\Z")
SLACK = 0.2  # seconds between polls of the tool's endpoint


def _variable(component: str, variable: str, value: str) -> dt.SetVariableDataType:
    return dt.SetVariableDataType(
        attribute_value=value,
        component=dt.ComponentType(name=component),
        variable=dt.VariableType(name=variable),
    )


async def set_variable(tool: StationTool, step: int | str, component: str, variable: str, value: str) -> str:
    """SetVariables of one variable; returns its attributeStatus."""
    request = msg.SetVariablesRequest(set_variable_data=[_variable(component, variable, value)])
    response = await tool.send_as(step, request, msg.SetVariablesResponse)
    return str(field_value(response, "setVariableResult[0].attributeStatus"))


async def get_variable(tool: StationTool, step: int | str, component: str, variable: str) -> str:
    data = dt.GetVariableDataType(
        component=dt.ComponentType(name=component), variable=dt.VariableType(name=variable)
    )
    response = await tool.send_as(
        step, msg.GetVariablesRequest(get_variable_data=[data]), msg.GetVariablesResponse
    )
    expect_field(step, response, "getVariableResult[0].attributeStatus", "Accepted")
    return str(field_value(response, "getVariableResult[0].attributeValue"))


async def reconnected(
    tool: StationTool,
    step: int | str,
    connections: int,
    within: float = BOOT_WITHIN,
    refused: int | None = None,
) -> None:
    """Wait for a new connection of the station (more than ``connections`` so far); a refused attempt (a
    wrong password) since ``refused`` attempts (default: now) fails ``step`` at once."""
    endpoint = tool.endpoint
    refused = len(endpoint.refused) if refused is None else refused
    loop = asyncio.get_running_loop()
    until = loop.time() + within
    while not (endpoint.connections > connections and endpoint.is_connected):
        if len(endpoint.refused) > refused:
            event = endpoint.refused[refused]
            raise StepFailed(
                step, f"the tool refused the station's connection: {event.kind} ({event.reason})"
            )
        if loop.time() > until:
            raise StepFailed(step, f"the station did not connect again within {within:g} s")
        await asyncio.sleep(SLACK)


# --- Basic authentication (A00, A01) ---


@case(
    "TC_A_01_CS",
    "Basic Authentication - Valid username/password combination",
    use_cases=("A00", "B01"),
    requirements=(
        "A00.FR.202",
        "A00.FR.203",
        "A00.FR.204",
        "A00.FR.205",
        "A00.FR.301",
        "A00.FR.302",
        "A00.FR.304",
        "B01.FR.01",
        "B01.FR.05",
        "B01.FR.09",
    ),
    timeout=90.0,
)
async def tc_a_01_cs(tool: StationTool) -> None:
    password = tool.endpoint.settings.password
    if password is None:
        raise StepFailed(1, "the tool runs without a password: Basic auth cannot be judged (give --password)")
    if not PASSWORD.match(password):
        raise StepFailed(1, "BasicAuthPassword must be 16-40 characters of passwordString")
    connections = tool.endpoint.connections
    await booted(tool)  # the server admits the station only with its identity and this password
    if tool.endpoint.connections <= connections:
        raise StepFailed(1, "the station did not connect again after the reset")


def new_password() -> str:
    return "Conf-" + secrets.token_hex(12)  # 29 characters of passwordString


async def restore_password(tool: StationTool, new: str | None) -> None:
    """Outside the verdict: back to the configured password (the station and the tool)."""
    endpoint = tool.endpoint
    original = endpoint.settings.password
    if new is not None and endpoint.is_connected and original is not None:
        status = await set_variable(tool, "after", "SecurityCtrlr", "BasicAuthPassword", original)
        endpoint.set_password(original)
        if status == "RebootRequired":
            connections = endpoint.connections
            await tool.send("after", msg.ResetRequest(type=en.ResetEnumType.IMMEDIATE))
            await reconnected(tool, "after", connections)
    endpoint.set_password(original)


@case(
    "TC_A_09_CS",
    "Update Charging Station Password for HTTP Basic Authentication - Accepted",
    use_cases=("A01",),
    requirements=("A01.FR.01", "A01.FR.11", "A01.FR.12", "B01.FR.01"),
    timeout=2 * BOOT_WITHIN,
)
async def tc_a_09_cs(tool: StationTool) -> None:
    password = new_password()
    endpoint = tool.endpoint
    changed = False
    try:
        status = await set_variable(tool, 1, "SecurityCtrlr", "BasicAuthPassword", password)
        if status not in ("Accepted", "RebootRequired"):
            raise StepFailed(
                2,
                f"SetVariablesResponse.setVariableResult[0].attributeStatus is {status}, "
                "expected Accepted or RebootRequired",
            )
        changed = True
        endpoint.set_password(password)
        connections, refused = endpoint.connections, len(endpoint.refused)
        if status == "RebootRequired":
            await tool.send("2", msg.ResetRequest(type=en.ResetEnumType.IMMEDIATE))
        await reconnected(tool, 3, connections, refused=refused)  # 3. / 4. with the new password
        if status == "RebootRequired":
            await after_boot(tool, "5")  # 5.-8.
    finally:
        try:
            if changed:
                await restore_password(tool, password)
        except StepFailed as failed:  # outside the verdict
            log.warning("TC_A_09_CS: putting the configured password back failed: %s", failed)
        finally:
            endpoint.set_password(endpoint.settings.password)


@case(
    "TC_A_10_CS",
    "Update Charging Station Password for HTTP Basic Authentication - Rejected",
    use_cases=("A01",),
    requirements=("A01.FR.01", "A01.FR.11", "A01.FR.12"),
    timeout=90.0,
)
async def tc_a_10_cs(tool: StationTool) -> None:
    status = await set_variable(
        tool, 1, "SecurityCtrlr", "BasicAuthPassword", "Short-Pass12"
    )  # 12 characters
    if status != "Rejected":
        raise StepFailed(
            2, f"SetVariablesResponse.setVariableResult[0].attributeStatus is {status}, expected Rejected"
        )
    connections = tool.endpoint.connections
    await booted(tool)  # 3.-5.: the server admits the configured (old) password only
    await reconnected(tool, 3, connections, within=1.0)


# --- TLS, server-side certificate (A00) ---


async def booting_over_tls(tool: StationTool, front: TlsFront) -> tuple[int, int]:
    """Reusable State Booting: ResetRequest Immediate (the answer Accepted). Returns the connection and
    handshake counts before."""
    before = tool.endpoint.connections, len(front.handshakes)
    response = await tool.send_as(
        "Booting/1", msg.ResetRequest(type=en.ResetEnumType.IMMEDIATE), msg.ResetResponse
    )
    expect_field("Booting/2", response, "status", "Accepted")
    return before


async def bad_handshake(
    tool: StationTool, step: int, front: TlsFront, since: tuple[int, int], within: float = BOOT_WITHIN
) -> None:
    """Wait until a handshake since ``since`` (connections, handshakes) failed; one that succeeded fails
    ``step``, and so does a connection without TLS (step 1)."""
    connections, handshakes = since
    loop = asyncio.get_running_loop()
    until = loop.time() + within
    while loop.time() < until:
        if tool.endpoint.connections > connections and front.active == 0:
            raise StepFailed(
                1,
                "the station connected without TLS (not through the tool's wss listener): "
                "security profile 2 or 3 is required",
            )
        for handshake in front.handshakes[handshakes:]:
            if handshake.ok:
                raise StepFailed(
                    step, f"the station accepted the handshake ({handshake.version}), expected it to refuse"
                )
            return
        await asyncio.sleep(SLACK)
    raise StepFailed(step, f"the station made no TLS handshake within {within:g} s")


async def connected_over_tls(
    tool: StationTool, step: int, front: TlsFront, connections: int, handshakes: int
) -> None:
    """The station's new connection came through the wss listener, after a successful handshake."""
    await reconnected(tool, step, connections)
    if front.active == 0 or not any(h.ok for h in front.handshakes[handshakes:]):
        raise StepFailed(
            step,
            "the station connected without TLS (not through the tool's wss listener): "
            "security profile 2 or 3 is required",
        )


def check_suites(step: int, front: TlsFront, handshakes: int) -> None:
    handshake = next(h for h in front.handshakes[handshakes:] if h.ok)
    if handshake.version not in ("TLSv1.2", "TLSv1.3"):
        raise StepFailed(step, f"TLS version {handshake.version}, expected 1.2 or above")
    offered = set(handshake.shared_ciphers)
    if handshake.version == "TLSv1.2" and not any(set(pair) <= offered for pair in REQUIRED_SUITE_PAIRS):
        raise StepFailed(
            step,
            "the station does not offer both ECDHE-ECDSA-AES128/256-GCM or both RSA "
            f"AES128/256-GCM suites (offered: {', '.join(sorted(offered))})",
        )


async def boot_and_status(tool: StationTool, boot_step: int, status_step: int) -> None:
    tool.answers.registration = en.RegistrationStatusEnumType.ACCEPTED
    await tool.expect_answered(boot_step, msg.BootNotificationRequest, BOOT_WITHIN)
    await connector_status(tool, status_step, Status.AVAILABLE)


async def security_event(tool: StationTool, step: int, *kinds: str, within: float = 10.0) -> None:
    """A SecurityEventNotification of one of ``kinds``, already received or still to come."""
    if any(isinstance(m, msg.SecurityEventNotificationRequest) and m.type in kinds for m in tool.seen):
        return
    await tool.expect_answered(
        step, msg.SecurityEventNotificationRequest, within, where=lambda r: r.type in kinds
    )


async def refused_then_good(
    tool: StationTool, front: TlsFront, attempts: int, certificate: Issued, *, legacy: bool = False
) -> None:
    """Steps 1-12 of TC_A_05 / A_06: with NetworkProfileConnectionAttempts ``attempts``, the tool presents
    ``certificate`` (``legacy``: TLS below 1.2 only) until the station refused a handshake, then the
    configured certificate: the station boots through the listener."""
    await set_variable(tool, "before", "OCPPCommCtrlr", "NetworkProfileConnectionAttempts", str(attempts))
    front.present(certificate, legacy=legacy)
    try:
        connections, handshakes = await booting_over_tls(tool, front)
        await bad_handshake(tool, 3, front, (connections, handshakes))
    finally:
        front.present(tool.pki().csms_server)  # 5.
    await boot_and_status(tool, 10, 12)
    await connected_over_tls(tool, 4, front, connections, handshakes)


@case(
    "TC_A_04_CS",
    "TLS - server-side certificate - Valid certificate",
    use_cases=("A00",),
    requirements=(
        "A00.FR.309",
        "A00.FR.312",
        "A00.FR.313",
        "A00.FR.319",
        "A00.FR.321",
        "A00.FR.412",
        "A00.FR.422",
    ),
    timeout=4 * BOOT_WITHIN,
)
async def tc_a_04_cs(tool: StationTool) -> None:
    async with on_security_profile(tool, tls_profile(tool)) as front:
        connections, handshakes = await booting_over_tls(tool, front)
        await boot_and_status(tool, 7, 9)  # 7. / 8.; 9. / 10.
        await connected_over_tls(tool, 1, front, connections, handshakes)  # 1.-6., once the station is back
        check_suites(2, front, handshakes)


@case(
    "TC_A_05_CS",
    "TLS - server-side certificate - Invalid certificate",
    use_cases=("A00",),
    requirements=("A00.FR.309", "A00.FR.310", "A00.FR.311", "A00.FR.412", "A00.FR.413", "A00.FR.414"),
    timeout=4 * BOOT_WITHIN,
)
async def tc_a_05_cs(tool: StationTool) -> None:
    async with on_security_profile(tool, tls_profile(tool)) as front:
        # 2.: a certificate signed by a root the station does not know
        await refused_then_good(tool, front, 2, tool.pki().untrusted_server)
        await security_event(tool, 14, "InvalidCsmsCertificate")


@case(
    "TC_A_06_CS",
    "TLS - server-side certificate - TLS version too low",
    use_cases=("A00",),
    requirements=("A00.FR.314", "A00.FR.316", "A00.FR.416", "A00.FR.417", "A00.FR.419"),
    timeout=4 * BOOT_WITHIN,
)
async def tc_a_06_cs(tool: StationTool) -> None:
    async with on_security_profile(tool, tls_profile(tool)) as front:
        await refused_then_good(tool, front, 1, tool.pki().csms_server, legacy=True)  # 2.: TLS below 1.2 only
        # 16. InvalidTLSVersion is optional
        await security_event(tool, 14, "StartupOfTheDevice", "ResetOrReboot")


# --- Upgrade the security profile (A05, B09) ---


def network_profile(tool: StationTool, url: str, security_profile: int) -> msg.SetNetworkProfileRequest:
    configured = tool.configured
    return msg.SetNetworkProfileRequest(
        configuration_slot=configured.station_configuration_slot2,
        connection_data=dt.NetworkConnectionProfileType(
            ocpp_version=en.OCPPVersionEnumType.OCPP20,
            ocpp_transport=en.OCPPTransportEnumType.JSON,
            ocpp_csms_url=url,
            message_timeout=configured.message_timeout,
            security_profile=security_profile,
            ocpp_interface=en.OCPPInterfaceEnumType(configured.ocpp_interface),
        ),
    )


def priority(tool: StationTool) -> str:
    return f"{tool.configured.station_configuration_slot2},{tool.configured.station_configuration_slot}"


@case(
    "TC_A_19_CS",
    "Upgrade Charging Station Security Profile - Accepted",
    use_cases=("A05",),
    requirements=("A05.FR.04", "A05.FR.05", "A05.FR.06"),
    timeout=2 * BOOT_WITHIN,
)
async def tc_a_19_cs(tool: StationTool) -> None:
    profile = active_profile(tool)
    if profile != 1:
        raise StepFailed(
            "before", "the tool upgrades from security profile 1 only (no certificate renewal, A02)"
        )
    front = await tool.endpoint.start_tls()
    front.present(tool.pki().csms_server)
    install = msg.InstallCertificateRequest(
        certificate_type=en.InstallCertificateUseEnumType.CSMS_ROOT_CERTIFICATE,
        certificate=tool.pki().csms_root.pem,
    )
    installed = await tool.send_as("before", install, msg.InstallCertificateResponse)  # CertificateInstalled
    expect_field("before", installed, "status", "Accepted")
    url = tool.endpoint.tls_url
    assert url is not None
    response = await tool.send_as(1, network_profile(tool, url, profile + 1), msg.SetNetworkProfileResponse)
    expect_field(2, response, "status", "Accepted")
    connections, handshakes = tool.endpoint.connections, len(front.handshakes)
    status = await set_variable(tool, 3, "OCPPCommCtrlr", "NetworkConfigurationPriority", priority(tool))
    if status not in ("Accepted", "RebootRequired"):
        raise StepFailed(
            4,
            f"SetVariablesResponse.setVariableResult[0].attributeStatus is {status}, "
            "expected Accepted or RebootRequired",
        )
    if status == "RebootRequired":
        reset = await tool.send_as(5, msg.ResetRequest(type=en.ResetEnumType.ON_IDLE), msg.ResetResponse)
        expect_field(6, reset, "status", "Accepted")
    await after_boot(tool, "9")  # 9. Booted, once the station is back
    await connected_over_tls(tool, 7, front, connections, handshakes)  # 7. / 8.
    tool.endpoint.security_profile = profile + 1
    value = await get_variable(tool, 10, "SecurityCtrlr", "SecurityProfile")
    if value != str(profile + 1):
        raise StepFailed(11, f"SecurityCtrlr.SecurityProfile is {value}, expected {profile + 1}")
    slots = await get_variable(tool, 12, "OCPPCommCtrlr", "NetworkConfigurationPriority")
    if str(tool.configured.station_configuration_slot) in [s.strip() for s in slots.split(",")]:
        raise StepFailed(13, f"NetworkConfigurationPriority {slots} still contains the old slot")


@case(
    "TC_A_20_CS",
    "Upgrade Charging Station Security Profile - No valid CSMSRootCertificate installed",
    use_cases=("A05",),
    requirements=("A05.FR.02",),
    features=("AQ-1",),
    timeout=3 * BOOT_WITHIN,  # set up on profile 1 and back
)
async def tc_a_20_cs(tool: StationTool) -> None:
    async with on_security_profile(tool, 1):  # an upgrade to profile 2 is from profile 1
        kind = en.GetCertificateIdUseEnumType.CSMS_ROOT_CERTIFICATE
        roots = await tool.send_as(
            "before",
            msg.GetInstalledCertificateIdsRequest(certificate_type=[kind]),
            msg.GetInstalledCertificateIdsResponse,
        )
        for entry in roots.certificate_hash_data_chain or []:
            request = msg.DeleteCertificateRequest(certificate_hash_data=entry.certificate_hash_data)
            await tool.send_as("before", request, msg.DeleteCertificateResponse)
        front = await tool.endpoint.start_tls()
        url = front.url(tool.endpoint.settings.path_prefix)
        response = await tool.send_as(1, network_profile(tool, url, 2), msg.SetNetworkProfileResponse)
        expect_field(2, response, "status", "Accepted")
        status = await set_variable(tool, 3, "OCPPCommCtrlr", "NetworkConfigurationPriority", priority(tool))
        if status != "Rejected":
            raise StepFailed(
                4,
                f"SetVariablesResponse.setVariableResult[0].attributeStatus is {status}, expected Rejected",
            )


@case(
    "TC_A_21_CS",
    "Upgrade Charging Station Security Profile - No valid ChargingStationCertificate installed",
    use_cases=("A05",),
    requirements=("A05.FR.03",),
    features=("AQ-1",),
)
async def tc_a_21_cs(tool: StationTool) -> None:
    install = msg.InstallCertificateRequest(
        certificate_type=en.InstallCertificateUseEnumType.CSMS_ROOT_CERTIFICATE,
        certificate=tool.pki().csms_root.pem,
    )
    installed = await tool.send_as("before", install, msg.InstallCertificateResponse)  # a valid CSMS root
    expect_field("before", installed, "status", "Accepted")
    front = await listener(tool, 3)  # the ocppCsmsUrl not in use: the wss listener
    url = front.url(tool.endpoint.settings.path_prefix)
    response = await tool.send_as(1, network_profile(tool, url, 3), msg.SetNetworkProfileResponse)
    expect_field(2, response, "status", "Accepted")
    status = await set_variable(tool, 3, "OCPPCommCtrlr", "NetworkConfigurationPriority", priority(tool))
    if status != "Rejected":
        raise StepFailed(
            4, f"SetVariablesResponse.setVariableResult[0].attributeStatus is {status}, expected Rejected"
        )


@case(
    "TC_A_22_CS",
    "Upgrade Charging Station Security Profile - Downgrade security profile - Rejected",
    use_cases=("A05", "B09"),
    requirements=("B09.FR.04",),
    timeout=3 * BOOT_WITHIN,  # set up on a TLS profile and back
)
async def tc_a_22_cs(tool: StationTool) -> None:
    async with on_security_profile(tool, max(2, active_profile(tool))):
        profile = active_profile(tool)
        response = await tool.send_as(
            1, network_profile(tool, tool.endpoint.url, profile - 1), msg.SetNetworkProfileResponse
        )
        expect_field(2, response, "status", "Rejected")

"""Block B, Provisioning: network connection profiles (B09, B10; Part 6 §2.3), charging-station side.

Readings:
* "OCPPCommCtrl" / "OCPPCommCtrletworkProfileConnectionAttempts" are OCPPCommCtrlr and its
  NetworkProfileConnectionAttempts; "ocplInterface" is ocppInterface; TC_B_49's reset "type Idle" is OnIdle.
* The <Configured ...> connectionData values come from the declaration (``configuration_slot`` /
  ``configuration_slot2``, ``message_timeout``, ``ocpp_interface``, ``security_profile``); the slot "already
  in use" is the first member of OCPPCommCtrlr.NetworkConfigurationPriority, read before step 1, and the
  tool takes the other configured slot. TC_B_43 sends slot 999 with the first configured values.
* "<ocppCsmsUrl that is not currently active>" is a second listening endpoint of the tool on the same host
  (same identity and password, another port); its ocppCsmsUrl leaves out the station identity, as Part 2
  says of that field.
* Step 3 sets NetworkConfigurationPriority to the new slot, then the one in use ("<slot of step 1>,
  <previous slot>"). Step 5 (Reset OnIdle) is sent when step 4 says RebootRequired, or when the station has
  not dropped its connection within 5 s of step 4 (it does not reboot by itself).
* "Execute Reusable State Booted" after the switch: the station's BootNotification (answered Accepted),
  the configured connector's StatusNotification and the SecurityEventNotification (Booted steps 3-8) on
  the endpoint it connects to.
* TC_B_46 / B_49: the new address refuses every connection (step 7 / 8: "not accepted"); TC_B_46 then
  checks that the station tried it at least NetworkProfileConnectionAttempts (2) times before it came back
  to the old address. TC_B_49 also refuses the first attempt on the old address (step 10); the wait of
  RetryBackOffWaitMinimum before the next one (step 11) is not timed.
* After each case (outside the verdict) the tool puts back NetworkConfigurationPriority and the variables it
  changed, and resets the station OnIdle when it is connected to the second endpoint, so that it comes
  back to the first one.
* TC_B_47 / TC_B_50 (a new CSMS root certificate): the station on security profile 2 (3 when declared so) and,
  for B_47 (AS-2), AdditionalRootCertificateCheck true: the configuration states of ``station_tls.py``. The
  roots and the second address's certificate are the PEM files the declaration names
  (``csms_root_certificate_file``, ``csms_root_certificate2_file``, ``alternate_certificate`` /
  ``alternate_private_key``), else the tool's PKI (its CSMS root, the new root it signed, a server certificate
  of each). The Memory State installs the new root with InstallCertificate (Accepted). The new profile keeps
  the station's security profile. TC_B_50's second address presents the certificate signed by the new root;
  TC_B_47's one signed by the old root, so that the station's check fails there and it falls back. Both send
  step 5's Reset OnIdle in any case (the tables have no note there).
* TC_B_47 step 11's "GetInstalledCertificatesRequest" is GetInstalledCertificateIdsRequest; 2.0.1 answers
  with hash data, not certificates: the entry must carry the old root's issuerNameHash, issuerKeyHash and
  serialNumber (hex, compared without case or leading zeros) in the hashAlgorithm it names.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.cs.b_device_model import current_value, set_data, set_variables
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.station_states import BOOT_WITHIN, after_boot
from chargeplane.tools.conformance.station_steps import CsmsEndpoint, StationTool, alternate_endpoint
from chargeplane.tools.conformance.station_tls import (
    active_profile,
    on_security_profile,
    root_certificate_check,
    tls_profile,
)
from chargeplane.transport.security import CertificateFiles, TlsSettings

COMM = "OCPPCommCtrlr"
PRIORITY = "NetworkConfigurationPriority"
ATTEMPTS = "NetworkProfileConnectionAttempts"
AUTO_REBOOT_WAIT = 5.0  # seconds the tool waits for a station that reboots by itself after step 4
MANY = 10_000  # refusals that outlast any case


def profile(
    tool: StationTool, url: str, security_profile: int | None = None
) -> dt.NetworkConnectionProfileType:
    configured = tool.configured
    return dt.NetworkConnectionProfileType(
        ocpp_version=en.OCPPVersionEnumType.OCPP20,
        ocpp_transport=en.OCPPTransportEnumType.JSON,
        ocpp_csms_url=url,
        message_timeout=configured.message_timeout,
        security_profile=configured.security_profile if security_profile is None else security_profile,
        ocpp_interface=en.OCPPInterfaceEnumType(configured.ocpp_interface),
    )


async def reconnected(endpoint: CsmsEndpoint, since: int, step: int | str, within: float) -> None:
    """Wait until the station has connected to ``endpoint`` again (more than ``since`` connections)."""
    tick = 0.1
    for _ in range(int(within / tick)):  # polled: the endpoint counts connections, it has no event per one
        if endpoint.connections > since and endpoint.is_connected:
            return
        await asyncio.sleep(tick)
    raise StepFailed(step, f"the station did not connect to {endpoint.url} within {within:g} s")


async def set_profile(
    tool: StationTool, url: str, security_profile: int | None = None
) -> tuple[str | None, int]:
    """Steps 1-4: the new profile in the free slot, then its priority first. Returns the previous
    NetworkConfigurationPriority (to put back) and whether step 4 asked for a reboot (1) or not (0)."""
    configured = tool.configured
    previous = await current_value(tool, "before", COMM, PRIORITY)
    in_use = (previous or "").split(",")[0].strip()
    slot = (
        configured.configuration_slot2
        if in_use == str(configured.configuration_slot)
        else configured.configuration_slot
    )
    data = profile(tool, url, security_profile)
    request = msg.SetNetworkProfileRequest(configuration_slot=slot, connection_data=data)
    response = await tool.send_as(1, request, msg.SetNetworkProfileResponse)
    expect_field(2, response, "status", "Accepted")
    priority = f"{slot},{in_use}" if in_use else str(slot)
    result = await set_variables(tool, 3, set_data(COMM, PRIORITY, priority))
    status = expect_field(4, result, "setVariableResult[0].attributeStatus", "Accepted", "RebootRequired")
    return previous, int(str(status) == "RebootRequired")


async def reboot_if_needed(tool: StationTool, reboot_required: int) -> None:
    """Step 5 / 6: Reset OnIdle when step 4 asked for it or the station does not reboot by itself."""
    if not reboot_required:
        tick = 0.1
        for _ in range(int(AUTO_REBOOT_WAIT / tick)):  # polled: a reboot shows as a lost connection
            if not tool.endpoint.is_connected:
                return
            await asyncio.sleep(tick)
    response = await tool.send_as(5, msg.ResetRequest(type=en.ResetEnumType.ON_IDLE), msg.ResetResponse)
    expect_field(6, response, "status", "Accepted")


async def put_back(tool: StationTool, values: dict[str, str | None]) -> None:
    """Outside the verdict: the station's previous values, on whichever endpoint it is connected to."""
    for variable, value in values.items():
        if value is not None and tool.endpoint.is_connected:
            await set_variables(tool, "after", set_data(COMM, variable, value))


async def back_home(tool: StationTool, alternate: StationTool, previous: str | None) -> None:
    """Outside the verdict: from the second endpoint back to the first one (priority, then a reset)."""
    if not alternate.endpoint.is_connected:
        return
    await put_back(alternate, {PRIORITY: previous})
    since = tool.endpoint.connections
    await alternate.send_as("after", msg.ResetRequest(type=en.ResetEnumType.ON_IDLE), msg.ResetResponse)
    await reconnected(tool.endpoint, since, "after", BOOT_WITHIN)
    await tool.expect_answered("after", msg.BootNotificationRequest, BOOT_WITHIN)


@case(
    "TC_B_43_CS",
    "Set new NetworkConnectionProfile - Rejected",
    use_cases=("B09",),
    requirements=("B09.FR.02",),
)
async def tc_b_43_cs(tool: StationTool) -> None:
    request = msg.SetNetworkProfileRequest(
        configuration_slot=999, connection_data=profile(tool, tool.endpoint.url)
    )
    response = await tool.send_as(1, request, msg.SetNetworkProfileResponse)
    expect_field(2, response, "status", "Rejected")


@case(
    "TC_B_45_CS",
    "Migrate to new ConnectionProfile - Success - Same CSMS Root",
    use_cases=("B09", "B10"),
    requirements=("B09.FR.01", "B10.FR.01", "B10.FR.04", "B10.FR.06"),
    timeout=150.0 + 4 * BOOT_WITHIN,  # with the configuration states' boots
)
async def tc_b_45_cs(tool: StationTool) -> None:
    async with alternate_endpoint(tool.endpoint) as other:
        alternate = StationTool(other, tool.adapter, tool.configured)
        previous: str | None = None
        try:
            previous, reboot_required = await set_profile(tool, other.url)
            await reboot_if_needed(tool, reboot_required)
            await other.wait_connected(7, BOOT_WITHIN)  # 7. Booted, on the new address
            await after_boot(alternate, "Booted/3")
        finally:
            await back_home(tool, alternate, previous)
            if not other.is_connected:
                await put_back(tool, {PRIORITY: previous})


@case(
    "TC_B_46_CS",
    "Migrate to new ConnectionProfile - Fallback mechanism - Same CSMS Root",
    use_cases=("B10",),
    requirements=("B10.FR.03", "B10.FR.04"),
    timeout=150.0 + 4 * BOOT_WITHIN,  # with the configuration states' boots
)
async def tc_b_46_cs(tool: StationTool) -> None:
    attempts = await current_value(tool, "before", COMM, ATTEMPTS)
    result = await set_variables(tool, "before", set_data(COMM, ATTEMPTS, "2"))
    expect_field("before", result, "setVariableResult[0].attributeStatus", "Accepted")
    async with alternate_endpoint(tool.endpoint) as other:
        other.refuse_connections(MANY)  # 7. the new address does not accept the station
        previous: str | None = None
        try:
            previous, reboot_required = await set_profile(tool, other.url)
            since = tool.endpoint.connections
            await reboot_if_needed(tool, reboot_required)
            await reconnected(tool.endpoint, since, 8, BOOT_WITHIN * 2)  # 8. back on the old address
            refused = MANY - other.refusals_left
            if refused < 2:
                raise StepFailed(7, f"the station tried the new address {refused} time(s), expected 2")
            await after_boot(tool, "Booted/3")  # 9.
        finally:
            await put_back(tool, {PRIORITY: previous, ATTEMPTS: attempts})


@case(
    "TC_B_49_CS",
    "Migrate to new ConnectionProfile - Fallback after NetworkProfileConnectionAttempts per "
    "NetworkConfigurationPriority failed - Same CSMS Root",
    use_cases=("B10",),
    requirements=("B10.FR.07",),
    features=("C-47",),
    timeout=150.0 + 4 * BOOT_WITHIN,  # with the configuration states' boots
)
async def tc_b_49_cs(tool: StationTool) -> None:
    wait_minimum = str(tool.configured.retry_backoff_wait_minimum)
    settings = {
        ATTEMPTS: "1",
        "RetryBackOffRepeatTimes": "0",
        "RetryBackOffRandomRange": "0",
        "RetryBackOffWaitMinimum": wait_minimum,
    }
    originals = {name: await current_value(tool, "before", COMM, name) for name in settings}
    for name, value in settings.items():
        result = await set_variables(tool, "before", set_data(COMM, name, value))
        expect_field("before", result, "setVariableResult[0].attributeStatus", "Accepted")
    async with alternate_endpoint(tool.endpoint) as other:
        other.refuse_connections(MANY)  # 7. / 8. the new address does not accept the station
        previous: str | None = None
        try:
            previous, reboot_required = await set_profile(tool, other.url)
            tool.endpoint.refuse_connections(1)  # 9. / 10. nor does the old address, once
            since = tool.endpoint.connections
            await reboot_if_needed(tool, reboot_required)
            await reconnected(tool.endpoint, since, 12, BOOT_WITHIN * 2)  # 11. / 12. accepted after the wait
            if other.refusals_left == MANY:
                raise StepFailed(7, "the station did not try the new address")
            await after_boot(tool, "Booted/3")  # 13.
        finally:
            tool.endpoint.refuse_connections(0)
            await put_back(tool, {PRIORITY: previous, **originals})


# ------------------------------------------------------------------ a new CSMS root (TC_B_47, TC_B_50)
def read_pem(path: str, what: str) -> str:
    if not path:
        raise StepFailed("before", f"the declaration names no {what} ([configured])")
    return Path(path).read_text(encoding="ascii")


@dataclass(frozen=True)
class NewRoot:
    """The CSMS roots of TC_B_47 / B_50 and what the second address presents: the declaration's PEM files, or
    the tool's PKI (its CSMS root, the new root it signed, their server certificates)."""

    old_root: str  # PEM
    new_root: str  # PEM
    alternate: TlsSettings | None  # the second address's TLS (None: as the tool's own endpoint)


def new_root(tool: StationTool, *, new_server: bool) -> NewRoot:
    """``new_server``: the second address presents a certificate of the new root (B_50), else of the old one
    (B_47)."""
    configured = tool.configured
    if configured.csms_root_certificate2_file:
        old = read_pem(configured.csms_root_certificate_file, "csms_root_certificate_file")
        new = read_pem(configured.csms_root_certificate2_file, "csms_root_certificate2_file")
        if not new_server:
            return NewRoot(old, new, None)
        for path, what in (
            (configured.alternate_certificate, "alternate_certificate"),
            (configured.alternate_private_key, "alternate_private_key"),
        ):
            read_pem(path, what)  # fail before the station is changed
        files = CertificateFiles(
            Path(configured.alternate_certificate), Path(configured.alternate_private_key)
        )
        return NewRoot(old, new, TlsSettings(certificates=(files,)))
    pki = tool.pki()
    server = pki.csms_server_new if new_server else pki.csms_server
    files = CertificateFiles(*pki.files(server))
    return NewRoot(pki.csms_root.pem, pki.csms_root_new.pem, TlsSettings(certificates=(files,)))


async def install_new_root(tool: StationTool, pem: str) -> None:
    """Memory State CertificateInstalled: the new CSMS root certificate."""
    request = msg.InstallCertificateRequest(
        certificate_type=en.InstallCertificateUseEnumType.CSMS_ROOT_CERTIFICATE, certificate=pem
    )
    response = await tool.send_as("before", request, msg.InstallCertificateResponse)
    expect_field("before", response, "status", "Accepted")


async def reset_on_idle(tool: StationTool) -> None:
    response = await tool.send_as(5, msg.ResetRequest(type=en.ResetEnumType.ON_IDLE), msg.ResetResponse)
    expect_field(6, response, "status", "Accepted")


HASHES: dict[str, hashes.HashAlgorithm] = {
    "SHA256": hashes.SHA256(),
    "SHA384": hashes.SHA384(),
    "SHA512": hashes.SHA512(),
}


def hash_data(pem: str, algorithm: str) -> tuple[str, str, str]:
    """(issuerNameHash, issuerKeyHash, serialNumber) of a self-signed root, as CertificateHashDataType has
    them: hashes of the issuer's DER name and of its public key bits, the serial in hex."""
    certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        key_bits = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    elif isinstance(key, rsa.RSAPublicKey):
        key_bits = key.public_bytes(Encoding.DER, PublicFormat.PKCS1)
    else:
        raise StepFailed("post", f"the old CSMS root has a {type(key).__name__}: not comparable")

    def digest(data: bytes) -> str:
        h = hashes.Hash(HASHES[algorithm])
        h.update(data)
        return h.finalize().hex()

    return digest(certificate.issuer.public_bytes()), digest(key_bits), format(certificate.serial_number, "x")


@case(
    "TC_B_47_CS",
    "Migrate to new ConnectionProfile - Fallback after NetworkProfileConnectionAttempts per "
    "NetworkConfigurationPriority failed - New CSMS Root - New CSMS",
    use_cases=("B09", "B10", "M05"),
    requirements=("B10.FR.07", "M05.FR.15", "M05.FR.16"),
    features=("AS-2", "C-47"),
    timeout=150.0 + 4 * BOOT_WITHIN,  # with the configuration states' boots
)
async def tc_b_47_cs(tool: StationTool) -> None:
    roots = new_root(tool, new_server=False)
    tls = tls_profile(tool)
    async with root_certificate_check(tool), on_security_profile(tool, tls):
        attempts = await current_value(tool, "before", COMM, ATTEMPTS)
        result = await set_variables(tool, "before", set_data(COMM, ATTEMPTS, "1"))
        expect_field("before", result, "setVariableResult[0].attributeStatus", "Accepted")
        await install_new_root(tool, roots.new_root)
        # 7. a certificate signed by the old root
        async with alternate_endpoint(tool.endpoint, roots.alternate) as other:
            previous: str | None = None
            try:
                previous, _ = await set_profile(tool, other.url, active_profile(tool))
                since = tool.endpoint.connections
                await reset_on_idle(tool)
                await reconnected(tool.endpoint, since, 9, BOOT_WITHIN * 2)  # 8. fails, 9. the old profile
                if other.connections:
                    raise StepFailed(
                        8, "the station accepted a CSMS certificate that its new root does not sign"
                    )
                await after_boot(tool, "Booted/3")  # 10.
                request = msg.GetInstalledCertificateIdsRequest(
                    certificate_type=[en.GetCertificateIdUseEnumType.CSMS_ROOT_CERTIFICATE]
                )
                response = await tool.send_as(11, request, msg.GetInstalledCertificateIdsResponse)
                expect_field(12, response, "status", "Accepted")
                if not lists_root(response, roots.old_root):
                    raise StepFailed(12, "certificateHashDataChain has no entry for the old CSMS root")
            finally:
                await put_back(tool, {PRIORITY: previous, ATTEMPTS: attempts})


def lists_root(response: msg.GetInstalledCertificateIdsResponse, root: str) -> bool:
    """Whether the answer lists ``root`` (PEM) as a CSMSRootCertificate, in the hash algorithm it names."""
    chain = (
        response.certificate_hash_data_chain if isinstance(response.certificate_hash_data_chain, list) else []
    )
    for entry in chain:
        data = entry.certificate_hash_data
        name, key, serial = hash_data(root, str(data.hash_algorithm))
        if (
            entry.certificate_type is en.GetCertificateIdUseEnumType.CSMS_ROOT_CERTIFICATE
            and data.issuer_name_hash.lower() == name
            and data.issuer_key_hash.lower() == key
            and data.serial_number.lower().lstrip("0") == serial.lstrip("0")
        ):
            return True
    return False


@case(
    "TC_B_50_CS",
    "Migrate to new ConnectionProfile - Success - New CSMS Root - New CSMS",
    use_cases=("B10", "M05"),
    requirements=("M05.FR.13",),
    timeout=150.0 + 4 * BOOT_WITHIN,  # with the configuration states' boots
)
async def tc_b_50_cs(tool: StationTool) -> None:
    roots = new_root(tool, new_server=True)
    async with on_security_profile(tool, tls_profile(tool)):
        await install_new_root(tool, roots.new_root)
        async with alternate_endpoint(tool.endpoint, roots.alternate) as other:
            alternate = StationTool(other, tool.adapter, tool.configured)
            previous: str | None = None
            try:
                previous, _ = await set_profile(tool, other.url, active_profile(tool))
                await reset_on_idle(tool)
                await other.wait_connected(7, BOOT_WITHIN)  # 7. / 8. the certificate of the new root
                await after_boot(alternate, "Booted/3")  # 9.
            finally:
                await back_home(tool, alternate, previous)
                if not other.is_connected:
                    await put_back(tool, {PRIORITY: previous})

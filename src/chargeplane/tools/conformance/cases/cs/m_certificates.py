"""Block M, ISO 15118 and CA certificate management (Part 6 §2.12): installing, listing and deleting the
CA certificates of a charging station.

Readings:
* The certificates are the tool's test PKI (``pki.py``), made per run: the "configured" CSMS root certificate
  installed by CertificateInstalled is the PKI's self-signed "Root 2", the manufacturer root its manufacturer
  root. The "configured old CSMS root" (M_09, M_30, M_31) is the root of the tool's wss server certificate,
  which a station on security profile 2 or 3 was given to connect to the tool.
* Reusable State GetInstalledCertificates: status Accepted and an entry of the type whose hash data matches
  the certificate (hex compared case-insensitively, the serial without leading zeros; the hash algorithm the
  station chose). TC_M_22_CS's step 1 names no certificate: only its status is judged.
* TC_M_07_CS step 4: the certificate that must be missing is the expired one of step 1 (the table names the
  new CSMS root, which an earlier case may well have installed).
* TC_M_19_CS's before: every MORootCertificate the station lists is deleted first.
* TC_M_20_CS: the certificate deleted is the tool's Root 2, installed first when the station does not list it
  (deleting the root the station's own connection depends on would cut the test short).
* TC_M_09_CS, TC_M_30_CS, TC_M_31_CS: configuration states (``station_tls.py``): AdditionalRootCertificateCheck
  true, and the station on security profile 2 (3 when declared so) with the tool's old CSMS root as its only
  one. The new CSMS root is the PKI's root signed by the old one. The security profile 3 certificate renewal
  of M_30's memory state is not done. The reconnection must come through the tool's wss listener; the
  handshake that failed (M_31 step 4) is required.
"""

from __future__ import annotations

from cryptography import x509

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_absent, expect_field
from chargeplane.tools.conformance.pki import Issued, hash_data, same_certificate
from chargeplane.tools.conformance.station_states import BOOT_WITHIN, after_boot
from chargeplane.tools.conformance.station_steps import StationTool
from chargeplane.tools.conformance.station_tls import on_security_profile, root_certificate_check, tls_profile

Use = en.GetCertificateIdUseEnumType
Install = en.InstallCertificateUseEnumType
CSMS_ROOT, MANUFACTURER_ROOT = Use.CSMS_ROOT_CERTIFICATE, Use.MANUFACTURER_ROOT_CERTIFICATE


def entry_of(
    response: msg.GetInstalledCertificateIdsResponse,
    kind: Use,
    certificate: Issued,
    issuer: Issued | None = None,
) -> dt.CertificateHashDataType | None:
    """The hash data by which the response lists ``certificate`` as ``kind`` (hashed with the algorithm the
    station used), or None."""
    parent = issuer.certificate if issuer is not None else None
    for entry in response.certificate_hash_data_chain or []:
        ours = hash_data(certificate.certificate, parent, entry.certificate_hash_data.hash_algorithm)
        if entry.certificate_type is kind and same_certificate(entry.certificate_hash_data, ours):
            return entry.certificate_hash_data
    return None


def listed(
    response: msg.GetInstalledCertificateIdsResponse,
    kind: Use,
    certificate: Issued,
    issuer: Issued | None = None,
) -> bool:
    return entry_of(response, kind, certificate, issuer) is not None


async def get_installed(
    tool: StationTool, step: int | str, *kinds: Use
) -> msg.GetInstalledCertificateIdsResponse:
    request = (
        msg.GetInstalledCertificateIdsRequest(certificate_type=list(kinds))
        if kinds
        else (msg.GetInstalledCertificateIdsRequest())
    )
    return await tool.send_as(step, request, msg.GetInstalledCertificateIdsResponse)


async def get_installed_certificates(
    tool: StationTool, step: int | str, expected: list[tuple[Use, Issued, Issued | None]], *kinds: Use
) -> msg.GetInstalledCertificateIdsResponse:
    """Reusable State GetInstalledCertificates: Accepted, listing each of ``expected`` (type, certificate,
    issuer). ``kinds`` default to the expected types."""
    asked = kinds or tuple(dict.fromkeys(kind for kind, _, _ in expected))
    response = await get_installed(tool, step, *asked)
    expect_field(step, response, "status", "Accepted")
    for kind, certificate, issuer in expected:
        if not listed(response, kind, certificate, issuer):
            raise StepFailed(
                step, f"certificateHashDataChain has no {kind.value} entry for {_name(certificate)}"
            )
    return response


def _name(certificate: Issued) -> str:
    names = certificate.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else "the tool's certificate"


async def certificate_installed(
    tool: StationTool, step: int | str, kind: Install, certificate: Issued
) -> None:
    """Reusable (memory) State CertificateInstalled: InstallCertificateRequest answered Accepted."""
    request = msg.InstallCertificateRequest(certificate_type=kind, certificate=certificate.pem)
    response = await tool.send_as(step, request, msg.InstallCertificateResponse)
    expect_field(step, response, "status", "Accepted")


# --- Retrieve certificates (M03) ---


@case(
    "TC_M_12_CS",
    "Retrieve certificates from Charging Station - CSMSRootCertificate",
    use_cases=("M03",),
    requirements=("M03.FR.01", "M03.FR.03", "M03.FR.04"),
)
async def tc_m_12_cs(tool: StationTool) -> None:
    root = tool.pki().csms_root_2
    await certificate_installed(tool, "before", Install.CSMS_ROOT_CERTIFICATE, root)
    await get_installed_certificates(tool, 1, [(CSMS_ROOT, root, None)])


@case(
    "TC_M_13_CS",
    "Retrieve certificates from Charging Station - ManufacturerRootCertificate",
    use_cases=("M03",),
    requirements=("M03.FR.01", "M03.FR.03", "M03.FR.04"),
)
async def tc_m_13_cs(tool: StationTool) -> None:
    root = tool.pki().manufacturer_root
    await certificate_installed(tool, "before", Install.MANUFACTURER_ROOT_CERTIFICATE, root)
    await get_installed_certificates(tool, 1, [(MANUFACTURER_ROOT, root, None)])


async def both_roots_installed(tool: StationTool) -> list[tuple[Use, Issued, Issued | None]]:
    pki = tool.pki()
    await certificate_installed(tool, "before", Install.CSMS_ROOT_CERTIFICATE, pki.csms_root_2)
    await certificate_installed(tool, "before", Install.MANUFACTURER_ROOT_CERTIFICATE, pki.manufacturer_root)
    return [(CSMS_ROOT, pki.csms_root_2, None), (MANUFACTURER_ROOT, pki.manufacturer_root, None)]


@case(
    "TC_M_17_CS",
    "Retrieve certificates from Charging Station - CSMSRootCertificate & ManufacturerRootCertificate",
    use_cases=("M03",),
    requirements=("M03.FR.01", "M03.FR.03", "M03.FR.04"),
)
async def tc_m_17_cs(tool: StationTool) -> None:
    expected = await both_roots_installed(tool)
    await get_installed_certificates(tool, 1, expected)


@case(
    "TC_M_18_CS",
    "Retrieve certificates from Charging Station - All certificateTypes",
    use_cases=("M03",),
    requirements=("M03.FR.01", "M03.FR.03", "M03.FR.04"),
)
async def tc_m_18_cs(tool: StationTool) -> None:
    expected = await both_roots_installed(tool)
    response = await get_installed(tool, 1)  # certificateType omitted: all types
    expect_field(2, response, "status", "Accepted")
    for kind, certificate, issuer in expected:
        if not listed(response, kind, certificate, issuer):
            raise StepFailed(
                2, f"certificateHashDataChain has no {kind.value} entry for {_name(certificate)}"
            )


@case(
    "TC_M_19_CS",
    "Retrieve certificates from Charging Station - No matching certificate found",
    use_cases=("M03",),
    requirements=("M03.FR.01", "M03.FR.02"),
)
async def tc_m_19_cs(tool: StationTool) -> None:
    mo_root = Use.MO_ROOT_CERTIFICATE
    before = await get_installed(tool, "before", mo_root)
    for entry in before.certificate_hash_data_chain or []:
        request = msg.DeleteCertificateRequest(certificate_hash_data=entry.certificate_hash_data)
        await tool.send_as("before", request, msg.DeleteCertificateResponse)
    response = await get_installed(tool, 1, mo_root)
    expect_field(2, response, "status", "NotFound")
    expect_absent(2, response, "certificateHashDataChain")


# --- Delete a certificate (M04) ---


@case(
    "TC_M_20_CS",
    "Delete a certificate from a Charging Station - Success",
    use_cases=("M04",),
    requirements=("M04.FR.01", "M04.FR.02"),
)
async def tc_m_20_cs(tool: StationTool) -> None:
    root = tool.pki().csms_root_2
    before = await get_installed(tool, "before", CSMS_ROOT)
    if not listed(before, CSMS_ROOT, root):
        await certificate_installed(tool, "before", Install.CSMS_ROOT_CERTIFICATE, root)
    response = await get_installed_certificates(tool, 1, [(CSMS_ROOT, root, None)])
    entry = entry_of(response, CSMS_ROOT, root)
    assert entry is not None  # step 1 checked it is listed
    deleted = await tool.send_as(
        2, msg.DeleteCertificateRequest(certificate_hash_data=entry), msg.DeleteCertificateResponse
    )
    expect_field(3, deleted, "status", "Accepted")
    after = await get_installed(tool, 4, CSMS_ROOT)
    if listed(after, CSMS_ROOT, root):
        raise StepFailed(4, "the deleted CSMSRootCertificate is still listed")


@case(
    "TC_M_22_CS",
    "Delete a certificate from a Charging Station - No matching certificate found",
    use_cases=("M04",),
    requirements=("M04.FR.01", "M04.FR.04"),
)
async def tc_m_22_cs(tool: StationTool) -> None:
    response = await get_installed(tool, 1, CSMS_ROOT)
    expect_field(1, response, "status", "Accepted")
    request = msg.DeleteCertificateRequest(certificate_hash_data=tool.pki().unknown_hash_data())
    deleted = await tool.send_as(2, request, msg.DeleteCertificateResponse)
    expect_field(3, deleted, "status", "NotFound")


# --- Install CA certificate (M05) ---


@case(
    "TC_M_01_CS",
    "Install CA certificate - CSMSRootCertificate",
    use_cases=("M05",),
    requirements=("M05.FR.01", "M05.FR.02"),
)
async def tc_m_01_cs(tool: StationTool) -> None:
    root = tool.pki().csms_root_2
    await certificate_installed(tool, 1, Install.CSMS_ROOT_CERTIFICATE, root)
    await get_installed_certificates(tool, 2, [(CSMS_ROOT, root, None)])


@case(
    "TC_M_02_CS",
    "Install CA certificate - ManufacturerRootCertificate",
    use_cases=("M05",),
    requirements=("M05.FR.01", "M05.FR.02"),
)
async def tc_m_02_cs(tool: StationTool) -> None:
    root = tool.pki().manufacturer_root
    await certificate_installed(tool, 1, Install.MANUFACTURER_ROOT_CERTIFICATE, root)
    await get_installed_certificates(tool, 2, [(MANUFACTURER_ROOT, root, None)])


@case(
    "TC_M_07_CS",
    "Install CA certificate - Rejected - Certificate invalid",
    use_cases=("M05",),
    requirements=("M05.FR.01", "M05.FR.07"),
)
async def tc_m_07_cs(tool: StationTool) -> None:
    expired = tool.pki().expired_root
    request = msg.InstallCertificateRequest(
        certificate_type=Install.CSMS_ROOT_CERTIFICATE, certificate=expired.pem
    )
    response = await tool.send_as(1, request, msg.InstallCertificateResponse)
    expect_field(2, response, "status", "Rejected")
    installed = await get_installed(tool, 3, CSMS_ROOT)
    expect_field(4, installed, "status", "Accepted")
    if listed(installed, CSMS_ROOT, expired):
        raise StepFailed(4, "the rejected (expired) certificate is listed as a CSMSRootCertificate")


@case(
    "TC_M_09_CS",
    "Install CA certificate - AdditionalRootCertificateCheck - Rejected",
    use_cases=("M05",),
    requirements=("M05.FR.10", "M05.FR.11"),
    features=("AS-2",),
    timeout=4 * BOOT_WITHIN,  # the configuration states: two boots each
)
async def tc_m_09_cs(tool: StationTool) -> None:
    pki = tool.pki()
    async with root_certificate_check(tool), on_security_profile(tool, tls_profile(tool)):
        request = msg.InstallCertificateRequest(
            certificate_type=Install.CSMS_ROOT_CERTIFICATE,
            certificate=pki.csms_root_2.pem,  # not signed by the old
        )
        response = await tool.send_as(1, request, msg.InstallCertificateResponse)
        expect_field(2, response, "status", "Rejected")
        await get_installed_certificates(tool, 3, [(CSMS_ROOT, pki.csms_root, None)])


async def reconnect_with(tool: StationTool, server: Issued) -> int:
    """Steps 1-2 of TC_M_30 / TC_M_31: the tool's wss listener presents ``server`` from now on; Reset OnIdle.
    Returns how many TLS handshakes had been made before."""
    front = await tool.endpoint.start_tls()
    front.present(server)
    handshakes = len(front.handshakes)
    response = await tool.send_as(1, msg.ResetRequest(type=en.ResetEnumType.ON_IDLE), msg.ResetResponse)
    expect_field(2, response, "status", "Accepted")
    return handshakes


async def booted_over_tls(tool: StationTool, step: int, connections: int) -> None:
    """The station is back (Reusable State Booted after the reset), connected through the wss listener."""
    await after_boot(tool, f"{step}")
    front = tool.endpoint.tls
    if tool.endpoint.connections <= connections or front is None or front.active == 0:
        raise StepFailed(step, "the station reconnected without TLS (not through the tool's wss listener)")


@case(
    "TC_M_30_CS",
    "Install CA certificate - AdditionalRootCertificateCheck - Reconnect using new CSMS Root - Success",
    use_cases=("M05",),
    requirements=("M05.FR.13",),
    features=("AS-2",),
    timeout=5 * BOOT_WITHIN,  # the configuration states: two boots each
)
async def tc_m_30_cs(tool: StationTool) -> None:
    pki = tool.pki()
    async with root_certificate_check(tool), on_security_profile(tool, tls_profile(tool)):
        await certificate_installed(tool, "before", Install.CSMS_ROOT_CERTIFICATE, pki.csms_root_new)
        connections = tool.endpoint.connections
        await reconnect_with(
            tool, pki.csms_server_new
        )  # 1. / 2., then 3. / 4. the handshake with the new root
        await booted_over_tls(tool, 5, connections)
        response = await get_installed(tool, 6, CSMS_ROOT)
        expect_field(7, response, "status", "Accepted")
        if listed(response, CSMS_ROOT, pki.csms_root):
            raise StepFailed(7, "the old CSMS root certificate is still listed after the new one was used")


@case(
    "TC_M_31_CS",
    "Install CA certificate - AdditionalRootCertificateCheck - Reconnect using new CSMS Root - Failback mechanism",
    use_cases=("M05",),
    requirements=("M05.FR.14",),
    features=("AS-2",),
    timeout=5 * BOOT_WITHIN,  # the configuration states: two boots each
)
async def tc_m_31_cs(tool: StationTool) -> None:
    pki = tool.pki()
    async with root_certificate_check(tool), on_security_profile(tool, tls_profile(tool)):
        await certificate_installed(tool, "before", Install.CSMS_ROOT_CERTIFICATE, pki.csms_root_new)
        connections = tool.endpoint.connections
        handshakes = await reconnect_with(
            tool, pki.csms_server
        )  # 3.: still the old root's server certificate
        await booted_over_tls(tool, 6, connections)
        front = tool.endpoint.tls
        if front is None or not any(not h.ok for h in front.handshakes[handshakes:]):
            raise StepFailed(4, "no TLS handshake failed: the station did not try the new CSMS root first")
        await get_installed_certificates(tool, 7, [(CSMS_ROOT, pki.csms_root, None)])

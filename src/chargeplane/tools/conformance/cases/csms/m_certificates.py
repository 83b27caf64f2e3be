"""Block M, ISO 15118 certificate management (Part 6 §3.14), CSMS side: the CA certificates of a station.

Readings:
* "<The configured certificate of the specified certificateType>" is the declaration's
  ``csms_root_certificate`` / ``manufacturer_root_certificate`` (PEM); left empty, the tool makes a
  self-signed CA certificate for the run. The manual action names the certificate the CSMS is to send.
* The hash data the tool reports for a certificate (GetInstalledCertificateIds) are computed from it as
  Part 2 says: the hash of the issuer's DER name, of the issuer's public key, and the serial number in hex.
* TC_M_20: steps 1-5 run once per hash algorithm (SHA256, SHA384, SHA512), the station reporting the hash
  data in that algorithm. "certificatuetype" / "certificatuehashAlgorithm" read as certificateType /
  hashAlgorithm of certificateHashDataChain[0]; "certificateDataChain" is certificateHashDataChain.
  The manual action "send a DeleteCertificateRequest" leads the CSMS through both requests (it learns the
  hash data with GetInstalledCertificateIds first); the tool asks for each in turn.
* TC_M_20 / M_21: the DeleteCertificateRequest must carry exactly the hash data reported before.
* TC_M_05's table ends after the response (no checks): the tool checks the certificate type it asked for.
* TC_M_18: "all certificates stored at the OCTT truststore" are the tool's two configured CA certificates.
* TC_M_03 / M_04 / M_14 / M_16 (ISO 15118): the configured V2G root (``v2g_root_certificate``), else, as for
  the MO root, a self-signed one the tool makes for the run.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.adapter import SendCommand
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.steps import CsmsTool

CSMS_ROOT = "CSMSRootCertificate"
MANUFACTURER_ROOT = "ManufacturerRootCertificate"
V2G_ROOT = "V2GRootCertificate"
MO_ROOT = "MORootCertificate"
V2G_CHAIN = "V2GCertificateChain"
HASHES: dict[en.HashAlgorithmEnumType, type[hashes.HashAlgorithm]] = {
    en.HashAlgorithmEnumType.SHA256: hashes.SHA256,
    en.HashAlgorithmEnumType.SHA384: hashes.SHA384,
    en.HashAlgorithmEnumType.SHA512: hashes.SHA512,
}


@functools.cache
def self_signed(common_name: str) -> str:
    """A CA certificate for a run without a configured one (PEM), one per name and process."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def configured_certificate(tool: CsmsTool, certificate_type: str) -> str:
    c = tool.configured
    if certificate_type == CSMS_ROOT:
        return c.csms_root_certificate or self_signed("Chargeplane conformance CSMS root")
    if certificate_type == MANUFACTURER_ROOT:
        return c.manufacturer_root_certificate or self_signed("Chargeplane conformance manufacturer root")
    if certificate_type == V2G_ROOT and c.v2g_root_certificate:
        return c.v2g_root_certificate
    return self_signed(f"Chargeplane conformance {certificate_type}")


def hash_data(pem: str, algorithm: en.HashAlgorithmEnumType) -> dt.CertificateHashDataType:
    """The certificate's hash data (a root: its own name and key are the issuer's)."""
    certificate = x509.load_pem_x509_certificate(pem.encode())
    public_key = certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):  # the tool's own are EC; others: the raw key
        key_bytes = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    else:
        key_bytes = public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def digest(data: bytes) -> str:
        hasher = hashes.Hash(HASHES[algorithm]())
        hasher.update(data)
        return hasher.finalize().hex()

    return dt.CertificateHashDataType(
        hash_algorithm=algorithm,
        issuer_name_hash=digest(certificate.issuer.public_bytes()),
        issuer_key_hash=digest(key_bytes),
        serial_number=format(certificate.serial_number, "x"),
    )


async def certificate_installed(
    tool: CsmsTool, certificate_type: str, status: en.InstallCertificateStatusEnumType, step: int | str
) -> None:
    """Reusable State CertificateInstalled (and TC_M_05, answered Failed): the CSMS installs the configured
    certificate of ``certificate_type``."""
    certificate = configured_certificate(tool, certificate_type)
    payload = {"certificateType": certificate_type, "certificate": certificate}
    tool.manual(SendCommand("InstallCertificate", payload, f"the configured {certificate_type}"))
    incoming = await tool.expect(step, msg.InstallCertificateRequest)
    expect_field(step, incoming.request, "certificateType", certificate_type)
    if incoming.request.certificate.strip() != certificate.strip():
        raise StepFailed(
            step, f"InstallCertificateRequest.certificate is not the configured {certificate_type}"
        )
    incoming.answer(msg.InstallCertificateResponse(status=status))
    await tool.settle()


@dataclass(frozen=True)
class Installed:
    certificate_type: str
    hash_data: dt.CertificateHashDataType

    def chain(self) -> dt.CertificateHashDataChainType:
        return dt.CertificateHashDataChainType(
            certificate_type=en.GetCertificateIdUseEnumType(self.certificate_type),
            certificate_hash_data=self.hash_data,
        )


async def installed_ids(
    tool: CsmsTool,
    step: int | str,
    asked: list[str] | None,
    reported: list[Installed],
    *,
    allowed: tuple[list[str] | None, ...] | None = None,
) -> None:
    """The CSMS's GetInstalledCertificateIdsRequest for ``asked`` (None: all types), a manual action; the tool
    reports ``reported`` (none: NotFound). ``allowed``: the certificateType values the check accepts."""
    payload = {} if asked is None else {"certificateType": asked}
    what = "all types" if asked is None else ", ".join(asked)
    tool.manual(SendCommand("GetInstalledCertificateIds", payload, what))
    incoming = await tool.expect(step, msg.GetInstalledCertificateIdsRequest)
    wanted = allowed if allowed is not None else (asked,)
    actual = incoming.request.certificate_type
    types = None if not isinstance(actual, list) else sorted(t.value for t in actual)
    if types not in [None if w is None else sorted(w) for w in wanted]:
        shown = "absent" if types is None else ", ".join(types)
        raise StepFailed(
            step, f"GetInstalledCertificateIdsRequest.certificateType is {shown}, expected {wanted}"
        )
    if reported:
        response = msg.GetInstalledCertificateIdsResponse(
            status=en.GetInstalledCertificateStatusEnumType.ACCEPTED,
            certificate_hash_data_chain=[r.chain() for r in reported],
        )
    else:
        response = msg.GetInstalledCertificateIdsResponse(
            status=en.GetInstalledCertificateStatusEnumType.NOT_FOUND
        )
    incoming.answer(response)
    await tool.settle()


async def delete_certificate(
    tool: CsmsTool, step: int, installed: Installed, status: en.DeleteCertificateStatusEnumType
) -> None:
    """The CSMS deletes the certificate it learned of (a manual action); the request carries its hash data."""
    data = installed.hash_data
    payload = {
        "certificateHashData": {
            "hashAlgorithm": data.hash_algorithm.value,
            "issuerNameHash": data.issuer_name_hash,
            "issuerKeyHash": data.issuer_key_hash,
            "serialNumber": data.serial_number,
        }
    }
    tool.manual(SendCommand("DeleteCertificate", payload, f"the {installed.certificate_type} reported"))
    incoming = await tool.expect(step, msg.DeleteCertificateRequest)
    if incoming.request.certificate_hash_data != data:
        raise StepFailed(
            step, "DeleteCertificateRequest.certificateHashData is not the one the station reported"
        )
    incoming.answer(msg.DeleteCertificateResponse(status=status))
    await tool.settle()


def installed(tool: CsmsTool, certificate_type: str, algorithm: en.HashAlgorithmEnumType) -> Installed:
    return Installed(certificate_type, hash_data(configured_certificate(tool, certificate_type), algorithm))


SHA256 = en.HashAlgorithmEnumType.SHA256
ACCEPTED = en.InstallCertificateStatusEnumType.ACCEPTED


@case(
    "TC_M_01_CSMS",
    "Install CA certificate - CSMSRootCertificate",
    use_cases=("M05",),
    requirements=("M05.FR.01",),
)
async def tc_m_01(tool: CsmsTool) -> None:
    await certificate_installed(tool, CSMS_ROOT, ACCEPTED, "CertificateInstalled/1")


@case(
    "TC_M_02_CSMS",
    "Install CA certificate - ManufacturerRootCertificate",
    use_cases=("M05",),
    requirements=("M05.FR.01",),
)
async def tc_m_02(tool: CsmsTool) -> None:
    await certificate_installed(tool, MANUFACTURER_ROOT, ACCEPTED, "CertificateInstalled/1")


@case(
    "TC_M_05_CSMS",
    "Install CA certificate - Failed",
    use_cases=("M05",),
    requirements=("M05.FR.01", "M05.FR.03"),
)
async def tc_m_05(tool: CsmsTool) -> None:
    await certificate_installed(tool, CSMS_ROOT, en.InstallCertificateStatusEnumType.FAILED, 1)


@case(
    "TC_M_13_CSMS",
    "Retrieve certificates from Charging Station - ManufacturerRootCertificate",
    use_cases=("M03",),
    requirements=("M03.FR.01",),
)
async def tc_m_13(tool: CsmsTool) -> None:
    reported = [installed(tool, MANUFACTURER_ROOT, SHA256)]
    await installed_ids(tool, "GetInstalledCertificates/1", [MANUFACTURER_ROOT], reported)


@case(
    "TC_M_18_CSMS",
    "Retrieve certificates from Charging Station - All certificateTypes",
    use_cases=("M03",),
    requirements=("M03.FR.01",),
)
async def tc_m_18(tool: CsmsTool) -> None:
    reported = [installed(tool, CSMS_ROOT, SHA256), installed(tool, MANUFACTURER_ROOT, SHA256)]
    await installed_ids(tool, 1, None, reported)


@case(
    "TC_M_19_CSMS",
    "Retrieve certificates from Charging Station - No matching certificate found",
    use_cases=("M03",),
    requirements=("M03.FR.01", "M03.FR.02"),
)
async def tc_m_19(tool: CsmsTool) -> None:
    await installed_ids(tool, 1, [MANUFACTURER_ROOT], [])


@case(
    "TC_M_20_CSMS",
    "Delete a certificate from a Charging Station - Success",
    use_cases=("M04",),
    requirements=("M04.FR.01", "M04.FR.07"),
)
async def tc_m_20(tool: CsmsTool) -> None:
    for algorithm in HASHES:  # steps 1-5, once per hash algorithm
        await certificate_installed(tool, CSMS_ROOT, ACCEPTED, 1)
        reported = installed(tool, CSMS_ROOT, algorithm)
        await installed_ids(tool, 2, [CSMS_ROOT], [reported], allowed=([CSMS_ROOT], None))
        await delete_certificate(tool, 4, reported, en.DeleteCertificateStatusEnumType.ACCEPTED)


@case(
    "TC_M_21_CSMS",
    "Delete a certificate from a Charging Station - Failed",
    use_cases=("M04",),
    requirements=("M04.FR.01", "M04.FR.07"),
)
async def tc_m_21(tool: CsmsTool) -> None:
    await certificate_installed(tool, CSMS_ROOT, ACCEPTED, "CertificateInstalled/1")  # before
    reported = installed(tool, CSMS_ROOT, SHA256)
    await installed_ids(tool, 1, [CSMS_ROOT], [reported], allowed=([CSMS_ROOT], None))
    await delete_certificate(tool, 3, reported, en.DeleteCertificateStatusEnumType.FAILED)


@case(
    "TC_M_03_CSMS",
    "Install CA certificate - V2GRootCertificate",
    use_cases=("M05",),
    requirements=("M05.FR.01",),
)
async def tc_m_03(tool: CsmsTool) -> None:
    await certificate_installed(tool, V2G_ROOT, ACCEPTED, "CertificateInstalled/1")


@case(
    "TC_M_04_CSMS",
    "Install CA certificate - MORootCertificate",
    use_cases=("M05",),
    requirements=("M05.FR.01",),
)
async def tc_m_04(tool: CsmsTool) -> None:
    await certificate_installed(tool, MO_ROOT, ACCEPTED, "CertificateInstalled/1")


@case(
    "TC_M_14_CSMS",
    "Retrieve certificates from Charging Station - V2GRootCertificate",
    use_cases=("M03",),
    requirements=("M03.FR.01",),
)
async def tc_m_14(tool: CsmsTool) -> None:
    await installed_ids(tool, "GetInstalledCertificates/1", [V2G_ROOT], [installed(tool, V2G_ROOT, SHA256)])


@case(
    "TC_M_15_CSMS",
    "Retrieve certificates from Charging Station - V2GCertificateChain",
    use_cases=("M03",),
    requirements=("M03.FR.01", "M03.FR.05"),
)
async def tc_m_15(tool: CsmsTool) -> None:
    # the chain's leaf (a V2G certificate the tool makes) with the V2G root among its childCertificateHashData
    leaf = hash_data(self_signed("Chargeplane conformance V2GCertificate"), SHA256)
    child = hash_data(configured_certificate(tool, V2G_ROOT), SHA256)
    chain = dt.CertificateHashDataChainType(
        certificate_type=en.GetCertificateIdUseEnumType.V2G_CERTIFICATE_CHAIN,
        certificate_hash_data=leaf,
        child_certificate_hash_data=[child],
    )
    tool.manual(SendCommand("GetInstalledCertificateIds", {"certificateType": [V2G_CHAIN]}, V2G_CHAIN))
    incoming = await tool.expect("GetInstalledCertificates/1", msg.GetInstalledCertificateIdsRequest)
    asked = incoming.request.certificate_type
    if not isinstance(asked, list) or [t.value for t in asked] != [V2G_CHAIN]:
        raise StepFailed("GetInstalledCertificates/1", f"certificateType is not [{V2G_CHAIN}]")
    incoming.answer(
        msg.GetInstalledCertificateIdsResponse(
            status=en.GetInstalledCertificateStatusEnumType.ACCEPTED, certificate_hash_data_chain=[chain]
        )
    )
    await tool.settle()


@case(
    "TC_M_16_CSMS",
    "Retrieve certificates from Charging Station - MORootCertificate",
    use_cases=("M03",),
    requirements=("M03.FR.01",),
)
async def tc_m_16(tool: CsmsTool) -> None:
    await installed_ids(tool, "GetInstalledCertificates/1", [MO_ROOT], [installed(tool, MO_ROOT, SHA256)])

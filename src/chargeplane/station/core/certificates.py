"""Certificates of the station (M03-M05; A02/A03 on the station side; the 1.6 security extension's messages).

Two stores, both kept in the station's persistent state (``storage.get_state``):

* the CA certificates the CSMS installs (M05): CSMSRootCertificate, ManufacturerRootCertificate,
  V2GRootCertificate, MORootCertificate (2.1 adds OEMRootCertificate); listed by GetInstalledCertificateIds
  (M03) with their certificateHashData and deleted by DeleteCertificate (M04). Other blocks read them with
  :meth:`Certificates.roots` (the firmware block takes the ManufacturerRootCertificates from it). The CA
  bundle a station is set up with becomes its first CSMSRootCertificates (:meth:`Certificates.provision`,
  once in its life);
* the station's own certificates (A02/A03): ChargingStationCertificate and V2GCertificate, each a chain with
  its private key, made from a key pair and a CSR of this station (SignCertificate) and signed by the CSMS's CA
  (CertificateSigned). :meth:`Certificates.station_certificate` gives the newest valid one (A02.FR.09) to the
  runtime's TLS client (security profile 3).

Readings where the specification leaves a choice:

* Hash data (M03.FR.04): SHA256 over the issuer's DER name and the issuer's public key bits (RFC 6960's
  CertID), the serial in hex without leading zeros. The issuer of an installed certificate is the installed one
  whose subject is its issuer name (a root is its own issuer); without one, the certificate's own key is used.
* Install (M05.FR.07): Rejected for an unreadable PEM, an expired certificate, or one that is not a CA
  (basicConstraints cA); a root whose validity starts later is kept for then. Rejected too when CertificateEntries would pass its maxLimit (M05.FR.06).
* Delete (M04.FR.03 note): the last CSMSRootCertificate is refused (Failed) only while the station runs a TLS
  security profile (2 or 3), which needs it to connect; on profile 1 it may go.
* CertificateSigned (A02.FR.06): the chain is readable, within MaxCertificateChainSize, each certificate signed
  by the next, the leaf's key is the key of the CSR sent for that type, the leaf not expired and its CN this
  station's; when the station holds CSMS root certificates the chain must end at one of them (for a V2G
  certificate: at a V2G root, when it holds any). A station without any such root cannot check the hierarchy
  and accepts on the other checks.
* A03: a ChargingStationCertificate or V2GCertificate that expires within 30 days starts a renewal, once
  per certificate (and boot).
* Combined certificate (A00.FR.428, Part 5 ISO-3): the CSMS chooses it with TriggerMessage
  SignCombinedCertificate; the CSR then goes without certificateType (A02.FR.13 applies to separate
  certificates only) and the signed chain, which passes the hierarchy check of either the CSMS or the V2G
  certificate above, is stored as both the ChargingStationCertificate and the V2GCertificate. A CertificateSigned without certificateType
  answers the combined request when one waits (else, leniently, the ChargingStationCertificate one). A
  combined certificate is renewed (A03) as combined.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from msgspec import UNSET

from chargeplane.ocpp.messages import v2x, v16, v21
from chargeplane.ocpp.messages.base import Payload, present
from chargeplane.ocpp.messages.v21 import datatypes as d21
from chargeplane.ocpp.messages.v201 import datatypes as d201
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.adapter import narrow
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.device_model import StationLayout, VariableDef, VariableKey, var
from chargeplane.station.core.model import Reconnect
from chargeplane.station.core.security import Security

CSMS_ROOT = "CSMSRootCertificate"
MANUFACTURER_ROOT = "ManufacturerRootCertificate"
V2G_ROOT = "V2GRootCertificate"
MO_ROOT = "MORootCertificate"
OEM_ROOT = "OEMRootCertificate"  # 2.1
V2G_CHAIN = "V2GCertificateChain"  # GetInstalledCertificateIds only: the station's V2G certificate chain
STATION_CERTIFICATE = "ChargingStationCertificate"
V2G_CERTIFICATE = "V2GCertificate"
COMBINED = "CombinedCertificate"  # internal kind of a signing request for both uses (no certificateType)
ROOT_USES_2X = {
    Version.V201: frozenset({CSMS_ROOT, MANUFACTURER_ROOT, V2G_ROOT, MO_ROOT}),
    Version.V21: frozenset({CSMS_ROOT, MANUFACTURER_ROOT, V2G_ROOT, MO_ROOT, OEM_ROOT}),
}
USE_16 = {"CentralSystemRootCertificate": CSMS_ROOT, "ManufacturerRootCertificate": MANUFACTURER_ROOT}
USE_TO_16 = {use: name for name, use in USE_16.items()}
SECURITY = "SecurityCtrlr"
MAX_ENTRIES = 24  # CertificateEntries' maxLimit
KEEP = 4  # own certificates kept per kind (the newest and a few fallbacks, A02.FR.10)
RENEW_BEFORE = timedelta(days=30)  # A03.FR.02: one month before expiry
_STORE, _OWN, _PROVISIONED = "certificates", "station_certificates", "certificates_provisioned"
_ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}


@dataclass(frozen=True, slots=True)
class HashData:
    """A certificateHashData, version-neutral."""

    algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    def same(self, other: HashData) -> bool:
        """Equal as M03 compares them: hex case-insensitive, the serial without leading zeros."""
        return (
            self.issuer_name_hash.lower() == other.issuer_name_hash.lower()
            and self.issuer_key_hash.lower() == other.issuer_key_hash.lower()
            and self.serial_number.lower().lstrip("0") == other.serial_number.lower().lstrip("0")
        )


@dataclass(frozen=True, slots=True)
class Installed:
    use: str
    certificate: x509.Certificate

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True, slots=True)
class OwnCertificate:
    """A certificate of this station: the chain (leaf first) and its private key (PEM, never sent)."""

    kind: str  # ChargingStationCertificate or V2GCertificate
    chain: tuple[x509.Certificate, ...]
    key_pem: str
    combined: bool = False  # signed for both uses (A00.FR.428): stored once per kind

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def chain_pem(self) -> str:
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in self.chain)


@dataclass(slots=True)
class SigningRequest:
    """A CSR sent (A02/A03) and waiting for its CertificateSigned."""

    kind: str
    key_pem: str
    csr_pem: str
    request_id: int
    wait: int  # the current back-off in seconds (A02.FR.18)
    resends_left: int
    resend_at: datetime | None = None  # set once the CSMS accepted the CSR (A02.FR.17)


def key_bits(key: object) -> bytes:
    """The content of a subjectPublicKey BIT STRING (what RFC 6960 hashes as the issuer key)."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    raise ValueError("only EC and RSA keys are supported")


def hash_data(certificate: x509.Certificate, issuer: x509.Certificate | None, algorithm: str) -> HashData:
    """M03.FR.04: the hash data of ``certificate`` (its issuer ``issuer``; None: itself)."""

    def digest(data: bytes) -> str:
        h = hashes.Hash(_ALGORITHMS[algorithm]())
        h.update(data)
        return h.finalize().hex()

    return HashData(
        algorithm,
        digest(certificate.issuer.public_bytes()),
        digest(key_bits((issuer if issuer is not None else certificate).public_key())),
        format(certificate.serial_number, "x"),
    )


def load_chain(pem: str) -> list[x509.Certificate]:
    """Every certificate of a PEM text (ValueError when there is none or one is unreadable)."""
    chain = x509.load_pem_x509_certificates(pem.encode())
    if not chain:
        raise ValueError("no certificate")
    return chain


def issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """``child`` names ``parent`` as issuer and carries its valid signature."""
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return constraints.ca


def within_validity(certificate: x509.Certificate, at: datetime) -> bool:
    return certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc


class Certificates(Controller):
    __slots__ = (
        "_fallback",
        "_new_root_refused",
        "_next_request_id",
        "_renewed_for",
        "_switch_at",
        "installed",
        "own",
        "pending",
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.installed: list[Installed] = []
        self.own: list[OwnCertificate] = []  # newest first
        self.pending: dict[str, SigningRequest] = {}  # by certificate type
        self._fallback: Installed | None = None  # M05.FR.12: the replaced CSMS root
        self._new_root_refused = False  # M05.FR.14: the new CSMS root failed to verify the CSMS (this boot)
        self._renewed_for: set[int] = set()  # serials of station certificates already renewed (A03)
        self._switch_at: datetime | None = None  # A02.FR.08: reconnect with the new certificate then
        self._next_request_id = 1  # 2.1 SignCertificate's requestId
        raw = ctx.storage.get_state(_STORE)
        for item in json.loads(raw) if raw else []:
            self.installed.append(Installed(item["use"], load_chain(item["pem"])[0]))
            if item.get("fallback"):
                self._fallback = self.installed[-1]
        raw = ctx.storage.get_state(_OWN)
        for item in json.loads(raw) if raw else []:
            chain = tuple(load_chain(item["chain"]))
            self.own.append(OwnCertificate(item["kind"], chain, item["key"], item.get("combined", False)))

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        return [
            var(SECURITY, "CertSigningWaitMinimum", "integer", "60", unit="s", min_limit=1),
            var(SECURITY, "CertSigningRepeatTimes", "integer", "3", min_limit=0),
            var(SECURITY, "MaxCertificateChainSize", "integer", "10000", "ReadOnly", max_limit=10000),
            var(SECURITY, "AdditionalRootCertificateCheck", "boolean", "false", "ReadOnly"),
        ]

    def start(self, now: datetime) -> None:
        self._count()

    # ------------------------------------------------------------------ accessors
    def roots(self, use: str) -> list[x509.Certificate]:
        """The installed certificates of one use (e.g. ManufacturerRootCertificate), oldest first."""
        return [item.certificate for item in self.installed if item.use == use]

    def holds(self, kind: str) -> bool:
        """Whether the station holds a certificate of its own of ``kind`` (signed by the CSMS, A02)."""
        return any(c.kind == kind for c in self.own)

    def station_certificate(self, kind: str, now: datetime) -> OwnCertificate | None:
        """A02.FR.09 / A02.FR.15: the newest certificate of ``kind`` valid at ``now``."""
        at = self.ctx.station_time(now)
        valid = [c for c in self.own if c.kind == kind and within_validity(c.leaf, at)]
        return max(valid, key=lambda c: c.leaf.not_valid_before_utc, default=None)

    # ------------------------------------------------------------------ M05 install
    def install(self, use: str, pem: str, now: datetime) -> str:
        """M05: Accepted or Rejected (invalid, too many, AdditionalRootCertificateCheck). Never Failed
        (M05.FR.03): the store is the station's own state, written with the answer."""
        try:
            certificate = load_chain(pem)[0]
        except ValueError:
            return "Rejected"  # M05.FR.07: not a certificate
        if certificate.not_valid_after_utc < self.ctx.station_time(now) or not is_ca(certificate):
            return "Rejected"  # M05.FR.07: expired, or no CA certificate (one valid later may wait here)
        try:
            key_bits(certificate.public_key())
        except ValueError:
            return "Rejected"  # a key this station cannot hash (neither EC nor RSA)
        same = [
            i
            for i, item in enumerate(self.installed)
            if item.use == use
            and item.certificate.fingerprint(hashes.SHA256()) == certificate.fingerprint(hashes.SHA256())
        ]
        if same:  # M05.FR.17: installed again replaces it
            self.installed[same[0]] = Installed(use, certificate)
            self._save()
            return "Accepted"
        if use == CSMS_ROOT and self.ctx.model.flag(SECURITY, "AdditionalRootCertificateCheck"):
            return self._replace_csms_root(certificate)
        if len(self.installed) + 1 > MAX_ENTRIES:
            return "Rejected"  # M05.FR.06
        self.installed.append(Installed(use, certificate))
        self._save()
        return "Accepted"

    def provision(self, use: str, pem: str, now: datetime) -> int:
        """The certificates a station is set up with (a factory CA bundle), installed once in its life: later
        the store is the CSMS's to change (a root it deletes stays deleted). Returns how many were taken."""
        storage = self.ctx.storage
        if storage.get_state(_PROVISIONED) is not None:
            return 0
        chain = load_chain(pem)
        storage.set_state(_PROVISIONED, "1")
        taken = 0
        for certificate in chain:
            text = certificate.public_bytes(serialization.Encoding.PEM).decode()
            taken += self.install(use, text, now) == "Accepted"
        return taken

    def reprovision(self, use: str, pem: str, now: datetime) -> int:
        """An installer's reset of one trust store: the certificates of ``use`` become those of ``pem`` (a
        replaced CSMS root's fallback goes too). Returns how many were taken."""
        chain = load_chain(pem)
        at = self.ctx.station_time(now)
        self.installed = [item for item in self.installed if item.use != use]
        if self._fallback is not None and self._fallback.use == use:
            self._fallback = None
        taken = [c for c in chain if is_ca(c) and within_validity(c, at)][: MAX_ENTRIES - len(self.installed)]
        self.installed += [Installed(use, c) for c in taken]
        self._save()
        return len(taken)

    def _replace_csms_root(self, certificate: x509.Certificate) -> str:
        """M05.FR.09-12: one CSMS root (plus the fallback); the new one signed by the old one replaces it."""
        current = [item for item in self.installed if item.use == CSMS_ROOT and item is not self._fallback]
        if current and not any(issued_by(certificate, item.certificate) for item in current):
            return "Rejected"  # M05.FR.11
        self.installed = [item for item in self.installed if item.use != CSMS_ROOT]
        self._fallback = current[-1] if current else None
        if self._fallback is not None:
            self.installed.append(self._fallback)
        self.installed.append(Installed(CSMS_ROOT, certificate))
        self._save()
        return "Accepted"

    def csms_trust(self) -> tuple[list[x509.Certificate], bool]:
        """The CSMS roots the next TLS connection verifies the server with, and whether they are a new root on
        trial: while a fallback is kept (M05.FR.12) the new root alone, until it failed once (M05.FR.14: then
        the old one too)."""
        trial = self._fallback is not None and not self._new_root_refused
        chosen = [
            item
            for item in self.installed
            if item.use == CSMS_ROOT and not (trial and item is self._fallback)
        ]
        return [item.certificate for item in chosen], trial

    def new_root_refused(self) -> None:
        """M05.FR.14: the CSMS's certificate did not verify with the new root alone: try the fallback too."""
        if self._fallback is not None:
            self._new_root_refused = True

    def connected_with_new_root(self) -> None:
        """M05.FR.13: the connection verified with the new CSMS root works: the fallback goes."""
        if self._fallback is not None:
            self.installed = [item for item in self.installed if item is not self._fallback]
            self._fallback = None
            self._save()

    # ------------------------------------------------------------------ M03 list
    def issuer_of(self, certificate: x509.Certificate) -> x509.Certificate | None:
        if certificate.issuer == certificate.subject:
            return None
        for item in self.installed:
            if item.certificate.subject == certificate.issuer:
                return item.certificate
        return None

    def listing(self, uses: list[str] | None) -> list[tuple[str, HashData, list[HashData]]]:
        """M03: (type, hash data, child hash data) of every installed certificate of ``uses`` (None: all)."""
        found: list[tuple[str, HashData, list[HashData]]] = []
        for item in self.installed:
            if uses is None or item.use in uses:
                issuer = self.issuer_of(item.certificate)
                found.append((item.use, hash_data(item.certificate, issuer, "SHA256"), []))
        if uses is None or V2G_CHAIN in uses:  # M03.FR.05: sub-CAs as children of the V2G certificate
            for own in self.own:
                if own.kind != V2G_CERTIFICATE:
                    continue
                leaf, *children = self._chain_hashes(own.chain[:5], "SHA256")
                found.append((V2G_CHAIN, leaf, children))
        return found

    def _chain_hashes(self, chain: tuple[x509.Certificate, ...], algorithm: str) -> list[HashData]:
        """The hash data of each certificate of a chain (leaf first); the last one's issuer is looked up."""
        return [
            hash_data(c, chain[i + 1] if i + 1 < len(chain) else self.issuer_of(c), algorithm)
            for i, c in enumerate(chain)
        ]

    # ------------------------------------------------------------------ M04 delete
    def delete(self, wanted: HashData) -> str:
        """M04: Accepted, NotFound, or Failed (the station's own certificate, M04.FR.06; the last CSMS root
        while a TLS profile needs it, M04.FR.03)."""
        if wanted.algorithm not in _ALGORITHMS:
            return "NotFound"
        for own in self.own:
            if wanted.same(self._chain_hashes(own.chain[:1] + own.chain[1:2], wanted.algorithm)[0]):
                return "Failed"  # M04.FR.06
        for item in self.installed:
            if not wanted.same(
                hash_data(item.certificate, self.issuer_of(item.certificate), wanted.algorithm)
            ):
                continue
            csms_roots = [i for i in self.installed if i.use == CSMS_ROOT]
            profile = self.ctx.model.number(SECURITY, "SecurityProfile")
            if item.use == CSMS_ROOT and len(csms_roots) == 1 and profile >= 2:
                return "Failed"  # M04.FR.03: the last root the TLS connection depends on
            self.installed.remove(item)
            if item is self._fallback:
                self._fallback = None
            self._save()
            return "Accepted"
        return "NotFound"

    # ------------------------------------------------------------------ A02 / A03: CSR and CertificateSigned
    def request_signing(self, kind: str, now: datetime, *, force: bool = False) -> bool:
        """A02.FR.02-03: a new key pair, its CSR sent with SignCertificate. False when it cannot be sent."""
        ctx = self.ctx
        key = ec.generate_private_key(ec.SECP256R1())
        organization = ctx.model.value(SECURITY, "OrganizationName") or "Chargeplane"
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, ctx.layout.serial_number),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            ]
        )
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        request_id, self._next_request_id = self._next_request_id, self._next_request_id + 1
        self.pending[kind] = SigningRequest(
            kind,
            key_pem,
            csr.public_bytes(serialization.Encoding.PEM).decode(),
            request_id,
            max(1, ctx.model.number(SECURITY, "CertSigningWaitMinimum")),
            # the first resend waits CertSigningWaitMinimum, each later one twice the previous wait; the
            # variable counts the doublings (A02.FR.18/19), so one resend more than it says (TC_A_23_CS)
            max(0, ctx.model.number(SECURITY, "CertSigningRepeatTimes")) + 1,
        )
        return self._send_csr(kind, now, force=force)

    def _send_csr(self, kind: str, now: datetime, *, force: bool = False) -> bool:
        ctx = self.ctx
        pending = self.pending[kind]
        request: Payload
        if ctx.version is Version.V16:
            request = v16.messages.SignCertificateRequest(csr=pending.csr_pem)
        else:
            csr, request_id = pending.csr_pem, pending.request_id

            def build(ns: v2x.Dialect) -> v2x.SignCertificateRequest:
                # a combined certificate's CSR has no certificateType (one certificate for both uses)
                use = UNSET if kind == COMBINED else ns.CertificateSigningUseEnumType(kind)
                if issubclass(ns, v21.Messages):
                    return ns.SignCertificateRequest(csr=csr, certificate_type=use, request_id=request_id)
                return ns.SignCertificateRequest(csr=csr, certificate_type=use)

            request = v2x.with_dialect(ctx.version, build)

        def answered(response: Payload, at: datetime) -> None:
            current = self.pending.get(kind)
            if current is not pending:
                return
            if str(getattr(response, "status", "")) != "Accepted":
                del self.pending[kind]  # the CSMS will not sign it: wait for a new trigger
                return
            current.resend_at = at + timedelta(seconds=current.wait)  # A02.FR.17

        def failed(at: datetime) -> None:
            current = self.pending.get(kind)
            if current is pending:
                current.resend_at = at + timedelta(seconds=current.wait)

        return ctx.send(request, now, answered, on_failure=failed, force=force)

    def certificate_signed(
        self, chain_pem: str, kind: str, now: datetime, request_id: int | None = None
    ) -> str:
        """A02.FR.06-07 / A03.FR.06-07: Accepted and stored, or Rejected (with the security event). 2.1: the
        ``request_id`` echoed must be the signing request's."""
        problem = self._check_signed(chain_pem, kind, now, request_id)
        if problem is not None:
            self.pending.pop(kind, None)  # A02.FR.20: no resend until triggered again
            self._security_event("InvalidChargingStationCertificate", now, problem)
            return "Rejected"
        pending = self.pending.pop(kind)
        chain = tuple(load_chain(chain_pem))
        combined = kind == COMBINED
        kinds = (STATION_CERTIFICATE, V2G_CERTIFICATE) if combined else (kind,)  # A00.FR.428
        for use in kinds:
            self.own.insert(0, OwnCertificate(use, chain, pending.key_pem, combined))
        # A02.FR.10: older ones kept a while as fallback, a few of each kind at most
        self.own = [c for i, c in enumerate(self.own) if sum(o.kind == c.kind for o in self.own[:i]) < KEEP]
        self._save_own()
        own = self.own[0]
        if STATION_CERTIFICATE in kinds and self.ctx.model.number(SECURITY, "SecurityProfile") == 3:
            self._switch_at = max(own.leaf.not_valid_before_utc - self.ctx.clock_offset, now)  # A02.FR.08
        return "Accepted"

    def _check_signed(self, chain_pem: str, kind: str, now: datetime, request_id: int | None) -> str | None:
        pending = self.pending.get(kind)
        if pending is None:
            return f"no {kind} signing request is waiting"
        if request_id is not None and request_id != pending.request_id:
            return "the requestId is not the signing request's"
        if len(chain_pem) > self.ctx.model.number(SECURITY, "MaxCertificateChainSize"):
            return "the chain exceeds MaxCertificateChainSize"  # A02.FR.16
        try:
            chain = load_chain(chain_pem)
        except ValueError:
            return "the certificate chain is not readable PEM"
        leaf = chain[0]
        key = serialization.load_pem_private_key(pending.key_pem.encode(), None)
        try:
            matches = key_bits(leaf.public_key()) == key_bits(key.public_key())
        except ValueError:
            matches = False
        if not matches:
            return "the certificate is not for the key of the signing request"
        if leaf.not_valid_after_utc < self.ctx.station_time(now):
            return "the certificate has expired"
        names = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not names or names[0].value != self.ctx.layout.serial_number:
            return "the certificate's CN is not this station's"
        if not all(issued_by(chain[i], chain[i + 1]) for i in range(len(chain) - 1)):
            return "the certificate chain is broken"
        # a combined certificate may come from either hierarchy (it serves the CSMS and the EV connections)
        hierarchies = {V2G_CERTIFICATE: (V2G_ROOT,), COMBINED: (CSMS_ROOT, V2G_ROOT)}.get(kind, (CSMS_ROOT,))
        if not any(self._under(chain[-1], use) for use in hierarchies):
            return "the certificate is not part of the operator's hierarchy"
        return None

    def _under(self, top: x509.Certificate, use: str) -> bool:
        """Whether a chain's last certificate ends at an installed root of ``use`` (True when the station
        holds none: it cannot check that hierarchy)."""
        roots = self.roots(use)
        return not roots or any(
            issued_by(top, root) or top.fingerprint(hashes.SHA256()) == root.fingerprint(hashes.SHA256())
            for root in roots
        )

    def _security_event(self, kind: str, now: datetime, tech_info: str) -> None:
        self.ctx.get(Security).report(kind, now, tech_info)

    # ------------------------------------------------------------------ timer (A02.FR.17-19, A03.FR.02)
    def next_deadline(self) -> datetime | None:
        times = [p.resend_at for p in self.pending.values() if p.resend_at is not None]
        if self._switch_at is not None:
            times.append(self._switch_at)
        times += [
            d for k in (STATION_CERTIFICATE, V2G_CERTIFICATE) if (d := self._renewal_due(k)) is not None
        ]
        return min(times, default=None)

    def handle_timer(self, now: datetime) -> None:
        ctx = self.ctx
        for kind, pending in list(self.pending.items()):
            if pending.resend_at is None or pending.resend_at > now:
                continue
            pending.resend_at = None
            if pending.resends_left <= 0:
                del self.pending[kind]  # A02.FR.19: until the CSMS triggers again
                continue
            pending.resends_left -= 1
            pending.wait *= 2  # A02.FR.18
            self._send_csr(kind, now)
        if self._switch_at is not None and self._switch_at <= now:
            self._switch_at = None
            ctx.act(Reconnect("ChargingStationCertificate renewed"))
        for kind in (STATION_CERTIFICATE, V2G_CERTIFICATE):
            due = self._renewal_due(kind)
            if due is not None and due <= now:
                newest = self._newest(kind)
                assert newest is not None  # a renewal is due only for a certificate the station has
                self._renewed_for.add(newest.leaf.serial_number)  # a combined one: for both kinds
                self.request_signing(COMBINED if newest.combined else kind, now)  # A03.FR.02: a month ahead

    def newest(self, kind: str) -> OwnCertificate | None:
        """The newest certificate of ``kind`` the station holds (valid or not yet), or None."""
        return self._newest(kind)

    def _newest(self, kind: str) -> OwnCertificate | None:
        return max(
            (c for c in self.own if c.kind == kind), key=lambda c: c.leaf.not_valid_before_utc, default=None
        )

    def _renewal_due(self, kind: str) -> datetime | None:
        """When the newest certificate of ``kind`` is to be renewed (once per certificate), or None."""
        if kind in self.pending or COMBINED in self.pending or not self.ctx.accepted:
            return None
        newest = self._newest(kind)
        if newest is None or newest.leaf.serial_number in self._renewed_for:
            return None
        return newest.leaf.not_valid_after_utc - RENEW_BEFORE - self.ctx.clock_offset

    # ------------------------------------------------------------------ persistence
    def _count(self) -> None:
        self.ctx.model.put(VariableKey(SECURITY, "CertificateEntries"), str(len(self.installed)))

    def _save(self) -> None:
        data = [
            {"use": item.use, "pem": item.pem} | ({"fallback": True} if item is self._fallback else {})
            for item in self.installed
        ]
        self.ctx.storage.set_state(_STORE, json.dumps(data))
        self._count()

    def _save_own(self) -> None:
        data = [
            {"kind": c.kind, "chain": c.chain_pem, "key": c.key_pem}
            | ({"combined": True} if c.combined else {})
            for c in self.own
        ]
        self.ctx.storage.set_state(_OWN, json.dumps(data))


# ---------------------------------------------------------------------- wire forms
class _HashDataIn(Protocol):
    @property
    def hash_algorithm(self) -> str: ...
    @property
    def issuer_name_hash(self) -> str: ...
    @property
    def issuer_key_hash(self) -> str: ...
    @property
    def serial_number(self) -> str: ...


def _from_wire(data: _HashDataIn) -> HashData:
    return HashData(str(data.hash_algorithm), data.issuer_name_hash, data.issuer_key_hash, data.serial_number)


def install_certificate(
    ctl: Certificates, request: v2x.InstallCertificateRequestT, now: datetime
) -> v2x.InstallCertificateResponse:
    """M05.FR.01-03, M05.FR.06-07, M05.FR.09-12, M05.FR.17."""
    ns = v2x.dialect_of(request)
    status = ctl.install(str(request.certificate_type), request.certificate, now)
    return ns.InstallCertificateResponse(status=ns.InstallCertificateStatusEnumType(status))


def get_installed_certificate_ids(
    ctl: Certificates, request: v2x.GetInstalledCertificateIdsRequestT, now: datetime
) -> v2x.GetInstalledCertificateIdsResponse:
    """M03.FR.01-05: Accepted with the hash data of each match, NotFound without any."""
    ns = v2x.dialect_of(request)
    uses = present(request.certificate_type)
    found = ctl.listing([str(u) for u in uses] if uses is not None else None)
    status = ns.GetInstalledCertificateStatusEnumType
    if not found:
        return ns.GetInstalledCertificateIdsResponse(status=status.NOT_FOUND)

    def wire(data: HashData) -> d201.CertificateHashDataType | d21.CertificateHashDataType:
        return ns.CertificateHashDataType(
            hash_algorithm=ns.HashAlgorithmEnumType(data.algorithm),
            issuer_name_hash=data.issuer_name_hash,
            issuer_key_hash=data.issuer_key_hash,
            serial_number=data.serial_number,
        )

    chain = [
        ns.CertificateHashDataChainType(
            certificate_type=ns.GetCertificateIdUseEnumType(use),
            certificate_hash_data=narrow(wire(data), ns.CertificateHashDataType),
            child_certificate_hash_data=[narrow(wire(c), ns.CertificateHashDataType) for c in children]
            if children
            else UNSET,
        )
        for use, data, children in found
    ]
    return ns.GetInstalledCertificateIdsResponse(status=status.ACCEPTED, certificate_hash_data_chain=chain)


def delete_certificate(
    ctl: Certificates, request: v2x.DeleteCertificateRequestT, now: datetime
) -> v2x.DeleteCertificateResponse:
    """M04.FR.01-04, M04.FR.06."""
    ns = v2x.dialect_of(request)
    status = ctl.delete(_from_wire(request.certificate_hash_data))
    return ns.DeleteCertificateResponse(status=ns.DeleteCertificateStatusEnumType(status))


def certificate_signed(
    ctl: Certificates, request: v2x.CertificateSignedRequestT, now: datetime
) -> v2x.CertificateSignedResponse:
    """A02.FR.06-08, A02.FR.16 (certificateType absent: the combined certificate when one was requested, else
    the ChargingStationCertificate)."""
    ns = v2x.dialect_of(request)
    kind = present(request.certificate_type)
    request_id = (
        present(request.request_id) if isinstance(request, v21.messages.CertificateSignedRequest) else None
    )
    untyped = COMBINED if COMBINED in ctl.pending else STATION_CERTIFICATE
    use = str(kind) if kind is not None else untyped
    status = ctl.certificate_signed(request.certificate_chain, use, now, request_id)
    return ns.CertificateSignedResponse(status=ns.CertificateSignedStatusEnumType(status))


# ---------------------------------------------------------------------- 1.6 security extension
def install_certificate16(
    ctl: Certificates, request: v16.messages.InstallCertificateRequest, now: datetime
) -> v16.messages.InstallCertificateResponse:
    """Whitepaper §3.2 (as M05)."""
    status = ctl.install(USE_16[str(request.certificate_type)], request.certificate, now)
    return v16.messages.InstallCertificateResponse(status=v16.enums.InstallCertificateStatusEnumType(status))


def get_installed_certificate_ids16(
    ctl: Certificates, request: v16.messages.GetInstalledCertificateIdsRequest, now: datetime
) -> v16.messages.GetInstalledCertificateIdsResponse:
    """Whitepaper §3.3 (as M03): one certificate type per request."""
    found = ctl.listing([USE_16[str(request.certificate_type)]])
    status = v16.enums.GetInstalledCertificateStatusEnumType
    if not found:
        return v16.messages.GetInstalledCertificateIdsResponse(status=status.NOT_FOUND)
    data = [
        v16.datatypes.CertificateHashDataType(
            hash_algorithm=v16.enums.HashAlgorithmEnumType(d.algorithm),
            issuer_name_hash=d.issuer_name_hash,
            issuer_key_hash=d.issuer_key_hash,
            serial_number=d.serial_number,
        )
        for _, d, _ in found
    ]
    return v16.messages.GetInstalledCertificateIdsResponse(status=status.ACCEPTED, certificate_hash_data=data)


def delete_certificate16(
    ctl: Certificates, request: v16.messages.DeleteCertificateRequest, now: datetime
) -> v16.messages.DeleteCertificateResponse:
    """Whitepaper §3.1 (as M04)."""
    status = ctl.delete(_from_wire(request.certificate_hash_data))
    return v16.messages.DeleteCertificateResponse(status=v16.enums.DeleteCertificateStatusEnumType(status))


def certificate_signed16(
    ctl: Certificates, request: v16.messages.CertificateSignedRequest, now: datetime
) -> v16.messages.CertificateSignedResponse:
    """Whitepaper A02 (the ChargePointCertificate)."""
    status = ctl.certificate_signed(request.certificate_chain, STATION_CERTIFICATE, now)
    return v16.messages.CertificateSignedResponse(status=v16.enums.CertificateSignedStatusEnumType(status))


Certificates.on_2x = (
    route("InstallCertificate", install_certificate),
    route("GetInstalledCertificateIds", get_installed_certificate_ids),
    route("DeleteCertificate", delete_certificate),
    route("CertificateSigned", certificate_signed),
)
Certificates.on_16 = (
    route("InstallCertificate", install_certificate16),
    route("GetInstalledCertificateIds", get_installed_certificate_ids16),
    route("DeleteCertificate", delete_certificate16),
    route("CertificateSigned", certificate_signed16),
)

"""The CSMS's PKI: the built-in CA at work for the stations (A02/A03), the stations' CA certificates (M03-M05),
certificate status through OCSP (M06), the CRL and the OCSP responder of the CA.

Signing (A02 when the CSMS triggers it, A03 when the station starts)
    A SignCertificate's CSR is checked (:func:`chargeplane.pki.ca.check_csr`: signature, CN = the station's
    identity for a ChargingStationCertificate, O = the operator's organisation, key type and size, no
    smuggled extensions) before it is answered: Accepted or Rejected (A02.FR.06/07 and A03 alike). An
    accepted CSR is signed after the answer, by the background job :meth:`PkiService.deliver`: the CA of the
    certificate type (``station``: ChargingStationCertificate, ``v2g``: V2GCertificate; or the operator's
    :class:`~chargeplane.pki.ca.ExternalCa`) issues the certificate, it is stored, and CertificateSigned
    carries the chain (leaf, sub-CA; 2.x its certificateType, 2.1 the requestId, A02.FR.05). The station's
    answer is recorded; a certificate the station Rejected is revoked at once (it will never be used).

Renewal (A02, started by the CSMS)
    :meth:`PkiService.renew` (a periodic job) asks every connected station whose newest certificate of ours
    expires within ``renew_before_days`` for a new CSR: TriggerMessage SignChargingStationCertificate /
    SignV2GCertificate (2.x), ExtendedTriggerMessage SignChargePointCertificate (1.6 security extension).
    An offline station is asked at a later pass; an Accepted trigger is not repeated for that certificate.

CA certificates on stations (M03-M05; 1.6 security extension)
    InstallCertificate, GetInstalledCertificateIds and DeleteCertificate are sent from the API; each answer
    is recorded, and the inventory of what the station holds follows the answers (an accepted self-signed
    root is entered with its SHA256 hash data; a GetInstalledCertificateIds answer replaces the rows of the
    types asked; an accepted delete removes the row).

GetCertificateStatus (M06)
    The OCSP request the station's OCSPRequestData describes is POSTed (RFC 6960 appendix A) to the
    responder it names; a successful response about that certificate is answered Accepted with the DER
    response in base64, and kept until its nextUpdate for the next station that asks (M06.FR.xx: the CSMS
    may cache). Anything else is Failed.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from chargeplane.csms.blocks.pki.contract_chain import ACCEPTED, CHAIN_ERROR, check_chain, ocsp_url
from chargeplane.csms.blocks.pki.repository import (
    CertificateRecord,
    InstalledRecord,
    NewCertificate,
    OperationRecord,
    PkiRepository,
    Reported,
    SignRequestRecord,
)
from chargeplane.csms.blocks.pki.settings import PkiSettings
from chargeplane.csms.blocks.remote_control.service import CommandService, InvalidCommand
from chargeplane.csms.bus.commands import StationOffline
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Conflict, Invalid, NotFound
from chargeplane.ocpp.versions import Version
from chargeplane.pki.ca import (
    CaError,
    CertificateAuthority,
    CertStatus,
    CsrPolicy,
    CsrRefused,
    ExternalCa,
    RevocationEntry,
    Status,
    Urls,
    check_csr,
)
from chargeplane.pki.contract import ContractAnswer, ContractCertificateBackend, ContractRequest
from chargeplane.pki.hashes import HASH_ALGORITHMS, HashData, hash_data, ocsp_request
from chargeplane.pki.revocation import crl_signed_by, names_issuer, ocsp_signed_by_issuer

if TYPE_CHECKING:  # the type behind cryptography.x509.ocsp.OCSPResponse, an alias mypy cannot use
    from cryptography.hazmat.bindings._rust.ocsp import OCSPResponse

log = logging.getLogger(__name__)

CHARGING_STATION = "ChargingStationCertificate"
V2G = "V2GCertificate"
# A 2.x SignCertificate without certificateType: one certificate for both the CSMS and the 15118 connection
# (the "combined" certificate of Part 2); signed by the station CA, CertificateSigned without certificateType,
# renewed with TriggerMessage SignCombinedCertificate. The name is the CSMS's own, never on the wire.
COMBINED = "CombinedCertificate"
# The CA that signs each SignCertificate certificateType (1.6 has none: a charge point certificate).
KIND_OF = {CHARGING_STATION: "station", V2G: "v2g", "V2G20Certificate": "v2g", COMBINED: "station"}
# station: the operator's CA for station certificates; v2g: a V2G root and CPO sub-CA (SECC certificates); mo:
# a mobility operator's root and sub-CA for contract certificates (development and tests: `ca issue --type
# ContractCertificate`; no station asks for one with SignCertificate)
KINDS = ("station", "v2g", "mo")
ISSUED_BY = KIND_OF | {"ContractCertificate": "mo"}
TRIGGER_2X = {
    CHARGING_STATION: "SignChargingStationCertificate",
    V2G: "SignV2GCertificate",
    "V2G20Certificate": "SignV2G20Certificate",  # 2.1
    COMBINED: "SignCombinedCertificate",
}
PKI_PATH = "/api/v1/pki"
REASONS = {flag.value: flag for flag in x509.ReasonFlags}
OCSP_CACHE_LIMIT = 10_000
CONTRACT_ROOTS = "contract-roots"  # under the CA directory: the MO / V2G roots trusted for contracts (C07)


class UnknownCertificate(NotFound):
    pass


class OwnRoot(Conflict):
    pass


class NoAuthority(Conflict):
    """The CA directory of that kind holds no CA (run ``chargeplane ca init``)."""


@dataclass(frozen=True, slots=True)
class _Delivery:
    sign_id: int
    station_id: str
    csr: x509.CertificateSigningRequest
    certificate_type: str
    request_id: int | None


@dataclass(frozen=True, slots=True)
class Inventory:
    issued: list[CertificateRecord]
    installed: list[InstalledRecord]
    sign_requests: list[SignRequestRecord]
    operations: list[OperationRecord]


@dataclass(frozen=True, slots=True)
class _Cached:
    response: str  # base64 DER
    until: datetime


class _Status(msgspec.Struct):
    status: str


class _HashData(msgspec.Struct, rename="camel"):
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    def data(self) -> HashData:
        return HashData(self.hash_algorithm, self.issuer_name_hash, self.issuer_key_hash, self.serial_number)


class _Chain(msgspec.Struct, rename="camel"):
    certificate_type: str
    certificate_hash_data: _HashData
    child_certificate_hash_data: list[_HashData] = []


class _Installed2x(msgspec.Struct, rename="camel"):
    status: str
    certificate_hash_data_chain: list[_Chain] = []


class _Installed16(msgspec.Struct, rename="camel"):
    status: str
    certificate_hash_data: list[_HashData] = []


def certificate_serial(certificate: x509.Certificate) -> str:
    return format(certificate.serial_number, "x")


def organisation_of(certificate: x509.Certificate) -> str | None:
    names = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    value = names[0].value if names else None
    return value if isinstance(value, str) else None


def pem_of(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


class PkiService:
    def __init__(
        self,
        repository: PkiRepository,
        commands: CommandService | None,
        settings: PkiSettings,
        base_url: Callable[[], str],
        events: EventBus | None,
        clock: Clock,
        external: dict[str, ExternalCa] | None = None,
        contracts: ContractCertificateBackend | None = None,
    ) -> None:
        self.repository = repository
        self._commands = commands
        self.settings = settings
        self.base_url = base_url
        self.events = events
        self.clock = clock
        self.external = external or {}
        self.contracts = contracts
        self.directory: Path = settings.directory()
        self._authorities: dict[str, CertificateAuthority] = {}
        self._queue: asyncio.Queue[_Delivery] = asyncio.Queue()
        self._ocsp_cache: dict[tuple[HashData, str, bool], _Cached] = {}
        self.revocation_listeners: list[Callable[[CertificateRecord], Awaitable[None]]] = []  # after a revoke

    @property
    def commands(self) -> CommandService:
        if self._commands is None:
            raise RuntimeError("the PKI service runs without a connection to stations (the CLI)")
        return self._commands

    # -- the CA ---------------------------------------------------------------------------------------------

    def authority(self, kind: str) -> CertificateAuthority | None:
        """The CA of ``kind`` (station | v2g), loaded once from its directory; None when there is none."""
        found = self._authorities.get(kind)
        if found is None:
            try:
                found = CertificateAuthority.load(self.directory / kind)
            except CaError:
                return None
            self._authorities[kind] = found
        return found

    def require_authority(self, kind: str) -> CertificateAuthority:
        if kind not in KINDS:
            raise UnknownCertificate(f"no CA kind {kind!r} ({', '.join(KINDS)})")
        found = self.authority(kind)
        if found is None:
            raise NoAuthority(
                f"no {kind} CA in {self.directory / kind}: run `chargeplane ca init --kind {kind}`"
            )
        return found

    def urls(self, kind: str) -> Urls:
        base = f"{self.base_url().rstrip('/')}{PKI_PATH}/{kind}"
        return Urls(crl=f"{base}/crl", ocsp=f"{base}/ocsp")

    def policy(self, kind: str, station_id: str | None) -> CsrPolicy:
        authority = self.authority(kind)
        organisation = self.settings.organisation if kind != "mo" else None  # a contract's O is the MO's
        if organisation is None and authority is not None:
            organisation = organisation_of(authority.sub)
        # A00.FR.510: the CN of a station certificate is the station's identity; a V2G (SECC) one is not.
        return CsrPolicy(organisation, station_id if kind == "station" else None)

    async def issue(
        self,
        csr: x509.CertificateSigningRequest,
        kind: str,
        certificate_type: str,
        station_id: str | None,
        source: str,
    ) -> tuple[int, list[x509.Certificate]]:
        """Sign ``csr`` (checked already) with the CA of ``kind``, or the external CA; store it. The chain
        returned is the leaf first."""
        now = self.clock.now()
        external = self.external.get(kind)
        if external is not None:
            chain = await asyncio.to_thread(external.sign, csr, certificate_type, station_id or "")
            if not chain:
                raise CaError("the external CA returned no certificate")
        else:
            authority = self.require_authority(kind)
            leaf = authority.issue(csr, now=now, days=self.settings.certificate_days, urls=self.urls(kind))
            chain = [leaf, authority.sub]
        leaf = chain[0]
        new = NewCertificate(
            kind,
            certificate_serial(leaf),
            station_id,
            certificate_type,
            leaf.subject.rfc4514_string(),
            leaf.not_valid_before_utc,
            leaf.not_valid_after_utc,
            pem_of(leaf),
            source,
        )
        return await self.repository.add_certificate(new, now), chain

    # -- A02 / A03: SignCertificate -> CertificateSigned -----------------------------------------------------

    async def sign_certificate(
        self,
        station_id: str,
        csr_pem: str,
        certificate_type: str,
        request_id: int | None,
        root: HashData | None = None,
    ) -> tuple[str, str | None]:
        """The answer to a SignCertificate: (Accepted, None) with the signing queued, or (Rejected, why).
        ``root``: 2.1's hashRootCertificate, the PKI the station asks for (A02.FR.27): ours or Rejected."""
        now = self.clock.now()
        kind = KIND_OF.get(certificate_type)
        reason: str | None = None
        csr = None
        authority = None if kind is None else self.authority(kind)
        if kind is None:
            reason = f"certificateType {certificate_type} is not signed here"
        elif kind not in self.external and authority is None:
            reason = f"no {kind} CA configured"
        elif root is not None and not _is_root(authority, root):
            reason = "hashRootCertificate names a root this CSMS does not sign under"
        else:
            try:
                csr = check_csr(csr_pem, self.policy(kind, station_id))
            except CsrRefused as refused:
                reason = refused.reason
        status = "Rejected" if csr is None else "Accepted"
        sign_id = await self.repository.add_sign_request(
            station_id, certificate_type, request_id, status, reason, now, None if csr is None else csr_pem
        )
        self._publish(
            "pki.sign_request",
            station_id,
            {"certificateType": certificate_type, "status": status, "reason": reason},
        )
        if csr is None:
            log.info("%s: SignCertificate rejected: %s", station_id, reason)
            return status, reason
        self._queue.put_nowait(_Delivery(sign_id, station_id, csr, certificate_type, request_id))
        return status, None

    async def deliver(self) -> None:
        """The background job: sign each accepted CSR and send CertificateSigned, one at a time; first the
        ones a restart interrupted (stored with their CSR before the station got its Accepted)."""
        for record, pem in await self.repository.pending_sign_requests():
            station = await self.commands.stations.get_station(record.station_key)
            if station is None:
                continue
            csr = x509.load_pem_x509_csr(pem.strip().encode())
            self._queue.put_nowait(
                _Delivery(record.id, station.station_id, csr, record.certificate_type, record.request_id)
            )
        while True:
            delivery = await self._queue.get()
            try:
                await self.deliver_one(delivery)
            except Exception as error:
                log.exception("%s: signing or sending the certificate failed", delivery.station_id)
                await self.repository.sign_outcome(
                    delivery.sign_id, "failed", f"{type(error).__name__}: {error}", None, self.clock.now()
                )

    async def deliver_one(self, delivery: _Delivery) -> None:
        kind = KIND_OF[delivery.certificate_type]
        certificate_id, chain = await self.issue(
            delivery.csr, kind, delivery.certificate_type, delivery.station_id, "ocpp"
        )
        payload: dict[str, object] = {"certificateChain": "".join(pem_of(c) for c in chain)}
        version = self.commands.version_of(delivery.station_id)
        if version is not None and version is not Version.V16 and delivery.certificate_type != COMBINED:
            payload["certificateType"] = delivery.certificate_type  # A02.FR.14: the type asked for
            if version is Version.V21 and delivery.request_id is not None:
                payload["requestId"] = delivery.request_id  # 2.1: echoed
        try:
            sent = await self.commands.send_action(
                delivery.station_id, "CertificateSigned", msgspec.json.encode(payload)
            )
        except Exception as error:
            await self.repository.delivered(certificate_id, "failed")
            await self.repository.sign_outcome(
                delivery.sign_id,
                "undelivered",
                f"{type(error).__name__}: {error}",
                certificate_id,
                self.clock.now(),
            )
            return
        status = msgspec.convert(msgspec.to_builtins(sent.response), _Status).status
        await self.repository.delivered(certificate_id, status)
        await self.repository.sign_outcome(delivery.sign_id, status, None, certificate_id, self.clock.now())
        if status != "Accepted":
            # The station refused the certificate (A02.FR.08 / A03): it will never be used.
            await self.repository.revoke(
                kind, certificate_serial(chain[0]), "cessationOfOperation", self.clock.now()
            )
        self._publish(
            "pki.certificate_signed",
            delivery.station_id,
            {
                "certificateType": delivery.certificate_type,
                "serial": certificate_serial(chain[0]),
                "status": status,
            },
        )

    # -- renewal (A02 started by the CSMS) ------------------------------------------------------------------

    async def renew(self, now: datetime) -> None:
        """One pass of the renewal job (see the module's docstring)."""
        due = await self.repository.due_for_renewal(now + timedelta(days=self.settings.renew_before_days))
        for record in due:
            assert record.station_key is not None
            station = await self.commands.stations.get_station(record.station_key)
            if station is None or self.commands.version_of(station.station_id) is None:
                continue  # offline (or gone): a later pass asks
            try:
                status = await self.trigger(station.station_id, record.certificate_type)
            except (StationOffline, Conflict):
                continue  # offline, or Rejected (B03.FR.03: the CSMS initiates nothing): a later pass asks
            except Exception:
                log.exception("%s: asking for a new certificate failed", station.station_id)
                continue
            if status == "Accepted":
                await self.repository.renewal_requested(record.id, now)

    async def trigger(self, station_id: str, certificate_type: str) -> str:
        """Ask the station for a SignCertificate of ``certificate_type`` now; the station's answer."""
        station_id, version = await self._station(station_id)
        if version is Version.V16:
            if certificate_type != CHARGING_STATION:
                raise InvalidCommand("NotSupportedByVersion", "OCPP 1.6 signs charge point certificates only")
            action, payload = "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
        else:
            requested = TRIGGER_2X.get(certificate_type)
            if requested is None:
                raise Invalid(
                    f"certificateType {certificate_type}: ChargingStationCertificate or V2GCertificate"
                )
            action, payload = "TriggerMessage", {"requestedMessage": requested}
        status = await self._send(station_id, action, payload, certificate_type)
        return status

    # -- revocation: CRL and OCSP responder -----------------------------------------------------------------

    async def revoke(self, kind: str, serial: str, reason: str) -> CertificateRecord:
        if reason not in REASONS:
            raise Invalid(f"reason {reason!r}: one of {', '.join(REASONS)}")
        record = await self.repository.revoke(
            kind, serial.lower().lstrip("0") or "0", reason, self.clock.now()
        )
        if record is None:
            raise UnknownCertificate(f"no {kind} certificate with serial {serial}")
        for listener in self.revocation_listeners:
            await listener(record)
        return record

    async def crl(self, kind: str) -> bytes:
        authority = self.require_authority(kind)
        now = self.clock.now()
        entries = [_revocation(record) for record in await self.repository.revoked(kind)]
        crl = authority.crl(
            entries,
            now=now,
            next_update=now + timedelta(seconds=self.settings.revocation_validity),
            number=int(now.timestamp()),
        )
        return crl.public_bytes(serialization.Encoding.DER)

    async def ocsp(self, kind: str, request_der: bytes) -> bytes:
        """The DER response of the responder of ``kind`` to a DER OCSP request."""
        authority = self.require_authority(kind)
        status = CertStatus(Status.UNKNOWN)
        try:
            serial = format(ocsp.load_der_ocsp_request(request_der).serial_number, "x")
        except ValueError:
            serial = None  # the CA answers malformedRequest
        if serial is not None:
            record = await self.repository.certificate(kind, serial)
            if record is not None:
                status = _cert_status(record)
        now = self.clock.now()
        return authority.ocsp_response(
            request_der,
            lambda _serial: status,
            now=now,
            next_update=now + timedelta(seconds=self.settings.revocation_validity),
        )

    # -- M06: GetCertificateStatus --------------------------------------------------------------------------

    async def certificate_status(
        self, data: HashData, responder_url: str, issuer: x509.Certificate | None = None
    ) -> tuple[str, str | None]:
        """(Accepted, base64 DER OCSP response) or (Failed, None); ``issuer``: see ``_fetch_ocsp``."""
        now = self.clock.now()
        # An answer checked against a given issuer is not shared with one that may have been relayed unchecked.
        key = (data.normalised(), responder_url, issuer is not None)
        cached = self._ocsp_cache.get(key)
        if cached is not None and cached.until > now:
            return "Accepted", cached.response
        fetched = await self._fetch_ocsp(data, responder_url, issuer)
        if fetched is None:
            return "Failed", None
        der, response = fetched
        encoded = base64.b64encode(der).decode()
        next_update = response.next_update_utc
        if next_update is not None and next_update > now:
            if len(self._ocsp_cache) >= OCSP_CACHE_LIMIT:
                self._ocsp_cache = {k: v for k, v in self._ocsp_cache.items() if v.until > now}
            if len(self._ocsp_cache) < OCSP_CACHE_LIMIT:
                self._ocsp_cache[key] = _Cached(encoded, next_update)
        return "Accepted", encoded

    async def contract_status(self, chain: list[tuple[HashData, str]]) -> str:
        """C07.FR.05: an ISO 15118 contract certificate chain checked by OCSP, each certificate at the responder
        it names (cached answers until their nextUpdate): Accepted when every one is good, CertificateRevoked
        when one is revoked, CertChainError when one is unknown or cannot be checked (C07.FR.16-17)."""
        for data, url in chain:
            _, encoded = await self.certificate_status(data, url)
            if encoded is None:
                return "CertChainError"
            status = _contract_answer(ocsp.load_der_ocsp_response(base64.b64decode(encoded)))
            if status != "Accepted":
                return status
        return "Accepted"

    # -- C07.FR.06: a contract chain in PEM --------------------------------------------------------------

    def contract_roots(self) -> list[x509.Certificate]:
        """The roots a contract chain may end at: those the operator added (``contract-roots/`` of the CA
        directory) and the roots of the CSMS's own mo and v2g CAs."""
        roots = [
            x509.load_pem_x509_certificate(path.read_bytes())
            for path in sorted((self.directory / CONTRACT_ROOTS).glob("*.pem"))
        ]
        for kind in ("mo", "v2g"):
            authority = self.authority(kind)
            if authority is not None:
                roots.append(authority.root)
        return roots

    def add_contract_root(self, pem: str) -> x509.Certificate:
        """Trust an MO or V2G root for contract chains; kept as ``<sha256>.pem`` (adding it twice is one)."""
        try:
            root = x509.load_pem_x509_certificate(pem.strip().encode())
        except ValueError:
            raise Invalid("certificate: not a PEM X.509 certificate") from None
        try:
            is_ca = root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca or root.issuer != root.subject:
            raise Invalid("certificate: not a self-signed CA certificate (a root)")
        folder = self.directory / CONTRACT_ROOTS
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{root.fingerprint(hashes.SHA256()).hex()}.pem").write_text(pem_of(root))
        return root

    def remove_contract_root(self, sha256: str) -> None:
        """Stop trusting a root added for contract chains; the roots of the CSMS's own CAs stay (they go with
        their CA directory)."""
        path = self.directory / CONTRACT_ROOTS / f"{sha256.lower()}.pem"
        if not re.fullmatch(r"[0-9a-f]{64}", sha256.lower()) or not path.is_file():
            own = {
                a.root.fingerprint(hashes.SHA256()).hex() for a in map(self.authority, KINDS) if a is not None
            }
            if sha256.lower() in own:
                raise OwnRoot(f"{sha256}: the root of one of the CSMS's own CAs, not an added root")
            raise UnknownCertificate(f"no added contract root with SHA-256 fingerprint {sha256}")
        path.unlink()

    async def contract_chain_status(self, pem: str, emaid: str) -> str:
        """C07.FR.06 / FR.05: a contract chain sent in PEM checked up to a trusted root (signatures, names,
        validity, the eMAID), then its leaf by OCSP at the responder the leaf names; CertChainError when it
        names none (its revocation cannot be verified, C07.FR.17)."""
        checked = check_chain(pem, emaid, self.contract_roots(), self.clock.now())
        if checked.status != ACCEPTED:
            return checked.status
        assert checked.leaf is not None
        assert checked.issuer is not None
        url = ocsp_url(checked.leaf)
        if url is None:
            return CHAIN_ERROR
        # The leaf's issuer was verified up to a trusted root: the OCSP answer must be signed by it or its delegate.
        _, encoded = await self.certificate_status(
            hash_data(checked.leaf, checked.issuer), url, checked.issuer
        )
        if encoded is None:
            return CHAIN_ERROR  # no answer the leaf's issuer vouches for (C07.FR.17)
        return _contract_answer(ocsp.load_der_ocsp_response(base64.b64decode(encoded)))

    def known_issuer(self, data: HashData) -> x509.Certificate | None:
        """The certificate ``data`` names as issuer, when the CSMS holds it: a root or sub-CA of its own CAs, or
        a trusted contract root."""
        candidates = list(self.contract_roots())
        for kind in KINDS:
            authority = self.authority(kind)
            if authority is not None:
                candidates += [authority.root, authority.sub]
        return next((c for c in candidates if names_issuer(data, c)), None)

    async def _fetch_ocsp(
        self, data: HashData, url: str, issuer: x509.Certificate | None = None
    ) -> tuple[bytes, OCSPResponse] | None:
        """A successful OCSP response about the certificate ``data`` names, from the responder at ``url``.

        When the issuer is known (given, or one the CSMS holds) the response must be signed by it or by a
        responder it delegated; a response that is not is dropped as forged (logged). An issuer the CSMS does
        not hold (a sub-CA of someone else's chain) cannot be checked here: that answer is relayed as it is
        (for M06 the station, which holds the chain, verifies it itself)."""
        try:
            request = ocsp_request(data)
        except (ValueError, KeyError):
            return None
        answer = await self._http(url, request)
        if answer is None:
            return None
        try:
            response = ocsp.load_der_ocsp_response(answer.content)
            if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
                return None
            if response.serial_number != int(data.serial_number, 16):
                return None  # not about the certificate asked
        except ValueError:
            return None
        issuer = issuer or self.known_issuer(data)
        if issuer is not None and not ocsp_signed_by_issuer(response, issuer, self.clock.now()):
            log.warning(
                "%s: an OCSP response not signed by %s nor a responder it delegated", url, issuer.subject
            )
            return None
        return answer.content, response

    # -- M01 / M02: Get15118EVCertificate ------------------------------------------------------------------

    async def contract_certificate(self, request: ContractRequest) -> ContractAnswer:
        """The EV's EXI request forwarded to the contract-certificate backend; Failed without one, or when it
        fails (the station then tells the EV, M01.FR.xx)."""
        if self.contracts is None:
            return ContractAnswer(False, "")
        try:
            answer = await self.contracts.certificate(request)
        except Exception:
            log.exception("%s: the contract-certificate backend failed", request.station_id)
            answer = ContractAnswer(False, "")
        self._publish(
            "pki.contract_certificate",
            request.station_id,
            {"action": request.action, "accepted": answer.accepted},
        )
        return answer

    # -- M07 (2.1): GetCertificateChainStatus ---------------------------------------------------------------

    async def chain_status(self, data: HashData, source: str, urls: list[str]) -> tuple[str, datetime]:
        """The status of one certificate of a chain and until when it holds: from an OCSP responder of
        ``urls`` (M07.FR.01-03) or from a CRL downloaded from one of them (M07.FR.04-07); the URLs are tried in
        turn, Failed when none answers (M07.FR.02 / 05)."""
        now = self.clock.now()
        for url in urls:
            if source == "OCSP":
                fetched = await self._fetch_ocsp(data, url)
                if fetched is None:
                    continue
                _, response = fetched
                status = {
                    ocsp.OCSPCertStatus.GOOD: "Good",
                    ocsp.OCSPCertStatus.REVOKED: "Revoked",
                    ocsp.OCSPCertStatus.UNKNOWN: "Unknown",
                }[response.certificate_status]
                return status, response.next_update_utc or now
            crl = await self._fetch_crl(data, url)
            if crl is None:
                continue
            revoked = crl.get_revoked_certificate_by_serial_number(int(data.serial_number, 16)) is not None
            return ("Revoked" if revoked else "Good"), crl.next_update_utc or now
        return "Failed", now

    async def _http(self, url: str, ocsp_request_der: bytes | None) -> httpx.Response | None:
        """GET ``url``, or POST an OCSP request to it; the answer when it is a 200, else None (logged)."""
        if not url.startswith(("http://", "https://")):
            return None
        try:
            async with httpx.AsyncClient(timeout=self.settings.ocsp_timeout) as client:
                if ocsp_request_der is None:
                    answer = await client.get(url)
                else:
                    headers = {"Content-Type": "application/ocsp-request"}
                    answer = await client.post(url, content=ocsp_request_der, headers=headers)
        except httpx.HTTPError as error:
            log.info("%s: %s", url, error)
            return None
        return answer if answer.status_code == 200 else None

    async def _fetch_crl(self, data: HashData, url: str) -> x509.CertificateRevocationList | None:
        """The CRL at ``url`` (DER or PEM) when its issuer is the issuer ``data`` names."""
        answer = await self._http(url, None)
        if answer is None:
            return None
        try:
            body = answer.content
            crl = (
                x509.load_pem_x509_crl(body)
                if body.lstrip().startswith(b"-----")
                else x509.load_der_x509_crl(body)
            )
            algorithm = HASH_ALGORITHMS[data.hash_algorithm]()
        except (ValueError, KeyError):
            return None
        digest = hashes.Hash(algorithm)
        digest.update(crl.issuer.public_bytes())
        if digest.finalize().hex() != data.issuer_name_hash.lower():
            return None  # another issuer's list says nothing about this certificate
        issuer = self.known_issuer(data)
        if issuer is not None and not crl_signed_by(crl, issuer):
            log.warning("%s: a CRL not signed by %s", url, issuer.subject)
            return None
        return crl

    # -- M03-M05: the station's CA certificates -------------------------------------------------------------

    async def install(self, station_id: str, certificate_type: str, pem: str) -> str:
        try:
            certificate = x509.load_pem_x509_certificate(pem.strip().encode())
        except ValueError:
            raise Invalid("certificate: not a PEM X.509 certificate") from None
        try:
            is_ca = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:  # M05: the types InstallCertificate takes are all (root) CA certificates
            raise Invalid("certificate: not a CA certificate (basicConstraints cA)")
        station_id, _ = await self._station(station_id)
        payload = {"certificateType": certificate_type, "certificate": pem}
        status = await self._send(station_id, "InstallCertificate", payload, certificate_type)
        if status == "Accepted" and certificate.issuer == certificate.subject:
            await self.repository.add_installed(
                station_id, certificate_type, hash_data(certificate, None), self.clock.now()
            )
        return status

    async def query_installed(self, station_id: str, types: list[str] | None) -> str:
        """GetInstalledCertificateIds; 1.6 asks one type per request, so both in turn when none is given."""
        station_id, version = await self._station(station_id)
        if version is Version.V16:
            asked = types or ["CentralSystemRootCertificate", "ManufacturerRootCertificate"]
            statuses = []
            for certificate_type in asked:
                sent = await self._send_raw(
                    station_id,
                    "GetInstalledCertificateIds",
                    {"certificateType": certificate_type},
                    certificate_type,
                )
                answer = msgspec.convert(msgspec.to_builtins(sent), _Installed16)
                statuses.append(answer.status)
                if answer.status in ("Accepted", "NotFound"):
                    reported = [Reported(certificate_type, h.data()) for h in answer.certificate_hash_data]
                    await self.repository.replace_installed(
                        station_id, [certificate_type], reported, self.clock.now()
                    )
            return "Accepted" if "Accepted" in statuses else statuses[-1]
        payload: dict[str, object] = {} if types is None else {"certificateType": types}
        detail = "all types" if types is None else ",".join(types)
        sent = await self._send_raw(station_id, "GetInstalledCertificateIds", payload, detail)
        answer2x = msgspec.convert(msgspec.to_builtins(sent), _Installed2x)
        if answer2x.status in ("Accepted", "NotFound"):
            reported = [
                Reported(
                    c.certificate_type,
                    c.certificate_hash_data.data(),
                    tuple(child.data() for child in c.child_certificate_hash_data),
                )
                for c in answer2x.certificate_hash_data_chain
            ]
            await self.repository.replace_installed(station_id, types, reported, self.clock.now())
        return answer2x.status

    async def delete(self, station_id: str, data: HashData) -> str:
        station_id, _ = await self._station(station_id)
        payload = {"certificateHashData": data.wire()}
        status = await self._send(station_id, "DeleteCertificate", payload, f"serial {data.serial_number}")
        if status == "Accepted":
            await self.repository.remove_installed(station_id, data.normalised())
        return status

    async def inventory(self, station_id: str) -> Inventory:
        issued, _ = await self.repository.certificates(station_id, 0, 100)
        requests, _ = await self.repository.sign_requests(station_id, 0, 20)
        return Inventory(
            issued,
            await self.repository.installed(station_id),
            requests,
            await self.repository.operations(station_id, 20),
        )

    # -- helpers --------------------------------------------------------------------------------------------

    async def _station(self, station_id: str) -> tuple[str, Version | None]:
        return await self.commands.station(station_id)

    async def _send_raw(
        self, station_id: str, action: str, payload: Mapping[str, object], detail: str
    ) -> object:
        try:
            sent = await self.commands.send_action(station_id, action, msgspec.json.encode(payload))
        except Exception:
            await self.repository.add_operation(station_id, action, detail, None, self.clock.now())
            raise
        answer = msgspec.to_builtins(sent.response)
        status = answer.get("status") if isinstance(answer, dict) else None
        await self.repository.add_operation(station_id, action, detail, str(status), self.clock.now())
        return answer

    async def _send(self, station_id: str, action: str, payload: Mapping[str, object], detail: str) -> str:
        answer = await self._send_raw(station_id, action, payload, detail)
        return msgspec.convert(answer, _Status).status

    def _publish(self, kind: str, station_id: str, data: dict[str, object]) -> None:
        if self.events is not None:
            self.events.publish(StationEvent(kind, station_id, data))


def _contract_answer(response: OCSPResponse) -> str:
    """C07: a good certificate is Accepted, a revoked one CertificateRevoked, an unknown one CertChainError."""
    status = response.certificate_status
    if status is ocsp.OCSPCertStatus.REVOKED:
        return "CertificateRevoked"
    return "Accepted" if status is ocsp.OCSPCertStatus.GOOD else "CertChainError"


def _is_root(authority: CertificateAuthority | None, root: HashData) -> bool:
    """Whether ``root`` is the hash data of ``authority``'s root (in the algorithm it uses)."""
    if authority is None or root.hash_algorithm not in HASH_ALGORITHMS:
        return False
    return hash_data(authority.root, None, root.hash_algorithm) == root.normalised()


def _revocation(record: CertificateRecord) -> RevocationEntry:
    assert record.revoked_at is not None
    return RevocationEntry(
        int(record.serial, 16), record.revoked_at, REASONS.get(record.revocation_reason or "")
    )


def _cert_status(record: CertificateRecord) -> CertStatus:
    if record.status == "revoked":
        return CertStatus(Status.REVOKED, record.revoked_at, REASONS.get(record.revocation_reason or ""))
    return CertStatus(Status.GOOD)

"""ISO 15118 certificate management on the station: M01/M02 (the EV's contract certificate install and update,
forwarded to the CSMS) and M06 (the OCSP status of the station's V2G certificate chain, cached for the EV's TLS
handshake).

Readings where the specification leaves a choice:

* M01/M02: the EXI request stays opaque (the 15118 stack of the EVSE hands it over, base64); the CSMS's answer
  goes back to the EV as an :class:`~.model.EvCertificateAnswer`. No answer (timeout, connection lost) or not
  online: failure to the EV (the use cases' error handling). ISO15118Ctrlr.ContractCertificateInstallationEnabled
  false: the station refuses the EV's request itself and asks nothing.
* C07: the station checks an EV's contract chain itself when the EV gave it (signatures, validity, an installed
  MO or V2G root as anchor): online it then sends the OCSP data (C07.FR.02), or the chain itself when no root
  of its own anchors it and CentralContractValidationAllowed is true (C07.FR.06); offline only with
  ContractValidationOffline (C07.FR.07-12).
* M06: every certificate of the newest V2G certificate chain but a self-signed root is asked about, one
  GetCertificateStatus each (M06 remark), at the responder its Authority Information Access names (one without
  is skipped: the CSMS could not ask anyone). A new V2G certificate starts it at once (M06.FR.07), then at least
  weekly (M06.FR.10). A Failed answer or no answer keeps what was cached and asks again an hour later.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from chargeplane.ocpp.messages import v2x
from chargeplane.ocpp.messages.base import Payload, present
from chargeplane.ocpp.versions import Version
from chargeplane.pki.revocation import ocsp_signed_by_issuer
from chargeplane.station.core.certificates import (
    MO_ROOT,
    V2G_CERTIFICATE,
    V2G_ROOT,
    Certificates,
    hash_data,
    issued_by,
    load_chain,
    within_validity,
)
from chargeplane.station.core.context import Context, Controller
from chargeplane.station.core.device_model import StationLayout, VariableDef, var
from chargeplane.station.core.model import EvCertificateAnswer

CTRLR = "ISO15118Ctrlr"
SCHEMA_15118_2 = "urn:iso:15118:2:2013:MsgDef"
REFRESH = timedelta(days=7)  # M06.FR.10
RETRY = timedelta(hours=1)
_CACHE = "v2g_ocsp"
VALID, NO_ROOT, INVALID = "Valid", "NoRoot", "Invalid"  # validate_contract


@dataclass(frozen=True, slots=True)
class CachedStatus:
    """One certificate's OCSP response (base64 DER, as the CSMS gave it) and when it was fetched."""

    serial: str
    ocsp_result: str
    fetched: datetime


@dataclass(frozen=True, slots=True)
class StatusRequest:
    """What one GetCertificateStatus asks: a certificate of the chain, hashed with its issuer."""

    serial: str
    algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    responder_url: str
    issuer: x509.Certificate  # the answer must be signed by it or a responder it delegated


class Iso15118(Controller):
    __slots__ = ("_asked_for", "_due", "_ev_waiting", "_in_flight", "cache")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.cache: dict[str, CachedStatus] = {}  # by serial (hex)
        self._asked_for: int | None = None  # serial of the V2G leaf the cache was last refreshed for
        self._due: datetime | None = None  # the next weekly refresh or retry
        self._in_flight = 0  # GetCertificateStatus CALLs not answered yet
        self._ev_waiting: dict[int, str] = {}  # EVSE -> action of a Get15118EVCertificate not answered yet

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        return [
            var(CTRLR, "ContractCertificateInstallationEnabled", "boolean", "true"),
            var(CTRLR, "PnCEnabled", "boolean", "true"),
            var(CTRLR, "CentralContractValidationAllowed", "boolean", "false"),
            var(CTRLR, "ContractValidationOffline", "boolean", "false"),
        ]

    def start(self, now: datetime) -> None:
        raw = self.ctx.storage.get_state(_CACHE)
        if raw:
            data = json.loads(raw)
            self._asked_for = data.get("leaf")
            for item in data.get("cache", []):
                fetched = datetime.fromisoformat(item["fetched"])
                self.cache[item["serial"]] = CachedStatus(item["serial"], item["ocsp"], fetched)
            self._due = min((c.fetched + REFRESH for c in self.cache.values()), default=None)

    # ------------------------------------------------------------------ M01 / M02
    def ev_certificate(self, evse_id: int, action: str, exi_request: str, now: datetime) -> None:
        """The EV's CertificateInstallationReq (``Install``, M01.FR.01) or CertificateUpdateReq (``Update``,
        M02.FR.01), base64 EXI, forwarded with Get15118EVCertificate."""
        ctx = self.ctx

        def refuse(_: datetime | None = None) -> None:
            self._ev_waiting.pop(evse_id, None)
            ctx.act(EvCertificateAnswer(evse_id, action, False, ""))

        if ctx.version is Version.V16 or not ctx.model.flag(CTRLR, "ContractCertificateInstallationEnabled"):
            refuse()
            return

        def build(ns: v2x.Dialect) -> v2x.Get15118EVCertificateRequest:
            return ns.Get15118EVCertificateRequest(
                iso15118_schema_version=SCHEMA_15118_2,
                action=ns.CertificateActionEnumType(action),
                exi_request=exi_request,
            )

        def answered(response: Payload, at: datetime) -> None:
            status = str(getattr(response, "status", ""))
            exi = str(getattr(response, "exi_response", "") or "")
            self._ev_waiting.pop(evse_id, None)
            ctx.act(EvCertificateAnswer(evse_id, action, status == "Accepted" and bool(exi), exi))

        if ctx.send(v2x.with_dialect(ctx.version, build), now, answered, on_failure=refuse):
            self._ev_waiting[evse_id] = action
        else:
            refuse()

    def connection_closed(self, now: datetime) -> None:
        """No answer will come to what is in flight: the waiting EVs are told it failed (the use cases' error
        handling), the OCSP refresh is tried again later."""
        for evse_id, action in self._ev_waiting.items():
            self.ctx.act(EvCertificateAnswer(evse_id, action, False, ""))
        self._ev_waiting.clear()
        if self._in_flight:
            self._in_flight = 0
            self._retry(now)

    # ------------------------------------------------------------------ C07: the EV's contract chain
    def validate_contract(self, chain_pem: str, now: datetime) -> str:
        """The station's own check of an EV's contract certificate chain (PEM, leaf first): ``Valid`` when
        each certificate is signed by the next, the leaf is within its validity and the chain ends at an
        installed MORootCertificate (or V2GRootCertificate); ``NoRoot`` when no installed root is its
        anchor (C07.FR.06: the CSMS may validate it); ``Invalid`` otherwise."""
        try:
            chain = load_chain(chain_pem)
        except ValueError:
            return INVALID
        if not chain or not all(issued_by(chain[i], chain[i + 1]) for i in range(len(chain) - 1)):
            return INVALID
        certificates = self.ctx.get(Certificates)
        roots = certificates.roots(MO_ROOT) + certificates.roots(V2G_ROOT)
        top = chain[-1]
        if not any(issued_by(top, root) or top == root for root in roots):
            return NO_ROOT
        at = self.ctx.station_time(now)
        return VALID if all(within_validity(c, at) for c in chain) else INVALID

    # ------------------------------------------------------------------ M06
    def ocsp_response(self, serial: str) -> str | None:
        """The cached OCSP response (base64 DER) for a certificate of the V2G chain, for the EV's handshake."""
        cached = self.cache.get(serial)
        return None if cached is None else cached.ocsp_result

    def _leaf_serial(self) -> int | None:
        newest = self.ctx.get(Certificates).newest(V2G_CERTIFICATE)
        return None if newest is None else newest.leaf.serial_number

    def next_deadline(self) -> datetime | None:
        if self.ctx.version is Version.V16 or not self.ctx.accepted or self._in_flight:
            return None
        newest = self.ctx.get(Certificates).newest(V2G_CERTIFICATE)
        if newest is None:
            return None
        if newest.leaf.serial_number != self._asked_for:  # M06.FR.07: a new certificate, asked for at once
            return newest.leaf.not_valid_before_utc - self.ctx.clock_offset
        return self._due

    def handle_timer(self, now: datetime) -> None:
        due = self.next_deadline()
        if due is None or due > now:
            return
        newest = self.ctx.get(Certificates).newest(V2G_CERTIFICATE)
        assert newest is not None  # next_deadline has one
        self._asked_for = newest.leaf.serial_number
        self._due = now + REFRESH
        requests = self.status_requests(newest.chain)
        for request in requests:
            self._ask(request, now)
        self._save()

    def status_requests(self, chain: tuple[x509.Certificate, ...]) -> list[StatusRequest]:
        """M06.FR.06: one request per certificate of the chain that names an OCSP responder, hashed with its
        issuer (the next in the chain, or an installed V2G root); self-signed roots are not asked about."""
        certificates = self.ctx.get(Certificates)
        found = []
        for index, certificate in enumerate(chain):
            if certificate.issuer == certificate.subject:
                continue
            issuer = chain[index + 1] if index + 1 < len(chain) else certificates.issuer_of(certificate)
            url = responder_url(certificate)
            if issuer is None or url is None:
                continue
            data = hash_data(certificate, issuer, "SHA256")
            found.append(
                StatusRequest(
                    data.serial_number, "SHA256", data.issuer_name_hash, data.issuer_key_hash, url, issuer
                )
            )
        return found

    def _ask(self, request: StatusRequest, now: datetime) -> None:
        ctx = self.ctx

        def build(ns: v2x.Dialect) -> v2x.GetCertificateStatusRequest:
            data = ns.OCSPRequestDataType(
                hash_algorithm=ns.HashAlgorithmEnumType(request.algorithm),
                issuer_name_hash=request.issuer_name_hash,
                issuer_key_hash=request.issuer_key_hash,
                serial_number=request.serial,
                responder_url=request.responder_url,
            )
            return ns.GetCertificateStatusRequest(ocsp_request_data=data)

        def answered(response: Payload, at: datetime) -> None:
            self._in_flight -= 1
            result = present(getattr(response, "ocsp_result", None))
            if (
                str(getattr(response, "status", "")) == "Accepted"
                and isinstance(result, str)
                and _vouched(result, request, at)
            ):
                self.cache[request.serial] = CachedStatus(request.serial, result, at)  # M06.FR.06
            else:
                self._retry(at)  # M06.FR.04: the CSMS could not get it; the old answer stays until then
            self._save()

        def failed(at: datetime) -> None:
            self._in_flight -= 1
            self._retry(at)

        if ctx.send(v2x.with_dialect(ctx.version, build), now, answered, on_failure=failed):
            self._in_flight += 1
        else:
            self._retry(now)

    def _retry(self, now: datetime) -> None:
        self._due = min(self._due or now + RETRY, now + RETRY)

    def _save(self) -> None:
        cache = [
            {"serial": c.serial, "ocsp": c.ocsp_result, "fetched": c.fetched.isoformat()}
            for c in self.cache.values()
        ]
        self.ctx.storage.set_state(_CACHE, json.dumps({"leaf": self._asked_for, "cache": cache}))


def responder_url(certificate: x509.Certificate) -> str | None:
    """The OCSP responder the certificate's Authority Information Access names (M06 remark), or None."""
    try:
        access = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    for description in access:
        if description.access_method == AuthorityInformationAccessOID.OCSP:
            return str(description.access_location.value)[:512]
    return None


def _vouched(result: str, request: StatusRequest, now: datetime) -> bool:
    """Whether the CSMS's answer is a DER OCSP response (M06.FR.08/09) about the certificate asked, signed by
    its issuer or a responder the issuer delegated: the station staples it for EVs, never a forged one."""
    try:
        response = ocsp.load_der_ocsp_response(base64.b64decode(result, validate=True))
        if response.serial_number != int(request.serial, 16):
            return False
    except ValueError:
        return False
    return ocsp_signed_by_issuer(response, request.issuer, now)

"""The tool's OCSP responder (RFC 6960 over HTTP POST) for the cases where the CSMS checks a certificate of the
tool's test PKI: the ISO 15118 contract chains of C07 (TC_C_50/51/52_CSMS: "an OCSP service for OCTT").

It answers for the certificates a case registered (good, or revoked once the case says so), signed by each
certificate's issuer (RFC 6960 §2.6: the CA itself may sign), and records the serials it was asked about, so
that a case can check the CSMS did ask. A certificate it does not know is answered ``unknown``; a body that is
not an OCSP request ``malformedRequest``.
"""

from __future__ import annotations

import asyncio
import datetime
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from litestar import Litestar, Request, Response, post

from chargeplane.tools.conformance.file_server import serve_embedded, stop_embedded
from chargeplane.tools.conformance.pki import Issued

MAX_REQUEST = 10_000  # bytes: an OCSP request for one certificate is a few hundred
VALIDITY = datetime.timedelta(minutes=5)
OCSP_RESPONSE = "application/ocsp-response"


@dataclass
class _Known:
    certificate: x509.Certificate
    issuer: Issued
    revoked: bool = False


@dataclass
class OcspState:
    known: dict[int, _Known] = field(default_factory=dict)  # by serial
    asked: list[int] = field(default_factory=list)  # serials, in the order asked


def _answer(state: OcspState, body: bytes) -> bytes:
    try:
        request = ocsp.load_der_ocsp_request(body)
    except ValueError:
        return ocsp.OCSPResponseBuilder.build_unsuccessful(
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        ).public_bytes(serialization.Encoding.DER)
    state.asked.append(request.serial_number)
    known = state.known.get(request.serial_number)
    if known is None:
        return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(
            serialization.Encoding.DER
        )
    now = datetime.datetime.now(datetime.UTC)
    status = ocsp.OCSPCertStatus.REVOKED if known.revoked else ocsp.OCSPCertStatus.GOOD
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=known.certificate,
            issuer=known.issuer.certificate,
            algorithm=hashes.SHA256(),
            cert_status=status,
            this_update=now,
            next_update=now + VALIDITY,
            revocation_time=now if known.revoked else None,
            revocation_reason=x509.ReasonFlags.key_compromise if known.revoked else None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, known.issuer.certificate)
    )
    response = builder.sign(known.issuer.key, hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER)


def _app(state: OcspState) -> Litestar:
    @post("/ocsp", status_code=200)
    async def respond(request: Request[Any, Any, Any]) -> Response[bytes]:
        body = await request.body()
        return Response(_answer(state, body), media_type=OCSP_RESPONSE)

    return Litestar([respond], request_max_body_size=MAX_REQUEST, openapi_config=None)


class OcspResponder:
    """``async with OcspResponder(host) as responder``: up for one case."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.state = OcspState()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._port = 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}/ocsp"

    def register(self, certificate: x509.Certificate, issuer: Issued) -> None:
        self.state.known[certificate.serial_number] = _Known(certificate, issuer)

    def revoke(self, certificate: x509.Certificate) -> None:
        self.state.known[certificate.serial_number].revoked = True

    def was_asked(self, certificate: x509.Certificate) -> bool:
        return certificate.serial_number in self.state.asked

    async def __aenter__(self) -> OcspResponder:
        self._server, self._task, self._port = await serve_embedded(_app(self.state), self.host)
        return self

    async def __aexit__(self, *_: object) -> None:
        server, task = self._server, self._task
        self._server = self._task = None
        if server is not None and task is not None:
            await stop_embedded(server, task)

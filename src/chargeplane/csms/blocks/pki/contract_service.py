"""A contract-certificate backend that forwards the EV's EXI request to an operator's contract-certificate
service over HTTP (M01/M02), as a CSMS hands it to a mobility operator's PKI or a contract certificate pool.

The exchange is JSON: POST ``{exiRequest, iso15118SchemaVersion, action}`` (2.1 adds
``maximumContractCertificateChains`` and ``prioritizedEMAIDs`` when the station sent them, and every request
names the ``stationId``) and the answer ``{status: "Accepted" | "Failed", exiResponse, remaining...}``.
The EXI itself stays opaque here: decoding the CertificateInstallationReq and encoding the
CertificateInstallationRes is the service's. A service that does not answer within the timeout, answers
anything but a 200 with that JSON, or answers Failed makes the CSMS answer Failed with a statusInfo saying why
(ISO 15118-2 gives the EV 5 s for the whole exchange, so the default timeout stays below it).
"""

from __future__ import annotations

import base64
import binascii
import logging

import httpx
import msgspec

from chargeplane.csms.blocks.pki.settings import PkiSettings
from chargeplane.csms.settings import SettingsError
from chargeplane.pki.contract import ContractAnswer, ContractRequest

log = logging.getLogger(__name__)


class _Reply(msgspec.Struct, rename="camel"):
    status: str
    exi_response: str = ""
    remaining_contract_certificate_chains: int | None = None
    reason_code: str | None = None  # the service's own reason, passed on as the statusInfo reasonCode


class HttpContractBackend:
    """:class:`~chargeplane.pki.contract.ContractCertificateBackend` over HTTP."""

    def __init__(self, url: str, timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self._transport = transport  # tests only: an in-process service

    async def certificate(self, request: ContractRequest) -> ContractAnswer:
        body: dict[str, object] = {
            "stationId": request.station_id,
            "exiRequest": request.exi_request,
            "iso15118SchemaVersion": request.schema_version,
            "action": request.action,
        }
        if request.maximum_chains is not None:
            body["maximumContractCertificateChains"] = request.maximum_chains
        if request.prioritized_emaids:
            body["prioritizedEMAIDs"] = list(request.prioritized_emaids)
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self._transport) as client:
                answer = await client.post(self.url, json=body)
        except httpx.TimeoutException:
            return _failed(
                "Timeout", f"no answer from the contract-certificate service in {self.timeout:g} s"
            )
        except httpx.HTTPError as error:
            log.info("contract-certificate service %s: %s", self.url, error)
            return _failed("ServiceUnavailable", "the contract-certificate service cannot be reached")
        if answer.status_code != 200:
            return _failed(
                "ServiceUnavailable", f"the contract-certificate service answered {answer.status_code}"
            )
        try:
            reply = msgspec.json.decode(answer.content, type=_Reply)
        except msgspec.DecodeError as error:
            log.info("contract-certificate service %s: %s", self.url, error)
            return _failed("InvalidResponse", "the contract-certificate service's answer is not understood")
        return _answer(reply)


def _answer(reply: _Reply) -> ContractAnswer:
    if reply.status != "Accepted":
        return _failed(reply.reason_code or "NoContractCert", "the contract-certificate service refused")
    if not reply.exi_response:
        return _failed("InvalidResponse", "the service's exiResponse is empty")
    try:
        base64.b64decode(reply.exi_response, validate=True)
    except binascii.Error:
        return _failed("InvalidResponse", "the service's exiResponse is not base64")
    return ContractAnswer(True, reply.exi_response, reply.remaining_contract_certificate_chains)


def _failed(reason: str, detail: str) -> ContractAnswer:
    return ContractAnswer(False, "", reason=reason, detail=detail)


def from_settings(settings: PkiSettings) -> HttpContractBackend:
    """The ``contract_backend`` factory of the HTTP backend (``contract_service_url`` is its address)."""
    if settings.contract_service_url is None:
        raise SettingsError("contract_service_url is needed by the HTTP contract-certificate backend")
    return HttpContractBackend(settings.contract_service_url, settings.contract_service_timeout)

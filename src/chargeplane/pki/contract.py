"""The contract-certificate backend of ISO 15118 Plug & Charge (M01 install, M02 update).

The station passes the EV's EXI request (a CertificateInstallationReq / CertificateUpdateReq, base64) through
to the CSMS, which hands it to the backend of the mobility operator's PKI (a contract certificate pool or an
MO's own service) and returns the EXI response it gives. Decoding and encoding EXI, and the contract
certificate itself, are the backend's: the CSMS forwards only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ContractRequest:
    station_id: str
    schema_version: str  # iso15118SchemaVersion, e.g. urn:iso:15118:2:2013:MsgDef
    action: str  # Install | Update
    exi_request: str  # base64, as the station sent it
    maximum_chains: int | None = None  # 2.1 maximumContractCertificateChains
    prioritized_emaids: tuple[str, ...] = ()  # 2.1 prioritizedEMAIDs


@dataclass(frozen=True, slots=True)
class ContractAnswer:
    accepted: bool
    exi_response: str  # base64 EXI for the EV (empty when not accepted)
    remaining_chains: int | None = None  # 2.1 remainingContractCertificateChains
    reason: str | None = None  # not accepted: the statusInfo reasonCode (default NoContractCert)
    detail: str | None = None  # not accepted: the statusInfo additionalInfo (why, for the operator)


class ContractCertificateBackend(Protocol):
    async def certificate(self, request: ContractRequest) -> ContractAnswer: ...

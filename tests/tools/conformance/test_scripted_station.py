"""The cases of blocks L, M and N against a small scripted station that does what they ask (our station does not
yet: issues #13, #14), so that their happy paths and the tool's file server and PKI are exercised end to end."""

from __future__ import annotations

import asyncio
import base64
import datetime
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chargeplane.ocpp.catalog import STATION
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.timestamps import from_wire, utc_now
from chargeplane.ocpp.versions import Version
from chargeplane.tools.conformance.case import REGISTRY, Side
from chargeplane.tools.conformance.cases.cs.l_firmware import FIRMWARE_MARK
from chargeplane.tools.conformance.declaration import Configured, Declaration
from chargeplane.tools.conformance.pki import hash_data, issue
from chargeplane.tools.conformance.report import Outcome, console_line
from chargeplane.tools.conformance.runner import load_cases, run_station_cases
from chargeplane.tools.conformance.station_adapter import (
    SetUpConnection,
    StationAction,
    StoreCustomerIdentifier,
)
from chargeplane.tools.conformance.station_steps import CsmsEndpoint, ListenSettings
from chargeplane.transport.backoff import BackOffSettings
from chargeplane.transport.client import ClientSettings, OcppClient
from chargeplane.transport.connection import OcppConnection

load_cases()

STATION_ID = "SCRIPTED-CS-1"
PASSWORD = "scripted-password-0123"
Fw = en.FirmwareStatusEnumType


def _report(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        print(f"scripted station: {task.exception()!r}")  # shown with the failing test's output


class ScriptedStation:
    """Logs, customer information, CA certificates and signed firmware, the way Part 2 describes them."""

    def __init__(self, url: str, directory: Path) -> None:
        self.url = url
        self.directory = directory
        factory_root = issue("Scripted factory CSMS root", ca=True).certificate  # what it connects with
        self.certificates: dict[str, list[x509.Certificate]] = {"CSMSRootCertificate": [factory_root]}
        self.tasks: set[asyncio.Task[None]] = set()
        self.customers: set[str] = set()  # data kept under customer identifiers (N10)
        self.upload: asyncio.Task[None] | None = None  # the log upload going on
        self.updating: asyncio.Task[None] | None = None  # the firmware update going on
        self.profiles: dict[int, dt.NetworkConnectionProfileType] = {}  # B09 / A05
        self.security_profile = 1
        self.pending_url: str | None = None  # the slot NetworkConfigurationPriority put first, until a reset
        self.client = self._client()
        self._run: asyncio.Task[None] | None = None

    def _client(self, password: str = PASSWORD, *, trust: bool = False) -> OcppClient:
        bundle = None
        if trust:  # the CSMS roots installed, as one bundle
            bundle = self.directory / "csms-roots.pem"
            roots = self.certificates.get("CSMSRootCertificate", [])
            bundle.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in roots))
        settings = ClientSettings(
            self.url,
            STATION_ID,
            password=password,
            ca_bundle=bundle,
            backoff=BackOffSettings(0.2, 0.1, 1),
            ping_interval=None,
        )
        return OcppClient(settings, self._router)

    def _router(self, version: Version) -> Router[OcppConnection]:
        router = Router[OcppConnection](version, STATION)
        router.register(msg.SetVariablesRequest, self.set_variables)
        router.register(msg.ResetRequest, self.reset)
        router.register(msg.SetNetworkProfileRequest, self.set_network_profile)
        router.register(msg.GetVariablesRequest, self.get_variables)
        router.register(msg.GetLogRequest, self.get_log)
        router.register(msg.CustomerInformationRequest, self.customer_information)
        router.register(msg.InstallCertificateRequest, self.install_certificate)
        router.register(msg.GetInstalledCertificateIdsRequest, self.get_installed)
        router.register(msg.DeleteCertificateRequest, self.delete_certificate)
        router.register(msg.UpdateFirmwareRequest, self.update_firmware)
        return router

    async def start(self) -> None:
        self._run = asyncio.create_task(self.client.run())

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.client.stop()
        if self._run is not None:
            await asyncio.wait_for(self._run, 5)

    async def perform(self, action: StationAction) -> None:
        if isinstance(action, StoreCustomerIdentifier):
            self.customers.add(action.identifier)
        elif isinstance(action, SetUpConnection):  # the installer's set-up: after TC_A_22_CS, profile 1 again
            self.later(self._set_up(action))

    async def _set_up(self, action: SetUpConnection) -> None:
        """The station set up to connect to ``action.url`` on its profile, trusting the root it is given only,
        then started again (without this, the tool's clean-up after a TLS case waits for a boot in vain)."""
        await asyncio.sleep(0.2)  # the manual action returns first, as a person's would
        tls = action.security_profile >= 2
        if tls:
            self.certificates["CSMSRootCertificate"] = [
                x509.load_pem_x509_certificate(action.csms_root.encode())
            ]
        self.url, self.security_profile, self.pending_url = action.url, action.security_profile, None
        await self._restart(self._client(PASSWORD, trust=tls))
        await self._booted(en.BootReasonEnumType.POWER_UP, "StartupOfTheDevice")

    def later(self, job: object) -> asyncio.Task[None]:
        assert asyncio.iscoroutine(job)
        task: asyncio.Task[None] = asyncio.create_task(job)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(_report)
        return task

    def set_network_profile(
        self, request: msg.SetNetworkProfileRequest, _: OcppConnection
    ) -> msg.SetNetworkProfileResponse:
        if request.connection_data.security_profile < self.security_profile:  # B09.FR.04: no downgrade
            return msg.SetNetworkProfileResponse(status=en.SetNetworkProfileStatusEnumType.REJECTED)
        self.profiles[request.configuration_slot] = request.connection_data
        return msg.SetNetworkProfileResponse(status=en.SetNetworkProfileStatusEnumType.ACCEPTED)

    def get_variables(self, request: msg.GetVariablesRequest, _: OcppConnection) -> msg.GetVariablesResponse:
        values = {"SecurityProfile": str(self.security_profile), "NetworkConfigurationPriority": "2"}
        results = [
            dt.GetVariableResultType(
                attribute_status=en.GetVariableStatusEnumType.ACCEPTED,
                attribute_value=values.get(d.variable.name, ""),
                component=d.component,
                variable=d.variable,
            )
            for d in request.get_variable_data
        ]
        return msg.GetVariablesResponse(get_variable_result=results)

    def reset(self, request: msg.ResetRequest, _: OcppConnection) -> msg.ResetResponse:
        self.later(self._reboot())
        return msg.ResetResponse(status=en.ResetStatusEnumType.ACCEPTED)

    async def _reboot(self) -> None:
        await asyncio.sleep(0.2)
        if self.pending_url is not None:  # the new connection profile: wss, trusting the installed roots
            self.url, self.pending_url = self.pending_url, None
            await self._restart(self._client(PASSWORD, trust=True))
        else:
            await self.client.disconnect()
        await self._booted(en.BootReasonEnumType.REMOTE_RESET, "ResetOrReboot")

    async def _booted(self, reason: en.BootReasonEnumType, event: str) -> None:
        boot = msg.BootNotificationRequest(
            charging_station=dt.ChargingStationType(model="Scripted", vendor_name="Chargeplane"),
            reason=reason,
        )
        await self.call(boot)
        status = msg.StatusNotificationRequest(
            timestamp=utc_now(),
            connector_status=en.ConnectorStatusEnumType.AVAILABLE,
            evse_id=1,
            connector_id=1,
        )
        await self.call(status)
        await self.call(msg.SecurityEventNotificationRequest(type=event, timestamp=utc_now()))

    async def call(self, request: Payload) -> None:
        await self.client.call(request)

    def set_variables(self, request: msg.SetVariablesRequest, _: OcppConnection) -> msg.SetVariablesResponse:
        results = []
        for data in request.set_variable_data:
            status = en.SetVariableStatusEnumType.ACCEPTED
            if data.variable.name == "NetworkConfigurationPriority":  # used from the next boot
                profile = self.profiles.get(int(data.attribute_value.split(",")[0]))
                trusted = bool(self.certificates.get("CSMSRootCertificate"))
                if profile is None or (profile.security_profile > 1 and not trusted):
                    status = en.SetVariableStatusEnumType.REJECTED  # A05.FR.02
                else:
                    self.pending_url, self.security_profile = profile.ocpp_csms_url, profile.security_profile
                    status = en.SetVariableStatusEnumType.REBOOT_REQUIRED
            elif data.variable.name == "BasicAuthPassword":  # A01: 16-40 characters, from the next connection
                if 16 <= len(data.attribute_value) <= 40:
                    self.later(self._reconnect(data.attribute_value))
                else:
                    status = en.SetVariableStatusEnumType.REJECTED
            results.append(
                dt.SetVariableResultType(
                    attribute_status=status, component=data.component, variable=data.variable
                )
            )
        return msg.SetVariablesResponse(set_variable_result=results)

    async def _reconnect(self, password: str) -> None:
        await asyncio.sleep(0.2)  # the response goes out first
        await self._restart(self._client(password))

    async def _restart(self, client: OcppClient) -> None:
        old, run = self.client, self._run
        self.client = client
        await old.stop()
        if run is not None:
            await run
        self._run = asyncio.create_task(self.client.run())

    # logs (N01)
    def get_log(self, request: msg.GetLogRequest, _: OcppConnection) -> msg.GetLogResponse:
        status = en.LogStatusEnumType.ACCEPTED
        if self.upload is not None and not self.upload.done():  # N01.FR.12: cancel the one going on
            self.upload.cancel()
            status = en.LogStatusEnumType.ACCEPTED_CANCELED
            cancelled = en.UploadLogStatusEnumType.ACCEPTED_CANCELED
            self.later(self.call(msg.LogStatusNotificationRequest(status=cancelled)))
        self.upload = self.later(self._upload(request))
        return msg.GetLogResponse(status=status, filename="scripted.log")

    async def _upload(self, request: msg.GetLogRequest) -> None:
        status = en.UploadLogStatusEnumType
        await self.call(
            msg.LogStatusNotificationRequest(status=status.UPLOADING, request_id=request.request_id)
        )
        attempts = 1 + (request.retries if isinstance(request.retries, int) else 0)
        interval = request.retry_interval if isinstance(request.retry_interval, int) else 0
        async with httpx.AsyncClient() as http:
            for attempt in range(attempts):
                if attempt:
                    await asyncio.sleep(interval)
                answer = await http.put(request.log.remote_location, content=b"scripted log\n")
                if answer.is_success:
                    await self.call(
                        msg.LogStatusNotificationRequest(
                            status=status.UPLOADED, request_id=request.request_id
                        )
                    )
                    return
        await self.call(
            msg.LogStatusNotificationRequest(status=status.UPLOAD_FAILURE, request_id=request.request_id)
        )

    # customer information (N09, N10): nothing is kept about anyone
    def customer_information(
        self, request: msg.CustomerInformationRequest, _: OcppConnection
    ) -> msg.CustomerInformationResponse:
        identifier = request.customer_identifier if isinstance(request.customer_identifier, str) else None
        data = "No data"
        if identifier is not None:
            data = f"customer {identifier}" if identifier in self.customers else ""
            if request.clear:
                self.customers.discard(identifier)
        notify = msg.NotifyCustomerInformationRequest(
            data=data, seq_no=0, generated_at=utc_now(), request_id=request.request_id
        )
        self.later(self.call(notify))
        return msg.CustomerInformationResponse(status=en.CustomerInformationStatusEnumType.ACCEPTED)

    # CA certificates (M03, M04, M05)
    def install_certificate(
        self, request: msg.InstallCertificateRequest, _: OcppConnection
    ) -> msg.InstallCertificateResponse:
        certificate = x509.load_pem_x509_certificate(request.certificate.encode())
        if certificate.not_valid_after_utc < datetime.datetime.now(datetime.UTC):
            return msg.InstallCertificateResponse(status=en.InstallCertificateStatusEnumType.REJECTED)
        installed = self.certificates.setdefault(request.certificate_type.value, [])
        if certificate not in installed:
            installed.append(certificate)
        return msg.InstallCertificateResponse(status=en.InstallCertificateStatusEnumType.ACCEPTED)

    def _chain(self, kinds: list[str]) -> list[dt.CertificateHashDataChainType]:
        return [
            dt.CertificateHashDataChainType(
                certificate_type=en.GetCertificateIdUseEnumType(kind), certificate_hash_data=hash_data(c)
            )
            for kind in kinds
            for c in self.certificates.get(kind, [])
        ]

    def get_installed(
        self, request: msg.GetInstalledCertificateIdsRequest, _: OcppConnection
    ) -> msg.GetInstalledCertificateIdsResponse:
        kinds = (
            [k.value for k in request.certificate_type]
            if isinstance(request.certificate_type, list)
            else (list(self.certificates))
        )
        chain = self._chain(kinds)
        status = en.GetInstalledCertificateStatusEnumType
        if not chain:
            return msg.GetInstalledCertificateIdsResponse(status=status.NOT_FOUND)
        return msg.GetInstalledCertificateIdsResponse(
            status=status.ACCEPTED, certificate_hash_data_chain=chain
        )

    def delete_certificate(
        self, request: msg.DeleteCertificateRequest, _: OcppConnection
    ) -> msg.DeleteCertificateResponse:
        wanted = request.certificate_hash_data
        for certificates in self.certificates.values():
            for certificate in certificates:
                if hash_data(certificate).serial_number == wanted.serial_number.lower():
                    certificates.remove(certificate)
                    return msg.DeleteCertificateResponse(status=en.DeleteCertificateStatusEnumType.ACCEPTED)
        return msg.DeleteCertificateResponse(status=en.DeleteCertificateStatusEnumType.NOT_FOUND)

    # signed firmware (L01): download, verify, "install" with a reconnection
    def update_firmware(
        self, request: msg.UpdateFirmwareRequest, _: OcppConnection
    ) -> msg.UpdateFirmwareResponse:
        firmware = request.firmware
        if not isinstance(firmware.signing_certificate, str) or not isinstance(firmware.signature, str):
            return msg.UpdateFirmwareResponse(status=en.UpdateFirmwareStatusEnumType.REJECTED)
        signer = x509.load_pem_x509_certificate(firmware.signing_certificate.encode())
        roots = self.certificates.get("ManufacturerRootCertificate", [])
        if not any(signer.issuer == root.subject for root in roots):
            self.later(
                self.call(
                    msg.SecurityEventNotificationRequest(
                        type="InvalidFirmwareSigningCertificate", timestamp=utc_now()
                    )
                )
            )
            return msg.UpdateFirmwareResponse(status=en.UpdateFirmwareStatusEnumType.INVALID_CERTIFICATE)
        status = en.UpdateFirmwareStatusEnumType.ACCEPTED
        if self.updating is not None and not self.updating.done():  # L01.FR.24: cancel the one going on
            self.updating.cancel()
            status = en.UpdateFirmwareStatusEnumType.ACCEPTED_CANCELED
        self.updating = self.later(self._update(request, signer, firmware.signature))
        return msg.UpdateFirmwareResponse(status=status)

    async def _status(self, status: Fw, request_id: int) -> None:
        await self.call(msg.FirmwareStatusNotificationRequest(status=status, request_id=request_id))

    async def _update(
        self, request: msg.UpdateFirmwareRequest, signer: x509.Certificate, signature: str
    ) -> None:
        request_id = request.request_id
        retrieve = from_wire(request.firmware.retrieve_date_time)
        if (wait := (retrieve - datetime.datetime.now(datetime.UTC)).total_seconds()) > 0:
            await self._status(Fw.DOWNLOAD_SCHEDULED, request_id)
            await asyncio.sleep(wait)
        await self._status(Fw.DOWNLOADING, request_id)
        async with httpx.AsyncClient() as http:
            answer = await http.get(request.firmware.location)
        if not answer.is_success:
            await self._status(Fw.DOWNLOAD_FAILED, request_id)
            return
        await self._status(Fw.DOWNLOADED, request_id)
        key = signer.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        try:
            key.verify(base64.b64decode(signature), answer.content, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            await self._status(Fw.INVALID_SIGNATURE, request_id)
            await self.call(
                msg.SecurityEventNotificationRequest(type="InvalidFirmwareSignature", timestamp=utc_now())
            )
            return
        await self._status(Fw.SIGNATURE_VERIFIED, request_id)
        install = request.firmware.install_date_time
        if (
            isinstance(install, str)
            and (wait := (from_wire(install) - datetime.datetime.now(datetime.UTC)).total_seconds()) > 0
        ):
            await self._status(Fw.INSTALL_SCHEDULED, request_id)
            await asyncio.sleep(wait)
        await self._status(Fw.INSTALLING, request_id)
        if not answer.content.startswith(FIRMWARE_MARK):
            await self._status(Fw.INSTALL_VERIFICATION_FAILED, request_id)
            return
        await self.client.disconnect()  # the new firmware starts: a reconnection and a boot
        boot = msg.BootNotificationRequest(
            charging_station=dt.ChargingStationType(model="Scripted", vendor_name="Chargeplane"),
            reason=en.BootReasonEnumType.FIRMWARE_UPDATE,
        )
        await self.call(boot)
        await self._status(Fw.INSTALLED, request_id)
        await self.call(msg.SecurityEventNotificationRequest(type="FirmwareUpdated", timestamp=utc_now()))


@pytest.fixture
async def scripted(tmp_path: Path) -> AsyncIterator[tuple[CsmsEndpoint, ScriptedStation]]:
    endpoint = CsmsEndpoint(ListenSettings("127.0.0.1", 0, STATION_ID, PASSWORD))
    await endpoint.start()
    station = ScriptedStation(endpoint.url, tmp_path)
    await station.start()
    try:
        yield endpoint, station
    finally:
        await station.stop()
        await endpoint.stop()


@pytest.mark.parametrize(
    "patterns",
    [
        # block N's logs and customer information (monitoring runs against our own station)
        "TC_N_25_CS,TC_N_26_CS,TC_N_27_CS,TC_N_28_CS,TC_N_30_CS,TC_N_31_CS,TC_N_32_CS,TC_N_35_CS,TC_N_36_CS,TC_N_62_CS",
        "TC_A_09_CS,TC_A_10_CS,TC_A_20_CS",
        # block M's CA certificates (the V2G chain's and the EV's contract cases run against our own station)
        "TC_M_0*,TC_M_1[2-46-9]_CS,TC_M_2[02]_CS,TC_M_3*",  # not TC_M_23_CS: it renews a station certificate (A02)
        "TC_L_01_CS,TC_L_02_CS,TC_L_03_CS,TC_L_05_CS,TC_L_06_CS,TC_L_07_CS,TC_L_08_CS,TC_L_10_CS,TC_L_18_CS",
        "TC_A_19_CS,TC_A_22_CS",  # A_22 after A_19 (profile 2)
    ],
)
async def test_cases_pass_against_a_station_that_does_what_they_ask(
    patterns: str, scripted: tuple[CsmsEndpoint, ScriptedStation]
) -> None:
    endpoint, station = scripted
    selected = REGISTRY.select(Side.STATION, patterns.split(","))
    configured = Configured(log_retry_interval=1, firmware_delay=2)
    declaration = Declaration(frozenset({"C-57", "C-14", "C-60", "AQ-1", "C-49"}), configured)
    results = await run_station_cases(selected, endpoint, station, declaration)
    report = "\n".join(console_line(r) for r in results)
    assert all(r.outcome in (Outcome.PASS, Outcome.NA) for r in results), report
    assert any(r.outcome is Outcome.PASS for r in results), report

"""HTTP routes of the security profile upgrade (A05): ``POST /stations/{id}/security-profile-upgrade`` starts the
workflow, ``GET`` the same path shows it step by step."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import post
from litestar.params import JSONBody
from litestar.status_codes import (
    HTTP_202_ACCEPTED,
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
)

from chargeplane.csms.api.app import OPERATOR
from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.routes import get_or_404
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.blocks.security_upgrade.repository import Step, UpgradeRecord
from chargeplane.csms.blocks.security_upgrade.service import SecurityUpgradeService
from chargeplane.csms.errors import NotFound


class UpgradeIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    target_profile: Literal[2, 3]
    url: Annotated[str, msgspec.Meta(min_length=6, max_length=2000)]  # the wss:// URL of the new profile
    configuration_slot: Annotated[int, msgspec.Meta(ge=0, le=1000)] | None = None  # default: a free one
    reset_type: Literal["Immediate", "OnIdle"] = "Immediate"
    csms_root_certificate: str | None = None  # PEM; default: the configured csms_root_file
    ocpp_interface: str = "Wired0"


class UpgradeOut(msgspec.Struct, rename="camel"):
    station_id: str
    target_profile: int
    url: str
    configuration_slot: int | None
    reset_type: str
    status: str  # running | completed | failed
    steps: list[Step]
    connected_profile: int | None  # the profile the station came back with
    requested_at: datetime
    finished_at: datetime | None


def _out(record: UpgradeRecord) -> UpgradeOut:
    return UpgradeOut(
        record.station_id,
        record.target_profile,
        record.url,
        record.configuration_slot,
        record.reset_type,
        record.status,
        record.steps,
        record.connected_profile,
        record.requested_at,
        record.finished_at,
    )


def routes(service: SecurityUpgradeService) -> list[Any]:
    @post(
        "/stations/{station_id:str}/security-profile-upgrade",
        status_code=HTTP_202_ACCEPTED,
        summary="Raise a station's security profile (A05)",
        responses=error_responses(HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND, HTTP_409_CONFLICT),
        opt=OPERATOR,
    )
    async def start_upgrade(known_station: KnownStation, data: JSONBody[UpgradeIn]) -> UpgradeOut:
        """Starts the workflow: InstallCertificate CSMSRootCertificate; for profile 3 a station certificate of
        the CSMS's CA (TriggerMessage SignChargingStationCertificate, then the CertificateSigned accepted);
        SetNetworkProfile on a free slot; SetVariables NetworkConfigurationPriority with it first; Reset; the
        station's return on the new profile, which the CSMS then records and never goes below again. Each
        step is a security event. 409: the station is not connected, already at or above the target, or an
        upgrade of it is running; 400: 1.6, a non-wss URL or no CSMS root to install."""
        record = await service.upgrade(
            known_station.station_id,
            data.target_profile,
            data.url,
            configuration_slot=data.configuration_slot,
            reset_type=data.reset_type,
            csms_root=data.csms_root_certificate,
            ocpp_interface=data.ocpp_interface,
        )
        return _out(record)

    @get_or_404(
        "/stations/{station_id:str}/security-profile-upgrade",
        summary="The station's latest security profile upgrade",
    )
    async def get_upgrade(known_station: KnownStation) -> UpgradeOut:
        """Its steps and their state (see the POST); 404 when the station never had one."""
        record = await service.upgrade_record(known_station.station_id)
        if record is None:
            raise NotFound(f"no security profile upgrade for station {known_station.station_id}")
        return _out(record)

    return [start_upgrade, get_upgrade]

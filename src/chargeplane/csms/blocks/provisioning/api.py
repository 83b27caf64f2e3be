"""HTTP routes of provisioning: stations (CRUD, registration status, security profile and credentials), and
the known-station dependency that every route with a ``{station_id}`` uses: a parameter
``known_station: KnownStation`` gets the station's record, or the request is answered 404 ``no station <id>``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_404_NOT_FOUND, HTTP_409_CONFLICT

from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.pages import INT32_MAX, Limit, Offset, Page
from chargeplane.csms.api.routes import get_or_404, paged
from chargeplane.csms.blocks.provisioning.repository import StationRecord
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.errors import UnknownStation

# A route parameter ``known_station: KnownStation`` gets the record of the ``{station_id}`` in the path.
KnownStation = NamedDependency[StationRecord]
STATION_DEPENDENCY = "known_station"

StationId = Annotated[str, msgspec.Meta(pattern=r"\A[a-zA-Z0-9*\-_=+|@.]{1,48}\Z")]
Status = Annotated[str, msgspec.Meta(pattern=r"\A(Accepted|Pending|Rejected)\Z")]  # B01-B03 registration
Profile = Annotated[int, msgspec.Meta(ge=1, le=3)]


class StationIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    station_id: StationId
    registration_status: Status | None = None
    security_profile: Profile = 1
    password: str | None = None
    v16_key_encoding: Annotated[str, msgspec.Meta(pattern=r"\A(hex|raw)\Z")] = "hex"
    heartbeat_interval: Annotated[int, msgspec.Meta(ge=1, le=INT32_MAX)] | None = None
    description: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class StationPatch(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    registration_status: Status | None = None
    security_profile: Profile | None = None
    password: str | None = None
    heartbeat_interval: Annotated[int, msgspec.Meta(ge=1, le=INT32_MAX)] | None = None
    description: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class StationOut(msgspec.Struct, rename="camel"):
    station_id: str
    registration_status: str
    security_profile: int
    heartbeat_interval: int | None
    description: str | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    iccid: str | None
    imsi: str | None
    boot_reason: str | None
    last_boot_at: datetime | None
    connected: bool
    ocpp_version: str | None
    connected_security_profile: int | None
    remote_address: str | None
    connected_at: datetime | None
    last_seen_at: datetime | None
    created_at: datetime
    updated_at: datetime
    has_password: bool = False
    generated_password: str | None = None  # only in the answer to a create that generated one


def station_out(record: StationRecord, generated_password: str | None = None) -> StationOut:
    out = msgspec.convert(record, StationOut, from_attributes=True)
    return msgspec.structs.replace(
        out, has_password=record.password_hash is not None, generated_password=generated_password
    )


def known_station(service: ProvisioningService) -> Provide:
    """The known-station dependency (registered once, as :data:`STATION_DEPENDENCY`)."""

    async def station(station_id: FromPath[str]) -> StationRecord:
        record = await service.get_station(station_id)
        if record is None:
            raise UnknownStation(station_id)
        return record

    return Provide(station)


def routes(service: ProvisioningService) -> list[Any]:
    @get("/stations", summary="List stations")
    async def list_stations(offset: Offset = 0, limit: Limit = 100) -> Page[StationOut]:
        """Registered stations with their registration, security profile, boot data and presence."""
        return paged(station_out, await service.list_stations(offset, limit), offset, limit)

    @post(
        "/stations",
        status_code=HTTP_201_CREATED,
        summary="Register a station",
        responses=error_responses(HTTP_409_CONFLICT),
    )
    async def create_station(data: JSONBody[StationIn]) -> StationOut:
        """A station may connect only once registered. Without a password (profiles 1 and 2), one is generated and
        returned once in ``generatedPassword``; 409 if the station exists."""
        record, generated = await service.create_station(
            data.station_id,
            registration_status=data.registration_status,
            security_profile=data.security_profile,
            password=data.password,
            v16_key_encoding=data.v16_key_encoding,
            heartbeat_interval=data.heartbeat_interval,
            description=data.description,
        )
        return station_out(record, generated)

    @get_or_404("/stations/{station_id:str}", summary="One station")
    async def get_station(known_station: KnownStation) -> StationOut:
        """The station's record: registration, security, boot data, connection and presence."""
        return station_out(known_station)

    @patch(
        "/stations/{station_id:str}",
        summary="Change a station's registration or security",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def update_station(known_station: KnownStation, data: JSONBody[StationPatch]) -> StationOut:
        """Absent fields are kept; a new password replaces the old one."""
        values: dict[str, Any] = {
            name: value
            for name, value in (
                ("registration_status", data.registration_status),
                ("security_profile", data.security_profile),
                ("heartbeat_interval", data.heartbeat_interval),
                ("description", data.description),
            )
            if value is not None
        }
        return station_out(await service.update_station(known_station.station_id, data.password, values))

    @delete(
        "/stations/{station_id:str}",
        summary="Remove a station",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def delete_station(known_station: KnownStation) -> None:
        """The station can no longer connect; its history stays."""
        await service.delete_station(known_station.station_id)

    return [list_stations, create_station, get_station, update_station, delete_station]

"""HTTP routes of provisioning: stations (CRUD, registration status, security profile and credentials)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import delete, get, patch, post
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_409_CONFLICT

from chargeplane.csms.blocks.provisioning.repository import StationRecord
from chargeplane.csms.blocks.provisioning.service import (
    ProvisioningService,
    StationExists,
    UnknownStation,
    utc_now,
)
from chargeplane.transport.security import PasswordRuleError

StationId = Annotated[str, msgspec.Meta(pattern=r"\A[a-zA-Z0-9*\-_=+|@.]{1,48}\Z")]
Status = Annotated[str, msgspec.Meta(pattern=r"\A(Accepted|Pending|Rejected)\Z")]  # B01-B03 registration
Profile = Annotated[int, msgspec.Meta(ge=1, le=3)]


class StationIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    station_id: StationId
    registration_status: Status | None = None
    security_profile: Profile = 1
    password: str | None = None
    v16_key_encoding: Annotated[str, msgspec.Meta(pattern=r"\A(hex|raw)\Z")] = "hex"
    heartbeat_interval: Annotated[int, msgspec.Meta(ge=1)] | None = None
    description: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class StationPatch(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    registration_status: Status | None = None
    security_profile: Profile | None = None
    password: str | None = None
    heartbeat_interval: Annotated[int, msgspec.Meta(ge=1)] | None = None
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


class StationPage(msgspec.Struct, rename="camel"):
    items: list[StationOut]
    total: int
    offset: int
    limit: int


def station_out(record: StationRecord, generated_password: str | None = None) -> StationOut:
    out = msgspec.convert(record, StationOut, from_attributes=True)
    return msgspec.structs.replace(
        out, has_password=record.password_hash is not None, generated_password=generated_password
    )


def routes(service: ProvisioningService) -> list[Any]:
    @get("/stations", summary="List stations")
    async def list_stations(
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> StationPage:
        records = await service.repository.list(offset, limit)
        return StationPage([station_out(r) for r in records], await service.repository.count(), offset, limit)

    @post("/stations", status_code=HTTP_201_CREATED, summary="Register a station")
    async def create_station(data: JSONBody[StationIn]) -> StationOut:
        try:
            record, generated = await service.create_station(
                data.station_id,
                registration_status=data.registration_status,
                security_profile=data.security_profile,
                password=data.password,
                v16_key_encoding=data.v16_key_encoding,
                heartbeat_interval=data.heartbeat_interval,
                description=data.description,
            )
        except PasswordRuleError as error:
            raise ValidationException(str(error)) from None
        except StationExists:
            raise HTTPException(
                status_code=HTTP_409_CONFLICT, detail=f"station {data.station_id} exists already"
            ) from None
        return station_out(record, generated)

    async def load(station_id: str) -> StationOut:
        record = await service.repository.get(station_id)
        if record is None:
            raise NotFoundException(f"no station {station_id}")
        return station_out(record)

    @get("/stations/{station_id:str}", summary="One station")
    async def get_station(station_id: FromPath[str]) -> StationOut:
        return await load(station_id)

    @patch("/stations/{station_id:str}", summary="Change a station's registration or security")
    async def update_station(station_id: FromPath[str], data: JSONBody[StationPatch]) -> StationOut:
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
        try:
            if data.password is not None:
                await service.set_password(station_id, data.password)
            if values and not await service.repository.update(station_id, utc_now(), **values):
                raise UnknownStation(station_id)
        except PasswordRuleError as error:
            raise ValidationException(str(error)) from None
        except UnknownStation:
            raise NotFoundException(f"no station {station_id}") from None
        return await load(station_id)

    @delete("/stations/{station_id:str}", summary="Remove a station")
    async def delete_station(station_id: FromPath[str]) -> None:
        if not await service.repository.delete(station_id):
            raise NotFoundException(f"no station {station_id}")

    return [list_stations, create_station, get_station, update_station, delete_station]

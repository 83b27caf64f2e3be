"""HTTP route of the password rotation (A01): ``POST /stations/{id}/password-rotation`` and its state."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar.params import JSONBody
from litestar.status_codes import HTTP_400_BAD_REQUEST

from chargeplane.csms.api.routes import get_or_404, station_call
from chargeplane.csms.blocks.password_rotation.repository import RotationRecord
from chargeplane.csms.blocks.password_rotation.service import PasswordRotationService
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.errors import NotFound


class RotationIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Without ``password`` the CSMS generates a strong random one (the usual way); with it, that one is sent
    (it must meet the rules of the station's OCPP version)."""

    password: Annotated[str, msgspec.Meta(min_length=16, max_length=64)] | None = None


class RotationOut(msgspec.Struct, rename="camel"):
    station_id: str
    # sent | accepted (both passwords valid until the station connects with the new) | unanswered (likewise) |
    # rejected | failed (the old password stays) | completed (the new one is the station's)
    status: str
    station_status: str | None  # the station's answer: Accepted, RebootRequired, Rejected, NotSupported, ...
    pending: bool  # a new password is accepted beside the current one
    requested_at: datetime
    answered_at: datetime | None
    completed_at: datetime | None


def _out(record: RotationRecord) -> RotationOut:
    return RotationOut(
        record.station_id,
        record.status,
        record.station_status,
        record.pending,
        record.requested_at,
        record.answered_at,
        record.completed_at,
    )


def routes(service: PasswordRotationService) -> list[Any]:
    @station_call(
        "/stations/{station_id:str}/password-rotation",
        summary="Give a station a new Basic-auth password (A01)",
        also=(HTTP_400_BAD_REQUEST,),
    )
    async def rotate_password(known_station: KnownStation, data: JSONBody[RotationIn]) -> RotationOut:
        """Sends a new password (SetVariables SecurityCtrlr.BasicAuthPassword; 1.6 ChangeConfiguration
        AuthorizationKey) and answers once the station answered. The password is never shown: only its
        salted hash is kept, as pending beside the current one. When the station accepts, both are valid until
        it connects with the new one, which then replaces the old; when it refuses, the old one stays. 400 for
        a station on security profile 3 (no password) or a given password against the version's rules."""
        return _out(await service.rotate(known_station.station_id, data.password))

    @get_or_404(
        "/stations/{station_id:str}/password-rotation", summary="The station's latest password rotation"
    )
    async def get_rotation(known_station: KnownStation) -> RotationOut:
        """Its state (see the POST); 404 when the station never had one."""
        record = await service.rotation(known_station.station_id)
        if record is None:
            raise NotFound(f"no password rotation for station {known_station.station_id}")
        return _out(record)

    return [rotate_password, get_rotation]

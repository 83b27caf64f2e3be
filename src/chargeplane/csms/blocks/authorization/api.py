"""HTTP routes of authorization: id tokens (CRUD, bulk import), the decision log, local lists (D01, D02)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import delete, get, patch, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import ValidationException
from litestar.openapi.spec import Reference
from litestar.params import Body, FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_404_NOT_FOUND, HTTP_409_CONFLICT

from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.pages import Limit, Offset, Page
from chargeplane.csms.api.routes import get_or_404, paged, station_call
from chargeplane.csms.blocks.authorization.local_list import LocalListService, SyncResult
from chargeplane.csms.blocks.authorization.repository import LogRecord, TokenRecord
from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.errors import Invalid

TokenValue = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
# 2.1 made IdTokenEnumType an extensible string[20]; the 2.0.1 values are a subset.
TokenType = Annotated[str, msgspec.Meta(pattern=r"\A[A-Za-z0-9_.\-]{1,20}\Z")]
# What an operator may store: the AuthorizationStatusEnumType values that describe a token by itself
# (ConcurrentTx depends on a transaction, Unknown on the token not being stored).
StoredStatus = Annotated[
    str,
    msgspec.Meta(
        pattern=r"\A(Accepted|Blocked|Expired|Invalid|NoCredit|NotAllowedTypeEVSE|NotAtThisLocation|NotAtThisTime)\Z"
    ),
]
Language = Annotated[str, msgspec.Meta(min_length=1, max_length=8)]  # RFC 5646 tag (C01.FR.17)
Priority = Annotated[int, msgspec.Meta(ge=-9, le=9)]
AwareDateTime = Annotated[datetime, msgspec.Meta(tz=True)]
Description = Annotated[str, msgspec.Meta(max_length=200)]
MAX_IMPORT = 10_000
# Decoded item by item (each invalid one is reported by its index), documented as what each item must be.
ImportBody = Annotated[
    list[Any],
    Body(
        media_type=RequestEncodingType.JSON,
        schema_extra={"items": Reference(ref="#/components/schemas/IdTokenIn"), "max_items": MAX_IMPORT},
    ),
]


class PersonalMessage(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    content: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]  # 512 for 2.0.1 stations
    format: Annotated[str, msgspec.Meta(pattern=r"\A(ASCII|HTML|URI|UTF8)\Z")] = "UTF8"
    language: Language | None = None


class IdTokenIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    id_token: TokenValue
    type: TokenType = "ISO14443"
    status: StoredStatus = "Accepted"
    expires_at: AwareDateTime | None = None
    group_id_token: TokenValue | None = None
    group_id_token_type: TokenType | None = None
    language1: Language | None = None
    language2: Language | None = None
    personal_message: PersonalMessage | None = None
    charging_priority: Priority | None = None
    local_list: bool = True
    description: Description | None = None


class IdTokenPatch(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Absent fields are kept; ``null`` clears an optional field."""

    status: StoredStatus | msgspec.UnsetType = msgspec.UNSET
    expires_at: AwareDateTime | msgspec.UnsetType | None = msgspec.UNSET
    group_id_token: TokenValue | msgspec.UnsetType | None = msgspec.UNSET
    group_id_token_type: TokenType | msgspec.UnsetType | None = msgspec.UNSET
    language1: Language | msgspec.UnsetType | None = msgspec.UNSET
    language2: Language | msgspec.UnsetType | None = msgspec.UNSET
    personal_message: PersonalMessage | msgspec.UnsetType | None = msgspec.UNSET
    charging_priority: Priority | msgspec.UnsetType | None = msgspec.UNSET
    local_list: bool | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType | None = msgspec.UNSET


class IdTokenOut(msgspec.Struct, rename="camel"):
    id_token: str
    type: str
    status: str
    expires_at: datetime | None
    group_id_token: str | None
    group_id_token_type: str | None
    language1: str | None
    language2: str | None
    personal_message: PersonalMessage | None
    charging_priority: int | None
    local_list: bool
    description: str | None
    created_at: datetime
    updated_at: datetime


class ImportProblem(msgspec.Struct, rename="camel"):
    index: int
    reason: str


class ImportResult(msgspec.Struct, rename="camel"):
    created: int
    updated: int
    errors: list[ImportProblem]


class LogOut(msgspec.Struct, rename="camel"):
    id: int
    station_id: str
    id_token: str  # KeyCode tokens as a digest (C04.FR.04)
    token_type: str | None
    context: str
    status: str
    at: datetime


class LocalListSync(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    full: bool = False


class SentMessageOut(msgspec.Struct, rename="camel"):
    update_type: str
    version_number: int
    entries: int
    removals: int
    status: str


class SyncOut(msgspec.Struct, rename="camel"):
    station_id: str
    requested: str
    items_per_message: int | None
    bytes_per_message: int | None
    station_version_before: int | None
    version: int | None
    completed: bool
    messages: list[SentMessageOut]


class LocalListOut(msgspec.Struct, rename="camel"):
    station_id: str
    version: int  # 0: no list on record
    entries: int
    updated_at: datetime | None


class StationVersionOut(msgspec.Struct, rename="camel"):
    station_id: str
    version: int  # as the station reports it (D02); 0: no list


def token_out(record: TokenRecord) -> IdTokenOut:
    message = None
    if record.personal_message_content:
        message = PersonalMessage(
            content=record.personal_message_content,
            format=record.personal_message_format or "UTF8",
            language=record.personal_message_language,
        )
    return IdTokenOut(
        id_token=record.id_token,
        type=record.type,
        status=record.status,
        expires_at=record.expires_at,
        group_id_token=record.group_id_token,
        group_id_token_type=record.group_id_token_type,
        language1=record.language1,
        language2=record.language2,
        personal_message=message,
        charging_priority=record.charging_priority,
        local_list=record.local_list,
        description=record.description,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def log_out(record: LogRecord) -> LogOut:
    return LogOut(**asdict(record))


def sync_out(result: SyncResult) -> SyncOut:
    return SyncOut(
        station_id=result.station_id,
        requested=result.requested,
        items_per_message=result.limits.items,
        bytes_per_message=result.limits.bytes,
        station_version_before=result.station_version_before,
        version=result.version,
        completed=result.completed,
        messages=[SentMessageOut(**asdict(m)) for m in result.messages],
    )


def _message_columns(message: PersonalMessage | None) -> dict[str, Any]:
    return {
        "personal_message_content": message.content if message else None,
        "personal_message_format": message.format if message else None,
        "personal_message_language": message.language if message else None,
    }


def token_values(data: IdTokenIn) -> dict[str, Any]:
    """Table columns of a token to store; raises :class:`Invalid` on rules beyond the field types."""
    values = {
        "id_token": data.id_token,
        "type": data.type,
        "status": data.status,
        "expires_at": data.expires_at,
        "group_id_token": data.group_id_token,
        "group_id_token_type": data.group_id_token_type if data.group_id_token else None,
        "language1": data.language1,
        "language2": data.language2,
        "charging_priority": data.charging_priority,
        "local_list": data.local_list,
        "description": data.description,
    } | _message_columns(data.personal_message)
    check_languages(values["language1"], values["language2"])
    return values


def check_languages(language1: str | None, language2: str | None) -> None:
    if language2 is not None and language1 is None:
        raise Invalid("language2 needs language1 (C01.FR.10)")
    if language1 is not None and language1 == language2:
        raise Invalid("language1 and language2 must differ (C01.FR.11)")


def routes(service: AuthorizationService, local_lists: LocalListService) -> list[Any]:
    @get("/id-tokens", summary="List id tokens")
    async def list_tokens(
        status: FromQuery[str | None] = None,
        group: FromQuery[str | None] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[IdTokenOut]:
        """Stored id tokens, optionally by status or group."""
        found = await service.list_tokens(status=status, group=group, offset=offset, limit=limit)
        return paged(token_out, found, offset, limit)

    @post(
        "/id-tokens",
        status_code=HTTP_201_CREATED,
        summary="Create an id token",
        responses=error_responses(HTTP_409_CONFLICT),
    )
    async def create_token(data: JSONBody[IdTokenIn]) -> IdTokenOut:
        """A token stations may present (C01); 409 if the token (value and type) exists."""
        return token_out(await service.create_token(token_values(data)))

    @get_or_404("/id-tokens/{id_token:str}", summary="One id token")
    async def get_token(
        id_token: FromPath[str], token_type: Annotated[str | None, QueryParameter(name="type")] = None
    ) -> IdTokenOut:
        """The token with this value (and ``type`` when several tokens share the value)."""
        return token_out(await service.get_token(id_token, token_type))

    @patch(
        "/id-tokens/{id_token:str}",
        summary="Change an id token",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def update_token(
        id_token: FromPath[str],
        data: JSONBody[IdTokenPatch],
        token_type: Annotated[str | None, QueryParameter(name="type")] = None,
    ) -> IdTokenOut:
        """Absent fields are kept; ``null`` clears an optional field."""
        record = await service.get_token(id_token, token_type)
        values: dict[str, Any] = {
            name: getattr(data, name)
            for name in IdTokenPatch.__struct_fields__
            if name != "personal_message" and getattr(data, name) is not msgspec.UNSET
        }
        if data.personal_message is not msgspec.UNSET:
            values |= _message_columns(data.personal_message)
        if values.get("status", "") is None or values.get("local_list", False) is None:
            raise ValidationException("status and localList cannot be null")
        check_languages(values.get("language1", record.language1), values.get("language2", record.language2))
        return token_out(await service.update_token(record.id_token, record.type, values))

    @delete(
        "/id-tokens/{id_token:str}",
        summary="Remove an id token",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def delete_token(
        id_token: FromPath[str], token_type: Annotated[str | None, QueryParameter(name="type")] = None
    ) -> None:
        """The token is no longer accepted (and leaves the local lists at their next update)."""
        await service.delete_token(id_token, token_type)

    @post(
        "/id-tokens/import",
        status_code=HTTP_200_OK,
        summary="Create or replace id tokens in bulk",
    )
    async def import_tokens(data: ImportBody) -> ImportResult:
        """An array of id tokens (the body of a create each); the valid ones are stored, the others reported
        by their index."""
        if len(data) > MAX_IMPORT:
            raise ValidationException(f"at most {MAX_IMPORT} tokens per import")
        rows: list[dict[str, Any]] = []
        errors: list[ImportProblem] = []
        for index, item in enumerate(data):
            try:
                rows.append(token_values(msgspec.convert(item, IdTokenIn)))
            except (msgspec.ValidationError, Invalid) as error:
                errors.append(ImportProblem(index, str(error)))
        created, updated = await service.import_tokens(rows)
        return ImportResult(created, updated, errors)

    @get("/authorization-log", summary="Authorization decisions, newest first")
    async def authorization_log(
        station_id: Annotated[str | None, QueryParameter(name="stationId")] = None,
        id_token: Annotated[str | None, QueryParameter(name="idToken")] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[LogOut]:
        """Each Authorize decision and token check, with the station and the answer."""
        found = await service.decision_log(
            station_id=station_id, id_token=id_token, offset=offset, limit=limit
        )
        return paged(log_out, found, offset, limit)

    @station_call("/stations/{station_id:str}/local-list", summary="Send the local list (D01)")
    async def sync_local_list(known_station: KnownStation, data: JSONBody[LocalListSync]) -> SyncOut:
        """Sends SendLocalList: the changes since the version the station has, or the full list (``full``)."""
        return sync_out(await local_lists.sync_local_list(known_station.station_id, data.full))

    @get_or_404("/stations/{station_id:str}/local-list", summary="The local list on record for a station")
    async def local_list(known_station: KnownStation) -> LocalListOut:
        """The version and size of the list last sent to the station (0: none)."""
        summary = await local_lists.summary(known_station.station_id)
        if summary is None:
            return LocalListOut(known_station.station_id, 0, 0, None)
        version, entries, updated_at = summary
        return LocalListOut(known_station.station_id, version, entries, updated_at)

    @station_call(
        "/stations/{station_id:str}/local-list/station-version",
        summary="Ask the station its list version (D02)",
        method="GET",
    )
    async def station_version(known_station: KnownStation) -> StationVersionOut:
        """Sends GetLocalListVersion and answers the station's version (0: no list)."""
        return StationVersionOut(
            known_station.station_id, await local_lists.station_version(known_station.station_id)
        )

    return [
        list_tokens,
        create_token,
        import_tokens,
        get_token,
        update_token,
        delete_token,
        authorization_log,
        sync_local_list,
        local_list,
        station_version,
    ]

"""Id-token decisions (C01-C06, C09, C16; 1.6 Authorize) and the operator's id-token store.

Decisions where the specification leaves the choice to the CSMS:

* 1.6 idTags carry no type. A 1.6 lookup ignores the type; when one value is stored under several types,
  the ISO14443 record wins, then the first by type name. Tokens that a 1.6 station makes known (unknown-token
  policy ACCEPT) are recorded as ``ISO14443``: 1.6 idTags are RFID UIDs in practice, and a 2.x station
  reading the same card presents it as ISO14443, so one record serves both.
* A group id token without a stored type is sent as type ``Central`` (a group id is an identifier of the
  CSMS, not of a card).
* An ``Accepted`` token whose expiry lies in the past is answered ``Expired``; other statuses are kept.
* Master pass (C16): a token whose group equals ``settings.master_pass_group`` is answered ``Accepted`` with
  its group (so the station recognises it, C16.FR.01-02); :func:`is_master_pass` tells the transactions
  block to refuse it for starting (C16.FR.03).
* NoAuthorization tokens (C02.FR.02) are always ``Accepted`` and never looked up.
* KeyCode tokens never appear in clear in the decision log or in log output (C04.FR.04). An unknown KeyCode
  is ``Invalid`` (C04.FR.01) whatever the unknown-token policy: accepting (and recording) any PIN typed would
  make every guess a valid PIN.
* DirectPayment tokens (2.1 C18: a card approved by the station's payment terminal) not on record are
  ``Accepted`` unless ``settings.direct_payment`` is off; an operator blocks one by recording it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, overload

from msgspec import UNSET

from chargeplane.csms.blocks.authorization.repository import (
    KEY_CODE,
    AuthorizationRepository,
    LogRecord,
    TokenRecord,
)
from chargeplane.csms.blocks.authorization.settings import AuthorizationSettings
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Conflict, Invalid, NotFound
from chargeplane.csms.settings import UnknownTokenPolicy
from chargeplane.ocpp.messages import v2x, v16, v21, v201
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.pki.hashes import HashData

log = logging.getLogger(__name__)

ACCEPTED, EXPIRED, INVALID, UNKNOWN = "Accepted", "Expired", "Invalid", "Unknown"
NO_AUTHORIZATION = "NoAuthorization"
DIRECT_PAYMENT = "DirectPayment"  # 2.1: the value is the payment service provider's reference (C18)
V16_TOKEN_TYPE = "ISO14443"
DEFAULT_GROUP_TYPE = "Central"
_V16_STATUSES = frozenset({"Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"})
# 2.0.1 limits that the 2.1 schema widened.
V201_MESSAGE_CONTENT_MAX = 512
V201_TOKEN_MAX = 36


# (hash data, responder URL) of each certificate of the contract chain -> Accepted | CertificateRevoked |
# CertChainError (the AuthorizeCertificateStatusEnumType values an OCSP answer can give)
ContractCheck = Callable[[list[tuple[HashData, str]]], Awaitable[str]]
# (the PEM contract chain, the eMAID presented) -> an AuthorizeCertificateStatusEnumType value (C07.FR.06)
ContractChainCheck = Callable[[str, str], Awaitable[str]]
REJECTED_TOKEN = frozenset({"Blocked", "Expired", "Invalid", "Unknown"})


def contract_answer(decision: TokenDecision, chain_status: str) -> tuple[TokenDecision, str]:
    """The token decision and certificateStatus of an Authorize with a contract certificate (C07)."""
    if chain_status == "Accepted":  # C07.FR.13 / 14: a valid chain, the eMAID decides
        return decision, ("ContractCancelled" if decision.status in REJECTED_TOKEN else "Accepted")
    if chain_status == "CertificateExpired":  # C07.FR.15
        return replace(decision, status=EXPIRED), chain_status
    return replace(decision, status=INVALID), chain_status  # C07.FR.16 revoked / C07.FR.17 chain error


@dataclass(frozen=True, slots=True)
class TokenDecision:
    status: str  # a 2.x AuthorizationStatusEnumType value: Accepted, Blocked, ConcurrentTx, Expired, Invalid, NoCredit, NotAllowedTypeEVSE, NotAtThisLocation, NotAtThisTime, Unknown
    group_id_token: str | None = None
    group_id_token_type: str | None = None
    cache_expiry: datetime | None = None
    language1: str | None = None
    language2: str | None = None
    personal_message: str | None = None  # content; format UTF8 with language1 if any
    charging_priority: int | None = None
    master_pass: bool = False

    def v16_status(self) -> str:
        """The 1.6 IdTagInfo status: the 2.x-only values (Unknown, NoCredit, NotAt...) become Invalid."""
        return self.status if self.status in _V16_STATUSES else INVALID


def is_master_pass(decision: TokenDecision) -> bool:
    """C16.FR.03: such a token may be Accepted for Authorize but must never start a transaction."""
    return decision.master_pass


@dataclass(frozen=True, slots=True)
class AuthorizeExtras:
    """What another block adds to an Authorize answer (the tariffs block: the driver's tariff text in
    personalMessage, I01.FR.01; 2.1: the driver's tariff, I08)."""

    personal_message: str | None = None
    language: str | None = None
    tariff: dict[str, Any] | None = None  # a 2.1 TariffType in wire form
    allowed_energy_transfer: tuple[str, ...] | None = None  # 2.1 Q01.FR.01 (the v2x block)


def astuple_shallow(extras: AuthorizeExtras) -> tuple[Any, ...]:
    return tuple(getattr(extras, f.name) for f in fields(extras))


# Asked for every Authorize decision: (station id, id token, the decision); None adds nothing.
AuthorizeListener = Callable[[str, str, TokenDecision], Awaitable[AuthorizeExtras | None]]
# Asked for every decision on a token (Authorize, TransactionEvent): (station id, id token, token type, the
# decision so far) -> the decision (the payments block: C17 prepaid balance, NoCredit and no caching).
DecisionFilter = Callable[[str, str, str | None, TokenDecision], Awaitable[TokenDecision]]


class TokenExists(Conflict):
    def __init__(self, id_token: str, token_type: str) -> None:
        super().__init__(f"id token {id_token} of type {token_type} exists already")


class UnknownToken(NotFound):
    def __init__(self, id_token: str, token_type: str | None = None) -> None:
        super().__init__(f"no id token {id_token}" + (f" of type {token_type}" if token_type else ""))


class AmbiguousToken(Invalid):
    def __init__(self, id_token: str, types: list[str]) -> None:
        super().__init__(f"{id_token} exists with several types ({', '.join(types)}): give its type")
        self.types = types


def decide(record: TokenRecord, now: datetime, master_pass_group: str | None) -> TokenDecision:
    """The decision for a stored token (pure: no I/O)."""
    status = record.status
    if status == ACCEPTED and record.expires_at is not None and record.expires_at <= now:
        status = EXPIRED
    group = record.group_id_token
    master = (
        master_pass_group is not None
        and group is not None
        and group.casefold() == master_pass_group.casefold()
    )
    return TokenDecision(
        status=status,
        group_id_token=group,
        group_id_token_type=(record.group_id_token_type or DEFAULT_GROUP_TYPE) if group else None,
        cache_expiry=record.expires_at,
        language1=record.language1,
        language2=record.language2 if record.language1 else None,  # C01.FR.10
        personal_message=record.personal_message_content,
        charging_priority=record.charging_priority,
        master_pass=master,
    )


def with_message(decision: TokenDecision, extras: AuthorizeExtras) -> TokenDecision:
    """The decision with the extras' personal message, unless the token has its own (C01: the operator's)."""
    if decision.personal_message or not extras.personal_message:
        return decision
    return replace(
        decision, personal_message=extras.personal_message, language1=decision.language1 or extras.language
    )


@overload
def id_token_info(decision: TokenDecision, ns: type[v201.Messages]) -> v201.datatypes.IdTokenInfoType: ...
@overload
def id_token_info(decision: TokenDecision, ns: type[v21.Messages]) -> v21.datatypes.IdTokenInfoType: ...
def id_token_info(
    decision: TokenDecision, ns: v2x.Dialect
) -> v201.datatypes.IdTokenInfoType | v21.datatypes.IdTokenInfoType:
    """``IdTokenInfoType`` of the namespace ``ns`` (2.0.1 or 2.1) for a decision."""
    v201_schema = issubclass(ns, v201.Messages)
    group_id = decision.group_id_token
    group_type = decision.group_id_token_type or DEFAULT_GROUP_TYPE
    if issubclass(ns, v201.Messages):  # 2.1 types outside the 2.0.1 enumeration are sent as Central
        known = {member.value for member in ns.IdTokenEnumType}
        kind = ns.IdTokenEnumType(group_type if group_type in known else DEFAULT_GROUP_TYPE)
    else:
        kind = group_type
    group = (
        ns.IdTokenType(id_token=group_id, type=kind)
        if group_id is not None and (not v201_schema or len(group_id) <= V201_TOKEN_MAX)
        else UNSET
    )
    content = decision.personal_message
    message = (
        ns.MessageContentType(
            format=ns.MessageFormatEnumType.UTF8,
            language=decision.language1 if decision.language1 else UNSET,
            content=content[:V201_MESSAGE_CONTENT_MAX] if v201_schema else content,
        )
        if content
        else UNSET
    )
    return ns.IdTokenInfoType(
        status=ns.AuthorizationStatusEnumType(decision.status),
        cache_expiry_date_time=to_wire(decision.cache_expiry) if decision.cache_expiry else UNSET,
        charging_priority=decision.charging_priority if decision.charging_priority is not None else UNSET,
        language1=decision.language1 or UNSET,
        language2=decision.language2 if decision.language1 and decision.language2 else UNSET,
        group_id_token=group,
        personal_message=message,
    )


def id_tag_info(decision: TokenDecision) -> v16.datatypes.IdTagInfo:
    """1.6 ``IdTagInfo`` for a decision (the group becomes parentIdTag when it fits CiString20)."""
    parent = decision.group_id_token
    return v16.datatypes.IdTagInfo(
        status=v16.enums.AuthorizationStatus(decision.v16_status()),
        expiry_date=to_wire(decision.cache_expiry) if decision.cache_expiry else UNSET,
        parent_id_tag=parent if parent is not None and len(parent) <= 20 else UNSET,
    )


class AuthorizationService:
    def __init__(
        self,
        repository: AuthorizationRepository,
        settings: AuthorizationSettings,
        events: EventBus,
        clock: Clock,
    ) -> None:
        self.repository = repository
        self.settings = settings
        self.events = events
        self.clock = clock
        self._authorize_listeners: list[AuthorizeListener] = []
        self._decision_filters: list[DecisionFilter] = []
        # C07.FR.05: the status of an ISO 15118 contract certificate chain from its OCSP data (the PKI block
        # sets it); None: no way to verify, so CertChainError (C07.FR.17)
        self.contract_check: ContractCheck | None = None
        # C07.FR.06: the status of a contract chain the station could not validate and sent in PEM (the PKI
        # block sets it: trusted roots, then OCSP); None: CertChainError
        self.contract_chain_check: ContractChainCheck | None = None

    def add_authorize_listener(self, listener: AuthorizeListener) -> None:
        self._authorize_listeners.append(listener)

    def add_decision_filter(self, decision_filter: DecisionFilter) -> None:
        self._decision_filters.append(decision_filter)

    async def authorize_extras(
        self, station_id: str, id_token: str, decision: TokenDecision
    ) -> AuthorizeExtras:
        """The listeners' additions to an Authorize answer, merged (for each field the first listener that
        gives it wins)."""
        merged = AuthorizeExtras()
        for listener in self._authorize_listeners:
            extras = await listener(station_id, id_token, decision)
            if extras is not None:
                merged = AuthorizeExtras(
                    *(
                        mine if mine is not None else theirs
                        for mine, theirs in zip(astuple_shallow(merged), astuple_shallow(extras), strict=True)
                    )
                )
        return merged

    # -- decisions --------------------------------------------------------------------------------------

    async def authorize(
        self, station_id: str, id_token: str, token_type: str | None, *, context: str
    ) -> TokenDecision:
        """Decide on a token presented at a station; ``token_type`` is None for 1.6 (the type is ignored).
        Every decision is logged (``authorization_log``) and published as an ``authorization`` event."""
        now = self.clock.now()
        if token_type == NO_AUTHORIZATION:
            decision = TokenDecision(status=ACCEPTED)  # C02.FR.02
        else:
            records = await self.repository.find(id_token, token_type)
            if records:
                decision = decide(records[0], now, self.settings.master_pass_group)
            elif token_type == KEY_CODE:  # C04.FR.01: a PIN nobody issued is Invalid, never learnt (guessing)
                decision = TokenDecision(status=INVALID)
            elif token_type == DIRECT_PAYMENT and self.settings.direct_payment:
                decision = TokenDecision(status=ACCEPTED)  # C18: the PSP approved the card; not recorded
            elif self.settings.unknown_tokens is UnknownTokenPolicy.ACCEPT:
                decision = TokenDecision(status=ACCEPTED)
                await self._record_unknown(id_token, token_type or V16_TOKEN_TYPE, now)
            else:
                decision = TokenDecision(status=UNKNOWN)
        for decision_filter in self._decision_filters:
            decision = await decision_filter(station_id, id_token, token_type, decision)
        await self.repository.log_decision(station_id, id_token, token_type, context, decision.status, now)
        shown = await self.repository.stored_token(id_token, token_type)
        log.debug("%s %s %s (%s): %s", station_id, context, shown, token_type, decision.status)
        self.events.publish(
            StationEvent(
                "authorization",
                station_id,
                {
                    "idToken": shown,
                    "type": token_type,
                    "context": context,
                    "status": decision.status,
                    "masterPass": decision.master_pass,
                },
            )
        )
        return decision

    async def stored_token(self, id_token: str, token_type: str | None) -> str:
        """What the CSMS may store or show of a token: a KeyCode (PIN) only as its keyed digest (C04.FR.04)."""
        return await self.repository.stored_token(id_token, token_type)

    def is_master_pass(self, decision: TokenDecision) -> bool:
        return is_master_pass(decision)

    def concurrency_limit(self, decision: TokenDecision) -> int | None:
        """How many transactions the token may have at once (its group's limit, else the default); None: any."""
        return self.settings.concurrency_limit(decision.group_id_token)

    async def _record_unknown(self, id_token: str, token_type: str, now: datetime) -> None:
        """Unknown-token policy ACCEPT: remember the token so that the operator sees (and can block) it."""
        await self.repository.create_token(
            {
                "id_token": id_token,
                "type": token_type,
                "status": ACCEPTED,
                "local_list": False,
                "description": "recorded by the unknown-token policy",
            },
            now,
        )

    # -- operator actions -------------------------------------------------------------------------------

    async def get_token(self, id_token: str, token_type: str | None) -> TokenRecord:
        records = await self.repository.find(id_token, token_type)
        if not records:
            raise UnknownToken(id_token, token_type)
        if len(records) > 1:
            raise AmbiguousToken(id_token, [r.type for r in records])
        return records[0]

    async def create_token(self, values: dict[str, Any]) -> TokenRecord:
        if not await self.repository.create_token(values, self.clock.now()):
            raise TokenExists(values["id_token"], values["type"])
        return await self.get_token(values["id_token"], values["type"])

    async def update_token(
        self, id_token: str, token_type: str | None, values: dict[str, Any]
    ) -> TokenRecord:
        record = await self.get_token(id_token, token_type)
        if values:
            await self.repository.update_token(record.id_token, record.type, values, self.clock.now())
        return await self.get_token(record.id_token, record.type)

    async def delete_token(self, id_token: str, token_type: str | None) -> None:
        record = await self.get_token(id_token, token_type)
        if not await self.repository.delete_token(record.id_token, record.type):
            raise UnknownToken(id_token)

    async def import_tokens(self, rows: list[dict[str, Any]]) -> tuple[int, int]:
        return await self.repository.upsert_tokens(rows, self.clock.now())

    async def list_tokens(
        self, *, status: str | None, group: str | None, offset: int, limit: int
    ) -> tuple[list[TokenRecord], int]:
        return await self.repository.list_tokens(status=status, group=group, offset=offset, limit=limit)

    async def decision_log(
        self, *, station_id: str | None, id_token: str | None, offset: int, limit: int
    ) -> tuple[list[LogRecord], int]:
        return await self.repository.list_log(
            station_id=station_id, id_token=id_token, offset=offset, limit=limit
        )


__all__ = [
    "KEY_CODE",
    "AmbiguousToken",
    "AuthorizationService",
    "TokenDecision",
    "TokenExists",
    "UnknownToken",
    "decide",
    "id_tag_info",
    "id_token_info",
    "is_master_pass",
]

"""Authorization (C01-C16): who may charge, decided locally or by the CSMS.

Owns what happens when a token is presented (which EVSE it is for, stop by the same token or group, C01 /
E07), local pre-authorization from the Local Authorization List and the Authorization Cache while online
(C12-C14) and offline (C15, including unknown tokens), the Authorize request, the master pass (C16), the
cache itself (C10-C11: ClearCache) and the AuthCtrlr / AuthCacheCtrlr variables. Granting or ending the
authorization of an EVSE is the transactions controller's (it is a TxStartPoint condition).

Tokens are keyed by ``type:value`` (1.6 idTags have the type ``idTag``); statuses are the
AuthorizationStatus strings of the version that wrote them.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timedelta

from chargeplane.ocpp.messages import v2x, v16
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.timestamps import from_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core import iso15118, local_auth_methods, local_list, reservation, transactions
from chargeplane.station.core.adapter import IdInfo
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.device_model import StationLayout, VariableDef, var
from chargeplane.station.core.display_messages import DisplayMessages
from chargeplane.station.core.model import (
    ACCEPTED,
    AuthEntry,
    ContractHash,
    Evse,
    ShowMessage,
    Token,
    token_key,
)
from chargeplane.station.core.storage import Storage
from chargeplane.station.core.tariff_cost import TariffCost
from chargeplane.station.core.v2x import V2x

AUTH = "AuthCtrlr"
CACHE = "AuthCacheCtrlr"


class AuthCache:
    """C10-C12: the latest IdTokenInfo of every token seen, whatever its status (C10.FR.01). When full,
    room is made (C10.FR.07) by evicting non-Accepted entries first, then the least recently used; the
    lifetime counts from the last use (C10.FR.08)."""

    def __init__(self, storage: Storage, capacity: int = 100) -> None:
        self._storage = storage
        self.capacity = capacity
        raw = storage.get_state("auth_cache")
        self.entries: dict[str, AuthEntry] = {}
        if raw:
            self.entries = {token_key(e["token"], e["token_type"]): AuthEntry(**e) for e in json.loads(raw)}

    def lookup(self, token: str, token_type: str, now: datetime, lifetime_s: int) -> AuthEntry | None:
        """An entry, with the status Expired once past its expiry or its lifetime since last use (C10.FR.08)."""
        entry = self.entries.get(token_key(token, token_type))
        if entry is None:
            return None
        stale = (
            lifetime_s > 0
            and entry.last_used is not None
            and datetime.fromisoformat(entry.last_used) + timedelta(seconds=lifetime_s) <= now
        )
        if entry.status == ACCEPTED and (entry.expired(now) or stale):
            entry.status = "Expired"
            self._save()
        return entry

    def store(self, entry: AuthEntry, now: datetime) -> None:
        entry.last_used = now.isoformat()
        self.entries.pop(token_key(entry.token, entry.token_type), None)
        self.entries[token_key(entry.token, entry.token_type)] = entry
        while len(self.entries) > self.capacity:
            self._evict()
        self._save()

    def touch(self, entry: AuthEntry, now: datetime) -> None:
        self.store(entry, now)

    def forget(self, token: str, token_type: str) -> AuthEntry | None:
        """N10: remove one token's entry (returned, or None when there was none)."""
        entry = self.entries.pop(token_key(token, token_type), None)
        if entry is not None:
            self._save()
        return entry

    def clear(self) -> None:
        """C11: ClearCache."""
        self.entries.clear()
        self._save()

    def _evict(self) -> None:
        for key, entry in self.entries.items():  # insertion order = least recently used first
            if entry.status != ACCEPTED:
                del self.entries[key]
                return
        del self.entries[next(iter(self.entries))]

    def _save(self) -> None:
        self._storage.set_state("auth_cache", json.dumps([asdict(e) for e in self.entries.values()]))


class Authorization(Controller):
    __slots__ = ("cache",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.cache = AuthCache(ctx.storage)

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        ro = "ReadOnly"
        return [
            var(AUTH, "Enabled", "boolean", "true"),
            var(AUTH, "AuthorizeRemoteStart", "boolean", "false"),
            var(AUTH, "LocalAuthorizationOffline", "boolean", "true"),  # Part 2 name
            var(AUTH, "LocalPreAuthorize", "boolean", "true"),
            var(AUTH, "OfflineTxForUnknownIdEnabled", "boolean", "false"),
            var(AUTH, "MasterPassGroupId", "string", ""),
            var(AUTH, "DisableRemoteAuthorization", "boolean", "false"),
            var(CACHE, "Enabled", "boolean", "true"),
            var(CACHE, "Available", "boolean", "true", ro),
            var(CACHE, "LifeTime", "integer", "86400", unit="s", min_limit=0),
            var(CACHE, "Policy", "OptionList", "LRU", ro, values_list="LRU"),
            var(CACHE, "Storage", "integer", "1000", ro, unit="B"),
            var(CACHE, "DisablePostAuthorize", "boolean", "false"),
        ]

    def token_presented(self, value: str, token_type: str, evse_id: int | None, now: datetime) -> None:
        """C01 / E02 / E07: a token at the reader (``evse_id`` None: the station's single reader)."""
        ctx = self.ctx
        txs = ctx.get(transactions.Transactions)
        token = Token(value, token_type)
        evse = self._evse_for(token, evse_id)
        if evse is None:
            ctx.act(ShowMessage("No EVSE available"))
            return
        if ctx.get(local_auth_methods.LocalAuthMethods).authorization_off(token, evse, now):
            return  # AuthCtrlr.Enabled false: no authorization at all (C02)
        current = txs.holder(evse)
        if current is not None and current.same_holder(token):  # E07: the same token ends it locally
            txs.end_authorization(evse, "Local", "StopAuthorized", now)
            return
        entry = self._local_entry(token, now)
        if entry is not None:
            token = Token(value, token_type, entry.group)
            if self.is_master_pass(entry.group):
                self._master_pass(now)
                return
            # C09.FR.07 / FR.11: a valid token of the same group ends it; a refused one does not
            if entry.status == ACCEPTED and current is not None and current.same_holder(token):
                txs.end_authorization(evse, "Local", "StopAuthorized", now)
                return
        model = ctx.model
        connected = ctx.accepted
        local_ok = (connected and model.flag(AUTH, "LocalPreAuthorize")) or (
            not connected and model.flag(AUTH, "LocalAuthorizationOffline")
        )
        if entry is not None and entry.status == ACCEPTED and local_ok:
            txs.authorize(evse, token, now, "Authorized")  # C12 / C13 local pre-authorization
            return
        if (
            entry is not None
            and entry.status != ACCEPTED
            and connected
            and self._post_authorize_disabled(token)
        ):
            # DisablePostAuthorize: not asked again
            ctx.act(ShowMessage(f"{local_auth_methods.shown(token)}: {entry.status}"))
            return
        if connected and not model.flag(AUTH, "DisableRemoteAuthorization"):
            self.send_authorize(evse, token, now)
            return
        if entry is None and model.flag(AUTH, "OfflineTxForUnknownIdEnabled"):  # C15.FR.01
            txs.authorize(evse, token, now, "Authorized", offline_unknown=True)
            return
        ctx.act(ShowMessage(f"{local_auth_methods.shown(token)} not authorized"))

    def contract_presented(
        self,
        emaid: str,
        contract: tuple[ContractHash, ...],
        evse_id: int | None,
        now: datetime,
        certificate: str | None = None,
    ) -> None:
        """C07 (ISO 15118 Plug & Charge): the EV presents its contract (its eMAID, the OCSP data of its chain
        and, when the EV gave it, the chain itself, PEM). Online the CSMS always decides (C07.FR.01; never the
        local list or cache), after the station's own check of the chain (``Iso15118.validate_contract``);
        offline only ContractValidationOffline lets the station decide (C07.FR.07-12). 1.6 has no ISO 15118
        authorization."""
        ctx = self.ctx
        token = Token(emaid, "eMAID")
        evse = self._evse_for(token, evse_id)
        model = ctx.model
        if evse is None or ctx.version is Version.V16 or not model.flag(iso15118.CTRLR, "PnCEnabled"):
            ctx.act(ShowMessage(f"Contract {emaid} not authorized"))
            return
        verdict = (
            None if certificate is None else ctx.get(iso15118.Iso15118).validate_contract(certificate, now)
        )
        if ctx.accepted:
            if verdict is None or verdict == iso15118.VALID:
                self.send_authorize(evse, token, now, contract)  # C07.FR.02
            elif verdict == iso15118.NO_ROOT and model.flag(
                iso15118.CTRLR, "CentralContractValidationAllowed"
            ):
                self.send_authorize(evse, token, now, contract, certificate)  # C07.FR.06
            else:
                ctx.act(ShowMessage(f"Contract {emaid} not valid"))
            return
        if verdict != iso15118.VALID or not model.flag(iso15118.CTRLR, "ContractValidationOffline"):
            ctx.act(ShowMessage(f"Contract {emaid} not authorized"))  # C07.FR.07
            return
        # C07.FR.09-12: a valid contract offline is an id token like any other (local list, cache, unknown)
        entry = self._local_entry(token, now) if model.flag(AUTH, "LocalAuthorizationOffline") else None
        txs = ctx.get(transactions.Transactions)
        if entry is not None and entry.status == ACCEPTED:
            txs.authorize(evse, Token(emaid, "eMAID", entry.group), now, "Authorized")
        elif entry is None and model.flag(AUTH, "OfflineTxForUnknownIdEnabled"):
            txs.authorize(evse, token, now, "Authorized", offline_unknown=True)
        else:
            ctx.act(ShowMessage(f"Contract {emaid} not authorized"))

    def _evse_for(self, token: Token, evse_id: int | None) -> Evse | None:
        evses = self.ctx.evses
        if evse_id is not None:
            return evses.get(evse_id)
        holder = self.ctx.get(transactions.Transactions).holder
        for evse in evses.values():
            current = holder(evse)
            if current is not None and current.value == token.value:
                return evse
        for evse in evses.values():
            if evse.plugged is not None and evse.authorized is None:
                return evse
        available_for = self.ctx.get(reservation.Reservations).available_for
        for evse in evses.values():
            if available_for(evse, token):
                return evse
        return next(iter(evses.values()), None)  # a busy EVSE: still good for a master pass

    def local_verdict(self, token: Token, now: datetime) -> str | None:
        """What the station decides on ``token`` without the CSMS (C12 / C13 local pre-authorization and
        offline authorization from the local list or the cache; a stored refusal not asked again, C14.FR.03):
        the status, or None when the CSMS is to be asked (for a use that starts no transaction: S01)."""
        entry = self._local_entry(token, now)
        if entry is None:
            return None
        connected = self.ctx.accepted
        model = self.ctx.model
        local_ok = (connected and model.flag(AUTH, "LocalPreAuthorize")) or (
            not connected and model.flag(AUTH, "LocalAuthorizationOffline")
        )
        if entry.status == ACCEPTED:
            return ACCEPTED if local_ok else None
        return entry.status if connected and self._post_authorize_disabled(token) else None

    def _local_entry(self, token: Token, now: datetime) -> AuthEntry | None:
        """C13/C14 the Local Authorization List first, then C10-C12 the cache."""
        ctx = self.ctx
        entry = ctx.get(local_list.LocalListController).lookup(token.value, token.type)
        if entry is not None:
            if entry.status == ACCEPTED and entry.expired(ctx.station_time(now)):
                return AuthEntry(entry.token, entry.token_type, "Expired", entry.expiry, entry.group)
            return entry
        if ctx.model.flag(CACHE, "Enabled"):
            lifetime = ctx.model.number(CACHE, "LifeTime")
            return self.cache.lookup(token.value, token.type, ctx.station_time(now), lifetime)
        return None

    def _post_authorize_disabled(self, token: Token) -> bool:
        """LocalAuthListCtrlr / AuthCacheCtrlr.DisablePostAuthorize, of where the token's entry came from: true
        turns off asking the CSMS about a token stored with a status other than Accepted (C14.FR.03,
        C10.FR.03 / C12.FR.05)."""
        listed = self.ctx.get(local_list.LocalListController).lookup(token.value, token.type) is not None
        return self.ctx.model.flag(local_list.CTRLR if listed else CACHE, "DisablePostAuthorize")

    def is_master_pass(self, group: str | None) -> bool:
        master = self.ctx.model.value(AUTH, "MasterPassGroupId")
        return bool(master) and group == master

    def _master_pass(self, now: datetime) -> None:
        """C16.FR.02: without a UI, a master pass stops every transaction."""
        txs = self.ctx.get(transactions.Transactions)
        for evse in self.ctx.evses.values():
            if evse.tx is not None:
                txs.force_stop(evse, "MasterPass", "StopAuthorized", now)

    def send_authorize(
        self,
        evse: Evse,
        token: Token,
        now: datetime,
        contract: tuple[ContractHash, ...] = (),
        certificate: str | None = None,
    ) -> None:
        """Ask the CSMS (C01); the answer authorizes the EVSE, or ends its authorization."""
        ctx = self.ctx

        def answered(response: Payload, at: datetime) -> None:
            info = ctx.adapter.authorize_answer(response)
            language = info.language if info.status == ACCEPTED else None
            ctx.get(DisplayMessages).driver_language(evse.id, language, at)  # O01.FR.08
            ctx.get(TariffCost).authorized(evse, info, at)  # I01.FR.03 / I04.FR.01 / I08
            ctx.get(V2x).authorized(evse, response, at)  # Q01.FR.01: allowedEnergyTransfer
            known = Token(token.value, token.type, info.group, token.details)
            self.remember(known, info, at)
            ctx.get(local_auth_methods.LocalAuthMethods).token_verdict(token, info.status, at)  # C04.FR.06
            if self.is_master_pass(info.group):  # C16.FR.01 never starts a transaction
                self._master_pass(at)
                return
            txs = ctx.get(transactions.Transactions)
            holder = txs.holder(evse)
            # C09.FR.11: a token of the holder's group stops the transaction only when Accepted
            if holder is not None and info.status == ACCEPTED and holder.same_holder(known):
                txs.end_authorization(evse, "Local", "StopAuthorized", at)
                return
            if info.status == ACCEPTED:
                if info.evse_ids and evse.id not in info.evse_ids:
                    ctx.act(ShowMessage("Not allowed on this EVSE"))
                    return
                trigger = "RemoteStart" if evse.pending_remote_start is not None else "Authorized"
                txs.authorize(evse, known, at, trigger)
            else:
                evse.pending_remote_start = None
                ctx.act(ShowMessage(f"{local_auth_methods.shown(token)}: {info.status}"))

        if not ctx.send(ctx.adapter.authorize_request(token, contract, certificate), now, answered):
            ctx.act(ShowMessage("Authorization unavailable"))

    def remember(self, token: Token, info: IdInfo, now: datetime) -> None:
        """C10.FR.01-05: cache the latest IdTokenInfo of every token, whatever its status."""
        if not self.ctx.model.flag(CACHE, "Enabled") or not local_auth_methods.cacheable(token.type):
            return  # C02.FR.03 / C03.FR.02: NoAuthorization and Central stay out
        expiry = from_wire(info.expiry).isoformat() if info.expiry else None
        entry = AuthEntry(token.value, token.type, info.status, expiry, token.group)
        self.cache.store(entry, self.ctx.station_time(now))

    def clear_cache(self) -> bool:
        """C11."""
        if not self.ctx.model.flag(CACHE, "Enabled"):
            return False
        self.cache.clear()
        return True


# ---------------------------------------------------------------------- handlers
def clear_cache(ctl: Authorization, request: v2x.ClearCacheRequestT, now: datetime) -> v2x.ClearCacheResponse:
    ns = v2x.dialect_of(request)
    status = "Accepted" if ctl.clear_cache() else "Rejected"
    return ns.ClearCacheResponse(status=ns.ClearCacheStatusEnumType(status))


def clear_cache16(
    ctl: Authorization, request: v16.messages.ClearCacheRequest, now: datetime
) -> v16.messages.ClearCacheResponse:
    """1.6 §5.4."""
    status = "Accepted" if ctl.clear_cache() else "Rejected"
    return v16.messages.ClearCacheResponse(status=v16.enums.ClearCacheStatus(status))


Authorization.on_2x = (route("ClearCache", clear_cache),)
Authorization.on_16 = (route("ClearCache", clear_cache16),)

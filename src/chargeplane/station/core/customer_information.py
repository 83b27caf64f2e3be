"""Customer information (N09, N10): what the station holds about one customer, reported and/or cleared.

A customer is named by an id token, a customer certificate or a customer identifier, exactly one of them
(N09.FR.09: else Invalid); a request that neither reports nor clears is Rejected (N09.FR.07). What this
station holds about an id token: its Authorization Cache entry, its Local Authorization List entry and the
transactions it is part of (ongoing ones, and the transaction messages still queued for the CSMS). Clearing
(N10.FR.03/06) removes the cache entry; the local list is the CSMS's to change (N10.FR.02), and a transaction
with its queued messages stays (the CSMS needs them to settle the session: clearing them would lose a
billable record).

Customer identifiers (C-14): a driver can enrol at the station by local means (its terminal or app, the
simulator's :meth:`StationCore.customer_enrolled`) under a customer identifier (a username or contract
number), linking the id tokens they charge with. The station keeps that enrolment (when, which tokens,
persisted); it is the data held under the identifier, with what the station holds about each linked token.
Clearing by identifier (N10.FR.03/06) removes the enrolment and the linked tokens' cache entries (not the
local list, N10.FR.02). Customer certificates are not stored by this station, so there is never data about
them.

The report follows the answer as NotifyCustomerInformation parts of at most 512 characters (seqNo from 0,
tbc on all but the last), one part saying that nothing was found when nothing was (N09.FR.06, N10.FR.04),
and one saying that the data was cleared after a clear without report (N10.FR.06).
"""

from __future__ import annotations

import json
from datetime import datetime

from msgspec import UNSET

from chargeplane.ocpp.messages import v2x
from chargeplane.ocpp.messages.base import Payload, present
from chargeplane.station.core.authorization import Authorization
from chargeplane.station.core.context import Controller, route
from chargeplane.station.core.local_list import LocalListController
from chargeplane.station.core.model import AuthEntry
from chargeplane.station.core.offline_queue import OfflineQueue

MAX_PART = 512  # NotifyCustomerInformationRequest.data
NO_DATA = "No data found for this customer."
CLEARED = "The customer's data was cleared."
ENROLMENTS_KEY = "customer_enrolments"  # storage: {identifier: {"since": ts, "tokens": [[token, type], ...]}}


class CustomerInformation(Controller):
    __slots__ = ()

    # ------------------------------------------------------------------ customer identifiers (C-14)
    def _enrolments(self) -> dict[str, dict[str, object]]:
        stored = self.ctx.storage.get_state(ENROLMENTS_KEY)
        loaded = json.loads(stored) if stored else {}
        return loaded if isinstance(loaded, dict) else {}

    def _save(self, enrolments: dict[str, dict[str, object]]) -> None:
        self.ctx.storage.set_state(ENROLMENTS_KEY, json.dumps(enrolments) if enrolments else None)

    def enrol(self, identifier: str, token: tuple[str, str] | None, now: datetime) -> None:
        """A driver enrols (again) under ``identifier`` by local means, optionally linking an id token."""
        enrolments = self._enrolments()
        record = enrolments.setdefault(identifier, {"since": self.ctx.ts(now), "tokens": []})
        tokens = _tokens(record)
        if token is not None and token not in tokens:
            tokens.append(token)
        record["tokens"] = [list(t) for t in tokens]
        self._save(enrolments)

    def about_identifier(self, identifier: str, now: datetime) -> list[str]:
        record = self._enrolments().get(identifier)
        if record is None:
            return []
        tokens = _tokens(record)
        linked = ", ".join(f"{value} ({kind})" for value, kind in tokens) or "none"
        lines = [f"Enrolled at this station as {identifier} since {record.get('since')}; id tokens: {linked}"]
        for value, kind in tokens:
            lines += self.about_token(value, kind, now)
        return lines

    def clear_identifier(self, identifier: str) -> None:
        enrolments = self._enrolments()
        record = enrolments.pop(identifier, None)
        if record is None:
            return
        for value, kind in _tokens(record):
            self.clear_token(value, kind)
        self._save(enrolments)

    def about_token(self, token: str, token_type: str, now: datetime) -> list[str]:
        """One line per thing the station holds about the token."""
        ctx = self.ctx
        lines = []
        cached = ctx.get(Authorization).cache.entries.get(f"{token_type}:{token}")
        if cached is not None:
            lines.append("Authorization Cache: " + _entry(cached))
        listed = ctx.get(LocalListController).list.lookup(token, token_type)
        if listed is not None:
            lines.append("Local Authorization List: " + _entry(listed))
        for evse in ctx.evses.values():
            tx = evse.tx
            if (
                tx is not None
                and tx.token is not None
                and (tx.token.value, tx.token.type) == (token, token_type)
            ):
                lines.append(f"Ongoing transaction {tx.id} on EVSE {evse.id}, started {tx.started_at}")
        queued = sum(1 for item in ctx.get(OfflineQueue).items if _carries(item.request, token))
        if queued:
            lines.append(f"{queued} transaction message(s) queued for the CSMS")
        return lines

    def clear_token(self, token: str, token_type: str) -> None:
        self.ctx.get(Authorization).cache.forget(token, token_type)

    def notify(self, request_id: int, lines: list[str], now: datetime) -> None:
        ctx = self.ctx
        generated_at = ctx.ts(now)
        parts = _pack(lines)
        for seq_no, data in enumerate(parts):
            tbc = seq_no < len(parts) - 1

            def build(
                ns: v2x.Dialect, data: str = data, seq_no: int = seq_no, tbc: bool = tbc
            ) -> v2x.NotifyCustomerInformationRequest:
                return ns.NotifyCustomerInformationRequest(
                    data=data, seq_no=seq_no, generated_at=generated_at, request_id=request_id, tbc=tbc
                )

            ctx.send(v2x.with_dialect(ctx.version, build), now)


def _tokens(record: dict[str, object]) -> list[tuple[str, str]]:
    raw = record.get("tokens")
    items = raw if isinstance(raw, list) else []
    return [(str(t[0]), str(t[1])) for t in items if isinstance(t, list) and len(t) == 2]


def _carries(request: Payload, token: str) -> bool:
    """A queued transaction message that names the token (2.x idToken, 1.6 idTag)."""
    id_token = present(getattr(request, "id_token", UNSET))
    if id_token is not None and getattr(id_token, "id_token", None) == token:
        return True
    return present(getattr(request, "id_tag", UNSET)) == token


def _entry(entry: AuthEntry) -> str:
    details = [f"token {entry.token} ({entry.token_type})", f"status {entry.status}"]
    if entry.group:
        details.append(f"group {entry.group}")
    if entry.expiry:
        details.append(f"valid until {entry.expiry}")
    if entry.last_used:
        details.append(f"last used {entry.last_used}")
    return ", ".join(details)


def _pack(lines: list[str]) -> list[str]:
    """Lines joined into parts of at most MAX_PART characters (a longer line is cut)."""
    parts: list[str] = []
    current = ""
    for line in (line[:MAX_PART] for line in lines):
        if current and len(current) + 1 + len(line) > MAX_PART:
            parts.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        parts.append(current)
    return parts


def customer_information(
    ctl: CustomerInformation, request: v2x.CustomerInformationRequestT, now: datetime
) -> v2x.CustomerInformationResponse:
    ns = v2x.dialect_of(request)
    status = ns.CustomerInformationStatusEnumType
    token = present(request.id_token)
    named = [
        x for x in (token, present(request.customer_certificate), present(request.customer_identifier)) if x
    ]
    if len(named) != 1:
        return ns.CustomerInformationResponse(status=status.INVALID)  # N09.FR.09
    if not request.report and not request.clear:
        return ns.CustomerInformationResponse(status=status.REJECTED)  # N09.FR.07
    identifier = present(request.customer_identifier)
    lines: list[str] = []
    if token is not None:
        lines = ctl.about_token(token.id_token, str(token.type), now)
    elif identifier is not None:
        lines = ctl.about_identifier(identifier, now)
    if request.clear and token is not None:
        ctl.clear_token(token.id_token, str(token.type))
    elif request.clear and identifier is not None:
        ctl.clear_identifier(identifier)  # N10.FR.03 / N10.FR.06
    if request.report:
        ctl.notify(request.request_id, lines or [NO_DATA], now)
    else:
        ctl.notify(request.request_id, [CLEARED], now)
    return ns.CustomerInformationResponse(status=status.ACCEPTED)


CustomerInformation.on_2x = (route("CustomerInformation", customer_information),)

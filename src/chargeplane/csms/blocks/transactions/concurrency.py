"""ConcurrentTx: how many transactions one id token may have at once, checked atomically with the write.

The limit is the operator's (``AuthorizationSettings.concurrency_limit``: per group, no limit by default). The
check runs inside the unit of work or batch that stores the start, after its rows are written:

* the token is locked for the rest of the database transaction (PostgreSQL: a transaction-scoped advisory
  lock; SQLite has one writer, the group committer, so its batches already run one after the other). Two
  writers that start transactions of one token therefore check one after the other, and the second one sees
  the first one's committed row: a read-then-write across awaits could let both through;
* the starts of one token within a batch are admitted in queue order, each seeing the ones before it;
* a start that is not admitted, or whose token was not Accepted at all, leaves its transaction ``refused``:
  it never counts as active, so a refused card is not locked out of its next start.

A repeated start gets the answer of the first one (its row is ``refused`` or not).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from chargeplane.csms.blocks.transactions.tables import transactions

ACTIVE, REFUSED = "active", "refused"
_LOCK_CLASS = 0x7478  # the first key of the advisory locks on id tokens ("tx")


@dataclass(frozen=True, slots=True)
class Start:
    """One stored start of a transaction with a token."""

    key: int  # the transaction's row
    status: str  # the row's status before this start
    repeated: bool  # the same start was stored before
    limit: int | None  # the token's limit; None: Accepted without a limit
    refuse: bool  # the token was not Accepted: the transaction is refused whatever the limit


def needs_check(limit: int | None, refuse: bool) -> bool:
    return limit is not None or refuse


def _active(connection: sa.Connection, id_token: str) -> set[int]:
    """Lock the token until the commit, then the keys of its active transactions."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_CLASS, sa.func.hashtext(id_token))))
    query = sa.select(transactions.c.id).where(
        transactions.c.id_token == id_token, transactions.c.status == ACTIVE
    )
    return {int(row[0]) for row in connection.execute(query)}


def admit(connection: sa.Connection, id_token: str, starts: Sequence[Start]) -> tuple[list[bool], set[int]]:
    """Whether each start (in queue order) is answered ConcurrentTx, and the transactions it marked
    ``refused``."""
    active = _active(connection, id_token) - {start.key for start in starts}
    busy: list[bool] = []
    refused: list[int] = []
    for start in starts:
        if start.repeated or start.status != ACTIVE:  # decided before, or ended before its start came
            busy.append(start.status == REFUSED)
            if start.status == ACTIVE:
                active.add(start.key)
            continue
        over = start.limit is not None and len(active) >= start.limit
        busy.append(over)
        if over or start.refuse:
            refused.append(start.key)
        else:
            active.add(start.key)
    if refused:
        connection.execute(
            sa.update(transactions)
            .where(transactions.c.id.in_(refused), transactions.c.status == ACTIVE)
            .values(status=REFUSED)
        )
    return busy, set(refused)

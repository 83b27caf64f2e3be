"""C04.FR.04 in the transactions store: a KeyCode (PIN) token is kept only as the CSMS's keyed digest, in the
transaction and its events, and still finds the transaction by its PIN; against an ``ocpp`` 2.1 peer."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.blocks.transactions.tables import transaction_events, transactions
from tests.csms.blocks.transactions.test_transactions import add_token, connected, tx_event
from tests.csms.conftest import RunningCsms
from tests.csms.peers import boot


async def test_C04_FR_04_a_pin_is_stored_as_a_digest_and_found_by_its_pin(csms: RunningCsms) -> None:
    await add_token(csms, "8642", type="KeyCode")
    async with await connected(csms, "PIN1", "2.1") as station:
        await boot(station, "2.1")
        pin = {"id_token": "8642", "type": "KeyCode"}
        answer = await station.call(tx_event("2.1", "Started", 0, 0, transaction_id="TP", id_token=pin))
        assert answer.id_token_info["status"] == "Accepted"  # the lookup used the PIN
    async with csms.app.engine.connect() as connection:
        stored = (await connection.execute(sa.select(transactions.c.id_token))).scalars().all()
        events = (await connection.execute(sa.select(transaction_events.c.id_token))).scalars().all()
    assert len(stored) == 1
    assert stored[0] is not None
    assert stored[0].startswith("hmac:")
    assert "8642" not in [*stored, *events]
    page = (await csms.api.get("/api/v1/transactions?idToken=8642", headers=csms.auth)).json()
    assert [t["transactionId"] for t in page["items"]] == ["TP"]
    assert page["items"][0]["idToken"] == stored[0]

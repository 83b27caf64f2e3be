"""One write path on the OCPP side: every write caused by OCPP traffic, its connection hooks and its jobs goes
through the CSMS's one group committer (``storage/group_commit.py``); no repository opens a transaction of its
own there. On SQLite and PostgreSQL.

The check watches every statement the process sends to the database: an INSERT, UPDATE or DELETE on a
connection that is not running a batch of the committer is a write that bypassed it. (The batch writers use
the DBAPI cursor of the committer's connection: inside it by construction.)
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import ocpp.v201
import pytest
import sqlalchemy as sa
from ocpp.routing import on

from chargeplane.csms.blocks.authorization.settings import AuthorizationSettings
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
from chargeplane.csms.blocks.reservation.service import ReservationService
from chargeplane.csms.blocks.reservation.settings import ReservationSettings
from chargeplane.csms.settings import UnknownStationPolicy, UnknownTokenPolicy
from chargeplane.csms.storage import group_commit
from chargeplane.csms.storage.group_commit import GroupCommitter
from tests.csms.blocks.authorization.test_local_list import list_station
from tests.csms.conftest import RunningCsms, running, settings_for
from tests.csms.peers import boot, peer

STATION = "WP-1"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
# Writes of the operator's side that are allowed to be direct (documented in their repositories) and that
# the scenario reaches: POST /reservations records the request before sending ReserveNow; the audit log
# records every state-changing API call (csms/api/audit.py).
OPERATOR_WRITES = ("INSERT INTO reservations", "INSERT INTO audit_log")


class Station(list_station(ocpp.v201)):  # type: ignore[misc]
    """Answers what the scenario sends: SendLocalList (and its GetVariables), ReserveNow, DataTransfer, Reset."""

    @on("ReserveNow")
    def reserve_now(self, **_: Any) -> Any:
        return ocpp.v201.call_result.ReserveNow(status="Accepted")

    @on("DataTransfer")
    def data_transfer(self, **_: Any) -> Any:
        return ocpp.v201.call_result.DataTransfer(status="Accepted")

    @on("Reset")
    def reset(self, **_: Any) -> Any:
        return ocpp.v201.call_result.Reset(status="Accepted")


class WriteWatch:
    """Records the writes sent outside a batch of the group committer, while armed."""

    def __init__(self) -> None:
        self.armed = False
        self.bypassed: list[str] = []
        self._committing: set[sa.Connection] = set()

    def run_all(self, original: Any) -> Any:
        def run_all(connection: sa.Connection, batch: Any) -> Any:
            self._committing.add(connection)
            try:
                return original(connection, batch)
            finally:
                self._committing.discard(connection)

        return run_all

    def statement(self, connection: sa.Connection, _cursor: Any, statement: str, *_: Any) -> None:
        text = " ".join(statement.split())
        write = text.split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")
        if (
            self.armed
            and write
            and connection not in self._committing
            and not text.startswith(OPERATOR_WRITES)
        ):
            self.bypassed.append(text[:80])


@contextlib.contextmanager
def watched_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[WriteWatch]:
    watch = WriteWatch()
    monkeypatch.setattr(group_commit, "_run_all", watch.run_all(group_commit._run_all))
    sa.event.listen(sa.Engine, "before_cursor_execute", watch.statement)  # every engine, the committer's too
    try:
        yield watch
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", watch.statement)


@pytest.fixture
async def csms(database_url: str) -> AsyncIterator[RunningCsms]:
    """Unknown stations and tokens accepted (their registration is on the OCPP path); the jobs are run by
    hand so that the committer's counts are exact."""
    settings = settings_for(
        database_url,
        ProvisioningSettings(unknown_stations=UnknownStationPolicy.ACCEPT, presence_flush_interval=3600.0),
        AuthorizationSettings(unknown_tokens=UnknownTokenPolicy.ACCEPT),
        ReservationSettings(check_interval=3600.0),
        ocpp_allow_unauthenticated=True,
    )
    async with running(settings) as running_csms:
        yield running_csms


def _event(kind: str, seq_no: int, **fields: Any) -> Any:
    return ocpp.v201.call.TransactionEvent(
        event_type=kind,
        timestamp=(T0 + timedelta(seconds=seq_no)).isoformat(),
        trigger_reason="Authorized" if kind == "Started" else "EVDeparted",
        seq_no=seq_no,
        transaction_info={"transaction_id": "TX-WP"},
        **fields,
    )


async def _units_of(committer: GroupCommitter, call: Any) -> int:
    before = committer.units
    await call
    return committer.units - before


async def test_ocpp_side_writes_only_through_the_group_committer(
    csms: RunningCsms, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, auth, committer = csms.api, csms.auth, csms.app.committer
    token = {"id_token": "UNKNOWN-1", "type": "ISO14443"}
    with watched_writes(monkeypatch) as watch:
        watch.armed = True
        async with peer(csms.ocpp_url, STATION, "2.0.1", station_class=Station) as station:
            assert (await boot(station, "2.0.1")).status == "Accepted"  # registered on first contact
        async with peer(csms.ocpp_url, STATION, "2.0.1", station_class=Station) as station:  # presence
            await boot(station, "2.0.1")
            call = ocpp.v201.call
            await station.call(
                call.StatusNotification(
                    timestamp=T0.isoformat(), connector_status="Available", evse_id=1, connector_id=1
                )
            )
            await station.call(
                call.NotifyEvent(
                    generated_at=T0.isoformat(),
                    seq_no=0,
                    event_data=[
                        {
                            "event_id": event_id,
                            "timestamp": T0.isoformat(),
                            "trigger": "Delta",
                            "actual_value": value,
                            "component": {"name": "Connector", "evse": {"id": 1, "connector_id": 1}},
                            "variable": {"name": variable},
                            "event_notification_type": "HardWiredNotification",
                        }
                        for event_id, variable, value in (
                            (1, "AvailabilityState", "Occupied"),
                            (2, "Problem", "true"),
                        )
                    ],
                )
            )
            # The unknown-token policy records the token; the decision is logged.
            assert (await station.call(call.Authorize(id_token=token))).id_token_info["status"] == "Accepted"
            # One DataTransfer from the station: one unit of work, committed before the answer.
            assert await _units_of(committer, station.call(call.DataTransfer(vendor_id="org.none"))) == 1
            # Commands answered by the station: a reservation (the operator's request is the one allowed
            # direct write), a data transfer, a command, a local list.
            body = {"idToken": "UNKNOWN-1", "tokenType": "ISO14443", "evseId": 1}
            reserved = []
            for _ in range(2):
                body["expiresAt"] = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
                response = await api.post(f"/api/v1/stations/{STATION}/reservations", json=body, headers=auth)
                assert response.status_code == 201, response.text
                reserved.append(response.json()["reservation"]["id"])
            sent = await api.post(
                f"/api/v1/stations/{STATION}/data-transfer", json={"vendorId": "com.acme"}, headers=auth
            )
            assert sent.status_code == 200, sent.text
            reset = await api.post(
                f"/api/v1/stations/{STATION}/reset", json={"type": "Immediate"}, headers=auth
            )
            assert reset.status_code == 200, reset.text
            synced = await api.post(
                f"/api/v1/stations/{STATION}/local-list", json={"full": True}, headers=auth
            )
            assert synced.status_code == 200, synced.text
            assert synced.json()["completed"]
            # A transaction that uses the first reservation; the station removes the second.
            await station.call(
                _event(
                    "Started",
                    0,
                    id_token=token,
                    evse={"id": 1, "connector_id": 1},
                    reservation_id=reserved[0],
                )
            )
            await station.call(_event("Ended", 1))
            await station.call(
                call.ReservationStatusUpdate(reservation_id=reserved[1], reservation_update_status="Removed")
            )
            # The jobs of the OCPP side.
            now = csms.app.clock.now()
            await csms.app.provisioning.tick(now)
            await csms.app.blocks.require(ReservationService).tick(now)
        watch.armed = False
        assert watch.bypassed == []

        # The watch does see a direct write (here the operator's, which may be direct).
        watch.armed = True
        changed = await api.patch(f"/api/v1/stations/{STATION}", json={"description": "x"}, headers=auth)
        assert changed.status_code == 200, changed.text
        assert [text.split()[0] for text in watch.bypassed] == ["UPDATE"]

    # What was written is all there.
    reservations = [
        (await api.get(f"/api/v1/reservations/{i}", headers=auth)).json()["status"] for i in reserved
    ]
    assert reservations == ["Used", "Removed"]
    station_record = (await api.get(f"/api/v1/stations/{STATION}", headers=auth)).json()
    assert station_record["connected"] is False
    transfers = (await api.get(f"/api/v1/data-transfers?stationId={STATION}", headers=auth)).json()
    assert [(t["direction"], t["status"]) for t in transfers["items"]] == [
        ("out", "Accepted"),
        ("in", "UnknownVendorId"),
    ]

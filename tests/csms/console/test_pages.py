"""The console's page modules without a server: the CSV cells, the forms turned into the blocks' inputs, the
site tree as the page shows it, the state-of-charge series."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from chargeplane.csms.blocks.sites.service import AllocationView, CircuitNode, EvseNode, NodeShare
from chargeplane.csms.blocks.transactions.repository import MeterValueRecord, TransactionRecord
from chargeplane.csms.console.forms import moment
from chargeplane.csms.console.pages_energy import grid_limit_input, tree_rows
from chargeplane.csms.console.pages_firmware import campaign_input
from chargeplane.csms.console.pages_transactions import CSV_COLUMNS, csv_row, safe_cell
from chargeplane.csms.console.views import chart_series, latest_power
from chargeplane.csms.errors import Invalid

AT = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def _transaction(id_token: str, stop_reason: str | None) -> TransactionRecord:
    return TransactionRecord(
        id=7, station_id="CS-1", transaction_id="TX-7", ocpp_version="2.0.1", evse_id=1, connector_id=1,
        id_token=id_token, token_type="ISO14443", group_id_token=None, id_token_at=None, status="ended",
        started_seen=True, started_at=AT, ended_at=AT + timedelta(hours=1), meter_start_wh=0.0,
        meter_start_at=None, meter_stop_wh=None, last_register_wh=None, last_register_at=None,
        energy_wh=1234.5678, charging_state=None, charging_state_at=None, stop_reason=stop_reason,
        closed_reason=None, remote_start_id=None, reservation_id=None, first_seq_no=None, last_seq_no=None,
        seq_gaps=[], offline=False, event_count=2, created_at=AT, updated_at=AT,
    )  # fmt: skip


@pytest.mark.parametrize("cell", ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\r=1"])
def test_formula_cells_become_text(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell


def test_plain_cells_and_numbers_are_kept() -> None:
    assert safe_cell("DRIVER-1") == "DRIVER-1"
    assert safe_cell(-5) == "-5"  # a number we format is not a formula
    assert safe_cell(None) == ""
    assert safe_cell(AT) == "2026-12-07T10:00:00Z"


def test_a_csv_row_is_quoted_and_safe() -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerow(csv_row(_transaction('=HYPERLINK("http://x","a, b")', "EV\nDisconnected")))
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert len(rows) == 2  # the comma, the quotes and the line break stay inside their cells
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["idToken"] == '\'=HYPERLINK("http://x","a, b")'
    assert row["stopReason"] == "EV\nDisconnected"
    assert row["energyWh"] == "1234.568"
    assert row["endedAt"] == "2026-12-07T11:00:00Z"


def test_times_of_the_filter() -> None:
    assert moment("2026-12-07T10:00") == AT  # datetime-local: UTC, as the pages show times
    assert moment("2026-12-07T11:00+01:00") == AT
    assert moment("") is None
    with pytest.raises(Exception, match="not a time"):
        moment("yesterday")


def _sample(measurand: str, value: float, minute: int, **extra: object) -> MeterValueRecord:
    fields: dict[str, object] = {
        "transaction_key": 1, "evse_id": 1, "connector_id": 1, "timestamp": AT + timedelta(minutes=minute),
        "measurand": measurand, "phase": None, "location": None, "context": None, "unit": None,
        "multiplier": None, "value": value, "signed_data": None,
    }  # fmt: skip
    fields.update(extra)
    return MeterValueRecord(**fields)  # type: ignore[arg-type]


def test_soc_series_only_from_percent_values_in_range() -> None:
    series = chart_series(
        [
            _sample("SoC", 41.0, 1, unit="Percent"),
            _sample("SoC", 42.0, 2),
            _sample("SoC", 140.0, 3),  # not a state of charge
            _sample("SoC", 43.0, 4, unit="Wh"),
            _sample("Energy.Active.Import.Register", 10.0, 1),
        ]
    )
    assert [value for _, value in series.soc] == [41.0, 42.0]
    assert series.as_json()["soc"][0][0] == "2026-12-07T10:01:00Z"
    assert len(series.energy) == 1


def test_campaign_form_becomes_the_api_input() -> None:
    form = {"name": "Q4", "firmware_id": "3", "target": "stations", "station_ids": "CS-1, CS-2\nCS-3"}
    data = campaign_input(form | {"batch": "2", "batch_unit": "size", "failure_threshold": "10"})
    assert (data.station_ids, data.group, data.batch_size, data.batch_percent) == (
        ["CS-1", "CS-2", "CS-3"], None, 2, None
    )  # fmt: skip
    assert data.failure_threshold == 10.0
    by_group = campaign_input(
        form | {"target": "group", "group": "depot", "batch": "25", "batch_unit": "percent"}
    )
    assert (by_group.group, by_group.station_ids, by_group.batch_percent) == ("depot", [], 25.0)
    with pytest.raises(Invalid, match="batch"):
        campaign_input(form | {"batch": "many"})
    with pytest.raises(Invalid):
        campaign_input(form | {"batch": "0"})  # the API's own limit: at least 1


def test_grid_limit_form() -> None:
    assert grid_limit_input("32") == [32.0]
    assert grid_limit_input("32, 30 28") == [32.0, 30.0, 28.0]
    assert grid_limit_input("  ") is None
    for bad in ("-1", "1 2 3 4", "lots"):
        with pytest.raises(Invalid):
            grid_limit_input(bad)


def test_power_takes_the_latest_total_else_the_phases() -> None:
    since = AT
    samples = [
        _sample("Power.Active.Import", 5.0, 1, unit="kW"),
        _sample("Power.Active.Import", 7000.0, 2),
        _sample("Power.Active.Import", 1000.0, 1, evse_id=2, phase="L1"),
        _sample("Power.Active.Import", 2000.0, 2, evse_id=2, phase="L1"),
        _sample("Power.Active.Import", 2500.0, 2, evse_id=2, phase="L2"),
        _sample("Power.Active.Import", 9000.0, -1, evse_id=3),  # too old
    ]
    assert latest_power(samples, since, lambda sample: sample.evse_id) == {1: 7000.0, 2: 4500.0}


def test_tree_rows_add_up_power_below_each_circuit() -> None:
    tree = CircuitNode(
        "grid",
        [100.0],
        circuits=[
            CircuitNode(
                "feeder", [40.0], evses=[EvseNode("e1", "CS-1", 1, 32.0), EvseNode("e2", "CS-1", 2, 32.0)]
            )
        ],
        evses=[EvseNode("e3", "CS-2", 1, 16.0)],
    )
    share = NodeShare("e1", "CS-1", 1, "TX-1", True, 20.0, False)
    allocation = AllocationView(
        "s1", AT, None, [share], {"feeder": (20.0, 20.0, 20.0)}, {"grid": (100.0, 100.0, 100.0)}, {}
    )
    rows = tree_rows(tree, allocation, {("cs-1", 1): 4600.0, ("cs-2", 1): 1000.0})
    assert [(row.node_id, row.depth, row.kind) for row in rows] == [
        ("grid", 0, "circuit"), ("feeder", 1, "circuit"), ("e1", 2, "evse"), ("e2", 2, "evse"), ("e3", 1, "evse")
    ]  # fmt: skip
    power = {row.node_id: row.power_w for row in rows}
    assert power == {"grid": 5600.0, "feeder": 4600.0, "e1": 4600.0, "e2": None, "e3": 1000.0}
    assert rows[0].capacity == (100.0, 100.0, 100.0)
    assert rows[1].allocated == (20.0, 20.0, 20.0)
    assert rows[2].share == share

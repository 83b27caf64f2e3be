"""End-to-end: the station runtime (client, timers, SQLite) against a CSMS built with the ``ocpp`` package."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from chargeplane.ocpp.versions import Version
from chargeplane.station.runtime import LatencyHistogram, RuntimeSettings, StationRuntime
from chargeplane.transport.backoff import BackOffSettings
from tests.station.csms_peer import CsmsBehaviour, call, peer_central_system16, peer_csms, wait_for

FAST = BackOffSettings(0.1, 0.0, 1)


@asynccontextmanager
async def running_station(
    url: str, database: Path | str = ":memory:", **kwargs: Any
) -> AsyncIterator[StationRuntime]:
    kwargs.setdefault("backoff", FAST)
    settings = RuntimeSettings(url=url, station_id="CS001", database=database, meter_tick_s=0.05, **kwargs)
    runtime = StationRuntime(settings)
    task = asyncio.create_task(runtime.run())
    try:
        yield runtime
    finally:
        await runtime.stop()
        await asyncio.wait_for(task, timeout=5)


def events(behaviour: CsmsBehaviour) -> list[dict[str, Any]]:
    return behaviour.of("TransactionEvent")


async def test_B01_boot_accepted_then_status_notification() -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url, running_station(url, connectors=(1, 2)):
        await wait_for(lambda: len(behaviour.of("StatusNotification")) == 3)
        boot = behaviour.of("BootNotification")[0]
        assert boot["reason"] == "PowerUp"
        assert behaviour.actions()[0] == "BootNotification"


async def test_B02_boot_pending_answers_get_variables_then_accepted_on_retry() -> None:
    behaviour = CsmsBehaviour(boot_statuses=["Pending", "Accepted"], boot_interval=1)
    async with peer_csms(behaviour) as url, running_station(url):
        await wait_for(lambda: behaviour.stations and len(behaviour.of("BootNotification")) == 1)
        await asyncio.sleep(0.1)
        answer = await behaviour.stations[0].call(
            call.GetVariables(
                get_variable_data=[
                    {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}
                ]
            )
        )
        assert answer.get_variable_result[0]["attribute_status"] == "Accepted"
        assert behaviour.actions() == ["BootNotification"]  # B02.FR.02
        await wait_for(lambda: behaviour.of("StatusNotification"), within=3)
        assert behaviour.actions()[:2] == ["BootNotification", "BootNotification"]


async def test_B03_boot_rejected_sends_nothing_until_interval() -> None:
    behaviour = CsmsBehaviour(boot_statuses=["Rejected", "Accepted"], boot_interval=1)
    async with peer_csms(behaviour) as url, running_station(url) as station:
        await wait_for(lambda: len(behaviour.of("BootNotification")) == 1)
        station.present_token("AA")
        await asyncio.sleep(0.5)
        assert behaviour.actions() == ["BootNotification"]
        await wait_for(lambda: behaviour.of("StatusNotification"), within=3)


async def test_E03_full_session_idtoken_first() -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url, running_station(url) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        station.present_token("AABBCCDD")
        await wait_for(lambda: behaviour.of("Authorize"))
        await asyncio.sleep(0.05)
        station.plug(1)
        await wait_for(
            lambda: any(e["transaction_info"].get("charging_state") == "Charging" for e in events(behaviour))
        )
        await asyncio.sleep(0.2)
        station.present_token("AABBCCDD")
        await wait_for(lambda: any(e["event_type"] == "Ended" for e in events(behaviour)))
        station.unplug(1)
        tx = events(behaviour)
        assert tx[0]["event_type"] == "Started"
        assert tx[0]["trigger_reason"] == "CablePluggedIn"
        assert tx[0]["id_token"]["id_token"] == "AABBCCDD"
        assert [e["seq_no"] for e in tx] == list(range(len(tx)))
        ended = tx[-1]
        start_wh = tx[0]["meter_value"][0]["sampled_value"][0]["value"]
        end_wh = ended["meter_value"][0]["sampled_value"][0]["value"]
        assert end_wh > start_wh  # the simulated EV drew energy


async def test_E02_full_session_cable_first() -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url, running_station(url) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        station.plug(1)
        await wait_for(
            lambda: any(s["connector_status"] == "Occupied" for s in behaviour.of("StatusNotification"))
        )
        station.present_token("CARD1")
        await wait_for(lambda: events(behaviour))
        assert events(behaviour)[0]["trigger_reason"] == "Authorized"
        station.unplug(1)
        await wait_for(lambda: any(e["event_type"] == "Ended" for e in events(behaviour)))
        assert events(behaviour)[-1]["transaction_info"]["stopped_reason"] == "EVDisconnected"


async def test_E11_offline_queue_replayed_after_station_restart(tmp_path: Path) -> None:
    database = tmp_path / "station.db"
    behaviour = CsmsBehaviour()
    variables = {("AuthCtrlr", "OfflineTxForUnknownIdEnabled", None): "true"}
    async with peer_csms(behaviour) as url:
        slow = BackOffSettings(60.0, 0.0, 1)
        async with running_station(url, database, backoff=slow, variables=variables) as station:
            await wait_for(lambda: behaviour.of("StatusNotification"))
            await station.go_offline()
            await wait_for(lambda: not station.connected.is_set())
            station.plug(1)
            station.present_token("OFFLINE1")
            await asyncio.sleep(0.2)
            station.unplug(1)
            assert events(behaviour) == []
        # a new process on the same database
        async with running_station(url, database):
            await wait_for(lambda: any(e["event_type"] == "Ended" for e in events(behaviour)))
        tx = events(behaviour)
        assert tx[0]["event_type"] == "Started"
        assert all(e["offline"] is True for e in tx)
        assert [e["seq_no"] for e in tx] == list(range(len(tx)))
        assert len(behaviour.of("BootNotification")) == 2


async def test_reconnect_back_off_follows_the_device_model_once_set() -> None:
    """Part 4 §5.3: RetryBackOff* set through the device model (SetVariables, site configuration) replace the
    runtime's own back-off; unset, the runtime's stays."""
    variables = {
        ("OCPPCommCtrlr", "RetryBackOffWaitMinimum", None): "7",
        ("OCPPCommCtrlr", "RetryBackOffRandomRange", None): "0",
    }
    async with peer_csms(CsmsBehaviour()) as url:
        async with running_station(url, variables=variables) as station:
            await wait_for(station.accepted.is_set)
            await station.go_offline()
            await wait_for(lambda: not station.connected.is_set())
            assert station.client is not None
            assert station.client.backoff.settings == BackOffSettings(7.0, 0.0, FAST.repeat_times)
        async with running_station(url) as station:
            await wait_for(station.accepted.is_set)
            await station.go_offline()
            await wait_for(lambda: not station.connected.is_set())
            await wait_for(station.connected.is_set)  # FAST: back within a fraction of a second
            assert station.client is not None
            assert station.client.backoff.settings == FAST


async def test_F01_F03_remote_start_and_stop_and_B07_base_report() -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url, running_station(url) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        csms = behaviour.stations[0]
        station.plug(1)
        answer = await csms.call(
            call.RequestStartTransaction(id_token={"id_token": "R1", "type": "Central"}, remote_start_id=9)
        )
        assert answer.status == "Accepted"
        await wait_for(lambda: events(behaviour))
        started = events(behaviour)[0]
        assert started["transaction_info"]["remote_start_id"] == 9
        stop = await csms.call(
            call.RequestStopTransaction(transaction_id=started["transaction_info"]["transaction_id"])
        )
        assert stop.status == "Accepted"
        await wait_for(lambda: any(e["event_type"] == "Ended" for e in events(behaviour)))
        report = await csms.call(call.GetBaseReport(request_id=3, report_base="FullInventory"))
        assert report.status == "Accepted"
        await wait_for(lambda: any(not p.get("tbc") for p in behaviour.of("NotifyReport")))
        parts = behaviour.of("NotifyReport")
        assert [p["seq_no"] for p in parts] == list(range(len(parts)))


async def test_B05_variables_persist_across_restart(tmp_path: Path) -> None:
    database = tmp_path / "station.db"
    behaviour = CsmsBehaviour()
    variable = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    async with peer_csms(behaviour) as url:
        async with running_station(url, database):
            await wait_for(lambda: behaviour.of("StatusNotification"))
            answer = await behaviour.stations[-1].call(
                call.SetVariables(set_variable_data=[{**variable, "attribute_value": "77"}])
            )
            assert answer.set_variable_result[0]["attribute_status"] == "Accepted"
        behaviour.boot_interval = 0  # keep the stored interval this time
        async with running_station(url, database):
            await wait_for(
                lambda: len(behaviour.stations) == 2 and len(behaviour.of("StatusNotification")) == 2
            )
            answer = await behaviour.stations[-1].call(call.GetVariables(get_variable_data=[variable]))
            assert answer.get_variable_result[0]["attribute_value"] == "77"


async def test_B11_reset_reboots_with_remote_reset_reason() -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url, running_station(url):
        await wait_for(lambda: behaviour.of("StatusNotification"))
        answer = await behaviour.stations[0].call(call.Reset(type="Immediate"))
        assert answer.status == "Accepted"
        await wait_for(lambda: len(behaviour.of("BootNotification")) == 2)
        assert behaviour.of("BootNotification")[1]["reason"] == "RemoteReset"


async def test_B12_immediate_reset_delivers_ended_before_the_reboot_and_senses_the_ev_after_it() -> None:
    # TC_B_22_CS: Ended (ResetCommand) before the new BootNotification; the EV still plugged in: Occupied
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url, running_station(url) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        station.plug(1)
        station.present_token("CARD22")
        await wait_for(lambda: events(behaviour))
        answer = await behaviour.stations[-1].call(call.Reset(type="Immediate"))
        assert answer.status == "Accepted"
        await wait_for(lambda: len(behaviour.of("BootNotification")) == 2)
        await wait_for(lambda: behaviour.of("StatusNotification")[-1]["connector_status"] == "Occupied")
        actions = behaviour.actions()
        second_boot = [i for i, a in enumerate(actions) if a == "BootNotification"][1]
        ended = [
            i
            for i, (a, p) in enumerate(behaviour.received)
            if a == "TransactionEvent" and p["event_type"] == "Ended"
        ]
        assert ended
        assert ended[0] < second_boot


async def test_ocpp21_session_same_code_path() -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour, "ocpp2.1") as url, running_station(url, version=Version.V21) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        station.plug(1)
        station.present_token("CARD21")
        await wait_for(lambda: events(behaviour))
        station.unplug(1)
        await wait_for(lambda: any(e["event_type"] == "Ended" for e in events(behaviour)))
        assert events(behaviour)[0]["id_token"]["id_token"] == "CARD21"


async def test_ocpp16_session_and_offline_replay(tmp_path: Path) -> None:
    database = tmp_path / "cp16.db"
    behaviour = CsmsBehaviour()
    variables = {("AuthCtrlr", "OfflineTxForUnknownIdEnabled", None): "true"}
    async with peer_central_system16(behaviour) as url:
        async with running_station(
            url, database, version=Version.V16, backoff=BackOffSettings(60.0, 0.0, 1), variables=variables
        ) as station:
            await wait_for(lambda: behaviour.of("StatusNotification"))
            station.plug(1)
            station.present_token("TAG16")
            await wait_for(lambda: behaviour.of("StartTransaction"))
            await asyncio.sleep(0.2)
            await station.go_offline()
            await wait_for(lambda: not station.connected.is_set())
            station.unplug(1)  # StopTransaction waits in the queue
            station.plug(1)
            station.present_token("TAG16B")  # a whole offline transaction
            await asyncio.sleep(0.1)
            station.unplug(1)
        async with running_station(url, database, version=Version.V16):
            await wait_for(lambda: len(behaviour.of("StopTransaction")) == 2)
        starts = behaviour.of("StartTransaction")
        stops = behaviour.of("StopTransaction")
        assert [s["id_tag"] for s in starts] == ["TAG16", "TAG16B"]
        assert [s["transaction_id"] for s in stops] == [501, 502]  # local id rewritten to the CS's id
        assert stops[0]["meter_stop"] >= starts[0]["meter_start"]


def test_latency_percentiles_are_interpolated_and_max_is_exact() -> None:
    narrow = LatencyHistogram()  # a spread sample inside one 8 % bucket: p90 was its upper bound, = max
    for i in range(1000):
        narrow.add(0.0050 + 0.0003 * i / 999)
    p50, p90, top = narrow.percentile(0.5), narrow.percentile(0.9), narrow.percentile(1.0)
    assert p50 is not None
    assert p90 is not None
    assert top == 0.0050 + 0.0003  # the largest value itself
    assert p50 < p90 < top

    wide = LatencyHistogram()  # 1 ms ... 1000 ms
    for ms in range(1, 1001):
        wide.add(ms / 1000)
    for fraction in (0.5, 0.9, 0.99):
        value = wide.percentile(fraction)
        assert value is not None
        assert abs(value - fraction) <= 0.08 * fraction, (fraction, value)
    assert wide.percentile(1.0) == 1.0
    assert LatencyHistogram().percentile(0.5) is None


class _UploadServer:
    """A log store on loopback (stdlib HTTP server in a thread): records each upload, answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        store = self
        self.status = status
        self.received: list[tuple[str, bytes]] = []  # (content type, body)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                store.received.append((self.headers.get("Content-Type", ""), body))
                self.send_response(store.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/logs"

    def __enter__(self) -> _UploadServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_N01_the_runtime_uploads_the_log_as_multipart_and_reports_it() -> None:
    behaviour = CsmsBehaviour()
    with _UploadServer() as store:
        async with peer_csms(behaviour) as url, running_station(url):
            await wait_for(lambda: behaviour.of("StatusNotification"))
            answer = await behaviour.stations[0].call(
                call.GetLog(log={"remote_location": store.url}, log_type="DiagnosticsLog", request_id=11)
            )
            assert answer.status == "Accepted"
            await wait_for(lambda: len(behaviour.of("LogStatusNotification")) == 2)
    assert [(p["status"], p["request_id"]) for p in behaviour.of("LogStatusNotification")] == [
        ("Uploading", 11),
        ("Uploaded", 11),
    ]
    [(content_type, body)] = store.received
    assert content_type.startswith("multipart/form-data")
    assert f'filename="{answer.filename}"'.encode() in body  # N01.FR.19
    assert b'"ocppVersion": "2.0.1"' in body


async def test_N01_FR_10_an_upload_the_store_refuses_is_reported_after_the_retries() -> None:
    behaviour = CsmsBehaviour()
    with _UploadServer(status=500) as store:
        async with peer_csms(behaviour) as url, running_station(url):
            await wait_for(lambda: behaviour.of("StatusNotification"))
            await behaviour.stations[0].call(
                call.GetLog(
                    log={"remote_location": store.url},
                    log_type="SecurityLog",
                    request_id=12,
                    retries=1,
                    retry_interval=1,
                )
            )
            await wait_for(
                lambda: any(p["status"] == "UploadFailure" for p in behaviour.of("LogStatusNotification"))
            )
    assert [p["status"] for p in behaviour.of("LogStatusNotification")] == [
        "Uploading",
        "Uploading",
        "UploadFailure",
    ]
    assert len(store.received) == 2


async def test_B09_B10_the_station_migrates_to_a_new_csms_and_falls_back_when_it_is_gone() -> None:
    first, second = CsmsBehaviour(), CsmsBehaviour()
    async with peer_csms(first) as url1, peer_csms(second) as url2, running_station(url1) as station:
        await wait_for(lambda: first.of("StatusNotification"))
        csms = first.stations[0]
        answer = await csms.call(
            call.SetNetworkProfile(
                configuration_slot=1,
                connection_data={
                    "ocpp_version": "OCPP20",
                    "ocpp_transport": "JSON",
                    "ocpp_csms_url": url2,
                    "message_timeout": 30,
                    "security_profile": 1,
                    "ocpp_interface": "Wired0",
                },
            )
        )
        assert answer.status == "Accepted"
        priority = {
            "component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": "NetworkConfigurationPriority"},
            "attribute_value": "1,0",
        }
        result = await csms.call(call.SetVariables(set_variable_data=[priority]))
        assert result.set_variable_result[0]["attribute_status"] == "RebootRequired"
        assert (await csms.call(call.Reset(type="OnIdle"))).status == "Accepted"
        await wait_for(lambda: second.of("BootNotification"))  # B10: the new CSMS, after the reboot
        assert station.client is not None
        assert station.client.uri.startswith(url2)
    assert len(first.of("BootNotification")) == 1


async def test_B10_FR_07_all_attempts_on_the_new_profile_fail_back_to_the_last_good_one(
    tmp_path: Path,
) -> None:
    behaviour = CsmsBehaviour()
    database = tmp_path / "station.db"
    async with peer_csms(behaviour) as url:
        async with running_station(url, database) as station:
            await wait_for(lambda: behaviour.of("StatusNotification"))
            csms = behaviour.stations[0]
            dead = "ws://127.0.0.1:9/ocpp"  # the discard port: nobody listens
            data = {
                "ocpp_version": "OCPP20",
                "ocpp_transport": "JSON",
                "ocpp_csms_url": dead,
                "message_timeout": 30,
                "security_profile": 1,
                "ocpp_interface": "Wired0",
            }
            await csms.call(call.SetNetworkProfile(configuration_slot=1, connection_data=data))
            settings = [
                ("NetworkConfigurationPriority", "1,0"),
                ("NetworkProfileConnectionAttempts", "1"),
            ]
            items = [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": n}, "attribute_value": v}
                for n, v in settings
            ]
            await csms.call(call.SetVariables(set_variable_data=items))
            await csms.call(call.Reset(type="OnIdle"))
            await wait_for(lambda: len(behaviour.of("BootNotification")) == 2, within=10)
            assert station.client is not None
            assert station.client.uri.startswith(url)  # back on the factory profile


async def test_O01_O04_display_messages_from_an_ocpp_package_csms_survive_a_restart(tmp_path: Path) -> None:
    """O01.FR.10: the messages are in the station's database; O04: the report reaches the CSMS."""
    database = tmp_path / "display.db"
    message = {"id": 5, "priority": "InFront", "message": {"format": "UTF8", "content": "Welcome"}}
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url:
        async with running_station(url, database) as station:
            await wait_for(lambda: behaviour.of("StatusNotification"))
            answer = await behaviour.stations[-1].call(call.SetDisplayMessage(message=message))
            assert answer.status == "Accepted"
            assert station.hardware.display.text == "Welcome"
        async with running_station(url, database):
            await wait_for(lambda: len(behaviour.of("BootNotification")) == 2)
            answer = await behaviour.stations[-1].call(call.GetDisplayMessages(request_id=8, id=[5]))
            assert answer.status == "Accepted"
            await wait_for(lambda: behaviour.of("NotifyDisplayMessages"))
            cleared = await behaviour.stations[-1].call(call.ClearDisplayMessage(id=5))
            assert cleared.status == "Accepted"
    [report] = behaviour.of("NotifyDisplayMessages")
    assert report["request_id"] == 8
    assert [(m["id"], m["message"]["content"]) for m in report["message_info"]] == [(5, "Welcome")]

"""Log retrieval on the station (N01; 1.6 GetDiagnostics and the security extension's GetLog): the file, the
upload actions the runtime performs, the status notifications, retries and cancellation."""

from __future__ import annotations

import json

from chargeplane.ocpp.messages import v201
from chargeplane.station.core.model import CancelUpload, UploadLog
from tests.station.core.helpers import M16, M, make_rig, rig16

D = v201.datatypes
LOCATION = "http://127.0.0.1:8080/api/v1/uploads/abc"


def get_log(request_id: int, log_type: str = "DiagnosticsLog", **fields: object) -> M.GetLogRequest:
    return M.GetLogRequest(
        log=D.LogParametersType(remote_location=str(fields.pop("location", LOCATION))),
        log_type=log_type,
        request_id=request_id,
        **fields,  # type: ignore[arg-type]
    )


def statuses(rig: object) -> list[tuple[str, int | None]]:
    sent = rig.of(M.LogStatusNotificationRequest)  # type: ignore[attr-defined]
    return [(m.status, m.request_id if isinstance(m.request_id, int) else None) for m in sent]


def uploads(rig: object) -> list[UploadLog]:
    return [a for a in rig.actions if isinstance(a, UploadLog)]  # type: ignore[attr-defined]


def test_N01_FR_01_02_08_09_accepted_uploaded_with_the_request_id() -> None:
    rig = make_rig()
    rig.clear()
    answer = rig.handle(get_log(7))
    assert answer.status == "Accepted"
    assert answer.filename.endswith(".log")
    [upload] = uploads(rig)
    assert (upload.location, upload.filename) == (LOCATION, answer.filename)
    lines = [json.loads(line) for line in upload.content.decode().splitlines()]
    assert lines[0]["ocppVersion"] == "2.0.1"
    assert any(line.get("variable") == "HeartbeatInterval" for line in lines)  # the device model snapshot
    assert not any(line.get("variable") == "BasicAuthPassword" for line in lines)  # WriteOnly stays out
    assert statuses(rig) == [("Uploading", 7)]
    rig.do("upload_finished", upload.upload_id, True)
    assert statuses(rig) == [("Uploading", 7), ("Uploaded", 7)]


def test_N01_FR_10_retries_then_one_failure() -> None:
    rig = make_rig()
    rig.clear()
    rig.handle(get_log(8, retries=1, retry_interval=30))
    first = uploads(rig)[-1]
    rig.do("upload_finished", first.upload_id, False)
    assert statuses(rig) == [("Uploading", 8)]  # the failure waits for the last attempt
    rig.advance(29)
    assert len(uploads(rig)) == 1
    rig.advance(2)
    second = uploads(rig)[-1]
    assert second.upload_id == first.upload_id
    rig.do("upload_finished", second.upload_id, False)
    assert statuses(rig) == [("Uploading", 8), ("Uploading", 8), ("UploadFailure", 8)]


def test_N01_FR_12_20_a_new_request_cancels_the_running_upload() -> None:
    rig = make_rig()
    rig.clear()
    rig.handle(get_log(1))
    old = uploads(rig)[-1]
    answer = rig.handle(get_log(2, "SecurityLog"))
    assert answer.status == "AcceptedCanceled"
    assert CancelUpload(old.upload_id) in rig.actions
    rig.do("upload_finished", old.upload_id, True)  # the canceled attempt's late outcome: ignored
    assert statuses(rig) == [("Uploading", 1), ("AcceptedCanceled", 1), ("Uploading", 2)]


def test_N01_FR_03_the_security_log_holds_the_reported_events_in_the_window() -> None:
    rig = make_rig()  # the boot reported StartupOfTheDevice
    rig.clear()
    rig.handle(get_log(3, "SecurityLog"))
    [upload] = uploads(rig)
    assert [json.loads(line)["type"] for line in upload.content.decode().splitlines()] == [
        "StartupOfTheDevice"
    ]
    request = M.GetLogRequest(
        log=D.LogParametersType(remote_location=LOCATION, oldest_timestamp="2030-01-01T00:00:00Z"),
        log_type="SecurityLog",
        request_id=4,
    )
    rig.handle(request)
    assert uploads(rig)[-1].content == b""


def test_N01_FR_05_a_location_the_station_cannot_upload_to_is_rejected() -> None:
    rig = make_rig()
    rig.clear()
    answer = rig.handle(get_log(5, location="ftp://logs.example/in"))
    assert answer.status == "Rejected"
    assert uploads(rig) == []
    assert statuses(rig) == []


def test_N01_FR_13_triggered_status_idle_without_id_uploading_with_it() -> None:
    rig = make_rig()
    rig.clear()
    trigger = M.TriggerMessageRequest(requested_message="LogStatusNotification")
    assert rig.handle(trigger).status == "Accepted"
    assert statuses(rig) == [("Idle", None)]
    rig.handle(get_log(9))
    rig.handle(trigger)
    assert statuses(rig)[-1] == ("Uploading", 9)


def test_ocpp16_get_diagnostics_reports_with_diagnostics_status_notification() -> None:
    rig = rig16()
    rig.clear()
    answer = rig.handle(M16.GetDiagnosticsRequest(location=LOCATION, retries=0))
    assert answer.file_name.endswith(".log")
    [upload] = uploads(rig)
    rig.do("upload_finished", upload.upload_id, False)
    assert [m.status for m in rig.of(M16.DiagnosticsStatusNotificationRequest)] == [
        "Uploading",
        "UploadFailed",
    ]


def test_ocpp16_get_diagnostics_without_a_usable_location_names_no_file() -> None:
    rig = rig16()
    answer = rig.handle(M16.GetDiagnosticsRequest(location="ftp://logs.example/in"))
    assert not isinstance(answer.file_name, str)
    trigger = M16.TriggerMessageRequest(requested_message="DiagnosticsStatusNotification")
    assert rig.handle(trigger).status == "Accepted"
    assert [m.status for m in rig.of(M16.DiagnosticsStatusNotificationRequest)][-1] == "Idle"

"""Publish / unpublish firmware on a station acting as a Local Controller (L03, L04): the download, the MD5
check, the publication the runtime performs and the PublishFirmwareStatusNotifications."""

from __future__ import annotations

import hashlib

from chargeplane.station.core.model import DownloadFirmware, PublishFile, UnpublishFile
from tests.station.core.helpers import M, Rig, make_rig

LOCATION = "http://127.0.0.1:8080/firmware/fw.bin"
IMAGE = b"CHARGEPLANE-SIM-FIRMWARE 9.9\n" + bytes(range(256))
MD5 = hashlib.md5(IMAGE, usedforsecurity=False).hexdigest()
URL = "http://127.0.0.1:9999/firmware/x.bin"


def publish(request_id: int, checksum: str = MD5, **fields: int) -> M.PublishFirmwareRequest:
    return M.PublishFirmwareRequest(location=LOCATION, checksum=checksum, request_id=request_id, **fields)


def statuses(rig: Rig) -> list[tuple[str, int | None]]:
    sent = rig.of(M.PublishFirmwareStatusNotificationRequest)
    return [(m.status, m.request_id if isinstance(m.request_id, int) else None) for m in sent]


def last_download(rig: Rig) -> DownloadFirmware:
    return [a for a in rig.actions if isinstance(a, DownloadFirmware)][-1]


def publishing(rig: Rig) -> Rig:
    rig.clear()
    assert rig.handle(publish(31)).status == "Accepted"
    download = last_download(rig)
    assert (download.location, download.purpose) == (LOCATION, "publish")
    rig.do("download_finished", download.download_id, IMAGE, purpose="publish")
    return rig


def test_L03_FR_01_02_04_09_download_verify_and_publish_with_the_uris() -> None:
    rig = publishing(make_rig())
    [action] = [a for a in rig.actions if isinstance(a, PublishFile)]
    assert (action.checksum, action.content) == (MD5, IMAGE)
    rig.do("publish_finished", MD5, [URL])
    assert statuses(rig) == [
        ("Downloading", 31),
        ("Downloaded", 31),
        ("ChecksumVerified", 31),
        ("Published", 31),
    ]
    assert rig.of(M.PublishFirmwareStatusNotificationRequest)[-1].location == [URL]
    # L03.FR.10: after Published a trigger gets Idle
    rig.clear()
    rig.handle(M.TriggerMessageRequest(requested_message="PublishFirmwareStatusNotification"))
    assert statuses(rig) == [("Idle", None)]


def test_L03_FR_07_a_wrong_checksum_is_invalid_and_not_published() -> None:
    rig = make_rig()
    rig.clear()
    rig.handle(publish(32, checksum="0" * 32))
    rig.do("download_finished", last_download(rig).download_id, IMAGE, purpose="publish")
    assert statuses(rig)[-1] == ("InvalidChecksum", 32)
    assert not any(isinstance(a, PublishFile) for a in rig.actions)
    rig.clear()  # L03.FR.11: a trigger gets the last status
    rig.handle(M.TriggerMessageRequest(requested_message="PublishFirmwareStatusNotification"))
    assert statuses(rig) == [("InvalidChecksum", 32)]


def test_L03_FR_06_08_download_failed_after_the_retries_and_publish_failed() -> None:
    rig = make_rig()
    rig.clear()
    rig.handle(publish(33, retries=1, retry_interval=10))
    rig.do("download_finished", last_download(rig).download_id, None, purpose="publish")
    rig.advance(11)
    rig.do("download_finished", last_download(rig).download_id, None, purpose="publish")
    assert statuses(rig) == [("Downloading", 33), ("Downloading", 33), ("DownloadFailed", 33)]
    rig = publishing(rig)
    rig.do("publish_finished", MD5, None)
    assert statuses(rig)[-1] == ("PublishFailed", 31)


def test_L03_one_download_at_a_time_and_a_bad_request_is_rejected() -> None:
    rig = make_rig()
    assert rig.handle(publish(1)).status == "Accepted"
    assert rig.handle(publish(2)).status == "Rejected"
    assert rig.handle(M.PublishFirmwareRequest(location="ftp://x/y", checksum=MD5, request_id=3)).status == (
        "Rejected"
    )


def test_L04_FR_01_02_03_04_unpublish() -> None:
    rig = make_rig()
    rig.handle(publish(41))
    assert rig.handle(M.UnpublishFirmwareRequest(checksum=MD5)).status == "DownloadOngoing"  # L04.FR.04
    rig.do("download_finished", last_download(rig).download_id, IMAGE, purpose="publish")
    rig.do("publish_finished", MD5, [URL])
    rig.clear()
    assert rig.handle(M.UnpublishFirmwareRequest(checksum=MD5.upper())).status == "Unpublished"
    assert UnpublishFile(MD5) in rig.actions
    assert rig.handle(M.UnpublishFirmwareRequest(checksum=MD5)).status == "NoFirmware"  # L04.FR.03

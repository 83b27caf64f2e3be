"""``chargeplane firmware signing-key show|import``: the key on its files, mode 0600."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from chargeplane.cli import main
from chargeplane.csms.blocks.firmware.signing import SigningKeys


def test_show_makes_the_key_on_first_use_and_prints_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHARGEPLANE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHARGEPLANE_FIRMWARE_SIGNING_KEY_TYPE", "ecdsa-p256")
    assert main(["firmware", "signing-key", "show"]) == 0
    out = capsys.readouterr().out
    assert "ECDSA-SHA256" in out
    assert "made by this CSMS" in out
    directory = tmp_path / "csms" / "firmware-signing"
    assert {p.name for p in directory.iterdir()} == {
        "signing-key.pem",
        "signing-cert.pem",
        "root-cert.pem",
        "root-key.pem",
    }
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in directory.iterdir())
    assert main(["firmware", "signing-key", "show", "--pem", "root"]) == 0
    root = x509.load_pem_x509_certificate(capsys.readouterr().out.encode())
    assert root == x509.load_pem_x509_certificate((directory / "root-cert.pem").read_bytes())


def test_import_takes_a_matching_key_and_refuses_one_that_does_not_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHARGEPLANE_FIRMWARE_SIGNING_DIR", str(tmp_path / "keys"))
    made = SigningKeys(tmp_path / "vendor", "rsa-2048", "Vendor").create()
    other = SigningKeys(tmp_path / "other", "rsa-2048", "Other").create()
    key = tmp_path / "key.pem"
    key.write_bytes(
        made.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    certificate, root, wrong = tmp_path / "cert.pem", tmp_path / "root.pem", tmp_path / "wrong.pem"
    certificate.write_text(made.certificate_pem)
    root.write_text(made.root_pem)
    wrong.write_text(other.certificate_pem)
    refused = ["firmware", "signing-key", "import", "--key", str(key), "--certificate", str(wrong)]
    assert main([*refused, "--root", str(root)]) == 2
    assert "does not belong" in capsys.readouterr().err
    command = ["firmware", "signing-key", "import", "--key", str(key), "--certificate", str(certificate)]
    assert main([*command, "--root", str(root)]) == 0
    assert "imported" in capsys.readouterr().out
    loaded = SigningKeys(tmp_path / "keys", "rsa-2048", "x").load()
    assert loaded is not None
    assert loaded.certificate_pem == made.certificate_pem
    assert not loaded.generated
    assert stat.S_IMODE((tmp_path / "keys" / "signing-key.pem").stat().st_mode) == 0o600

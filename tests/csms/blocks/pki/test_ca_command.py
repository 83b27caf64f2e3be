"""``chargeplane ca``: init, issue (with the CSR checks), revoke, list, import, on a data directory and an SQLite
database."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509

from chargeplane.cli import main
from tests.csms.blocks.pki.test_pki import make_csr


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHARGEPLANE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHARGEPLANE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}")
    return tmp_path / "data"


def test_ca_init_issue_revoke_list(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "ca", "init", "--organisation", "Acme", "--algorithm", "rsa2048")
    assert code == 0
    station_dir = data_dir / "csms" / "ca" / "station"
    assert "Acme" in out
    for name in ("root.key", "sub.key"):  # the private keys: owner only
        assert stat.S_IMODE((station_dir / name).stat().st_mode) == 0o600
    code, _, err = run(capsys, "ca", "init", "--organisation", "Acme")
    assert code == 1
    assert "holds a CA already" in err

    csr = tmp_path / "cs1.csr"
    csr.write_text(make_csr("CS1", "Acme"))
    code, chain_pem, err = run(capsys, "ca", "issue", str(csr), "--station", "CS1")
    assert code == 0
    leaf, sub = x509.load_pem_x509_certificates(chain_pem.encode())
    leaf.verify_directly_issued_by(sub)
    serial = format(leaf.serial_number, "x")
    assert serial in err

    wrong = tmp_path / "wrong.csr"
    wrong.write_text(make_csr("CS1", "Someone Else"))  # A00.FR.509: O must be the operator's
    code, _, err = run(capsys, "ca", "issue", str(wrong), "--station", "CS1")
    assert code == 1
    assert "organisation" in err
    code, _, err = run(capsys, "ca", "issue", str(csr), "--station", "CS2")  # CN is not the station's
    assert code == 1
    assert "CN" in err

    code, listed, _ = run(capsys, "ca", "list")
    assert code == 0
    assert listed.split("\t")[:3] == ["station", serial, "issued"]
    code, out, _ = run(capsys, "ca", "revoke", serial, "--reason", "keyCompromise")
    assert (code, out.strip()) == (0, f"revoked station {serial} (keyCompromise)")
    assert run(capsys, "ca", "list", "--station", "cs1")[1].split("\t")[2] == "revoked"
    # the development MO CA issues contract certificates (CN: the eMAID, O: the MO's)
    assert run(capsys, "ca", "init", "--kind", "mo", "--organisation", "Acme MO")[0] == 0
    contract = tmp_path / "contract.csr"
    contract.write_text(make_csr("NLACME0000001", "Acme MO"))
    code, chain_pem, _ = run(capsys, "ca", "issue", str(contract), "--type", "ContractCertificate")
    assert code == 0
    leaf, mo_sub = x509.load_pem_x509_certificates(chain_pem.encode())
    assert "NLACME0000001" in leaf.subject.rfc4514_string()
    assert "mo" in mo_sub.subject.rfc4514_string()
    code, _, err = run(capsys, "ca", "revoke", "abcdef")
    assert code == 1
    assert "no station certificate" in err


def test_ca_import_and_issue_without_ca(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csr = tmp_path / "cs1.csr"
    csr.write_text(make_csr("CS1", "Acme"))
    code, _, err = run(capsys, "ca", "issue", str(csr))
    assert code == 1
    assert "ca init" in err
    # an existing CA (made elsewhere) is imported with its key
    made = tmp_path / "elsewhere"
    assert run(capsys, "ca", "init", "--kind", "v2g", "--organisation", "Acme")[0] == 0
    v2g = data_dir / "csms" / "ca" / "v2g"
    made.mkdir()
    for name in ("root.pem", "sub.pem", "sub.key"):
        (made / name).write_bytes((v2g / name).read_bytes())
    args = ["--root", str(made / "root.pem"), "--sub", str(made / "sub.pem"), "--key", str(made / "sub.key")]
    code, out, _ = run(capsys, "ca", "import", *args)
    assert code == 0
    assert "sub-CA" in out
    code, chain_pem, _ = run(capsys, "ca", "issue", str(csr), "--station", "CS1")
    assert code == 0
    assert x509.load_pem_x509_certificates(chain_pem.encode())[1] == x509.load_pem_x509_certificate(
        (made / "sub.pem").read_bytes()
    )
    bad_key = [
        "--root",
        str(made / "root.pem"),
        "--sub",
        str(made / "root.pem"),
        "--key",
        str(made / "sub.key"),
    ]
    code, _, err = run(capsys, "ca", "import", "--kind", "v2g", *bad_key)
    assert code == 1
    assert "holds a CA already" in err

"""The ``chargeplane ca`` command: the CSMS's certificate authority, on its CA directory and database directly
(wired into :mod:`chargeplane.cli`), whether the CSMS runs or not.

``init`` makes a root and a sub-CA (``--kind station``: the operator's CA for station certificates; ``--kind
v2g``: a V2G root and CPO sub-CA for V2G certificates), ``import`` takes an existing sub-CA with its key and
root, ``issue`` signs a CSR file after the same checks as SignCertificate (the certificate is recorded and
printed as a chain, leaf first), ``revoke`` revokes by serial (CRL and OCSP answer it from then on), ``list``
shows what the CA issued. Private keys are written with mode 0600 and never printed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from chargeplane.csms.blocks.pki.repository import PkiRepository
from chargeplane.csms.blocks.pki.service import ISSUED_BY, KINDS, REASONS, PkiService, pem_of
from chargeplane.csms.blocks.pki.settings import PkiSettings
from chargeplane.csms.clock import SystemClock, utc_now
from chargeplane.csms.errors import Conflict, Invalid, NotFound
from chargeplane.csms.settings import CsmsSettings
from chargeplane.csms.storage.engine import create_engine
from chargeplane.csms.storage.group_commit import GroupCommitter
from chargeplane.csms.storage.migrate import migrate
from chargeplane.pki.ca import KEY_ALGORITHMS, CaError, CertificateAuthority, CsrRefused, check_csr


def add_ca_command(commands: Any, add_settings_options: Any) -> None:
    ca = commands.add_parser(
        "ca",
        help="the CSMS's certificate authority: init, import, issue, revoke, list",
        description="The built-in CA, in the PKI block's ca_dir (CHARGEPLANE_PKI_CA_DIR; the same --config as "
        "serve) and the CSMS's database.",
    )
    add_settings_options(ca)
    actions = ca.add_subparsers(dest="ca_action", required=True)
    init = actions.add_parser("init", help="make a new root and sub-CA")
    init.add_argument("--kind", choices=KINDS, default="station", help="station (default), v2g or mo")
    init.add_argument("--organisation", help="the O of the CA (default: the pki organisation setting)")
    init.add_argument("--algorithm", choices=KEY_ALGORITHMS, default="ec-p256", help="default ec-p256")
    init.add_argument("--name", help="the start of the CAs' common names (default: Chargeplane and the kind)")
    imported = actions.add_parser("import", help="take an existing sub-CA (certificate, key) and its root")
    imported.add_argument("--kind", choices=KINDS, default="station")
    imported.add_argument("--root", type=Path, required=True, help="the root certificate (PEM)")
    imported.add_argument("--sub", type=Path, required=True, help="the sub-CA certificate (PEM)")
    imported.add_argument(
        "--key", type=Path, required=True, help="the sub-CA's private key (PEM, unencrypted)"
    )
    issue = actions.add_parser("issue", help="sign a CSR file (checked as a SignCertificate is)")
    issue.add_argument("csr", type=Path, help="the PKCS#10 request (PEM)")
    issue.add_argument(
        "--station", help="the station it is for: the CN of a station certificate must be its identity"
    )
    issue.add_argument(
        "--type", choices=sorted(ISSUED_BY), default="ChargingStationCertificate", dest="certificate_type"
    )
    issue.add_argument("--out", type=Path, help="write the chain here instead of standard output")
    revoke = actions.add_parser("revoke", help="revoke a certificate the CA issued")
    revoke.add_argument("serial", help="its serial number (hex)")
    revoke.add_argument("--kind", choices=KINDS, default="station")
    revoke.add_argument("--reason", choices=sorted(REASONS), default="unspecified")
    listing = actions.add_parser("list", help="the certificates the CA issued, newest first")
    listing.add_argument("--station", help="of this station only")


def _base_url(settings: CsmsSettings, pki: PkiSettings) -> str:
    if pki.public_url is not None:
        return pki.public_url
    host = settings.api_host if settings.api_host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    return f"http://{host}:{settings.api_port}"


async def run_ca_command(args: argparse.Namespace, settings: CsmsSettings) -> int:
    pki = settings.block(PkiSettings)
    directory = pki.directory()
    try:
        if args.ca_action == "init":
            organisation = args.organisation or pki.organisation
            if not organisation:
                print(
                    "chargeplane ca init: give --organisation (or the pki organisation setting)",
                    file=sys.stderr,
                )
                return 2
            ca = CertificateAuthority.init(
                directory / args.kind,
                organisation,
                algorithm=args.algorithm,
                name=args.name or f"Chargeplane {args.kind}",
                now=utc_now(),
            )
            print(f"{args.kind} CA in {ca.directory}: root {ca.root.subject.rfc4514_string()}")
            return 0
        if args.ca_action == "import":
            ca = CertificateAuthority.import_files(directory / args.kind, args.root, args.sub, args.key)
            print(f"{args.kind} CA in {ca.directory}: sub-CA {ca.sub.subject.rfc4514_string()}")
            return 0
    except CaError as error:
        print(f"chargeplane ca {args.ca_action}: {error}", file=sys.stderr)
        return 1
    logging.getLogger("alembic").setLevel(logging.WARNING)
    engine = create_engine(settings.database_url)
    committer = GroupCommitter(engine)
    try:
        await migrate(engine)
        service = PkiService(
            PkiRepository(engine, committer), None, pki, lambda: _base_url(settings, pki), None, SystemClock()
        )
        return await _with_database(args, service)
    except (CaError, CsrRefused, Conflict, Invalid, NotFound) as error:
        print(f"chargeplane ca {args.ca_action}: {error}", file=sys.stderr)
        return 1
    finally:
        committer.close()
        await engine.dispose()


async def _with_database(args: argparse.Namespace, service: PkiService) -> int:
    if args.ca_action == "issue":
        kind = ISSUED_BY[args.certificate_type]
        service.require_authority(kind)
        csr = check_csr(args.csr.read_text(), service.policy(kind, args.station))
        _, chain = await service.issue(csr, kind, args.certificate_type, args.station, "cli")
        text = "".join(pem_of(c) for c in chain)
        if args.out is not None:
            args.out.write_text(text)
        else:
            sys.stdout.write(text)
        print(f"issued serial {format(chain[0].serial_number, 'x')}", file=sys.stderr)
        return 0
    if args.ca_action == "revoke":
        record = await service.revoke(args.kind, args.serial, args.reason)
        print(f"revoked {record.kind} {record.serial} ({record.revocation_reason})")
        return 0
    records, _ = await service.repository.certificates(args.station, 0, 10_000)
    for r in records:
        until = r.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
        print(
            f"{r.kind}\t{r.serial}\t{r.status}\t{until}\t{r.station_key or '-'}\t{r.certificate_type}\t{r.subject}"
        )
    return 0

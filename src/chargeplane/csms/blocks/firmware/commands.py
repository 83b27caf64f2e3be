"""The ``chargeplane firmware signing-key show|import`` command: the firmware signing key on its files directly
(wired into :mod:`chargeplane.cli`). A running CSMS reads the key at each upload, so an import applies from the
next image on."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from chargeplane.csms.blocks.firmware.settings import FirmwareSettings
from chargeplane.csms.blocks.firmware.signing import KeyInfo, SigningKeyInvalid, SigningKeys
from chargeplane.csms.settings import CsmsSettings


def add_firmware_command(commands: Any, add_settings_options: Any) -> None:
    firmware = commands.add_parser(
        "firmware",
        help="the firmware signing key (show, import)",
        description="The key that signs uploaded firmware images, in the firmware block's signing_dir (the same "
        "--config / CHARGEPLANE_FIRMWARE_* as serve). Files are written with mode 0600.",
    )
    add_settings_options(firmware)
    what = firmware.add_subparsers(dest="firmware_what", required=True)
    key = what.add_parser("signing-key", help="show or import the firmware signing key")
    actions = key.add_subparsers(dest="firmware_action", required=True)
    show = actions.add_parser(
        "show", help="the key's certificate details (the key is made first when there is none)"
    )
    show.add_argument(
        "--pem",
        choices=["root", "certificate"],
        help="print the root certificate (install it on stations as ManufacturerRootCertificate) or the "
        "signing certificate, PEM",
    )
    imported = actions.add_parser("import", help="replace the key with the operator's (PEM files)")
    imported.add_argument("--key", type=Path, required=True, help="the private key, unencrypted PEM")
    imported.add_argument("--certificate", type=Path, required=True, help="its certificate, PEM")
    imported.add_argument("--root", type=Path, required=True, help="the root certificate that issued it, PEM")


def run_firmware_command(args: argparse.Namespace, settings: CsmsSettings) -> int:
    block = settings.block(FirmwareSettings)
    keys = SigningKeys(block.keys_dir(), block.signing_key_type, block.organization)
    if args.firmware_action == "import":
        try:
            signer = keys.import_key(
                args.key.read_bytes(), args.certificate.read_bytes(), args.root.read_bytes()
            )
        except (OSError, SigningKeyInvalid) as error:
            print(f"chargeplane firmware: {error}", file=sys.stderr)
            return 2
        _print(signer.info(), keys.directory)
        return 0
    info = keys.load_or_create().info()
    if args.pem == "root":
        print(info.root_certificate, end="")
    elif args.pem == "certificate":
        print(info.certificate, end="")
    else:
        _print(info, keys.directory)
    return 0


def _print(info: KeyInfo, directory: Path) -> None:
    origin = "made by this CSMS" if info.generated else "imported"
    print(f"algorithm    {info.algorithm}")
    print(f"subject      {info.subject}")
    print(f"issuer       {info.issuer}")
    print(f"serial       {info.serial_number}")
    print(f"not after    {info.not_after.isoformat()}")
    print(f"sha256       {info.sha256_fingerprint}")
    print(f"key          {origin}, in {directory}")

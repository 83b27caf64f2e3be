"""Settings of the firmware block (``CHARGEPLANE_FIRMWARE_*``): where images and the signing key live, how
large an image may be, how the download URLs handed to stations are made and how often campaigns move on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from typing_extensions import Doc

from chargeplane.csms.blocks.diagnostics.settings import default_files_dir
from chargeplane.csms.settings import SettingsError

MIB = 1024 * 1024
KEY_TYPES = ("rsa-2048", "ecdsa-p256")


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The CSMS's data directory (``csms`` under $CHARGEPLANE_DATA_DIR, else under the XDG data dir)."""
    return default_files_dir(environ).parent


@dataclass(frozen=True)
class FirmwareSettings:
    files_dir: Annotated[
        Path | None,
        Doc(
            "where uploaded firmware images are stored (default: csms/firmware under the CSMS data directory)"
        ),
    ] = None
    signing_dir: Annotated[
        Path | None,
        Doc(
            "where the firmware signing key, its certificate and the root certificate are kept, files mode "
            "0600 (default: csms/firmware-signing under the CSMS data directory)"
        ),
    ] = None
    signing_key_type: Annotated[
        str,
        Doc(
            "the key made on first use when none was imported: rsa-2048 (signatures RSA-PSS, SHA-256) or "
            "ecdsa-p256 (ECDSA, SHA-256)"
        ),
    ] = "rsa-2048"
    organization: Annotated[str, Doc("the O of the generated root and signing certificates (A00.FR.509)")] = (
        "Chargeplane operator"
    )
    max_image_bytes: Annotated[
        int, Doc("the largest firmware image the API takes, in bytes; a larger one is refused with 413")
    ] = 512 * MIB
    public_url: Annotated[
        str | None,
        Doc(
            "the HTTP API's base URL as stations reach it, put in firmware download URLs; default: the "
            "diagnostics block's (its public_url, else the API's listen address)"
        ),
    ] = None
    download_url_lifetime: Annotated[
        float,
        Doc("seconds a firmware download URL stays valid after the update's retrieveDateTime"),
    ] = 7 * 24 * 3600.0
    campaign_interval: Annotated[float, Doc("seconds between two passes of the rollout campaigns' job")] = 5.0

    def __post_init__(self) -> None:
        if self.signing_key_type not in KEY_TYPES:
            raise SettingsError(f"signing_key_type must be one of {', '.join(KEY_TYPES)}")
        if self.max_image_bytes < 1:
            raise SettingsError("max_image_bytes must be >= 1")
        if self.download_url_lifetime <= 0:
            raise SettingsError("download_url_lifetime must be > 0 seconds")
        if self.campaign_interval <= 0:
            raise SettingsError("campaign_interval must be > 0 seconds")
        if self.public_url is not None and not self.public_url.startswith(("http://", "https://")):
            raise SettingsError("public_url must start with http:// or https://")
        if not self.organization.strip():
            raise SettingsError("organization must not be empty")

    def images_dir(self) -> Path:
        return self.files_dir if self.files_dir is not None else default_data_dir() / "firmware"

    def keys_dir(self) -> Path:
        return self.signing_dir if self.signing_dir is not None else default_data_dir() / "firmware-signing"

"""Settings of the diagnostics block (``CHARGEPLANE_DIAGNOSTICS_*``): where uploaded logs go and how the upload
URLs handed to stations are made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from typing_extensions import Doc

from chargeplane.csms.settings import SettingsError, csms_data_dir

MIB = 1024 * 1024


def default_files_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$CHARGEPLANE_DATA_DIR/csms/uploads``, else ``$XDG_DATA_HOME/chargeplane/csms/uploads``, else
    ``~/.local/share/chargeplane/csms/uploads``."""
    return csms_data_dir(environ) / "uploads"


@dataclass(frozen=True)
class DiagnosticsSettings:
    files_dir: Annotated[
        Path | None,
        Doc(
            "where the logs stations upload are stored (default: csms/uploads under $CHARGEPLANE_DATA_DIR, "
            "else under $XDG_DATA_HOME/chargeplane or ~/.local/share/chargeplane)"
        ),
    ] = None
    max_upload_bytes: Annotated[
        int, Doc("the largest log a station may upload, in bytes; a larger one is refused with 413")
    ] = 50 * MIB
    upload_url_lifetime: Annotated[
        float, Doc("seconds an upload URL stays valid after the log request was sent")
    ] = 3600.0
    public_url: Annotated[
        str | None,
        Doc(
            "the HTTP API's base URL as stations reach it (http://host:port), put in upload URLs; default: "
            "the API's listen address and port (127.0.0.1 when it listens on every address)"
        ),
    ] = None

    def __post_init__(self) -> None:
        if self.max_upload_bytes < 1:
            raise SettingsError("max_upload_bytes must be >= 1")
        if self.upload_url_lifetime <= 0:
            raise SettingsError("upload_url_lifetime must be > 0 seconds")
        if self.public_url is not None and not self.public_url.startswith(("http://", "https://")):
            raise SettingsError("public_url must start with http:// or https://")

    def uploads_dir(self) -> Path:
        return self.files_dir if self.files_dir is not None else default_files_dir()

"""Settings of the authorization block (``CHARGEPLANE_AUTHORIZATION_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from chargeplane.csms.settings import UnknownTokenPolicy


@dataclass(frozen=True)
class AuthorizationSettings:
    unknown_tokens: UnknownTokenPolicy = UnknownTokenPolicy.REJECT
    master_pass_group: str | None = (
        None  # C16: tokens of this group may stop any transaction, never start one
    )

    # The names these settings had before blocks had their own prefix (CHARGEPLANE_UNKNOWN_TOKENS, ...).
    ENV_ALIASES: ClassVar[dict[str, str]] = {
        "UNKNOWN_TOKENS": "unknown_tokens",
        "MASTER_PASS_GROUP": "master_pass_group",
    }

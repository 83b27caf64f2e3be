"""Settings of the authorization block (``CHARGEPLANE_AUTHORIZATION_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from typing_extensions import Doc

from chargeplane.csms.settings import UnknownTokenPolicy


@dataclass(frozen=True)
class AuthorizationSettings:
    unknown_tokens: Annotated[
        UnknownTokenPolicy,
        Doc("id tokens not on record: reject (Unknown / Invalid) or accept (free charging)"),
    ] = UnknownTokenPolicy.REJECT
    master_pass_group: Annotated[
        str | None, Doc("C16: tokens of this group may stop any transaction, never start one")
    ] = None

    # The names these settings had before blocks had their own prefix (CHARGEPLANE_UNKNOWN_TOKENS, ...).
    ENV_ALIASES: ClassVar[dict[str, str]] = {
        "UNKNOWN_TOKENS": "unknown_tokens",
        "MASTER_PASS_GROUP": "master_pass_group",
    }

"""Settings of the authorization block (``CHARGEPLANE_AUTHORIZATION_*``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, ClassVar

from typing_extensions import Doc

from chargeplane.csms.settings import SettingsError, UnknownTokenPolicy

UNLIMITED = 0


def parse_group_limits(text: str) -> dict[str, int]:
    """``"FLEET=0, STAFF=1"``: per group id token (casefolded), how many transactions a token may have at once."""
    limits: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        group, sep, number = part.rpartition("=")
        if not sep or not group.strip() or not number.strip().isdigit():
            raise SettingsError(f"concurrent transaction limit {part!r} is not GROUP=N (N >= 0; 0: no limit)")
        limits[group.strip().casefold()] = int(number)
    return limits


@dataclass(frozen=True)
class AuthorizationSettings:
    unknown_tokens: Annotated[
        UnknownTokenPolicy,
        Doc("id tokens not on record: reject (Unknown / Invalid) or accept (free charging)"),
    ] = UnknownTokenPolicy.REJECT
    master_pass_group: Annotated[
        str | None, Doc("C16: tokens of this group may stop any transaction, never start one")
    ] = None
    # 0 (the default): no limit. A fleet or shared card charging on many connectors at once is normal, and a
    # limit only pays where one card per vehicle is the operator's rule; then it is set per group.
    concurrent_transactions: Annotated[
        int,
        Doc(
            "transactions one id token may have at once, a start beyond is answered ConcurrentTx (0: no limit)"
        ),
    ] = UNLIMITED
    group_concurrent_transactions: Annotated[
        str, Doc('per group id token, overriding the default: "FLEET=0,STAFF=1" (0: no limit)')
    ] = ""
    direct_payment: Annotated[
        bool,
        Doc(
            "2.1 C18: accept ad hoc DirectPayment id tokens (a card the payment service provider approved)"
            " not on record; false: only those on record"
        ),
    ] = True
    _group_limits: dict[str, int] = field(init=False, repr=False, compare=False)

    # The names these settings had before blocks had their own prefix (CHARGEPLANE_UNKNOWN_TOKENS, ...).
    ENV_ALIASES: ClassVar[dict[str, str]] = {
        "UNKNOWN_TOKENS": "unknown_tokens",
        "MASTER_PASS_GROUP": "master_pass_group",
    }

    def __post_init__(self) -> None:
        if self.concurrent_transactions < 0:
            raise SettingsError("concurrent_transactions must be >= 0 (0: no limit)")
        object.__setattr__(self, "_group_limits", parse_group_limits(self.group_concurrent_transactions))

    def concurrency_limit(self, group_id_token: str | None) -> int | None:
        """How many transactions a token of this group may have at once; None: no limit."""
        limit = self.concurrent_transactions
        if group_id_token is not None:
            limit = self._group_limits.get(group_id_token.casefold(), limit)
        return None if limit == UNLIMITED else limit

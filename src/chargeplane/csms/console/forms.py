"""Small helpers the console's page modules share: form and query values, the role a change needs, and the
HTTP API's one mapping of domain errors to a status and a reason (so the console and the API agree)."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_403_FORBIDDEN

from chargeplane.csms.api.errors import http_error
from chargeplane.csms.console.users import Role, Session


def needs(session: Session, role: Role, what: str) -> None:
    """403 unless the session's role includes ``role``: checked on the server, whatever the page showed."""
    if not session.user.role.allows(role):
        raise HTTPException(status_code=HTTP_403_FORBIDDEN, detail=f"{what} needs the {role.value} role")


def text(value: object, limit: int | None = 255) -> str | None:
    """A form or query field's text, stripped and cut at ``limit`` (``None``: whole, for the block's own
    check to refuse); ``None`` when empty or not text."""
    return (value.strip()[:limit] or None) if isinstance(value, str) else None


def offset(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 10 else 0


def moment(value: str | None) -> datetime | None:
    """A ``datetime-local`` field (UTC, as the pages show every time) or an ISO 8601 time; ``None`` when it is
    empty; 400 when it is not a time."""
    found = text(value, 40)
    if found is None:
        return None
    try:
        parsed = datetime.fromisoformat(found.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(status_code=400, detail=f"not a time: {found[:40]}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def refusal(error: Exception) -> tuple[int, str]:
    """The API's status and reason for a domain error; anything else is a bug and raised again."""
    try:
        answer = http_error(error)
    except TypeError:
        raise error from None
    return answer.status_code, str(answer.detail)

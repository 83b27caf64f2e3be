"""Console accounts, roles and server-side sessions.

Passwords are stored as salted scrypt hashes, the same scheme as station passwords
(:func:`chargeplane.transport.security.hash_password`); checking one runs in a worker thread so that a login
does not stall the OCPP path. A session is a random 32-byte cookie value stored only as its SHA-256 digest
(like the API tokens: nothing to brute-force), with its own CSRF token and an absolute expiry. A password
change ends the account's other sessions; a reset from the command line ends all of them.

Roles, each including the ones below it:

``viewer``    reads every page
``operator``  also sends commands to stations
``admin``     everything (the same as operator in this first slice: account management stays on the CLI)

An operator-side store, not on the OCPP path: it reads and writes directly on the engine.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.clock import Clock, SystemClock
from chargeplane.csms.console.tables import USERNAME_LENGTH, console_sessions, console_users
from chargeplane.transport.security import hash_password, verify_password

SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
# Checked when the username is unknown, so that a login costs the same whether the account exists or not.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


class Role(enum.Enum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        return _RANK[self] >= _RANK[needed]

    @property
    def can_command(self) -> bool:
        return self.allows(Role.OPERATOR)


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


class AccountError(ValueError):
    """A refused account change (the message says why, for the CLI and the password form)."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    role: Role


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    csrf_token: str
    expires_at: datetime


def session_digest(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode()).hexdigest()


def csrf_matches(session: Session, offered: str | None) -> bool:
    """The CSRF token of a form or an ``X-CSRF-Token`` header against the session's (constant time)."""
    return bool(offered) and hmac.compare_digest(session.csrf_token.encode(), (offered or "").encode())


def normal_username(username: str) -> str:
    name = username.strip().casefold()
    if not name or len(name) > USERNAME_LENGTH or not all(c.isalnum() or c in "._-@" for c in name):
        raise AccountError(f"a username has 1 to {USERNAME_LENGTH} letters, digits or . _ - @ (no spaces)")
    return name


def check_password_rules(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise AccountError(f"a password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")


def _user(row: sa.Row[Any, Any, Any]) -> User:
    return User(int(row.id), str(row.username), Role(row.role))


class UserStore:
    def __init__(self, engine: AsyncEngine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock: Clock = clock or SystemClock()

    # -- accounts -----------------------------------------------------------------------------------------

    async def create(self, username: str, password: str, role: Role) -> User:
        name = normal_username(username)
        check_password_rules(password)
        hashed = await asyncio.to_thread(hash_password, password)
        now = self.clock.now()
        async with self.engine.begin() as connection:
            exists = await connection.scalar(
                sa.select(console_users.c.id).where(console_users.c.username == name)
            )
            if exists is not None:
                raise AccountError(f"the user {name} exists already")
            result = await connection.execute(
                sa.insert(console_users)
                .values(
                    username=name,
                    password_hash=hashed,
                    role=role.value,
                    created_at=now,
                    password_changed_at=now,
                )
                .returning(console_users.c.id)
            )
            user_id = int(result.scalar_one())
        return User(user_id, name, role)

    async def all(self) -> list[User]:
        query = sa.select(console_users.c.id, console_users.c.username, console_users.c.role)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query.order_by(console_users.c.username))).all()
        return [_user(row) for row in rows]

    async def set_password(self, username: str, password: str, *, keep_session: str | None = None) -> User:
        """A new password; every session of the account ends but ``keep_session`` (a digest)."""
        name = normal_username(username)
        check_password_rules(password)
        hashed = await asyncio.to_thread(hash_password, password)
        async with self.engine.begin() as connection:
            row = (
                await connection.execute(
                    sa.select(console_users.c.id, console_users.c.username, console_users.c.role).where(
                        console_users.c.username == name
                    )
                )
            ).first()
            if row is None:
                raise AccountError(f"no user {name}")
            user = _user(row)
            await connection.execute(
                sa.update(console_users)
                .where(console_users.c.id == user.id)
                .values(password_hash=hashed, password_changed_at=self.clock.now())
            )
            ending = sa.delete(console_sessions).where(console_sessions.c.user_id == user.id)
            if keep_session is not None:
                ending = ending.where(console_sessions.c.digest != keep_session)
            await connection.execute(ending)
        return user

    async def authenticate(self, username: str, password: str) -> User | None:
        """The account if the password is right, else ``None`` (the same work either way)."""
        try:
            name = normal_username(username)
        except AccountError:
            name = ""
        query = sa.select(
            console_users.c.id, console_users.c.username, console_users.c.role, console_users.c.password_hash
        ).where(console_users.c.username == name)
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        stored = row[3] if row is not None else _DUMMY_HASH
        valid = await asyncio.to_thread(verify_password, password.encode()[:1024], stored)
        if row is None or not valid:
            return None
        return User(row[0], row[1], Role(row[2]))

    # -- sessions -----------------------------------------------------------------------------------------

    async def open_session(self, user: User) -> tuple[str, Session]:
        """A new session: the cookie value (returned once, stored as a digest) and the session."""
        cookie = secrets.token_urlsafe(32)
        now = self.clock.now()
        session = Session(user, secrets.token_urlsafe(32), now + SESSION_LIFETIME)
        async with self.engine.begin() as connection:
            await connection.execute(sa.delete(console_sessions).where(console_sessions.c.expires_at <= now))
            await connection.execute(
                sa.insert(console_sessions).values(
                    digest=session_digest(cookie),
                    user_id=user.id,
                    csrf_token=session.csrf_token,
                    created_at=now,
                    expires_at=session.expires_at,
                )
            )
        return cookie, session

    async def session(self, cookie: str | None) -> Session | None:
        """The live session of a cookie value, else ``None`` (unknown or expired)."""
        if not cookie:
            return None
        query = (
            sa.select(
                console_users.c.id,
                console_users.c.username,
                console_users.c.role,
                console_sessions.c.csrf_token,
                console_sessions.c.expires_at,
            )
            .join(console_users, console_users.c.id == console_sessions.c.user_id)
            .where(console_sessions.c.digest == session_digest(cookie))
        )
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None or row[4] <= self.clock.now():
            return None
        return Session(User(row[0], row[1], Role(row[2])), row[3], row[4])

    async def close_session(self, cookie: str) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                sa.delete(console_sessions).where(console_sessions.c.digest == session_digest(cookie))
            )


LOGIN_FAILED, LOGIN_SUCCEEDED = "login-failed", "login-succeeded"


class LoginThrottle:
    """Failed logins counted per username and per client address, in memory: after ``limit`` failures
    within ``window``, that name or address is refused (HTTP 429) until its oldest failure leaves the window.
    A successful login clears the name's count. Bounded: at most ``capacity`` keys are remembered (the
    oldest are forgotten first). With several nodes, ``shared`` tells the others (csms/cluster/guard.py) and
    :meth:`apply` counts what they tell, so that spreading guesses over the nodes gains nothing."""

    def __init__(
        self, clock: Clock, limit: int = 5, window: timedelta = timedelta(minutes=15), capacity: int = 10_000
    ) -> None:
        self.clock = clock
        self.limit = limit
        self.window = window
        self.capacity = capacity
        self._failures: dict[str, list[datetime]] = {}
        self.shared: Callable[[str, tuple[str, ...]], None] | None = (
            None  # (LOGIN_FAILED | LOGIN_SUCCEEDED, keys)
        )

    def _recent(self, key: str, now: datetime) -> list[datetime]:
        kept = [moment for moment in self._failures.get(key, []) if now - moment < self.window]
        if kept:
            self._failures[key] = kept
        else:
            self._failures.pop(key, None)
        return kept

    def blocked(self, *keys: str) -> bool:
        now = self.clock.now()
        return any(len(self._recent(key, now)) >= self.limit for key in keys)

    def failed(self, *keys: str) -> None:
        if self.shared is not None:
            self.shared(LOGIN_FAILED, keys)
        self._count(keys)

    def _count(self, keys: tuple[str, ...]) -> None:
        now = self.clock.now()
        for key in keys:
            moments = self._recent(key, now)
            self._failures.pop(key, None)  # re-inserted last: the dict's order is the age of its keys
            self._failures[key] = [*moments, now][-self.limit :]
        while len(self._failures) > self.capacity:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, key: str) -> None:
        if self._failures.pop(key, None) is not None and self.shared is not None:
            self.shared(LOGIN_SUCCEEDED, (key,))

    def apply(self, what: str, keys: tuple[str, ...]) -> None:
        """What another node's throttle told; an unknown ``what`` is ignored."""
        if what == LOGIN_FAILED:
            self._count(keys)
        elif what == LOGIN_SUCCEEDED:
            for key in keys:
                self._failures.pop(key, None)

"""Console accounts, sessions and CSRF tokens on the database (no browser, no HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chargeplane.csms.clock import ManualClock
from chargeplane.csms.console.users import (
    SESSION_LIFETIME,
    AccountError,
    LoginThrottle,
    Role,
    UserStore,
    csrf_matches,
    session_digest,
)
from chargeplane.csms.storage.engine import create_engine
from chargeplane.csms.storage.migrate import migrate

PASSWORD = "correct-horse-battery"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[UserStore]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'users.db'}")
    await migrate(engine)
    try:
        yield UserStore(engine, ManualClock(datetime(2026, 12, 7, 8, tzinfo=UTC)))
    finally:
        await engine.dispose()


def test_roles_include_the_ones_below() -> None:
    assert Role.ADMIN.allows(Role.OPERATOR)
    assert Role.OPERATOR.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.OPERATOR)
    assert [role.can_command for role in Role] == [False, True, True]


async def test_password_is_stored_as_a_salted_scrypt_hash(store: UserStore) -> None:
    await store.create("Alice", PASSWORD, Role.OPERATOR)
    await store.create("bob", PASSWORD, Role.VIEWER)
    async with store.engine.connect() as connection:
        hashes = (await connection.exec_driver_sql("SELECT password_hash FROM console_users")).scalars().all()
    assert all(h.startswith("scrypt$") and PASSWORD not in h for h in hashes)
    assert hashes[0] != hashes[1]  # salted


async def test_authenticate_right_wrong_and_unknown(store: UserStore) -> None:
    created = await store.create("Alice", PASSWORD, Role.OPERATOR)
    assert created.username == "alice"  # one spelling: usernames compare case-insensitively
    assert await store.authenticate("ALICE", PASSWORD) == created
    assert await store.authenticate("alice", PASSWORD + "x") is None
    assert await store.authenticate("nobody", PASSWORD) is None
    assert await store.authenticate("bad name with spaces", PASSWORD) is None


@pytest.mark.parametrize(
    ("username", "password"),
    [("", PASSWORD), ("a b", PASSWORD), ("x" * 65, PASSWORD), ("alice", "short"), ("alice", "x" * 129)],
)
async def test_account_rules(store: UserStore, username: str, password: str) -> None:
    with pytest.raises(AccountError):
        await store.create(username, password, Role.VIEWER)


async def test_a_username_is_taken_once(store: UserStore) -> None:
    await store.create("alice", PASSWORD, Role.VIEWER)
    with pytest.raises(AccountError, match="exists"):
        await store.create("ALICE", PASSWORD, Role.ADMIN)


async def test_session_is_stored_as_a_digest_and_expires(store: UserStore) -> None:
    user = await store.create("alice", PASSWORD, Role.VIEWER)
    cookie, session = await store.open_session(user)
    async with store.engine.connect() as connection:
        stored = (await connection.exec_driver_sql("SELECT digest FROM console_sessions")).scalar_one()
    assert stored == session_digest(cookie)
    assert cookie not in stored
    found = await store.session(cookie)
    assert found is not None
    assert found.user == user
    assert found.csrf_token == session.csrf_token
    assert await store.session(cookie + "x") is None
    assert await store.session(None) is None
    assert isinstance(store.clock, ManualClock)
    store.clock.advance(SESSION_LIFETIME - timedelta(seconds=1))
    assert await store.session(cookie) is not None
    store.clock.advance(timedelta(seconds=1))
    assert await store.session(cookie) is None


async def test_logout_ends_the_session(store: UserStore) -> None:
    user = await store.create("alice", PASSWORD, Role.VIEWER)
    cookie, _ = await store.open_session(user)
    await store.close_session(cookie)
    assert await store.session(cookie) is None


async def test_password_change_ends_the_other_sessions_only(store: UserStore) -> None:
    user = await store.create("alice", PASSWORD, Role.OPERATOR)
    mine, _ = await store.open_session(user)
    other, _ = await store.open_session(user)
    await store.set_password("alice", "a-new-password-1", keep_session=session_digest(mine))
    assert await store.session(mine) is not None
    assert await store.session(other) is None
    assert await store.authenticate("alice", PASSWORD) is None
    assert await store.authenticate("alice", "a-new-password-1") == user


async def test_reset_ends_every_session_and_unknown_user_is_refused(store: UserStore) -> None:
    user = await store.create("alice", PASSWORD, Role.OPERATOR)
    cookie, _ = await store.open_session(user)
    await store.set_password("alice", "a-new-password-1")
    assert await store.session(cookie) is None
    with pytest.raises(AccountError, match="no user"):
        await store.set_password("nobody", "a-new-password-1")


async def test_csrf_token_must_match_the_session(store: UserStore) -> None:
    user = await store.create("alice", PASSWORD, Role.OPERATOR)
    _, session = await store.open_session(user)
    _, other = await store.open_session(user)
    assert csrf_matches(session, session.csrf_token)
    assert not csrf_matches(session, None)
    assert not csrf_matches(session, "")
    assert not csrf_matches(session, other.csrf_token)


def test_login_throttle_counts_failures_per_key_within_the_window() -> None:
    clock = ManualClock(datetime(2026, 12, 7, 8, tzinfo=UTC))
    throttle = LoginThrottle(clock, limit=3, window=timedelta(minutes=15))
    for _ in range(2):
        throttle.failed("user:alice", "address:10.0.0.1")
    assert not throttle.blocked("user:alice")
    throttle.failed("user:alice", "address:10.0.0.2")
    assert throttle.blocked("user:alice")  # three failures for the name, from two addresses
    assert not throttle.blocked("address:10.0.0.2")
    assert throttle.blocked("user:bob", "address:10.0.0.1") is False
    clock.advance(timedelta(minutes=15))
    assert not throttle.blocked("user:alice")  # the failures left the window
    for _ in range(3):
        throttle.failed("user:alice")
    throttle.succeeded("user:alice")
    assert not throttle.blocked("user:alice")


def test_login_throttle_is_bounded() -> None:
    throttle = LoginThrottle(ManualClock(datetime(2026, 12, 7, 8, tzinfo=UTC)), limit=1, capacity=2)
    throttle.failed("a")
    throttle.failed("b")
    throttle.failed("c")
    assert not throttle.blocked("a")  # forgotten first
    assert throttle.blocked("b")
    assert throttle.blocked("c")


def test_login_throttles_of_two_nodes_count_each_others_failures_and_successes() -> None:
    clock = ManualClock(datetime(2026, 12, 7, 8, tzinfo=UTC))
    a, b = LoginThrottle(clock, limit=3), LoginThrottle(clock, limit=3)
    a.shared = b.apply  # what the cluster carries over NATS, at once
    b.shared = a.apply
    a.failed("user:alice", "address:10.0.0.1")
    b.failed("user:alice", "address:10.0.0.2")
    assert not a.blocked("user:alice")
    a.failed("user:alice", "address:10.0.0.3")  # the third guess, spread over both nodes
    assert a.blocked("user:alice")
    assert b.blocked("user:alice")
    b.succeeded("user:alice")
    assert not a.blocked("user:alice")
    a.apply("login-something-newer", ("user:alice",))  # unknown notices change nothing
    assert not a.blocked("user:alice")

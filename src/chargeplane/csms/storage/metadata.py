"""The one MetaData every block's tables belong to, with stable constraint names (migrations need them),
and the column types shared by the blocks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone: it is stored as UTC and restored as UTC).

    On SQLite the text is SQLAlchemy's own DATETIME format (``YYYY-MM-DD HH:MM:SS.ffffff``), written and read
    with the C ``isoformat`` / ``fromisoformat`` instead of SQLAlchemy's generic processors: the same text at
    a fraction of the cost (a TransactionEvent stores about a dozen timestamps)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def bind_processor(self, dialect: sa.Dialect) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _sqlite_text
        if self.impl_instance.bind_processor(dialect) is None:  # the driver takes aware datetimes (asyncpg)
            return _aware_utc  # process_bind_param without SQLAlchemy's wrapper, and as is when in UTC
        return super().bind_processor(dialect)

    def result_processor(self, dialect: sa.Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _sqlite_datetime
        if self.impl_instance.result_processor(dialect, coltype) is None:
            return _as_utc
        return super().result_processor(dialect, coltype)

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        value = _aware_utc(value)
        return value.replace(tzinfo=None) if value is not None and dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        return _as_utc(value)


# The same instants recur within a write (an event's timestamp is its samples' timestamp, the receive time
# goes into several columns): formatting costs about 50 times a dictionary lookup.
_SQLITE_TEXT: dict[datetime, str] = {}


def _sqlite_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = _SQLITE_TEXT.get(value)
    if text is None:
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        if len(_SQLITE_TEXT) >= 4096:
            _SQLITE_TEXT.clear()
        # Equal instants in other zones share the entry: the text is always of the UTC time.
        text = _SQLITE_TEXT[value] = value.astimezone(UTC).isoformat(" ", "microseconds")[:-6]  # no "+00:00"
    return text


def _aware_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is UTC:  # every instant the CSMS makes or reads off the wire
        return value
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC)


def _as_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    assert isinstance(value, datetime)
    if value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_datetime(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value + "+00:00")


def utc_timestamp(name: str, *, nullable: bool = True, index: bool = False) -> sa.Column[datetime]:
    """A timezone-aware timestamp column (stored as UTC)."""
    return sa.Column(name, UtcDateTime(), nullable=nullable, index=index)

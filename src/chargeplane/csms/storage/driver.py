"""Driver-level statements for the hot paths.

SQLAlchemy Core costs a few hundred microseconds of CPU per statement (statement objects, cache keys,
parameter processing); on the TransactionEvent path that was most of the server's CPU. The batch writers run
plain SQL text on the DBAPI cursor of the group committer's connection instead (inside its transaction), with
the bind and result conversions of the columns' own SQLAlchemy types, so that rows written here are stored
exactly as Core would store them and read back the same through the Core queries of the HTTP API.

SQL is written with ``?`` placeholders; :func:`positional` turns them into what the driver takes.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

Processor = Callable[[Any], Any]
S = TypeVar("S")
_PLACEHOLDER = re.compile(r"\?")


class PerDialect(Generic[S]):
    """A writer's statements, built once per dialect on first use."""

    def __init__(self, build: Callable[[sa.Dialect], S]) -> None:
        self._build = build
        self._built: dict[str, S] = {}

    def __call__(self, dialect: sa.Dialect) -> S:
        built = self._built.get(dialect.name)
        if built is None:
            built = self._built[dialect.name] = self._build(dialect)
        return built


def positional(dialect: sa.Dialect, sql: str) -> str:
    """``sql`` with its ``?`` placeholders in the driver's style: sqlite3 takes them as they are, asyncpg
    wants ``$1, $2, ...``."""
    if dialect.paramstyle == "qmark":
        return sql
    if dialect.paramstyle == "numeric_dollar":
        numbers = itertools.count(1)
        return _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)
    raise NotImplementedError(f"paramstyle {dialect.paramstyle}")


def dbapi_cursor(connection: sa.Connection) -> Any:
    """A DBAPI cursor on ``connection``'s driver connection, inside its current transaction."""
    return connection.connection.cursor()


class RowCodec:
    """The bind and result conversions of some columns of a table, for one dialect.

    Only the columns whose type converts anything cost a call per row."""

    __slots__ = ("_binds", "_dialect", "_results", "_types", "names")

    def __init__(self, table: sa.Table, names: Iterable[str], dialect: sa.Dialect) -> None:
        self.names = tuple(names)
        self._dialect = dialect
        self._types = [table.c[name].type.dialect_impl(dialect) for name in self.names]
        binds: list[tuple[int, Processor]] = []
        for index, column_type in enumerate(self._types):
            bind = column_type.bind_processor(dialect)
            if bind is not None:
                binds.append((index, _none_memoized(bind) if isinstance(column_type, sa.JSON) else bind))
        self._binds = tuple(binds)
        self._results: tuple[tuple[int, Processor], ...] | None = None  # from the first result's description

    def bind(self, values: Sequence[Any]) -> tuple[Any, ...]:
        """Python values (in ``names`` order) as the driver takes them."""
        if not self._binds:
            return tuple(values)
        converted = list(values)
        for index, process in self._binds:
            converted[index] = process(converted[index])
        return tuple(converted)

    def result(self, row: Sequence[Any], description: Sequence[Sequence[Any]]) -> dict[str, Any]:
        """A driver row (in ``names`` order) as Python values by column name; ``description`` is the cursor's
        (some drivers' conversions depend on the type code it reports)."""
        return dict(zip(self.names, self.values(row, description), strict=True))

    def values(self, row: Sequence[Any], description: Sequence[Sequence[Any]]) -> list[Any]:
        """A driver row as Python values in the same order (:meth:`result` without the names)."""
        if self._results is None:
            results: list[tuple[int, Processor]] = []
            for index, (column_type, column) in enumerate(zip(self._types, description, strict=True)):
                result = column_type.result_processor(self._dialect, column[1])
                if result is not None:
                    results.append((index, result))
            self._results = tuple(results)
        values = list(row)
        for index, process in self._results:
            value = values[index]
            if value is not None:  # every conversion here maps None to None (SQL NULL)
                values[index] = process(value)
        return values


class Updates:
    """``UPDATE <table> SET <columns> WHERE <key> = ?`` for each set of columns asked for, built once, with the
    conversions of its parameters (the columns' values, then the key)."""

    __slots__ = ("_built", "_dialect", "_key", "_table")

    def __init__(self, table: sa.Table, key: str, dialect: sa.Dialect) -> None:
        self._table = table
        self._key = key
        self._dialect = dialect
        self._built: dict[tuple[str, ...], tuple[str, RowCodec]] = {}

    def __call__(self, columns: tuple[str, ...]) -> tuple[str, RowCodec]:
        built = self._built.get(columns)
        if built is None:
            assignments = ", ".join(f"{name} = ?" for name in columns)
            sql = positional(
                self._dialect, f"UPDATE {self._table.name} SET {assignments} WHERE {self._key} = ?"
            )
            built = self._built[columns] = (sql, RowCodec(self._table, (*columns, self._key), self._dialect))
        return built


def _none_memoized(process: Processor) -> Processor:
    """A JSON column's bind conversion with None (stored as JSON ``null``, as Core stores it) computed once."""
    null = process(None)

    def bind(value: Any) -> Any:
        return null if value is None else process(value)

    return bind

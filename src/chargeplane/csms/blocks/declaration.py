"""How a block declares itself, and the install order the CSMS derives from the declarations.

Each block package has a ``block.py`` with one module-level ``BLOCK = Block(...)``: its name (also the prefix
of its environment variables, ``CHARGEPLANE_<NAME>_*``), the names of the blocks whose services it uses
(``requires``), its settings dataclass and its ``install(context, settings)``. :func:`install_order` sorts
the blocks so that every block comes after the blocks it requires.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from chargeplane.csms.blocks.context import BlockContext

S = TypeVar("S")


@dataclass(frozen=True)
class NoSettings:
    """The settings of a block that has none."""


@dataclass(frozen=True)
class Block(Generic[S]):
    name: str  # lower_snake_case, as its package
    settings: type[S]  # a frozen dataclass with defaults for every field
    install: Callable[[BlockContext, S], None]
    requires: tuple[str, ...] = ()
    summary: str = ""  # the use cases it covers (B01-B04, ...)


class BlockOrderError(RuntimeError):
    """The declared requirements cannot be met: a missing block, a cycle, or a name used twice."""


def install_order(blocks: Iterable[Block[Any]]) -> list[Block[Any]]:
    """The blocks in an order where each comes after those it requires.

    Stable: among the blocks whose requirements are met, the one given first goes first, so the order of
    ``blocks`` decides everything the requirements leave open."""
    given = list(blocks)
    by_name: dict[str, Block[Any]] = {}
    for block in given:
        if block.name in by_name:
            raise BlockOrderError(f"two blocks are named {block.name!r}")
        by_name[block.name] = block
    for block in given:
        missing = [name for name in block.requires if name not in by_name]
        if missing:
            raise BlockOrderError(
                f"block {block.name!r} requires {', '.join(map(repr, missing))}: no such block"
            )
    ordered: list[Block[Any]] = []
    placed: set[str] = set()
    waiting = given
    while waiting:
        ready = next((b for b in waiting if placed.issuperset(b.requires)), None)
        if ready is None:
            raise BlockOrderError("blocks require each other in a cycle: " + " -> ".join(_cycle(waiting)))
        ordered.append(ready)
        placed.add(ready.name)
        waiting = [b for b in waiting if b is not ready]
    return ordered


def _cycle(waiting: Sequence[Block[Any]]) -> list[str]:
    """One cycle among blocks none of which can be placed (each waits for another of them)."""
    by_name = {b.name: b for b in waiting}
    path: list[str] = []
    name = waiting[0].name
    while name not in path:
        path.append(name)
        name = next(r for r in by_name[name].requires if r in by_name)
    return [*path[path.index(name) :], name]

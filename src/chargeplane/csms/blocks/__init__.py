"""The functional blocks of the CSMS, one package each (block.py, handlers.py, service.py, repository.py,
api.py, tables.py, and settings.py when it has settings).

Blocks are found by scanning this package: every subpackage with a ``block.py`` that defines ``BLOCK`` is a
block, so adding one touches nothing here. (A scan rather than a list: the requirements, not a hand-kept
order, decide the install order, and a list would be one more central file that every new block edits.)
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from chargeplane.csms.blocks.declaration import Block, BlockOrderError, install_order


def discover() -> list[Block[Any]]:
    """Every block of this package, in install order (requirements first, then by name)."""
    found: list[Block[Any]] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        try:
            module = importlib.import_module(f"{__name__}.{info.name}.block")
        except ModuleNotFoundError as error:
            if error.name == f"{__name__}.{info.name}.block":
                continue  # a package without block.py is not a block
            raise
        block = getattr(module, "BLOCK", None)
        if not isinstance(block, Block):
            raise BlockOrderError(f"{module.__name__} has no BLOCK declaration")
        if block.name != info.name:
            raise BlockOrderError(f"{module.__name__} declares the name {block.name!r}")
        found.append(block)
    return install_order(found)

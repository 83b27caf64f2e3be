"""Imports every table definition so that :data:`metadata` describes the whole schema."""

from __future__ import annotations

import importlib
import importlib.util

import sqlalchemy as sa

from chargeplane.csms.blocks import discover
from chargeplane.csms.storage.metadata import metadata

OTHER_TABLE_MODULES = (
    "chargeplane.csms.api.tokens",
    "chargeplane.csms.console.tables",
    "chargeplane.csms.api.audit",
)


def full_metadata() -> sa.MetaData:
    """The metadata with the tables of the API and of every block that has a ``tables`` module."""
    for module in OTHER_TABLE_MODULES:
        importlib.import_module(module)
    for block in discover():
        name = f"chargeplane.csms.blocks.{block.name}.tables"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    return metadata

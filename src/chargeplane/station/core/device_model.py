"""The 2.0.1 / 2.1 device model: components, variables, attributes and characteristics, persisted.

Theory of operation: every variable is declared once (:class:`VariableDef`) with its characteristics, its
mutability and its default per attribute type. Values live in :class:`DeviceModel`, keyed by
:class:`VariableKey` and attribute type; writable values are persisted through the storage interface on
every change (every writable configuration variable is persistent). GetVariables / SetVariables /
GetBaseReport go through :meth:`DeviceModel.get`, :meth:`DeviceModel.set` and :meth:`DeviceModel.report`,
which return plain results that the station turns into version-specific Structs. The 1.6 configuration keys
are a view on the same values (:mod:`.config16`).

The variables themselves are declared by the controllers that use them (each ``variables(layout)``); the core
joins them into one :class:`Definitions` per layout (:func:`chargeplane.station.core.station.standard_variables`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from chargeplane.ocpp.timestamps import from_wire
from chargeplane.station.core.storage import Storage

ACTUAL = "Actual"
ATTRIBUTE_TYPES = ("Actual", "Target", "MinSet", "MaxSet")


class GetStatus(enum.StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    UNKNOWN_COMPONENT = "UnknownComponent"
    UNKNOWN_VARIABLE = "UnknownVariable"
    NOT_SUPPORTED_ATTRIBUTE_TYPE = "NotSupportedAttributeType"


class SetStatus(enum.StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    UNKNOWN_COMPONENT = "UnknownComponent"
    UNKNOWN_VARIABLE = "UnknownVariable"
    NOT_SUPPORTED_ATTRIBUTE_TYPE = "NotSupportedAttributeType"
    REBOOT_REQUIRED = "RebootRequired"


@dataclass(frozen=True, slots=True)
class VariableKey:
    component: str
    variable: str
    component_instance: str | None = None
    variable_instance: str | None = None
    evse: int | None = None
    connector: int | None = None

    def storage_key(self, attribute: str) -> str:
        parts = (
            self.component,
            self.component_instance or "",
            "" if self.evse is None else str(self.evse),
            "" if self.connector is None else str(self.connector),
            self.variable,
            self.variable_instance or "",
            attribute,
        )
        return "|".join(parts)


@dataclass(frozen=True, slots=True)
class VariableDef:
    key: VariableKey
    data_type: (
        str  # DataEnumType: string, decimal, integer, dateTime, boolean, OptionList, SequenceList, MemberList
    )
    defaults: dict[str, str]  # attribute type -> default value ("" = supported but unset)
    mutability: str = "ReadWrite"  # ReadOnly, ReadWrite, WriteOnly
    unit: str | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    values_list: str | None = None
    reboot_required: bool = False
    summary: bool = False  # reported in a SummaryInventory (availability and problems)

    @property
    def writable(self) -> bool:
        return self.mutability != "ReadOnly"


@dataclass(frozen=True, slots=True)
class GetResult:
    status: GetStatus
    attribute: str
    value: str | None = None


@dataclass(frozen=True, slots=True)
class SetResult:
    status: SetStatus
    attribute: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ReportItem:
    definition: VariableDef
    attributes: tuple[tuple[str, str | None], ...]  # (attribute type, value or None when not reported)


@dataclass(frozen=True, slots=True)
class Selector:
    """One componentVariable of a GetReport (B08): a field left None matches every value of it (B08.FR.20-25:
    no variable, every variable of the component; no instance, every instance; no EVSE, every EVSE and the
    component without one; an EVSE without connector, every connector of it and the EVSE-level component)."""

    component: str
    component_instance: str | None = None
    evse: int | None = None
    connector: int | None = None
    variable: str | None = None
    variable_instance: str | None = None

    def matches(self, key: VariableKey) -> bool:
        return (
            key.component == self.component
            and (self.component_instance is None or key.component_instance == self.component_instance)
            and (self.evse is None or key.evse == self.evse)
            and (self.connector is None or key.connector == self.connector)
            and (self.variable is None or key.variable == self.variable)
            and (self.variable_instance is None or key.variable_instance == self.variable_instance)
        )


# B08.FR.07-10: a component meets a criterion when its variable of that name is "true"; Active, Available and
# Enabled are met too by a component without that variable, Problem only by a Problem set to true.
CRITERIA = ("Active", "Available", "Enabled", "Problem")


@dataclass(frozen=True, slots=True)
class StationLayout:
    """The hardware the device model describes: connectors per EVSE (EVSE ids are 1..n)."""

    connectors: tuple[int, ...] = (1,)
    vendor: str = "Chargeplane"
    model: str = "SimStation"
    serial_number: str = "SIM-0001"
    firmware_version: str = "0.1.0"
    max_power_w: float = 22080.0
    supply_phases: int = 3
    connector_type: str = "cType2"
    security_profile: int = 1


def var(
    component: str,
    variable: str,
    data_type: str,
    default: str,
    mutability: str = "ReadWrite",
    *,
    component_instance: str | None = None,
    variable_instance: str | None = None,
    evse: int | None = None,
    connector: int | None = None,
    unit: str | None = None,
    min_limit: float | None = None,
    max_limit: float | None = None,
    values_list: str | None = None,
    reboot_required: bool = False,
    summary: bool = False,
    extra: dict[str, str] | None = None,
) -> VariableDef:
    defaults = {ACTUAL: default}
    if extra:
        defaults.update(extra)
    return VariableDef(
        VariableKey(component, variable, component_instance, variable_instance, evse, connector),
        data_type,
        defaults,
        mutability,
        unit,
        min_limit,
        max_limit,
        values_list,
        reboot_required,
        summary,
    )


class Definitions(list[VariableDef]):
    """Variable definitions with their lookup tables, built once and shared (read-only) by every station of
    the same layout: a fleet of thousands of stations keeps one copy, not one per station."""

    _tables: _Tables | None = None

    def tables(self) -> _Tables:
        if self._tables is None:
            self._tables = _Tables(self)
        return self._tables


class _Tables:
    """Definitions by key and the set of declared components."""

    __slots__ = ("components", "defs")

    def __init__(self, definitions: Iterable[VariableDef]) -> None:
        self.defs: dict[VariableKey, VariableDef] = {}
        self.components: set[tuple[str, str | None, int | None, int | None]] = set()
        for definition in definitions:
            key = definition.key
            self.defs[key] = definition
            self.components.add((key.component, key.component_instance, key.evse, key.connector))


class InvalidValue(ValueError):
    """A value that does not fit a variable's characteristics."""


def check_value(definition: VariableDef, value: str) -> None:
    """Raise :class:`InvalidValue` unless ``value`` fits the data type and limits (B05.FR.07 format,
    B05.FR.08 range)."""
    kind = definition.data_type
    number: Decimal | None = None
    if kind == "integer":
        try:
            number = Decimal(int(value, 10))
        except ValueError as exc:
            raise InvalidValue("not an integer") from exc
    elif kind == "decimal":
        try:
            number = Decimal(value)
        except InvalidOperation as exc:
            raise InvalidValue("not a decimal") from exc
        if not number.is_finite():
            raise InvalidValue("not a decimal")
    elif kind == "boolean":
        if value not in ("true", "false"):
            raise InvalidValue("not a boolean")
    elif kind == "dateTime":
        try:
            from_wire(value)
        except ValueError as exc:
            raise InvalidValue("not a date-time") from exc
    elif kind in ("OptionList", "MemberList", "SequenceList"):
        allowed = set(definition.values_list.split(",")) if definition.values_list else None
        members = [item.strip() for item in value.split(",")] if kind != "OptionList" else [value]
        if kind == "MemberList" and value == "":
            members = []
        if kind == "OptionList" and not value:
            raise InvalidValue("empty option")
        if len(set(members)) != len(members):
            raise InvalidValue("repeated member")
        if allowed is not None and any(member not in allowed for member in members):
            raise InvalidValue("not in valuesList")
    if number is not None:
        if definition.min_limit is not None and number < Decimal(repr(definition.min_limit)):
            raise InvalidValue("below minLimit")
        if definition.max_limit is not None and number > Decimal(repr(definition.max_limit)):
            raise InvalidValue("above maxLimit")


class DeviceModel:
    """Values of every declared variable, persisted through ``storage``.

    Only values that differ from a definition's default (stored, set or put ones) are kept per station;
    the definitions and their lookup tables are shared (see :class:`Definitions`)."""

    __slots__ = ("_components", "_defs", "_values", "definitions", "observer", "storage", "validators")

    def __init__(self, definitions: list[VariableDef], storage: Storage) -> None:
        self.definitions = definitions
        self.storage = storage
        tables = definitions.tables() if isinstance(definitions, Definitions) else _Tables(definitions)
        self._defs = tables.defs
        self._components = tables.components
        self._values: dict[tuple[VariableKey, str], str] = {}
        # Rules of a block beyond type and range, by (component, variable): the reason a value is refused, or
        # None (e.g. NetworkConfigurationPriority may name only slots that hold a profile, B10.FR.02)
        self.validators: dict[tuple[str, str], Callable[[str], str | None]] = {}
        # Told the key of every value put or set (the monitoring block watches the variables it monitors)
        self.observer: Callable[[VariableKey], None] | None = None
        stored = storage.load_values()
        if stored:
            for definition in definitions:
                key = definition.key
                for attribute in definition.defaults:
                    value = stored.get(key.storage_key(attribute))
                    if value is not None:
                        self._values[(key, attribute)] = value

    def _lookup(self, key: VariableKey, attribute: str) -> str | None:
        """The current value: set or stored, else the definition's default (None: no such attribute)."""
        value = self._values.get((key, attribute))
        if value is not None:
            return value
        definition = self._defs.get(key)
        return None if definition is None else definition.defaults.get(attribute)

    def __iter__(self) -> Iterator[VariableDef]:
        return iter(self.definitions)

    def definition(self, key: VariableKey) -> VariableDef | None:
        return self._defs.get(key)

    def actual(self, key: VariableKey) -> str | None:
        """The Actual value of any variable, WriteOnly ones included (None: no such variable)."""
        return self._lookup(key, ACTUAL)

    # Typed accessors for the station logic (Actual values of controller variables).
    def value(
        self, component: str, variable: str, instance: str | None = None, evse: int | None = None
    ) -> str:
        return self._lookup(VariableKey(component, variable, None, instance, evse), ACTUAL) or ""

    def flag(self, component: str, variable: str, instance: str | None = None) -> bool:
        return self.value(component, variable, instance) == "true"

    def number(self, component: str, variable: str, instance: str | None = None) -> int:
        try:
            return int(self.value(component, variable, instance))
        except ValueError:
            return 0

    def members(self, component: str, variable: str) -> list[str]:
        return [item.strip() for item in self.value(component, variable).split(",") if item.strip()]

    def is_set(self, component: str, variable: str, instance: str | None = None) -> bool:
        """Whether the Actual value was set, stored or put (False: still the definition's default)."""
        return (VariableKey(component, variable, None, instance), ACTUAL) in self._values

    def put(self, key: VariableKey, value: str, attribute: str = ACTUAL, persist: bool = False) -> None:
        """Set a value from the station itself (Actual values it measures: no checks)."""
        self._values[(key, attribute)] = value
        if persist:
            self.storage.save_value(key.storage_key(attribute), value)
        if self.observer is not None:
            self.observer(key)

    def get(self, key: VariableKey, attribute: str | None) -> GetResult:
        """B06: the value of one attribute, with the status GetVariables reports."""
        attribute = attribute or ACTUAL
        if (key.component, key.component_instance, key.evse, key.connector) not in self._components:
            return GetResult(GetStatus.UNKNOWN_COMPONENT, attribute)
        definition = self._defs.get(key)
        if definition is None:
            return GetResult(GetStatus.UNKNOWN_VARIABLE, attribute)
        if attribute not in definition.defaults:
            return GetResult(GetStatus.NOT_SUPPORTED_ATTRIBUTE_TYPE, attribute)
        if definition.mutability == "WriteOnly":  # B06.FR.09: a WriteOnly value is never read back
            return GetResult(GetStatus.REJECTED, attribute)
        return GetResult(GetStatus.ACCEPTED, attribute, self._lookup(key, attribute) or "")

    def set(self, key: VariableKey, attribute: str | None, value: str, max_length: int = 1000) -> SetResult:
        """B05: write one attribute; writable values are persisted (Part 2, Referenced Components and Variables:
        writable means persistent)."""
        attribute = attribute or ACTUAL
        if (key.component, key.component_instance, key.evse, key.connector) not in self._components:
            return SetResult(SetStatus.UNKNOWN_COMPONENT, attribute)
        definition = self._defs.get(key)
        if definition is None:
            return SetResult(SetStatus.UNKNOWN_VARIABLE, attribute)
        if attribute not in definition.defaults:
            return SetResult(SetStatus.NOT_SUPPORTED_ATTRIBUTE_TYPE, attribute)
        if not definition.writable:  # B05.FR.09 read-only: cannot be set
            return SetResult(SetStatus.REJECTED, attribute, "ReadOnly")
        if len(value) > max_length:
            return SetResult(SetStatus.REJECTED, attribute, "TooLarge")
        try:
            check_value(definition, value)  # B05.FR.07 format, B05.FR.08 range
            self._check_target_range(definition, attribute, value)
        except InvalidValue as exc:
            return SetResult(SetStatus.REJECTED, attribute, str(exc))
        validator = self.validators.get((key.component, key.variable))
        refusal = validator(value) if validator is not None else None
        if refusal is not None:
            return SetResult(SetStatus.REJECTED, attribute, refusal)
        self._values[(key, attribute)] = value
        self.storage.save_value(key.storage_key(attribute), value)
        if self.observer is not None:
            self.observer(key)
        if definition.reboot_required:
            return SetResult(SetStatus.REBOOT_REQUIRED, attribute)
        return SetResult(SetStatus.ACCEPTED, attribute)

    def _check_target_range(self, definition: VariableDef, attribute: str, value: str) -> None:
        if definition.data_type not in ("integer", "decimal") or attribute == ACTUAL:
            return
        low = self._lookup(definition.key, "MinSet")
        high = self._lookup(definition.key, "MaxSet")
        number = Decimal(value)
        if attribute == "Target":
            if low and number < Decimal(low):
                raise InvalidValue("below MinSet")
            if high and number > Decimal(high):
                raise InvalidValue("above MaxSet")

    def custom_report(self, criteria: Iterable[str], selectors: Iterable[Selector]) -> list[ReportItem]:
        """B08: the items of a GetReport: the variables of the components meeting at least one criterion
        (B08.FR.13: OR), limited to the selectors when there are some (B08.FR.05, B08.FR.11); with neither,
        every variable. Empty: EmptyResultSet (B08.FR.15)."""
        wanted = tuple(criteria)
        chosen = tuple(selectors)
        return [
            self._item(definition)
            for definition in self.definitions
            if (not wanted or self._meets(definition.key, wanted))
            and (not chosen or any(s.matches(definition.key) for s in chosen))
        ]

    def _meets(self, key: VariableKey, criteria: tuple[str, ...]) -> bool:
        for criterion in criteria:
            flag = VariableKey(
                key.component, criterion, key.component_instance, None, key.evse, key.connector
            )
            value = self._lookup(flag, ACTUAL) if flag in self._defs else None
            if value == "true" or (value is None and criterion != "Problem"):
                return True
        return False

    def _item(self, definition: VariableDef) -> ReportItem:
        attributes = tuple(
            (
                attribute,
                None if definition.mutability == "WriteOnly" else self._lookup(definition.key, attribute),
            )
            for attribute in definition.defaults
        )
        return ReportItem(definition, attributes)

    def report(self, base: str) -> list[ReportItem] | None:
        """B07: the items of a base report, or None for a base not supported."""
        if base == "FullInventory":
            chosen: Iterable[VariableDef] = self.definitions
        elif base == "ConfigurationInventory":
            chosen = (d for d in self.definitions if d.writable)
        elif base == "SummaryInventory":
            chosen = (d for d in self.definitions if d.summary)
        else:
            return None
        return [self._item(definition) for definition in chosen]

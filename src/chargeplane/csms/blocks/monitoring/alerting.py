"""The pure rules of alerts: which operator rule an event matches, and what it is about.

A rule matches an event of a station when all its conditions hold: its station (none: any station, compared
casefolded like station identities), a severity threshold (the event's severity at most ``max_severity``: 0 is
the most severe, 9 the least; an event whose severity is unknown matches only a rule with threshold 9, i.e.
"every severity"), and shell-style patterns (``fnmatch``, case-sensitive, ``*`` and ``?``) on the component
and variable names. Periodic events report values, not conditions: they never open an alert. A ``cleared``
event closes the open alerts about the same subject (and, when both name one, the same monitor) instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase

LEAST_SEVERE = 9
PERIODIC = "Periodic"


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    name: str
    station_id: str | None
    max_severity: int
    component: str | None
    variable: str | None
    enabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Event:
    """One eventData of a NotifyEvent, as the CSMS keeps it."""

    station_id: str
    event_id: int
    timestamp: datetime
    trigger: str
    actual_value: str
    component: str
    variable: str
    component_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    variable_instance: str | None = None
    cause: int | None = None
    monitor_id: int | None = None
    notification_type: str | None = None
    severity: int | None = None
    cleared: bool = False
    tech_code: str | None = None
    tech_info: str | None = None
    transaction_id: str | None = None

    def subject(self) -> str:
        """What an alert is about: ``Component[instance]@evse.connector/Variable[instance]``."""
        component = self.component + (f"[{self.component_instance}]" if self.component_instance else "")
        if self.evse_id is not None:
            component += f"@{self.evse_id}" + (
                f".{self.connector_id}" if self.connector_id is not None else ""
            )
        return (
            component
            + "/"
            + self.variable
            + (f"[{self.variable_instance}]" if self.variable_instance else "")
        )


def matches(rule: Rule, event: Event) -> bool:
    """Whether ``event`` opens an alert under ``rule`` (see the module docstring)."""
    if not rule.enabled or event.cleared or event.trigger == PERIODIC:
        return False
    if rule.station_id is not None and rule.station_id.casefold() != event.station_id.casefold():
        return False
    if event.severity is None:
        if rule.max_severity < LEAST_SEVERE:
            return False
    elif event.severity > rule.max_severity:
        return False
    if rule.component is not None and not fnmatchcase(event.component, rule.component):
        return False
    return rule.variable is None or fnmatchcase(event.variable, rule.variable)


def closes(event: Event, subject: str, monitor_id: int | None) -> bool:
    """Whether the cleared ``event`` closes an open alert about ``subject`` raised by ``monitor_id``."""
    if not event.cleared or event.subject() != subject:
        return False
    return event.monitor_id is None or monitor_id is None or event.monitor_id == monitor_id

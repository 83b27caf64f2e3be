"""Secrets taken out of OCPP payloads before anyone but the peer sees them (message trace, command log).

What counts as a secret, in every version:

* any field whose name holds ``password`` (2.x ``basicAuthPassword``, ``apnPassword``, 1.6 ``password``);
* the value of a configuration entry or device-model variable that is a secret: 1.6 ``AuthorizationKey``
  (ChangeConfiguration, GetConfiguration's answer), 2.x ``BasicAuthPassword`` and any variable whose name holds
  Password, Secret or PrivateKey (SetVariables, GetVariables' answer, NotifyReport);
* the private key block of a PEM text (a certificate field that carries one by mistake).

The payload is walked as wire JSON (dicts and lists): the same code for requests and answers of any version.
"""

from __future__ import annotations

import re
from typing import Any

HIDDEN = "***"
_SECRET_FIELD = re.compile(r"password", re.IGNORECASE)
_SECRET_NAME = re.compile(r"password|secret|privatekey|\Aauthorizationkey\Z", re.IGNORECASE)
_VALUE_FIELDS = frozenset({"value", "attributeValue"})
_PRIVATE_PEM = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.DOTALL
)


def _names_secret(item: dict[str, Any]) -> bool:
    """Whether ``item`` is a configuration entry (``key``) or variable entry (``variable.name``) of a secret."""
    key = item.get("key")
    if isinstance(key, str) and _SECRET_NAME.search(key):
        return True
    variable = item.get("variable")
    name = variable.get("name") if isinstance(variable, dict) else None
    return isinstance(name, str) and bool(_SECRET_NAME.search(name))


def _hide_values(value: Any) -> Any:
    """Every ``value`` / ``attributeValue`` under a secret's entry hidden (NotifyReport nests them)."""
    if isinstance(value, dict):
        return {
            key: HIDDEN if key in _VALUE_FIELDS and isinstance(item, str) else _hide_values(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_hide_values(item) for item in value]
    return value


def redact(payload: Any) -> Any:
    """A copy of a wire-JSON payload with its secrets replaced by ``***`` (the input is not changed)."""
    if isinstance(payload, dict):
        if _names_secret(payload):
            payload = _hide_values(payload)
        return {
            key: HIDDEN if isinstance(item, str) and _SECRET_FIELD.search(key) else redact(item)
            for key, item in payload.items()
        }
    if isinstance(payload, list):
        return [redact(item) for item in payload]
    if isinstance(payload, str) and "PRIVATE KEY-----" in payload:
        return _PRIVATE_PEM.sub(f"-----{HIDDEN} PRIVATE KEY {HIDDEN}-----", payload)
    return payload

"""Limits on what the API decodes: JSON nesting is measured before any decoder sees the body.

msgspec decodes recursively and fails deep inside with a RecursionError (a 500 before this); a body nested
deeper than :data:`MAX_JSON_DEPTH` is answered 400 instead, without decoding it. Every route reads its body
through :meth:`LimitedRequest.body` (typed bodies, ``request.json()`` and the raw bodies of the commands API).
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.exceptions import ValidationException

MAX_JSON_DEPTH = 32  # OCPP payloads nest far less; so do the API's own bodies
# A string literal; an unterminated one runs to the end of the body (so that no later quote starts a new
# scan: linear on any input, where a plain pattern was quadratic on ``"\"\"\"...``).
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in ``data`` (JSON or not: brackets inside strings don't count)."""
    if data.count(b"[") + data.count(b"{") == 0:
        return 0
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def check_json_depth(data: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    # Cheap first: a body with fewer opening brackets than the limit cannot be nested deeper.
    if data.count(b"[") + data.count(b"{") > limit and json_depth(data) > limit:
        raise ValidationException(f"the body is nested deeper than {limit} levels")


class LimitedRequest(Request[Any, Any, Any]):
    async def body(self) -> bytes:
        data = await super().body()
        check_json_depth(data)
        return data

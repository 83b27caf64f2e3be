"""Litestar's parsing of handler signatures, done once per function for the whole test process.

Every test that starts a CSMS builds its API app anew, and Litestar parses the signature of each of its hundreds
of route handlers and dependency providers (type hints evaluated from strings, one FieldDefinition per
parameter): a fifth of the CPU time of starting a CSMS. The blocks make their handlers as closures, so every
CSMS has new function objects, but their code, annotations, defaults and namespace are the same, and so is
the parsed signature (a frozen value that Litestar only reads). The cache is keyed by exactly those; a function
with anything unhashable among them is parsed as before. The product itself parses once per process anyway.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Hashable
from typing import Any

from litestar.utils.signature import ParsedSignature

_parsed: dict[Hashable, ParsedSignature] = {}


def _key(fn: Any, namespace: dict[str, Any]) -> Hashable | None:
    if not isinstance(fn, types.FunctionType):
        return None
    key = (
        fn.__code__,
        fn.__module__,
        tuple(fn.__annotations__.items()),
        fn.__defaults__,
        tuple((fn.__kwdefaults__ or {}).items()),
        tuple(sorted(namespace.items())),
    )
    try:
        hash(key)
    except TypeError:
        return None
    return key


def install() -> None:
    """Makes ``ParsedSignature.from_fn`` remember what it parsed (once per process; idempotent)."""
    original: Callable[[type[ParsedSignature], Any, dict[str, Any]], ParsedSignature]
    original = ParsedSignature.from_fn.__func__  # type: ignore[attr-defined]
    if getattr(original, "remembers", False):
        return

    def from_fn(cls: type[ParsedSignature], fn: Any, signature_namespace: dict[str, Any]) -> ParsedSignature:
        key = _key(fn, signature_namespace)
        if key is None:
            return original(cls, fn, signature_namespace)
        parsed = _parsed.get(key)
        if parsed is None:
            parsed = _parsed[key] = original(cls, fn, signature_namespace)
        return parsed

    from_fn.remembers = True  # type: ignore[attr-defined]
    ParsedSignature.from_fn = classmethod(from_fn)  # type: ignore[method-assign,assignment]

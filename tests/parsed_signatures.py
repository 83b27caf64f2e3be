"""Litestar's work on handler signatures, done once per function for the whole test process.

Every test that starts a CSMS builds its API app anew, and Litestar parses the signature of each of its hundreds
of route handlers and dependency providers (type hints evaluated from strings, one FieldDefinition per
parameter) and makes a msgspec model of each: most of the CPU time of starting a CSMS. The blocks make their
handlers as closures, so every CSMS has new function objects, but their code, annotations, defaults and
namespace are the same, and so are the parsed signature and the model (immutable values Litestar only reads).
The caches are keyed by exactly those; a function with anything unhashable among them is parsed as before.
The product itself builds one app per process anyway.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Hashable
from typing import Any

from litestar._signature.model import SignatureModel
from litestar.utils.signature import ParsedSignature

_parsed: dict[Hashable, ParsedSignature] = {}
# keyed by the parsed signature's identity, which the entry keeps alive (so the id is not reused)
_models: dict[Hashable, tuple[ParsedSignature, type[SignatureModel]]] = {}


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
    return key if _hashable(key) else None


def _hashable(key: Hashable) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


def install() -> None:
    """Makes ``ParsedSignature.from_fn`` and ``SignatureModel.create`` remember what they made (idempotent)."""
    parse: Callable[[type[ParsedSignature], Any, dict[str, Any]], ParsedSignature]
    parse = ParsedSignature.from_fn.__func__  # type: ignore[attr-defined]
    if getattr(parse, "remembers", False):
        return
    create: Callable[..., type[SignatureModel]] = SignatureModel.create.__func__  # type: ignore[attr-defined]

    def from_fn(cls: type[ParsedSignature], fn: Any, signature_namespace: dict[str, Any]) -> ParsedSignature:
        key = _key(fn, signature_namespace)
        if key is None:
            return parse(cls, fn, signature_namespace)
        parsed = _parsed.get(key)
        if parsed is None:
            parsed = _parsed[key] = parse(cls, fn, signature_namespace)
        return parsed

    def model(
        cls: type[SignatureModel],
        dependency_name_set: set[str],
        fn: Any,
        parsed_signature: ParsedSignature,
        type_decoders: Any,
        data_dto: Any = None,
    ) -> type[SignatureModel]:
        name, module = getattr(fn, "__name__", None), getattr(fn, "__module__", None)
        decoders = tuple(type_decoders or ())
        key = (frozenset(dependency_name_set), name, module, id(parsed_signature), decoders, data_dto)
        if not _hashable(key):
            return create(cls, dependency_name_set, fn, parsed_signature, type_decoders, data_dto)
        entry = _models.get(key)
        if entry is None or entry[0] is not parsed_signature:
            made = create(cls, dependency_name_set, fn, parsed_signature, type_decoders, data_dto)
            entry = _models[key] = (parsed_signature, made)
        return entry[1]

    from_fn.remembers = True  # type: ignore[attr-defined]
    ParsedSignature.from_fn = classmethod(from_fn)  # type: ignore[method-assign,assignment]
    SignatureModel.create = classmethod(model)  # type: ignore[method-assign,assignment]

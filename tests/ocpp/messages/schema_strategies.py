"""Hypothesis strategies derived from the OCA JSON schemas, for the codec tests.

Our own small generator (hypothesis-jsonschema does not cope with these schemas). It understands exactly
the keywords the schemas use (``scripts/codegen.py`` refuses any other) and produces:

* :meth:`SchemaStrategies.valid`: payloads that respect every keyword: required/optional properties,
  enums, maxLength (including strings of exactly that length), minimum/maximum, minItems/maxItems,
  RFC 3339 date-times (offsets, fractions, lower-case ``t``/``z``), 1.6 ``multipleOf``, open
  ``customData`` objects with extra vendor properties, any JSON for untyped properties;
* :meth:`SchemaStrategies.mutated`: a valid payload with one violation at a random place, labelled with
  the kind of violation (see :data:`MUTATIONS`).
"""

from __future__ import annotations

import calendar
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

JSON = dict[str, Any]
Path = tuple[str | int, ...]

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
LIST_CAP = 3  # longest generated array when the schema has no smaller maxItems
SHORT_TEXT = 24  # longest "ordinary" generated string

# Printable ASCII plus a few Latin-1/BMP/astral characters (one code point each, as maxLength counts).
ALPHABET = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    st.sampled_from("äöüÄÖÜßéèñç€£¥中文字⚡🔌😀\t"),
)
TEXT = st.text(ALPHABET, max_size=SHORT_TEXT)

JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(INT32_MIN, INT32_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(ALPHABET, max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(ALPHABET, max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)

# Mutation labels. Every mutated payload breaks its schema: the tests assert that the oracle rejects it.
MUTATIONS = (
    "drop required property",
    "customData without vendorId",
    "unknown property",
    "wrong JSON type",
    "null for optional property",
    "bad enum value",
    "string over maxLength",
    "below minimum",
    "above maximum",
    "too few items",
    "too many items",
    "invalid date-time",
    "not a multipleOf",
    "integer given as fraction",
    "integer given as integral float",
)

# Invalid date-times on which RFC 3339 and the oracle's checker agree (see test_codec.py for the ones
# where they do not).
BAD_DATE_TIMES = (
    "2023-02-29T00:00:00Z",  # not a leap year
    "1900-02-29T12:00:00Z",  # divisible by 100, not by 400
    "2023-04-31T12:00:00Z",
    "2023-13-01T00:00:00Z",
    "2023-00-10T00:00:00Z",
    "2023-01-32T00:00:00Z",
    "2023-01-01T00:00:00",  # no offset
    "2023-01-01T00:00:00.123",  # no offset
    "2023-01-01 00:00:00Z",  # no T
    "2023-01-01T24:00:00Z",
    "2023-01-01T00:60:00Z",
    "2023-01-01T00:00:61Z",
    "2023-01-01T00:00:00+24:00",
    "2023-01-01T00:00:00+01:60",
    "2023-01-01T00:00:00+0100",
    "2023-01-01T00:00:00.Z",
    "2023-1-01T00:00:00Z",
    "23-01-01T00:00:00Z",
    "2023-01-01",
    "",
    "now",
)

WRONG_TYPES: dict[str, tuple[Any, ...]] = {
    "string": (17, 1.5, True, None, [], {}),
    "integer": ("17", True, None, [1], {}),
    "number": ("1.5", False, None, [], {}),
    "boolean": ("true", 1, 0, None, [], {}),
    "object": ([], "x", 1, None, True),
    "array": ({}, "x", 1, None),
}


@st.composite
def rfc3339(draw: st.DrawFn) -> str:
    """A valid RFC 3339 date-time: any date of years 0001-9999, optional fraction, Z or an offset."""
    year = draw(st.one_of(st.integers(2000, 2040), st.integers(1, 9999)))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, calendar.monthrange(year, month)[1]))
    hour, minute, second = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    fraction = draw(
        st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=9).map(lambda d: f".{d}"))
    )
    offset = draw(
        st.one_of(
            st.sampled_from(["Z", "z"]),
            st.builds(
                lambda sign, h, m: f"{sign}{h:02d}:{m:02d}",
                st.sampled_from("+-"),
                st.integers(0, 23),
                st.integers(0, 59),
            ),
        )
    )
    t = draw(st.sampled_from("TTt"))
    return f"{year:04d}-{month:02d}-{day:02d}{t}{hour:02d}:{minute:02d}:{second:02d}{fraction}{offset}"


def exact_length_text(length: int) -> st.SearchStrategy[str]:
    """Strings of exactly ``length`` code points, built cheaply by repeating a short random seed."""
    if length == 0:
        return st.just("")
    return st.text(ALPHABET, min_size=1, max_size=6).map(
        lambda seed: (seed * (length // len(seed) + 1))[:length]
    )


@dataclass(frozen=True)
class Site:
    """A place in a payload and a way to break the schema there."""

    label: str
    path: Path
    mutate: Callable[[st.DrawFn, Any], Any]


class SchemaStrategies:
    """Valid and mutated payload strategies for one schema file."""

    def __init__(self, schema: JSON) -> None:
        self.schema = schema
        self._cache: dict[int, st.SearchStrategy[Any]] = {}

    def deref(self, node: JSON) -> JSON:
        while "$ref" in node:
            name = node["$ref"].removeprefix("#/definitions/")
            node = self.schema["definitions"][name]
        return node

    # -- valid ------------------------------------------------------------------------------------------

    def valid(self, node: JSON | None = None) -> st.SearchStrategy[Any]:
        node = self.deref(self.schema if node is None else node)
        key = id(node)
        if key not in self._cache:
            self._cache[key] = self._valid(node)
        return self._cache[key]

    def _valid(self, node: JSON) -> st.SearchStrategy[Any]:
        if "enum" in node:
            return st.sampled_from(node["enum"])
        kind = node.get("type")
        if kind == "object":
            return self._object(node)
        if kind == "array":
            low = node.get("minItems", 0)
            high = min(node.get("maxItems", LIST_CAP), max(low, LIST_CAP))
            return st.lists(self.valid(node["items"]), min_size=low, max_size=high)
        if kind == "string":
            if node.get("format") == "date-time":
                return rfc3339()
            limit = node.get("maxLength")
            if limit is None:
                return TEXT
            return st.one_of(st.text(ALPHABET, max_size=min(limit, SHORT_TEXT)), exact_length_text(limit))
        if kind == "integer":
            return st.integers(int(node.get("minimum", INT32_MIN)), int(node.get("maximum", INT32_MAX)))
        if kind == "number":
            return self._number(node)
        if kind == "boolean":
            return st.booleans()
        if kind is None:
            return JSON_VALUES
        raise AssertionError(f"unexpected schema type {kind!r}")

    def _number(self, node: JSON) -> st.SearchStrategy[float | int]:
        low, high = node.get("minimum"), node.get("maximum")
        if "multipleOf" in node:
            step = Decimal(repr(node["multipleOf"]))
            return st.integers(-(10**7), 10**7).map(lambda k: float(k * step))
        floats = st.floats(low, high, allow_nan=False, allow_infinity=False)
        ints = st.integers(
            INT32_MIN if low is None else int(Decimal(repr(low)).to_integral_value(rounding="ROUND_CEILING")),
            INT32_MAX if high is None else int(Decimal(repr(high)).to_integral_value(rounding="ROUND_FLOOR")),
        )
        # Round values and JSON integers ("5") are valid numbers too.
        return st.one_of(
            floats, floats.map(lambda x: round(x, 2)).filter(lambda x: _in_range(x, low, high)), ints
        )

    def _object(self, node: JSON) -> st.SearchStrategy[JSON]:
        properties: JSON = node.get("properties", {})
        required = set(node.get("required", []))
        fixed = st.fixed_dictionaries(
            {name: self.valid(sub) for name, sub in properties.items() if name in required},
            optional={name: self.valid(sub) for name, sub in properties.items() if name not in required},
        )
        if node.get("additionalProperties", True) is False:
            return fixed
        # An open object (2.x customData): vendor properties of any JSON value beside the declared ones.
        extra_keys = st.text(ALPHABET, min_size=1, max_size=8).filter(lambda k: k not in properties)
        extras = st.dictionaries(extra_keys, JSON_VALUES, max_size=3)
        return st.tuples(fixed, extras).map(lambda pair: {**pair[1], **pair[0]})

    # -- mutated ----------------------------------------------------------------------------------------

    def mutated(self) -> st.SearchStrategy[tuple[str, Any]]:
        """``(label, payload)``: a valid payload broken in one place."""

        @st.composite
        def build(draw: st.DrawFn) -> tuple[str, Any]:
            payload = draw(self.valid())
            sites = list(self.sites(self.schema, payload, ()))
            # Kind first, then place: rare kinds (multipleOf, maxItems) get as many draws as common ones.
            label = draw(st.sampled_from(sorted({site.label for site in sites}, key=MUTATIONS.index)))
            site = draw(st.sampled_from([site for site in sites if site.label == label]))
            return site.label, replace_at(payload, site.path, site.mutate(draw, get_at(payload, site.path)))

        return build()

    def sites(self, node: JSON, value: Any, path: Path) -> Iterator[Site]:
        node = self.deref(node)
        kind = node.get("type")
        if kind in WRONG_TYPES:
            wrong = WRONG_TYPES[kind]
            yield Site("wrong JSON type", path, lambda draw, _v: draw(st.sampled_from(wrong)))
        if "enum" in node:
            enum = node["enum"]
            yield Site("bad enum value", path, lambda draw, v: draw(_bad_enum(v, enum)))
            return
        if kind == "object":
            yield from self._object_sites(node, value, path)
        elif kind == "array":
            yield from self._array_sites(node, value, path)
        elif kind == "string":
            if node.get("format") == "date-time":
                yield Site("invalid date-time", path, lambda draw, _v: draw(st.sampled_from(BAD_DATE_TIMES)))
            if "maxLength" in node:
                limit = node["maxLength"]
                yield Site("string over maxLength", path, lambda draw, _v: draw(exact_length_text(limit + 1)))
        elif kind in ("integer", "number"):
            yield from self._number_sites(node, kind, path)

    def _object_sites(self, node: JSON, value: JSON, path: Path) -> Iterator[Site]:
        properties: JSON = node.get("properties", {})
        required = node.get("required", [])
        for name in required:
            label = (
                "customData without vendorId" if path[-1:] == ("customData",) else "drop required property"
            )
            yield Site(label, path, lambda _draw, v, name=name: {k: x for k, x in v.items() if k != name})
        if node.get("additionalProperties", True) is False:
            unknown = [k for k in ("unknownProperty", "x", "customdata", "vendorId") if k not in properties]
            yield Site("unknown property", path, lambda draw, v: {**v, draw(st.sampled_from(unknown)): 1})
        for name, sub in properties.items():
            if name not in value:
                continue
            if name not in required and "type" in self.deref(sub):  # untyped properties accept null
                yield Site("null for optional property", (*path, name), lambda _draw, _v: None)
            yield from self.sites(sub, value[name], (*path, name))

    def _array_sites(self, node: JSON, value: list[Any], path: Path) -> Iterator[Site]:
        low, high = node.get("minItems"), node.get("maxItems")
        if low:
            yield Site("too few items", path, lambda _draw, v: v[: low - 1])
        if high is not None:
            items = self.valid(node["items"])
            yield Site(
                "too many items",
                path,
                lambda draw, v: (
                    v + draw(st.lists(items, min_size=high + 1 - len(v), max_size=high + 1 - len(v)))
                ),
            )
        for index, item in enumerate(value):
            yield from self.sites(node["items"], item, (*path, index))

    def _number_sites(self, node: JSON, kind: str, path: Path) -> Iterator[Site]:
        delta = 1 if kind == "integer" else 0.5
        if "minimum" in node:
            low = node["minimum"]
            yield Site("below minimum", path, lambda _draw, _v: _as_kind(low - delta, kind))
        if "maximum" in node:
            high = node["maximum"]
            yield Site("above maximum", path, lambda _draw, _v: _as_kind(high + delta, kind))
        if kind == "integer":
            yield Site("integer given as fraction", path, lambda _draw, v: v + 0.5)
            yield Site("integer given as integral float", path, lambda _draw, v: float(v))
        if "multipleOf" in node:
            step = Decimal(repr(node["multipleOf"]))
            yield Site("not a multipleOf", path, lambda _draw, v: float(Decimal(repr(v)) + step / 2))


def _in_range(x: float, low: float | None, high: float | None) -> bool:
    return (low is None or x >= low) and (high is None or x <= high)


def _as_kind(x: float, kind: str) -> float | int:
    return int(x) if kind == "integer" else float(x)


def _bad_enum(value: str, enum: list[str]) -> st.SearchStrategy[str]:
    candidates = [value.lower(), value.upper(), f"{value} ", f"{value}X", "", "Unknown Value"]
    return st.sampled_from([c for c in candidates if c not in enum])


def get_at(payload: Any, path: Path) -> Any:
    for step in path:
        payload = payload[step]
    return payload


def replace_at(payload: Any, path: Path, new: Any) -> Any:
    if not path:
        return new
    result = copy.deepcopy(payload)
    parent = get_at(result, path[:-1])
    parent[path[-1]] = new
    return result

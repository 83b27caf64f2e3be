"""Boolean conditions over Part 5 feature ids, for the cases whose CSV condition is a formula.

The certification CSV states some conditions as formulas, e.g. ``C-09.4 and (C-51 or NOT (C-09.1 or C-09.2))``.
A case declares such a formula as its ``condition=`` (``features=`` stays the plain "all of these" list); the
text is parsed once at declaration (a malformed one is a declaration error) and evaluated against the declared
feature set: a feature id holds when it is declared. Grammar (keywords case-insensitive)::

    expr := term ("or" term)* ;  term := factor ("and" factor)* ;  factor := "not" factor | "(" expr ")" | ID
"""

from __future__ import annotations

import re
from collections.abc import Callable, Set

Predicate = Callable[[Set[str]], bool]

_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z]{1,3}-\d{1,2}(?:\.\d{1,2})?|[A-Za-z]+)")
_FEATURE = re.compile(r"\A[A-Z]{1,3}-\d{1,2}(\.\d{1,2})?\Z")


class ConditionError(ValueError):
    pass


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ConditionError(f"cannot read the condition {text!r} at {text[position:]!r}")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def parse(text: str) -> Predicate:
    """The predicate of ``text`` (see the module's grammar)."""
    tokens = _tokens(text)
    index = 0

    def peek() -> str | None:
        return tokens[index].lower() if index < len(tokens) else None

    def take() -> str:
        nonlocal index
        if index >= len(tokens):
            raise ConditionError(f"condition {text!r} ends too early")
        index += 1
        return tokens[index - 1]

    def expr() -> Predicate:
        terms = [term()]
        while peek() == "or":
            take()
            terms.append(term())
        return terms[0] if len(terms) == 1 else lambda f: any(t(f) for t in terms)

    def term() -> Predicate:
        factors = [factor()]
        while peek() == "and":
            take()
            factors.append(factor())
        return factors[0] if len(factors) == 1 else lambda f: all(x(f) for x in factors)

    def factor() -> Predicate:
        token = take()
        if token.lower() == "not":
            inner = factor()
            return lambda f: not inner(f)
        if token == "(":
            inner = expr()
            if take() != ")":
                raise ConditionError(f"condition {text!r}: ')' expected")
            return inner
        if not _FEATURE.match(token):
            raise ConditionError(f"condition {text!r}: {token!r} is not a feature id")
        return lambda f: token in f

    predicate = expr()
    if index != len(tokens):
        raise ConditionError(f"condition {text!r}: unexpected {tokens[index]!r}")
    return predicate


def holds(text: str, declared: Set[str]) -> bool:
    return parse(text)(declared)

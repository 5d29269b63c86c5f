"""Policy variables and wildcards: how Resource and condition values match a request."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULTED = re.compile(r"(?P<key>[^,]+?)\s*,\s*'(?P<default>.*)'")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


# --- policy variables and wildcards ------------------------------------------------------------


class UnresolvedError(Exception):
    """A policy variable whose key has no value in the request context."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


# A policy string after variable substitution: (text, wildcards_apply) pieces. Only the policy's
# own text carries wildcards; substituted values and ${*}, ${?}, ${$} are literal.
Pieces = tuple[tuple[str, bool], ...]


def substitute(text: str, context: Mapping[str, tuple[str, ...]], variables: bool) -> Pieces:
    if not variables:
        return ((text, True),)
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in _VARIABLE.finditer(text):
        pieces.append((text[position : match.start()], True))
        pieces.append((_variable_value(match.group(1), context), False))
        position = match.end()
    rest = text[position:]
    if "${" in rest:
        raise ValueError(f"policy value {text!r}: '${{' without a closing '}}'")
    pieces.append((rest, True))
    return tuple(piece for piece in pieces if piece[0])


def _variable_value(body: str, context: Mapping[str, tuple[str, ...]]) -> str:
    if body in _ESCAPES:
        return _ESCAPES[body]
    defaulted = _DEFAULTED.fullmatch(body.strip())
    key = (defaulted.group("key") if defaulted else body).strip()
    values = context.get(key.lower())
    if values is None:
        if defaulted:
            return defaulted.group("default")
        raise UnresolvedError(key)
    if len(values) > 1:
        raise ValueError(
            f"policy variable ${{{key}}}: the context gives it {len(values)} values; a "
            "multivalued key cannot be a policy variable (IAM User Guide, 'Single-valued vs. "
            "multivalued context keys')"
        )
    return values[0]


def literal_text(pieces: Pieces) -> str:
    return "".join(text for text, _ in pieces)


def _glob(text: str, any_run: str, any_one: str) -> str:
    return "".join(any_run if c == "*" else any_one if c == "?" else re.escape(c) for c in text)


def like(pieces: Pieces) -> re.Pattern[str]:
    """StringLike: `*` is any run of characters, `?` any one character."""
    return re.compile(
        "".join(_glob(t, ".*", ".") if wild else re.escape(t) for t, wild in pieces), re.DOTALL
    )


def arn_pattern(pieces: Pieces, trailing_star_crosses_colons: bool) -> re.Pattern[str]:
    """An ARN pattern: the first five colons separate segments; a wildcard stays in its segment.

    The sixth segment (the resource part, which may itself hold colons) matches freely. With
    `trailing_star_crosses_colons` (the Resource element), a `*` that ends a segment may run on
    past colons, as "IAM JSON policy elements: Resource" documents; the ARN condition operators
    check "each of the six colon-delimited components ... separately".
    """
    text = literal_text(pieces)
    wild_at = [w for t, w in pieces for _ in t]
    regex: list[str] = []
    colons = 0
    for i, c in enumerate(text):
        in_resource = colons >= 5
        if c == ":" and not in_resource:
            colons += 1
            regex.append(":")
        elif c == "*" and wild_at[i]:
            ends_segment = i + 1 == len(text) or text[i + 1] == ":"
            free = in_resource or (trailing_star_crosses_colons and ends_segment)
            regex.append(".*" if free else "[^:]*")
        elif c == "?" and wild_at[i]:
            regex.append("." if in_resource else "[^:]")
        else:
            regex.append(re.escape(c))
    return re.compile("".join(regex), re.DOTALL)


def as_list(value: Any, what: str) -> list[Any]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValueError(f"{what} is an empty list")
    return values


def strings(value: Any, what: str) -> list[str]:
    values = as_list(value, what)
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"{what} must be a string or a list of strings, got {value!r}")
    return values

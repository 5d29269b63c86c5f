"""The words a user reads: the error type, key paths, and pydantic's errors in this project's terms.

Every problem found in a stack's configuration is one line, `<key path>: <what is wrong and
how to fix it>`, prefixed with `<stack file>:<line>:` where the file has the key (`Marks`); all
of them are reported together in one `ConfigError`. This module imports
no Pulumi module: the program's loader re-raises a `ConfigError` as a `pulumi.RunError` (see
`deploy/loader.py`), which the Pulumi CLI prints without a stack trace.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError


class ConfigError(Exception):
    """Every problem found in the stack configuration, each naming its key path."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        listing = "\n".join(f"  - {problem}" for problem in self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"invalid stack configuration ({count} {noun}):\n{listing}")


def problem(message: str) -> PydanticCustomError:
    """A validation error whose text is reported as it is, after the key path."""
    return PydanticCustomError("config", "{message}", {"message": message})


# Case and look-alike characters folded: `dynamoDbExport`, `us-east-l` and `us-east-I` are the
# commonest slips, and each is exactly one known name once folded.
_LOOKALIKES = str.maketrans("lio", "110")


def did_you_mean(key: str, known: Sequence[str]) -> str:
    """`; did you mean 'x'?` naming the nearest of `known` when one is close, else ''."""
    folded = {name.lower().translate(_LOOKALIKES): name for name in known}
    nearest = folded.get(key.lower().translate(_LOOKALIKES))
    if nearest is None:
        # The closest by difflib's ratio; on a tie the first in `known`, not the last.
        scored = [(difflib.SequenceMatcher(None, key, name).ratio(), name) for name in known]
        best = max(scored, key=lambda pair: pair[0], default=(0.0, ""))
        nearest = best[1] if best[0] >= 0.6 else None
    return f"; did you mean {nearest!r}?" if nearest is not None else ""


def unknown_key_message(key: str, known: Sequence[str], noun: str = "key") -> str:
    """`is not a known key`, with the nearest known key when one is close (nearly always a typo)."""
    return f"is not a known {noun}{did_you_mean(key, known)} (known: {', '.join(sorted(known))})"


def key_path(loc: Iterable[int | str]) -> str:
    """`('sourceAccounts', 0, 'regions', 1)` -> `sourceAccounts[0].regions[1]`."""
    path = ""
    for part in loc:
        if part == "[key]":
            # pydantic marks a map key that failed its check; the key itself is already named.
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _model_at(root: Any, loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class that holds the last element of `loc`, following fields by alias."""
    current = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        by_alias = {field.alias or name: field for name, field in current.model_fields.items()}
        field = by_alias.get(part) or current.model_fields.get(part)
        if field is None:
            return None
        current = field.annotation
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """The model inside Annotated[...], X | None and tuple[X, ...]."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated or origin is tuple:
            annotation = get_args(annotation)[0]
        elif origin is not None and type(None) in get_args(annotation):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            return annotation


def _aliases(section: Any, loc: Sequence[int | str]) -> list[int | str]:
    """`loc` with field names replaced by the keys users write (a default's error uses names)."""
    named: list[int | str] = []
    for index, part in enumerate(loc):
        model = _model_at(section, loc[:index])
        field = model.model_fields.get(part) if isinstance(part, str) and model else None
        named.append(field.alias if field is not None and field.alias else part)
    return named


def _kind(value: Any) -> str:
    kinds = {
        dict: "an object",
        list: "a list",
        bool: "true/false",
        int: "a number",
        str: "a string",
    }
    return kinds.get(type(value), type(value).__name__)


def _message(error: ErrorDetails, section: Any, section_loc: Sequence[int | str]) -> str:
    """One pydantic error in this project's words (`loc` includes the section's key)."""
    kind, value, loc = error["type"], error["input"], error["loc"]
    if kind == "config":
        return str(error["ctx"]["message"])
    if kind == "missing" and getattr(_model_at(section, section_loc[:-1]), "every_key", False):
        return (
            "is required: list every resource type the provider reads back (true or false); "
            "a map without it shows a difference on every preview"
        )
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        model = _model_at(section, section_loc[:-1])
        known = [f.alias or n for n, f in model.model_fields.items()] if model else []
        return unknown_key_message(str(loc[-1]), known)
    if kind == "string_type" and isinstance(value, int) and not isinstance(value, bool):
        if len(str(value)) == 12:
            return f'must be a string: quote it ({loc[-1]}: "{value}"), got the number {value}'
        # Not the digits written when they had a leading zero (0123 reads as 83): only the stack
        # file has them, and `explained` quotes them where it can.
        return f"must be a string: quote it as written, got the number {value}"
    if kind == "string_type":
        return f"must be a string, got {value!r}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number, got {value!r}"
    if kind == "bool_type":
        return f"must be true or false, got {value!r}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be an object, got {_kind(value)}"
    if kind in ("tuple_type", "list_type"):
        hint = ""
        if isinstance(value, int) and not isinstance(value, bool):
            hint = " (quote numbers such as account ids: YAML reads them unquoted as numbers)"
        return f"must be a list{hint}, got {value!r}"
    if kind == "too_short":
        return "must not be empty"
    if kind == "literal_error":
        return f"must be {error['ctx']['expected']}, got {value!r}"
    return f"{error['msg']}, got {value!r}"


def section_problems(key: str, section: Any, error: ValidationError) -> list[str]:
    """pydantic's errors for one section (`key`, validated as `section`), one line each."""
    problems = []
    errors = error.errors()
    # A list whose items failed is also reported "too short" by pydantic: the items say it all.
    with_item_errors = {
        e["loc"][:index]
        for e in errors
        for index, part in enumerate(e["loc"])
        if isinstance(part, int)
    }
    for details in errors:
        loc = details["loc"]
        if details["type"] == "too_short" and loc in with_item_errors:
            continue
        value = details["input"]
        number = isinstance(value, int) and not isinstance(value, bool)
        if details["type"] == "string_type" and number and loc and isinstance(loc[-1], int):
            # A number in a list of strings: say so on the list, as YAML users expect.
            problems.append(
                f"{key_path((key, *loc[:-1]))}: must be a list of strings (quote numbers such "
                f"as account ids: YAML reads them unquoted as numbers), got {value!r}"
            )
            continue
        message = _message({**details, "loc": (key, *loc)}, section, loc)
        problems.append(f"{key_path((key, *_aliases(section, loc)))}: {message}")
    return list(dict.fromkeys(problems))


# --- where a problem is: the stack file's line, and what an unquoted number really is -----------

# Unquoted digits with a leading zero: YAML makes them a number other than the one written
# (config/loader.py says which; Pulumi reads 0123 as the octal 83).
LEADING_ZERO = re.compile(r"0[0-9]+")
# A problem starts with its key path: `destination.accountId: ...`, `project:key: ...`.
_PROBLEM_PATH = re.compile(r"([^\s:]+(?::[^\s:]+)?): ")
_PARENT = re.compile(r"(.*?)(?:\.[^.\[\]]+|\[\d+\])")


def pulumi_number(text: str) -> int:
    """The number Pulumi reads for unquoted leading-zero digits: octal when all digits are."""
    return int(text, 8) if set(text) <= set("01234567") else int(text)


def number_message(path: str, text: str, refused: bool = True) -> str:
    """What an unquoted leading-zero number at `path` is, and how to write what was meant."""
    value = pulumi_number(text)
    octal = set(text) <= set("01234567")
    number = f"the octal number {value}" if octal else f"the number {value}, its zero dropped"
    reads = f"unquoted {text} is {number}"
    if not refused:
        return f"{reads}; write {int(text, 10)} if that is meant"
    last = path.rpartition(".")[2]
    written = f'- "{text}"' if re.search(r"\[\d+\]$", path) else f'{last}: "{text}"'
    return f"{reads}: quote it ({written})"


@dataclass
class Marks:
    """Where each key of a stack file's project namespace is, and its leading-zero numbers.

    Both are keyed by key path (`destination.accountId`, `sourceAccounts[0]`), the form every
    problem starts with; `file` is the stack file's name.
    """

    file: str
    lines: dict[str, int] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)

    def line(self, path: str) -> int | None:
        """The line of `path`, or of its nearest ancestor in the file (a missing key's parent)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            parent = _PARENT.fullmatch(path)
            path = parent[1] if parent else ""
        return None

    def at(self, message: str) -> str:
        """`message` (a problem, `path: ...`) prefixed with `file:line` when the file has it."""
        path = _PROBLEM_PATH.match(message)
        line = self.line(path[1]) if path else None
        return f"{self.file}:{line}: {message}" if line else message

    def record(self, node: yaml.Node | None, project: str) -> None:
        """Mark the keys under `config:` that are in the project's namespace."""
        top = node.value if isinstance(node, yaml.MappingNode) else []
        for key, value in top:
            if key.value != "config" or not isinstance(value, yaml.MappingNode):
                continue
            for name, section in value.value:
                if str(name.value).startswith(f"{project}:"):
                    self.lines[str(name.value)] = name.start_mark.line + 1
                    self._walk(section, (str(name.value).partition(":")[2],), name)

    def _walk(self, node: yaml.Node, path: tuple[str | int, ...], where: yaml.Node) -> None:
        self.lines[key_path(path)] = where.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self._walk(value, (*path, str(key.value)), key)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, (*path, index), item)
        elif (
            isinstance(node, yaml.ScalarNode)
            and node.style is None
            and LEADING_ZERO.fullmatch(node.value)
        ):
            self.numbers[key_path(path)] = str(node.value)


def explained(problem: str, marks: Marks) -> list[str]:
    """`problem`, or when its value is an unquoted leading-zero number, what that number is."""
    found = _PROBLEM_PATH.match(problem)
    path = found[1] if found else ""
    item = re.compile(rf"{re.escape(path)}(?:\[\d+\])?")
    numbers = [(at, text) for at, text in marks.numbers.items() if path and item.fullmatch(at)]
    if numbers:
        return [marks.at(f"{at}: {number_message(at, text)}") for at, text in numbers]
    return [marks.at(problem)]

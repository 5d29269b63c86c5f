"""The JSON Schema of a stack file (`Pulumi.<stack>.yaml`), generated from the `config` models.

`make schema` writes it to `schema/stack.schema.json`; a test fails when the committed file is
stale. Editors that speak the YAML language server (VS Code's YAML extension, JetBrains IDEs)
pick it up from each stack file's first line,
`# yaml-language-server: $schema=./schema/stack.schema.json`, and complete and check keys as
you type. The program itself validates with the same models (`config.parse_stack_config`),
so the schema and the validator cannot disagree about a key's type, pattern or range; rules
that relate keys to each other (a DR Region differs from the primary, ...) are the validator's.

The schema covers the whole file: `config` plus the keys Pulumi itself writes (`encryptionsalt`,
`secretsprovider`, `encryptedkey`, `environment`). Inside `config`, the project's keys are
closed (an unknown `aws-backup-copy:*` key is an error), keys of other namespaces are allowed,
and any value, at any depth, may be a `{secure: ...}` secret as `pulumi config set --secret`
writes it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter

from config.loader import ROOT, project_name
from config.stack import DESCRIPTIONS, OPTIONAL_KEYS, SECTIONS, STACK_KEYS

SCHEMA_PATH = ROOT / "schema" / "stack.schema.json"
SCHEMA_HEADER = "# yaml-language-server: $schema=./schema/stack.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
SECRET = {
    "description": "A secret, as `pulumi config set --secret` writes it",
    "type": "object",
    "properties": {"secure": {"type": "string"}},
    "required": ["secure"],
    "additionalProperties": False,
}
SECRET_REF = {"$ref": "#/$defs/secret"}


def _tidy(node: Any) -> Any:
    """Drop pydantic's generated titles and null defaults, which only add noise for editors."""
    if isinstance(node, dict):
        return {
            key: _tidy(value)
            for key, value in node.items()
            if key != "title" and not (key == "default" and value is None)
        }
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    return node


def _or_secret(schema: Any) -> Any:
    """`{anyOf: [schema, secret]}`: where a value may stand, a secret may stand instead."""
    if not isinstance(schema, dict) or schema == SECRET_REF:
        return schema
    return {"anyOf": [schema, SECRET_REF]}


def _wrap_values(node: Any) -> Any:
    """`node` with every value schema below it (at any depth) also accepting a secret.

    `$defs` entries are reached through `$ref`s, which are wrapped where they are used.
    """
    if isinstance(node, list):
        return [_wrap_values(item) for item in node]
    if not isinstance(node, dict):
        return node
    wrapped = {key: _wrap_values(value) for key, value in node.items()}
    for keyword in ("properties", "patternProperties"):
        if isinstance(wrapped.get(keyword), dict):
            wrapped[keyword] = {name: _or_secret(value) for name, value in wrapped[keyword].items()}
    for keyword in ("items", "additionalProperties"):
        wrapped[keyword] = _or_secret(wrapped[keyword]) if keyword in wrapped else None
        if wrapped[keyword] is None:
            del wrapped[keyword]
    return wrapped


def stack_file_schema(project: str) -> dict[str, Any]:
    """The schema of a whole `Pulumi.<stack>.yaml` for the project called `project`."""
    definitions: dict[str, Any] = {}
    keys: dict[str, Any] = {}
    for key in STACK_KEYS:
        generated = TypeAdapter(SECTIONS[key]).json_schema(
            by_alias=True, ref_template="#/$defs/{model}"
        )
        definitions.update(generated.pop("$defs", {}))
        keys[f"{project}:{key}"] = {**generated, "description": DESCRIPTIONS[key]}
    required = [f"{project}:{key}" for key in STACK_KEYS if key not in OPTIONAL_KEYS]
    # sourceAccounts: refused in stackSets mode, required in providers mode (the default).
    stack_sets = {
        "properties": {
            f"{project}:organization": {
                "properties": {"memberDeployment": {"const": "stackSets"}},
                "required": ["memberDeployment"],
            }
        },
        "required": [f"{project}:organization"],
    }
    sources = f"{project}:sourceAccounts"
    source_accounts_rule = {
        "if": stack_sets,
        "then": {"not": {"required": [sources]}},
        "else": {"required": [sources]},
    }
    config = {
        "description": "Stack configuration; keys of other namespaces (aws:, pulumi:) are allowed",
        "type": "object",
        "properties": keys,
        # The project's namespace is closed: a misspelt key would silently drop a section.
        "propertyNames": {"anyOf": [{"not": {"pattern": f"^{project}:"}}, {"enum": sorted(keys)}]},
    }
    schema = {
        "$schema": DIALECT,
        "$id": "https://github.com/aws-backup-copy/schema/stack.schema.json",
        "title": f"{project} stack file (Pulumi.<stack>.yaml)",
        "type": "object",
        "properties": {
            "config": config,
            "encryptionsalt": {"type": "string", "description": "Written by pulumi stack init"},
            "secretsprovider": {"type": "string", "description": "Written by pulumi stack init"},
            "encryptedkey": {"type": "string", "description": "Written by pulumi stack init"},
            "environment": {
                "description": "Pulumi ESC environments this stack imports",
                "anyOf": [
                    {"type": "array", "items": {"type": "string"}},
                    {"type": "object"},
                ],
            },
        },
        "additionalProperties": False,
        # Without ESC imports, which could supply them, the project's required keys are due.
        "if": {"not": {"required": ["environment"]}},
        "then": {
            "required": ["config"],
            "properties": {"config": {"required": required, **source_accounts_rule}},
        },
    }
    wrapped: dict[str, Any] = _wrap_values(_tidy(schema))
    wrapped["$defs"] = {
        **{name: _wrap_values(_tidy(value)) for name, value in sorted(definitions.items())},
        "secret": SECRET,
    }
    return wrapped


def render(schema: dict[str, Any]) -> str:
    """The file's text: stable key order and indentation, so a stale file shows as a diff."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m tools.schema [--check]`: write the schema, or fail when it is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = render(stack_file_schema(project_name()))
    if args.check:
        current = SCHEMA_PATH.read_text() if SCHEMA_PATH.is_file() else ""
        if current != text:
            print(f"{SCHEMA_PATH.relative_to(ROOT)} is stale: run `make schema`", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.parent.mkdir(exist_ok=True)
    SCHEMA_PATH.write_text(text)
    print(f"wrote {SCHEMA_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

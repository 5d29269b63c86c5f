"""Reading a stack's configuration: stack files as Pulumi reads them, and validation into a
`StackConfig` with every problem reported at once.

Imports no Pulumi module: the offline tools and `make doctor` read stack files through it, and
the Pulumi program (`deploy/loader.py`) hands it the values the engine gives.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from config.backup_plan import BackupPlanConfig
from config.destination import DestinationConfig
from config.errors import ConfigError, section_problems, unknown_key_message
from config.export import DynamoDbExportConfig
from config.operation_rules import operations_rules
from config.operations import AuditConfig, MonitoringConfig, RestoreTestingConfig
from config.organization import OrganizationConfig, SourceAccountConfig
from config.rules import (
    cross_section_rules,
    deployment_rules,
    name_rules,
    one_role_per_account,
    section_rules,
)
from config.scalars import _text_to_bool
from config.stack import OPTIONAL_KEYS, SECTIONS, STACK_KEYS, StackConfig

# The repository: `Pulumi.yaml` and the `Pulumi.<stack>.yaml` files are at its top.
ROOT = Path(__file__).resolve().parent.parent


@cache
def _adapter(key: str) -> TypeAdapter[Any]:
    return TypeAdapter(SECTIONS[key])


def _parse_section(key: str, raw: Any, prefix: str, problems: list[str]) -> Any:
    if raw is None:
        if key not in OPTIONAL_KEYS:
            problems.append(f"{key}: is required")
        return None
    try:
        return _adapter(key).validate_python(raw, context={"prefix": prefix})
    except ValidationError as error:
        problems.extend(section_problems(key, SECTIONS[key], error))
        return None


def _parse_export(raw: Any, prefix: str, problems: list[str]) -> DynamoDbExportConfig | None:
    """The export section when enabled; a disabled one is only checked for unknown keys."""
    if isinstance(raw, Mapping) and _text_to_bool(raw.get("enabled", False)) is False:
        known = [f.alias or n for n, f in DynamoDbExportConfig.model_fields.items()]
        problems.extend(
            f"dynamodbExport.{key}: {unknown_key_message(str(key), known)}"
            for key in raw
            if key not in known
        )
        return None
    export: DynamoDbExportConfig | None = _parse_section("dynamodbExport", raw, prefix, problems)
    return export


def parse_stack_config(project: str, raw: Mapping[str, Any]) -> StackConfig:
    """Validate raw config values (already decoded from JSON/YAML) into a `StackConfig`.

    `raw` holds every key of the project's namespace, without the `<project>:` part; a key
    this program does not know is a problem (nearly always a typo that would drop a section).
    Raises `ConfigError` listing every problem found, each prefixed with its key path.
    """
    problems: list[str] = []
    namespaced = [f"{project}:{key}" for key in STACK_KEYS]
    for key in raw:
        if key not in SECTIONS:
            problems.append(
                f"{project}:{key}: {unknown_key_message(f'{project}:{key}', namespaced)}"
            )
    environment: str | None = _parse_section("environment", raw.get("environment"), "", problems)
    # Defaults derived from an invalid environment would only repeat its problem.
    prefix = f"{project}-{environment or 'env'}"
    organization: OrganizationConfig | None = _parse_section(
        "organization", raw.get("organization"), prefix, problems
    )
    destination: DestinationConfig | None = _parse_section(
        "destination", raw.get("destination"), prefix, problems
    )
    sources: tuple[SourceAccountConfig, ...] | None = _parse_section(
        "sourceAccounts", raw.get("sourceAccounts"), prefix, problems
    )
    plan: BackupPlanConfig | None = _parse_section(
        "backupPlan", raw.get("backupPlan"), prefix, problems
    )
    export = _parse_export(raw.get("dynamodbExport"), prefix, problems)
    monitoring: MonitoringConfig | None = _parse_section(
        "monitoring", raw.get("monitoring"), prefix, problems
    )
    restore_testing: RestoreTestingConfig | None = _parse_section(
        "restoreTesting", raw.get("restoreTesting"), prefix, problems
    )
    audit: AuditConfig | None = _parse_section("audit", raw.get("audit"), prefix, problems)
    problems.extend(operations_rules(prefix, restore_testing, plan, destination, audit))
    plan_raw = raw.get("backupPlan")
    owns_region_settings = isinstance(plan_raw, Mapping) and "regionSettings" in plan_raw
    problems.extend(section_rules(organization, destination, plan, export))
    problems.extend(
        cross_section_rules(organization, destination, sources, plan, owns_region_settings)
    )
    problems.extend(name_rules(prefix, plan))
    sources_given = raw.get("sourceAccounts") is not None
    problems.extend(deployment_rules(organization, sources_given, plan))
    problems.extend(one_role_per_account(organization, destination, sources, export, monitoring))
    if problems:
        raise ConfigError(problems)
    assert environment and organization and destination and plan  # no problems: all present
    return StackConfig(
        project,
        environment,
        organization,
        destination,
        sources or (),
        plan,
        export,
        monitoring,
        restore_testing,
        audit if audit is not None and audit.enabled else None,
    )


# --- stack files, as Pulumi reads them ------------------------------------------------------


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping; a syntax error becomes a config error naming the file and line."""
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path.name
        problem = getattr(error, "problem", None) or str(error).replace("\n", " ")
        raise ConfigError([f"{where}: not valid YAML: {problem}"]) from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError([f"{path.name}: must be a YAML mapping, got {type(content).__name__}"])
    return content


def project_name(root: Path = ROOT) -> str:
    """The project's name, from `Pulumi.yaml`."""
    return str(read_yaml(root / "Pulumi.yaml")["name"])


def load_stack_file(stack: str, root: Path = ROOT) -> tuple[str, dict[str, str]]:
    """The project name and the stack's config as the engine hands it to a program.

    Pulumi.yaml `config:` values come first, then `Pulumi.<stack>.yaml` overrides them;
    structured values are JSON-encoded, as the engine does.
    """
    project_file = read_yaml(root / "Pulumi.yaml")
    project = str(project_file["name"])
    stack_path = root / f"Pulumi.{stack}.yaml"
    if not stack_path.is_file():
        raise FileNotFoundError(f"no stack file {stack_path.name} in {root}")
    stack_file = read_yaml(stack_path)
    values: dict[str, Any] = {}
    for key, declaration in (project_file.get("config") or {}).items():
        if isinstance(declaration, Mapping) and "value" in declaration:
            values[key if ":" in key else f"{project}:{key}"] = declaration["value"]
    values.update(stack_file.get("config") or {})
    encoded = {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()
    }
    return project, encoded


def project_values(project: str, encoded: Mapping[str, str]) -> dict[str, Any]:
    """The project namespace's values, decoded as `load_stack_config` decodes them.

    Known object sections are JSON; `environment` and any unknown key stay strings (they
    are only ever reported by name).
    """
    values: dict[str, Any] = {}
    for key, value in encoded.items():
        namespace, _, name = key.partition(":")
        if namespace != project:
            continue
        structured = name in STACK_KEYS and name != "environment"
        values[name] = json.loads(value) if structured else value
    return values


def parse_stack_file(stack: str, root: Path = ROOT) -> StackConfig:
    """The validated configuration of `Pulumi.<stack>.yaml`; ConfigError when it is invalid."""
    project, encoded = load_stack_file(stack, root)
    return parse_stack_config(project, project_values(project, encoded))

"""Reading a stack's configuration: stack files as Pulumi reads them, and validation into a
`StackConfig` with every problem reported at once.

`read_stack` reads `Pulumi.<stack>.yaml` as Pulumi would (numbers as Go's YAML reader makes
them; ESC imports through `pulumi config` when the CLI is installed) and says what it could not
read (secrets, ESC without the CLI); `parse_source` validates what it read, each problem at its
file and line, and turns a problem about what was not read into a note: a partial check.

Imports no Pulumi module: the offline tools and `make doctor` read stack files through it, and
the Pulumi program (`deploy/loader.py`) hands it the values the engine gives.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from config.backup_plan import BackupPlanConfig
from config.destination import DestinationConfig
from config.errors import (
    ConfigError,
    Marks,
    explained,
    key_path,
    number_message,
    section_problems,
    unknown_key_message,
)
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

# Unquoted digits with a leading zero. Pulumi reads stack files with Go's YAML package, whose
# resolver (gopkg.in/yaml resolve.go) tries `strconv.ParseInt(text, 0, 64)` first: 0123 is the
# octal number 83; digits that are not all octal (0129) fail it and fall through to ParseFloat,
# the number 129. PyYAML (YAML 1.1) agrees on the first and reads the second as the string
# "0129", which would let an unquoted account id 012345678901 pass here and fail under Pulumi.
# This loader reads both as Pulumi does; `Marks` keeps their text for the messages.
_GO_DECIMAL = "tag:yaml.org,2002:go-decimal"


class PulumiYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading unquoted leading-zero digits as Pulumi does."""


PulumiYamlLoader.add_implicit_resolver(_GO_DECIMAL, re.compile(r"^0[0-9]*[89][0-9]*$"), ["0"])
PulumiYamlLoader.add_constructor(_GO_DECIMAL, lambda _loader, node: int(node.value))


def _read(path: Path) -> tuple[dict[str, Any], yaml.Node | None]:
    """A YAML mapping and its node tree; a syntax error names the file and line."""
    loader = PulumiYamlLoader(path.read_text())
    try:
        node = loader.get_single_node()
        content = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path.name
        problem = getattr(error, "problem", None) or str(error).replace("\n", " ")
        raise ConfigError([f"{where}: not valid YAML: {problem}"]) from None
    finally:
        loader.dispose()
    if content is None:
        return {}, node
    if not isinstance(content, dict):
        raise ConfigError([f"{path.name}: must be a YAML mapping, got {type(content).__name__}"])
    return content, node


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping as Pulumi reads it; a syntax error becomes a config error naming the line."""
    return _read(path)[0]


def project_name(root: Path = ROOT) -> str:
    """The project's name, from `Pulumi.yaml`."""
    return str(read_yaml(root / "Pulumi.yaml")["name"])


def stack_names(root: Path = ROOT) -> list[str]:
    """Every stack with a `Pulumi.<stack>.yaml` in `root`."""
    return sorted(
        path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for path in root.glob("Pulumi.*.yaml")
    )


def stack_path(stack: str, root: Path = ROOT) -> Path:
    """`Pulumi.<stack>.yaml`; FileNotFoundError naming the stacks there are when it is missing."""
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = stack_names(root)
        listing = (
            f"{stack!r} {unknown_key_message(stack, known, 'stack')}"
            if known
            else "and no other Pulumi.<stack>.yaml"
        )
        raise FileNotFoundError(f"no stack file {path.name} in {root}: {listing}")
    return path


def _file_values(project_file: Mapping[str, Any], stack_file: Mapping[str, Any]) -> dict[str, Any]:
    """Pulumi.yaml `config:` values first, then `Pulumi.<stack>.yaml` overrides them."""
    project = str(project_file["name"])
    values: dict[str, Any] = {}
    for key, declaration in (project_file.get("config") or {}).items():
        if isinstance(declaration, Mapping) and "value" in declaration:
            values[key if ":" in key else f"{project}:{key}"] = declaration["value"]
    values.update(stack_file.get("config") or {})
    return values


def _encoded(values: Mapping[str, Any]) -> dict[str, str]:
    # Structured values are JSON-encoded, as the engine does; a YAML date becomes its text.
    return {
        key: value if isinstance(value, str) else json.dumps(value, default=str)
        for key, value in values.items()
    }


def load_stack_file(stack: str, root: Path = ROOT) -> tuple[str, dict[str, str]]:
    """The project name and the stack file's config as the engine hands it to a program.

    Pulumi.yaml `config:` values come first, then `Pulumi.<stack>.yaml` overrides them;
    structured values are JSON-encoded, as the engine does. The file alone: `read_stack`
    resolves ESC imports and leaves secrets out.
    """
    project_file = read_yaml(root / "Pulumi.yaml")
    stack_file = read_yaml(stack_path(stack, root))
    return str(project_file["name"]), _encoded(_file_values(project_file, stack_file))


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


# --- secrets and ESC: what cannot be read without the Pulumi CLI, and a partial check ---------

_SECRET = object()


def _without_secrets(
    value: Any, path: tuple[str | int, ...], found: list[tuple[str | int, ...]]
) -> Any:
    """`value` without its `{secure: ...}` values (Pulumi's ciphertext form), their paths in `found`."""
    if isinstance(value, Mapping) and len(value) == 1 and isinstance(value.get("secure"), str):
        found.append(path)
        return _SECRET
    if isinstance(value, Mapping):
        pairs = (
            (key, _without_secrets(item, (*path, str(key)), found)) for key, item in value.items()
        )
        return {key: item for key, item in pairs if item is not _SECRET}
    if isinstance(value, list):
        items = (_without_secrets(item, (*path, index), found) for index, item in enumerate(value))
        return [item for item in items if item is not _SECRET]
    return value


def _imports(environment: Any) -> list[str]:
    """The ESC environments a stack file's `environment:` imports."""
    if isinstance(environment, Mapping):
        environment = environment.get("imports")
    if isinstance(environment, list):
        return [str(name) for name in environment]
    return [str(environment)] if environment else []


def _pulumi_config(stack: str, root: Path) -> tuple[dict[str, str], list[str]] | str:
    """(values, secret keys) from `pulumi config --json --open`, or why it could not run."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        return "the Pulumi CLI is not on PATH"
    return _run_pulumi_config(pulumi, stack, root)


@cache
def _run_pulumi_config(
    pulumi: str, stack: str, root: Path
) -> tuple[dict[str, str], list[str]] | str:
    """`pulumi config --json --open` once per stack and process (it opens ESC environments).

    `--open` resolves the ESC environments; `--show-secrets` is never passed, so no secret is
    read or printed. Output (pulumi/pulumi, pkg/cmd/pulumi/config, `configValueJSON`): each key
    maps to `{"value": text, "objectValue": ..., "secret": bool}`, a secret without its value.
    """
    command = [pulumi, "config", "--json", "--open", "--non-interactive", "--stack", stack]
    try:
        done = subprocess.run(
            command, cwd=root, capture_output=True, text=True, timeout=300, check=False
        )
        listing = json.loads(done.stdout) if done.returncode == 0 else done.stderr
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        listing = str(error)
    if not isinstance(listing, dict):
        return f"pulumi config failed: {(str(listing).strip().splitlines() or ['no output'])[-1]}"
    entries = {key: entry for key, entry in listing.items() if isinstance(entry, Mapping)}
    values = {key: str(entry["value"]) for key, entry in entries.items() if "value" in entry}
    secrets = [key for key, entry in entries.items() if entry.get("secret") and key not in values]
    return values, sorted(secrets)


@dataclass
class StackSource:
    """A stack's configuration as the offline tools read it, and what they could not read."""

    stack: str
    project: str
    encoded: dict[str, str]
    marks: Marks
    # Key path -> why its value was not read (a secret); problems at or under it are not checked.
    unread: dict[str, str] = field(default_factory=dict)
    # The ESC environments nobody resolved: a missing key may come from them.
    unresolved: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    def path_of(self, key: str, rest: Sequence[str | int] = ()) -> str:
        """The key path of config key `key` (`project:name` or another namespace's) and `rest`."""
        namespace, _, name = key.partition(":")
        return key_path((name, *rest)) if namespace == self.project else key_path((key, *rest))

    def is_unread(self, path: str) -> bool:
        """Whether `path` is a value that was not read, or inside one."""
        return any(path == key or path.startswith((f"{key}.", f"{key}[")) for key in self.unread)


def read_stack(stack: str, root: Path = ROOT) -> StackSource:
    """`Pulumi.<stack>.yaml` as Pulumi would resolve it, as far as can be done here.

    A stack that imports Pulumi ESC environments is read with `pulumi config --json --open` when
    the Pulumi CLI is on PATH; otherwise, or when that fails, from the file, and the imports are
    noted as unresolved. Secure values are never read: each is noted and left out. Either way
    the check is partial, and says so; it is never a type error about a ciphertext.
    """
    project_file, _ = _read(root / "Pulumi.yaml")
    project = str(project_file["name"])
    path = stack_path(stack, root)
    content, node = _read(path)
    marks = Marks(path.name)
    marks.record(node, project)
    source = StackSource(stack, project, {}, marks)
    imports = _imports(content.get("environment"))
    resolved = _pulumi_config(stack, root) if imports else "not needed"
    if isinstance(resolved, tuple):
        source.encoded, secrets = dict(resolved[0]), resolved[1]
        for key in secrets:
            source.unread[source.path_of(key)] = "holds a secret, which pulumi config does not show"
    else:
        found: list[tuple[str | int, ...]] = []
        values = _without_secrets(_file_values(project_file, content), (), found)
        source.encoded = _encoded(values)
        for first, *rest in found:
            source.unread[source.path_of(str(first), rest)] = "is a secret"
        if imports:
            source.unresolved = tuple(imports)
            source.notes.append(
                f"partial: {path.name} imports the ESC environment {', '.join(imports)}, which "
                f"only the Pulumi CLI opens ({resolved}): the values it sets are not checked"
            )
    source.notes += [
        f"partial: {key} {why}: not checked" + (f" ({path.name}:{line})" if line else "")
        for key, why in source.unread.items()
        for line in [marks.line(key)]
    ]
    return source


def parse_source(source: StackSource) -> tuple[StackConfig | None, list[str]]:
    """The validated configuration, and notes on what was not checked or looks wrong.

    A problem at or under a value that was not read (a secret) is not reported, and with
    unresolved ESC imports neither is a missing key: the value may well be fine, and the notes
    say it was not checked. The config is None when such a value is needed to build it. Every
    other problem raises `ConfigError`, each at its file and line where the file has it.
    """
    notes = list(source.notes)
    values = project_values(source.project, source.encoded)
    try:
        config: StackConfig | None = parse_stack_config(source.project, values)
    except ConfigError as error:
        problems: list[str] = []
        for problem in error.problems:
            path, _, message = problem.partition(": ")
            if source.is_unread(path):
                continue
            if source.unresolved and message.startswith("is required"):
                notes.append(f"partial: {path} is not set in {source.marks.file}: not checked")
                continue
            problems += explained(problem, source.marks)
        if problems:
            raise ConfigError(list(dict.fromkeys(problems))) from None
        config = None
    notes += [
        source.marks.at(f"{at}: {number_message(at, text, refused=False)}")
        for at, text in source.marks.numbers.items()
    ]
    return config, notes


def parse_stack_file(stack: str, root: Path = ROOT) -> StackConfig:
    """The validated configuration of `Pulumi.<stack>.yaml`; ConfigError when it is invalid,
    or when a value it needs could not be read (a secret, an unresolved ESC import)."""
    config, notes = parse_source(read_stack(stack, root))
    if config is None:
        raise ConfigError([note for note in notes if note.startswith("partial: ")])
    return config

"""The stack's configuration as the Pulumi engine hands it to the program.

`config` validates without Pulumi; here its `ConfigError` becomes a `pulumi.RunError` as well,
which the Pulumi CLI prints without a stack trace.
"""

from __future__ import annotations

from typing import Any

import pulumi

from config import ConfigError, StackConfig, parse_stack_config
from config.stack import SECTIONS, STACK_KEYS


class StackConfigError(ConfigError, pulumi.RunError):
    """A `ConfigError` the Pulumi CLI reports as a plain message (a `pulumi.RunError`)."""


def project_config_keys(project: str) -> list[str]:
    """Every config key of the project's namespace the engine handed to this program.

    `pulumi.Config` can only fetch keys by name, so unknown (misspelt) keys are found in the
    runtime's config map (filled by the language host, or by `set_all_config` under mocks) and
    in `PULUMI_CONFIG`, which is where `pulumi.runtime.get_config` looks too.
    """
    from pulumi.runtime import config as runtime_config

    names = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    namespace = f"{project}:"
    return sorted(name.removeprefix(namespace) for name in names if name.startswith(namespace))


def load_stack_config() -> StackConfig:
    """Read and validate this stack's configuration from the Pulumi runtime."""
    project = pulumi.get_project()
    config = pulumi.Config(project)
    raw: dict[str, Any] = {}
    problems: list[str] = []
    for key in sorted(set(STACK_KEYS) | set(project_config_keys(project))):
        try:
            # Only known object sections are decoded; anything else is reported by name.
            structured = key in SECTIONS and key != "environment"
            raw[key] = config.get_object(key) if structured else config.get(key)
        except Exception as error:  # noqa: BLE001 - any decoding failure is a user-facing config problem
            problems.append(f"{key}: is not valid JSON/YAML ({error})")
    if problems:
        raise StackConfigError(problems)
    try:
        parsed = parse_stack_config(
            project, {key: value for key, value in raw.items() if value is not None}
        )
    except ConfigError as error:
        raise StackConfigError(error.problems) from None
    # Deprecated forms still deploy; `pulumi preview/up` shows each as a warning.
    for message in parsed.warnings:
        pulumi.log.warn(message)
    return parsed

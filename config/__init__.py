"""The typed, validated configuration of one stack: pydantic v2 models, one definition for two uses.

The models say what every key a user can set may hold: they validate a stack's config (types,
formats, ranges, unknown keys) and they generate the JSON Schema for stack files
(`tools/schema.py` writes `schema/stack.schema.json`), so the two cannot drift. Each section is
validated on its own; rules that relate keys to each other (within a section or across
sections) then run on whatever parsed, and their problems are merged with the field errors.
A user sees every problem in one `ConfigError`, each with its key path and how to fix it.

| module | holds |
| --- | --- |
| `errors` | `ConfigError`, key paths, pydantic's errors in this project's words |
| `scalars` | identifiers, numbers, schedules, Regions: each check with its JSON Schema |
| `section` | what every section shares (`Section`, `AccountAccess`, default names) |
| `organization` | organization, delegation, member deployment, source accounts |
| `destination` | the central account, its vaults, Vault Lock, who may copy in |
| `backup_plan` | the plan, its selection and service role, Region settings |
| `export` | the DynamoDB export |
| `operations` | monitoring, restore testing, audit |
| `stack` | `StackConfig`: the sections together |
| `rules`, `operation_rules` | rules between keys and sections |
| `loader` | stack files as Pulumi reads them; `parse_stack_config` |

Nothing here imports Pulumi: the program (`deploy/loader.py`), the offline tools and
`make doctor` all read configuration through this package.
"""

from config.backup_plan import BackupPlanConfig, RegionSettingsConfig, SelectionTag
from config.destination import DestinationConfig, VaultLockConfig
from config.errors import ConfigError
from config.export import DynamoDbExportConfig, ExportBucketConfig
from config.loader import (
    load_stack_file,
    parse_stack_config,
    parse_stack_file,
    project_name,
    project_values,
)
from config.operations import AuditConfig, MonitoringConfig, RestoreTestingConfig
from config.organization import OrganizationConfig, SourceAccountConfig, StackSetConfig
from config.section import AccountAccess
from config.stack import StackConfig

__all__ = [
    "AccountAccess",
    "AuditConfig",
    "BackupPlanConfig",
    "ConfigError",
    "DestinationConfig",
    "DynamoDbExportConfig",
    "ExportBucketConfig",
    "MonitoringConfig",
    "OrganizationConfig",
    "RegionSettingsConfig",
    "RestoreTestingConfig",
    "SelectionTag",
    "SourceAccountConfig",
    "StackConfig",
    "StackSetConfig",
    "VaultLockConfig",
    "load_stack_file",
    "parse_stack_config",
    "parse_stack_file",
    "project_name",
    "project_values",
]

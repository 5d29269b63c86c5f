"""`make doctor STACK=dev`: read-only checks of a stack's accounts against AWS.

Reads `Pulumi.<stack>.yaml`, reaches each account through its `previewRoleArn` (accounts found
only under targeted OUs through `organization.doctorRoleName`), and reports every check as
`ok`, `warning`, `failure` or `unknown`, with the account, Region, resource and the fix.
No Pulumi engine, no writes: every AWS call is a Describe, List or Get.

Exit status: 1 when a check failed, 2 on a configuration error, else 0 (warnings and unknowns
do not fail). `--format json` prints only a JSON array of
{check, status, account, region, resource, fix}.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from config import ConfigError, StackConfig
from config.loader import ROOT, parse_stack_file
from policies.doctor import doctor_permissions, doctor_trust_policy
from tools.doctor.access import Sessions
from tools.doctor.context import Context, Options
from tools.doctor.model import as_json, as_text, exit_status, summary
from tools.doctor.run import run_doctor
from topology import Topology


def role_documents(config: StackConfig) -> dict[str, object]:
    """The doctor role's trust and permissions for this stack, to create it by hand."""
    home = Topology(config).administering_account
    runners = [arn for arn in (home.preview_role_arn, home.role_arn) if arn]
    return {
        "roleName": config.organization.doctor_role_name,
        "trustPolicy": doctor_trust_policy(home.account_id, runners),
        "permissionsPolicy": doctor_permissions(),
    }


def parser() -> argparse.ArgumentParser:
    """The command line."""
    parsed = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parsed.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    parsed.add_argument("--format", choices=("text", "json"), default="text")
    parsed.add_argument(
        "--allow-deploy-role",
        action="store_true",
        help="read through each account's roleArn (the deploy role) where one is set",
    )
    parsed.add_argument(
        "--before-deploy",
        action="store_true",
        help="before the first pulumi up: skip what the stack creates, check prerequisites",
    )
    parsed.add_argument("--all", action="store_true", help="text: list passing checks one by one")
    parsed.add_argument("--workers", type=int, default=8, help="accounts checked at once")
    parsed.add_argument(
        "--print-role",
        action="store_true",
        help="print the doctor role's trust and permissions policies for this stack and exit",
    )
    return parsed


def main(
    argv: Sequence[str] | None = None, sessions: Sessions | None = None, root: Path = ROOT
) -> int:
    """Command-line entry point; returns the exit status. `sessions` and `root` are for tests."""
    args = parser().parse_args(argv)
    try:
        config = parse_stack_file(args.stack, root)
    except ConfigError as error:
        print(f"error: stack {args.stack}: {error}", file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.print_role:
        print(json.dumps(role_documents(config), indent=2))
        return 0
    options = Options(args.allow_deploy_role, args.before_deploy, max(1, args.workers))
    ctx = Context(args.stack, config, sessions or Sessions(config.organization.region), options)
    report = run_doctor(ctx)
    line = f"stack {args.stack}: {summary(report.findings, report.accounts, report.skipped)}"
    if args.format == "json":
        print(as_json(report.findings))
        print(line, file=sys.stderr)
    else:
        print("\n".join([*as_text(report.findings, show_ok=args.all), line]))
    return exit_status(report.findings)


if __name__ == "__main__":
    sys.exit(main())

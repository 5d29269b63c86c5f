"""`make validate STACK=dev`: is the stack's configuration valid, and is it alone in its names?

Checks `Pulumi.<stack>.yaml` and runs the cross-stack check (`tools.cross_stack`) against every
other stack file, as `make plan` does before it plans, and writes nothing. The check needs the
names the stack would create, so the program runs once offline under mocks (about a second).
Exit status 0 when the stack may be planned; 2 on a config error or a collision, with the same
messages as `make plan` and no stack trace.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from config import ConfigError
from tools.cross_stack import check_stack, format_result
from tools.offline import OfflineRun, run_program


def checked_run(stack: str, err: TextIO | None = None) -> OfflineRun | None:
    """The stack's offline run when its config is valid and it collides with no other stack.

    Problems and the cross-stack check's verdict and warnings go to `err` (stderr by
    default); None means the stack must not be planned, and the caller exits with status 2.
    """
    # Resolved at call time so that pytest's capture of sys.stderr sees the messages.
    stream = err if err is not None else sys.stderr
    try:
        run = run_program(stack)
        check = check_stack(stack, run)
    except ConfigError as error:
        print(f"error: stack {stack}: {error}", file=stream)
        return None
    except FileNotFoundError as error:
        print(f"error: {error}", file=stream)
        return None
    for line in format_result(stack, check):
        print(line, file=stream)
    for message in run.warnings:
        print(f"warning: stack {stack}: {message}", file=stream)
    return None if check.collisions else run


def add_stack_argument(parser: argparse.ArgumentParser) -> None:
    """The `--stack` option both commands take."""
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_stack_argument(parser)
    args = parser.parse_args(argv)
    run = checked_run(args.stack)
    if run is None:
        return 2
    accounts = {resource.account_id for resource in run.resources if resource.account_id}
    print(
        f"stack {args.stack}: configuration valid; {len(run.resources)} resources in "
        f"{len(accounts)} accounts; nothing written"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

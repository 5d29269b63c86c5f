"""`make validate STACK=dev`: is the stack's configuration valid, and is it alone in its names?

Reads `Pulumi.<stack>.yaml` as Pulumi does (`config.loader.read_stack`: ESC imports through the
Pulumi CLI when it is installed; secrets never), checks it, and runs the cross-stack check
(`tools.cross_stack`) against every other stack file, as `make plan` does before it plans, and
writes nothing. The check needs the names the stack would create, so the program runs once
offline under mocks (about a second).

Exit status 0 when the stack may be planned, or when what could be read is valid but values it
needs could not be read (a partial check: the warnings name them); 2 on a config error, a
collision or a missing stack file, with the same messages as `make plan` and no stack trace.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from config import ConfigError
from config.loader import parse_source, read_stack
from tools.cross_stack import check_stack, format_result
from tools.offline import OfflineRun, run_program


@dataclass(frozen=True)
class Checked:
    """What the checks found: the offline run when the stack may be planned, whether some values
    were not read (a partial check), and the exit status."""

    run: OfflineRun | None
    partial: bool
    status: int


def check(stack: str, err: TextIO | None = None) -> Checked:
    """Check the stack's configuration and its names against the other stacks.

    Problems, partial notes and the cross-stack check's verdict and warnings go to `err`
    (stderr by default), one line each.
    """
    # Resolved at call time so that pytest's capture of sys.stderr sees the messages.
    stream = err if err is not None else sys.stderr
    try:
        source = read_stack(stack)
        config, notes = parse_source(source)
        for note in notes:
            print(f"warning: {note}", file=stream)
        partial = any(note.startswith("partial: ") for note in notes)
        if config is None:
            print(
                f"stack {stack}: the program was not run: values it needs were not read "
                "(see the warnings)",
                file=stream,
            )
            return Checked(None, True, 0)
        # The same reading: run_program reads the stack with read_stack too.
        run = run_program(stack)
        result = check_stack(stack, run)
    except ConfigError as error:
        print(f"error: stack {stack}: {error}", file=stream)
        return Checked(None, False, 2)
    except FileNotFoundError as error:
        print(f"error: {error}", file=stream)
        return Checked(None, False, 2)
    for line in format_result(stack, result):
        print(line, file=stream)
    for message in run.warnings:
        print(f"warning: stack {stack}: {message}", file=stream)
    return Checked(None, partial, 2) if result.collisions else Checked(run, partial, 0)


def checked_run(stack: str, err: TextIO | None = None) -> OfflineRun | None:
    """The stack's offline run when its config is valid and it collides with no other stack;
    None means the stack must not (or, partly read, cannot) be planned: exit status 2."""
    return check(stack, err).run


def add_stack_argument(parser: argparse.ArgumentParser) -> None:
    """The `--stack` option both commands take."""
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_stack_argument(parser)
    args = parser.parse_args(argv)
    checked = check(args.stack)
    partial = " as far as it was read (partial: see the warnings)" if checked.partial else ""
    if checked.run is None:
        if checked.status == 0:
            print(f"stack {args.stack}: configuration valid{partial}; nothing written")
        return checked.status
    run = checked.run
    accounts = {resource.account_id for resource in run.resources if resource.account_id}
    print(
        f"stack {args.stack}: configuration valid{partial}; {len(run.resources)} resources in "
        f"{len(accounts)} accounts; nothing written"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

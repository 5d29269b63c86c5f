"""The flow catalogue: every request the stacks set up between accounts or services.

Each hop says who calls (a role ARN pattern or a service principal), which action on which
resource, the request-context keys AWS documents for it (present and absent), the policies that
must allow it, and the AWS page behind it. Where AWS documents nothing, the hop says so and
names the acceptance runbook step that proves it online. `docs/flows.md` is rendered from this
module (`python -m flows.catalogue --write`); a test keeps the page in step, and another
checks that every hop is exercised by the flow tests (`tests/flows/`) over the example stacks.

What the offline evaluator (`flows.evaluator`) decides is a request against an *assumed*
context: it does not model KMS grants, SCPs or RCPs, permissions boundaries, session policies,
VPC endpoint policies, or which keys a service actually sends. Those are the runbook's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from flows.hops import FLOWS, HOPS

DOCS = Path(__file__).resolve().parent.parent / "docs" / "flows.md"

INTRO = """# Flow catalogue

Every request the stacks set up between accounts or services, hop by hop: who calls, what, on
which resource, the request-context keys AWS documents for that hop (present, and absent or
unsupported), the policies that must allow it (a cross-account request needs the caller's
identity policy **and** the resource's policy), and the AWS page behind it. Where AWS documents
nothing, the hop says so and names the acceptance runbook step that proves it online
([operations](operations.md#acceptance-runbook)).

`tests/flows/` evaluates each hop over the rendered documents of the dev, prod and sandbox
stacks and of generated organizations (providers and stackSets mode): the request with its
documented context is allowed, and its negatives (another role of the account, an account
outside the scope, another environment's role) are denied. It uses `flows.evaluator`, which
models AWS's documented evaluation logic for the forms these documents use, against an
*assumed* context: it does **not** model KMS grants, SCPs or RCPs, permissions boundaries,
session policies, VPC endpoint policies, or which keys a service actually sends. The identity
side of AWS managed roles comes from `flows/managed.py` (excerpts of the managed policies).

This page is generated from `flows/catalogue.py` (`python -m flows.catalogue --write`).
"""


def _text(value: str) -> str:
    """`value` for a Markdown table cell: `<placeholders>` outside code spans escaped (else
    they read as HTML tags), `|` escaped everywhere."""
    parts = value.split("`")
    for index in range(0, len(parts), 2):
        parts[index] = parts[index].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts).replace("|", "\\|")


def _cell(values: Sequence[str]) -> str:
    return "<br>".join(_text(value) for value in values) if values else "none"


def render() -> str:
    """The catalogue page, every hop under its flow."""
    lines = [INTRO]
    for flow in FLOWS:
        lines.append(f"## {flow}\n")
        lines.append(
            "| hop | caller | action | resource | context present | absent or unsupported | must allow | AWS | confidence |"
        )
        lines.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for hop in (h for h in HOPS if h.flow == flow):
            confidence = hop.confidence + (f": {hop.proof}" if hop.proof else "")
            cells = (
                _text(f"`{hop.id}`: {hop.title}"),
                _text(hop.caller),
                _text(hop.action),
                _text(hop.resource),
                _cell(hop.present),
                _cell(hop.absent),
                _cell(hop.policies),
                _cell(hop.sources),
                _text(confidence),
            )
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the page, or write it to docs/flows.md with `--write`."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {DOCS.name}")
    args = parser.parse_args(argv)
    if args.write:
        DOCS.write_text(render(), encoding="utf-8")
    else:
        sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

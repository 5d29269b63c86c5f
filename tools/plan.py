"""`make plan STACK=dev`: the offline plan of one stack.

Runs the program under recording mocks with `Pulumi.<stack>.yaml`, checks that no other
stack file in the folder would create the same physical names or own the same singletons
(`tools.validate`, which `make validate` runs alone), prints one row per resource (type,
logical name, account, Region, parent component) and writes every policy document as pretty
JSON under `build/<stack>/`, with the statements workload teams add to their keys
(`workload-key-policy.json`).
Bad config or a collision: the message and exit status 2, no stack trace.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from tools.inventory import write_inventory
from tools.offline import PROVIDER_TYPE, ROOT, OfflineRun
from tools.validate import add_stack_argument, checked_run

# Stack outputs that are documents for people outside the stack: written as files.
DOCUMENT_OUTPUTS = {"workloadKeyPolicyStatements": "workload-key-policy"}


def format_table(run: OfflineRun) -> str:
    """A fixed-width table of the resources the stack declares, grouped by component."""
    header = ("TYPE", "NAME", "ACCOUNT", "REGION", "PARENT")
    # Registration order follows async scheduling; grouping by component keeps it stable.
    ordered = sorted(
        run.resources,
        key=lambda r: (r.type == PROVIDER_TYPE, r.parent_name or r.name, r.custom, r.name),
    )
    rows = [
        (r.type, r.name, r.account_id or "-", r.region or "-", r.parent_name or "-")
        for r in ordered
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


def write_documents(run: OfflineRun, out_dir: Path) -> list[Path]:
    """Write each policy document as sorted, indented JSON; the folder holds nothing else."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    written = []
    documents = dict(run.documents())
    for output, stem in DOCUMENT_OUTPUTS.items():
        if output in run.outputs:
            documents[stem] = run.outputs[output]
    for stem, document in sorted(documents.items()):
        path = out_dir / f"{stem}.json"
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_stack_argument(parser)
    parser.add_argument("--out", type=Path, help="where to write documents (default build/<stack>)")
    args = parser.parse_args(argv)
    run = checked_run(args.stack)
    if run is None:
        return 2
    out_dir = args.out if args.out is not None else ROOT / "build" / args.stack
    written = write_documents(run, out_dir)
    write_inventory(run, out_dir)
    print(format_table(run))
    print(f"\n{len(run.resources)} resources; {len(written)} policy documents written to {out_dir}")
    for name, value in sorted(run.outputs.items()):
        if name in DOCUMENT_OUTPUTS:
            print(f"output {name}: written to {out_dir / DOCUMENT_OUTPUTS[name]}.json")
        else:
            print(f"output {name}: {json.dumps(value, sort_keys=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

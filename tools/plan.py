"""`make plan STACK=dev`: the offline plan of one stack.

Runs the program under recording mocks with `Pulumi.<stack>.yaml`, checks that no other
stack file in the folder would create the same physical names or own the same singletons
(`tools.validate`, which `make validate` runs alone), prints one row per resource (type,
logical name, account, Region, parent component), one summary line per account and the
stack outputs, all within 120 columns, and writes every policy document as pretty JSON under
`build/<stack>/`, with the statements workload teams add to their keys
(`workload-key-policy.json`) and every resource's inputs (`resources.json`).
Bad config or a collision: the message and exit status 2, no stack trace.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.loader import ROOT
from tools.cross_stack import SINGLETONS
from tools.inventory import INVENTORY_FILE, normalize, write_inventory
from tools.offline import PROVIDER_TYPE, OfflineRun, RecordedResource
from tools.validate import add_stack_argument, checked_run

# Stack outputs that are documents for people outside the stack: written as files.
DOCUMENT_OUTPUTS = {"workloadKeyPolicyStatements": "workload-key-policy"}

# A terminal, a pull-request log or a review comment shows this many columns without wrapping.
WIDTH = 120
ELLIPSIS = "…"
INDENT = "    "
GAP = "  "
HEADER = ("TYPE", "NAME", "ACCOUNT", "REGION", "PARENT")
# How much of the room each column gets when the table is too wide. The name is how a
# resource is found (`pulumi state`, resources.json), so it keeps the most; the parent repeats
# the start of its children's names, so it gives way first. Account and Region never shrink:
# a shortened id is a wrong id.
SHARES = (4, 5, 0, 0, 2)
# A column shrinks no further than this, so that what is left still says something.
MIN_COLUMN = 10

# What an account holds, in the order a summary names it: a resource is counted under its own
# type (singletons, which only one stack may own: tools/cross_stack.py) or else under the
# component it belongs to (a vault's policy and lock, a key's alias, an exporter's role,
# schedules and alarms are part of that component).
HOLDING_LABELS = {
    "backup:index:OrganizationBackupPolicy": "backup policy",
    "backup:index:OrganizationSettings": "organization settings",
    "aws:organizations/delegatedAdministrator:DelegatedAdministrator": "delegated administrator",
    "aws:backup/globalSettings:GlobalSettings": "global settings",
    "aws:organizations/resourcePolicy:ResourcePolicy": "Organizations resource policy",
    "backup:index:DestinationAccount": "destination vault",
    "backup:index:SourceAccount": "source vault",
    "backup:index:ExportBucket": "export bucket",
    "backup:index:CustomerManagedKey": "key",
    "aws:backup/regionSettings:RegionSettings": "Region settings",
    "backup:index:BackupServiceRole": "service role",
    "backup:index:DynamoDbExporter": "exporter",
    "backup:index:AlertHub": "alert bus and topic",
    "backup:index:AlertForwarder": "alert forwarding",
    "backup:index:RestoreTesting": "restore testing",
    "backup:index:MemberStackSet": "member StackSet",
    "backup:index:AuditFramework": "audit framework",
    "backup:index:AuditReports": "audit reports",
}
# Services whose resources are not in a Region, whichever Region their provider names.
GLOBAL_SERVICES = frozenset({"iam", "organizations"})


def short_type(token: str) -> str:
    """A type token as `pulumi preview` shows it: `aws:s3/bucket:Bucket` -> `aws:s3:Bucket`.

    Only a module segment that repeats the member name is dropped, so nothing is lost; any
    other token stays whole.
    """
    package, _, rest = token.partition(":")
    module, _, member = rest.partition(":")
    parent_module, slash, file = module.rpartition("/")
    if not member or not slash or file != member[0].lower() + member[1:]:
        return token
    return f"{package}:{parent_module}:{member}"


def shorten(text: str, width: int) -> str:
    """`text` cut to `width` characters with an ellipsis in the middle, or `text` if it fits.

    The middle goes: a logical name starts with its component and ends with what the resource
    is, and the account and Region in between have their own columns.
    """
    if len(text) <= width:
        return text
    if width < 3:
        return text[:width]
    head = (width - 1) // 2
    return text[:head] + ELLIPSIS + text[len(text) - (width - 1 - head) :]


def fit_widths(
    natural: Sequence[int], limit: int, shares: Sequence[int], minimum: int = MIN_COLUMN
) -> list[int]:
    """Column widths that add up to at most `limit`, taken from the columns with a share.

    The column that is widest for its share gives up one character at a time, down to
    `minimum` (or its natural width, if smaller); columns with a share of 0 never shrink.
    The result can still exceed `limit` when every column is at its floor.
    """
    widths = list(natural)
    floors = [min(width, minimum) for width in natural]
    while sum(widths) > limit:
        shrinkable = [i for i, share in enumerate(shares) if share and widths[i] > floors[i]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i] / shares[i])
        widths[widest] -= 1
    return widths


def table_rows(run: OfflineRun) -> list[tuple[str, str, str, str, str]]:
    """One row per resource, grouped by component, in full."""
    # Registration order follows async scheduling; grouping by component keeps it stable.
    ordered = sorted(
        run.resources,
        key=lambda r: (r.type == PROVIDER_TYPE, r.parent_name or r.name, r.custom, r.name),
    )
    return [
        (short_type(r.type), r.name, r.account_id or "-", r.region or "-", r.parent_name or "-")
        for r in ordered
    ]


def format_table(rows: Sequence[Sequence[str]], width: int = WIDTH) -> list[str]:
    """The rows under HEADER, aligned, with long cells shortened so no line exceeds `width`."""
    natural = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]
    room = width - len(GAP) * (len(HEADER) - 1)
    widths = fit_widths(natural, room, SHARES)
    return [
        GAP.join(
            shorten(cell, cell_width).ljust(cell_width)
            for cell, cell_width in zip(row, widths, strict=True)
        ).rstrip()
        for row in [HEADER, *rows]
    ]


def wrap(prefix: str, words: Sequence[str], width: int = WIDTH) -> list[str]:
    """`prefix` and the words, joined by spaces, on as many lines as it takes to fit `width`.

    A word is never broken: one that is longer than the room left (an ARN, a path) stands
    whole on its line. Continuation lines are indented.
    """
    lines: list[str] = []
    line = prefix
    for index, word in enumerate(words):
        joined = f"{line} {word}" if line else word
        # The first word stays with the prefix: `output name =` alone on a line says nothing.
        if index == 0 or len(joined) <= width:
            line = joined
        else:
            lines.append(line)
            line = INDENT + word
    lines.append(line)
    return lines


@dataclass(frozen=True)
class AccountSummary:
    """What the stack puts in one account."""

    account_id: str
    regions: tuple[str, ...]
    resources: int
    # Label -> the Regions it is in; empty for what is not in a Region (IAM, Organizations).
    holdings: Mapping[str, frozenset[str]]


def _words(member: str) -> str:
    # A component nobody named yet still shows up, as "FooBar" -> "foo bar".
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", member).lower()


def holding_label(resource: RecordedResource, parent: RecordedResource | None) -> str:
    """What a resource is part of, as an account summary names it."""
    for token in (resource.type, parent.type if parent else None):
        if token in HOLDING_LABELS:
            return HOLDING_LABELS[token]
    return _words((parent or resource).type.rpartition(":")[2])


def _regional(resource: RecordedResource) -> bool:
    service = resource.type.partition(":")[2].partition("/")[0]
    singleton = SINGLETONS.get(resource.type)
    organization_wide = singleton is not None and singleton[1] == "organization"
    return service not in GLOBAL_SERVICES and not organization_wide


def _rank(label: str) -> tuple[int, str]:
    order = list(HOLDING_LABELS.values())
    return (order.index(label) if label in order else len(order), label)


def _summary(
    account: str, resources: Sequence[RecordedResource], by_urn: Mapping[str, RecordedResource]
) -> AccountSummary:
    holdings: dict[str, set[str]] = {}
    for resource in resources:
        label = holding_label(resource, by_urn.get(resource.parent_urn or ""))
        where = holdings.setdefault(label, set())
        if resource.region and _regional(resource):
            where.add(resource.region)
    return AccountSummary(
        account_id=account,
        regions=tuple(sorted({r.region for r in resources if r.region})),
        resources=len(resources),
        holdings={label: frozenset(holdings[label]) for label in sorted(holdings, key=_rank)},
    )


def account_summaries(run: OfflineRun) -> list[AccountSummary]:
    """One summary per account the stack deploys into, by account id."""
    by_urn = {resource.urn: resource for resource in run.resources}
    placed: dict[str, list[RecordedResource]] = {}
    for resource in run.resources:
        # Providers and components are not AWS resources: they are in no account.
        if resource.custom and resource.type != PROVIDER_TYPE and resource.account_id:
            placed.setdefault(resource.account_id, []).append(resource)
    return [_summary(account, placed[account], by_urn) for account in sorted(placed)]


def describe_holdings(summary: AccountSummary) -> list[str]:
    """`destination vault, key (2 Regions)` as words: the labels, grouped by their Regions.

    In an account with one Region the Regions go without saying. Otherwise what is in every
    Region comes first with a count, then what is in only some, by name, then what is in
    none (IAM roles). A label and its Regions stay one word, so a wrapped line never splits
    them.
    """
    groups: dict[tuple[str, ...], list[str]] = {}
    for label, regions in summary.holdings.items():
        key = tuple(sorted(regions)) if len(summary.regions) > 1 else ()
        groups.setdefault(key, []).append(label)
    words = []
    ordered = sorted(groups.items(), key=lambda item: (-len(item[0]), item[0]))
    for group, (where, labels) in enumerate(ordered):
        if where == summary.regions:
            suffix = f" ({len(where)} Regions)"
        elif where:
            suffix = f" ({', '.join(where)})"
        else:
            suffix = ""
        last_group = group == len(ordered) - 1
        words += [f"{label}," for label in labels[:-1]]
        words.append(labels[-1] + suffix + ("" if last_group else ";"))
    return words


def format_summary(summary: AccountSummary, width: int = WIDTH) -> list[str]:
    """`account 555555555555 (ap-southeast-1, ap-southeast-2), 10 resources: ...`."""
    noun = "resource" if summary.resources == 1 else "resources"
    regions = ", ".join(summary.regions)
    prefix = f"account {summary.account_id} ({regions}), {summary.resources} {noun}:"
    return wrap(prefix, describe_holdings(summary), width)


def _leaves(path: str, value: Any) -> Iterator[tuple[str, Any]]:
    # A map or list prints one line per entry, `name[key]`, so no line holds a whole map.
    if isinstance(value, Mapping) and value:
        for key in sorted(value):
            yield from _leaves(f"{path}[{key}]", value[key])
    elif isinstance(value, list | tuple) and value:
        for index, item in enumerate(value):
            yield from _leaves(f"{path}[{index}]", item)
    else:
        yield path, value


def _show(value: Any) -> str:
    # A plain string reads best bare; one that bare would hide (empty, padded, multi-line)
    # and anything that is not a string is shown as JSON.
    if isinstance(value, str) and value and value.isprintable() and value.strip() == value:
        return value
    return json.dumps(value, sort_keys=True)


def shown_path(path: Path) -> Path:
    """`path` relative to the working directory when it is below it: shorter to read."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def format_outputs(outputs: Mapping[str, Any], out_dir: Path, width: int = WIDTH) -> list[str]:
    """The stack outputs, one line per value; document outputs name the file they went to."""
    lines = []
    for name, value in sorted(outputs.items()):
        if name in DOCUMENT_OUTPUTS:
            path = shown_path(out_dir / f"{DOCUMENT_OUTPUTS[name]}.json")
            lines.append(f"output {name}: written to {path}")
            continue
        for key, leaf in _leaves(name, normalize(value)):
            lines += wrap(f"output {key} =", _show(leaf).split(" "), width)
    return lines


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


def report(run: OfflineRun, out_dir: Path, documents: int, width: int = WIDTH) -> list[str]:
    """Everything `make plan` prints on success: table, account summaries, outputs."""
    lines = format_table(table_rows(run), width)
    if any(ELLIPSIS in line for line in lines):
        inventory = shown_path(out_dir / INVENTORY_FILE)
        note = f"({ELLIPSIS} marks a shortened value; {inventory} has every resource in full)"
        lines += wrap("", note.split(" "), width)
    summaries = account_summaries(run)
    components = sum(1 for resource in run.resources if not resource.custom)
    providers = sum(1 for resource in run.resources if resource.type == PROVIDER_TYPE)
    aws_resources = len(run.resources) - components - providers
    lines += [
        "",
        f"{len(run.resources)} resources: {aws_resources} AWS resources in {len(summaries)} "
        f"accounts, {components} components, {providers} providers",
    ]
    for summary in summaries:
        lines += format_summary(summary, width)
    lines += ["", f"{documents} policy documents written to {shown_path(out_dir)}"]
    lines += format_outputs(run.outputs, out_dir, width)
    return lines


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
    print("\n".join(report(run, out_dir, len(written))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

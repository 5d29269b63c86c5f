"""Policy sizes at organization scale: part of `make bench PART=plan`.

The central key policy, the central vault's access policy and the alert bus policy name every
source account in providers mode (one account root per admission statement), so they grow with
the accounts; AWS caps two of them. This builds them with the program's own builders for the
prod example with N source accounts (`bench.plan.providers_config`: the prod OU and the N
accounts as policy targets, `allowCopiesFrom: policyTargets`, `allowCopyBack: true`,
monitoring on) and prints their sizes, and the most accounts each one fits:

- key policy: "The maximum length of a key policy document is 32 KB (32,768 bytes)" (AWS KMS
  Developer Guide, "Resource quotas"), measured as `check_key_policy_size` does;
- bus policy: EventBridge's 10,240 characters (`policies.alerts.MAX_BUS_POLICY_CHARACTERS`),
  measured as `bus_policy` does;
- vault access policy: AWS documents no size limit (AWS Backup API Reference,
  PutBackupVaultAccessPolicy; "AWS Backup quotas"), so it is only measured.

In stackSets mode none of them grows with the accounts (they name OUs by
`aws:PrincipalOrgPaths`), so only providers mode has rows.

Usage: venv/bin/python bench/policy_sizes.py [--accounts 50 100 150 300]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.plan import format_table, providers_config
from config import parse_stack_config
from config.loader import ROOT, project_name, project_values
from policies.alerts import MAX_BUS_POLICY_CHARACTERS, bus_policy
from policies.backup import vault_access_policy
from policies.kms import MAX_KEY_POLICY_BYTES, destination_key_policy
from topology import Topology

DEFAULT_ACCOUNTS = (50, 100, 150, 300)
# Enough to find every limit by bisection: the bus fits about 290, the key without copy back
# several hundred.
SEARCH_LIMIT = 2_000


@dataclass(frozen=True)
class Sizes:
    """The sizes of one generated stack's growing policies; None where the builder refuses."""

    accounts: int
    key_with_copy_back: int
    key_without_copy_back: int
    vault: int
    bus: int | None


def _topology(accounts: int) -> Topology:
    project = project_name(ROOT)
    return Topology(
        parse_stack_config(project, project_values(project, providers_config(accounts)))
    )


def key_bytes(topology: Topology, *, copy_back: bool) -> int:
    """The central key policy's size as KMS counts it (`check_key_policy_size`)."""
    policy = destination_key_policy(
        topology.config.destination.account_id,
        topology.copy_in_scope,
        topology.copy_back_scope if copy_back else None,
    )
    return len(json.dumps(policy).encode())


def vault_bytes(topology: Topology) -> int:
    """The central vault's access policy size (no AWS limit documented)."""
    [vault_arn, *_] = topology.copy_target_vault_arns
    return len(json.dumps(vault_access_policy(vault_arn, topology.copy_in_scope)).encode())


def bus_characters(topology: Topology) -> int | None:
    """The alert bus policy's characters as `bus_policy` counts them; None when it refuses."""
    config, bus = topology.config, topology.alert_bus
    forwarding = topology.alert_forwarding
    assert bus is not None and forwarding is not None, "the prod example has monitoring on"
    named = sorted({config.destination.account_id, *topology.prepared_account_ids})
    try:
        policy = bus_policy(
            bus.arn, config.organization.id, topology.member_scope, named, forwarding.role_name
        )
    except ValueError:
        return None
    return len(json.dumps(policy, separators=(",", ":")))


def sizes(accounts: int) -> Sizes:
    """Every growing policy of the prod example with `accounts` source accounts."""
    topology = _topology(accounts)
    return Sizes(
        accounts,
        key_bytes(topology, copy_back=True),
        key_bytes(topology, copy_back=False),
        vault_bytes(topology),
        bus_characters(topology),
    )


def most_accounts(fits: Callable[[int], bool], limit: int = SEARCH_LIMIT) -> int:
    """The most source accounts (at most `limit`) for which `fits` holds; sizes only grow."""
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def limits() -> dict[str, int]:
    """The most source accounts each capped policy takes in one providers-mode stack."""

    def key_fits(copy_back: bool) -> Callable[[int], bool]:
        return lambda n: key_bytes(_topology(n), copy_back=copy_back) <= MAX_KEY_POLICY_BYTES

    return {
        "key policy, with copy back": most_accounts(key_fits(True)),
        "key policy, without copy back": most_accounts(key_fits(False)),
        "bus policy (monitoring)": most_accounts(
            lambda n: bus_characters(_topology(n)) is not None
        ),
    }


HEADER = ("accounts", "key+copy back B", "key B", "vault B", "bus chars")


def table(rows: Sequence[Sizes], most: dict[str, int]) -> list[str]:
    """The sizes, then the limits."""

    def cells(row: Sizes) -> list[object]:
        bus = f"{row.bus:,}" if row.bus is not None else "refused"
        return [
            row.accounts,
            f"{row.key_with_copy_back:,}",
            f"{row.key_without_copy_back:,}",
            f"{row.vault:,}",
            bus,
        ]

    lines = [
        "\nGrowing policies, providers mode (prod example, N source accounts + the prod OU)",
        *format_table([HEADER, *(cells(row) for row in rows)]),
        f"key: KMS accepts {MAX_KEY_POLICY_BYTES:,} bytes; bus: EventBridge "
        f"{MAX_BUS_POLICY_CHARACTERS:,} characters; vault: no documented limit.",
    ]
    lines += [f"most accounts, {name}: {count}" for name, count in most.items()]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Print the sizes at each --accounts, and the most accounts each capped policy fits."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="*", default=list(DEFAULT_ACCOUNTS))
    args = parser.parse_args(argv)
    print("\n".join(table([sizes(n) for n in args.accounts], limits())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

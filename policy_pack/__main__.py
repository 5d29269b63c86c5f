"""Entry point Pulumi runs for the CrossGuard pack (`--policy-pack policy_pack`).

The rules live in policy_pack/rules.py so that tests at the repository root can import them
as `policy_pack.rules`; this file only registers them with the engine.
"""

import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

# Pulumi starts the pack with policy_pack/ as the working directory, where the package
# `policy_pack` itself is not importable; put the repository root first on the path so the
# same import works here, under pytest and from `python -m policy_pack`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policy_pack.rules import policies

PolicyPack(
    name="aws-backup-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=policies(),
)

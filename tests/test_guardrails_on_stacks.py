"""The CrossGuard pack that previews run passes on what the real stacks declare."""

from __future__ import annotations

from policy_pack.rules import violations
from tools.offline import OfflineRun


def test_stack_passes_every_mandatory_rule(any_stack_run: OfflineRun) -> None:
    resources = [(r.type, r.name, r.inputs) for r in any_stack_run.resources if r.custom]

    assert violations(resources) == []


def test_pack_catches_a_default_vault_in_a_stack(dev_run: OfflineRun) -> None:
    resources = [(r.type, r.name, dict(r.inputs)) for r in dev_run.resources if r.custom]
    vault = next(props for token, _, props in resources if token == "aws:backup/vault:Vault")
    vault["name"] = "Default"

    assert any("Default" in message for message in violations(resources))

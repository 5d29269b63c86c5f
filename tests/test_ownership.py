"""The organization's singletons have one owner, survive a destroy or a hand-over, and can be
adopted where they already exist; the StackSet waits for its delegate's registration."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from config.loader import load_stack_file
from tools.offline import OfflineRun, RecordedResource, run_program

BACKUP = "backup.amazonaws.com"
STACK_SETS = "member.org.stacksets.cloudformation.amazonaws.com"


def run_with(stack: str, **sections: Callable[[Any], Any]) -> OfflineRun:
    """The stack under mocks after each `section=edit` (returning the new value)."""
    project, config = load_stack_file(stack)
    for section, edit in sections.items():
        key = f"{project}:{section}"
        config[key] = json.dumps(edit(json.loads(config[key])))
    return run_program(stack, config)


def registrations(run: OfflineRun) -> dict[str, RecordedResource]:
    """Service principal -> the delegated administrator's registration."""
    return {
        str(r.inputs["servicePrincipal"]): r
        for r in run.of_type("aws:organizations/delegatedAdministrator:DelegatedAdministrator")
    }


def test_registrations_and_the_resource_policy_outlive_the_stack(prod_run: OfflineRun) -> None:
    """A destroy of the owning stack, or handing ownership to another stack, must not
    deregister the delegate or delete the organization's resource policy: every other stack
    relies on them."""
    [policy] = prod_run.of_type("aws:organizations/resourcePolicy:ResourcePolicy")

    assert {service: r.retain_on_delete for service, r in registrations(prod_run).items()} == {
        BACKUP: True,
        STACK_SETS: True,
    }
    assert policy.retain_on_delete is True
    assert policy.import_id is None


def test_existing_registrations_are_adopted_not_created() -> None:
    """RegisterDelegatedAdministrator fails with AccountAlreadyRegisteredException; pulumi-aws
    imports a registration by `<account>/<service principal>`."""

    def adopt(organization: dict[str, Any]) -> dict[str, Any]:
        return {**organization, "importDelegatedAdministratorRegistrations": [BACKUP]}

    run = run_with("prod", organization=adopt)

    found = registrations(run)
    assert found[BACKUP].import_id == f"888888888888/{BACKUP}"
    assert found[STACK_SETS].import_id is None


def test_an_existing_resource_policy_is_adopted_never_created_over() -> None:
    def adopt(organization: dict[str, Any]) -> dict[str, Any]:
        edited = {**organization, "importResourcePolicyId": "rp-abcdefgh12"}
        del edited["createResourcePolicy"]
        return edited

    run = run_with("prod", organization=adopt)

    [policy] = run.of_type("aws:organizations/resourcePolicy:ResourcePolicy")
    assert policy.import_id == "rp-abcdefgh12"


def test_the_stack_set_waits_for_its_delegates_registration() -> None:
    """In the owning stack, the StackSet is created as DELEGATED_ADMIN only once the delegate is
    registered for StackSets (and allowed by the resource policy)."""

    def own(organization: dict[str, Any]) -> dict[str, Any]:
        return {
            **organization,
            "manageGlobalSettings": True,
            "globalSettings": {"isMpaEnabled": False, "isDelegatedAdministratorEnabled": True},
            "createResourcePolicy": True,
        }

    run = run_with("sandbox", organization=own)

    [stack_set] = run.of_type("aws:cloudformation/stackSet:StackSet")
    [component] = run.of_type("backup:index:MemberStackSet")
    waits_for = {dependency.split("::")[-1] for dependency in component.dependencies}
    assert {
        "organization-settings-delegate-cloudformation",
        "organization-settings-resource-policy",
    } <= waits_for
    assert stack_set.parent_name == "members"

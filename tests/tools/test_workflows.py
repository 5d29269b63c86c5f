"""The GitHub Actions workflows: pinned actions, and who gets which credentials."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from providers import PREVIEW_ROLES_VARIABLE

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
USES = re.compile(
    r"^\s*(?:-\s+)?uses:\s*(?P<action>[^@\s]+)@(?P<ref>\S+)(?:\s+#\s*(?P<comment>.*))?$"
)
# Each pinned commit and the release tag it is, read from the action's own repository with
# `git tag --points-at <sha>`. A new pin adds its row after the same check.
RELEASES = {
    ("actions/checkout", "11bd71901bbe5b1630ceea73d27597364c9af683"): "v4.2.2",
    ("actions/setup-python", "0b93645e9fea7318ecaed2b359559ac225c90a2b"): "v5.3.0",
    ("actions/upload-artifact", "ea165f8d65b6e75b540449e92b4886f43607fa02"): "v4.6.2",
    ("aws-actions/configure-aws-credentials", "e3dd6a429d7300a6a4c196c26e071d42e0343502"): "v4.0.2",
    ("pulumi/actions", "c7fad9e2f0b79653172b36538b8b34b3c0291952"): "v6.0.0",
}


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def test_every_action_is_pinned_to_a_commit_whose_comment_names_its_release() -> None:
    pins = []
    for path in workflow_files():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = USES.match(line)
            if match is not None:
                pins.append(
                    (f"{path.name}:{number}", match["action"], match["ref"], match["comment"])
                )

    assert pins
    for where, action, ref, comment in pins:
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{where}: {action}@{ref} is not a commit SHA"
        assert (action, ref) in RELEASES, f"{where}: check which release {action}@{ref} is"
        assert comment == RELEASES[action, ref], (
            f"{where}: {action}@{ref} is {RELEASES[action, ref]}, the comment says {comment!r}"
        )


CREDENTIALS = (
    "vars.AWS_DEPLOY_ROLE_ARN",
    "vars.AWS_PREVIEW_ROLE_ARN",
    "secrets.PULUMI_ACCESS_TOKEN",
)


def load(name: str) -> dict[str, Any]:
    content: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return content


def jobs() -> dict[str, dict[str, Any]]:
    """Every job of every workflow, as `<file>/<job id>`."""
    return {
        f"{path.name}/{job_id}": job
        for path in workflow_files()
        for job_id, job in load(path.name)["jobs"].items()
    }


def credentials_used(node: Any) -> set[str]:
    text = json.dumps(node)
    return {name for name in CREDENTIALS if name in text}


def test_credentials_are_read_only_in_jobs_that_name_their_environment() -> None:
    # Environment variables and secrets reach only jobs that name the environment (GitHub Docs,
    # "Managing environments for deployment"): none at workflow level, every user in one.
    for path in workflow_files():
        workflow = load(path.name)
        assert not credentials_used({k: v for k, v in workflow.items() if k != "jobs"}), path.name
    users = {name: job for name, job in jobs().items() if credentials_used(job)}

    assert {name: job.get("environment") for name, job in users.items()} == {
        "deploy.yml/dev": "dev",
        "deploy.yml/prod": "prod",
        "pull-request.yml/preview": "preview",
    }


def test_no_environment_shares_a_deploy_role_or_a_job_with_another() -> None:
    environments = {name: job.get("environment") for name, job in jobs().items()}
    named = [env for env in environments.values() if env is not None]

    # One job per environment, so a role or token set in one environment serves one job.
    assert len(named) == len(set(named)), environments
    preview = jobs()["pull-request.yml/preview"]
    assert credentials_used(preview) == {"vars.AWS_PREVIEW_ROLE_ARN", "secrets.PULUMI_ACCESS_TOKEN"}
    for name in ("deploy.yml/dev", "deploy.yml/prod"):
        assert "vars.AWS_PREVIEW_ROLE_ARN" not in credentials_used(jobs()[name]), name


def _step_envs(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [job.get("env") or {}, *((step.get("env") or {}) for step in job.get("steps", []))]


def test_only_the_pull_request_preview_assumes_the_preview_roles() -> None:
    switched = {
        name: [
            env[PREVIEW_ROLES_VARIABLE] for env in _step_envs(job) if PREVIEW_ROLES_VARIABLE in env
        ]
        for name, job in jobs().items()
    }

    assert {name: values for name, values in switched.items() if values} == {
        "pull-request.yml/preview": ["true"]
    }
    for path in workflow_files():
        assert PREVIEW_ROLES_VARIABLE not in json.dumps(load(path.name).get("env") or {})
    # The switch is set on the step that previews, and that step does not refresh.
    [preview_step] = [
        step
        for step in jobs()["pull-request.yml/preview"]["steps"]
        if PREVIEW_ROLES_VARIABLE in (step.get("env") or {})
    ]
    assert preview_step["with"]["command"] == "preview"
    assert preview_step["with"]["refresh"] is False


def test_every_install_in_a_workflow_is_from_a_lock_file_with_hashes() -> None:
    installs = [
        (name, step["run"])
        for name, job in jobs().items()
        for step in job.get("steps", [])
        if "pip install" in step.get("run", "")
    ]

    assert installs
    for name, command in installs:
        assert "--require-hashes" in command, name
        requirement_files = re.findall(r"-r\s+(\S+)", command)
        assert requirement_files and all(f.endswith(".lock") for f in requirement_files), name

"""The pipeline's IAM roles: who may assume them, and what each may do, per environment.

The program does not create these roles (they must exist before its first `pulumi up`);
docs/pipeline.md shows the documents built here for the example environments, and the tests
check them as requests AWS would evaluate (tests/test_pipeline_policies.py).

Two layers, each split per GitHub environment:

- Pipeline roles in the pipeline's account, assumed through GitHub OIDC. `PipelineDeploy-<env>`
  trusts only the subject `repo:OWNER/REPO:environment:<env>`: GitHub puts the environment in
  the `sub` claim of every job that names one ("If your job references an environment, ... the
  subject claim ... repo:ORG-NAME/REPO-NAME:environment:ENVIRONMENT-NAME", GitHub Docs,
  "OpenID Connect", example subject claims), and a job reaches an environment's secrets and
  variables only after its protection rules pass. `PipelinePreview` trusts only the `preview`
  environment the pull-request job names. AWS's side is the IAM User Guide, "Create an OpenID
  Connect (OIDC) identity provider in IAM" and "Create a role for OpenID Connect federation",
  GitHub section: the provider `token.actions.githubusercontent.com`, the audience
  `sts.amazonaws.com` in `token.actions.githubusercontent.com:aud`, and a condition on
  `token.actions.githubusercontent.com:sub` (without it any repository's workflow could assume
  the role).
- Per-account roles, assumed by the pipeline roles: `BackupDeployer-<env>` (the stack's
  `roleArn`s) and `BackupPreviewer` (`previewRoleArn`s, read-only, shared by every environment).

What the per-account roles may do is in policies/deploy_role.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from policies.arns import PARTITION, iam_role
from policies.deploy_role import DeployScope, deploy_role_permissions, preview_role_permissions
from policies.statements import PolicyDocument, document

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# The audience aws-actions/configure-aws-credentials requests (its default `audience` input).
GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com"
# The GitHub environment of the pull-request previews (its own read-only credentials).
PREVIEW_ENVIRONMENT = "preview"
PREVIEW_PIPELINE_ROLE = "PipelinePreview"
PREVIEW_ROLE = "BackupPreviewer"


def oidc_provider_arn(pipeline_account_id: str) -> str:
    """The IAM OIDC identity provider for GitHub Actions in the pipeline's account."""
    return f"arn:{PARTITION}:iam::{pipeline_account_id}:oidc-provider/{GITHUB_OIDC_HOST}"


def environment_subject(repository: str, environment: str) -> str:
    """The `sub` claim of a job that names `environment`: `repo:OWNER/REPO:environment:NAME`."""
    return f"repo:{repository}:environment:{environment}"


def pipeline_role_name(environment: str) -> str:
    """The pipeline role an environment's deploy job assumes: `PipelineDeploy-<env>`."""
    return f"PipelineDeploy-{environment}"


def deploy_role_name(environment: str) -> str:
    """The per-account role `pulumi up` of one environment assumes: `BackupDeployer-<env>`."""
    return f"BackupDeployer-{environment}"


def github_trust_policy(
    pipeline_account_id: str, repository: str, environment: str
) -> PolicyDocument:
    """Trust for GitHub OIDC tokens of one repository's jobs in one environment only.

    StringEquals on both claims: the audience the credentials action asks for, and the exact
    subject (no wildcard: `repo:OWNER/REPO:*` would admit every branch, tag, pull request and
    environment of the repository).
    """
    return document(
        {
            "Sid": "GitHubActionsEnvironment",
            "Effect": "Allow",
            "Principal": {"Federated": oidc_provider_arn(pipeline_account_id)},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{GITHUB_OIDC_HOST}:aud": GITHUB_OIDC_AUDIENCE,
                    f"{GITHUB_OIDC_HOST}:sub": environment_subject(repository, environment),
                }
            },
        }
    )


def assume_only(role_name: str) -> PolicyDocument:
    """A pipeline role's permissions: assume the per-account role of that name, in any account."""
    return document(
        {
            "Sid": "AssumeThePerAccountRole",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": iam_role("*", role_name),
        }
    )


def per_account_trust(pipeline_account_id: str, pipeline_role: str) -> PolicyDocument:
    """Trust of a per-account role: the one pipeline role of its environment (or previews)."""
    return document(
        {
            "Sid": "ThePipelineRole",
            "Effect": "Allow",
            "Principal": {"AWS": iam_role(pipeline_account_id, pipeline_role)},
            "Action": "sts:AssumeRole",
        }
    )


@dataclass(frozen=True)
class Pipeline:
    """Where the pipeline runs: its AWS account and the GitHub repository (`OWNER/REPO`)."""

    account_id: str
    repository: str

    def deploy_trust(self, environment: str) -> PolicyDocument:
        """Trust of `PipelineDeploy-<env>`: that GitHub environment's jobs only."""
        return github_trust_policy(self.account_id, self.repository, environment)

    def preview_trust(self) -> PolicyDocument:
        """Trust of `PipelinePreview`: the pull-request preview job (environment `preview`)."""
        return github_trust_policy(self.account_id, self.repository, PREVIEW_ENVIRONMENT)

    def deployer_trust(self, environment: str) -> PolicyDocument:
        """Trust of `BackupDeployer-<env>` in each account: `PipelineDeploy-<env>` only."""
        return per_account_trust(self.account_id, pipeline_role_name(environment))

    def previewer_trust(self) -> PolicyDocument:
        """Trust of `BackupPreviewer` in each account: `PipelinePreview` only."""
        return per_account_trust(self.account_id, PREVIEW_PIPELINE_ROLE)


def example_documents(
    pipeline: Pipeline, scopes: Sequence[DeployScope]
) -> dict[str, PolicyDocument]:
    """Every document docs/pipeline.md shows, by the name its marker gives it."""
    documents: dict[str, PolicyDocument] = {
        "PipelinePreview trust": pipeline.preview_trust(),
        "PipelinePreview permissions": assume_only(PREVIEW_ROLE),
        "BackupPreviewer trust": pipeline.previewer_trust(),
        "BackupPreviewer permissions": preview_role_permissions(),
    }
    for scope in scopes:
        env = scope.environment
        documents[f"{pipeline_role_name(env)} trust"] = pipeline.deploy_trust(env)
        documents[f"{pipeline_role_name(env)} permissions"] = assume_only(deploy_role_name(env))
        documents[f"{deploy_role_name(env)} trust"] = pipeline.deployer_trust(env)
        documents[f"{deploy_role_name(env)} permissions"] = deploy_role_permissions(scope)
    return documents

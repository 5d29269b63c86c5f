"""`make pipeline-policies STACK=prod`: the IAM documents of the pipeline's roles for one stack.

Prints, as JSON, the trust and permission policies of the roles the GitHub workflows use for the
stack's environment (docs/pipeline.md): `PipelineDeploy-<env>` and `PipelinePreview` in the
pipeline's account, `BackupDeployer-<env>` and `BackupPreviewer` in every account the stack
reaches. The deploy role's scope comes from the stack's offline plan: the vault and bucket names
it creates outside the `<project>-<env>-` prefix, and whether it owns the organization's
singletons and Region settings. Create the roles with these documents before the first deploy.

`--update-docs` rewrites the JSON blocks of docs/pipeline.md (each after a
`<!-- policy: NAME -->` marker) from the example stacks dev and prod.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence

from config import ConfigError
from config.loader import ROOT, parse_stack_file
from policies.deploy_role import DeployScope
from policies.pipeline import Pipeline, example_documents
from tools.offline import OfflineRun, run_program

ORGANIZATION_SINGLETONS = {
    "aws:backup/globalSettings:GlobalSettings",
    "aws:organizations/resourcePolicy:ResourcePolicy",
    "aws:organizations/delegatedAdministrator:DelegatedAdministrator",
}
REGION_SETTINGS = "aws:backup/regionSettings:RegionSettings"
# Resource type -> the input holding a name the deploy role must be allowed outside the prefix.
CONFIGURABLE_NAMES = {"aws:backup/vault:Vault": "name", "aws:s3/bucket:Bucket": "bucket"}
DOCS = ROOT / "docs" / "pipeline.md"
DOCS_EXAMPLES = ("dev", "prod")
DOC_BLOCK = re.compile(r"<!-- policy: (?P<name>[^>]+?) -->\s*```json\n(?P<json>.*?)```", re.DOTALL)
PLACEHOLDERS = Pipeline("PIPELINE_ACCOUNT_ID", "OWNER/REPO")


def deploy_scope(stack: str, run: OfflineRun | None = None) -> DeployScope:
    """What the stack's deploy roles must be able to change, from its offline plan."""
    config = parse_stack_file(stack)
    run = run if run is not None else run_program(stack)
    prefix = f"{config.name_prefix}-"
    extra: dict[str, set[str]] = {kind: set() for kind in CONFIGURABLE_NAMES}
    for kind, name_input in CONFIGURABLE_NAMES.items():
        for resource in run.of_type(kind):
            name = resource.inputs.get(name_input)
            if isinstance(name, str) and not name.startswith(prefix):
                extra[kind].add(name)
    types = {resource.type for resource in run.resources}
    return DeployScope(
        project=config.project,
        environment=config.environment,
        extra_vault_names=tuple(sorted(extra["aws:backup/vault:Vault"])),
        extra_bucket_names=tuple(sorted(extra["aws:s3/bucket:Bucket"])),
        owns_organization_singletons=bool(types & ORGANIZATION_SINGLETONS),
        owns_region_settings=REGION_SETTINGS in types,
    )


def docs_documents() -> dict[str, object]:
    """The documents docs/pipeline.md shows: the example stacks dev and prod, placeholders."""
    return dict(example_documents(PLACEHOLDERS, [deploy_scope(s) for s in DOCS_EXAMPLES]))


def shown_in_docs(text: str) -> dict[str, object]:
    """Each JSON block of docs/pipeline.md, by the name its marker gives."""
    return {m["name"]: json.loads(m["json"]) for m in DOC_BLOCK.finditer(text)}


def rewrite_docs(text: str, documents: Mapping[str, object]) -> str:
    """`text` with each marked block replaced by the document of its name."""

    def block(match: re.Match[str]) -> str:
        rendered = json.dumps(documents[match["name"]], indent=2)
        return f"<!-- policy: {match['name']} -->\n```json\n{rendered}\n```"

    return DOC_BLOCK.sub(block, text)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stack", help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument(
        "--update-docs", action="store_true", help="rewrite docs/pipeline.md's JSON blocks"
    )
    parser.add_argument(
        "--pipeline-account", default="PIPELINE_ACCOUNT_ID", help="account of the pipeline roles"
    )
    parser.add_argument("--repository", default="OWNER/REPO", help="GitHub OWNER/REPO")
    args = parser.parse_args(argv)
    if args.update_docs:
        DOCS.write_text(rewrite_docs(DOCS.read_text(), docs_documents()))
        return 0
    if args.stack is None:
        parser.error("--stack is required (or --update-docs)")
    try:
        scope = deploy_scope(args.stack)
    except (ConfigError, FileNotFoundError) as error:
        where = f"stack {args.stack}: " if isinstance(error, ConfigError) else ""
        print(f"error: {where}{error}", file=sys.stderr)
        return 2
    documents = example_documents(Pipeline(args.pipeline_account, args.repository), [scope])
    print(json.dumps(documents, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

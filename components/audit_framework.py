"""AWS Backup Audit Manager frameworks of one account, one in each Region it is evaluated in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from policies.audit import FRAMEWORK_DESCRIPTION, Control


@dataclass(frozen=True)
class AuditFrameworkArgs:
    """The framework's name, and per Region the controls it evaluates there."""

    framework_name: str
    controls_by_region: Mapping[str, Sequence[Control]]
    provider: aws.Provider


class AuditFramework(pulumi.ComponentResource):
    """One `aws.backup.Framework` per Region: frameworks are Regional and see one account."""

    framework_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: AuditFrameworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("backup:index:AuditFramework", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.framework_arns = {}
        for region, controls in sorted(args.controls_by_region.items()):
            framework = aws.backup.Framework(
                f"{name}-{region}",
                region=region,
                name=args.framework_name,
                description=FRAMEWORK_DESCRIPTION,
                controls=[
                    aws.backup.FrameworkControlArgs(
                        name=control.name,
                        input_parameters=[
                            aws.backup.FrameworkControlInputParameterArgs(name=key, value=value)
                            for key, value in sorted(control.parameters.items())
                        ]
                        or None,
                        scope=(
                            aws.backup.FrameworkControlScopeArgs(
                                tags={control.scope_tag[0]: control.scope_tag[1]}
                            )
                            if control.scope_tag is not None
                            else None
                        ),
                    )
                    for control in controls
                ],
                opts=child,
            )
            self.framework_arns[region] = framework.arn
        self.register_outputs({"framework_arns": self.framework_arns})

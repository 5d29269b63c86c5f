"""A small model of how CloudFormation instantiates a template in one account and Region.

It resolves what the member template uses (CloudFormation User Guide, "Intrinsic function
reference"): `Ref` to pseudo parameters and resources, `Fn::Sub` (with `${!...}` kept
literally), `Fn::FindInMap`, `Fn::GetAtt` of `Arn` for IAM roles and KMS keys, and `Fn::Equals`
in `Conditions`. Resources whose condition is false are left out, as CloudFormation does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SUB = re.compile(r"\$\{(!?)([^}]+)\}")


class Instance:
    """The template as one stack instance sees it."""

    def __init__(self, template: Mapping[str, Any], account: str, region: str) -> None:
        self.template = template
        self.account = account
        self.region = region
        self.pseudo = {
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::Partition": "aws",
        }
        self.conditions = {
            name: bool(self.resolve(value))
            for name, value in template.get("Conditions", {}).items()
        }

    def resources(self) -> dict[str, dict[str, Any]]:
        """Logical id -> {Type, Properties (resolved), DeletionPolicy, ...} of created resources."""
        created = {}
        for logical_id, entry in self.template["Resources"].items():
            condition = entry.get("Condition")
            if condition is not None and not self.conditions[condition]:
                continue
            created[logical_id] = {
                **entry,
                "Properties": self.resolve(entry.get("Properties", {})),
            }
        return created

    def _attribute(self, logical_id: str, attribute: str) -> str:
        entry = self.template["Resources"][logical_id]
        properties = self.resolve(entry.get("Properties", {}))
        if attribute != "Arn":
            raise NotImplementedError(f"GetAtt {logical_id}.{attribute}")
        if entry["Type"] == "AWS::IAM::Role":
            path = properties.get("Path", "/")
            return f"arn:aws:iam::{self.account}:role{path}{properties['RoleName']}"
        if entry["Type"] == "AWS::Lambda::Function":
            name = properties["FunctionName"]
            return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
        if entry["Type"] == "AWS::KMS::Key":
            return f"arn:aws:kms:{self.region}:{self.account}:key/{logical_id}"
        if entry["Type"] == "AWS::Events::Rule":
            return f"arn:aws:events:{self.region}:{self.account}:rule/{properties['Name']}"
        raise NotImplementedError(f"GetAtt of {entry['Type']}")

    def _ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        entry = self.template["Resources"][name]
        properties = self.resolve(entry.get("Properties", {}))
        for key in ("FunctionName", "LogGroupName", "Name", "TableName", "RoleName"):
            if key in properties:
                return str(properties[key])
        return name

    def _sub(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            literal, name = match.group(1), match.group(2)
            if literal:
                return "${" + name + "}"
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self._attribute(logical_id, attribute)
            return self._ref(name)

        return _SUB.sub(replace, text)

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function replaced by what it evaluates to here."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            [(key, argument)] = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::GetAtt":
                return self._attribute(*argument)
            if key == "Fn::FindInMap":
                mapping, top, second = (self.resolve(part) for part in argument)
                return self.template["Mappings"][mapping][top][second]
            if key == "Fn::Equals":
                left, right = (self.resolve(part) for part in argument)
                return left == right
        return {key: self.resolve(item) for key, item in value.items()}

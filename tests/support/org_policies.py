"""A small model of how AWS Organizations merges inherited management policies.

AWS Organizations User Guide, "Understanding management policy inheritance" and
"Inheritance operators": policies attached to the root, an OU and an account merge into the
account's effective policy from the top down, key by key; `@@assign` in a lower policy
replaces the value above it, and `@@operators_allowed_for_child_policies: ["@@none"]` on a
node stops every lower policy from changing that node. Only what the tests need is
modelled: objects merge, `@@assign` overwrites, a locked node keeps its parent's content.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from policies.backup import CHILD_CONTROL


def _merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    if parent.get(CHILD_CONTROL) == ["@@none"]:
        # The lower policy's version of this node is ignored.
        return copy.deepcopy(parent)
    merged = copy.deepcopy(parent)
    for key, value in child.items():
        below = merged.get(key)
        if isinstance(below, dict) and isinstance(value, dict) and key != "@@assign":
            merged[key] = _merge(below, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def effective_policy(policies_top_down: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The effective policy of an account inheriting these policies (root first)."""
    effective: dict[str, Any] = {}
    for policy in policies_top_down:
        effective = _merge(effective, policy)
    return effective


def without_operators(node: Any) -> Any:
    """The document with every child control operator removed, as AWS shows effective plans."""
    if isinstance(node, dict):
        return {k: without_operators(v) for k, v in node.items() if k != CHILD_CONTROL}
    return node

"""Types and constants every part of the evaluator shares."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

ContextValue = str | Sequence[str] | None
Decision = Literal["allowed", "explicitly_denied", "implicitly_denied"]
PolicyType = Literal["identity", "resource"]
ResourceKind = Literal["generic", "kms", "role_trust"]
PrincipalKind = Literal[
    "root", "user", "role", "session", "federated_user", "service", "web_identity"
]

# The policy language version that has policy variables ("IAM JSON policy elements: Version").
VARIABLES_VERSION = "2012-10-17"
VERSIONS = (VARIABLES_VERSION, "2008-10-17")
NOT_MODELLED_ELEMENTS = ("NotAction", "NotResource", "NotPrincipal")
STATEMENT_ELEMENTS = frozenset({"Sid", "Effect", "Principal", "Action", "Resource", "Condition"})
SERVICE_PRINCIPAL = re.compile(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?")
ACCOUNT_ID = re.compile(r"\d{12}")
# An IAM OIDC identity provider: the caller of AssumeRoleWithWebIdentity and its Federated
# principal ("Create an OpenID Connect (OIDC) identity provider in IAM").
OIDC_PROVIDER = re.compile(r"arn:[a-z-]+:iam::\d{12}:oidc-provider/\S+")

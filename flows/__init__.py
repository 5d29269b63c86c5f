"""Offline flows: what AWS decides for a request against the project's policy documents.

Standard library only, and no Pulumi import: a flow test evaluates the JSON documents the
program renders, never the program's objects (`flows.evaluator` says what is modelled).

| module | holds |
| --- | --- |
| `evaluator` | policies and whole requests: explicit deny, allow, both sides across accounts |
| `request` | the request and the context keys AWS sets for its principal |
| `principals` | the Principal element |
| `conditions` | condition operators and set operators |
| `matching` | policy variables and wildcards in Resource and condition values |
| `types` | shared types and constants |
| `managed` | excerpts of the AWS managed policies the flows' callers hold |
| `hops`, `catalogue` | the flow catalogue as data, and docs/flows.md rendered from it |
"""

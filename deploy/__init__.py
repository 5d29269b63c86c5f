"""The Pulumi program's declarations, one module per concern; `program.py` composes them.

| module | declares |
| --- | --- |
| `loader` | reads the stack's configuration from the Pulumi engine |
| `destination` | the central vaults and keys, the copy-back role, restore testing |
| `members` | the prepared accounts (providers mode) and the member StackSet (stackSets mode) |
| `export` | the DynamoDB export bucket |
| `monitoring` | the central alert bus and topic, and forwarding from every account |
| `audit` | Backup Audit Manager frameworks and report plans |
| `organization` | the organization's singletons and the backup policy |

Every module takes the stack's `topology.Topology` and the `providers.ProviderRegistry`.
"""

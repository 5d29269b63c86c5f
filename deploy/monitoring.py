"""Alerts: the central bus and encrypted topic, and forwarding from every prepared account and
the destination (stackSets mode's members forward through the member template)."""

from __future__ import annotations

import pulumi

from components.alert_forwarder import AlertForwarder, AlertForwarderArgs
from components.alert_hub import AlertHub, AlertHubArgs
from policies.alerts import bus_policy
from providers import ProviderRegistry
from topology import Topology


def declare_monitoring(topology: Topology, providers: ProviderRegistry) -> list[pulumi.Resource]:
    """The central bus and topic, and forwarding in every prepared account and the destination."""
    config = topology.config
    bus = topology.alert_bus
    forwarding = topology.alert_forwarding
    if bus is None or forwarding is None or config.monitoring is None:
        return []
    prefix = topology.prefix
    named = sorted({config.destination.account_id, *topology.prepared_account_ids})
    hub = AlertHub(
        "alerts",
        AlertHubArgs(
            account_id=bus.access.account_id,
            region=bus.region,
            name=bus.name,
            bus_policy=bus_policy(
                bus.arn,
                config.organization.id,
                topology.member_scope,
                named,
                forwarding.role_name,
            ),
            key_alias=f"alias/{prefix}-backup-alerts",
            emails=config.monitoring.emails,
            provider=providers.get(bus.access, bus.region),
        ),
    )
    placements = [(p.access, p.regions, True) for p in topology.prepared_accounts]
    placements.append((config.destination.account, config.destination.regions, False))
    forwarders: list[pulumi.Resource] = [hub]
    for member_access, regions, has_exporter in placements:
        forwarders.append(
            AlertForwarder(
                f"alerts-{member_access.account_id}",
                AlertForwarderArgs(
                    regions=regions,
                    rules=forwarding.rules,
                    alarm_rule=forwarding.alarm_rule if has_exporter else None,
                    alarm_regions=regions,
                    name_prefix=prefix,
                    role_name=forwarding.role_name,
                    bus_arn=forwarding.bus_arn,
                    provider=providers.get(member_access, regions[0]),
                ),
                opts=pulumi.ResourceOptions(depends_on=[hub]),
            )
        )
    return forwarders

"""Azure pieces of the global module: Traffic Manager performance routing with an Azure DNS
alias record, VNet peering, Blob object replication."""

from __future__ import annotations

from tcplab.infra._base import remote, tf_name
from tcplab.infra._config import InfraConfig, RegionConfig
from tcplab.infra._tf import Module

__all__ = ["dns", "peer", "replicate"]


def dns(module: Module, config: InfraConfig) -> None:
    rg = module.resource(
        "azurerm_resource_group",
        "global",
        {"name": f"{config.name}-global", "location": "westeurope"},
    )
    tm = module.resource(
        "azurerm_traffic_manager_profile",
        "main",
        {
            "name": f"{config.name}-global",
            "resource_group_name": rg.attr("name"),
            "traffic_routing_method": "Performance",
            "dns_config": [{"relative_name": config.name, "ttl": config.dns.ttl}],
            "monitor_config": [{"protocol": "HTTPS", "port": 443, "path": "/healthz"}],
        },
    )
    for r in config.regions:
        module.resource(
            "azurerm_traffic_manager_external_endpoint",
            tf_name(r.name),
            {
                "name": r.name,
                "profile_id": tm.attr("id"),
                "target": remote(r.name, "ingress_address"),
                "endpoint_location": r.routing_location or r.name,
            },
        )
    zone = module.resource(
        "azurerm_dns_zone",
        "main",
        {"name": config.dns.zone, "resource_group_name": rg.attr("name")},
    )
    module.resource(
        "azurerm_dns_cname_record",
        "api",
        {
            "name": config.dns.record,
            "zone_name": zone.attr("name"),
            "resource_group_name": rg.attr("name"),
            "ttl": config.dns.ttl,
            "target_resource_id": tm.attr("id"),
        },
    )
    module.output("dns_name", f"{config.dns.record}.{config.dns.zone}")
    module.output("name_servers", zone.attr("name_servers"))


def peer(module: Module, a: RegionConfig, b: RegionConfig) -> None:
    for src, dst in ((a, b), (b, a)):
        module.resource(
            "azurerm_virtual_network_peering",
            f"{tf_name(src.name)}_{tf_name(dst.name)}",
            {
                "name": f"tcplab-{src.name}-to-{dst.name}",
                "resource_group_name": remote(src.name, "resource_group"),
                "virtual_network_name": remote(src.name, "network_name"),
                "remote_virtual_network_id": remote(dst.name, "network_id"),
                "allow_forwarded_traffic": False,
                "allow_gateway_transit": False,
            },
        )


def replicate(module: Module, config: InfraConfig, source: str, dest: str) -> None:
    module.resource(
        "azurerm_storage_object_replication",
        f"{tf_name(source)}_{tf_name(dest)}",
        {
            "source_storage_account_id": remote(source, "storage_account_id"),
            "destination_storage_account_id": remote(dest, "storage_account_id"),
            "rules": [
                {
                    "source_container_name": "artifacts",
                    "destination_container_name": "artifacts",
                }
            ],
        },
    )

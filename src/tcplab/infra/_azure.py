"""Azure: VNet, private AKS (autoscaled node pools, workload identity), PostgreSQL Flexible
Server with replicas (delete lock), Blob storage with a private endpoint; globally Traffic
Manager performance routing with an Azure DNS alias, VNet peering, Blob object replication."""

from __future__ import annotations

import ipaddress
from typing import Any

from tcplab.infra import _azure_data, _azure_global
from tcplab.infra._azure_data import storage_account_name
from tcplab.infra._base import (
    ProviderRenderer,
    node_labels,
    node_taints,
    register_renderer,
    split_network,
)
from tcplab.infra._config import InfraConfig, NodeGroup, RegionConfig
from tcplab.infra._tf import Module, Ref

__all__ = ["AzureRenderer", "storage_account_name"]

_RG = "${azurerm_resource_group.main.name}"
_LOC = "${azurerm_resource_group.main.location}"


class AzureRenderer(ProviderRenderer):
    """The Azure renderer."""

    name = "azure"

    def backend(self, config: InfraConfig, key: str) -> tuple[str, dict[str, Any]]:
        s = config.providers.azure
        assert s is not None  # validated
        return "azurerm", {
            "resource_group_name": s.state_resource_group,
            "storage_account_name": s.state_storage_account,
            "container_name": s.state_container,
            "key": f"{key}.tfstate",
            "use_azuread_auth": True,
        }

    def _provider(self, config: InfraConfig) -> dict[str, Any]:
        assert config.providers.azure is not None
        return {
            "features": [{}],
            "subscription_id": config.providers.azure.subscription_id,
            "storage_use_azuread": True,
        }

    def region_module(self, config: InfraConfig, region: RegionConfig) -> Module:
        m = Module(region.name)
        backend, cfg = self.backend(config, f"tcplab/{region.name}")
        m.terraform = {
            "required_version": ">= 1.6",
            "required_providers": {"azurerm": self.required_provider()},
            "backend": {backend: cfg},
        }
        m.provider("azurerm", self._provider(config))
        m.resource(
            "azurerm_resource_group",
            "main",
            {"name": f"{config.name}-{region.name}", "location": region.name},
        )
        net = self._network(m, region)
        cluster = self._cluster(m, config, region, net)
        for group in region.node_groups[1:]:
            self._node_pool(m, region, group, cluster, net)
        account = _azure_data.storage(m, config, region, cluster, net)
        _azure_data.database(self, m, config, region, net)
        ingress = m.resource(
            "azurerm_public_ip",
            "ingress",
            {
                "name": "tcplab-ingress",
                "resource_group_name": _RG,
                "location": _LOC,
                "allocation_method": "Static",
                "sku": "Standard",
            },
        )
        m.output("provider", "azure")
        m.output("region", region.name)
        m.output("cluster_name", cluster.attr("name"))
        m.output("kubernetes_endpoint", cluster.attr("private_fqdn"), doc="private AKS API")
        m.output("network_id", net["vnet"].attr("id"))
        m.output("network_name", net["vnet"].attr("name"))
        m.output("resource_group", _RG)
        m.output("network_cidr", region.network.cidr)
        m.output("storage_account_id", account.attr("id"))
        m.output("bucket_name", "artifacts")
        m.output("ingress_address", ingress.attr("ip_address"))
        m.output("ingress_id", ingress.attr("id"))
        return m

    def _network(self, m: Module, region: RegionConfig) -> dict[str, Ref]:
        nodes, endpoints, ingress, db = split_network(region.network.cidr)
        vnet = m.resource(
            "azurerm_virtual_network",
            "main",
            {
                "name": "tcplab",
                "resource_group_name": _RG,
                "location": _LOC,
                "address_space": [region.network.cidr],
            },
        )
        net = {"vnet": vnet}
        for name, cidr in (("nodes", nodes), ("endpoints", endpoints), ("ingress", ingress)):
            net[name] = m.resource(
                "azurerm_subnet",
                name,
                {
                    "name": name,
                    "resource_group_name": _RG,
                    "virtual_network_name": vnet.attr("name"),
                    "address_prefixes": [cidr],
                },
            )
        net["db"] = m.resource(
            "azurerm_subnet",
            "db",
            {
                "name": "db",
                "resource_group_name": _RG,
                "virtual_network_name": vnet.attr("name"),
                "address_prefixes": [db],
                "delegation": [
                    {
                        "name": "postgres",
                        "service_delegation": [
                            {
                                "name": "Microsoft.DBforPostgreSQL/flexibleServers",
                                "actions": [
                                    "Microsoft.Network/virtualNetworks/subnets/join/action"
                                ],
                            }
                        ],
                    }
                ],
            },
        )
        self._security_groups(m, net, ingress)
        return net

    def _security_groups(self, m: Module, net: dict[str, Ref], ingress: str) -> None:
        """HTTPS from the internet into the ingress subnet only; the others keep the defaults."""
        nsg = m.resource(
            "azurerm_network_security_group",
            "ingress",
            {
                "name": "tcplab-ingress-lb",
                "resource_group_name": _RG,
                "location": _LOC,
                "security_rule": [
                    {
                        "name": "https-from-internet",
                        "priority": 100,
                        "direction": "Inbound",
                        "access": "Allow",
                        "protocol": "Tcp",
                        "source_port_range": "*",
                        "destination_port_range": "443",
                        "source_address_prefix": "Internet",
                        "destination_address_prefix": ingress,
                        "description": "the ingress LB",
                    }
                ],
            },
        )
        internal = m.resource(
            "azurerm_network_security_group",
            "internal",
            {"name": "tcplab-internal", "resource_group_name": _RG, "location": _LOC},
        )
        for name in ("nodes", "endpoints", "ingress", "db"):
            m.resource(
                "azurerm_subnet_network_security_group_association",
                name,
                {
                    "subnet_id": net[name].attr("id"),
                    "network_security_group_id": (nsg if name == "ingress" else internal).attr(
                        "id"
                    ),
                },
            )

    def _cluster(
        self, m: Module, config: InfraConfig, region: RegionConfig, net: dict[str, Ref]
    ) -> Ref:
        system = region.node_groups[0]
        logs = m.resource(
            "azurerm_log_analytics_workspace",
            "main",
            {
                "name": "tcplab",
                "resource_group_name": _RG,
                "location": _LOC,
                "sku": "PerGB2018",
                "retention_in_days": 90,
            },
        )
        identity = m.resource(
            "azurerm_user_assigned_identity",
            "cluster",
            {"name": "tcplab-aks", "resource_group_name": _RG, "location": _LOC},
        )
        dns_ip = str(ipaddress.ip_network(region.network.service_cidr)[10])
        return m.resource(
            "azurerm_kubernetes_cluster",
            "main",
            {
                "name": f"{config.name}-{region.name}",
                "resource_group_name": _RG,
                "location": _LOC,
                "dns_prefix": f"{config.name}-{region.name}",
                "kubernetes_version": region.kubernetes_version,
                "sku_tier": "Standard",
                "private_cluster_enabled": True,
                "local_account_disabled": True,
                "oidc_issuer_enabled": True,
                "workload_identity_enabled": True,
                "azure_policy_enabled": True,
                "automatic_upgrade_channel": "patch",
                "oms_agent": [{"log_analytics_workspace_id": logs.attr("id")}],
                "key_vault_secrets_provider": [{"secret_rotation_enabled": True}],
                "azure_active_directory_role_based_access_control": [{"azure_rbac_enabled": True}],
                "identity": [{"type": "UserAssigned", "identity_ids": [identity.attr("id")]}],
                "default_node_pool": [
                    {
                        "name": system.name,
                        "vm_size": system.instance_type,
                        "auto_scaling_enabled": True,
                        "min_count": max(1, system.min_size),
                        "max_count": system.max_size,
                        "os_disk_size_gb": system.disk_gib,
                        "max_pods": 110,
                        "vnet_subnet_id": net["nodes"].attr("id"),
                        "node_labels": node_labels(system, region),
                        "only_critical_addons_enabled": False,
                    }
                ],
                "network_profile": [
                    {
                        "network_plugin": "azure",
                        "network_plugin_mode": "overlay",
                        "network_policy": "azure",
                        "pod_cidr": region.network.pod_cidr,
                        "service_cidr": region.network.service_cidr,
                        "dns_service_ip": dns_ip,
                    }
                ],
                "auto_scaler_profile": [
                    {
                        "expander": "least-waste",
                        "scale_down_unneeded": "10m",
                        "scale_down_delay_after_add": "10m",
                    }
                ],
            },
        )

    def _node_pool(
        self,
        m: Module,
        region: RegionConfig,
        group: NodeGroup,
        cluster: Ref,
        net: dict[str, Ref],
    ) -> None:
        body: dict[str, Any] = {
            "name": group.name,
            "kubernetes_cluster_id": cluster.attr("id"),
            "vm_size": group.instance_type,
            "auto_scaling_enabled": True,
            "min_count": group.min_size,
            "max_count": group.max_size,
            "os_disk_size_gb": group.disk_gib,
            "vnet_subnet_id": net["nodes"].attr("id"),
            "max_pods": 110,
            "node_labels": node_labels(group, region),
            "node_taints": [f"{k}={v}:{e}" for k, v, e in node_taints(group)],
            "priority": "Spot" if group.spot else "Regular",
        }
        if group.spot:
            body |= {"eviction_policy": "Delete", "spot_max_price": -1}
        m.resource("azurerm_kubernetes_cluster_node_pool", group.name, body)

    def configure_global(self, module: Module, config: InfraConfig) -> None:
        module.provider("azurerm", self._provider(config))

    def dns(self, module: Module, config: InfraConfig) -> None:
        _azure_global.dns(module, config)

    def peer(self, module: Module, a: RegionConfig, b: RegionConfig) -> None:
        _azure_global.peer(module, a, b)

    def replicate(self, module: Module, config: InfraConfig, source: str, dest: str) -> None:
        _azure_global.replicate(module, config, source, dest)


register_renderer(AzureRenderer())

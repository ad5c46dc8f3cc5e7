"""GCP: VPC with secondary ranges, private GKE with node pools, Cloud SQL PostgreSQL (private
IP) with cross-region replicas, GCS; globally Cloud DNS geo routing, the global load balancer's
anycast address, network peering and bucket replication (Storage Transfer)."""

from __future__ import annotations

import ipaddress
from typing import Any

from tcplab.infra import _gcp_global
from tcplab.infra._base import (
    ProviderRenderer,
    node_labels,
    node_taints,
    register_renderer,
    remote,
    split_network,
)
from tcplab.infra._config import InfraConfig, NodeGroup, RegionConfig
from tcplab.infra._tf import Module, Ref

__all__ = ["GcpRenderer"]

_EFFECT = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}
_EFFECT["NoExecute"] = "NO_EXECUTE"


class GcpRenderer(ProviderRenderer):
    """The GCP renderer."""

    name = "gcp"

    def _project(self, config: InfraConfig) -> str:
        return _gcp_global.project(config)

    def backend(self, config: InfraConfig, key: str) -> tuple[str, dict[str, Any]]:
        assert config.providers.gcp is not None
        return "gcs", {"bucket": config.providers.gcp.state_bucket, "prefix": key}

    def region_module(self, config: InfraConfig, region: RegionConfig) -> Module:
        m = Module(region.name)
        backend, cfg = self.backend(config, f"tcplab/{region.name}")
        m.terraform = {
            "required_version": ">= 1.6",
            "required_providers": {"google": self.required_provider()},
            "backend": {backend: cfg},
        }
        m.provider("google", {"project": self._project(config), "region": region.name})
        key = self._kms(m, region)
        net, sub = self._network(m, region)
        cluster = self._cluster(m, config, region, net, sub, key)
        sa = m.resource(
            "google_service_account",
            "nodes",
            {"account_id": f"tcplab-nodes-{region.name}"[:30], "display_name": "GKE nodes"},
        )
        for role in ("roles/logging.logWriter", "roles/monitoring.metricWriter"):
            m.resource(
                "google_project_iam_member",
                "nodes_" + role.split(".")[-1],
                {
                    "project": self._project(config),
                    "role": role,
                    "member": "serviceAccount:" + sa.attr("email"),
                },
            )
        for group in region.node_groups:
            self._node_pool(m, region, group, cluster, sa)
        bucket = self._bucket(m, config, region, cluster, key)
        self._database(m, config, region, net)
        ingress = m.resource(
            "google_compute_address",
            "ingress",
            {"name": "tcplab-ingress", "region": region.name, "address_type": "EXTERNAL"},
        )
        m.output("provider", "gcp")
        m.output("region", region.name)
        m.output("cluster_name", cluster.attr("name"))
        m.output("cluster_id", cluster.attr("id"), doc="projects/P/locations/L/clusters/C")
        m.output("kubernetes_endpoint", cluster.attr("endpoint"), doc="private GKE endpoint")
        m.output("network_id", net.attr("id"))
        m.output("network_self_link", net.attr("self_link"))
        m.output("network_cidr", region.network.cidr)
        m.output("bucket_name", bucket.attr("name"))
        m.output("ingress_address", ingress.attr("address"))
        return m

    def _kms(self, m: Module, region: RegionConfig) -> Ref:
        ring = m.resource(
            "google_kms_key_ring",
            "main",
            {"name": f"tcplab-{region.name}", "location": region.name},
        )
        return m.resource(
            "google_kms_crypto_key",
            "main",
            {
                "name": "tcplab",
                "key_ring": ring.attr("id"),
                "rotation_period": "7776000s",
                "lifecycle": [{"prevent_destroy": True}],
            },
        )

    def _network(self, m: Module, region: RegionConfig) -> tuple[Ref, Ref]:
        nodes = split_network(region.network.cidr)[0]
        net = m.resource(
            "google_compute_network",
            "main",
            {"name": f"tcplab-{region.name}", "auto_create_subnetworks": False},
        )
        sub = m.resource(
            "google_compute_subnetwork",
            "nodes",
            {
                "name": "nodes",
                "region": region.name,
                "network": net.attr("id"),
                "ip_cidr_range": nodes,
                "private_ip_google_access": True,
                "secondary_ip_range": [
                    {"range_name": "pods", "ip_cidr_range": region.network.pod_cidr},
                    {"range_name": "services", "ip_cidr_range": region.network.service_cidr},
                ],
                "log_config": [
                    {
                        "aggregation_interval": "INTERVAL_5_SEC",
                        "flow_sampling": 0.5,
                        "metadata": "INCLUDE_ALL_METADATA",
                    }
                ],
            },
        )
        router = m.resource(
            "google_compute_router",
            "main",
            {"name": "tcplab", "region": region.name, "network": net.attr("id")},
        )
        m.resource(
            "google_compute_router_nat",
            "main",
            {
                "name": "tcplab",
                "router": router.attr("name"),
                "region": region.name,
                "nat_ip_allocate_option": "AUTO_ONLY",
                "source_subnetwork_ip_ranges_to_nat": "ALL_SUBNETWORKS_ALL_IP_RANGES",
            },
        )
        m.resource(
            "google_compute_firewall",
            "ingress_lb",
            {
                "name": "tcplab-ingress-lb",
                "network": net.attr("name"),
                "direction": "INGRESS",
                "allow": [{"protocol": "tcp", "ports": ["443"]}],
                "source_ranges": ["0.0.0.0/0"],
                "target_tags": ["tcplab-ingress"],
            },
        )
        return net, sub

    def _cluster(
        self, m: Module, config: InfraConfig, region: RegionConfig, net: Ref, sub: Ref, key: Ref
    ) -> Ref:
        master = list(ipaddress.ip_network(region.network.cidr).subnets(new_prefix=28))[-1]
        return m.resource(
            "google_container_cluster",
            "main",
            {
                "name": f"{config.name}-{region.name}",
                "location": region.name,
                "network": net.attr("id"),
                "subnetwork": sub.attr("id"),
                "min_master_version": region.kubernetes_version,
                "remove_default_node_pool": True,
                "initial_node_count": 1,
                "deletion_protection": True,
                "enable_shielded_nodes": True,
                "private_cluster_config": [
                    {
                        "enable_private_nodes": True,
                        "enable_private_endpoint": True,
                        "master_ipv4_cidr_block": str(master),
                    }
                ],
                "master_authorized_networks_config": [
                    {
                        "cidr_blocks": [
                            {
                                "cidr_block": region.network.cidr,
                                "display_name": "the region's network",
                            }
                        ]
                    }
                ],
                "ip_allocation_policy": [
                    {
                        "cluster_secondary_range_name": "pods",
                        "services_secondary_range_name": "services",
                    }
                ],
                "database_encryption": [{"state": "ENCRYPTED", "key_name": key.attr("id")}],
                "workload_identity_config": [
                    {"workload_pool": f"{self._project(config)}.svc.id.goog"}
                ],
                "network_policy": [{"enabled": True}],
                "enable_intranode_visibility": True,
                "resource_labels": {"project": config.name, "region": region.name},
                "master_auth": [
                    {"client_certificate_config": [{"issue_client_certificate": False}]}
                ],
                "binary_authorization": [{"evaluation_mode": "PROJECT_SINGLETON_POLICY_ENFORCE"}],
                "release_channel": [{"channel": "REGULAR"}],
            },
        )

    def _node_pool(
        self, m: Module, region: RegionConfig, group: NodeGroup, cluster: Ref, sa: Ref
    ) -> None:
        m.resource(
            "google_container_node_pool",
            group.name,
            {
                "name": group.name,
                "cluster": cluster.attr("id"),
                "location": region.name,
                "autoscaling": [
                    {"total_min_node_count": group.min_size, "total_max_node_count": group.max_size}
                ],
                "management": [{"auto_repair": True, "auto_upgrade": True}],
                "node_config": [
                    {
                        "machine_type": group.instance_type,
                        "spot": group.spot,
                        "disk_size_gb": group.disk_gib,
                        "labels": node_labels(group, region),
                        "taint": [
                            {"key": k, "value": v, "effect": _EFFECT[e]}
                            for k, v, e in node_taints(group)
                        ],
                        "service_account": sa.attr("email"),
                        "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
                        "workload_metadata_config": [{"mode": "GKE_METADATA"}],
                        "shielded_instance_config": [
                            {"enable_secure_boot": True, "enable_integrity_monitoring": True}
                        ],
                        "metadata": {"disable-legacy-endpoints": "true"},
                    }
                ],
            },
        )

    def _bucket(
        self, m: Module, config: InfraConfig, region: RegionConfig, cluster: Ref, key: Ref
    ) -> Ref:
        agent = m.datasource("google_storage_project_service_account", "gcs", {})
        grant = m.resource(
            "google_kms_crypto_key_iam_member",
            "gcs",
            {
                "crypto_key_id": key.attr("id"),
                "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
                "member": "serviceAccount:" + agent.attr("email_address"),
            },
        )
        bucket = m.resource(
            "google_storage_bucket",
            "artifacts",
            {
                "name": f"{config.object_storage.bucket_prefix}-{region.name}",
                "location": region.name.upper(),
                "uniform_bucket_level_access": True,
                "public_access_prevention": "enforced",
                "force_destroy": False,
                "versioning": [{"enabled": True}],
                "encryption": [{"default_kms_key_name": key.attr("id")}],
                "depends_on": [grant.address],
            },
        )
        workload = m.resource(
            "google_service_account",
            "workload",
            {"account_id": f"tcplab-worker-{region.name}"[:30], "display_name": "tcplab workers"},
        )
        m.resource(
            "google_storage_bucket_iam_member",
            "workload",
            {
                "bucket": bucket.attr("name"),
                "role": "roles/storage.objectUser",
                "member": "serviceAccount:" + workload.attr("email"),
            },
        )
        m.resource(
            "google_service_account_iam_member",
            "workload_identity",
            {
                "service_account_id": workload.attr("name"),
                "role": "roles/iam.workloadIdentityUser",
                "member": f"serviceAccount:{self._project(config)}.svc.id.goog"
                "[tcplab/tcplab-worker]",
            },
        )
        return bucket

    def _database(self, m: Module, config: InfraConfig, region: RegionConfig, net: Ref) -> None:
        db = config.database
        if region.name not in [db.primary, *db.replicas]:
            m.output("database_url", "", doc="no database in this region")
            return
        psa = m.resource(
            "google_compute_global_address",
            "sql",
            {
                "name": "tcplab-sql",
                "purpose": "VPC_PEERING",
                "address_type": "INTERNAL",
                "prefix_length": 20,
                "network": net.attr("id"),
            },
        )
        link = m.resource(
            "google_service_networking_connection",
            "sql",
            {
                "network": net.attr("id"),
                "service": "servicenetworking.googleapis.com",
                "reserved_peering_ranges": [psa.attr("name")],
            },
        )
        body: dict[str, Any] = {
            "name": f"{config.name}-{region.name}",
            "region": region.name,
            "database_version": f"POSTGRES_{db.engine_version}",
            "deletion_protection": True,
            "depends_on": [link.address],
            "settings": [
                {
                    "tier": db.instance_class,
                    "availability_type": "REGIONAL",
                    "disk_autoresize": True,
                    "disk_size": db.storage_gib,
                    "deletion_protection_enabled": True,
                    "ip_configuration": [
                        {
                            "ipv4_enabled": False,
                            "private_network": net.attr("id"),
                            "ssl_mode": "ENCRYPTED_ONLY",
                        }
                    ],
                    "database_flags": [
                        {"name": n, "value": "on"}
                        for n in (
                            "log_checkpoints",
                            "log_connections",
                            "log_disconnections",
                            "log_lock_waits",
                            "cloudsql.iam_authentication",
                        )
                    ],
                }
            ],
        }
        if region.name == db.primary:
            body["settings"][0]["backup_configuration"] = [
                {
                    "enabled": True,
                    "point_in_time_recovery_enabled": True,
                    "backup_retention_settings": [{"retained_backups": db.backup_retention_days}],
                }
            ]
        else:
            self.remote_state(m, config, db.primary or "")
            body["master_instance_name"] = remote(db.primary or "", "database_instance_name")
        sql = m.resource("google_sql_database_instance", "main", body)
        m.output("database_instance_name", sql.attr("name"))
        m.output(
            "database_url",
            "postgresql://tcplab@"
            + sql.attr("private_ip_address")
            + ":5432/tcplab?sslmode=verify-ca",
        )

    def configure_global(self, module: Module, config: InfraConfig) -> None:
        module.provider("google", {"project": self._project(config)})

    def dns(self, module: Module, config: InfraConfig) -> None:
        _gcp_global.dns(module, config)

    def peer(self, module: Module, a: RegionConfig, b: RegionConfig) -> None:
        _gcp_global.peer(module, a, b)

    def replicate(self, module: Module, config: InfraConfig, source: str, dest: str) -> None:
        _gcp_global.replicate(module, config, source, dest)


register_renderer(GcpRenderer())

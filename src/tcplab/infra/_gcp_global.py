"""GCP pieces of the global module: Cloud DNS geo routing, the global load balancer's anycast
address, network peering, bucket replication (Storage Transfer)."""

from __future__ import annotations

from tcplab.infra._base import remote, tf_name
from tcplab.infra._config import InfraConfig, RegionConfig
from tcplab.infra._tf import Module

__all__ = ["dns", "global_address", "multi_cluster_ingress", "peer", "project", "replicate"]


def project(config: InfraConfig) -> str:
    """The configured GCP project."""
    assert config.providers.gcp is not None  # validated: a region or the DNS zone uses gcp
    return config.providers.gcp.project


def dns(module: Module, config: InfraConfig) -> None:
    zone = module.resource(
        "google_dns_managed_zone",
        "main",
        {
            "name": config.dns.zone.replace(".", "-"),
            "dns_name": config.dns.zone + ".",
            "dnssec_config": [{"state": "on"}],
        },
    )
    module.resource(
        "google_dns_record_set",
        "api",
        {
            "managed_zone": zone.attr("name"),
            "name": f"{config.dns.record}.{config.dns.zone}.",
            "type": "A",
            "ttl": config.dns.ttl,
            "routing_policy": [
                {
                    "geo": [
                        {
                            "location": r.routing_location or r.name,
                            "rrdatas": [remote(r.name, "ingress_address")],
                        }
                        for r in config.regions
                    ]
                }
            ],
        },
    )
    module.output("dns_name", f"{config.dns.record}.{config.dns.zone}")
    module.output("name_servers", zone.attr("name_servers"))


def global_address(module: Module) -> None:
    """The anycast address of the global external load balancer (multi-cluster ingress)."""
    addr = module.resource("google_compute_global_address", "ingress", {"name": "tcplab-global"})
    module.output("gcp_global_address", addr.attr("address"))


def multi_cluster_ingress(module: Module, config: InfraConfig) -> None:
    """Register every GKE cluster in the fleet and enable Multi Cluster Ingress, which builds
    the global external HTTPS load balancer (on the anycast address) from the clusters'
    ``MultiClusterIngress`` objects; the primary GCP region's cluster holds the config."""
    regions = [r for r in config.regions if r.provider == "gcp"]
    members = []
    for r in regions:
        members.append(
            module.resource(
                "google_gke_hub_membership",
                tf_name(r.name),
                {
                    "project": project(config),
                    "membership_id": f"{config.name}-{r.name}",
                    "endpoint": [
                        {
                            "gke_cluster": [
                                {
                                    "resource_link": "//container.googleapis.com/"
                                    + remote(r.name, "cluster_id")
                                }
                            ]
                        }
                    ],
                },
            )
        )
    module.resource(
        "google_gke_hub_feature",
        "multiclusteringress",
        {
            "project": project(config),
            "name": "multiclusteringress",
            "location": "global",
            "spec": [{"multiclusteringress": [{"config_membership": members[0].attr("id")}]}],
        },
    )


def peer(module: Module, a: RegionConfig, b: RegionConfig) -> None:
    for src, dst in ((a, b), (b, a)):
        module.resource(
            "google_compute_network_peering",
            f"{tf_name(src.name)}_{tf_name(dst.name)}",
            {
                "name": f"tcplab-{src.name}-to-{dst.name}",
                "network": remote(src.name, "network_self_link"),
                "peer_network": remote(dst.name, "network_self_link"),
            },
        )


def replicate(module: Module, config: InfraConfig, source: str, dest: str) -> None:
    module.resource(
        "google_storage_transfer_job",
        f"{tf_name(source)}_{tf_name(dest)}",
        {
            "description": f"tcplab artifacts {source} -> {dest}",
            "project": project(config),
            "transfer_spec": [
                {
                    "gcs_data_source": [{"bucket_name": remote(source, "bucket_name")}],
                    "gcs_data_sink": [{"bucket_name": remote(dest, "bucket_name")}],
                }
            ],
            "schedule": [
                {
                    "schedule_start_date": [{"year": 2026, "month": 1, "day": 1}],
                    "repeat_interval": "3600s",
                }
            ],
        },
    )

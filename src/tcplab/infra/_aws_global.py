"""AWS pieces of the global module: Route 53 latency records with health checks, cross-region
VPC peering, S3 replication."""

from __future__ import annotations

import json

from tcplab.infra._aws_parts import alias, assume_policy
from tcplab.infra._base import remote, tf_name
from tcplab.infra._config import InfraConfig, RegionConfig
from tcplab.infra._tf import Module

__all__ = ["route53", "s3_replication", "vpc_peering"]


def route53(module: Module, config: InfraConfig) -> None:
    """A Route 53 zone and one latency record (with an HTTPS health check) per region."""
    zone = module.resource("aws_route53_zone", "main", {"name": config.dns.zone})
    for r in config.regions:
        name = tf_name(r.name)
        check = module.resource(
            "aws_route53_health_check",
            name,
            {
                "ip_address": remote(r.name, "ingress_address"),
                "port": 443,
                "type": "HTTPS",
                "resource_path": "/healthz",
                "failure_threshold": 3,
                "request_interval": 30,
            },
        )
        module.resource(
            "aws_route53_record",
            name,
            {
                "zone_id": zone.attr("zone_id"),
                "name": f"{config.dns.record}.{config.dns.zone}",
                "type": "A",
                "ttl": config.dns.ttl,
                "records": [remote(r.name, "ingress_address")],
                "set_identifier": r.name,
                "health_check_id": check.attr("id"),
                "latency_routing_policy": [{"region": r.routing_location or r.name}],
            },
        )
    module.output("dns_name", f"{config.dns.record}.{config.dns.zone}")
    module.output("name_servers", zone.attr("name_servers"))


def vpc_peering(module: Module, a: RegionConfig, b: RegionConfig) -> None:
    """A cross-region VPC peering, accepted on the peer side, with routes both ways."""
    name = f"{tf_name(a.name)}_{tf_name(b.name)}"
    peering = module.resource(
        "aws_vpc_peering_connection",
        name,
        {
            "provider": f"aws.{alias(a.name)}",
            "vpc_id": remote(a.name, "network_id"),
            "peer_vpc_id": remote(b.name, "network_id"),
            "peer_region": b.name,
        },
    )
    module.resource(
        "aws_vpc_peering_connection_accepter",
        name,
        {
            "provider": f"aws.{alias(b.name)}",
            "auto_accept": True,
            "vpc_peering_connection_id": peering.attr("id"),
        },
    )
    for src, dst in ((a, b), (b, a)):
        module.resource(
            "aws_route",
            f"{tf_name(src.name)}_to_{tf_name(dst.name)}",
            {
                "provider": f"aws.{alias(src.name)}",
                "route_table_id": remote(src.name, "route_table_id"),
                "destination_cidr_block": dst.network.cidr,
                "vpc_peering_connection_id": peering.attr("id"),
            },
        )


def s3_replication(module: Module, config: InfraConfig, source: str, dest: str) -> None:
    """Replicate every object (KMS-encrypted ones included) from one bucket to another."""
    name = f"{tf_name(source)}_{tf_name(dest)}"
    role = module.resource(
        "aws_iam_role",
        f"replication_{name}",
        {
            "provider": f"aws.{alias(source)}",
            "name_prefix": "tcplab-s3-replication-",
            "assume_role_policy": assume_policy("s3.amazonaws.com"),
        },
    )
    statements = [
        {
            "Effect": "Allow",
            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            "Resource": [remote(source, "bucket_arn")],
        },
        {
            "Effect": "Allow",
            "Action": [
                "s3:GetObjectVersionForReplication",
                "s3:GetObjectVersionAcl",
                "s3:GetObjectVersionTagging",
            ],
            "Resource": [remote(source, "bucket_arn") + "/*"],
        },
        {
            "Effect": "Allow",
            "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            "Resource": [remote(dest, "bucket_arn") + "/*"],
        },
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [remote(source, "kms_key_arn")]},
        {"Effect": "Allow", "Action": ["kms:Encrypt"], "Resource": [remote(dest, "kms_key_arn")]},
    ]
    module.resource(
        "aws_iam_role_policy",
        f"replication_{name}",
        {
            "provider": f"aws.{alias(source)}",
            "role": role.attr("id"),
            "policy": json.dumps({"Version": "2012-10-17", "Statement": statements}),
        },
    )
    module.resource(
        "aws_s3_bucket_replication_configuration",
        name,
        {
            "provider": f"aws.{alias(source)}",
            "role": role.attr("arn"),
            "bucket": remote(source, "bucket_name"),
            "rule": [
                {
                    "id": f"to-{dest}",
                    "status": "Enabled",
                    "filter": [{}],
                    "delete_marker_replication": [{"status": "Enabled"}],
                    "source_selection_criteria": [
                        {"sse_kms_encrypted_objects": [{"status": "Enabled"}]}
                    ],
                    "destination": [
                        {
                            "bucket": remote(dest, "bucket_arn"),
                            "encryption_configuration": [
                                {"replica_kms_key_id": remote(dest, "kms_key_arn")}
                            ],
                        }
                    ],
                }
            ],
        },
    )

"""AWS building blocks used by :mod:`tcplab.infra._aws` (KMS, routing, IAM, RDS, S3, DNS)."""

from __future__ import annotations

import json
from typing import Any

from tcplab.infra._base import remote, tf_name
from tcplab.infra._config import InfraConfig, RegionConfig
from tcplab.infra._tf import Module, Ref

__all__ = [
    "alias",
    "bucket",
    "database",
    "flow_logs",
    "ingress",
    "kms_key",
    "node_role",
    "route53",
    "routing",
    "s3_replication",
    "service_role",
    "vpc_peering",
    "workload_role",
]

_MANAGED = "arn:aws:iam::aws:policy/"
_ME = "${data.aws_caller_identity.current.account_id}"


def alias(region: str) -> str:
    """The provider alias of a region in the global module."""
    return tf_name(region)


def _assume(service: str) -> str:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
    return json.dumps(doc, sort_keys=True)


def kms_key(m: Module, region: RegionConfig) -> Ref:
    """The region's customer-managed key (EKS secrets, RDS, S3, logs), rotated yearly."""
    m.datasource("aws_caller_identity", "current", {})
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{_ME}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchLogsEncrypt",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region.name}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"],
                "Resource": "*",
            },
        ],
    }
    return m.resource(
        "aws_kms_key",
        "main",
        {
            "description": f"tcplab {region.name}: EKS secrets, RDS, S3, logs",
            "enable_key_rotation": True,
            "deletion_window_in_days": 30,
            "policy": json.dumps(policy, sort_keys=True),
        },
    )


def flow_logs(m: Module, vpc: Ref) -> None:
    """VPC flow logs into an encrypted CloudWatch log group kept a year."""
    group = m.resource(
        "aws_cloudwatch_log_group",
        "flow",
        {
            "name_prefix": "tcplab-flow-",
            "retention_in_days": 365,
            "kms_key_id": Ref("aws_kms_key.main").attr("arn"),
        },
    )
    role = service_role(m, "flow", "vpc-flow-logs.amazonaws.com", [])
    statement = {
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": group.attr("arn") + ":*",
    }
    m.resource(
        "aws_iam_role_policy",
        "flow",
        {
            "role": role.attr("id"),
            "policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        },
    )
    m.resource(
        "aws_flow_log",
        "main",
        {
            "vpc_id": vpc.attr("id"),
            "traffic_type": "ALL",
            "iam_role_arn": role.attr("arn"),
            "log_destination": group.attr("arn"),
        },
    )


def routing(m: Module, net: dict[str, Ref]) -> None:
    """Internet gateway for the public (ingress) subnets, NAT for the private ones."""
    igw = m.resource("aws_internet_gateway", "main", {"vpc_id": net["vpc"].attr("id")})
    eip = m.resource("aws_eip", "nat", {"domain": "vpc"})
    nat = m.resource(
        "aws_nat_gateway",
        "main",
        {"allocation_id": eip.attr("id"), "subnet_id": net["public_a"].attr("id")},
    )
    for kind, target in (
        ("public", {"gateway_id": igw.attr("id")}),
        ("private", {"nat_gateway_id": nat.attr("id")}),
    ):
        rt = m.resource("aws_route_table", kind, {"vpc_id": net["vpc"].attr("id")})
        net[f"{kind}_rt"] = rt
        m.resource(
            "aws_route",
            f"{kind}_default",
            {"route_table_id": rt.attr("id"), "destination_cidr_block": "0.0.0.0/0", **target},
        )
        for side in ("a", "b"):
            m.resource(
                "aws_route_table_association",
                f"{kind}_{side}",
                {"subnet_id": net[f"{kind}_{side}"].attr("id"), "route_table_id": rt.attr("id")},
            )


def service_role(m: Module, name: str, service: str, managed: list[str]) -> Ref:
    """An IAM role a service assumes, with the named AWS-managed policies attached."""
    existing = m.resources.get("aws_iam_role", {})
    if name in existing:
        return Ref(f"aws_iam_role.{name}")
    role = m.resource(
        "aws_iam_role",
        name,
        {"name_prefix": f"tcplab-{name}-", "assume_role_policy": _assume(service)},
    )
    for policy in managed:
        m.resource(
            "aws_iam_role_policy_attachment",
            f"{name}_{policy.split('/')[-1]}",
            {"role": role.attr("name"), "policy_arn": _MANAGED + policy},
        )
    return role


def node_role(m: Module) -> Ref:
    """The node role: only the three policies EKS nodes need (no object storage, no admin)."""
    return service_role(
        m,
        "node",
        "ec2.amazonaws.com",
        ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"],
    )


def workload_role(m: Module, region: RegionConfig, cluster: Ref, bucket: Ref) -> None:
    """The workers' pod identity: read/write objects of the region's bucket, nothing else."""
    role = service_role(m, "workload", "pods.eks.amazonaws.com", [])
    statements = [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket.attr("arn")},
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": bucket.attr("arn") + "/*",
        },
        {
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": Ref("aws_kms_key.main").attr("arn"),
        },
    ]
    m.resource(
        "aws_iam_role_policy",
        "workload",
        {
            "role": role.attr("id"),
            "policy": json.dumps({"Version": "2012-10-17", "Statement": statements}),
        },
    )
    m.resource(
        "aws_eks_pod_identity_association",
        "workload",
        {
            "cluster_name": cluster.attr("name"),
            "namespace": "tcplab",
            "service_account": "tcplab-worker",
            "role_arn": role.attr("arn"),
        },
    )


def ingress(m: Module, region: RegionConfig, net: dict[str, Ref]) -> Ref:
    """The ingress NLB's address and security group: 443 from anywhere (the one exception)."""
    m.resource(
        "aws_security_group",
        "ingress_lb",
        {
            "name_prefix": "tcplab-ingress-lb-",
            "description": "the ingress load balancer: HTTPS from the internet",
            "vpc_id": net["vpc"].attr("id"),
            "ingress": [_rule(443, ["0.0.0.0/0"], "HTTPS from clients")],
            "egress": [_rule(443, [region.network.cidr], "to the ingress pods")],
        },
    )
    return m.resource("aws_eip", "ingress", {"domain": "vpc", "tags": {"role": "ingress-lb"}})


def _rule(port: int, cidrs: list[str], description: str) -> dict[str, Any]:
    return {
        "from_port": port,
        "to_port": port,
        "protocol": "tcp",
        "cidr_blocks": cidrs,
        "description": description,
        "ipv6_cidr_blocks": [],
        "prefix_list_ids": [],
        "security_groups": [],
        "self": False,
    }


def bucket(m: Module, config: InfraConfig, region: RegionConfig, key: Ref) -> Ref:
    """The artifact bucket: KMS-encrypted, versioned, no public access."""
    b = m.resource(
        "aws_s3_bucket",
        "artifacts",
        {"bucket": f"{config.object_storage.bucket_prefix}-{region.name}"},
    )
    m.resource(
        "aws_s3_bucket_versioning",
        "artifacts",
        {"bucket": b.attr("id"), "versioning_configuration": [{"status": "Enabled"}]},
    )
    m.resource(
        "aws_s3_bucket_server_side_encryption_configuration",
        "artifacts",
        {
            "bucket": b.attr("id"),
            "rule": [
                {
                    "bucket_key_enabled": True,
                    "apply_server_side_encryption_by_default": [
                        {"sse_algorithm": "aws:kms", "kms_master_key_id": key.attr("arn")}
                    ],
                }
            ],
        },
    )
    m.resource(
        "aws_s3_bucket_public_access_block",
        "artifacts",
        {
            "bucket": b.attr("id"),
            "block_public_acls": True,
            "block_public_policy": True,
            "ignore_public_acls": True,
            "restrict_public_buckets": True,
        },
    )
    m.resource(
        "aws_s3_bucket_lifecycle_configuration",
        "artifacts",
        {
            "bucket": b.attr("id"),
            "rule": [
                {
                    "id": "noncurrent-and-incomplete",
                    "status": "Enabled",
                    "filter": [{}],
                    "noncurrent_version_expiration": [{"noncurrent_days": 90}],
                    "abort_incomplete_multipart_upload": [{"days_after_initiation": 7}],
                }
            ],
        },
    )
    return b


def database(
    m: Module, config: InfraConfig, region: RegionConfig, net: dict[str, Ref], key: Ref
) -> None:
    """RDS PostgreSQL: the primary, or a cross-region read replica of it; private, encrypted,
    deletion-protected. Declares the ``database_url`` output (empty without a database)."""
    db = config.database
    if region.name not in [db.primary, *db.replicas]:
        m.output("database_url", "", doc="no database in this region")
        return
    subnets = m.resource(
        "aws_db_subnet_group",
        "main",
        {
            "name_prefix": "tcplab-",
            "subnet_ids": [net["private_a"].attr("id"), net["private_b"].attr("id")],
        },
    )
    sg = m.resource(
        "aws_security_group",
        "database",
        {
            "name_prefix": "tcplab-db-",
            "description": "PostgreSQL from the cluster network",
            "vpc_id": net["vpc"].attr("id"),
            "ingress": [_rule(5432, [region.network.cidr], "PostgreSQL from the VPC")],
            "egress": [],
        },
    )
    body: dict[str, Any] = {
        "identifier_prefix": f"{config.name}-",
        "instance_class": db.instance_class,
        "storage_encrypted": True,
        "kms_key_id": key.attr("arn"),
        "deletion_protection": True,
        "publicly_accessible": False,
        "db_subnet_group_name": subnets.attr("name"),
        "vpc_security_group_ids": [sg.attr("id")],
        "multi_az": True,
        "iam_database_authentication_enabled": True,
        "copy_tags_to_snapshot": True,
        "auto_minor_version_upgrade": True,
        "backup_retention_period": db.backup_retention_days,
        "performance_insights_enabled": True,
        "performance_insights_kms_key_id": key.attr("arn"),
        "enabled_cloudwatch_logs_exports": ["postgresql", "upgrade"],
        "skip_final_snapshot": False,
        "final_snapshot_identifier": f"{config.name}-final",
    }
    if region.name == db.primary:
        body |= {
            "engine": "postgres",
            "engine_version": db.engine_version,
            "allocated_storage": db.storage_gib,
            "username": "tcplab",
            "db_name": "tcplab",
            "manage_master_user_password": True,
        }
    else:
        m.datasource(
            "terraform_remote_state", tf_name(db.primary or ""), _state(config, db.primary)
        )
        body["replicate_source_db"] = remote(db.primary or "", "database_arn")
    params = m.resource(
        "aws_db_parameter_group",
        "main",
        {
            "name_prefix": "tcplab-",
            "family": f"postgres{db.engine_version}",
            "parameter": [
                {"name": "log_statement", "value": "ddl"},
                {"name": "rds.force_ssl", "value": "1"},
                {"name": "log_min_duration_statement", "value": "1000"},
            ],
        },
    )
    monitoring = service_role(
        m,
        "rds_monitoring",
        "monitoring.rds.amazonaws.com",
        ["service-role/AmazonRDSEnhancedMonitoringRole"],
    )
    body |= {
        "parameter_group_name": params.attr("name"),
        "monitoring_interval": 60,
        "monitoring_role_arn": monitoring.attr("arn"),
    }
    rds = m.resource("aws_db_instance", "main", body)
    m.output("database_arn", rds.attr("arn"))
    m.output(
        "database_url",
        "postgresql://tcplab@" + rds.attr("endpoint") + "/tcplab?sslmode=verify-full",
        doc="writer (primary) or reader (replica)",
    )


def _state(config: InfraConfig, region: str | None) -> dict[str, Any]:
    s = config.providers.aws
    assert s is not None and region is not None
    return {
        "backend": "s3",
        "config": {
            "bucket": s.state_bucket,
            "key": f"tcplab/{region}/terraform.tfstate",
            "region": s.state_region,
            "dynamodb_table": s.lock_table,
            "encrypt": True,
        },
    }


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
            "assume_role_policy": _assume("s3.amazonaws.com"),
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

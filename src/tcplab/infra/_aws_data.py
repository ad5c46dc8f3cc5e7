"""AWS region data services: the artifact bucket and RDS PostgreSQL (primary or cross-region
read replica: private, encrypted, deletion-protected, TLS only)."""

from __future__ import annotations

from typing import Any

from tcplab.infra._aws_parts import service_role, sg_rule
from tcplab.infra._base import remote, tf_name
from tcplab.infra._config import InfraConfig, RegionConfig
from tcplab.infra._tf import Module, Ref

__all__ = ["bucket", "database"]


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
    subnets, sg = _placement(m, region, net)
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
    body |= _operations(m, db.engine_version)
    rds = m.resource("aws_db_instance", "main", body)
    m.output("database_arn", rds.attr("arn"))
    m.output(
        "database_url",
        "postgresql://tcplab@" + rds.attr("endpoint") + "/tcplab?sslmode=verify-full",
        doc="writer (primary) or reader (replica)",
    )


def _placement(m: Module, region: RegionConfig, net: dict[str, Ref]) -> tuple[Ref, Ref]:
    """The private subnets and a security group open to the region's network only."""
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
            "ingress": [sg_rule(5432, [region.network.cidr], "PostgreSQL from the VPC")],
            "egress": [],
        },
    )
    return subnets, sg


def _operations(m: Module, engine_version: str) -> dict[str, Any]:
    """TLS required, slow-query and DDL logging, enhanced monitoring."""
    params = m.resource(
        "aws_db_parameter_group",
        "main",
        {
            "name_prefix": "tcplab-",
            "family": f"postgres{engine_version}",
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
    return {
        "parameter_group_name": params.attr("name"),
        "monitoring_interval": 60,
        "monitoring_role_arn": monitoring.attr("arn"),
    }


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

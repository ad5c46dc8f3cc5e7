"""AWS building blocks used by :mod:`tcplab.infra._aws` (KMS, routing, IAM, RDS, S3, DNS)."""

from __future__ import annotations

import json
from typing import Any

from tcplab.infra._base import tf_name
from tcplab.infra._config import RegionConfig
from tcplab.infra._tf import Module, Ref

__all__ = [
    "alias",
    "assume_policy",
    "flow_logs",
    "ingress",
    "kms_key",
    "node_role",
    "routing",
    "service_role",
    "sg_rule",
    "workload_role",
]

_MANAGED = "arn:aws:iam::aws:policy/"
_ME = "${data.aws_caller_identity.current.account_id}"


def alias(region: str) -> str:
    """The provider alias of a region in the global module."""
    return tf_name(region)


def assume_policy(service: str) -> str:
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
        {"name_prefix": f"tcplab-{name}-", "assume_role_policy": assume_policy(service)},
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
            "ingress": [sg_rule(443, ["0.0.0.0/0"], "HTTPS from clients")],
            "egress": [sg_rule(443, [region.network.cidr], "to the ingress pods")],
        },
    )
    return m.resource("aws_eip", "ingress", {"domain": "vpc", "tags": {"role": "ingress-lb"}})


def sg_rule(port: int, cidrs: list[str], description: str) -> dict[str, Any]:
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

"""AWS: VPC, private subnets, EKS with managed node groups (cluster-autoscaler tags), the
ingress load balancer's addresses, RDS PostgreSQL, S3; globally Route 53 latency records,
VPC peering and S3 replication."""

from __future__ import annotations

from typing import Any

from tcplab.infra import _aws_data, _aws_global
from tcplab.infra import _aws_parts as parts
from tcplab.infra._base import (
    REGION_LABEL,
    ProviderRenderer,
    node_labels,
    node_taints,
    register_renderer,
    split_network,
)
from tcplab.infra._catalogue import load_catalogue
from tcplab.infra._config import InfraConfig, NodeGroup, RegionConfig
from tcplab.infra._tf import Module, Ref

__all__ = ["AwsRenderer"]

_AMI = {"cpu": "AL2023_x86_64_STANDARD", "gpu": "AL2023_x86_64_NVIDIA", "fpga": "AL2_x86_64"}
_EFFECT = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}
_EFFECT["NoExecute"] = "NO_EXECUTE"


class AwsRenderer(ProviderRenderer):
    """The AWS renderer."""

    name = "aws"

    def backend(self, config: InfraConfig, key: str) -> tuple[str, dict[str, Any]]:
        s = config.providers.aws
        assert s is not None  # validated: a region or the DNS zone uses aws
        return "s3", {
            "bucket": s.state_bucket,
            "key": f"{key}/terraform.tfstate",
            "region": s.state_region,
            "dynamodb_table": s.lock_table,
            "encrypt": True,
        }

    def region_module(self, config: InfraConfig, region: RegionConfig) -> Module:
        m = Module(region.name)
        backend, cfg = self.backend(config, f"tcplab/{region.name}")
        m.terraform = {
            "required_version": ">= 1.6",
            "required_providers": {"aws": self.required_provider()},
            "backend": {backend: cfg},
        }
        tags = {"project": config.name, "region": region.name}
        m.provider("aws", {"region": region.name, "default_tags": [{"tags": tags}]})
        key = parts.kms_key(m, region)
        net = self._network(m, region)
        cluster = self._cluster(m, config, region, net, key)
        for group in region.node_groups:
            self._node_group(m, region, group, cluster, net)
        bucket = _aws_data.bucket(m, config, region, key)
        parts.workload_role(m, region, cluster, bucket)
        _aws_data.database(m, config, region, net, key)
        ingress = parts.ingress(m, region, net)
        m.output("provider", "aws")
        m.output("region", region.name)
        m.output("cluster_name", cluster.attr("name"))
        m.output("kubernetes_endpoint", cluster.attr("endpoint"), doc="private EKS endpoint")
        m.output("network_id", net["vpc"].attr("id"))
        m.output("network_cidr", region.network.cidr)
        m.output("route_table_id", net["private_rt"].attr("id"))
        m.output("bucket_name", bucket.attr("bucket"))
        m.output("bucket_arn", bucket.attr("arn"))
        m.output("kms_key_arn", key.attr("arn"))
        m.output("ingress_address", ingress.attr("public_ip"), doc="the ingress NLB address")
        return m

    def _network(self, m: Module, region: RegionConfig) -> dict[str, Ref]:
        vpc = m.resource(
            "aws_vpc",
            "main",
            {
                "cidr_block": region.network.cidr,
                "enable_dns_hostnames": True,
                "enable_dns_support": True,
            },
        )
        m.resource("aws_default_security_group", "default", {"vpc_id": vpc.attr("id")})
        parts.flow_logs(m, vpc)
        zones = m.datasource("aws_availability_zones", "available", {"state": "available"})
        net: dict[str, Ref] = {"vpc": vpc}
        for i, (name, cidr) in enumerate(
            zip(
                ("private_a", "private_b", "public_a", "public_b"),
                split_network(region.network.cidr),
                strict=True,
            )
        ):
            net[name] = m.resource(
                "aws_subnet",
                name,
                {
                    "vpc_id": vpc.attr("id"),
                    "cidr_block": cidr,
                    "availability_zone": "${" + zones.address + f".names[{i % 2}]" + "}",
                    "map_public_ip_on_launch": False,
                    "tags": {
                        "kubernetes.io/role/internal-elb"
                        if "private" in name
                        else "kubernetes.io/role/elb": "1"
                    },
                },
            )
        parts.routing(m, net)
        return net

    def _cluster(
        self, m: Module, config: InfraConfig, region: RegionConfig, net: dict[str, Ref], key: Ref
    ) -> Ref:
        role = parts.service_role(m, "cluster", "eks.amazonaws.com", ["AmazonEKSClusterPolicy"])
        return m.resource(
            "aws_eks_cluster",
            "main",
            {
                "name": f"{config.name}-{region.name}",
                "role_arn": role.attr("arn"),
                "version": region.kubernetes_version,
                "vpc_config": [
                    {
                        "subnet_ids": [net["private_a"].attr("id"), net["private_b"].attr("id")],
                        "endpoint_private_access": True,
                        "endpoint_public_access": False,
                    }
                ],
                "encryption_config": [
                    {"provider": [{"key_arn": key.attr("arn")}], "resources": ["secrets"]}
                ],
                "enabled_cluster_log_types": [
                    "api",
                    "audit",
                    "authenticator",
                    "controllerManager",
                    "scheduler",
                ],
                "access_config": [{"authentication_mode": "API"}],
            },
        )

    def _node_group(
        self, m: Module, region: RegionConfig, group: NodeGroup, cluster: Ref, net: dict[str, Ref]
    ) -> None:
        role = parts.node_role(m)
        itype = load_catalogue().providers["aws"].instance_types[group.instance_type]
        labels = node_labels(group, region)
        taints = node_taints(group)
        template = {**labels, REGION_LABEL: region.name}  # scale from zero: what nodes will have
        autoscaler = {
            "k8s.io/cluster-autoscaler/enabled": "true",
            **{
                f"k8s.io/cluster-autoscaler/node-template/label/{k}": v for k, v in template.items()
            },
            **{
                f"k8s.io/cluster-autoscaler/node-template/taint/{k}": f"{v}:{e}"
                for k, v, e in taints
            },
        }
        m.resource(
            "aws_eks_node_group",
            group.name,
            {
                "cluster_name": cluster.attr("name"),
                "node_group_name": group.name,
                "node_role_arn": role.attr("arn"),
                "subnet_ids": [net["private_a"].attr("id"), net["private_b"].attr("id")],
                "instance_types": [group.instance_type],
                "capacity_type": "SPOT" if group.spot else "ON_DEMAND",
                "ami_type": _AMI[itype.kind],
                "disk_size": group.disk_gib,
                "scaling_config": [
                    {
                        "min_size": group.min_size,
                        "max_size": group.max_size,
                        "desired_size": group.min_size,
                    }
                ],
                "labels": labels,
                "taint": [{"key": k, "value": v, "effect": _EFFECT[e]} for k, v, e in taints],
                "tags": autoscaler,
            },
        )

    def configure_global(self, module: Module, config: InfraConfig) -> None:
        for r in config.regions:
            if r.provider == "aws":
                module.provider("aws", {"alias": parts.alias(r.name), "region": r.name})
        if not any(r.provider == "aws" for r in config.regions):
            module.provider("aws", {"region": "us-east-1"})

    def dns(self, module: Module, config: InfraConfig) -> None:
        _aws_global.route53(module, config)

    def peer(self, module: Module, a: RegionConfig, b: RegionConfig) -> None:
        _aws_global.vpc_peering(module, a, b)

    def replicate(self, module: Module, config: InfraConfig, source: str, dest: str) -> None:
        _aws_global.s3_replication(module, config, source, dest)


register_renderer(AwsRenderer())

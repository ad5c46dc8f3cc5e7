"""The typed multi-region configuration (``deploy/regions.yaml``, schema version 1).

Field-level rules live here (pydantic); rules that need the catalogue or several regions at
once live in :mod:`tcplab.infra._validate`. Every error names its YAML path
(``regions[1].node_groups[0].instance_type: ...``).
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "INFRA_SCHEMA_VERSION",
    "LABEL_KEYS",
    "AwsSettings",
    "AzureSettings",
    "DatabaseConfig",
    "DnsConfig",
    "GcpSettings",
    "InfraConfig",
    "NetworkConfig",
    "NodeGroup",
    "ObjectStorageConfig",
    "ProviderName",
    "ProvidersConfig",
    "RegionConfig",
    "Replication",
    "Taint",
]

INFRA_SCHEMA_VERSION = 1
ProviderName = Literal["aws", "gcp", "azure"]
#: the node label keys the job constraints of the service select on (docs/infrastructure.md):
#: ``hardware`` (Constraints.hardware), ``network`` (Constraints.low_latency) and ``region``
LABEL_KEYS = ("hardware", "network", "region")
_NAME = r"^[a-z0-9][a-z0-9-]{0,62}$"  # the service's Constraints.region pattern


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Taint(_Model):
    """A node taint; only jobs whose constraints tolerate it are placed on the node group."""

    key: str
    value: str
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class NodeGroup(_Model):
    """A managed node group (cluster-autoscaler bounds ``min_size``..``max_size``)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9]{0,11}$")
    instance_type: str
    min_size: int = Field(ge=0, le=1000)
    max_size: int = Field(ge=1, le=1000)
    spot: bool = False
    disk_gib: int = Field(default=100, ge=20, le=4096)
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)


class NetworkConfig(_Model):
    """The region's address space: the VPC/VNet, the pod and the service ranges."""

    cidr: str
    pod_cidr: str
    service_cidr: str

    @field_validator("cidr", "pod_cidr", "service_cidr")
    @classmethod
    def _is_network(cls, value: str) -> str:
        net = ipaddress.ip_network(value, strict=True)
        if net.version != 4 or not net.is_private:
            raise ValueError(f"{value} is not a private IPv4 network")
        if net.prefixlen > 20:
            raise ValueError(f"{value} is too small (need /20 or larger)")
        return value


class RegionConfig(_Model):
    """One region: a Kubernetes cluster, its network and node groups."""

    name: str = Field(pattern=_NAME)
    provider: ProviderName
    role: Literal["primary", "replica"]
    kubernetes_version: str = Field(pattern=r"^1\.\d{1,2}$")
    network: NetworkConfig
    node_groups: list[NodeGroup] = Field(min_length=1)
    #: a region of the DNS provider near this one, for latency routing (required when the DNS
    #: provider is not this region's provider; never guessed)
    routing_location: str | None = None


class DatabaseConfig(_Model):
    """Managed PostgreSQL: the primary in one region, read replicas in others."""

    primary: str | None = None
    replicas: list[str] = Field(default_factory=list)
    engine_version: str = Field(default="16", pattern=r"^\d{2}$")
    instance_class: str
    storage_gib: int = Field(default=100, ge=20, le=16384)
    backup_retention_days: int = Field(default=7, ge=1, le=35)


class Replication(_Model):
    """Object storage replication from one region's bucket to another's."""

    source: str
    destination: str


class ObjectStorageConfig(_Model):
    """One bucket (container) per region for run artifacts, with replication pairs."""

    bucket_prefix: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{2,30}$")
    replication: list[Replication] = Field(default_factory=list)


class DnsConfig(_Model):
    """The DNS zone and the global routing policy (latency-based) for ``record.zone``."""

    provider: ProviderName
    zone: str = Field(pattern=r"^([a-z0-9-]+\.)+[a-z]{2,}$")
    record: str = Field(default="api", pattern=r"^[a-z0-9-]{1,63}$")
    routing: Literal["latency"] = "latency"
    ttl: int = Field(default=60, ge=5, le=86400)


class AwsSettings(_Model):
    """Remote state: an S3 bucket with a DynamoDB lock table."""

    state_bucket: str
    state_region: str
    lock_table: str


class GcpSettings(_Model):
    """The project and the GCS remote state bucket."""

    project: str
    state_bucket: str


class AzureSettings(_Model):
    """The subscription and the Blob remote state."""

    subscription_id: str
    state_resource_group: str
    state_storage_account: str
    state_container: str = "tfstate"


class ProvidersConfig(_Model):
    """Per-provider settings; a provider used by a region must have its entry."""

    aws: AwsSettings | None = None
    gcp: GcpSettings | None = None
    azure: AzureSettings | None = None


class InfraConfig(_Model):
    """``deploy/regions.yaml``."""

    schema_version: Literal[1] = 1
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,20}$")
    providers: ProvidersConfig
    regions: list[RegionConfig] = Field(min_length=1)
    database: DatabaseConfig
    object_storage: ObjectStorageConfig
    dns: DnsConfig

    def region(self, name: str) -> RegionConfig:
        """The region called ``name`` (KeyError if none)."""
        for r in self.regions:
            if r.name == name:
                return r
        raise KeyError(name)

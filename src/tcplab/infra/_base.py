"""The pluggable part: one :class:`ProviderRenderer` per cloud, in a registry.

A renderer turns a validated region into a root module and adds its provider's pieces to the
global module (DNS routing, peering between two of its regions, object replication).
"""

from __future__ import annotations

import ipaddress
from abc import ABC, abstractmethod
from typing import Any

from tcplab.errors import UsageError
from tcplab.infra._catalogue import load_catalogue
from tcplab.infra._config import InfraConfig, NodeGroup, RegionConfig
from tcplab.infra._tf import Module, Ref

__all__ = [
    "DEVICE_TAINT",
    "GROUP_LABEL",
    "HARDWARE_LABEL",
    "LOW_LATENCY_CLASS",
    "NODE_CLASS_LABEL",
    "REGION_LABEL",
    "REGION_OUTPUTS",
    "ProviderRenderer",
    "get_renderer",
    "node_labels",
    "node_taints",
    "register_renderer",
    "remote",
    "split_network",
    "tf_name",
]

#: the outputs every region module declares (``tcplab deploy`` and the global module read them)
REGION_OUTPUTS = (
    "bucket_name",
    "cluster_name",
    "database_url",
    "ingress_address",
    "kubernetes_endpoint",
    "network_cidr",
    "network_id",
    "provider",
    "region",
)


def tf_name(region: str) -> str:
    """A Terraform identifier for a region name (``us-east-1`` → ``r_us_east_1``)."""
    return "r_" + region.replace("-", "_")


def split_network(cidr: str, count: int = 4) -> list[str]:
    """The first ``count`` /20 subnets of a VPC range (nodes, spare, ingress, database...)."""
    net = ipaddress.ip_network(cidr)
    new_prefix = max(net.prefixlen + 2, 20)
    return [str(s) for s in list(net.subnets(new_prefix=new_prefix))[:count]]


#: the Kubernetes node labels and taints the Kubernetes backend (``tcplab.kube``,
#: docs/kubernetes.md) selects and tolerates for each job constraint. ``regions.yaml`` speaks
#: the constraint vocabulary (``hardware``, ``network``, ``region``); these are what is rendered.
HARDWARE_LABEL = "tcplab.dev/hardware"
NODE_CLASS_LABEL = "tcplab.dev/node-class"
LOW_LATENCY_CLASS = "low-latency"
#: set by every cloud on every node to the provider's region name (never rendered by us: the
#: ``kubernetes.io`` prefix is reserved on EKS, GKE and AKS node groups)
REGION_LABEL = "topology.kubernetes.io/region"
#: names the node group (for operators; no job selects on it)
GROUP_LABEL = "tcplab.dev/node-group"
#: the taint key of an accelerator group; the backend tolerates it with ``operator: Exists``
DEVICE_TAINT = {"gpu": "nvidia.com/gpu", "fpga": "xilinx.com/fpga"}


def node_labels(group: NodeGroup, region: RegionConfig) -> dict[str, str]:
    """The Kubernetes node labels of a node group (``region`` comes from the cloud)."""
    out = {GROUP_LABEL: group.name}
    if "hardware" in group.labels:
        out[HARDWARE_LABEL] = group.labels["hardware"]
    if group.labels.get("network") == "high-performance":
        out[NODE_CLASS_LABEL] = LOW_LATENCY_CLASS
    return out


def node_taints(group: NodeGroup) -> list[tuple[str, str, str]]:
    """(key, value, effect) of the node group's Kubernetes taints."""
    out: list[tuple[str, str, str]] = []
    for t in group.taints:
        if t.key == "hardware":
            out.append((DEVICE_TAINT[t.value], "present", t.effect))
        else:  # validated: network=high-performance
            out.append((NODE_CLASS_LABEL, LOW_LATENCY_CLASS, t.effect))
    return out


def remote(region: str, output: str) -> str:
    """``${data.terraform_remote_state.r_REGION.outputs.OUTPUT}``."""
    return Ref(f"data.terraform_remote_state.{tf_name(region)}").attr("outputs", output)


class ProviderRenderer(ABC):
    """Renders one cloud's modules."""

    #: ``aws``, ``gcp`` or ``azure``
    name: str

    def required_provider(self) -> dict[str, Any]:
        """The pinned ``required_providers`` entry from the catalogue."""
        pin = load_catalogue().providers[self.name].terraform_provider  # type: ignore[index]
        return {"source": pin.source, "version": pin.version}

    @abstractmethod
    def backend(self, config: InfraConfig, key: str) -> tuple[str, dict[str, Any]]:
        """The remote state backend (type, config) for the module stored under ``key``."""

    @abstractmethod
    def region_module(self, config: InfraConfig, region: RegionConfig) -> Module:
        """The root module of ``region`` (declares every name in :data:`REGION_OUTPUTS`)."""

    @abstractmethod
    def configure_global(self, module: Module, config: InfraConfig) -> None:
        """Add this provider's ``provider`` blocks to the global module."""

    @abstractmethod
    def dns(self, module: Module, config: InfraConfig) -> None:
        """The zone and one latency-routed record per region (when this provider hosts DNS)."""

    @abstractmethod
    def peer(self, module: Module, a: RegionConfig, b: RegionConfig) -> None:
        """Peer the networks of two regions of this provider (both directions)."""

    @abstractmethod
    def replicate(self, module: Module, config: InfraConfig, source: str, dest: str) -> None:
        """Replicate the object storage of ``source`` into ``dest``."""

    def remote_state(self, module: Module, config: InfraConfig, region: str) -> None:
        """Read another region module's outputs (``data.terraform_remote_state.r_REGION``)."""
        backend, cfg = self.backend(config, f"tcplab/{region}")
        module.datasource(
            "terraform_remote_state", tf_name(region), {"backend": backend, "config": cfg}
        )


_RENDERERS: dict[str, ProviderRenderer] = {}


def register_renderer(renderer: ProviderRenderer) -> ProviderRenderer:
    """Add ``renderer`` to the registry under its ``name``."""
    _RENDERERS[renderer.name] = renderer
    return renderer


def get_renderer(name: str) -> ProviderRenderer:
    """The renderer of provider ``name``.

    Raises:
        UsageError: no renderer is registered under that name.
    """
    try:
        return _RENDERERS[name]
    except KeyError:
        raise UsageError(
            f"no renderer for provider {name!r}; known: {sorted(_RENDERERS)}"
        ) from None

"""Loading ``regions.yaml``: pydantic field rules plus the rules that need the catalogue or
several regions at once. All problems are collected and reported together, each with its YAML
path, before anything is rendered."""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tcplab.errors import ConfigError
from tcplab.infra._catalogue import load_catalogue
from tcplab.infra._config import LABEL_KEYS, InfraConfig, NodeGroup, RegionConfig

__all__ = ["InfraConfigError", "load_config", "parse_config", "validate_config", "yaml_path"]


class InfraConfigError(ConfigError):
    """``regions.yaml`` is invalid; ``problems`` holds one ``PATH: message`` per problem."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        first = self.problems[0] if self.problems else "?"
        super().__init__(f"{source}: {len(self.problems)} problem(s), first: {first}")


def yaml_path(loc: Sequence[int | str]) -> str:
    """``("regions", 1, "node_groups", 0, "name")`` → ``regions[1].node_groups[0].name``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_config(path: Path) -> InfraConfig:
    """Read and validate ``path``.

    Raises:
        InfraConfigError: unreadable YAML or any rule broken (all problems listed).
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:  # ValueError: not UTF-8
        raise InfraConfigError(str(path), [f"cannot read: {' '.join(str(exc).split())}"]) from exc
    return parse_config(data, source=str(path))


def parse_config(data: Any, *, source: str = "regions.yaml") -> InfraConfig:
    """Validate an already-parsed document (see :func:`load_config`)."""
    try:
        config = InfraConfig.model_validate(data)
    except ValidationError as exc:
        problems = [f"{yaml_path(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise InfraConfigError(source, problems) from None
    problems = validate_config(config)
    if problems:
        raise InfraConfigError(source, problems)
    return config


def validate_config(config: InfraConfig) -> list[str]:
    """The cross-field problems of a parsed configuration (empty when it is valid)."""
    problems: list[str] = []
    problems += _providers(config)
    for i, region in enumerate(config.regions):
        problems += _region(f"regions[{i}]", region, config)
    problems += _cidrs(config)
    problems += _database(config)
    problems += _replication(config)
    return problems


def _providers(config: InfraConfig) -> list[str]:
    out = []
    used = {r.provider for r in config.regions} | {config.dns.provider}
    for provider in sorted(used):
        if getattr(config.providers, provider) is None:
            out.append(f"providers.{provider}: missing (a region or the DNS zone uses it)")
    names = [r.name for r in config.regions]
    for i, name in enumerate(names):
        if name in names[:i]:
            out.append(f"regions[{i}].name: {name!r} is listed twice")
    primaries = [r.name for r in config.regions if r.role == "primary"]
    if len(primaries) != 1:
        out.append(f"regions: exactly one region must have role primary (found {primaries})")
    return out


def _region(path: str, region: RegionConfig, config: InfraConfig) -> list[str]:
    cat = load_catalogue().providers[region.provider]
    out = []
    if region.name not in cat.regions:
        out.append(f"{path}.name: {region.name!r} is not a {region.provider} region we know")
    if not cat.kubernetes_versions.contains(region.kubernetes_version):
        rng = cat.kubernetes_versions
        out.append(
            f"{path}.kubernetes_version: {region.kubernetes_version} is outside the supported"
            f" range {rng.min}..{rng.max} for {region.provider}"
        )
    first = region.node_groups[0]
    if region.provider == "azure" and (first.taints or first.labels.get("hardware")):
        out.append(f"{path}.node_groups[0]: the AKS system pool must be an untainted CPU group")
    names = [g.name for g in region.node_groups]
    for j, group in enumerate(region.node_groups):
        if group.name in names[:j]:
            out.append(f"{path}.node_groups[{j}].name: {group.name!r} is listed twice")
        out += _node_group(f"{path}.node_groups[{j}]", group, region)
    dns_regions = load_catalogue().providers[config.dns.provider].regions
    loc = region.routing_location
    if region.provider != config.dns.provider and loc is None:
        out.append(
            f"{path}.routing_location: required (a {config.dns.provider} region near"
            f" {region.name} for the {config.dns.provider} latency policy)"
        )
    elif loc is not None and loc not in dns_regions:
        out.append(f"{path}.routing_location: {loc!r} is not a {config.dns.provider} region")
    return out


def _node_group(path: str, group: NodeGroup, region: RegionConfig) -> list[str]:
    """Catalogue type, autoscaler bounds and labels/taints a job constraint can use."""
    itype = load_catalogue().providers[region.provider].instance_types.get(group.instance_type)
    if itype is None:
        return [
            f"{path}.instance_type: {group.instance_type!r} is not in the"
            f" {region.provider} catalogue"
        ]
    out = []
    if group.min_size > group.max_size:
        out.append(f"{path}.min_size: {group.min_size} is above max_size {group.max_size}")
    for key in group.labels:
        if key not in LABEL_KEYS:
            out.append(f"{path}.labels.{key}: no job constraint selects on {key!r}")
    hardware = group.labels.get("hardware")
    if hardware not in (None, "gpu", "fpga"):
        out.append(f"{path}.labels.hardware: {hardware!r} is not a job constraint (gpu, fpga)")
    elif itype.kind != "cpu" and hardware != itype.kind:
        out.append(f"{path}.labels.hardware: a {itype.kind} type needs hardware={itype.kind}")
    elif itype.kind == "cpu" and hardware is not None:
        out.append(f"{path}.labels.hardware: {group.instance_type} has no {hardware}")
    network = group.labels.get("network")
    if network is not None and network != "high-performance":
        out.append(f"{path}.labels.network: only 'high-performance' is a job constraint")
    elif network is not None and itype.network != "high-performance":
        out.append(f"{path}.labels.network: {group.instance_type} has no high-performance network")
    if group.labels.get("region", region.name) != region.name:
        out.append(f"{path}.labels.region: must be {region.name!r} (the region's name)")
    for k, taint in enumerate(group.taints):
        if taint.key not in ("hardware", "network") or group.labels.get(taint.key) != taint.value:
            out.append(
                f"{path}.taints[{k}]: no job constraint tolerates {taint.key}={taint.value}"
                " (taint only hardware/network, with the node group's own label value)"
            )
    if itype.kind != "cpu" and not any(t.key == "hardware" for t in group.taints):
        out.append(
            f"{path}.taints: a {itype.kind} group needs a hardware taint (keeps CPU jobs off)"
        )
    return out


def _cidrs(config: InfraConfig) -> list[str]:
    nets = []
    for i, r in enumerate(config.regions):
        for field in ("cidr", "pod_cidr", "service_cidr"):
            value = getattr(r.network, field)
            nets.append((f"regions[{i}].network.{field}", value, ipaddress.ip_network(value)))
    return [
        f"{pb}: {vb} overlaps {pa} ({va})"
        for (pa, va, a), (pb, vb, b) in itertools.combinations(nets, 2)
        if a.overlaps(b)
    ]


def _database(config: InfraConfig) -> list[str]:
    db = config.database
    names = {r.name: r for r in config.regions}
    if db.primary is None:
        return ["database.replicas: a replica without a primary"] if db.replicas else []
    primary = names.get(db.primary)
    if primary is None:
        return [f"database.primary: {db.primary!r} is not a configured region"]
    out = []
    if primary.role != "primary":
        out.append(f"database.primary: {db.primary!r} does not have role primary")
    cat = load_catalogue().providers[primary.provider]
    if not cat.postgres_versions.contains(db.engine_version):
        rng = cat.postgres_versions
        out.append(f"database.engine_version: {db.engine_version} is outside {rng.min}..{rng.max}")
    if db.instance_class not in cat.database_classes:
        out.append(f"database.instance_class: {db.instance_class!r} is not in the catalogue")
    for k, name in enumerate(db.replicas):
        replica = names.get(name)
        if replica is None or name == db.primary:
            out.append(f"database.replicas[{k}]: {name!r} is not a region other than the primary")
        elif replica.provider != primary.provider:
            out.append(
                f"database.replicas[{k}]: {name!r} is on {replica.provider}; managed replicas"
                f" follow a primary on the same provider ({primary.provider})"
            )
    return out


def _replication(config: InfraConfig) -> list[str]:
    names = {r.name: r for r in config.regions}
    out = []
    for k, rep in enumerate(config.object_storage.replication):
        src, dst = names.get(rep.source), names.get(rep.destination)
        path = f"object_storage.replication[{k}]"
        if rep.source in [r.source for r in config.object_storage.replication[:k]]:
            out.append(f"{path}.source: {rep.source!r} already replicates (one destination each)")
        if src is None or dst is None or src is dst:
            out.append(f"{path}: source and destination must be two configured regions")
        elif src.provider != dst.provider:
            out.append(f"{path}: {src.provider} → {dst.provider} replication is not managed")
    return out

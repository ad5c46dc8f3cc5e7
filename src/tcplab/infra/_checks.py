"""Offline checks of rendered Terraform JSON (no provider, no cloud): references resolve,
peered networks do not overlap, node groups match the job constraints, every region has a DNS
route, and only the ingress load balancer accepts traffic from anywhere."""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tcplab.infra._base import (
    DEVICE_TAINT,
    GROUP_LABEL,
    HARDWARE_LABEL,
    LOW_LATENCY_CLASS,
    NODE_CLASS_LABEL,
)
from tcplab.infra._tf import iter_refs

__all__ = [
    "check_dns_routes",
    "check_node_groups",
    "check_open_ingress",
    "check_peered_cidrs",
    "check_references",
    "load_modules",
    "run_checks",
]

Docs = dict[str, dict[str, Any]]
_REMOTE = re.compile(r"data\.terraform_remote_state\.([\w-]+)\.outputs\.([\w-]+)")
_PEERINGS = (
    "aws_vpc_peering_connection",
    "google_compute_network_peering",
    "azurerm_virtual_network_peering",
)
_ROUTES = (
    "aws_route53_record",
    "google_dns_record_set",
    "azurerm_traffic_manager_external_endpoint",
)


def load_modules(out: Path) -> Docs:
    """Every module directory under ``out`` merged into one document per module."""
    docs: Docs = {}
    for path in sorted(out.glob("*/*.tf.json")):
        doc = docs.setdefault(path.parent.name, {})
        for key, value in json.loads(path.read_text("utf-8")).items():
            doc.setdefault(key, {}).update(value)
    return docs


def _blocks(doc: dict[str, Any], kind: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for rtype, named in doc.get(kind, {}).items():
        for name, body in named.items():
            yield rtype, name, body


def _tf(region: str) -> str:
    return "r_" + region.replace("-", "_")


def check_references(docs: Docs) -> list[str]:
    """Every ``${...}``, ``depends_on`` and ``provider`` names something declared; every remote
    state output read exists in the module it reads."""
    problems = []
    by_tf = {_tf(name): name for name in docs}
    for mod, doc in docs.items():
        declared = {f"{t}.{n}" for t, n, _ in _blocks(doc, "resource")}
        declared |= {f"data.{t}.{n}" for t, n, _ in _blocks(doc, "data")}
        aliases = {
            f"{p}.{b['alias']}"
            for p, bodies in doc.get("provider", {}).items()
            for b in bodies
            if "alias" in b
        }
        for kind in ("resource", "data", "output"):
            for _, name, body in (
                _blocks(doc, kind)
                if kind != "output"
                else (("output", n, b) for n, b in doc.get("output", {}).items())
            ):
                refs = {*iter_refs(body), *body.get("depends_on", [])}
                problems += [
                    f"{mod}: {name} references undeclared {r}" for r in refs if r not in declared
                ]
                if "provider" in body and body["provider"] not in aliases:
                    problems.append(f"{mod}: {name} uses undeclared provider {body['provider']}")
                for state, output in _REMOTE.findall(json.dumps(body)):
                    target = by_tf.get(state)
                    if target is None or output not in docs[target].get("output", {}):
                        problems.append(
                            f"{mod}: {name} reads {state}.outputs.{output}: no such module output"
                        )
    return problems


def _networks(doc: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for rtype, _, body in _blocks(doc, "resource"):
        if rtype == "aws_vpc":
            out.append(body["cidr_block"])
        elif rtype == "google_compute_subnetwork":
            out += [
                body["ip_cidr_range"],
                *(s["ip_cidr_range"] for s in body["secondary_ip_range"]),
            ]
        elif rtype == "azurerm_virtual_network":
            out += body["address_space"]
        elif rtype == "azurerm_kubernetes_cluster":
            profile = body["network_profile"][0]
            out += [profile["pod_cidr"], profile["service_cidr"]]
    return out


def check_peered_cidrs(docs: Docs) -> list[str]:
    """No address range of one network overlaps one of a network it is peered with."""
    by_tf = {_tf(name): name for name in docs}
    pairs = set()
    for rtype, _, body in _blocks(docs.get("global", {}), "resource"):
        if rtype in _PEERINGS:
            ends = sorted({by_tf[s] for s, _ in _REMOTE.findall(json.dumps(body)) if s in by_tf})
            pairs |= {tuple(p) for p in itertools.combinations(ends, 2)}
    problems = []
    for a, b in sorted(pairs):
        for x, y in itertools.product(_networks(docs[a]), _networks(docs[b])):
            if ipaddress.ip_network(x).overlaps(ipaddress.ip_network(y)):
                problems.append(f"peered {a} ({x}) and {b} ({y}) overlap")
    return problems


def _groups(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, str], list[tuple[str, str]]]]:
    for rtype, name, body in _blocks(doc, "resource"):
        if rtype == "aws_eks_node_group":
            yield name, body["labels"], [(t["key"], t["value"]) for t in body["taint"]]
        elif rtype == "google_container_node_pool":
            cfg = body["node_config"][0]
            yield name, cfg["labels"], [(t["key"], t["value"]) for t in cfg["taint"]]
        elif rtype == "azurerm_kubernetes_cluster_node_pool":
            taints = [tuple(t.split(":")[0].split("=", 1)) for t in body["node_taints"]]
            yield name, body["node_labels"], taints
        elif rtype == "azurerm_kubernetes_cluster":
            yield "default", body["default_node_pool"][0]["node_labels"], []


def check_node_groups(docs: Docs) -> list[str]:
    """Labels and taints of every node group are the ones the Kubernetes backend selects and
    tolerates for a job constraint (``hardware``, ``low_latency``; the region label is the
    cloud's own ``topology.kubernetes.io/region``)."""
    allowed = {HARDWARE_LABEL: {"gpu", "fpga"}, NODE_CLASS_LABEL: {LOW_LATENCY_CLASS}}
    device = {key: hw for hw, key in DEVICE_TAINT.items()}
    problems = []
    for mod, doc in docs.items():
        for name, labels, taints in _groups(doc):
            where = f"{mod}: node group {name}"
            for k, v in labels.items():
                if k != GROUP_LABEL and v not in allowed.get(k, ()):
                    problems.append(f"{where}: label {k}={v} matches no job constraint")
            for k, v in taints:
                ok = (k in device and labels.get(HARDWARE_LABEL) == device[k]) or (
                    k == NODE_CLASS_LABEL and labels.get(k) == v == LOW_LATENCY_CLASS
                )
                if not ok:
                    problems.append(f"{where}: taint {k}={v} is tolerated by no job constraint")
    return problems


def check_dns_routes(docs: Docs) -> list[str]:
    """Every region module's ingress address is a target of the global routing policy."""
    routed = set()
    for rtype, _, body in _blocks(docs.get("global", {}), "resource"):
        if rtype in _ROUTES:
            routed |= {s for s, o in _REMOTE.findall(json.dumps(body)) if o == "ingress_address"}
    return [
        f"{m}: no route in the global DNS policy"
        for m in docs
        if m != "global" and _tf(m) not in routed
    ]


def check_open_ingress(docs: Docs) -> list[str]:
    """Only the ingress load balancer accepts traffic from anywhere."""
    problems = []
    anywhere = {"0.0.0.0/0", "*", "Internet", "::/0"}
    for mod, doc in docs.items():
        for rtype, name, body in _blocks(doc, "resource"):
            sources: list[str] = []
            if rtype == "aws_security_group":
                sources = [c for r in body.get("ingress", []) for c in r["cidr_blocks"]]
            elif rtype == "google_compute_firewall" and body.get("direction") == "INGRESS":
                sources = body.get("source_ranges", [])
            elif rtype == "azurerm_network_security_group":
                sources = [
                    r["source_address_prefix"]
                    for r in body.get("security_rule", [])
                    if r["direction"] == "Inbound" and r["access"] == "Allow"
                ]
            if anywhere & set(sources) and name not in ("ingress_lb", "ingress"):
                problems.append(f"{mod}: {rtype}.{name} accepts traffic from anywhere")
    return problems


def run_checks(out: Path) -> list[str]:
    """All offline checks of the rendering under ``out`` (empty when everything holds)."""
    docs = load_modules(out)
    return [
        *check_references(docs),
        *check_peered_cidrs(docs),
        *check_node_groups(docs),
        *check_dns_routes(docs),
        *check_open_ingress(docs),
    ]

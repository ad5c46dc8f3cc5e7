"""The rendered Terraform JSON, checked offline: references, peered CIDRs, node labels against
the service's job constraints, DNS routes, open ingress, security defaults."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tcplab.infra import MANIFEST_NAME, REGION_OUTPUTS, Rendered, load_modules, run_checks
from tcplab.infra._checks import (
    check_dns_routes,
    check_node_groups,
    check_open_ingress,
    check_peered_cidrs,
    check_references,
)
from tcplab.service import Constraints

Docs = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def docs(rendered_full: tuple[Rendered, Path]) -> Docs:
    return load_modules(rendered_full[1])


def test_both_configurations_pass_every_offline_check(
    rendered_full: tuple[Rendered, Path], rendered_three: tuple[Rendered, Path]
) -> None:
    assert run_checks(rendered_full[1]) == []
    assert run_checks(rendered_three[1]) == []


def test_layout_manifest_and_outputs(rendered_full: tuple[Rendered, Path], docs: Docs) -> None:
    rendered, out = rendered_full
    manifest = json.loads((out / MANIFEST_NAME).read_text("utf-8"))
    assert manifest["schema_version"] == 1
    assert manifest["apply_order"][0] == "us-east-1" and manifest["apply_order"][-1] == "global"
    for name in rendered.config.regions:
        assert set(REGION_OUTPUTS) <= set(docs[name.name]["output"])
        files = sorted(p.name for p in (out / name.name).iterdir())
        assert files == ["main.tf.json", "outputs.tf.json", "providers.tf.json", "versions.tf.json"]
    for name, doc in docs.items():
        tf = doc["terraform"]
        assert len(tf["backend"]) == 1, name
        for pin in tf["required_providers"].values():
            assert pin["version"].startswith("= "), f"{name}: provider not pinned exactly"
    assert {"regions", "database_url", "dns_name"} <= set(docs["global"]["output"])


def _mutated(docs: Docs, edit: Any) -> Docs:
    out = copy.deepcopy(docs)
    edit(out)
    return out


def test_reference_check_finds_dangling_references(docs: Docs) -> None:
    assert check_references(docs) == []

    def dangle(d: Docs) -> None:
        d["us-east-1"]["resource"]["aws_eks_cluster"]["main"]["role_arn"] = (
            "${aws_iam_role.nope.arn}"
        )
        d["global"]["output"]["x"] = {
            "value": "${data.terraform_remote_state.r_us_east_1.outputs.nope}"
        }

    problems = check_references(_mutated(docs, dangle))
    assert any("undeclared aws_iam_role.nope" in p for p in problems)
    assert any("r_us_east_1.outputs.nope: no such module output" in p for p in problems)


def test_peered_cidr_check(docs: Docs) -> None:
    assert check_peered_cidrs(docs) == []

    def overlap(d: Docs) -> None:
        d["us-west-2"]["resource"]["aws_vpc"]["main"]["cidr_block"] = "10.10.128.0/17"

    assert check_peered_cidrs(_mutated(docs, overlap)) == [
        "peered us-east-1 (10.10.0.0/16) and us-west-2 (10.10.128.0/17) overlap"
    ]


def _node_groups(docs: Docs) -> list[tuple[str, dict[str, str], list[tuple[str, str]]]]:
    from tcplab.infra._checks import _groups

    return [(m, labels, taints) for m, doc in docs.items() for _, labels, taints in _groups(doc)]


def _schedulable(placement: dict[str, Any], labels: dict[str, str], taints: list[Any]) -> bool:
    """Kubernetes' rule: every nodeSelector / required affinity term matches the node's labels,
    and every taint of the node is tolerated (``Exists`` on its key, or ``Equal`` its value)."""
    if any(labels.get(k) != v for k, v in placement["nodeSelector"].items()):
        return False
    affinity = placement.get("affinity", {}).get("nodeAffinity", {})
    terms = affinity.get("requiredDuringSchedulingIgnoredDuringExecution", {})
    for term in terms.get("nodeSelectorTerms", []):
        for expr in term["matchExpressions"]:
            if labels.get(expr["key"]) not in expr["values"]:
                return False
    return all(
        any(
            t["key"] == key
            and (t["operator"] == "Exists" or t.get("value") == value)
            and t["effect"] == "NoSchedule"
            for t in placement["tolerations"]
        )
        for key, value in taints
    )


def test_node_groups_match_the_kubernetes_backend_placement(docs: Docs) -> None:
    """Every job constraint the configuration offers lands on a node group, through the real
    Kubernetes backend's nodeSelector/affinity/tolerations (``tcplab.kube``); jobs without
    constraints never land on an accelerator group."""
    from types import SimpleNamespace

    from tcplab.infra._base import REGION_LABEL
    from tcplab.kube import placement

    groups = _node_groups(docs)
    assert len(groups) == 12
    # the cloud sets topology.kubernetes.io/region on every node to its region's name
    nodes = [(m, {**labels, REGION_LABEL: m}, taints) for m, labels, taints in groups]
    wanted = [
        Constraints(
            region=m,
            hardware=labels.get("tcplab.dev/hardware"),  # type: ignore[arg-type]
            low_latency="tcplab.dev/node-class" in labels,
        )
        for m, labels, _ in groups
    ]
    wanted += [Constraints(region=m) for m in {m for m, _, _ in groups}]
    for c in wanted:
        spec = placement(SimpleNamespace(constraints=c))  # type: ignore[arg-type]
        fits = [m for m, labels, taints in nodes if _schedulable(spec, labels, taints)]
        assert fits and set(fits) == {c.region}, (c, fits)
    plain = placement(SimpleNamespace(constraints=Constraints()))  # type: ignore[arg-type]
    for m, labels, taints in nodes:
        if "tcplab.dev/hardware" in labels:
            assert not _schedulable(plain, labels, taints), f"{m}: CPU jobs reach accelerators"
    assert check_node_groups(docs) == []

    def stray(d: Docs) -> None:
        d["us-east-1"]["resource"]["aws_eks_node_group"]["cpu"]["taint"] = [
            {"key": "dedicated", "value": "x", "effect": "NO_SCHEDULE"}
        ]

    assert check_node_groups(_mutated(docs, stray)) == [
        "us-east-1: node group cpu: taint dedicated=x is tolerated by no job constraint"
    ]


def test_every_region_has_a_dns_route(docs: Docs) -> None:
    assert check_dns_routes(docs) == []

    def drop(d: Docs) -> None:
        del d["global"]["resource"]["aws_route53_record"]["r_japaneast"]

    assert check_dns_routes(_mutated(docs, drop)) == [
        "japaneast: no route in the global DNS policy"
    ]
    records = docs["global"]["resource"]["aws_route53_record"]
    policy = {
        r["set_identifier"]: r["latency_routing_policy"][0]["region"] for r in records.values()
    }
    assert policy["us-east-1"] == "us-east-1" and policy["japaneast"] == "ap-northeast-1"


def test_only_the_load_balancer_is_open_to_the_internet(docs: Docs) -> None:
    assert check_open_ingress(docs) == []

    def open_db(d: Docs) -> None:
        sg = d["us-east-1"]["resource"]["aws_security_group"]["database"]
        sg["ingress"][0]["cidr_blocks"] = ["0.0.0.0/0"]

    assert check_open_ingress(_mutated(docs, open_db)) == [
        "us-east-1: aws_security_group.database accepts traffic from anywhere"
    ]


def test_security_defaults(docs: Docs) -> None:
    east, west = docs["us-east-1"]["resource"], docs["us-west-2"]["resource"]
    rds = east["aws_db_instance"]["main"]
    assert (
        rds["deletion_protection"] and rds["storage_encrypted"] and not rds["publicly_accessible"]
    )
    assert west["aws_db_instance"]["main"]["replicate_source_db"].endswith("outputs.database_arn}")
    vpc_cfg = east["aws_eks_cluster"]["main"]["vpc_config"][0]
    assert vpc_cfg["endpoint_private_access"] and not vpc_cfg["endpoint_public_access"]
    workload = json.loads(east["aws_iam_role_policy"]["workload"]["policy"])
    actions = {a for s in workload["Statement"] for a in s["Action"]}
    assert {a.split(":")[0] for a in actions} == {"s3", "kms"}
    gke = docs["europe-west1"]["resource"]["google_container_cluster"]["main"]
    assert (
        gke["deletion_protection"] and gke["private_cluster_config"][0]["enable_private_endpoint"]
    )
    sql = docs["europe-west1"]["resource"]
    assert "google_sql_database_instance" not in sql  # the database lives on the primary's cloud
    aks = docs["westeurope"]["resource"]["azurerm_kubernetes_cluster"]["main"]
    assert aks["private_cluster_enabled"] and aks["local_account_disabled"]
    blob = docs["westeurope"]["resource"]["azurerm_storage_account"]["artifacts"]
    assert (
        blob["public_network_access_enabled"] is False and blob["infrastructure_encryption_enabled"]
    )
    role = docs["westeurope"]["resource"]["azurerm_role_assignment"]["workload_blob"]
    assert role["role_definition_name"] == "Storage Blob Data Contributor"


@pytest.mark.parametrize(
    ("primary", "replicas", "klass"),
    [
        ("europe-west1", ["europe-west4"], "db-custom-2-7680"),
        ("westeurope", ["japaneast"], "GP_Standard_D2s_v3"),
    ],
)
def test_gcp_and_azure_primaries_with_replicas(
    tmp_path: Path, primary: str, replicas: list[str], klass: str
) -> None:
    from tcplab.infra import parse_config, render, write_rendered

    from .conftest import raw

    doc = raw()
    for region in doc["regions"]:
        region["role"] = "primary" if region["name"] == primary else "replica"
    doc["database"].update(primary=primary, replicas=replicas, instance_class=klass)
    write_rendered(render(parse_config(doc)), tmp_path, force=True)
    assert run_checks(tmp_path) == []
    replica = load_modules(tmp_path)[replicas[0]]["resource"]
    if primary == "westeurope":
        server = replica["azurerm_postgresql_flexible_server"]["main"]
        assert (
            server["create_mode"] == "Replica"
            and "outputs.database_id" in server["source_server_id"]
        )
        assert "azurerm_management_lock" in replica
    else:
        sql = replica["google_sql_database_instance"]["main"]
        assert "outputs.database_instance_name" in sql["master_instance_name"]
        assert sql["deletion_protection"] is True

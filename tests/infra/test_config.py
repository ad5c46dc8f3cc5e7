"""The typed configuration refuses bad input before anything is written, naming YAML paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tcplab.errors import ConfigError
from tcplab.infra import InfraConfigError, load_config, parse_config

from .conftest import FULL, THREE, raw


def _problems(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(InfraConfigError) as info:
        parse_config(doc)
    assert isinstance(info.value, ConfigError)
    return list(info.value.problems)


def test_shipped_configurations_are_valid() -> None:
    full = load_config(FULL)
    assert [r.provider for r in full.regions].count("aws") == 2
    three = load_config(THREE)
    assert {r.provider for r in three.regions} == {"aws", "gcp", "azure"}
    assert len(three.regions) == 3


def test_pydantic_errors_name_the_yaml_path() -> None:
    doc = raw()
    del doc["regions"][1]["node_groups"][0]["instance_type"]
    doc["regions"][0]["node_groups"][1]["min_size"] = -1
    problems = _problems(doc)
    assert "regions[1].node_groups[0].instance_type: Field required" in problems
    assert any(p.startswith("regions[0].node_groups[1].min_size:") for p in problems)


def test_unknown_instance_type_and_version_out_of_range() -> None:
    doc = raw()
    doc["regions"][1]["node_groups"][0]["instance_type"] = "m9z.huge"
    doc["regions"][2]["kubernetes_version"] = "1.20"
    problems = _problems(doc)
    assert (
        "regions[1].node_groups[0].instance_type: 'm9z.huge' is not in the aws catalogue"
        in problems
    )
    assert any(p.startswith("regions[2].kubernetes_version: 1.20 is outside") for p in problems)


def test_overlapping_cidrs_are_refused() -> None:
    doc = raw()
    doc["regions"][1]["network"]["cidr"] = "10.10.0.0/16"  # the same as regions[0]
    doc["regions"][2]["network"]["pod_cidr"] = "10.21.0.0/16"  # regions[3]'s VPC
    problems = _problems(doc)
    assert (
        "regions[1].network.cidr: 10.10.0.0/16 overlaps regions[0].network.cidr (10.10.0.0/16)"
        in problems
    )
    assert any(
        "regions[3].network.cidr" in p and "regions[2].network.pod_cidr" in p for p in problems
    )


def test_replica_without_primary_and_across_providers() -> None:
    doc = raw()
    doc["database"]["primary"] = None
    assert _problems(doc) == ["database.replicas: a replica without a primary"]
    doc = raw()
    doc["database"]["replicas"] = ["europe-west1"]
    assert any(
        p.startswith("database.replicas[0]: 'europe-west1' is on gcp") for p in _problems(doc)
    )
    doc = raw()
    doc["regions"][0]["role"] = "replica"
    assert any(
        p.startswith("regions: exactly one region must have role primary") for p in _problems(doc)
    )


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ({"labels": {"team": "a"}}, "labels.team: no job constraint selects on 'team'"),
        ({"labels": {"hardware": "tpu"}}, "labels.hardware: 'tpu' is not a job constraint"),
        (
            {"taints": [{"key": "hardware", "value": "gpu"}]},
            "taints[0]: no job constraint tolerates",
        ),
        ({"labels": {"network": "high-performance"}}, "has no high-performance network"),
        ({"labels": {"region": "eu-west-1"}}, "labels.region: must be 'us-east-1'"),
    ],
)
def test_node_groups_no_job_constraint_can_use(group: dict[str, Any], expected: str) -> None:
    doc = raw()
    doc["regions"][0]["node_groups"][0].update(group)  # m6i.2xlarge: CPU, ordinary network
    problems = _problems(doc)
    assert any(p.startswith("regions[0].node_groups[0].") and expected in p for p in problems), (
        problems
    )


def test_accelerator_groups_need_their_label_and_taint() -> None:
    doc = raw()
    gpu = doc["regions"][0]["node_groups"][1]
    gpu["labels"], gpu["taints"] = {}, []
    problems = _problems(doc)
    assert "regions[0].node_groups[1].labels.hardware: a gpu type needs hardware=gpu" in problems
    assert any(
        p.startswith("regions[0].node_groups[1].taints: a gpu group needs") for p in problems
    )


def test_dns_routing_location_is_required_never_guessed() -> None:
    doc = raw()
    del doc["regions"][2]["routing_location"]
    assert any(p.startswith("regions[2].routing_location: required") for p in _problems(doc))


def test_missing_provider_settings_and_bad_replication() -> None:
    doc = raw()
    del doc["providers"]["gcp"]
    doc["object_storage"]["replication"].append({"source": "us-east-1", "destination": "japaneast"})
    problems = _problems(doc)
    assert any(p.startswith("providers.gcp: missing") for p in problems)
    assert any(p.startswith("object_storage.replication[3]") for p in problems)


def test_unreadable_yaml_is_one_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "regions.yaml"
    bad.write_text("regions: [\n", "utf-8")
    with pytest.raises(InfraConfigError, match="cannot read"):
        load_config(bad)
    bad.write_text(yaml.safe_dump({"schema_version": 2}), "utf-8")
    with pytest.raises(InfraConfigError, match="schema_version"):
        load_config(bad)

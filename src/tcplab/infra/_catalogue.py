"""The shipped catalogue (``tcplab/infra/catalogue.yaml``): instance types, regions,
Kubernetes and PostgreSQL version ranges and the pinned Terraform providers per cloud."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

__all__ = ["Catalogue", "InstanceType", "ProviderCatalogue", "load_catalogue", "version_key"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstanceType(_Model):
    """What an instance type offers a job."""

    kind: Literal["cpu", "gpu", "fpga"]
    vcpus: int
    memory_gib: int
    accelerator: str | None = None
    network: Literal["high-performance"] | None = None


class VersionRange(_Model):
    """An inclusive ``min``..``max`` range of dotted versions."""

    min: str
    max: str

    def contains(self, version: str) -> bool:
        """Whether ``version`` lies in the range."""
        return version_key(self.min) <= version_key(version) <= version_key(self.max)


class TerraformProvider(_Model):
    """A pinned provider (``required_providers`` entry)."""

    source: str
    version: str


class ProviderCatalogue(_Model):
    """One cloud's part of the catalogue."""

    terraform_provider: TerraformProvider
    kubernetes_versions: VersionRange
    postgres_versions: VersionRange
    regions: list[str]
    instance_types: dict[str, InstanceType]
    database_classes: list[str]


class Catalogue(_Model):
    """The whole catalogue (``catalogue_version`` 1)."""

    catalogue_version: Literal[1]
    providers: dict[Literal["aws", "gcp", "azure"], ProviderCatalogue]


def version_key(version: str) -> tuple[int, ...]:
    """``"1.31"`` → ``(1, 31)`` (compare versions as numbers, not strings)."""
    return tuple(int(p) for p in version.split("."))


@functools.cache
def load_catalogue() -> Catalogue:
    """The catalogue that ships with this tcplab (read through importlib.resources)."""
    text = resources.files("tcplab.infra").joinpath("catalogue.yaml").read_text("utf-8")
    return Catalogue.model_validate(yaml.safe_load(text))

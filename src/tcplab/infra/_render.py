"""Render a validated configuration: one root module per region plus ``global/``."""

from __future__ import annotations

import itertools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tcplab.errors import UsageError
from tcplab.infra import _aws, _azure, _gcp, _gcp_global  # noqa: F401  (registers renderers)
from tcplab.infra._base import get_renderer, remote
from tcplab.infra._config import InfraConfig
from tcplab.infra._tf import Module

__all__ = ["MANIFEST_NAME", "MANIFEST_SCHEMA_VERSION", "Rendered", "render", "write_rendered"]

MANIFEST_NAME = "tcplab-terraform.json"
MANIFEST_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Rendered:
    """The modules of one configuration (region name or ``global`` → module)."""

    config: InfraConfig
    modules: dict[str, Module]

    def manifest(self) -> dict[str, Any]:
        """What ``tcplab deploy`` reads: modules, apply order, their providers and outputs."""
        regions = {
            r.name: {
                "provider": r.provider,
                "role": r.role,
                "path": r.name,
                "outputs": sorted(self.modules[r.name].outputs),
            }
            for r in self.config.regions
        }
        primary = self.config.database.primary
        order = [n for n in regions if n == primary] + [n for n in regions if n != primary]
        return {
            "schema_version": MANIFEST_SCHEMA_VERSION,
            "name": self.config.name,
            "apply_order": [*order, "global"],
            "regions": regions,
            "global": {"path": "global", "outputs": sorted(self.modules["global"].outputs)},
        }


def render(config: InfraConfig) -> Rendered:
    """The Terraform modules of a validated configuration (nothing is written)."""
    modules = {r.name: get_renderer(r.provider).region_module(config, r) for r in config.regions}
    modules["global"] = _global(config)
    return Rendered(config, modules)


def _global(config: InfraConfig) -> Module:
    m = Module("global")
    dns = get_renderer(config.dns.provider)
    used = sorted({r.provider for r in config.regions} | {config.dns.provider})
    backend, cfg = dns.backend(config, "tcplab/global")
    names = {"aws": "aws", "gcp": "google", "azure": "azurerm"}
    m.terraform = {
        "required_version": ">= 1.6",
        "required_providers": {names[p]: get_renderer(p).required_provider() for p in used},
        "backend": {backend: cfg},
    }
    for p in used:
        get_renderer(p).configure_global(m, config)
    for r in config.regions:
        get_renderer(r.provider).remote_state(m, config, r.name)
    dns.dns(m, config)
    for a, b in itertools.combinations(config.regions, 2):
        if a.provider == b.provider:
            get_renderer(a.provider).peer(m, a, b)
    for rep in config.object_storage.replication:
        provider = config.region(rep.source).provider
        get_renderer(provider).replicate(m, config, rep.source, rep.destination)
    if any(r.provider == "gcp" for r in config.regions):
        _gcp_global.global_address(m)
        _gcp_global.multi_cluster_ingress(m, config)
    m.output(
        "regions",
        {
            r.name: {
                k: remote(r.name, k)
                for k in ("provider", "kubernetes_endpoint", "database_url", "bucket_name")
            }
            for r in config.regions
        },
        doc="per region: provider, private Kubernetes endpoint, database URL, bucket",
    )
    if config.database.primary:
        m.output(
            "database_url",
            remote(config.database.primary, "database_url"),
            doc="the primary (writer)",
        )
    return m


def write_rendered(rendered: Rendered, out: Path, *, force: bool = False) -> list[Path]:
    """Write every module under ``out/NAME/`` and the manifest; returns the files written.

    Raises:
        UsageError: ``out`` holds files that are not a previous rendering (without ``force``),
            or it cannot be written (not a directory, no permission, a symlink loop...).
    """
    try:
        previous = (out / MANIFEST_NAME).exists()
        if not force and out.exists() and any(out.iterdir()) and not previous:
            raise UsageError(f"{out} is not empty and holds no {MANIFEST_NAME}; pass --force")
        for name in rendered.modules:
            if (out / name).is_dir():
                shutil.rmtree(out / name)
        written = []
        for name, module in rendered.modules.items():
            written += module.write(out / name)
        manifest = out / MANIFEST_NAME
        text = json.dumps(rendered.manifest(), indent=2, sort_keys=True) + "\n"
        manifest.write_text(text, "utf-8")
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise UsageError(
            f"cannot write the rendering to {out}: {exc.strerror or exc}{where}"
        ) from exc
    return [*written, manifest]

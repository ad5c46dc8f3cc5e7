"""Multi-region infrastructure: ``deploy/regions.yaml`` → Terraform JSON, checked offline.

:func:`load_config` validates the typed configuration (every problem named by its YAML path,
before anything is written); :func:`render` builds one root module per region plus a global
module (DNS latency routing, peering, replication) through one :class:`ProviderRenderer` per
cloud (AWS, GCP, Azure); :func:`write_rendered` writes ``*.tf.json`` files and a manifest;
:func:`run_checks` and :func:`run_checkov` check a rendering without any cloud or provider.
See ``docs/infrastructure.md``.
"""

from tcplab.infra._base import REGION_OUTPUTS, ProviderRenderer, get_renderer, register_renderer
from tcplab.infra._catalogue import Catalogue, InstanceType, load_catalogue
from tcplab.infra._checkov import CheckovReport, find_checkov, load_baseline, run_checkov
from tcplab.infra._checks import load_modules, run_checks
from tcplab.infra._config import (
    INFRA_SCHEMA_VERSION,
    LABEL_KEYS,
    InfraConfig,
    NodeGroup,
    RegionConfig,
)
from tcplab.infra._render import MANIFEST_NAME, Rendered, render, write_rendered
from tcplab.infra._validate import InfraConfigError, load_config, parse_config

__all__ = [
    "INFRA_SCHEMA_VERSION",
    "LABEL_KEYS",
    "MANIFEST_NAME",
    "REGION_OUTPUTS",
    "Catalogue",
    "CheckovReport",
    "InfraConfig",
    "InfraConfigError",
    "InstanceType",
    "NodeGroup",
    "ProviderRenderer",
    "RegionConfig",
    "Rendered",
    "find_checkov",
    "get_renderer",
    "load_baseline",
    "load_catalogue",
    "load_config",
    "load_modules",
    "parse_config",
    "register_renderer",
    "render",
    "run_checkov",
    "run_checks",
    "write_rendered",
]

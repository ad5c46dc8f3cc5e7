"""Azure region data services: the Blob storage account (private endpoint, workload identity
limited to it) and PostgreSQL Flexible Server (primary or replica, delete lock)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from tcplab.infra._base import ProviderRenderer, remote
from tcplab.infra._config import InfraConfig, RegionConfig
from tcplab.infra._tf import Module, Ref

__all__ = ["database", "storage", "storage_account_name"]

_RG = "${azurerm_resource_group.main.name}"
_LOC = "${azurerm_resource_group.main.location}"


def storage_account_name(prefix: str, region: str) -> str:
    """A valid, stable storage account name (3–24 lowercase letters and digits)."""
    digest = hashlib.sha256(region.encode()).hexdigest()[:8]
    return re.sub(r"[^a-z0-9]", "", prefix)[:16] + digest


def storage(
    m: Module,
    config: InfraConfig,
    region: RegionConfig,
    cluster: Ref,
    net: dict[str, Ref],
) -> Ref:
    account = m.resource(
        "azurerm_storage_account",
        "artifacts",
        {
            "name": storage_account_name(config.object_storage.bucket_prefix, region.name),
            "resource_group_name": _RG,
            "location": _LOC,
            "account_tier": "Standard",
            "account_replication_type": "ZRS",
            "min_tls_version": "TLS1_2",
            "https_traffic_only_enabled": True,
            "public_network_access_enabled": False,
            "allow_nested_items_to_be_public": False,
            "shared_access_key_enabled": False,
            "infrastructure_encryption_enabled": True,
            "blob_properties": [
                {
                    "versioning_enabled": True,
                    "change_feed_enabled": True,
                    "delete_retention_policy": [{"days": 7}],
                }
            ],
        },
    )
    m.resource(
        "azurerm_storage_container",
        "artifacts",
        {
            "name": "artifacts",
            "storage_account_id": account.attr("id"),
            "container_access_type": "private",
        },
    )
    m.resource(
        "azurerm_private_endpoint",
        "blob",
        {
            "name": "tcplab-blob",
            "resource_group_name": _RG,
            "location": _LOC,
            "subnet_id": net["endpoints"].attr("id"),
            "private_service_connection": [
                {
                    "name": "blob",
                    "is_manual_connection": False,
                    "private_connection_resource_id": account.attr("id"),
                    "subresource_names": ["blob"],
                }
            ],
        },
    )
    _workload_identity(m, cluster, account)
    return account


def _workload_identity(m: Module, cluster: Ref, account: Ref) -> None:
    """The workers' identity: Blob data access on this account and nothing else."""
    worker = m.resource(
        "azurerm_user_assigned_identity",
        "workload",
        {"name": "tcplab-worker", "resource_group_name": _RG, "location": _LOC},
    )
    m.resource(
        "azurerm_federated_identity_credential",
        "workload",
        {
            "name": "tcplab-worker",
            "resource_group_name": _RG,
            "parent_id": worker.attr("id"),
            "audience": ["api://AzureADTokenExchange"],
            "issuer": cluster.attr("oidc_issuer_url"),
            "subject": "system:serviceaccount:tcplab:tcplab-worker",
        },
    )
    m.resource(
        "azurerm_role_assignment",
        "workload_blob",
        {
            "scope": account.attr("id"),
            "role_definition_name": "Storage Blob Data Contributor",
            "principal_id": worker.attr("principal_id"),
        },
    )


def database(
    renderer: ProviderRenderer,
    m: Module,
    config: InfraConfig,
    region: RegionConfig,
    net: dict[str, Ref],
) -> None:
    db = config.database
    if region.name not in [db.primary, *db.replicas]:
        m.output("database_url", "", doc="no database in this region")
        return
    zone = m.resource(
        "azurerm_private_dns_zone",
        "postgres",
        {
            "name": f"{config.name}-{region.name}.postgres.database.azure.com",
            "resource_group_name": _RG,
        },
    )
    link = m.resource(
        "azurerm_private_dns_zone_virtual_network_link",
        "postgres",
        {
            "name": "tcplab",
            "resource_group_name": _RG,
            "private_dns_zone_name": zone.attr("name"),
            "virtual_network_id": net["vnet"].attr("id"),
        },
    )
    body: dict[str, Any] = {
        "name": f"{config.name}-{region.name}",
        "resource_group_name": _RG,
        "location": _LOC,
        "version": db.engine_version,
        "sku_name": db.instance_class,
        "storage_mb": db.storage_gib * 1024,
        "delegated_subnet_id": net["db"].attr("id"),
        "private_dns_zone_id": zone.attr("id"),
        "public_network_access_enabled": False,
        "backup_retention_days": db.backup_retention_days,
        "geo_redundant_backup_enabled": True,
        "depends_on": [link.address],
        "authentication": [{"active_directory_auth_enabled": True, "password_auth_enabled": False}],
    }
    if region.name == db.primary:
        body["high_availability"] = [{"mode": "ZoneRedundant"}]
    else:
        renderer.remote_state(m, config, db.primary or "")
        body |= {
            "create_mode": "Replica",
            "source_server_id": remote(db.primary or "", "database_id"),
        }
    server = m.resource("azurerm_postgresql_flexible_server", "main", body)
    m.resource(
        "azurerm_management_lock",
        "database",
        {
            "name": "tcplab-no-delete",
            "scope": server.attr("id"),
            "lock_level": "CanNotDelete",
            "notes": "deletion protection",
        },
    )
    m.output("database_id", server.attr("id"))
    m.output(
        "database_url",
        "postgresql://tcplab@" + server.attr("fqdn") + ":5432/tcplab?sslmode=verify-full",
    )

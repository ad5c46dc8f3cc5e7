"""The experiment service: submit over HTTP, a durable PostgreSQL queue, workers, auth.

``tcplab serve`` runs the API (:func:`tcplab.service.api.create_app`), ``tcplab worker`` runs
jobs (:func:`tcplab.service.worker.run_worker`); docs/service.md describes both. Importing this
package imports neither FastAPI nor procrastinate nor SQLAlchemy: they load with the module that
needs them, and a missing one names ``pip install 'tcplab[service]'``.
"""

from __future__ import annotations

from tcplab.service._models import (
    JOB_STATES,
    PRIORITY_CLASSES,
    ROLES,
    Constraints,
    JobProgress,
    JobRecord,
    JobView,
    ResourceRequest,
    SubmitRequest,
    TokenRecord,
    priority_class,
)
from tcplab.service._settings import ServiceSettings, load_settings

__all__ = [
    "JOB_STATES",
    "PRIORITY_CLASSES",
    "ROLES",
    "Constraints",
    "JobProgress",
    "JobRecord",
    "JobView",
    "ResourceRequest",
    "ServiceSettings",
    "SubmitRequest",
    "TokenRecord",
    "load_settings",
    "priority_class",
]

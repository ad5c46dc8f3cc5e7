"""The service's database (jobs, tokens, workers): the public entry point for the CLI.

Importing it loads SQLAlchemy; ``pip install 'tcplab[service]'`` provides it.
"""

from __future__ import annotations

from tcplab.service._db import ServiceDB
from tcplab.service._tokens import create_token, list_tokens, revoke_token

__all__ = ["ServiceDB", "create_token", "list_tokens", "revoke_token"]

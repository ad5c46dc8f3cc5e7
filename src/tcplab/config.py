"""Settings: a pydantic-settings model built by :func:`get_settings` (no import-time instance).

Environment variables use the ``TCPLAB_`` prefix; ``TCPLAB_HOME`` is the data directory
(default ``$XDG_DATA_HOME/tcplab``, i.e. ``~/.local/share/tcplab``).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from tcplab.errors import ConfigError

__all__ = ["Settings", "default_home", "get_settings"]


def default_home() -> Path:
    """``$XDG_DATA_HOME/tcplab``, or ``~/.local/share/tcplab``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tcplab"


class Settings(BaseSettings):
    """tcplab settings.

    Attributes:
        home: data directory for the default corpus, registry, runs and caches.
    """

    model_config = SettingsConfigDict(env_prefix="TCPLAB_", extra="ignore")

    home: Path = Field(default_factory=default_home)

    @property
    def registry_dir(self) -> Path:
        """Where default registries live."""
        return self.home / "registry"

    @property
    def corpus_dir(self) -> Path:
        """Where default corpora live."""
        return self.home / "corpus"


def get_settings() -> Settings:
    """Build the settings from the environment.

    Raises:
        ConfigError: an environment variable holds an invalid value.
    """
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(f"invalid tcplab settings: {exc}") from exc

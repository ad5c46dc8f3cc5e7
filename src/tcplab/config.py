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

__all__ = ["Settings", "default_home", "ensure_dir", "get_settings"]


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

    An empty ``TCPLAB_HOME`` is treated as unset (never as the current directory).

    Raises:
        ConfigError: an environment variable holds an invalid value, or ``TCPLAB_HOME`` names
            something that is not a directory.
    """
    overrides: dict[str, object] = {}
    if os.environ.get("TCPLAB_HOME", None) == "" or os.environ.get("TCPLAB_HOME", "x").isspace():
        overrides["home"] = default_home()
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(f"invalid tcplab settings: {exc}") from exc
    home = settings.home
    if (home.exists() or home.is_symlink()) and not home.is_dir():
        raise ConfigError(
            f"TCPLAB_HOME={home} is not a directory; point it at a directory (or unset it to "
            f"use {default_home()})"
        )
    return settings


def ensure_dir(path: Path, what: str = "directory") -> Path:
    """Create ``path`` (and parents) or raise a one-line :class:`ConfigError` saying why."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise ConfigError(f"{what} {path}: a file is in the way") from exc
    except OSError as exc:
        raise ConfigError(f"cannot create {what} {path}: {exc.strerror or exc}") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {path} is not writable")
    return path

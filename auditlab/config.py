"""Settings: the one place that reads ``AUDITLAB_*`` environment variables.

Pass a :class:`Settings` explicitly; nothing else in auditlab reads the environment.

Examples:
    >>> s = Settings(max_member_bytes=1024)
    >>> s.max_member_bytes
    1024
    >>> Settings.from_env({"AUDITLAB_MAX_RATIO": "50"}).max_ratio
    50.0
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

__all__ = ["PORTAL_ENV", "Settings", "portal_env"]

#: The environment variables of the Portal client (see :func:`portal_env`, ``auditlab.portal.settings``).
PORTAL_ENV: tuple[str, ...] = (
    "AUDITLAB_TOKEN",
    "AUDITLAB_SERVER",
    "AUDITLAB_ORG",
    "AUDITLAB_HOST",
    "AUDITLAB_BASE_URL",
    "AUDITLAB_CONFIG",
    "AUDITLAB_CA_BUNDLE",
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Limits and knobs for reading and storing.

    Attributes:
        max_member_bytes: most bytes one decompressed input (file, gzip, ZIP member) may hold.
        max_total_bytes: most decompressed bytes one load may read, all inputs together.
        max_ratio: most a compressed input may expand (decompressed / compressed), once it has
            given ``ratio_floor_bytes``.
        ratio_floor_bytes: output of one compressed input below which any ratio is harmless (one
            very compressible event is not a bomb; a bomb expands to gigabytes).
        chunk_bytes: how many bytes of lines are parsed in one vectorised batch.
        quarantine_text_chars: how much of a quarantined line is kept.
        lock_timeout: seconds a writer waits for a store's lock (0: fail at once).
        memory_limit: DuckDB's memory limit for a store's connections (loads and reads); past it
            DuckDB spills to ``temp_directory``. An in-memory workspace is not limited.
        temp_directory: where a store's DuckDB spills, each connection in a folder of its own
            ("": inside the store's ``_staging/`` for a load, the system temp folder for reads).
    """

    max_member_bytes: int = 8 * 1024**3
    max_total_bytes: int = 64 * 1024**3
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 64 * 1024**2
    chunk_bytes: int = 64 * 1024**2
    quarantine_text_chars: int = 4096
    lock_timeout: float = 0.0
    memory_limit: str = "1GB"
    temp_directory: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings with any ``AUDITLAB_<FIELD>`` variable applied."""
        env = os.environ if environ is None else environ
        base = cls()
        changes: dict[str, object] = {}
        for f in fields(cls):
            value = env.get(f"AUDITLAB_{f.name.upper()}")
            if value is not None:
                kind = type(getattr(base, f.name))
                changes[f.name] = kind(value)
        return replace(base, **changes)  # type: ignore[arg-type]


def portal_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The :data:`PORTAL_ENV` variables that are set (empty ones ignored).

    Examples:
        >>> portal_env({"AUDITLAB_ORG": "acme", "AUDITLAB_HOST": "", "HOME": "/root"})
        {'AUDITLAB_ORG': 'acme'}
    """
    env = os.environ if environ is None else environ
    return {name: env[name] for name in PORTAL_ENV if env.get(name)}

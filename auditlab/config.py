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

__all__ = ["Settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    """Limits and knobs for reading and storing.

    Attributes:
        max_member_bytes: most bytes one decompressed input (file, gzip, ZIP member) may hold.
        max_total_bytes: most decompressed bytes one load may read, all inputs together.
        max_ratio: most a compressed input may expand (decompressed / compressed), past 1 MiB out.
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

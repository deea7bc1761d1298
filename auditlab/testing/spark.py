"""A local-mode Spark session for tests of code that uses :mod:`auditlab.spark`, and why one cannot start.

Needs the ``spark`` extra and a Java runtime; pyspark is imported by :func:`local_session` only.

Examples:
    >>> spark_unavailable() in (None, "pyspark is not installed (pip install 'auditlab[spark]')",
    ...                         "no Java runtime for Spark (java not on PATH, JAVA_HOME unset)")
    True
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

__all__ = ["local_session", "spark_unavailable"]


def spark_unavailable() -> str | None:
    """Why a local Spark session cannot start here (no pyspark, no Java), or ``None`` if it can."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'auditlab[spark]')"
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        return "no Java runtime for Spark (java not on PATH, JAVA_HOME unset)"
    return None


def local_session(*, cores: int = 2, timezone: str = "UTC") -> SparkSession:
    """A quiet local-mode session (no UI, few shuffle partitions), or the active one.

    Args:
        cores: worker threads (``local[cores]``).
        timezone: the session time zone; auditlab's results do not depend on it.
    """
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("auditlab-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(cores))
        .config("spark.sql.session.timeZone", timezone)
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session

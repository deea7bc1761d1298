"""Test-wide settings.

Hypothesis explores new random examples on every local run; under CI (``CI=true``) it runs a fixed,
derandomised set so that a landing never depends on the luck of one draw. A failure found locally
is added as an ``@example`` or fixed, then CI checks it forever.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# A shared 2-core machine makes wall-clock checks flaky: no per-example deadline, no "too slow" check.
_LENIENT = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", derandomize=True, print_blob=True, **_LENIENT)
settings.register_profile("dev", **_LENIENT)
settings.load_profile("ci" if os.environ.get("CI", "").lower() in {"1", "true", "yes"} else "dev")


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local-mode Spark session for the whole run (its JVM takes seconds to start).

    Its time zone is not UTC (+05:30), so no result may depend on the session's zone. Skipped,
    with the reason, without pyspark or Java.
    """
    from auditlab.testing.spark import local_session, spark_unavailable

    reason = spark_unavailable()
    if reason:
        pytest.skip(reason)
    session = local_session(timezone="Asia/Kolkata")
    yield session
    session.stop()

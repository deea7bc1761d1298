"""Test-wide settings.

Hypothesis explores new random examples on every local run; under CI (``CI=true``) it runs a fixed,
derandomised set so that a landing never depends on the luck of one draw. A failure found locally
is added as an ``@example`` or fixed, then CI checks it forever.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
    settings.load_profile("ci")

"""A fake Portal on 127.0.0.1 over the bundled sample (loaded once), and fast retry settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditlab.portal.settings import resolve_settings
from auditlab.store.workspace import Workspace, load
from auditlab.testing.fake_portal import FakePortal

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "samples" / "portal_audit_export.zip"
#: A token distinctive enough to find anywhere it leaks.
TOKEN = "tok-S3CRET-7f3a9c1e5b2d4680"
START, END = "2026-10-02T00:00:00Z", "2026-11-01T00:00:00Z"


@pytest.fixture(scope="session")
def sample_ws() -> Workspace:
    return load(SAMPLE)


@pytest.fixture
def portal(sample_ws):
    with FakePortal(sample_ws, token=TOKEN, server="demo", organization="acme") as fake:
        yield fake


@pytest.fixture
def fast():
    """Settings with waits of milliseconds, so fault tests run fast (the waits are still computed)."""

    def make(portal: FakePortal, **changes):
        knobs = dict(
            max_wait=0.02,
            throttle_wait=60.0,
            backoff_initial=0.001,
            backoff_max=0.01,
            poll_initial=0.001,
            poll_max=0.01,
            poll_timeout=5.0,
            timeout=10.0,
        )
        knobs.update(changes)
        token = knobs.pop("token", TOKEN)
        return resolve_settings(
            host=portal.url,
            server="demo",
            organization=knobs.pop("organization", "acme"),
            token=token,
            environ={},
            use_keyring=False,
            **knobs,
        )

    return make

"""The fake Portal as a program: ``python -m auditlab.testing.fake_portal --data ... --port 0``."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
from conftest import ROOT, SAMPLE


def test_fake_portal_runs_as_a_program_and_checks_the_token():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "auditlab.testing.fake_portal",
            "--data",
            str(SAMPLE),
            "--port",
            "0",
            "--token",
            "t-1",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", first).group(0)
        assert "t-1" not in first
        api = f"{url}/demo/api/public/v1/audit-log/acme/export"
        body = {
            "name": "x",
            "datetime_start": "2026-10-14T00:00:00Z",
            "datetime_end": "2026-10-15T00:00:00Z",
            "should_create_cef": False,
            "should_create_ndjson": True,
        }
        assert httpx.post(api, json=body).status_code == 401
        created = httpx.post(api, json=body, headers={"Authorization": "Bearer t-1"})
        assert created.status_code == 201 and created.json()["ndjson_status"] == "IN_PROGRESS"
        missing = httpx.post(api, json={"name": "x"}, headers={"Authorization": "Bearer t-1"})
        assert missing.status_code == 400 and "datetime_start" in missing.json()["detail"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)

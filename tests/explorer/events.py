"""A small workspace for the explorer tests: 120 regular events and one that carries HTML.

Events ``i = 0..119`` are 30 minutes apart from 2026-10-01 00:00 UTC; the hostile event is the newest
(2026-10-03 12:00). Its user, project, target name, error message and details hold markup.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

BASE = datetime(2026, 10, 1, tzinfo=UTC)
HOSTILE_USER = "<script>alert(1)</script>"
HOSTILE_PROJECT = "<img src=x onerror=alert(1)>"
ACTIONS = ["user.login", "user.logout", "project.created"]


def events() -> pl.DataFrame:
    rows = []
    for i in range(120):
        action = ACTIONS[i % 3]
        failed = i % 5 == 0
        rows.append(
            {
                "event_id": f"e{i:03d}",
                "timestamp": BASE + timedelta(minutes=30 * i),
                "action": action,
                "outcome": "failure" if failed else "success",
                "user_email": f"user{i % 4}@acme.example",
                "user_id": f"u{i % 4}",
                "auth_context": "api" if i % 2 else "portal",
                "ip_address": f"10.0.0.{i % 7}",
                "resource_type": "project" if action == "project.created" else "user",
                "resource_name": f"name-{i % 6}",
                "project_name": "alpha" if i % 2 else "beta",
                "request_id": f"req-{i}",
                "error_message": "Invalid credentials" if failed else None,
                "details": None,
                "source": "fixture",
                "source_line": i + 1,
            }
        )
    rows.append(
        {
            "event_id": "hostile",
            "timestamp": BASE + timedelta(hours=60),
            "action": "project.created",
            "outcome": "failure",
            "user_email": HOSTILE_USER,
            "user_id": "u-x",
            "auth_context": "portal",
            "ip_address": "10.9.9.9",
            "resource_type": "project",
            "resource_name": "<b>bold</b>",
            "project_name": HOSTILE_PROJECT,
            "request_id": "req-x",
            "error_message": "<i>denied</i>",
            "details": '{"changes": {"name": "<svg onload=alert(1)>"}}',
            "source": "fixture",
            "source_line": 121,
        }
    )
    return pl.DataFrame(rows, infer_schema_length=None)

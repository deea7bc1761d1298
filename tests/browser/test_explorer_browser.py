"""The explorer in a real JupyterLab and headless Chromium: clicks, counts, pages, Info, chart, escaping."""

from __future__ import annotations

import json

import pytest

HOSTILE = {
    "id": "hostile-1",
    "timestamp": "2026-10-31T23:59:00Z",  # the newest event: first row of the default 24 hours
    "action": "project.created",
    "outcome": "unsuccessful",
    "user_email": "<script>alert(1)</script>",
    "ip_address": "10.6.6.6",
    "resource_type": "project",
    "resource_name": "<b>bold</b>",
    "project_name": "<img src=x onerror=alert(1)>",
    "error_message": "<i>denied</i>",
    "request_id": "req-hostile",
}
CELLS = [
    "import auditlab\n"
    "ws = auditlab.load('data/samples/portal_audit_export.zip', 'hostile.ndjson')\n"
    "ex = auditlab.Explorer(ws, export_dir='exports')\n"
    "ex",
]


def _notebook(cells: list[str]) -> dict:
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"c{i}",
                "metadata": {},
                "outputs": [],
                "source": src,
            }
            for i, src in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture(scope="module")
def expected(tmp_path_factory) -> dict[str, int]:
    """The numbers the page must show, computed in-process on the same events."""
    import auditlab

    path = tmp_path_factory.mktemp("hostile") / "hostile.ndjson"
    path.write_text(json.dumps(HOSTILE) + "\n")
    ws = auditlab.load("data/samples/portal_audit_export.zip", path)
    others = ws.query("action is_not user.scim.search; since 24h").count()
    return {"all": ws.query().count(), "others": others, "pages": -(-others // 50)}


@pytest.mark.browser
@pytest.mark.slow
def test_explorer_in_jupyterlab(lab, page, expected) -> None:
    (lab.root / "hostile.ndjson").write_text(json.dumps(HOSTILE) + "\n")
    (lab.root / "explorer.ipynb").write_text(json.dumps(_notebook(CELLS)))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    lab.open_notebook(page, "explorer.ipynb")
    lab.run_all_cells(page)
    count = page.locator(".al-count")
    count.wait_for(timeout=60_000)
    page.wait_for_function(
        "n => document.querySelector('.al-count').textContent === n",
        arg=f"{expected['all']:,} events",
        timeout=30_000,
    )

    # the chart rendered offline, as SVG
    page.locator(".al-timeline svg").first.wait_for(timeout=30_000)
    assert "Error loading script" not in page.content()

    # the hostile event is the first row: its markup shows as text and made no element
    first = page.locator(".al-row").first
    assert "<script>alert(1)</script>" in first.locator("summary").inner_text()
    first.locator("summary").click()
    info = first.locator(".al-info")
    info.wait_for(state="visible")
    text = info.inner_text()
    assert "<img src=x onerror=alert(1)>" in text and "<i>denied</i>" in text and "10.6.6.6" in text
    made = page.evaluate(
        """() => ({img: document.querySelectorAll('.al-explorer img').length,
                   script: [...document.querySelectorAll('.al-explorer script')].length,
                   b: document.querySelectorAll('.al-table b').length,
                   i: document.querySelectorAll('.al-table i').length})"""
    )
    assert made == {"img": 0, "script": 0, "b": 0, "i": 0}
    first.locator("summary").click()  # close it again

    # Add filter: field -> operator -> value (searched), by clicks and keys
    page.locator(".al-open-filter").click()
    page.locator(".al-field select").select_option(label="Action")
    page.locator(".al-op select").select_option(label="is not")
    search = page.locator(".al-search input")
    search.fill("user.scim.search")
    search.press("Enter")
    page.wait_for_function(
        "() => { const o = document.querySelectorAll('.al-values select option');"
        " return o.length === 1 && o[0].textContent.startsWith('user.scim.search'); }",
        timeout=30_000,
    )
    page.locator(".al-values select").select_option(index=0)
    page.locator(".al-add").click()
    page.wait_for_function(
        "n => document.querySelector('.al-count').textContent === n",
        arg=f"{expected['others']:,} events",
        timeout=30_000,
    )
    assert page.locator(".al-chip").inner_text() == "Action is not user.scim.search"
    assert page.locator(".al-query input").input_value() == "action is_not user.scim.search; since 24h"

    # page forward, then open an Info panel
    page.locator(".al-next").click()
    page.wait_for_function(
        "t => document.querySelector('.al-page').textContent === t",
        arg=f"page 2 of {expected['pages']}",
        timeout=30_000,
    )
    row = page.locator(".al-row").first
    row.locator("summary").click()
    assert "IP address" in row.locator(".al-info").inner_text()
    assert "user.scim.search" not in row.locator("summary").inner_text()

    # Export: the dialog writes a ZIP; the Audit Exports section lists it with a download link
    page.locator(".al-export").click()
    name = "<img src=x onerror=alert(2)> evidence"
    page.locator(".al-export-name input").fill(name)
    page.locator(".al-export-go").click()
    page.wait_for_function(
        "() => document.querySelector('.al-exports-header').textContent === 'Audit Exports (1)'",
        timeout=30_000,
    )
    page.locator(".al-exports-toggle").click()
    body = page.locator(".al-exports-body")
    body.wait_for(state="visible")
    assert name in body.inner_text()
    assert page.evaluate("() => document.querySelectorAll('.al-explorer img').length") == 0
    # JupyterLab resolved the relative link (to the kernel's folder) to its /files/ URL
    resolved = body.locator("a[download]").evaluate("a => a.href")
    assert "/files/exports/img_src_x_onerror_alert_2_evidence.zip" in resolved, resolved
    download = page.request.get(resolved)
    assert download.status == 200 and download.body()[:2] == b"PK"

    shot = lab.screenshot(page, "explorer")
    assert shot.stat().st_size > 10_000
    assert dialogs == []
    assert not [e for e in page.console_errors if "Error loading script" in e]

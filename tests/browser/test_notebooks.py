"""An investigation notebook in a real JupyterLab: run all, HTML tables (interactive, offline), no errors."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

NOTEBOOK = "notebooks/10_failed_logins.ipynb"
#: A markdown/ASCII text table line such as ``|----------|-------|``.
ASCII_RULE = re.compile(r"^\|[-|: ]+\|$", re.MULTILINE)
#: Render every cell (JupyterLab 4 otherwise renders only the cells near the viewport).
NOTEBOOK_SETTINGS = "@jupyterlab/notebook-extension/tracker.jupyterlab-settings"


def _outputs(page: Any) -> list[list[dict[str, Any]]]:
    """The outputs of every code cell, from the notebook model (as saved to .ipynb)."""
    outputs: list[list[dict[str, Any]]] = page.evaluate(
        """() => { const cells = window.jupyterapp.shell.currentWidget.content.model.cells; const all = [];
                   for (let i = 0; i < cells.length; i++) {
                     const c = cells.get(i);
                     if (c.type === 'code') all.push(c.outputs.toJSON());
                   }
                   return all; }"""
    )
    return outputs


@pytest.mark.browser
@pytest.mark.slow
def test_investigation_notebook_shows_html_tables_offline(lab: Any, page: Any) -> None:
    from playwright.sync_api import expect

    settings = lab.root.parent / "settings" / NOTEBOOK_SETTINGS
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"windowingMode": "none"}))
    off_host: list[str] = []

    def offline(route: Any) -> None:  # nothing but the local server: what an air-gapped analyst has
        if route.request.url.startswith(lab.base) or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            off_host.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    lab.open_notebook(page, NOTEBOOK)
    lab.run_all_cells(page, timeout=180)

    outputs = [o for cell in _outputs(page) for o in cell]
    assert [o for o in outputs if o["output_type"] == "error"] == []
    streams = "".join(
        "".join(o["text"]) if isinstance(o["text"], list) else o["text"]
        for o in outputs
        if o["output_type"] == "stream"
    )
    assert ASCII_RULE.search(streams) is None  # no text table anywhere
    assert [o for o in outputs if o["output_type"] == "stream" and o["name"] == "stderr"] == []
    assert "17050 events in scope (all time) of 17050 loaded" in streams

    # Long tables became DataTables (itables' offline bundle ran); short ones are plain HTML tables.
    page.wait_for_selector("table.dataTable", timeout=30_000)
    assert page.locator("table.dataTable").count() >= 3  # failures by user, by ip, evidence of the spray
    assert page.locator("div.auditlab-table > table").count() >= 4
    assert page.get_by_text("Loading ITables").count() == 0
    assert page.locator(".jp-RenderedText pre").filter(has_text=re.compile(r"^\|.*\|$", re.M)).count() == 0

    # Searchable: the users table filters down to the one account typed into its search box.
    users = page.locator(".dt-container").filter(has=page.locator("th", has_text="peak_in_window")).first
    users.scroll_into_view_if_needed()
    users.locator("input[type=search]").fill("ext.zoe.bauer")
    body_rows = users.locator("table.dataTable tbody tr")
    page.wait_for_function(
        "(el) => el.querySelectorAll('table.dataTable tbody tr').length === 1", arg=users.element_handle()
    )
    assert body_rows.count() == 1 and "ext.zoe.bauer@acme.example" in body_rows.first.inner_text()
    # Sortable: a click on "failures" orders by it (DataTables marks the column as sorted).
    users.locator("input[type=search]").fill("")
    header = users.locator("thead th", has_text=re.compile(r"^failures$"))
    header.get_by_role("button", name="failures: Activate to sort").click()  # itables' order icon
    expect(header).to_have_class(re.compile(r"dt-ordering-(asc|desc)"))

    # Timestamps stay on one line in the interactive tables ("2026-10-" / "17T22:..." was the old wrap).
    stamp = users.locator("tbody td.dt-nowrap").first
    assert re.fullmatch(r"2026-10-\d\dT[\d:.]+Z", stamp.inner_text())
    assert stamp.evaluate("(td) => getComputedStyle(td).whiteSpace") == "nowrap"
    # A table cell wraps between words, never inside one: "Invalid credentials" stays on whole words.
    reasons = page.locator("div.auditlab-table table", has_text="Invalid credentials").first
    cell = reasons.locator("td", has_text="Invalid credentials").first
    assert cell.inner_text() == "Invalid credentials"
    assert off_host == []  # every script and style came from the notebook or the local server
    lab.screenshot(page, "notebook-10-failed-logins")

"""The ipywidgets page driven headless: clicks and values set on the widgets, no browser, no kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditlab.explorer.view import Explorer, escape

from .events import HOSTILE_PROJECT, HOSTILE_USER

#: markup from the hostile event that must never reach HTML unescaped
RAW = [HOSTILE_USER, HOSTILE_PROJECT, "<b>bold</b>", "<i>denied</i>", "<svg onload", "<script", "<img"]


def no_raw_markup(html: str) -> None:
    for raw in RAW:
        assert raw not in html, raw


@pytest.fixture()
def ex(ws, tmp_path, monkeypatch) -> Explorer:
    monkeypatch.chdir(tmp_path)
    return Explorer(ws, query="all time", export_dir="exports", background=False)


def chip_texts(ex: Explorer) -> list[str]:
    return [box.children[0].description for box in ex.chips.children]


def test_opens_with_count_chart_table_and_query_text(ex) -> None:
    assert ex.count_html.value == "<b>121</b> events"
    assert ex.query_box.value == "all time" and ex.query.to_text() == "all time"
    assert ex.page_label.value == "page 1 of 3"
    assert ex.prev_btn.disabled and not ex.next_btn.disabled
    assert ex.chart.value.startswith('<div class="al-chart"><svg')
    assert ex.table.value.count('<details class="al-row"') == 50
    assert ex.exports_header.value == "<b>Audit Exports (0)</b>"


def test_log_values_are_escaped_in_the_table_and_info(ex) -> None:
    table = ex.table.value
    no_raw_markup(table)
    assert escape(HOSTILE_USER) in table and escape(HOSTILE_PROJECT) in table
    assert "&lt;i&gt;denied&lt;/i&gt;" in table  # the Info panel's error message
    assert "&lt;svg onload=alert(1)&gt;" in table  # the changes


def test_add_a_filter_by_field_operator_and_value(ex) -> None:
    ex.open_filter.click()
    assert ex.filter_box.layout.display == "flex"
    ex.field.value = "action"
    assert [v for _, v in ex.op.options] == ["is", "is_not", "is_any", "is_not_any"]
    ex.op.value = "is_any"
    assert ex.values_box.children == (ex.pick_many,)  # three values: no search box
    assert ex.pick_many.options == (
        ("project.created  (41)", "project.created"),
        ("user.login  (40)", "user.login"),
        ("user.logout  (40)", "user.logout"),
    )
    ex.pick_many.value = ("user.login", "user.logout")
    ex.add_btn.click()
    assert ex.count_html.value == "<b>80</b> events"
    assert ex.query_box.value == "action is_any user.login,user.logout; all time"
    assert chip_texts(ex) == ["Action is any user.login, user.logout"]
    assert ex.filter_box.layout.display == "none"
    ex.next_btn.click()
    assert ex.page_label.value == "page 2 of 2" and ex.next_btn.disabled


def test_the_value_picker_shows_markup_as_option_text_and_filters_on_it(ex) -> None:
    ex.open_filter.click()
    ex.field.value = "user_email"
    assert [v for _, v in ex.op.options] == ["is"]
    assert ex.values_box.children == (ex.pick_one,)
    assert (f"{HOSTILE_USER}  (1)", HOSTILE_USER) in ex.pick_one.options
    ex.field.value = "ip_address"  # 8 values, then search
    ex.search.value = "9.9"
    assert ex.values_box.children == (ex.search, ex.pick_one)
    assert ex.pick_one.options == (("10.9.9.9  (1)", "10.9.9.9"),)
    ex.field.value = "project_name"
    ex.pick_one.value = HOSTILE_PROJECT
    ex.add_btn.click()
    assert ex.count_html.value == "<b>1</b> events"
    assert chip_texts(ex) == [f"Project Name is {HOSTILE_PROJECT}"]  # a Button shows text, not HTML
    no_raw_markup(ex.table.value)


def test_a_typed_value_and_chip_edit_and_remove(ex) -> None:
    ex.open_filter.click()
    ex.field.value = "user_email"
    ex.free.value = "user1@acme.example"
    ex.add_btn.click()
    assert ex.count_html.value == "<b>30</b> events"
    ex.chips.children[0].children[0].click()  # the chip: edit
    assert ex.filter_box.layout.display == "flex" and ex.add_btn.description == "Update filter"
    assert ex.field.value == "user_email" and ex.pick_one.value == "user1@acme.example"
    ex.pick_one.value = "user2@acme.example"
    ex.add_btn.click()
    assert (
        chip_texts(ex) == ["User Email is user2@acme.example"] and ex.count_html.value == "<b>30</b> events"
    )
    ex.chips.children[0].children[1].click()  # ×
    assert chip_texts(ex) == [] and ex.count_html.value == "<b>121</b> events"


def test_bad_values_show_the_message_escaped(ex) -> None:
    ex.query_box.value = "action is <b>user.pat.revoke</b>"
    ex.apply_query.click()
    assert ex.error_html.value.startswith(
        "&#9888; unknown action &#x27;&lt;b&gt;user.pat.revoke&lt;/b&gt;&#x27;"
    )
    assert ex.count_html.value == "<b>121</b> events"
    ex.open_filter.click()
    ex.field.value = "resource_name"
    ex.free.value = "x"
    ex.add_btn.click()
    assert "Target Name needs a Target Type condition" in ex.error_html.value
    assert ex.filter_box.layout.display == "flex"  # stays open to fix the value
    ex.add_btn.description = "Add filter"
    ex.free.value = ""
    ex.pick_one.value = None
    ex.add_btn.click()
    assert ex.error_html.value == "&#9888; choose a value, or type one"


def test_time_range_presets_and_custom(ex) -> None:
    ex.range.value = "24h"
    assert ex.count_html.value == "<b>48</b> events" and ex.query_box.value == "since 24h"
    assert ex.custom_box.layout.display == "none"
    ex.range.value = "custom"
    assert ex.custom_box.layout.display == "flex"
    from datetime import datetime

    ex.start.value = datetime(2026, 10, 1, 0, 0)
    ex.end.value = datetime(2026, 10, 1, 12, 0)
    ex.apply_range.click()
    assert ex.count_html.value == "<b>24</b> events"
    assert ex.range_html.value == "2026-10-01 00:00 – 2026-10-01 12:00 UTC"


def test_export_dialog_and_the_audit_exports_section(ex, tmp_path) -> None:
    ex.state.add_filter("Project Name", "is", HOSTILE_PROJECT)
    ex.export_btn.click()
    assert ex.export_dialog.layout.display == "flex"
    summary = ex.export_summary.value
    no_raw_markup(summary)
    assert f"Filters: Project Name is {escape(HOSTILE_PROJECT)}" in summary
    assert "Time range: All time" in summary and "Events: 1" in summary
    ex.export_name.value = "<script>x</script> evidence"
    ex.export_format.value = ("ndjson", "cef")
    ex.export_go.click()
    zip_path = Path("exports/script_x_script_evidence.zip")
    assert zip_path.is_file()
    assert ex.export_dialog.layout.display == "none"
    assert ex.export_msg.value == "Exported 1 events to exports/script_x_script_evidence.zip"
    assert ex.exports_header.value == "<b>Audit Exports (1)</b>"
    assert ex.exports_body.layout.display == "none"
    ex.exports_toggle.click()
    assert ex.exports_body.layout.display == "flex" and ex.exports_toggle.description == "Hide"
    (row,) = ex.exports_body.children
    html = row.children[0].outputs[0]["data"]["text/html"]
    assert "<td>&lt;script&gt;x&lt;/script&gt; evidence</td>" in html
    assert f"<td>project_name is {escape(HOSTILE_PROJECT)}; all time</td>" in html
    assert '<a href="exports/script_x_script_evidence.zip" download' in html and "NDJSON + CEF (ZIP)" in html
    no_raw_markup(html)
    row.children[1].click()  # Delete
    assert not zip_path.exists() and ex.exports_header.value == "<b>Audit Exports (0)</b>"


def test_background_refreshes_end_with_the_newest_state(ws, tmp_path) -> None:
    ex = Explorer(ws, query="all time", export_dir=tmp_path, background=True)
    for action in ("user.login", "user.logout", "project.created"):
        ex.state.set_query(f"action is {action}; all time")
    ex.wait()
    assert ex.state.query_text == "action is project.created; all time"
    assert ex.count_html.value == "<b>41</b> events" and ex.busy_html.value == ""


def test_explore_methods(ws) -> None:
    ex = ws.explore("outcome is failure; since 24h", background=False)
    assert isinstance(ex, Explorer) and ex.state.count == 10
    import auditlab

    assert auditlab.Explorer is Explorer
    assert "application/vnd.jupyter.widget-view+json" in ex._repr_mimebundle_()


def test_store_explore(tmp_path) -> None:
    import json

    import auditlab

    src = tmp_path / "a.ndjson"
    src.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"s{i}",
                    "timestamp": f"2026-10-0{i + 1}T10:00:00Z",
                    "action": "user.login",
                    "outcome": "successful",
                    "user_email": f"u{i}@x.example",
                }
            )
            + "\n"
            for i in range(3)
        )
    )
    store = auditlab.open_store(tmp_path / "store")
    store.add(src)
    ex = store.explore("all time", background=True, export_dir=tmp_path / "exports")
    ex.wait()
    assert ex.count_html.value == "<b>3</b> events"
    ex.state.add_filter("User Email", "is", "U1@X.example")
    ex.wait()
    assert ex.count_html.value == "<b>1</b> events" and ex.state.table()[0]["User"] == "u1@x.example"

"""Notebook tables: escaped HTML, interactive through itables (offline) when long, truncation announced."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

import auditlab
from auditlab.notebook import INTERACTIVE_ROWS, enable_tables, format_times, show_table

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# The investigation and compliance notebooks whose tables this module renders.
TABLE_NOTEBOOKS = [
    "10_failed_logins.ipynb",
    "20_pat_revocations.ipynb",
    "30_sso_changes.ipynb",
    "40_quota_spending.ipynb",
    "50_compliance_summary.ipynb",
]


@pytest.fixture
def interactive(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """itables' offline mode on for one test (its init writes DataTables' bundle to stdout here)."""
    assert enable_tables() is True
    capsys.readouterr()
    yield
    enable_tables(interactive=False)


def frame(rows: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "user_email": [EVIL] + [f"u{i}@x.example" for i in range(1, rows)],
            "timestamp": [
                datetime(2026, 10, 1, 3, 0, i % 60, 5000 * (i % 2), tzinfo=UTC) for i in range(rows)
            ],
            "count": list(range(rows)),
        }
    )


def test_show_table_is_public() -> None:
    assert auditlab.show_table is show_table


def test_static_table_escapes_every_value_and_header() -> None:
    bad = pl.DataFrame({EVIL: [EVIL], "n": [1]})
    page = show_table(bad, title=EVIL, caption=EVIL)._repr_html_()
    assert re.search(r"<\s*(script|img)", page, re.IGNORECASE) is None
    assert (
        page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;") == 4
    )
    assert page.startswith('<div style="font-weight:600;margin:8px 0 2px">&lt;script&gt;')  # the title, above


def test_interactive_table_escapes_and_wraps(interactive: None) -> None:
    page = show_table(frame(INTERACTIVE_ROWS + 1))._repr_html_()
    assert "new ITable(table, dt_args)" in page  # DataTables: sortable, searchable, paged
    assert '"classes": ["display", "compact"]' in page  # no "nowrap" class: long text wraps between words
    # text left, timestamps never broken inside ("2026-10-" / "01T03..."), numbers right (the default)
    assert (
        '"columnDefs": [{"className": "dt-left", "targets": [0, 1]}, {"className": "dt-left dt-nowrap", "targets": [1]}]'
        in page
    )
    assert "https://cdn" not in page and "unpkg" not in page  # offline: no script from the network
    # the value shows as text in the data and in the static preview of an untrusted notebook
    assert re.search(r"<\s*img|<script>alert", page, re.IGNORECASE) is None
    assert page.count("&lt;script&gt;alert(") == 2  # the data (JSON) and the static preview
    assert "2026-10-01T03:00:01.005Z" in page and "2026-10-01T03:00:00Z" in page


def test_short_tables_stay_plain_html_even_when_interactive(interactive: None) -> None:
    page = show_table(frame(INTERACTIVE_ROWS))._repr_html_()
    assert "ITable" not in page and page.startswith('<div class="auditlab-table"')
    assert 'white-space:nowrap;word-break:normal;overflow-wrap:break-word">2026-10-01T03:00:00Z</td>' in page
    assert page.count("<tr>") == INTERACTIVE_ROWS + 1


def test_a_truncated_listing_says_so_and_how_to_see_the_rest() -> None:
    view = show_table(frame(29), limit=25, rest="all are in `org_changes`")
    assert (view.shown, view.total) == (25, 29)
    assert view.caption == "25 of 29 rows shown; all are in `org_changes`"
    assert ">25 of 29 rows shown; all are in `org_changes`</caption>" in view.static_html()
    assert repr(view).startswith("<TableView 25 of 29 rows: user_email, timestamp, count>")
    whole = show_table(frame(25), limit=25, caption="config changes")
    assert (whole.shown, whole.caption) == (25, "config changes")


def test_format_times_is_the_findings_format() -> None:
    from auditlab.investigations._result import _iso

    moments = [datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 1, 23, 59, 59, 999000, tzinfo=UTC)]
    out = format_times(
        pl.DataFrame(
            {
                "aware": moments,
                "naive": [m.replace(tzinfo=None) for m in moments],
                "day": [date(2026, 10, 1), date(2026, 10, 2)],
                "actions": [["user.login", "user.sso.saml.login"], []],
                "n": [1, 2],
            }
        )
    )
    assert (
        out["aware"].to_list()
        == [_iso(m) for m in moments]
        == ["2026-10-01T00:00:00Z", "2026-10-01T23:59:59.999Z"]
    )
    assert out["naive"].to_list() == out["aware"].to_list()
    assert out["day"].to_list() == ["2026-10-01", "2026-10-02"]
    assert out["actions"].to_list() == ["user.login, user.sso.saml.login", ""]
    assert out["n"].to_list() == [1, 2]


def test_format_times_converts_other_zones_to_utc() -> None:
    local = pl.DataFrame({"t": [datetime(2026, 10, 1, 12, tzinfo=UTC)]}).with_columns(
        pl.col("t").dt.convert_time_zone("Europe/Berlin")
    )
    assert format_times(local)["t"].to_list() == ["2026-10-01T12:00:00Z"]


def _outputs(cell: dict[str, object]) -> list[dict[str, object]]:
    outputs = cell.get("outputs", [])
    assert isinstance(outputs, list)
    return outputs


@pytest.mark.parametrize("name", TABLE_NOTEBOOKS)
def test_notebooks_show_tables_as_html_and_keep_checks_apart(name: str) -> None:
    """No ASCII text tables or errors in the saved outputs; checks tagged, in a final section."""
    nb = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
    cells = nb["cells"]
    sources = ["".join(c["source"]) for c in cells]
    assert not any("NBVAL_CHECK_OUTPUT" in s for s in sources)  # tags in cell metadata instead
    assert not any("pl.Config.set_tbl_formatting" in s for s in sources)
    checks_at = sources.index(next(s for s in sources if s.startswith("## Checks")))
    tagged = [i for i, c in enumerate(cells) if "nbval-check-output" in c["metadata"].get("tags", [])]
    assert tagged and max(tagged) > checks_at
    html_tables = 0
    for cell in cells:
        for out in _outputs(cell):
            assert out["output_type"] != "error", out
            text = "".join(out.get("text", [])) if out["output_type"] == "stream" else ""  # type: ignore[arg-type]
            assert re.search(r"^\|[-|]+\|$", text, re.MULTILINE) is None, text[:300]  # a markdown/ASCII table
            data = out.get("data", {})
            assert isinstance(data, dict)
            page = "".join(data.get("text/html", []))
            html_tables += page.count("<table")
            assert (
                re.search(r"<th[^>]*>len</th>|&quot;len&quot;|\"len\"", page) is None
            )  # no column named len
    assert html_tables >= 3

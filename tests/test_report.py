"""The HTML report: self-contained, every log value escaped, capped tables, findings summary."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from auditlab.charts import bar_chart
from auditlab.errors import InputError
from auditlab.investigations import Finding, InvestigationResult
from auditlab.report import MAX_ENTITY_VALUES, MAX_EVENT_IDS, escape, render_html, write_report

T0 = datetime(2026, 10, 14, 3, 41, 24, 63000, tzinfo=UTC)
EVIL_USER = '<script>alert("u")</script>@x.example'
EVIL_ACTION = '"><img src=x onerror=alert(1)>'


def finding(
    name: str, severity: str, title: str, *, minutes: int = 0, ids: int = 2, **entities: list[str]
) -> Finding:
    start = T0 + timedelta(minutes=minutes)
    event_ids = tuple(f"e{i:03d}" for i in range(ids))
    return Finding(
        name, severity, "T1110.001", title, entities, start, start + timedelta(minutes=8), ids, event_ids
    )


def evil_result() -> InvestigationResult:
    f = finding(
        "failed_logins", "high", f"Brute force against {EVIL_USER}", user=[EVIL_USER], ip=["203.0.113.45"]
    )
    table = pl.DataFrame(
        {"user_email": [EVIL_USER, "b@x"], "action": [EVIL_ACTION, "user.login"], "count": [14, 1]}
    )
    return InvestigationResult(
        "failed_logins", "Failed logins", {"window": "15m", "note": EVIL_ACTION}, [f],
        tables={"failures by user": table},
        chart_builders={"failures by user": lambda: bar_chart(table, category="user_email")},
    )  # fmt: skip


@pytest.fixture(scope="module")
def evil_page() -> str:
    return render_html([evil_result()], title="Report <for> acme", scope=f"user_email is {EVIL_USER}")


def test_log_values_are_escaped_everywhere(evil_page: str) -> None:
    assert re.search(r"<\s*script", evil_page, re.IGNORECASE) is None
    assert "<img" not in evil_page
    escaped_user = "&lt;script&gt;alert(&quot;u&quot;)&lt;/script&gt;@x.example"
    # title (summary and section), entities (twice), the supporting table, the scope line
    assert evil_page.count(escaped_user) >= 6
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in evil_page  # table cell and parameter
    assert "<title>Report &lt;for&gt; acme</title>" in evil_page


def test_page_is_self_contained(evil_page: str) -> None:
    assert evil_page.startswith("<!DOCTYPE html>")
    assert "<style>" in evil_page and evil_page.count("<svg") == 1
    assert re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", evil_page, re.IGNORECASE) is None
    assert re.search(r"<link|<iframe|@import|url\(", evil_page, re.IGNORECASE) is None
    # the only absolute URLs are the SVG's XML namespaces
    assert set(re.findall(r"https?://[^\s\"'<>]+", evil_page)) <= {
        "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
    }  # fmt: skip


def test_escape_formats_values() -> None:
    assert escape(datetime(2026, 10, 1, 12, tzinfo=UTC)) == "2026-10-01T12:00:00Z"
    assert escape({"a": "<b>"}) == "{&quot;a&quot;: &quot;&lt;b&gt;&quot;}"
    assert escape(0.1 + 0.2) == "0.3"
    assert escape(("x", None, 3)) == "x, , 3"


def test_summary_is_sorted_most_severe_first_and_grouped() -> None:
    results = [
        InvestigationResult("failed_logins", "Failed logins", {}, [finding("failed_logins", "low", "LOW-ONE")]),
        InvestigationResult("sso_changes", "SSO changes", {}, [
            finding("sso_changes", "medium", "MEDIUM-LATE", minutes=30),
            finding("sso_changes", "critical", "CRITICAL-ONE", minutes=60),
            finding("sso_changes", "medium", "MEDIUM-EARLY"),
        ]),
        InvestigationResult("quota_spending", "Quota spending", {}, []),
    ]  # fmt: skip
    page = render_html(results, title="t", charts=False)
    summary = page.split("<h2>Findings summary</h2>")[1].split("<section")[0]
    order = re.findall(r"(LOW-ONE|MEDIUM-LATE|MEDIUM-EARLY|CRITICAL-ONE)", summary)
    assert order == ["CRITICAL-ONE", "MEDIUM-EARLY", "MEDIUM-LATE", "LOW-ONE"]
    assert "findings</dt><dd>4 (1 critical, 2 medium, 1 low)</dd>" in page
    assert re.findall(r'<section id="(\w+)">', page) == ["failed_logins", "sso_changes", "quota_spending"]
    assert page.split('<section id="quota_spending">')[1].count("No findings.") == 1


def test_tables_and_evidence_ids_are_capped() -> None:
    big = pl.DataFrame({"n": list(range(120)), "when": [T0] * 120})
    result = InvestigationResult(
        "x", "X", {}, [finding("x", "info", "many", ids=MAX_EVENT_IDS + 5)], tables={"big": big}
    )
    page = render_html([result], max_rows=50, charts=False)
    table = page.split('<h4 id="x-big">Big</h4>')[1]
    assert table.count("<tr>") == 51  # header + 50
    assert "First 50 of 120 rows." in table
    assert '<td class="num">49</td>' in table and '<td class="num">50</td>' not in table
    assert "2026-10-14T03:41:24.063Z" in table
    assert "e199" in page and "e200" not in page and "(+5 more: <code>--json</code> lists all)" in page
    assert f"<details><summary>{MAX_EVENT_IDS + 5} events</summary>" in page  # ids collapsed behind a count


def test_long_entity_lists_fold_behind_a_count() -> None:
    users = [f"u{i}@x.example" for i in range(MAX_ENTITY_VALUES + 13)]
    f = finding("failed_logins", "high", "spray", user=users, ip=["198.51.100.203"])
    page = render_html([InvestigationResult("failed_logins", "Failed logins", {}, [f])], charts=False)
    cell = page.split('<td class="ent">')[1].split("</td>")[0]
    shown = ", ".join(users[:MAX_ENTITY_VALUES])
    rest = ", ".join(users[MAX_ENTITY_VALUES:])
    assert cell == (
        f'<div><span class="k">user:</span> {shown} <details><summary>+13 more users</summary>{rest}</details></div>'
        '<div><span class="k">ip:</span> 198.51.100.203</div>'
    )


def test_each_investigation_has_a_summary_above_its_table() -> None:
    findings = [
        finding("failed_logins", "critical", "Takeover of a@x", user=["a@x"], ip=["203.0.113.1"]),
        finding("failed_logins", "high", "Spray", minutes=30, ids=5, user=["a@x", "b@x"], ip=["203.0.113.2"]),
    ]
    params = {"brute_force_window": timedelta(minutes=15), "learning_days": 7}
    results = [
        InvestigationResult("failed_logins", "Failed logins", params, findings),
        InvestigationResult("quota_spending", "Quota spending", {}, []),
    ]
    page = render_html(results, charts=False)
    section = page.split('<section id="failed_logins">')[1].split("</section>")[0]
    lead = section.split('<p class="lead">')[1].split("</p>")[0]
    assert lead.startswith("Find brute force, password spraying")  # the investigation's own first line
    assert "<strong>2 findings</strong> (1 critical, 1 high) between" in lead
    assert (
        '<span class="when">2026-10-14T03:41:24.063Z</span> and <span class="when">2026-10-14T04:19:24.063Z</span>'
        in lead
    )
    assert "on 7 evidence events, involving 2 users, 2 IP addresses. Start with:" in lead
    assert lead.endswith("Takeover of a@x")
    assert section.index('<p class="lead">') < section.index('<table class="findings">')
    assert "brute_force_window <strong>15 min</strong> · learning_days <strong>7</strong>" in section
    quiet = page.split('<section id="quota_spending">')[1]
    assert "Nothing was found in scope.</p>" in quiet


def test_layout_fits_the_page_and_prints() -> None:
    page = render_html([evil_result()], charts=False)
    assert '<table class="findings"><colgroup>' in page  # fixed layout: no column pushed off the page
    assert "@media print{" in page and "@page{size:A4 landscape" in page
    assert "thead{display:table-header-group}" in page  # the header repeats on every printed page
    assert escape(timedelta(hours=1, minutes=5)) == "1 h 5 min" and escape(timedelta(0)) == "0 s"


def test_write_report_creates_folders(tmp_path: Path) -> None:
    path = write_report([evil_result()], tmp_path / "out" / "report.html", title="r", charts=False)
    assert path == tmp_path / "out" / "report.html"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_write_report_is_atomic_and_does_not_overwrite_silently(tmp_path: Path) -> None:
    path = write_report([evil_result()], tmp_path / "report.html", title="first", charts=False)
    with pytest.raises(InputError, match="exists"):
        write_report([evil_result()], path, title="second", charts=False)
    assert "first" in path.read_text(encoding="utf-8")
    write_report([evil_result()], path, title="second", charts=False, overwrite=True)
    assert "second" in path.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left behind

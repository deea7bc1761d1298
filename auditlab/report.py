"""The investigation report: one self-contained HTML file that opens offline.

Inline CSS, charts inlined as SVG (rendered by vl-convert), no script, no external URL. Every value
that may come from the logs goes through :func:`escape` (``html.escape``), the one way text enters
the page; the report's own markup is the only unescaped text.

Examples:
    >>> from datetime import datetime, UTC
    >>> from auditlab.investigations import Finding, InvestigationResult
    >>> t = datetime(2026, 10, 14, 3, 41, tzinfo=UTC)
    >>> f = Finding("failed_logins", "high", "T1110.001", "Brute force against <b>@x", {"user": ["<b>@x"]}, t, t, 14)
    >>> page = render_html([InvestigationResult("failed_logins", "Failed logins", {}, [f])], title="Demo", scope="all time")
    >>> page.startswith("<!DOCTYPE html>"), "Brute force against &lt;b&gt;@x" in page, "<b>@x" in page
    (True, True, False)
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditlab.charts import SEVERITY_COLORS
from auditlab.investigations import all_findings
from auditlab.investigations._result import _iso, severity_rank

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from auditlab._types import PathLike
    from auditlab.investigations import Finding, InvestigationResult

__all__ = ["escape", "render_html", "write_report"]

#: At most this many rows of each supporting table, and evidence ids per finding, in the report.
MAX_ROWS = 50
MAX_EVENT_IDS = 200
#: Entity values shown per kind before the rest fold behind "+N more".
MAX_ENTITY_VALUES = 5

_CSS = """
*,*::before,*::after{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;margin:0 auto;
max-width:1240px;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid #e5e7eb;
padding-bottom:4px}h3{font-size:16px;margin:20px 0 6px}h4{font-size:14px;margin:14px 0 4px}
.meta{color:#4b5563;margin:0 0 16px}.params{font-size:12.5px}.muted{color:#6b7280}.lead{margin:4px 0 10px;max-width:90ch}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #e5e7eb;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fafafa}
table.findings{width:100%;table-layout:fixed}
table.findings td{overflow-wrap:anywhere}
col.c-sev{width:92px}col.c-inv{width:124px}col.c-tech{width:92px}col.c-ent{width:27%}col.c-when{width:186px}
col.c-count{width:64px}col.c-ids{width:104px}
.when{white-space:nowrap;font-variant-numeric:tabular-nums;font-size:12px}
.ent .k{color:#4b5563;font-size:12px}
.sev{display:inline-block;min-width:58px;text-align:center;color:#fff;border-radius:3px;padding:0 6px;
font-size:12px;font-weight:600}
code,.ids{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
.ids{word-break:break-all;font-size:11px}
details summary{cursor:pointer;color:#1d4ed8}details[open] summary{margin-bottom:2px}
.frame{overflow-x:auto}
figure{margin:8px 0 16px}figure svg{max-width:100%;height:auto}
nav ul{margin:4px 0;padding-left:20px}
dl.params{display:grid;grid-template-columns:max-content auto;gap:0 12px;margin:4px 0 8px;font-size:13px}
dl.params dt{color:#4b5563}dl.params dd{margin:0}
@media print{
@page{size:A4 landscape;margin:12mm}
body{max-width:none;padding:0;font-size:11px}table{font-size:10.5px}
thead{display:table-header-group}tr,figure,dl.params{break-inside:avoid}h2,h3,h4{break-after:avoid}
section{break-before:page}a{color:inherit;text-decoration:none}.frame{overflow:visible}
details summary{color:inherit}.when,.ids,code,.ent .k{font-size:10px}
}
"""

_SVG_FORBIDDEN = re.compile(r"<\s*script|<\s*foreignObject|javascript:|\son[a-z]+\s*=", re.IGNORECASE)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is not None and value.utcoffset() == timedelta(0):
            return _iso(value)  # as in the JSON findings: milliseconds, Z
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _duration(value: timedelta) -> str:
    """``timedelta(minutes=15)`` -> ``15 min``; ``timedelta(days=7)`` -> ``7 d``."""
    seconds = int(value.total_seconds())
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return " ".join(parts)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape(value: Any) -> str:
    """Any value as HTML text: formatted (None empty, datetimes ISO), then ``html.escape``-d.

    Control characters (other than tab and newline) are shown as ``\\xNN``, never passed on.

    Examples:
        >>> escape('<script>alert("x")</script>'), escape(None), escape(["a&b", 2])
        ('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;', '', 'a&amp;b, 2')
        >>> escape("a" + chr(27) + "[2J") == "a" + chr(92) + "x1b[2J"
        True
    """
    text = _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", _text(value))
    return html.escape(text, quote=True)


def _severity(severity: str) -> str:
    colour = SEVERITY_COLORS.get(severity, "#6b7280")
    return f'<span class="sev" style="background:{colour}">{escape(severity)}</span>'


def _folded(values: Sequence[Any], *, keep: int, noun: str) -> str:
    """The first ``keep`` values, then the rest behind a "+N more" that opens (printed: the count only)."""
    shown = escape(list(values[:keep]))
    rest = list(values[keep:])
    if not rest:
        return shown
    return f"{shown} <details><summary>+{len(rest)} more {escape(noun)}</summary>{escape(rest)}</details>"


def _entities(entities: Mapping[str, Sequence[str]]) -> str:
    parts = [
        f'<div><span class="k">{escape(kind)}:</span> '
        f"{_folded(list(values), keep=MAX_ENTITY_VALUES, noun=_PLURALS.get(kind, kind))}</div>"
        for kind, values in entities.items()
        if values
    ]
    return "".join(parts)


def _when(first: datetime, last: datetime) -> str:
    if first == last:
        return f'<span class="when">{escape(first)}</span>'
    return f'<span class="when">{escape(first)}</span><br><span class="when">{escape(last)}</span>'


def _evidence_ids(event_ids: Sequence[str]) -> str:
    n = len(event_ids)
    if n == 0:
        return '<span class="muted">none</span>'
    ids = list(event_ids[:MAX_EVENT_IDS])
    more = n - len(ids)
    extra = f' <span class="muted">(+{more} more: <code>--json</code> lists all)</span>' if more > 0 else ""
    return (
        f"<details><summary>{n} event{'' if n == 1 else 's'}</summary>"
        f'<div class="ids">{escape(ids)}{extra}</div></details>'
    )


def _findings_table(findings: Sequence[Finding], *, with_investigation: bool, with_ids: bool) -> str:
    if not findings:
        return '<p class="muted">No findings.</p>'
    columns = [("c-sev", "severity"), *([("c-inv", "investigation")] if with_investigation else []),
               ("c-tech", "technique"), ("c-title", "title"), ("c-ent", "entities"),
               ("c-when", "first / last seen"), ("c-count", "events"),
               *([("c-ids", "evidence")] if with_ids else [])]  # fmt: skip
    rows = []
    for f in findings:
        cells = [f"<td>{_severity(f.severity)}</td>"]
        if with_investigation:
            cells.append(f'<td><a href="#{escape(f.investigation)}">{escape(f.investigation)}</a></td>')
        technique = (
            f'<span class="when">{escape(f.technique)}</span>'
            if f.technique
            else '<span class="muted">none</span>'
        )
        cells += [
            f"<td>{technique}</td>",
            f"<td>{escape(f.title)}</td>",
            f'<td class="ent">{_entities(f.entities)}</td>',
            f"<td>{_when(f.first_seen, f.last_seen)}</td>",
            f'<td class="num">{escape(f.count)}</td>',
        ]
        if with_ids:
            cells.append(f"<td>{_evidence_ids(f.event_ids)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cols = "".join(f'<col class="{cls}">' for cls, _ in columns)
    header = "".join(f"<th>{escape(h)}</th>" for _, h in columns)
    return (
        f'<table class="findings"><colgroup>{cols}</colgroup><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _frame_table(frame: pl.DataFrame, *, max_rows: int) -> str:
    if frame.height == 0:
        return '<p class="muted">No rows.</p>'
    kinds = ["num" if d.is_numeric() else "when" if d.is_temporal() else "" for d in frame.dtypes]
    header = "".join(f"<th>{escape(name)}</th>" for name in frame.columns)
    body = []
    for row in frame.head(max_rows).iter_rows():  # at most max_rows: rendering, not a data path
        cells = "".join(
            f'<td class="{kind}">{escape(v)}</td>' if kind else f"<td>{escape(v)}</td>"
            for v, kind in zip(row, kinds, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    note = ""
    if frame.height > max_rows:
        note = f'<p class="muted">First {max_rows} of {frame.height} rows.</p>'
    table = f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f'<div class="frame">{table}</div>{note}'


def _svg(chart: Any) -> str:
    from auditlab.charts import to_svg
    from auditlab.errors import AuditlabError

    svg = to_svg(chart).strip()
    if not svg.startswith("<svg") or _SVG_FORBIDDEN.search(svg):
        raise AuditlabError("the chart renderer returned SVG with active content; refusing to inline it")
    return svg


def _label(name: str) -> str:
    """``failures_by_user`` -> ``Failures by user``."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _params(parameters: Mapping[str, Any]) -> str:
    if not parameters:
        return ""
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in parameters.items())
    return f'<dl class="params">{items}</dl>'


#: entity kind -> its plural in the summaries.
_PLURALS = {
    "user": "users",
    "ip": "IP addresses",
    "token": "tokens",
    "group": "groups",
    "project": "projects",
}


def _purpose(name: str) -> str:
    """The first line of the investigation's docstring (what it looks for), or ""."""
    from auditlab.errors import AuditlabError
    from auditlab.investigations import get_investigation

    try:
        doc = get_investigation(name).__doc__ or ""
    except AuditlabError:
        return ""
    return doc.strip().split("\n", 1)[0]


def _summary(result: InvestigationResult) -> str:
    """A short paragraph above an investigation's table: what it looks for, what it found, where to start."""
    purpose = _purpose(result.name)
    lines = [f"{escape(purpose)} " if purpose else ""]
    findings = result.findings
    if not findings:
        lines.append("Nothing was found in scope.")
        return f'<p class="lead">{"".join(lines)}</p>'
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    by_severity = ", ".join(
        f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: -severity_rank(kv[0]))
    )
    first = min(f.first_seen for f in findings)
    last = max(f.last_seen for f in findings)
    events = sum(f.count for f in findings)
    kinds: dict[str, set[str]] = {}
    for f in findings:
        for kind, values in f.entities.items():
            kinds.setdefault(kind, set()).update(values)
    involved = ", ".join(
        f"{len(values)} {_PLURALS.get(kind, kind + ' values') if len(values) != 1 else kind}"
        for kind, values in kinds.items()
        if values
    )
    top = max(findings, key=lambda f: (severity_rank(f.severity), -f.first_seen.timestamp()))
    n = len(findings)
    lines.append(
        f"<strong>{n} finding{'' if n == 1 else 's'}</strong> ({escape(by_severity)}) between "
        f'<span class="when">{escape(first)}</span> and <span class="when">{escape(last)}</span>, '
        f"on {escape(events)} evidence event{'' if events == 1 else 's'}"
        + (f", involving {escape(involved)}" if involved else "")
        + f". Start with: {_severity(top.severity)} {escape(top.title)}"
    )
    return f'<p class="lead">{"".join(lines)}</p>'


def _inline_params(name: str, parameters: Mapping[str, Any]) -> str:
    """One line under the summary: the investigation's name and the thresholds it used."""
    items = " · ".join(f"{escape(k)} <strong>{escape(v)}</strong>" for k, v in parameters.items())
    return f'<p class="meta params"><code>{escape(name)}</code>' + (f" · {items}" if items else "") + "</p>"


def _section(result: InvestigationResult, *, max_rows: int, charts: bool) -> str:
    out = [
        f'<section id="{escape(result.name)}"><h2>{escape(result.title)}</h2>',
        _summary(result),
        _inline_params(result.name, result.parameters),
        "<h3>Findings</h3>",
        _findings_table(result.findings, with_investigation=False, with_ids=True),
    ]
    if charts and result.chart_builders:
        out.append("<h3>Charts</h3>")
        for name, chart in result.charts().items():
            out.append(f"<h4>{escape(_label(name))}</h4><figure>{_svg(chart)}</figure>")
    if result.tables:
        out.append("<h3>Tables</h3>")
    for name, frame in result.tables.items():
        out.append(f'<h4 id="{escape(result.name)}-{escape(name)}">{escape(_label(name))}</h4>')
        out.append(_frame_table(frame, max_rows=max_rows))
    out.append("</section>")
    return "\n".join(out)


def render_html(
    results: Sequence[InvestigationResult],
    *,
    title: str = "auditlab investigation report",
    scope: str = "",
    facts: Mapping[str, object] | None = None,
    max_rows: int = MAX_ROWS,
    charts: bool = True,
) -> str:
    """The report of investigation results as one self-contained HTML page.

    Args:
        results: investigation results, e.g. from :func:`auditlab.run_all`, in report order.
        title: the page title.
        scope: what was investigated, e.g. the sources and the query's text.
        facts: more header lines, name -> value (events, time span, generated at ...).
        max_rows: at most this many rows of each supporting table (the report says how many there were).
        charts: render the charts as inline SVG (vl-convert; about 0.1 s each).

    Returns:
        The HTML text: inline CSS, inline SVG, no script, no external URL.

    Raises:
        AuditlabError: the chart renderer produced SVG with active content.
    """
    findings = all_findings(results)
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    by_severity = ", ".join(
        f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: severity_rank(kv[0]), reverse=True)
    )
    header_facts = {"scope": scope, **(facts or {}), "findings": f"{len(findings)} ({by_severity or 'none'})"}
    nav = "".join(
        f'<li><a href="#{escape(r.name)}">{escape(r.title)}</a> ({escape(len(r.findings))})</li>'
        for r in results
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        _params({k: v for k, v in header_facts.items() if v not in (None, "")}),
        f"<nav><ul>{nav}</ul></nav>",
        "<h2>Findings summary</h2>",
        _findings_table(findings, with_investigation=True, with_ids=False),
        *(_section(r, max_rows=max_rows, charts=charts) for r in results),
        '<p class="muted">Made by auditlab.</p></body></html>',
    ]
    return "\n".join(parts) + "\n"


def write_report(
    results: Iterable[InvestigationResult],
    path: PathLike,
    *,
    title: str = "auditlab investigation report",
    scope: str = "",
    facts: Mapping[str, object] | None = None,
    max_rows: int = MAX_ROWS,
    charts: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write :func:`render_html` of ``results`` to ``path`` (UTF-8; parent folders created).

    Written atomically like every auditlab writer (a temporary file renamed into place, never half a
    page); an existing file is replaced only with ``overwrite``. The other options are those of
    :func:`render_html`. Returns the path written.

    Raises:
        InputError: ``path`` exists and ``overwrite`` is false.
    """
    page = render_html(list(results), title=title, scope=scope, facts=facts, max_rows=max_rows, charts=charts)
    from auditlab.io._sink import write_text_atomic

    return write_text_atomic(path, page, overwrite=overwrite)

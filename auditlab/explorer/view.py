"""The explorer page: ipywidgets 8 over :class:`~auditlab.explorer.state.ExplorerState`.

The only module of auditlab that imports ipywidgets. It builds the widgets, forwards their events
to the state and re-renders on the state's callbacks. Every value that comes from a log reaches
HTML through :func:`escape` (widgets that show text, such as buttons and option lists, render it
as text by themselves).

Examples:
    >>> import auditlab
    >>> ws = auditlab.load("data/samples/portal_audit_export.zip")
    >>> ex = Explorer(ws, query="action is user.pat.revoked; all time", background=False)
    >>> ex.query.to_text(), ex.count_html.value
    ('action is user.pat.revoked; all time', '<b>3</b> events')
    >>> escape('<img src=x onerror=alert(1)>')
    '&lt;img src=x onerror=alert(1)&gt;'
"""

from __future__ import annotations

import contextlib
import html
import os
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from auditlab.explorer.state import RANGES, ExplorerState, operators_for
from auditlab.filters.fields import FIELDS
from auditlab.filters.model import Condition, Op, Query

if TYPE_CHECKING:  # pragma: no cover
    from auditlab.filters.model import TimeRange

__all__ = ["Explorer", "escape"]

#: Operator -> the words the Portal shows.
OP_LABELS: dict[Op, str] = {
    Op.IS: "is",
    Op.IS_NOT: "is not",
    Op.IS_ANY: "is any",
    Op.IS_NOT_ANY: "is not any",
}
RANGE_LABELS: dict[str, str] = {
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "all": "All time",
    "custom": "Custom range",
}
#: More values than this: the picker offers a search box.
SEARCH_THRESHOLD = 15
_COLUMNS = ("Timestamp", "User", "Action", "Target", "Outcome")

_CSS = """<style>
.al-explorer { font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px; }
.al-explorer .al-title { font-size: 18px; font-weight: 600; }
.al-explorer .al-error { color: #b91c1c; white-space: pre-wrap; }
.al-explorer .al-busy { color: #92400e; }
.al-explorer .al-grid { display: grid; grid-template-columns: 70px 190px 1.6fr 1.6fr 1.4fr 90px;
  gap: 0 10px; padding: 3px 4px; align-items: start; }
.al-explorer .al-head { font-weight: 600; border-bottom: 1px solid #9ca3af; }
.al-explorer details { border-bottom: 1px solid #e5e7eb; }
.al-explorer summary { list-style: none; cursor: pointer; }
.al-explorer summary::-webkit-details-marker { display: none; }
.al-explorer .al-cell { overflow-wrap: anywhere; }
.al-explorer .al-info { background: #f3f4f6; margin: 0 4px 6px 74px; padding: 6px 10px; }
.al-explorer .al-info th { text-align: left; padding-right: 12px; vertical-align: top; font-weight: 600; }
.al-explorer .al-info pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.al-explorer .al-failure { color: #b91c1c; }
.al-explorer .al-exports td, .al-explorer .al-exports th { padding: 2px 10px 2px 0; text-align: left; }
</style>"""


def escape(value: object) -> str:
    """Any value as HTML text: ``&``, ``<``, ``>`` and quotes escaped; ``None`` is empty.

    The one escape helper of the explorer: every log value reaches HTML through it.

    Examples:
        >>> escape("<script>alert('x')</script>"), escape(None)
        ('&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;', '')
    """
    return "" if value is None else html.escape(str(value), quote=True)


def condition_label(cond: Condition) -> str:
    """A chip's text: ``Action is any user.login, user.logout`` (plain text, shown as text)."""
    return f"{FIELDS[cond.field].label} {OP_LABELS[cond.op]} {', '.join(cond.values)}"


def range_text(tr: TimeRange) -> str:
    """A time range in words."""
    if tr.preset != "custom":
        return RANGE_LABELS[tr.preset]
    lo = f"{tr.start:%Y-%m-%d %H:%M}" if tr.start else "the beginning"
    hi = f"{tr.end:%Y-%m-%d %H:%M}" if tr.end else "the end"
    return f"{lo} to {hi} UTC"


def table_html(state: ExplorerState) -> str:
    """The page's rows as HTML: one ``<details>`` per event, its summary the row, its body the Info panel."""
    head = "".join(f'<div class="al-cell">{escape(c)}</div>' for c in ("Info", *_COLUMNS))
    parts = [f'<div class="al-grid al-head">{head}</div>']
    if not state.count:
        parts.append('<div class="al-empty">No events match these filters and this time range.</div>')
    for i, row in enumerate(state.table()):
        cells = "".join(f'<div class="al-cell">{escape(row[c])}</div>' for c in _COLUMNS)
        cls = " al-failure" if row["Outcome"] == "failure" else ""
        info = "".join(
            f"<tr><th>{escape(k)}</th><td><pre>{escape(v)}</pre></td></tr>" for k, v in state.info(i).items()
        )
        parts.append(
            f'<details class="al-row" data-row="{i}"><summary class="al-grid{cls}">'
            f'<div class="al-cell al-info-toggle">&#9656; Info</div>{cells}</summary>'
            f'<div class="al-info"><table>{info}</table></div></details>'
        )
    return "".join(parts)


def exports_html(rows: Sequence[dict[str, str]], *, base: Path | None = None) -> str:
    """The *Audit Exports* table as HTML, with the ZIP as a download link (relative to ``base``)."""
    base = base or Path.cwd()
    head = "".join(f"<th>{h}</th>" for h in ("Name", "Created", "Expires", "Events", "Filters", "Files"))
    body = []
    for r in rows:
        path = Path(r["Path"])
        with contextlib.suppress(ValueError):
            path = path.resolve().relative_to(base.resolve())
        href = escape(path.as_posix())
        files = " + ".join(f for f in ("NDJSON" if r["NDJSON"] else "", "CEF" if r["CEF"] else "") if f)
        link = f'<a href="{href}" download target="_blank" rel="noopener">{escape(files)} (ZIP)</a>'
        cells = "".join(
            f"<td>{escape(r[k])}</td>" for k in ("Name", "Created", "Expires", "Events", "Filters")
        )
        body.append(f"<tr>{cells}<td>{link}</td></tr>")
    return f'<table class="al-exports"><tr>{head}</tr>{"".join(body)}</table>'


def chart_html(state: ExplorerState) -> str:
    """The timeline as inline SVG (vl-convert, offline), stacked by outcome."""
    if not state.count:
        return ""
    from auditlab.charts import timeline_chart, to_svg

    frame = state.timeline.with_columns(state.timeline["outcome"].fill_null("(none)"))
    chart = timeline_chart(
        frame, color="outcome", title=f"Events per {state.bucket} (UTC)", width=720, height=120
    )
    return f'<div class="al-chart">{to_svg(chart)}</div>'


class _Worker:
    """Runs refreshes in one thread, newest first: a new request interrupts the running query."""

    def __init__(self, interrupt: Callable[[], None]) -> None:
        self._interrupt = interrupt
        self._lock = threading.Lock()
        self._job: Callable[[], bool] | None = None
        self._thread: threading.Thread | None = None

    def submit(self, job: Callable[[], bool]) -> None:
        with self._lock:
            self._job = job
            running = self._thread is not None
            if not running:
                self._thread = threading.Thread(target=self._loop, name="auditlab-explorer", daemon=True)
                self._thread.start()
        if running:
            with contextlib.suppress(Exception):
                self._interrupt()

    def _loop(self) -> None:
        while True:
            with self._lock:
                job, self._job = self._job, None
                if job is None:
                    self._thread = None
                    return
            job()

    def wait(self, timeout: float | None = None) -> None:
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)


class Explorer:
    """The Audit Logs page: time range, filter chips, Add filter, count, timeline, table, Export.

    Args:
        ws: a :class:`~auditlab.Workspace` or :class:`~auditlab.Store`.
        query: the opening query (a :class:`~auditlab.Query` or its text form).
        export_dir: where *Export* writes and *Audit Exports* lists.
        background: refresh in a worker thread (the page stays responsive, a newer change
            supersedes an older one); ``False`` refreshes at once (tests, scripts).
        allow_unknown_actions: accept actions outside the Portal catalog.

    Attributes:
        state: the :class:`~auditlab.explorer.state.ExplorerState` behind the page.
        widget: the page's root widget.
    """

    def __init__(
        self,
        ws: Any,
        query: Query | str | None = None,
        *,
        export_dir: str | Path = "exports",
        background: bool = True,
        allow_unknown_actions: bool = False,
    ) -> None:
        self._worker = _Worker(ws.con.interrupt) if background else None
        self.state = ExplorerState(
            ws,
            query,
            export_dir=export_dir,
            allow_unknown_actions=allow_unknown_actions,
            runner=self._worker.submit if self._worker else None,
        )
        self._editing: int | None = None
        self._many_values = False
        self._build()
        self.state.on_change(lambda _s: self._render())
        self.state.on_busy(self._busy)
        self._render()
        self._render_exports()

    # -- public -------------------------------------------------------------------------------

    @property
    def query(self) -> Query:
        """The current :class:`~auditlab.Query` (copy its text form into code: ``ws.query(text)``)."""
        return self.state.query

    def wait(self, timeout: float | None = 30.0) -> None:
        """Wait for a background refresh to finish (for scripts and notebooks that read the state)."""
        if self._worker is not None:
            self._worker.wait(timeout)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        return f"<Explorer {self.state.query_text!r} count={self.state.count}>"

    # -- building -------------------------------------------------------------------------------

    def _build(self) -> None:
        s = self.state
        tr = s.time_range
        self.range = w.Dropdown(
            options=[(RANGE_LABELS[r], r) for r in RANGES], value=tr.preset, description="Time range"
        )
        self.range.add_class("al-range")
        self.start = w.NaiveDatetimePicker(description="Start (UTC)", value=_naive(tr.start))
        self.end = w.NaiveDatetimePicker(description="End (UTC)", value=_naive(tr.end))
        self.apply_range = w.Button(description="Apply range")
        self.custom_box = w.HBox([self.start, self.end, self.apply_range])
        self.range_html = w.HTML()
        self.count_html = w.HTML()
        self.count_html.add_class("al-count")
        self.busy_html = w.HTML()
        self.busy_html.add_class("al-busy")
        self.error_html = w.HTML()
        self.error_html.add_class("al-error")
        self.chips = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.chips.add_class("al-chips")

        # Add filter: field -> operator -> values (searchable, counts) or a typed value
        fields = [(spec.label, name) for name, spec in FIELDS.items()]
        self.field = w.Dropdown(options=fields, value="action", description="Field")
        self.field.add_class("al-field")
        self.op = w.Dropdown(description="Operator")
        self.op.add_class("al-op")
        self.search = w.Text(
            placeholder="search values", continuous_update=False, layout=w.Layout(width="220px")
        )
        self.search.add_class("al-search")
        self.pick_one = w.Select(rows=8, layout=w.Layout(width="420px"))
        self.pick_one.add_class("al-values")
        self.pick_many = w.SelectMultiple(rows=8, layout=w.Layout(width="420px"))
        self.pick_many.add_class("al-values")
        self.free = w.Text(placeholder="or type a value", layout=w.Layout(width="300px"))
        self.free.add_class("al-free")
        self.add_btn = w.Button(description="Add filter", button_style="primary")
        self.add_btn.add_class("al-add")
        self.cancel_btn = w.Button(description="Cancel")
        self.values_box = w.VBox()
        self.filter_box = w.VBox(
            [
                w.HBox([self.field, self.op]),
                self.values_box,
                w.HBox([self.free, self.add_btn, self.cancel_btn]),
            ],
            layout=w.Layout(display="none", border="1px solid #d1d5db", padding="6px"),
        )
        self.filter_box.add_class("al-filter-box")
        self.open_filter = w.Button(description="+ Add filter", tooltip="Add a filter")
        self.open_filter.add_class("al-open-filter")

        self.query_box = w.Text(value=s.query_text, description="Query", layout=w.Layout(width="80%"))
        self.query_box.add_class("al-query")
        self.apply_query = w.Button(description="Apply query")

        self.chart = w.HTML()
        self.chart.add_class("al-timeline")
        self.table = w.HTML()
        self.table.add_class("al-table")
        self.prev_btn = w.Button(description="‹ Previous")
        self.prev_btn.add_class("al-prev")
        self.next_btn = w.Button(description="Next ›")
        self.next_btn.add_class("al-next")
        self.page_label = w.Label()
        self.page_label.add_class("al-page")

        # Export dialog and the Audit Exports section
        self.export_btn = w.Button(description="Export", icon="download")
        self.export_btn.add_class("al-export")
        self.export_name = w.Text(description="Name", placeholder="export name")
        self.export_name.add_class("al-export-name")
        self.export_format = w.ToggleButtons(
            options=[("NDJSON", ("ndjson",)), ("CEF", ("cef",)), ("Both", ("ndjson", "cef"))],
            value=("ndjson", "cef"),
        )
        self.export_summary = w.HTML()
        self.export_go = w.Button(description="Export", button_style="primary")
        self.export_go.add_class("al-export-go")
        self.export_cancel = w.Button(description="Cancel")
        self.export_msg = w.HTML()
        self.export_dialog = w.VBox(
            [
                w.HTML("<b>Export audit logs</b>"),
                self.export_name,
                self.export_format,
                self.export_summary,
                w.HTML("The export expires after 7 days, as a Portal export link does."),
                w.HBox([self.export_go, self.export_cancel]),
            ],
            layout=w.Layout(display="none", border="1px solid #d1d5db", padding="6px"),
        )
        self.exports_header = w.HTML()
        self.exports_header.add_class("al-exports-header")
        self.exports_toggle = w.Button(description="Show")
        self.exports_toggle.add_class("al-exports-toggle")
        self.exports_body = w.VBox(layout=w.Layout(display="none"))
        self.exports_body.add_class("al-exports-body")

        self.widget = w.VBox(
            [
                w.HTML(_CSS + '<div class="al-title">Audit Logs</div>'),
                w.HBox([self.exports_header, self.exports_toggle]),
                self.exports_body,
                w.HBox([self.range, self.range_html, self.count_html, self.busy_html, self.export_btn]),
                self.custom_box,
                self.export_dialog,
                self.export_msg,
                w.HBox([self.chips, self.open_filter], layout=w.Layout(flex_flow="row wrap")),
                self.filter_box,
                w.HBox([self.query_box, self.apply_query]),
                self.error_html,
                self.chart,
                w.HBox([self.prev_btn, self.page_label, self.next_btn]),
                self.table,
            ]
        )
        self.widget.add_class("al-explorer")

        self.range.observe(self._on_range, names="value")
        self.apply_range.on_click(lambda _b: self._apply_custom())
        self.field.observe(lambda _c: self._on_field(), names="value")
        self.op.observe(lambda _c: self._on_op(), names="value")
        self.search.observe(lambda _c: self._load_values(), names="value")
        self.open_filter.on_click(lambda _b: self._open_filter(None))
        self.add_btn.on_click(lambda _b: self._submit_filter())
        self.cancel_btn.on_click(lambda _b: self._close_filter())
        self.apply_query.on_click(lambda _b: self.state.set_query(self.query_box.value))
        self.prev_btn.on_click(lambda _b: self.state.previous_page())
        self.next_btn.on_click(lambda _b: self.state.next_page())
        self.export_btn.on_click(lambda _b: self._open_export())
        self.export_cancel.on_click(lambda _b: _hide(self.export_dialog))
        self.export_go.on_click(lambda _b: self._do_export())
        self.exports_toggle.on_click(lambda _b: self._toggle_exports())
        self._on_field()
        self._show_custom()

    # -- rendering --------------------------------------------------------------------------------

    def _render(self) -> None:
        s = self.state
        self.error_html.value = f"&#9888; {escape(s.error)}" if s.error else ""
        self.count_html.value = f"<b>{s.count:,}</b> events"
        self.range_html.value = escape(s.range_label)
        self.query_box.value = s.query_text
        if self.range.value != s.time_range.preset:
            self.range.value = s.time_range.preset
        self.chips.children = [self._chip(i, c) for i, c in enumerate(s.conditions)]
        self.page_label.value = s.page_label
        self.prev_btn.disabled = s.page == 0
        self.next_btn.disabled = s.page + 1 >= s.pages
        self.table.value = table_html(s)
        try:
            self.chart.value = chart_html(s)
        except Exception as exc:  # a chart must never take the page down
            self.chart.value = f'<div class="al-error">chart unavailable: {escape(exc)}</div>'
        self._render_exports()

    def _chip(self, index: int, cond: Condition) -> w.HBox:
        label = w.Button(description=condition_label(cond), tooltip="Edit this filter")
        label.add_class("al-chip")
        label.layout.width = "auto"
        close = w.Button(description="×", tooltip="Remove this filter", layout=w.Layout(width="36px"))
        close.add_class("al-chip-remove")
        label.on_click(lambda _b: self._open_filter(index))
        close.on_click(lambda _b: self.state.remove_filter(index))
        return w.HBox([label, close])

    def _busy(self, busy: bool) -> None:
        self.busy_html.value = "&#8987; working…" if busy else ""

    def _render_exports(self) -> None:
        rows = self.state.export_rows()
        self.exports_header.value = f"<b>Audit Exports ({len(rows)})</b>"
        items: list[w.Widget] = []
        for row in rows:
            out = w.Output()
            out.outputs = (
                {
                    "output_type": "display_data",
                    "data": {"text/html": exports_html([row]), "text/plain": row["Name"]},
                    "metadata": {},
                },
            )
            delete = w.Button(description="Delete", button_style="danger", tooltip=f"Delete {row['Name']}")
            delete.add_class("al-export-delete")
            name = row["Name"]
            delete.on_click(lambda _b, name=name: self.state.delete_export(name))
            items.append(w.HBox([out, delete]))
        if not rows:
            items.append(w.HTML("No exports yet."))
        self.exports_body.children = items

    # -- events -----------------------------------------------------------------------------------

    def _on_range(self, change: dict[str, Any]) -> None:
        self._show_custom()
        if change["new"] != "custom" and change["new"] != self.state.time_range.preset:
            self.state.set_range(change["new"])

    def _show_custom(self) -> None:
        self.custom_box.layout.display = "flex" if self.range.value == "custom" else "none"

    def _apply_custom(self) -> None:
        start = self.start.value.replace(tzinfo=UTC) if self.start.value else None
        end = self.end.value.replace(tzinfo=UTC) if self.end.value else None
        self.state.set_range("custom", start=start, end=end)

    def _on_field(self) -> None:
        ops = operators_for(self.field.value)
        self.op.options = [(OP_LABELS[o], o.value) for o in ops]
        self.op.value = ops[0].value
        self.search.value = ""
        self._on_op()

    def _on_op(self) -> None:
        self._load_values()

    def _show_picker(self) -> None:
        multi = Op(self.op.value).multi if self.op.value else False
        picker = self.pick_many if multi else self.pick_one
        self.values_box.children = [self.search, picker] if self._many_values else [picker]

    def _load_values(self) -> None:
        values = self.state.values(self.field.value, search=self.search.value.strip())
        self._many_values = bool(self.search.value) or len(values) > SEARCH_THRESHOLD
        options = [(f"{v}  ({n:,})", v) for v, n in values]
        self.pick_one.options = options
        self.pick_many.options = options
        self._show_picker()

    def _open_filter(self, index: int | None) -> None:
        self._editing = index
        self.free.value = ""
        if index is not None:
            cond = self.state.conditions[index]
            self.field.value = cond.field
            self.op.value = cond.op.value
            known = {v for _, v in self.pick_many.options}
            if cond.op.multi:
                self.pick_many.value = tuple(v for v in cond.values if v in known)
            elif cond.values[0] in known:
                self.pick_one.value = cond.values[0]
            extra = [v for v in cond.values if v not in known]
            self.free.value = ", ".join(extra)
            self.add_btn.description = "Update filter"
        else:
            self.add_btn.description = "Add filter"
        self.filter_box.layout.display = "flex"

    def _close_filter(self) -> None:
        _hide(self.filter_box)
        self._editing = None

    def _chosen_values(self) -> list[str]:
        multi = Op(self.op.value).multi
        chosen = (
            list(self.pick_many.value) if multi else ([self.pick_one.value] if self.pick_one.value else [])
        )
        typed = self.free.value.strip()
        if typed:
            chosen += [v.strip() for v in typed.split(",") if v.strip()] if multi else [typed]
        return chosen if multi else chosen[-1:]

    def _submit_filter(self) -> None:
        values = self._chosen_values()
        if not values:
            self.state.error = "choose a value, or type one"
            self._render()
            return
        if self._editing is None:
            ok = self.state.add_filter(self.field.value, self.op.value, values)
        else:
            ok = self.state.edit_filter(self._editing, self.field.value, self.op.value, values)
        if ok:
            self._close_filter()

    def _open_export(self) -> None:
        s = self.state
        filters = "; ".join(condition_label(c) for c in s.conditions) or "none"
        self.export_summary.value = (
            f"<div>Filters: {escape(filters)}</div>"
            f"<div>Time range: {escape(range_text(s.time_range))} ({escape(s.range_label)})</div>"
            f"<div>Events: {s.count:,}</div>"
        )
        if not self.export_name.value:
            self.export_name.value = f"audit-logs-{datetime.now(UTC):%Y%m%d-%H%M%S}"
        self.export_dialog.layout.display = "flex"

    def _do_export(self) -> None:
        path = self.state.export(self.export_name.value, self.export_format.value)
        if path is not None:
            _hide(self.export_dialog)
            self.export_msg.value = f"Exported {self.state.count:,} events to {escape(os.path.relpath(path))}"
            self.export_name.value = ""
        self._render_exports()

    def _toggle_exports(self) -> None:
        shown = self.exports_body.layout.display != "none"
        self.exports_body.layout.display = "none" if shown else "flex"
        self.exports_toggle.description = "Show" if shown else "Hide"


def _hide(widget: w.Widget) -> None:
    widget.layout.display = "none"


def _naive(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def explore(ws: Any, query: Query | str | None = None, **options: Any) -> Explorer:
    """Open the explorer on a workspace or store (what ``ws.explore()`` calls)."""
    return Explorer(ws, query, **options)

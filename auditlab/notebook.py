"""Tables for notebooks: escaped HTML, interactive (sortable, searchable) when long, with no network.

:func:`show_table` turns a Polars frame into a :class:`TableView` that JupyterLab shows as an HTML
table: short tables as plain HTML, long ones through `itables <https://itables.org>`_ in its offline
mode (DataTables' JavaScript ships inside the notebook, written once by :func:`enable_tables`). Every
value is shown as text (HTML-escaped, by ``html.escape`` here and by itables' default there), and
every timestamp in the one format of the findings (ISO 8601 UTC with ``Z``). A view that shows fewer
rows than the frame has says so in its caption ("25 of 29 rows shown") and how to see the rest.

itables is optional (the ``notebooks`` extra): without it, or before :func:`enable_tables`, every
table is the plain HTML one. Its untrusted-notebook fallback is a static, escaped preview.

Examples:
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> frame = pl.DataFrame({"user": ["<b>a</b>", "c"], "at": [datetime(2026, 10, 1, 3, tzinfo=UTC)] * 2})
    >>> view = show_table(frame, limit=1, rest="see `frame`")
    >>> view.shown, view.total, view.caption
    (1, 2, '1 of 2 rows shown; see `frame`')
    >>> html = view._repr_html_()
    >>> "&lt;b&gt;a&lt;/b&gt;" in html, "<b>a" in html, "2026-10-01T03:00:00Z" in html
    (True, False, True)
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

__all__ = ["INTERACTIVE_ROWS", "TableView", "enable_tables", "format_times", "show_table"]

#: Tables longer than this are interactive (sortable, searchable, paged) once :func:`enable_tables` ran.
INTERACTIVE_ROWS = 10

_state: dict[str, bool] = {"interactive": False}

_TABLE_STYLE = "border-collapse:collapse;table-layout:auto;margin:4px 0 8px;font-size:13px"
_CELL_STYLE = (
    "border:1px solid #e5e7eb;padding:3px 8px;text-align:left;vertical-align:top;"
    "white-space:normal;word-break:normal;overflow-wrap:break-word"
)
_TIME_STYLE = _CELL_STYLE.replace("white-space:normal", "white-space:nowrap")
_NUM_STYLE = _CELL_STYLE.replace("text-align:left", "text-align:right") + ";font-variant-numeric:tabular-nums"


def enable_tables(*, interactive: bool = True) -> bool:
    """Make long tables of :func:`show_table` interactive (itables, offline); call once per notebook.

    Writes DataTables' JavaScript and CSS (about 0.9 MB) into the calling cell's output, so the tables
    work with no network. Without itables installed, tables stay plain HTML.

    Args:
        interactive: False keeps every table plain HTML.

    Returns:
        Whether long tables are interactive from now on.

    Examples:
        >>> enable_tables(interactive=False)
        False
    """
    if not interactive:
        _state["interactive"] = False
        return False
    try:
        import itables
    except ImportError:
        _state["interactive"] = False
        return False
    itables.init_notebook_mode(all_interactive=False, connected=False)
    _state["interactive"] = True
    return True


def format_times(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every datetime column as text in the findings' format (ISO 8601 UTC, ``Z``).

    Milliseconds are shown when the second has a fraction, as in ``Finding.to_dict()``; text sorts
    in time order. Date columns become ``YYYY-MM-DD``; list-of-text columns one comma-separated text.

    Examples:
        >>> import polars as pl
        >>> from datetime import datetime, UTC
        >>> t = [datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 1, 0, 0, 1, 250000, tzinfo=UTC)]
        >>> format_times(pl.DataFrame({"t": t}))["t"].to_list()
        ['2026-10-01T00:00:00Z', '2026-10-01T00:00:01.250Z']
    """
    import polars as pl

    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            utc = col.dt.convert_time_zone("UTC") if dtype.time_zone else col
            exprs.append(
                pl.when(utc.dt.truncate("1s") == utc)
                .then(utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
                .otherwise(utc.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))
                .alias(name)
            )
        elif isinstance(dtype, pl.Date):
            exprs.append(col.dt.strftime("%Y-%m-%d"))
        elif isinstance(dtype, pl.List) and dtype.inner == pl.String:
            exprs.append(col.list.join(", "))
    return frame.with_columns(exprs) if exprs else frame


@dataclass(frozen=True)
class TableView:
    """A frame as a notebook shows it: at most ``shown`` of ``total`` rows, with a caption.

    Attributes:
        frame: the rows shown (timestamps already text).
        total: how many rows the full table has.
        caption: the line under the table (the row count when some are not shown).
        title: a line above the table (e.g. the finding whose evidence it is).
        times: the columns that hold timestamps (never wrapped inside one).
    """

    frame: pl.DataFrame
    total: int
    caption: str = ""
    title: str = ""
    times: tuple[str, ...] = ()

    @property
    def shown(self) -> int:
        """How many rows are shown."""
        return self.frame.height

    def __repr__(self) -> str:
        cols = ", ".join(self.frame.columns)
        return f"<TableView {self.shown} of {self.total} rows: {cols}>" + (
            f" {self.caption}" if self.caption else ""
        )

    def _repr_html_(self) -> str:
        title = (
            f'<div style="font-weight:600;margin:8px 0 2px">{_escape(self.title)}</div>' if self.title else ""
        )
        if _state["interactive"] and self.shown > INTERACTIVE_ROWS:
            return title + self._itables_html()
        return title + self.static_html()

    def _itables_html(self) -> str:
        import itables

        return itables.to_html_datatable(
            self.frame,
            columnDefs=self._column_defs(),
            caption=self.caption or None,
            connected=False,
            classes="display compact",  # no "nowrap": long text wraps between words
            maxBytes=0,  # never downsampled: show_table(limit=...) decides what is shown
            lengthMenu=[10, 25, 50, 100],
            pageLength=25,
            showIndex=False,
            allow_html=False,
            show_dtypes=False,  # timestamps are text here (one format); their dtype would say str
        )

    def _column_defs(self) -> list[dict[str, Any]]:
        """Text left-aligned, numbers right; timestamps kept on one line (DataTables' own classes)."""
        names = self.frame.columns
        numeric = [i for i, d in enumerate(self.frame.dtypes) if d.is_numeric()]
        text = [i for i in range(len(names)) if i not in numeric]
        times = [names.index(t) for t in self.times if t in names]
        defs: list[dict[str, Any]] = [{"targets": text, "className": "dt-left"}] if text else []
        if times:
            defs.append({"targets": times, "className": "dt-left dt-nowrap"})
        return defs

    def static_html(self) -> str:
        """The plain HTML table: every value escaped, numbers right-aligned, the caption below."""
        styles = [
            _NUM_STYLE if dtype.is_numeric() else _TIME_STYLE if name in self.times else _CELL_STYLE
            for name, dtype in self.frame.schema.items()
        ]
        head = "".join(f'<th style="{_CELL_STYLE}">{_escape(name)}</th>' for name in self.frame.columns)
        rows = []
        for row in self.frame.iter_rows():  # a shown table: at most a few hundred rows
            cells = "".join(
                f'<td style="{style}">{_escape(value)}</td>' for value, style in zip(row, styles, strict=True)
            )
            rows.append(f"<tr>{cells}</tr>")
        caption = (
            f'<caption style="caption-side:bottom;text-align:left;color:#4b5563">{_escape(self.caption)}</caption>'
            if self.caption
            else ""
        )
        return (
            f'<div class="auditlab-table" style="overflow-x:auto"><table style="{_TABLE_STYLE}">{caption}'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )


def _escape(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        value = f"{value:.6g}"
    return html.escape(str(value), quote=True)


def show_table(
    frame: pl.DataFrame, *, limit: int | None = None, caption: str = "", rest: str = "", title: str = ""
) -> TableView:
    """``frame`` as a notebook table: the last expression of a cell, or ``display(show_table(...))``.

    Args:
        frame: the rows; datetimes are shown in the findings' format (:func:`format_times`).
        limit: show at most this many rows (None: all). When rows are left out the caption says
            "N of M rows shown" and ``rest``.
        caption: a line under the table.
        rest: how to see the rows left out (e.g. "all are in `org_changes` and the evidence CSV").
        title: a line above the table.

    Returns:
        A :class:`TableView` (HTML in a notebook; a one-line summary as text).

    Examples:
        >>> import polars as pl
        >>> show_table(pl.DataFrame({"n": [1, 2, 3]}), limit=2, rest="raise MAX_LISTED").caption
        '2 of 3 rows shown; raise MAX_LISTED'
    """
    total = frame.height
    shown = frame if limit is None or total <= limit else frame.head(limit)
    notes = [caption] if caption else []
    if shown.height < total:
        notes.append(f"{shown.height} of {total} rows shown" + (f"; {rest}" if rest else ""))
    import polars as pl

    times = tuple(name for name, dtype in shown.schema.items() if isinstance(dtype, pl.Datetime | pl.Date))
    return TableView(format_times(shown), total, "; ".join(notes), title, times)

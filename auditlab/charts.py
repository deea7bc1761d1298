"""Small Altair chart builders shared by the investigations and notebooks, and an offline SVG renderer.

Altair and vl-convert are imported inside the functions, so ``import auditlab.charts`` stays light.
Every chart these builders return displays as static SVG rendered by vl-convert in the kernel
(:func:`offline`), so it shows in JupyterLab with no network (Altair's default renderer loads Vega
from a CDN, and JupyterLab 4 has no renderer for Vega-Lite 6's MIME type). Altair's own renderer
setting (``alt.renderers``) is left alone: it still governs the charts a user builds with Altair.

Builders take small, already aggregated Polars frames (aggregate in DuckDB first: Altair inlines
the data into the chart) and draw time on a UTC scale, so a chart reads the same on any machine.

Examples:
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> frame = pl.DataFrame({"bucket": [datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC)],
    ...                       "outcome": ["success", "failure"], "count": [5, 2]})
    >>> spec = timeline_chart(frame, color="outcome", title="Logins per day").to_dict()
    >>> spec["mark"]["type"], spec["encoding"]["x"]["scale"]["type"], spec["title"]
    ('bar', 'utc', 'Logins per day')
    >>> to_svg(timeline_chart(frame)).startswith("<svg")
    True
    >>> sorted(timeline_chart(frame)._repr_mimebundle_())
    ['image/svg+xml', 'text/plain']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    import altair as alt
    import polars as pl

    from auditlab.filters.model import Query
    from auditlab.store.events import EventSet

__all__ = [
    "SEVERITY_COLORS",
    "bar_chart",
    "events_timeline",
    "offline",
    "severity_scale",
    "timeline_chart",
    "to_svg",
]

#: severity -> colour, least to most severe (the same in every chart and in the HTML report).
SEVERITY_COLORS: dict[str, str] = {
    "info": "#6b7280",
    "low": "#2563eb",
    "medium": "#d97706",
    "high": "#dc2626",
    "critical": "#7f1d1d",
}

_C = TypeVar("_C")
#: Altair chart class -> its offline subclass (made once per class).
_OFFLINE: dict[type, type] = {}

#: Altair's default is 5000 rows; these builders are for aggregates, so say so when a frame is big.
MAX_ROWS = 5000


def _check_rows(frame: pl.DataFrame) -> None:
    from auditlab.errors import QueryError

    if frame.height > MAX_ROWS:
        raise QueryError(
            f"{frame.height} rows are too many for a chart (at most {MAX_ROWS}): aggregate first"
        )


def _svg_bundle(self: Any, *args: Any, **kwargs: Any) -> Any:
    """Display as SVG rendered in the kernel; if that fails, as Altair would (its renderer)."""
    try:
        svg = to_svg(self)
    except Exception:  # e.g. a spec vl-convert cannot draw: let Altair show it (or its error)
        parent: Any = type(self).__mro__[1]
        return parent._repr_mimebundle_(self, *args, **kwargs)
    title = getattr(self, "title", None)
    text = f"<auditlab chart: {title}>" if isinstance(title, str) else "<auditlab chart>"
    return {"image/svg+xml": svg, "text/plain": text}


def offline(chart: _C) -> _C:
    """Make an Altair chart display as offline SVG in notebooks; returns the same chart.

    Only this chart changes (its class becomes a subclass whose ``_repr_mimebundle_`` renders SVG
    with vl-convert); ``alt.renderers`` and every other chart are untouched. Copies made by
    ``.properties()``, ``.encode()`` and the like stay offline; a chart composed with ``+``, ``|``
    or ``&`` is a new Altair chart: wrap it again. ``alt.Chart.from_dict(chart.to_dict())`` gives back
    a plain Altair chart (interactive, for a browser with network access).

    Examples:
        >>> import altair as alt
        >>> c = offline(alt.Chart({"values": [{"x": 1}]}).mark_bar().encode(x="x:Q"))
        >>> type(c).__name__, type(c.properties(width=100)).__name__, isinstance(c, alt.Chart)
        ('OfflineChart', 'OfflineChart', True)
        >>> c._repr_mimebundle_()["image/svg+xml"].startswith("<svg")
        True
    """
    cls = type(chart)
    if getattr(cls, "_auditlab_offline", False):
        return chart
    sub = _OFFLINE.get(cls)
    if sub is None:
        attrs = {"_auditlab_offline": True, "_repr_mimebundle_": _svg_bundle, "__module__": __name__}
        sub = _OFFLINE[cls] = type(f"Offline{cls.__name__}", (cls,), attrs)
    object.__setattr__(chart, "__class__", sub)  # not chart.__class__ = ...: Altair keeps attributes as spec
    return chart


def severity_scale() -> alt.Scale:
    """A colour scale mapping each severity to :data:`SEVERITY_COLORS`."""
    import altair as alt

    return alt.Scale(domain=list(SEVERITY_COLORS), range=list(SEVERITY_COLORS.values()))


def timeline_chart(
    frame: pl.DataFrame,
    *,
    x: str = "bucket",
    y: str = "count",
    color: str | None = None,
    title: str | None = None,
    width: int = 640,
    height: int = 180,
    tooltip: list[str] | None = None,
) -> alt.Chart:
    """Stacked bars of a count over time buckets, in UTC.

    Args:
        frame: one row per bucket (and per ``color`` value), e.g. ``QueryResult.timeline(...)``.
        x: the time column (a datetime, ideally tz-aware UTC).
        y: the count column.
        color: an optional column to stack and colour by (``severity`` uses :data:`SEVERITY_COLORS`).
        title: the chart title.
        width, height: in pixels.
        tooltip: columns for the tooltip (default: x, color, y).

    Returns:
        An ``altair.Chart``.

    Raises:
        QueryError: more than :data:`MAX_ROWS` rows.
    """
    import altair as alt

    _check_rows(frame)
    encoding: dict[str, Any] = {
        "x": alt.X(f"{x}:T", title=None, scale=alt.Scale(type="utc"), axis=alt.Axis(format="%Y-%m-%d %H:%M")),
        "y": alt.Y(f"{y}:Q", title=y),
        "tooltip": tooltip
        or [alt.Tooltip(f"{x}:T", format="%Y-%m-%d %H:%M UTC"), *([color] if color else []), y],
    }
    if color:
        scale = severity_scale() if color == "severity" else alt.Undefined
        encoding["color"] = alt.Color(f"{color}:N", scale=scale, title=color)
    chart: alt.Chart = alt.Chart(frame).mark_bar().encode(**encoding).properties(width=width, height=height)
    if title:
        chart = chart.properties(title=title)
    return offline(chart)


def bar_chart(
    frame: pl.DataFrame,
    *,
    category: str,
    value: str = "count",
    color: str | None = None,
    title: str | None = None,
    width: int = 480,
    bar_height: int = 18,
) -> alt.Chart:
    """Horizontal bars of ``value`` per ``category``, largest first (e.g. failures per user).

    Args:
        frame: one row per category (and ``color`` value).
        category: the column naming the bars.
        value: the numeric column.
        color: an optional column to stack and colour by.
        title: the chart title.
        width: in pixels; the height grows with the number of categories.
        bar_height: pixels per category.

    Returns:
        An ``altair.Chart``.

    Examples:
        >>> import polars as pl
        >>> spec = bar_chart(pl.DataFrame({"user": ["a", "b"], "count": [1, 3]}), category="user").to_dict()
        >>> spec["encoding"]["y"]["sort"], spec["height"]
        ('-x', 36)
    """
    import altair as alt

    _check_rows(frame)
    categories = frame.get_column(category).n_unique() if frame.height else 1
    encoding: dict[str, Any] = {
        "y": alt.Y(f"{category}:N", sort="-x", title=None),
        "x": alt.X(f"sum({value}):Q", title=value),
        "tooltip": [category, *([color] if color else []), value],
    }
    if color:
        scale = severity_scale() if color == "severity" else alt.Undefined
        encoding["color"] = alt.Color(f"{color}:N", scale=scale, title=color)
    chart: alt.Chart = alt.Chart(frame).mark_bar().encode(**encoding)
    chart = chart.properties(width=width, height=bar_height * categories)
    if title:
        chart = chart.properties(title=title)
    return offline(chart)


def events_timeline(
    ws: EventSet,
    query: Query | str | None = "all time",
    *,
    bucket: str = "1d",
    by: str | None = "outcome",
    title: str | None = None,
) -> alt.Chart:
    """Events per time bucket of a workspace (optionally filtered), aggregated in DuckDB.

    Args:
        ws: the workspace.
        query: which events (a :class:`~auditlab.Query` or its text form); default all.
        bucket: bucket width (``15m``, ``1h``, ``1d``, ...).
        by: a field to stack by, or None.
        title: the chart title (default: the query's text).

    Examples:
        >>> import auditlab
        >>> ws = auditlab.load("data/samples/portal_audit_export.zip")
        >>> events_timeline(ws, "action is user.login; all time").to_dict()["title"]
        'action is user.login; all time'
    """
    result = ws.query(query)
    frame = result.timeline(bucket, by=by)
    return timeline_chart(frame, color=by, title=title or result.query.to_text())


def to_svg(chart: alt.TopLevelMixin | dict[str, Any]) -> str:
    """Render a chart (or a Vega-Lite spec dict) to an SVG string, offline, with vl-convert.

    Text from the data is XML-escaped by the renderer; the SVG references no external resource.
    """
    import vl_convert

    spec = chart if isinstance(chart, dict) else chart.to_dict()
    svg: str = vl_convert.vegalite_to_svg(spec)
    return svg

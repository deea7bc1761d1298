"""Chart builders and the offline SVG renderer."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from auditlab.charts import MAX_ROWS, SEVERITY_COLORS, bar_chart, timeline_chart, to_svg
from auditlab.errors import QueryError

DAYS = [datetime(2026, 10, d, tzinfo=UTC) for d in (1, 1, 2)]


def test_timeline_chart_spec() -> None:
    frame = pl.DataFrame({"bucket": DAYS, "severity": ["high", "low", "high"], "count": [3, 1, 2]})
    spec = timeline_chart(frame, color="severity", title="t").to_dict()
    assert spec["encoding"]["x"] == {
        "axis": {"format": "%Y-%m-%d %H:%M"}, "field": "bucket", "scale": {"type": "utc"}, "title": None,
        "type": "temporal",
    }  # fmt: skip
    assert spec["encoding"]["color"]["scale"] == {
        "domain": list(SEVERITY_COLORS), "range": list(SEVERITY_COLORS.values())
    }  # fmt: skip
    (values,) = spec["datasets"].values()
    assert values[0] == {"bucket": "2026-10-01T00:00:00+0000", "severity": "high", "count": 3}


def test_bar_chart_grows_with_categories() -> None:
    frame = pl.DataFrame({"user": ["a", "b", "c", "a"], "count": [1, 2, 3, 4]})
    spec = bar_chart(frame, category="user", bar_height=10).to_dict()
    assert spec["height"] == 30
    assert spec["encoding"]["x"]["aggregate"] == "sum"


def test_too_many_rows_is_an_error() -> None:
    frame = pl.DataFrame({"user": [str(i) for i in range(MAX_ROWS + 1)], "count": 1})
    with pytest.raises(QueryError, match="5001 rows are too many for a chart"):
        bar_chart(frame, category="user")


def test_svg_escapes_data_and_is_offline() -> None:
    frame = pl.DataFrame({"user": ['<script>alert("x")</script>', "b&c"], "count": [1, 2]})
    svg = to_svg(bar_chart(frame, category="user"))
    assert svg.startswith("<svg")
    assert "<script" not in svg
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in svg or '&lt;script&gt;alert("x")' in svg
    assert "b&amp;c" in svg
    assert "href=" not in svg and "url(http" not in svg


def test_svg_of_a_spec_dict() -> None:
    spec = {
        "data": {"values": [{"a": 1}]},
        "mark": "point",
        "encoding": {"x": {"field": "a", "type": "quantitative"}},
    }
    assert "<svg" in to_svg(spec)


def test_auditlab_charts_display_as_offline_svg_and_leave_altairs_renderer_alone() -> None:
    import altair as alt

    from auditlab.charts import offline

    before = alt.renderers.active
    frame = pl.DataFrame({"bucket": DAYS, "outcome": ["success", "failure", "success"], "count": [3, 1, 2]})
    chart = timeline_chart(frame, color="outcome", title="<b>t</b>")
    bundle = chart._repr_mimebundle_()
    assert sorted(bundle) == ["image/svg+xml", "text/plain"]
    assert bundle["image/svg+xml"].startswith("<svg") and "<b>" not in bundle["image/svg+xml"]
    assert "http" not in bundle["image/svg+xml"].replace("http://www.w3.org", "")  # no external resource
    assert bundle["text/plain"] == "<auditlab chart: <b>t</b>>"
    assert "image/svg+xml" in chart.properties(width=200)._repr_mimebundle_()  # copies stay offline
    assert alt.renderers.active == before
    # a user's own chart still goes through Altair's renderer (here: "json", to see the difference)
    with alt.renderers.enable("json"):
        mine = alt.Chart({"values": [{"x": 1}]}).mark_bar().encode(x="x:Q")
        assert "image/svg+xml" not in mine._repr_mimebundle_()
        assert (
            "image/svg+xml"
            in bar_chart(pl.DataFrame({"u": ["a"], "count": [1]}), category="u")._repr_mimebundle_()
        )
        assert "image/svg+xml" in offline(mine)._repr_mimebundle_()

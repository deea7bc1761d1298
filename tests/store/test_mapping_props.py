"""Property tests for the mapping: nothing is lost, and every timestamp form agrees."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import auditlab

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
extra_keys = st.text(min_size=1, max_size=12).filter(
    lambda k: auditlab.io.mapping.Mapping.default().column_for(k) is None
)

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(extra=st.dictionaries(extra_keys, json_values, max_size=6))
def test_extra_fields_survive_in_raw(tmp_path, extra):
    record = {"id": "x", "created_at": "2026-10-05T12:00:00Z", "action": "user.login", **extra}
    line = json.dumps(record, ensure_ascii=False)
    path = tmp_path / "x.ndjson"
    path.write_text(line + "\n", encoding="utf-8")
    ws = auditlab.load(path)
    assert ws.last_report.loaded == 1
    (raw,) = ws.sql("SELECT raw FROM events").fetchall()[0]
    assert raw == line
    assert json.loads(raw) == record


# epoch milliseconds before 1973-03-03 are below 1e11 and read as seconds: the one ambiguous range
instants = st.datetimes(
    min_value=datetime(1974, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def forms(t: datetime, offset_minutes: int) -> list[object]:
    epoch_us = (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    local = t.astimezone(timezone(timedelta(minutes=offset_minutes)))
    out: list[object] = [
        t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        local.isoformat(),
        f"{epoch_us // 1_000_000}.{epoch_us % 1_000_000:06d}",
    ]
    if epoch_us % 1000 == 0:
        out.append(epoch_us // 1000)  # epoch milliseconds, a JSON number
        out.append(t.strftime("%b %d %Y %H:%M:%S.") + f"{t.microsecond // 1000:03d}")  # CEF rt form
    if epoch_us % 1_000_000 == 0:
        out.append(epoch_us // 1_000_000)  # epoch seconds
        out.append(t.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return out


@SETTINGS
@given(t=instants, offset=st.integers(-14 * 60, 14 * 60), ms_only=st.booleans(), whole=st.booleans())
def test_every_timestamp_form_of_one_instant_agrees(tmp_path, t, offset, ms_only, whole):
    if whole:
        t = t.replace(microsecond=0)
    elif ms_only:
        t = t.replace(microsecond=t.microsecond // 1000 * 1000)
    values = forms(t, offset)
    path = tmp_path / "t.ndjson"
    path.write_text(
        "\n".join(json.dumps({"id": str(i), "time": v, "action": "a.b"}) for i, v in enumerate(values)) + "\n"
    )
    ws = auditlab.load(path)
    assert ws.last_report.loaded == len(values), ws.last_report
    got = {row[0] for row in ws.sql("SELECT timestamp FROM events").fetchall()}
    assert got == {t}

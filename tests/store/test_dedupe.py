"""A duplicate is the same event: same id AND (same raw text OR same canonical content).

Records sharing an id with other content are both kept; the later gets ``<id>#<12 hex>``.
Each case runs in memory and against a persistent store.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import auditlab
from auditlab.cli import main
from auditlab.store.ingest import content_key_sql

DERIVED = re.compile(r"^(?P<id>.+)#[0-9a-f]{12}$")


def rec(**kw: object) -> str:
    base: dict[str, object] = {"id": "e1", "created_at": "2026-10-05T12:00:00Z", "action": "user.login"}
    base.update(kw)
    return json.dumps({k: v for k, v in base.items() if v is not None})


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Target:
    """The same calls on an in-memory workspace or a persistent store."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.ws: auditlab.Workspace | auditlab.Store | None = None
        self.root = tmp_path / "store"

    def add(self, *paths: Path, mapping: dict[str, object] | None = None) -> auditlab.LoadReport:
        if mapping is not None:
            mapping = auditlab.Mapping.from_profile(mapping)  # type: ignore[assignment]
        if self.kind == "store":
            if self.ws is None or mapping is not None:
                self.ws = auditlab.open_store(self.root, mapping=mapping)  # type: ignore[arg-type]
            return self.ws.ingest(*paths)
        if self.ws is None:
            self.ws = auditlab.load(*paths, mapping=mapping)  # type: ignore[arg-type]
            assert self.ws.last_report is not None
            return self.ws.last_report
        if mapping is not None:
            self.ws.mapping = mapping  # type: ignore[assignment]
        return self.ws.add(*paths)

    def ids(self) -> list[str]:
        assert self.ws is not None
        return sorted(r[0] for r in self.ws.sql("SELECT event_id FROM events").fetchall())


@pytest.fixture(params=["memory", "store"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    return Target(request.param, tmp_path)


def test_identical_lines_are_duplicates_within_and_across_loads(target, tmp_path):
    f = write(tmp_path / "a.ndjson", [rec(), rec(), rec(id="e2")])
    first = target.add(f)
    assert (first.loaded, first.duplicates, first.id_collisions) == (2, 1, 0)
    again = target.add(f)
    assert (again.loaded, again.duplicates, again.id_collisions) == (0, 3, 0)
    assert target.ids() == ["e1", "e2"]


def test_same_content_other_spelling_is_a_duplicate(target, tmp_path):
    a = write(tmp_path / "a.ndjson", [rec(outcome="successful", user={"email": "a@x.io"})])
    # the same event written differently: other key order, other outcome spelling, CEF
    b = write(
        tmp_path / "b.ndjson",
        [json.dumps({"action": "user.login", "user_email": "a@x.io", "outcome": "success",
                     "created_at": "2026-10-05T12:00:00.000+00:00", "id": "e1"})],
    )  # fmt: skip
    c = write(
        tmp_path / "c.cef",
        ["CEF:0|ReversingLabs|Spectra Assure Portal|1|user.login|User login|3|rt=1791201600000 "
         "externalId=e1 act=user.login outcome=success suser=a@x.io"],
    )  # fmt: skip
    first = target.add(a, b)
    assert (first.loaded, first.duplicates) == (1, 1)
    again = target.add(c)
    assert (again.loaded, again.duplicates, again.id_collisions) == (0, 1, 0)


def test_same_id_other_content_keeps_both_under_a_derived_id(target, tmp_path):
    f = write(
        tmp_path / "a.ndjson",
        [rec(user_email="a@x.io"), rec(user_email="b@x.io"), rec(user_email="a@x.io"), rec(id="e2")],
    )
    r = target.add(f)
    assert (r.loaded, r.duplicates, r.id_collisions) == (3, 1, 1)
    assert r.sources[0].id_collisions == 1
    (c,) = r.collisions
    assert (c.line, c.given_id) == (2, "e1")
    m = DERIVED.match(c.event_id)
    assert m and m["id"] == "e1"
    assert target.ids() == sorted(["e1", "e2", c.event_id])
    assert "id 'e1' taken by another event" in str(c) and "1 id collisions" in str(r)
    # stable: loading the same again finds every event, derived ids included
    again = target.add(f)
    assert (again.loaded, again.duplicates, again.id_collisions) == (0, 4, 0)
    # a later load with the derived event alone, and a third content under the same id
    g = write(tmp_path / "g.ndjson", [rec(user_email="b@x.io"), rec(user_email="c@x.io")])
    third = target.add(g)
    assert (third.loaded, third.duplicates, third.id_collisions) == (1, 1, 1)
    assert len(target.ids()) == 4


def test_id_taken_in_store_by_other_content(target, tmp_path):
    target.add(write(tmp_path / "a.ndjson", [rec(action="user.logout")]))
    r = target.add(write(tmp_path / "b.ndjson", [rec(action="user.login")]))
    assert (r.loaded, r.duplicates, r.id_collisions) == (1, 0, 1)
    assert target.ids()[0] == "e1" and DERIVED.match(target.ids()[1])


def test_same_raw_text_read_with_another_mapping_is_a_duplicate(target, tmp_path):
    f = write(tmp_path / "a.ndjson", [rec(who="a@x.io")])
    assert target.add(f).loaded == 1
    # now `who` fills user_email: other content, but the very same line
    again = target.add(f, mapping={"aliases": {"user_email": ["who"]}})
    assert (again.loaded, again.duplicates, again.id_collisions) == (0, 1, 0)


def test_arcsight_event_id_counter_does_not_merge_events(target, tmp_path):
    # eventId is a per-connector counter: a Windows logoff and an ArcSight connector event share 1
    f = write(
        tmp_path / "mixed.cef",
        [
            "CEF:0|Microsoft|Microsoft Windows||Microsoft-Windows-Security-Auditing:4634|An account was "
            "logged off.|Low|eventId=1 rt=Jan 17 2026 08:52:10 act=logoff suser=bob",
            "CEF:0|ArcSight|ArcSight|7.0|agent:030|Device connection up|Low|eventId=1 "
            "rt=Jan 17 2026 08:52:11 act=connection up",
            "CEF:0|Vendor|Product|1|x|with both ids|Low|eventId=1 externalId=ext-9 "
            "rt=Jan 17 2026 08:53:00 act=other",
        ],
    )
    r = target.add(f)
    assert (r.loaded, r.duplicates, r.id_collisions) == (3, 0, 1)
    ids = target.ids()
    assert "1" in ids and "ext-9" in ids  # externalId is preferred to the eventId counter
    assert any(DERIVED.match(i) and i.startswith("1#") for i in ids)


def test_cli_prints_id_collisions(tmp_path):
    f = write(tmp_path / "a.ndjson", [rec(), rec(action="user.logout")])
    text = CliRunner().invoke(main, ["load", str(f)], catch_exceptions=False).output
    assert "2 loaded, 0 duplicates, 0 quarantined, 1 id collisions" in text
    assert f"{f}:2: id 'e1' taken by another event; kept as 'e1#" in text
    data = json.loads(CliRunner().invoke(main, ["load", str(f), "--json"], catch_exceptions=False).output)
    assert data["id_collisions"] == 1 and data["sources"][0]["id_collisions"] == 1
    assert data["collisions"][0]["given_id"] == "e1" and data["collisions"][0]["line"] == 2


def test_content_key_ignores_everything_but_the_content():
    import duckdb

    con = duckdb.connect()
    row = (
        "SELECT TIMESTAMPTZ '2026-01-01 00:00:00Z' AS timestamp, 'a' AS action, {email} AS user_email, "
        "{uid} AS user_id, NULL AS ip_address, NULL AS outcome, NULL AS resource_type, NULL AS resource_id, "
        "NULL AS resource_name, 'whatever' AS details"
    )
    keys = [
        con.sql(f"SELECT {content_key_sql()} FROM ({row.format(email=e, uid=u)})").fetchall()[0][0]
        for e, u in [("'x'", "NULL"), ("'x'", "'u1'"), ("NULL", "'x'"), ("NULL", "NULL"), ("''", "NULL")]
    ]
    assert keys[0] == keys[1] == keys[2]  # the user is the e-mail, else the user id
    assert len({keys[0], keys[3], keys[4]}) == 3  # missing differs from empty


# -- property: concatenating any set of distinct events never loses one ------------------------

_event = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["a", "b", "c"]),  # few ids: collisions are the rule
        "created_at": st.sampled_from(
            ["2026-10-05T12:00:00Z", "2026-10-05T12:00:00.5Z", "2026-10-06T00:00:00Z"]
        ),
        "action": st.sampled_from(["user.login", "user.logout"]),
        "user_email": st.sampled_from([None, "a@x.io", "b@x.io"]),
        "ip_address": st.sampled_from([None, "192.0.2.1"]),
        "outcome": st.sampled_from([None, "success", "failure"]),
        "target": st.sampled_from([None, {"type": "user", "id": "t1"}, {"type": "user", "name": "n"}]),
    }
)


def _content(e: dict[str, object]) -> str:
    return json.dumps(e, sort_keys=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(_event, max_size=14, unique_by=_content), cut=st.integers(0, 14), data=st.data())
def test_concatenating_distinct_events_never_loses_one(tmp_path_factory, events, cut, data):
    tmp = tmp_path_factory.mktemp("prop")
    kind = data.draw(st.sampled_from(["memory", "store"]))
    target = Target(kind, tmp)
    lines = [json.dumps(e) for e in events]
    # one file, or two files in one load, or two loads
    how = data.draw(st.sampled_from(["one", "two files", "two loads"]))
    head, tail = lines[:cut], lines[cut:]
    if how == "one":
        reports = [target.add(write(tmp / "all.ndjson", lines))]
    elif how == "two files":
        reports = [target.add(write(tmp / "a.ndjson", head), write(tmp / "b.ndjson", tail))]
    else:
        reports = [target.add(write(tmp / "a.ndjson", head)), target.add(write(tmp / "b.ndjson", tail))]
    assert sum(r.loaded for r in reports) == len(events)
    assert sum(r.duplicates for r in reports) == 0
    ids = target.ids()
    assert len(ids) == len(set(ids)) == len(events)
    assert sorted(DERIVED.sub(r"\g<id>", i) for i in ids) == sorted(str(e["id"]) for e in events)
    # and every event is found again on a reload
    again = target.add(write(tmp / "again.ndjson", lines))
    assert (again.loaded, again.duplicates) == (0, len(events))

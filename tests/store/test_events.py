"""EventSet: one read API over two backends; connections with a memory limit and their own spill folder."""

from __future__ import annotations

import os

import auditlab
from auditlab.store.events import EventSet, connect
from auditlab.store.persistent import ParquetBackend
from auditlab.store.workspace import MemoryBackend

SAMPLE = "data/samples/portal_audit_export.zip"


def test_workspace_and_store_share_the_read_api_not_each_other(tmp_path):
    ws = auditlab.load(SAMPLE)
    store = auditlab.open_store(tmp_path / "s")
    store.ingest(SAMPLE)
    assert isinstance(ws, EventSet) and isinstance(store, EventSet)
    assert not isinstance(store, auditlab.Workspace) and not hasattr(store, "from_events")
    assert isinstance(ws._backend, MemoryBackend) and isinstance(store._backend, ParquetBackend)
    # the same answers from both backends
    q = "action is user.login; outcome is failure; all time"
    assert ws.count() == store.count() == 17050
    assert ws.query(q).count() == store.query(q).count() > 0
    assert ws.time_span() == store.time_span()
    assert ws.summary().by_action == store.summary().by_action
    assert ws.to_polars()["event_id"].to_list() == store.to_polars()["event_id"].to_list()
    assert repr(ws) == "<Workspace events=17050>" and repr(store).endswith("events=17050 loads=1>")


def test_store_connections_are_limited_and_spill_apart(tmp_path):
    settings = auditlab.Settings(memory_limit="200MB", temp_directory=str(tmp_path / "spill"))
    a = auditlab.open_store(tmp_path / "a", settings=settings)
    b = auditlab.open_store(tmp_path / "b", settings=settings)
    (limit, spill_a) = a.sql(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchall()[0]
    spill_b = b.sql("SELECT current_setting('temp_directory')").fetchall()[0][0]
    assert limit == "190.7 MiB"
    assert spill_a != spill_b and os.path.dirname(spill_a) == str(tmp_path / "spill")
    assert auditlab.load(SAMPLE).sql("SELECT current_setting('enable_progress_bar')").fetchall() == [(False,)]


def test_a_connection_removes_its_spill_folder_on_close(tmp_path):
    con = connect(auditlab.Settings(memory_limit="32MB", temp_directory=str(tmp_path)), limit=True)
    spill = con.sql("SELECT current_setting('temp_directory')").fetchall()[0][0]
    con.execute("CREATE TABLE t AS SELECT i, repeat('x', 40) || i AS s FROM range(2000000) t(i)")  # ~100 MB
    assert con.sql("SELECT count(DISTINCT s) FROM t").fetchall() == [(2000000,)]
    assert os.listdir(spill)  # it spilled there
    con.close()
    assert not os.path.exists(spill)


def test_a_temp_directory_that_does_not_exist_yet_is_made(tmp_path):
    settings = auditlab.Settings(memory_limit="32MB", temp_directory=str(tmp_path / "not" / "yet"))
    con = connect(settings, limit=True)
    con.execute("CREATE TABLE t AS SELECT i, repeat('x', 40) || i AS s FROM range(2000000) t(i)")  # ~100 MB
    assert con.sql("SELECT count(DISTINCT s) FROM t").fetchall() == [(2000000,)]
    assert (tmp_path / "not" / "yet").is_dir()

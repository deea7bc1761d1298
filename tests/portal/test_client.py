"""The real client against the fake Portal over sockets: happy path and every fault."""

from __future__ import annotations

import email.utils
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from conftest import TOKEN

from auditlab.errors import AuthError, ExportJobError, PortalError, ThrottledError
from auditlab.filters.model import parse_datetime
from auditlab.portal.client import PortalClient, parse_retry_after

S, E = parse_datetime("2026-10-14T00:00:00Z"), parse_datetime("2026-10-15T00:00:00Z")


def _job(client, **kw):
    kw.setdefault("formats", ("ndjson",))
    job = client.create_export(name="t", start=S, end=E, **kw)
    return client.wait_for_export(job, formats=kw["formats"])


def test_export_roundtrip_and_download_never_sees_the_token(portal, fast, tmp_path):
    with PortalClient(fast(portal)) as client:
        job = _job(client, formats=("ndjson", "cef"))
        paths = [client.download(job.url(f), tmp_path / f"{f}.zip") for f in ("ndjson", "cef")]
    assert [p.stat().st_size > 0 for p in paths] == [True, True]
    downloads = [r for r in portal.requests if r.path.startswith("/downloads/")]
    api = [r for r in portal.requests if not r.path.startswith("/downloads/")]
    assert len(downloads) == 2 and not any(r.authorization for r in downloads)
    assert api and all(r.authorization for r in api)
    post = api[0]
    assert post.body["should_create_ndjson"] is True and post.body["should_create_cef"] is True
    assert (post.body["datetime_start"], post.body["datetime_end"]) == (
        "2026-10-14T00:00:00Z",
        "2026-10-15T00:00:00Z",
    )


def test_fake_download_host_refuses_a_bearer_token(portal, fast):
    """The guard the previous test relies on is real: a token sent to the storage host is refused."""
    with PortalClient(fast(portal)) as client:
        job = _job(client)
    answer = httpx.get(job.url("ndjson"), headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 400 and "presigned" in answer.text


@pytest.mark.parametrize(
    "style, retry_after",
    [("seconds", 3.0), ("date", "date"), ("body", 3.0), ("none", None)],
)
def test_429_waits_what_the_portal_says_capped(portal, fast, style, retry_after):
    portal.faults.throttle, portal.faults.throttle_style, portal.faults.throttle_seconds = 2, style, 3
    with PortalClient(fast(portal, max_wait=0.05)) as client:
        job = client.create_export(name="t", start=S, end=E)
    assert job.id in portal.jobs
    assert [(r.status, r.wait) for r in client.retries] == [(429, 0.05), (429, 0.05)]
    got = client.retries[0].retry_after
    if retry_after == "date":
        assert 0 <= got <= 3.0  # an HTTP date has whole seconds
    else:
        assert got == retry_after


def test_429_without_a_hint_waits_the_default(portal, fast):
    """No Retry-After and no body hint: ``throttle_wait`` (60 s in the SDK), here set small."""
    portal.faults.throttle, portal.faults.throttle_style = 1, "none"
    with PortalClient(fast(portal, throttle_wait=0.01, max_wait=5)) as client:
        client.create_export(name="t", start=S, end=E)
    assert [r.wait for r in client.retries] == [0.01]


def test_throttled_past_the_attempts_raises_throttled_error(portal, fast):
    portal.faults.throttle, portal.faults.throttle_seconds = 10, 7
    with PortalClient(fast(portal, max_attempts=3)) as client, pytest.raises(ThrottledError) as info:
        client.create_export(name="t", start=S, end=E)
    assert info.value.retry_after == 7.0 and info.value.status == 429
    assert len([r for r in portal.requests if r.method == "POST"]) == 3
    assert portal.jobs == {}


def test_5xx_and_dropped_connections_back_off_then_succeed(portal, fast):
    portal.faults.server_errors, portal.faults.drop_api = 2, 1
    with PortalClient(fast(portal, backoff_initial=0.001, backoff_max=0.004)) as client:
        job = _job(client)
    assert job.url("ndjson")
    reasons = [r.reason for r in client.retries]
    assert sum("connection failed" in r for r in reasons) == 1
    assert sum("HTTP 500" in r for r in reasons) == 2
    assert all(0 < r.wait <= 0.004 + 0.001 for r in client.retries)  # bounded, with jitter


def test_5xx_past_the_attempts_is_a_portal_error(portal, fast):
    portal.faults.server_errors = 10
    with PortalClient(fast(portal, max_attempts=2)) as client, pytest.raises(PortalError, match="HTTP 500"):
        client.create_export(name="t", start=S, end=E)


def test_expired_token_is_a_clear_auth_error_without_retry(portal, fast):
    portal.faults.expired_token = True
    with PortalClient(fast(portal)) as client, pytest.raises(AuthError, match="expired") as info:
        client.create_export(name="t", start=S, end=E)
    assert info.value.status == 401 and TOKEN not in str(info.value) and TOKEN not in repr(info.value)
    assert len(portal.requests) == 1 and client.retries == []


def test_wrong_token_is_refused(portal, fast):
    with (
        PortalClient(fast(portal, token="not-the-token")) as client,
        pytest.raises(AuthError, match="HTTP 401"),
    ):
        client.create_export(name="t", start=S, end=E)


def test_forbidden_names_the_administrator_rule(portal, fast):
    portal.faults.forbidden = True
    with PortalClient(fast(portal)) as client, pytest.raises(AuthError, match="organization administrator"):
        client.create_export(name="t", start=S, end=E)
    assert len(portal.requests) == 1


def test_unknown_organization_is_named(portal, fast):
    with (
        PortalClient(fast(portal, organization="nope")) as client,
        pytest.raises(PortalError, match="organization 'nope' not found") as info,
    ):
        client.create_export(name="t", start=S, end=E)
    assert info.value.status == 404


def test_old_flag_spelling_is_learnt_once(portal, fast):
    portal.faults.old_flag = True
    with PortalClient(fast(portal)) as client:
        client.create_export(name="a", start=S, end=E)
        client.create_export(name="b", start=S, end=E)
    posts = [r.body for r in portal.requests if r.method == "POST"]
    assert [("should_create_ndjson" in b, "should_create_json" in b) for b in posts] == [
        (True, False),
        (False, True),
        (False, True),
    ]
    assert client.ndjson_flag == "should_create_json" and len(portal.jobs) == 2


def test_other_400s_are_not_retried_with_the_old_flag(portal, fast):
    with PortalClient(fast(portal)) as client, pytest.raises(PortalError, match="365 days") as info:
        client.create_export(name="t", start=S - timedelta(days=400), end=E)
    assert info.value.status == 400 and len(portal.requests) == 1


def test_interrupted_download_is_retried(portal, fast, tmp_path):
    portal.faults.drop_download = 2
    with PortalClient(fast(portal)) as client:
        job = _job(client)
        path = client.download(job.url("ndjson"), tmp_path / "a.zip")
    assert path.exists() and not (tmp_path / "a.zip.part").exists()
    assert [r.reason.split(": ")[-1] for r in client.retries] == ["interrupted (RemoteProtocolError)"] * 2


def test_corrupt_zip_is_refused_and_removed(portal, fast, tmp_path):
    portal.faults.corrupt_from_job = 1
    with PortalClient(fast(portal)) as client:
        job = _job(client)
        with pytest.raises(ExportJobError, match=r"refused: .*nothing from it was ingested"):
            client.download(job.url("ndjson"), tmp_path / "a.zip")
    assert list(tmp_path.iterdir()) == []


def test_failed_job_is_an_export_job_error(portal, fast):
    portal.faults.fail_from_job = 1
    with PortalClient(fast(portal)) as client, pytest.raises(ExportJobError, match="failed: ndjson FAILED"):
        _job(client)


def test_slow_status_is_polled_with_backoff_and_a_stalled_one_times_out(portal, fast):
    portal.faults.slow_status = 4
    with PortalClient(fast(portal)) as client:
        job = _job(client)
    assert job.status("ndjson") == "COMPLETED"
    assert len([r for r in portal.requests if r.path.endswith("/status")]) == 5
    portal.faults.stall_from_job = 2
    with (
        PortalClient(fast(portal, poll_timeout=0.2)) as client,
        pytest.raises(ExportJobError, match=r"not finished after 0\.2 s"),
    ):
        _job(client)


def test_the_token_is_in_no_log_line(portal, fast, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    portal.faults.throttle, portal.faults.server_errors, portal.faults.drop_download = 1, 1, 1
    with PortalClient(fast(portal)) as client:
        job = _job(client)
        client.download(job.url("ndjson"), tmp_path / "a.zip")
        text = repr(client) + repr(client.settings) + repr(job)
    assert caplog.records and "retrying" in caplog.text
    assert TOKEN not in caplog.text and TOKEN not in text


@pytest.mark.parametrize(
    "header, body, seconds",
    [
        ("12", "", 12.0),
        (" 0 ", "", 0.0),
        ("-5", "", 0.0),
        (None, "Request was throttled. Expected available in 41 seconds.", 41.0),
        (None, "expected available in 1 second", 1.0),
        ("soon", "Expected available in 9 seconds", 9.0),
        (None, "", None),
    ],
)
def test_parse_retry_after(header, body, seconds):
    assert parse_retry_after(header, body) == seconds


def test_parse_retry_after_http_date():
    now = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    header = email.utils.format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(header, now=now) == 90.0
    assert (
        parse_retry_after(email.utils.format_datetime(now - timedelta(hours=1), usegmt=True), now=now) == 0.0
    )

"""Syslog-wrapped CEF keeps its time (issue 11): the prefix's date-time when the CEF has no usable
time field, and a year for dates without one. The lines are written here from the formats (RFC 3164,
RFC 5424, ISO 8601 prefixes; several vendors' CEF shapes), not copied from anyone's logs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import auditlab
from auditlab.io.cef import parse_cef_raw

# CEF bodies in the shapes of several vendors' products (fields and order as each writes them)
PORTAL = "CEF:0|ReversingLabs|Spectra Assure Portal|1.0|user.login|User login|3|suser=a@acme.example src=198.51.100.7"
FIREWALL = "CEF:0|Acme Networks|EdgeWall|9.1|traffic:deny|Traffic denied|5|src=10.0.0.1 dst=10.0.0.2 spt=5353 dpt=53 proto=UDP act=deny"
WAF = (
    "CEF:0|Example|Web Shield|14.7|SQL Injection|SQL Injection|High|act=block "
    "cs1Label=Policy cs1=Default duser=bob suid=42 request=/login?id\\=1 requestMethod=POST"
)
ENDPOINT = "CEF:0|Sample Soft|Endpoint Guard|3.0|100119|Malware found|7|act=quarantine fname=a.exe cn1Label=Score cn1=87"
WINDOWS = "CEF:0|Microsoft|Microsoft Windows||Microsoft-Windows-Security-Auditing:4634|An account was logged off.|Low|eventId=1 externalId=4634 duser=WS01$"


def load_lines(tmp_path: Path, lines: list[str]) -> auditlab.Workspace:
    p = tmp_path / "forwarded.log"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return auditlab.load(p)


def events(ws: auditlab.Workspace) -> list[tuple[int, str]]:
    rows = ws.sql(
        "SELECT source_line, strftime(timestamp, '%Y-%m-%dT%H:%M:%S.%fZ') FROM events ORDER BY source_line"
    )
    return [(int(n), str(t)) for n, t in rows.fetchall()]


def quarantined(ws: auditlab.Workspace) -> list[tuple[int, str]]:
    return [(q.line, q.reason) for q in ws.last_report.quarantine]


# prefix -> (syslog_timestamp, syslog_host) as the reader gives them
PREFIXES = [
    # RFC 5424, full and with nil or missing APP-NAME / PROCID / MSGID / STRUCTURED-DATA
    ("<134>1 2026-01-17T08:52:10.5Z gw-1 edgewall 311 TRAFFIC - ", "2026-01-17T08:52:10.5Z", "gw-1"),
    ("<134>1 2026-01-17T08:52:10Z gw-1 - - - - ", "2026-01-17T08:52:10Z", "gw-1"),
    ("<134>1 2026-01-17T08:52:10Z gw-1 ", "2026-01-17T08:52:10Z", "gw-1"),
    ("<134>1 2026-01-17T08:52:10Z gw-1 edgewall ", "2026-01-17T08:52:10Z", "gw-1"),
    (
        '<165>1 2026-01-17T08:52:10+01:00 gw-1 app - ID7 [meta@1 a="x y"] ',
        "2026-01-17T08:52:10+01:00",
        "gw-1",
    ),
    ("<134>1 - gw-1 - - - - ", None, "gw-1"),
    # RFC 3164: <PRI> then a space, tags with and without a colon, with a space before it, with a pid
    ("<134> Jan 17 08:52:10 gw-2 edgewall: ", "Jan 17 08:52:10", "gw-2"),
    ("<13>Jan  7 08:52:10 gw-2 edgewall ", "Jan  7 08:52:10", "gw-2"),
    ("Jan 17 08:52:10 gw-2 edgewall[42] : ", "Jan 17 08:52:10", "gw-2"),
    ("Jan 17 08:52:10 gw-2 edgewall : ", "Jan 17 08:52:10", "gw-2"),
    ("Jan 17 08:52:10 edgewall: ", "Jan 17 08:52:10", None),
    ("<13>Jan 17 08:52:10 ", "Jan 17 08:52:10", None),
    ("Jan 17 2026 08:52:10.250 UTC gw-2 ", "Jan 17 2026 08:52:10.250 UTC", "gw-2"),
    ("Jan 17 08:52:10 fe80::1 ", "Jan 17 08:52:10", "fe80::1"),
    # bare ISO 8601 date-time, with or without host and tag
    ("2026-01-17T08:52:10Z ", "2026-01-17T08:52:10Z", None),
    ("2026-01-17T08:52:10.123+02:00 gw-3 ", "2026-01-17T08:52:10.123+02:00", "gw-3"),
    ("<14>2026-01-17 08:52:10 gw-3 forwarder: ", "2026-01-17 08:52:10", "gw-3"),
    # not a syslog header: no time, no host
    ("relay says ", None, None),
]


@pytest.mark.parametrize(("prefix", "ts", "host"), PREFIXES)
@pytest.mark.parametrize("body", [PORTAL, FIREWALL, WAF])
def test_syslog_prefixes_give_time_and_host(prefix: str, ts: str | None, host: str | None, body: str) -> None:
    (rec,) = parse_cef_raw([prefix + body])
    assert "error" not in rec, rec
    assert (rec["syslog_timestamp"], rec["syslog_host"]) == (ts, host)


def test_prefix_time_when_the_cef_has_no_usable_time(tmp_path: Path) -> None:
    ws = load_lines(
        tmp_path,
        [
            f"<134>1 2026-01-17T08:52:10.5Z gw-1 - - - - {FIREWALL}",  # no time field at all
            f"<134> Jan 17 2026 09:00:00 gw-2 edgewall: {WAF} rt=not a date",  # unusable rt
            f"2026-01-17T10:00:00+01:00 gw-3 {ENDPOINT} rt=",  # empty rt
            f"<13>Jan 17 2026 11:00:00 gw-2 {PORTAL} rt=1768647600000",  # a usable rt wins over the prefix
        ],
    )
    assert quarantined(ws) == []
    assert events(ws) == [
        (1, "2026-01-17T08:52:10.500000Z"),
        (2, "2026-01-17T09:00:00.000000Z"),
        (3, "2026-01-17T09:00:00.000000Z"),
        (4, "2026-01-17T11:00:00.000000Z"),
    ]


def test_a_date_without_a_year_takes_the_prefix_year(tmp_path: Path) -> None:
    ws = load_lines(
        tmp_path,
        [
            f"<134>1 2026-01-17T08:52:12Z gw-1 - - - - {FIREWALL} rt=Jan 17 08:52:10",
            # across New Year: the nearest year to the prefix's date, not the prefix's year
            f"<134>1 2027-01-01T00:00:05Z gw-1 - - - - {FIREWALL} rt=Dec 31 23:59:58",
            f"2026-12-31T23:59:59Z gw-1 {WINDOWS} rt=Jan  1 00:00:01.250 UTC",
        ],
    )
    assert quarantined(ws) == []
    assert events(ws) == [
        (1, "2026-01-17T08:52:10.000000Z"),
        (2, "2026-12-31T23:59:58.000000Z"),
        (3, "2027-01-01T00:00:01.250000Z"),
    ]


def test_a_date_without_a_year_takes_the_year_of_the_files_range(tmp_path: Path) -> None:
    # RFC 3164 prefixes carry no year; the export's dated events span Nov 2025 .. Feb 2026
    ws = load_lines(
        tmp_path,
        [
            f"{PORTAL} rt=Nov 20 2025 10:00:00",
            f"<13>Dec 24 18:00:00 gw-2 edgewall: {FIREWALL}",
            f"<13>Jan 17 08:52:10 gw-2 waf {WAF} rt=Jan 17 08:52:09",
            f"{PORTAL} rt=1771070400000",  # 2026-02-14T12:00:00Z
            f"Mar  3 01:02:03 gw-2 {ENDPOINT}",  # past the range: the nearest year
        ],
    )
    assert quarantined(ws) == []
    assert events(ws) == [
        (1, "2025-11-20T10:00:00.000000Z"),
        (2, "2025-12-24T18:00:00.000000Z"),
        (3, "2026-01-17T08:52:09.000000Z"),
        (4, "2026-02-14T12:00:00.000000Z"),
        (5, "2026-03-03T01:02:03.000000Z"),
    ]


def test_no_dated_event_at_all_takes_the_last_year_before_the_load(tmp_path: Path) -> None:
    ws = load_lines(tmp_path, [f"<13>Jan 17 08:52:10 gw-2 {FIREWALL}", f"<13>Dec 24 18:00:00 gw-2 {WAF}"])
    now = datetime.now(UTC)
    got = [t for (t,) in ws.sql("SELECT timestamp FROM events ORDER BY source_line").fetchall()]
    assert [(t.month, t.day) for t in got] == [(1, 17), (12, 24)]
    assert all(now - timedelta(days=366) < t <= now for t in got), got


def test_no_usable_time_anywhere_is_quarantined(tmp_path: Path) -> None:
    ws = load_lines(
        tmp_path,
        [
            f"relay says {FIREWALL}",
            f"<134>1 - gw-1 - - - - {WAF}",
            f"gw-1 edgewall: {ENDPOINT} rt=sometime",
            f"<134>1 2026-01-17T08:52:10Z gw-1 - - - - {PORTAL}",
        ],
    )
    assert quarantined(ws) == [(1, "no timestamp"), (2, "no timestamp"), (3, "unusable timestamp: sometime")]
    assert events(ws) == [(4, "2026-01-17T08:52:10.000000Z")]
    r = ws.last_report
    assert (r.lines, r.loaded, r.quarantined) == (4, 1, 3)


def test_feb_29_without_a_year_needs_a_leap_year_near_the_reference(tmp_path: Path) -> None:
    ws = load_lines(
        tmp_path,
        [
            f"<134>1 2024-03-01T00:00:00Z gw-1 - - - - {FIREWALL} rt=Feb 29 23:00:00",  # 2024 is a leap year
            f"<134>1 2026-03-01T00:00:00Z gw-1 - - - - {FIREWALL} rt=Feb 29 23:00:00",  # none within a year
        ],
    )
    assert events(ws) == [(1, "2024-02-29T23:00:00.000000Z")]
    assert quarantined(ws) == [(2, "unusable timestamp: Feb 29 23:00:00")]

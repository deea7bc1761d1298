"""Input layer: paths to members, hostile archives, decompression bombs, whole-line chunks."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import random
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from auditlab.config import Settings
from auditlab.errors import InputError, UnsafeArchiveError
from auditlab.io.archive import (
    ByteBudget,
    Member,
    _chunks,
    iter_chunks,
    iter_members,
    read_head,
    read_member,
)
from auditlab.io.detect import sniff_container

MiB = 1024 * 1024
DATA = b"".join(b'{"n": %d, "action": "login"}\n' % i for i in range(5000))
METHODS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]


# --------------------------------------------------------------------------- builders


def write_zip(path: Path, members: Iterable[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as z:
        for name, data in members:
            z.writestr(name, data)
    return path


def zip_bytes(members: Iterable[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


def raw_zip(entries: list[dict], *, pad: int = 0) -> bytes:
    """A ZIP written by hand, so headers can say anything.

    Each entry: name, payload (already compressed), method, size (declared), crc, and
    optionally csize (declared compressed size), flags.
    """
    out = bytearray()
    central = bytearray()
    for e in entries:
        name = e["name"].encode("utf-8")
        flags = e.get("flags", 0) | 0x800
        csize = e.get("csize", len(e["payload"]))
        offset = e.get("offset", len(out))
        out += struct.pack(
            "<4s5H3L2H",
            b"PK\x03\x04",
            20,
            flags,
            e["method"],
            0,
            0x21,
            e["crc"],
            csize,
            e["size"],
            len(name),
            0,
        )
        out += name + e["payload"]
        central += struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            20,
            20,
            flags,
            e["method"],
            0,
            0x21,
            e["crc"],
            csize,
            e["size"],
            len(name),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        central += name
    out += bytes(pad)
    start = len(out)
    out += central
    out += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), start, 0)
    return bytes(out)


def deflate_zeros(total: int) -> bytes:
    """Raw deflate of ``total`` zero bytes (a multiple of 16 MiB), built in ~0.1 s.

    With a full flush every 16 MiB each piece compresses to the same bytes, so one piece is
    compressed and repeated.
    """
    piece = 16 * MiB
    assert total % piece == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(piece)) + c.flush(zlib.Z_FULL_FLUSH)
    return block * (total // piece) + c.flush()


def bzip2_zeros(total: int) -> bytes:
    c = bz2.BZ2Compressor(9)
    zeros = bytes(16 * MiB)
    return b"".join(c.compress(zeros) for _ in range(total // len(zeros))) + c.flush()


LZMA_PROPS = bytes([(2 * 5 + 0) * 9 + 3]) + (1 << 20).to_bytes(4, "little")  # lc=3 lp=0 pb=2, 1 MiB dict


def lzma_zip_payload(data_or_total: bytes | int, props: bytes = LZMA_PROPS) -> bytes:
    """A ZIP LZMA payload: version, properties size, properties, raw LZMA1 with end marker."""
    filt = {"id": lzma.FILTER_LZMA1, "preset": 0, "dict_size": 1 << 20, "lc": 3, "lp": 0, "pb": 2}
    c = lzma.LZMACompressor(format=lzma.FORMAT_RAW, filters=[filt])
    if isinstance(data_or_total, int):
        zeros = bytes(16 * MiB)
        body = b"".join(c.compress(zeros) for _ in range(data_or_total // len(zeros)))
    else:
        body = c.compress(data_or_total)
    return struct.pack("<BBH", 9, 4, len(props)) + props + body + c.flush()


def gzip_header() -> bytes:
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def gzip_zeros(total: int) -> bytes:
    return gzip_header() + deflate_zeros(total) + struct.pack("<LL", 0, total & 0xFFFFFFFF)


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def members_of(paths, **kw) -> list[tuple[str, bytes]]:
    return [(m.source, read_member(m)) for m in iter_members(paths, **kw)]


# --------------------------------------------------------------------------- paths


def test_one_plain_file(tmp_path: Path) -> None:
    p = tmp_path / "a.ndjson"
    p.write_bytes(DATA)
    [m] = iter_members(p)
    assert (m.source, m.path, m.inner) == (str(p), p, None)
    assert read_member(m) == DATA


def test_directory_is_walked_sorted_skipping_hidden_and_macosx(tmp_path: Path) -> None:
    for rel in [
        "b.ndjson",
        "a/z.ndjson",
        "a.ndjson",
        "a/b/c.ndjson",
        ".hidden.ndjson",
        ".git/x.ndjson",
        "__MACOSX/._a.ndjson",
        "a/._resource.ndjson",
        "sub/__MACOSX/x.ndjson",
        "c.log",
    ]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rel.encode() + b"\n")
    got = [m.source for m in iter_members(tmp_path)]
    # sorted by path components: the folder "a" comes before the file "a.ndjson"
    assert got == [str(tmp_path / r) for r in ["a/b/c.ndjson", "a/z.ndjson", "a.ndjson", "b.ndjson", "c.log"]]


def test_hidden_file_named_explicitly_is_read(tmp_path: Path) -> None:
    p = tmp_path / ".events.ndjson"
    p.write_bytes(DATA)
    assert members_of(p) == [(str(p), DATA)]


def test_many_paths_in_order_and_each_file_once(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    a = tmp_path / "d" / "a.ndjson"
    b = tmp_path / "b.ndjson"
    a.write_bytes(b"a\n")
    b.write_bytes(b"b\n")
    got = members_of([b, tmp_path / "d", a, str(b)])
    assert got == [(str(b), b"b\n"), (str(a), b"a\n")]


def test_missing_path_names_it(tmp_path: Path) -> None:
    ok = tmp_path / "ok.ndjson"
    ok.write_bytes(b"{}\n")
    missing = tmp_path / "missing.ndjson"
    with pytest.raises(InputError, match=r"missing\.ndjson: no such file or directory") as info:
        list(iter_members([ok, missing]))
    assert info.value.source == str(missing)


def test_fifo_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        list(iter_members(fifo))


def test_dangling_symlink_and_symlink_loop_in_directory(tmp_path: Path) -> None:
    (tmp_path / "a.ndjson").write_bytes(b"{}\n")
    (tmp_path / "dangling.ndjson").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to(tmp_path)
    assert [m.source for m in iter_members(tmp_path)] == [str(tmp_path / "a.ndjson")]


def test_empty_directory_and_empty_list(tmp_path: Path) -> None:
    assert list(iter_members(tmp_path)) == []
    assert list(iter_members([])) == []


# --------------------------------------------------------------------------- containers by content


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("gz-named-plain.ndjson", gzip.compress(DATA), DATA),
        ("plain-named.gz", DATA, DATA),
        ("multi-member.gz", gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:]), DATA),
        ("empty.ndjson", b"", b""),
        ("empty.gz", gzip.compress(b""), b""),
    ],
)
def test_content_decides_plain_or_gzip(tmp_path: Path, name: str, content: bytes, expected: bytes) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    assert members_of(p) == [(str(p), expected)]


def test_zip_named_log_is_a_zip(tmp_path: Path) -> None:
    p = write_zip(tmp_path / "export.log", [("audit/audit_log.ndjson", DATA)])
    [m] = iter_members(p)
    assert (m.source, m.inner) == (f"{p}!audit/audit_log.ndjson", "audit/audit_log.ndjson")
    assert read_member(m) == DATA


@pytest.mark.parametrize("method", METHODS)
def test_zip_methods_and_gzip_members(tmp_path: Path, method: int) -> None:
    p = write_zip(
        tmp_path / "export.zip",
        [("audit/a.ndjson", DATA), ("audit/b.ndjson.gz", gzip.compress(DATA)), ("c.ndjson", b"")],
        method,
    )
    assert members_of(p) == [
        (f"{p}!audit/a.ndjson", DATA),
        (f"{p}!audit/b.ndjson.gz", DATA),
        (f"{p}!c.ndjson", b""),
    ]


def test_zip_skips_directories_and_macos_noise_but_keeps_manifest(tmp_path: Path) -> None:
    p = write_zip(
        tmp_path / "x.zip",
        [
            ("audit/", b""),
            ("audit/log.ndjson", DATA),
            ("__MACOSX/audit/._log.ndjson", b"\x00\x05junk"),
            (".DS_Store", b"junk"),
            ("manifest.json", b'{"files": []}'),
        ],
    )
    assert [m.source for m in iter_members(p)] == [f"{p}!audit/log.ndjson", f"{p}!manifest.json"]


def test_empty_zip_has_no_members(tmp_path: Path) -> None:
    p = write_zip(tmp_path / "empty.zip", [])
    assert list(iter_members(p)) == []


def test_zip_inside_zip_one_level(tmp_path: Path) -> None:
    inner = zip_bytes([("deep/x.ndjson", DATA), ("deep/y.ndjson.gz", gzip.compress(DATA))], zipfile.ZIP_BZIP2)
    p = write_zip(
        tmp_path / "outer.zip", [("first.ndjson", b"{}\n"), ("nested/inner.zip", inner), ("z.ndjson", b"z\n")]
    )
    got = members_of(p)
    assert got == [
        (f"{p}!first.ndjson", b"{}\n"),
        (f"{p}!nested/inner.zip!deep/x.ndjson", DATA),
        (f"{p}!nested/inner.zip!deep/y.ndjson.gz", DATA),
        (f"{p}!z.ndjson", b"z\n"),
    ]
    m = list(iter_members(p))[1]
    assert m.inner == "deep/x.ndjson"
    assert [c for _, c in iter_chunks(m, chunk_bytes=4096)] and b"".join(
        c for _, c in iter_chunks(m, chunk_bytes=4096)
    ) == DATA


def test_zip_two_levels_deep_is_not_opened(tmp_path: Path) -> None:
    innermost = zip_bytes([("a.ndjson", DATA)])
    middle = zip_bytes([("innermost.zip", innermost)])
    p = write_zip(tmp_path / "outer.zip", [("middle.zip", middle)])
    [(source, data)] = members_of(p)
    assert (source, data) == (f"{p}!middle.zip!innermost.zip", innermost)


def test_member_open_gives_fresh_independent_streams(tmp_path: Path) -> None:
    p = write_zip(tmp_path / "x.zip", [("a.ndjson", DATA)])
    [m] = iter_members(p)
    with m.open() as f1, m.open() as f2:
        assert f1.read(10) == DATA[:10]
        assert f2.read(20) == DATA[:20]
        assert f1.read(10) == DATA[10:20]


def test_read_head(tmp_path: Path) -> None:
    p = tmp_path / "x.gz"
    p.write_bytes(gzip.compress(DATA))
    [m] = iter_members(p)
    assert read_head(m, size=7) == DATA[:7]


def test_member_on_a_zip_path_refuses(tmp_path: Path) -> None:
    p = write_zip(tmp_path / "x.zip", [("a.ndjson", DATA)])
    with pytest.raises(InputError, match="is a ZIP archive"):
        read_member(Member(str(p), p, None))


# --------------------------------------------------------------------------- hostile names


EVIL_NAMES = [
    ("../evil.ndjson", "evil.ndjson"),
    ("../../../../../../tmp/evil-abs.ndjson", "tmp/evil-abs.ndjson"),
    ("/tmp/auditlab-evil-absolute.ndjson", "tmp/auditlab-evil-absolute.ndjson"),
    ("a/../../b/evil.ndjson", "a/b/evil.ndjson"),
    ("..\\..\\win-evil.ndjson", "win-evil.ndjson"),
    ("./././dot.ndjson", "dot.ndjson"),
    ("x\n/forged\rline\x1b.ndjson", "x\\x0a/forged\\x0dline\\x1b.ndjson"),
    ("..", "member-7"),
]


def test_traversal_names_are_read_in_memory_and_labelled_safely(tmp_path: Path, monkeypatch) -> None:
    work = tmp_path / "work" / "inner"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    entries = [
        {
            "name": name,
            "payload": b"%d\n" % i,
            "method": 0,
            "size": len(b"%d\n" % i),
            "crc": zlib.crc32(b"%d\n" % i),
        }
        for i, (name, _) in enumerate(EVIL_NAMES)
    ]
    p = work / "evil.zip"
    p.write_bytes(raw_zip(entries))
    before = snapshot(tmp_path)
    got = members_of(p)
    assert got == [(f"{p}!{label}", b"%d\n" % i) for i, (_, label) in enumerate(EVIL_NAMES)]
    assert snapshot(tmp_path) == before
    assert not Path("/tmp/auditlab-evil-absolute.ndjson").exists()
    assert not (tmp_path / "work" / "evil.ndjson").exists()
    assert [m.inner for m in iter_members(p)] == [name for name, _ in EVIL_NAMES]


def test_repeated_member_names_get_distinct_sources(tmp_path: Path) -> None:
    entries = [
        {"name": "a.ndjson", "payload": d, "method": 0, "size": len(d), "crc": zlib.crc32(d)}
        for d in (b"1\n", b"2\n", b"3\n")
    ]
    p = tmp_path / "dup.zip"
    p.write_bytes(raw_zip(entries))
    assert members_of(p) == [
        (f"{p}!a.ndjson", b"1\n"),
        (f"{p}!a.ndjson#2", b"2\n"),
        (f"{p}!a.ndjson#3", b"3\n"),
    ]


# --------------------------------------------------------------------------- corrupt input


def stored(name: str, data: bytes, **over) -> dict:
    return {"name": name, "payload": data, "method": 0, "size": len(data), "crc": zlib.crc32(data), **over}


def deflated(name: str, data: bytes, **over) -> dict:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    payload = c.compress(data) + c.flush()
    return {"name": name, "payload": payload, "method": 8, "size": len(data), "crc": zlib.crc32(data), **over}


def _flip(b: bytes, at: int) -> bytes:
    return b[:at] + bytes([b[at] ^ 0xFF]) + b[at + 1 :]


CORRUPT_AT_LISTING = [
    ("truncated.zip", zip_bytes([("a.ndjson", DATA)])[:200], "not a readable ZIP"),
    ("magic-only.zip", b"PK\x03\x04" + b"\x00" * 10, "not a readable ZIP"),
    ("garbage.zip", b"PK\x03\x04" + os.urandom(5000), "not a readable ZIP"),
]


@pytest.mark.parametrize(("name", "content", "message"), CORRUPT_AT_LISTING)
def test_corrupt_zip_at_listing(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        list(iter_members(p))
    assert info.value.source == str(p)
    assert not isinstance(info.value, UnsafeArchiveError)


def _deflate_body_flipped() -> bytes:
    e = deflated("a.ndjson", DATA)
    e["payload"] = _flip(e["payload"], 20)
    return raw_zip([e])


CORRUPT_AT_READING = [
    ("bad-deflate.zip", _deflate_body_flipped(), "corrupt"),
    ("bad-crc.zip", raw_zip([stored("a.ndjson", DATA, crc=1234)]), "CRC-32 mismatch"),
    ("short-data.zip", raw_zip([deflated("a.ndjson", DATA, csize=40)]), "ends early|corrupt"),
    ("header-says-smaller.zip", raw_zip([deflated("a.ndjson", DATA, size=100)]), "header says 100"),
    ("header-says-bigger.zip", raw_zip([stored("a.ndjson", DATA, size=len(DATA) + 1)]), "header says"),
    ("encrypted.zip", raw_zip([stored("a.ndjson", DATA, flags=1)]), "encrypted"),
    ("deflate64.zip", raw_zip([stored("a.ndjson", DATA, method=9)]), "method 9 is not supported"),
    (
        "bad-lzma-props.zip",
        raw_zip(
            [stored("a.ndjson", b"\x09\x04\x05\x00\xff\x00\x00\x10\x00" + b"\x00" * 30, method=14, size=10)]
        ),
        "LZMA properties",
    ),
    (
        "bad-bzip2.zip",
        raw_zip([stored("a.ndjson", b"BZh9" + os.urandom(200), method=12, size=10)]),
        "corrupt",
    ),
    (
        "gz-in-zip-truncated.zip",
        raw_zip([stored("a.ndjson.gz", gzip.compress(DATA)[:-30])]),
        "corrupt or truncated",
    ),
]


@pytest.mark.parametrize(("name", "content", "message"), CORRUPT_AT_READING)
def test_corrupt_zip_member_at_reading(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    [m] = iter_members(p)
    with pytest.raises(InputError, match=message) as info:
        read_member(m)
    assert info.value.source == f"{p}!{m.inner}"
    assert not isinstance(info.value, UnsafeArchiveError)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (gzip.compress(DATA)[:-100], "corrupt or truncated data"),
        (gzip.compress(DATA)[:-4], "corrupt or truncated data"),
        (_flip(gzip.compress(DATA), 50), "corrupt or truncated data"),
        (gzip.compress(DATA) + b"trailing garbage", "corrupt or truncated data"),
        (b"\x1f\x8b\x09" + os.urandom(100), "corrupt or truncated data"),
        (b"\x1f\x8b", "corrupt or truncated data"),
    ],
)
def test_corrupt_gzip_names_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    p = tmp_path / "x.ndjson.gz"
    p.write_bytes(content)
    [m] = iter_members(p)
    with pytest.raises(InputError, match=message) as info:
        read_member(m)
    assert info.value.source == str(p)


def test_file_vanishing_after_listing(tmp_path: Path) -> None:
    p = tmp_path / "a.ndjson"
    p.write_bytes(DATA)
    [m] = iter_members(p)
    p.unlink()
    with pytest.raises(InputError, match="cannot open") as info:
        read_member(m)
    assert info.value.source == str(p)


# --------------------------------------------------------------------------- limits and bombs


def test_plain_file_over_member_limit(tmp_path: Path) -> None:
    p = tmp_path / "a.ndjson"
    p.write_bytes(DATA)
    [m] = iter_members(p, settings=Settings(max_member_bytes=1000))
    with pytest.raises(UnsafeArchiveError, match=r"holds more than max_member_bytes \(1000 bytes\)") as info:
        read_member(m)
    assert info.value.source == str(p)
    assert read_member(m, settings=Settings()) == DATA  # explicit settings win over the member's


def test_total_budget_spans_members(tmp_path: Path) -> None:
    p = write_zip(tmp_path / "x.zip", [("a.ndjson", DATA), ("b.ndjson", DATA), ("c.ndjson", DATA)])
    s = Settings(max_total_bytes=int(len(DATA) * 2.5))
    budget = ByteBudget.from_settings(s)
    ms = list(iter_members(p, settings=s))
    assert read_member(ms[0], budget=budget) == DATA
    assert [c for _, c in iter_chunks(ms[1], budget=budget, chunk_bytes=10_000)]
    assert budget.used == 2 * len(DATA)
    with pytest.raises(UnsafeArchiveError, match=r"exceeds max_total_bytes") as info:
        read_member(ms[2], budget=budget)
    assert info.value.source == f"{p}!c.ndjson"


def test_budget_is_not_charged_for_compressed_bytes(tmp_path: Path) -> None:
    p = tmp_path / "x.gz"
    p.write_bytes(gzip.compress(DATA))
    budget = ByteBudget(limit=10**9)
    [m] = iter_members(p)
    read_member(m, budget=budget)
    assert budget.used == len(DATA)


def test_very_compressible_member_below_the_floor_loads(tmp_path: Path) -> None:
    # 10 MB of one repeated byte deflates ~1000:1: harmless below ratio_floor_bytes (64 MiB).
    content = b'{"details": "' + b"x" * (10 * MiB) + b'"}\n'
    p = write_zip(tmp_path / "x.zip", [("big.ndjson", content)])
    [m] = iter_members(p)
    assert read_member(m) == content
    # past the floor the ratio counts: refused at the default max_ratio (200), loads above it
    low_floor = Settings(ratio_floor_bytes=MiB)
    with pytest.raises(UnsafeArchiveError, match=r"expands more than max_ratio \(200x"):
        read_member(m, settings=low_floor)
    assert read_member(m, settings=Settings(ratio_floor_bytes=MiB, max_ratio=2000)) == content


def _compressible_event(size: int) -> bytes:
    """One valid NDJSON event whose ``details`` holds ~``size`` bytes that gzip ~300x."""
    rng = random.Random(7)
    filler = "".join(("x" * 1200) + rng.choice("0123456789abcdef") for _ in range(size // 1201 + 1))
    rec = {"id": "e-1", "created_at": "2026-01-02T03:04:05Z", "action": "user.login", "details": filler}
    return json.dumps(rec).encode() + b"\n"


def test_one_big_compressible_event_is_not_a_bomb(tmp_path: Path) -> None:
    # Issue 11: one valid 4 MiB event compressing ~315x was refused as a bomb (ratio checked from
    # 1 MiB of output on). It loads now, with every check of the loader.
    import auditlab

    line = _compressible_event(4 * MiB)
    packed = gzip.compress(line, compresslevel=9)
    assert len(line) > 4 * MiB and 250 < len(line) / len(packed) < 400, len(line) / len(packed)
    p = tmp_path / "big.ndjson.gz"
    p.write_bytes(packed)
    ws = auditlab.load(p)
    assert ws.last_report.loaded == 1 and ws.last_report.quarantined == 0
    assert ws.sql("SELECT raw FROM events").fetchall() == [(line.decode().rstrip("\n"),)]
    # the same file past a lowered floor is refused, as before
    with pytest.raises(UnsafeArchiveError, match="max_ratio"):
        auditlab.load(p, settings=Settings(ratio_floor_bytes=MiB))


def test_overlapping_members_are_refused(tmp_path: Path) -> None:
    # Two directory entries pointing at the same local header: the non-recursive zip bomb shape.
    e = deflated("a.ndjson", DATA)
    one = raw_zip([e])
    start = one.index(b"PK\x01\x02")
    end = one.index(b"PK\x05\x06")
    record = one[start:end]
    twice = one[:start] + record + record.replace(b"a.ndjson", b"b.ndjson")
    twice += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 2, 2, 2 * len(record), start, 0)
    p = tmp_path / "overlap.zip"
    p.write_bytes(twice)
    with pytest.raises(UnsafeArchiveError, match="overlap") as info:
        list(iter_members(p))
    assert info.value.source == str(p)


def test_huge_lzma_dictionary_is_refused(tmp_path: Path) -> None:
    props = bytes([93]) + (1 << 31).to_bytes(4, "little")
    payload = lzma_zip_payload(DATA, props=props)
    p = tmp_path / "dict.zip"
    p.write_bytes(raw_zip([stored("a.ndjson", payload, method=14, size=len(DATA), crc=zlib.crc32(DATA))]))
    [m] = iter_members(p)
    with pytest.raises(UnsafeArchiveError, match="LZMA dictionary"):
        read_member(m)


def test_lzma_without_end_marker(tmp_path: Path) -> None:
    # Some writers leave out the LZMA end marker (flag bit 1 clear): the member ends with its data.
    filt = {"id": lzma.FILTER_LZMA1, "preset": 0, "dict_size": 1 << 20, "lc": 3, "lp": 0, "pb": 2}
    body = lzma.compress(DATA, format=lzma.FORMAT_ALONE, filters=[filt])[13:]  # .lzma without its header
    payload = struct.pack("<BBH", 9, 4, 5) + LZMA_PROPS + body
    p = tmp_path / "noeos.zip"
    p.write_bytes(raw_zip([stored("a.ndjson", payload, method=14, size=len(DATA), crc=zlib.crc32(DATA))]))
    [m] = iter_members(p)
    assert read_member(m) == DATA


@pytest.fixture(scope="session")
def bombs(tmp_path_factory) -> dict[str, Path]:
    """Decompression bombs, one per method. ZIP headers all lie: they declare 100 bytes."""
    d = tmp_path_factory.mktemp("bombs")
    big, mid = 1024 * MiB, 256 * MiB
    lie = {"size": 100, "crc": 0}

    def zip_of(name: str, payload: bytes, method: int) -> bytes:
        return raw_zip([{"name": name, "payload": payload, "method": method, **lie}])

    deflate_zip = zip_of("bomb.ndjson", deflate_zeros(big), 8)
    files = {
        "deflate": deflate_zip,
        "bzip2": zip_of("bomb.ndjson", bzip2_zeros(mid), 12),
        "lzma": raw_zip(
            [{"name": "bomb.ndjson", "payload": lzma_zip_payload(mid), "method": 14, "flags": 2, **lie}]
        ),
        "gzip": gzip_zeros(big),
        "gzip-in-zip": zip_of("bomb.ndjson.gz", gzip_zeros(big), 0),
        "zip-in-zip": raw_zip([stored("inner.zip", deflate_zip)]),  # honest outer, lying inner
    }
    out = {}
    for name, content in files.items():
        out[name] = d / f"{name}.bin"
        out[name].write_bytes(content)
    return out


BOMB_SOURCES = {
    "deflate": "!bomb.ndjson",
    "bzip2": "!bomb.ndjson",
    "lzma": "!bomb.ndjson",
    "gzip": "",
    "gzip-in-zip": "!bomb.ndjson.gz",
    "zip-in-zip": "!inner.zip!bomb.ndjson",
}


@pytest.mark.parametrize("kind", list(BOMB_SOURCES))
def test_bomb_refused_by_ratio(bombs, kind: str) -> None:
    [m] = iter_members(bombs[kind])
    with pytest.raises(UnsafeArchiveError, match=r"expands more than max_ratio \(200x") as info:
        for _ in iter_chunks(m, chunk_bytes=8 * MiB):
            pass
    assert info.value.source == f"{bombs[kind]}{BOMB_SOURCES[kind]}"


@pytest.mark.parametrize("kind", list(BOMB_SOURCES))
def test_bomb_refused_by_member_limit(bombs, kind: str) -> None:
    s = Settings(max_ratio=1e12, max_member_bytes=16 * MiB)
    [m] = iter_members(bombs[kind], settings=s)
    with pytest.raises(
        UnsafeArchiveError, match=r"decompresses past max_member_bytes \(16777216 bytes\)"
    ) as info:
        read_member(m)
    assert info.value.source == f"{bombs[kind]}{BOMB_SOURCES[kind]}"


def test_nested_zip_padded_inside_is_refused_at_listing(tmp_path: Path) -> None:
    # The inner ZIP hides 96 MiB of zeros before its central directory; the outer ZIP deflates
    # it ~1000:1. Listing the inner ZIP must read to its end: the ratio limit stops that.
    inner = raw_zip([stored("a.ndjson", DATA)], pad=96 * MiB)
    p = write_zip(tmp_path / "outer.zip", [("inner.zip", inner)])
    with pytest.raises(UnsafeArchiveError, match="max_ratio") as info:
        list(iter_members(p))
    assert info.value.source == f"{p}!inner.zip"


MEMORY_SCRIPT = r"""
import json, sys
from auditlab.config import Settings
from auditlab.errors import UnsafeArchiveError
from auditlab.io.archive import iter_chunks, iter_members, read_member

def peak():
    # VmHWM: this process's peak RSS. (ru_maxrss would start at the parent's RSS: Linux
    # carries the high-water mark across fork + exec.)
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")

path = sys.argv[1]
start = peak()
report = []
for label, s in [("ratio", Settings()), ("member", Settings(max_ratio=1e12, max_member_bytes=32 << 20))]:
    for how in ("chunks", "read"):
        try:
            for m in iter_members(path, settings=s):
                if how == "chunks":
                    for _ in iter_chunks(m):
                        pass
                else:
                    read_member(m)
            outcome = "loaded"
        except UnsafeArchiveError as exc:
            outcome = type(exc).__name__
        report.append([label, how, outcome, peak() - start])
print(json.dumps(report))
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("kind", list(BOMB_SOURCES))
def test_bomb_refused_in_bounded_memory(bombs, kind: str) -> None:
    # Each bomb decompresses to 256 MiB or 1 GiB; refusing it must not hold more than a fraction.
    # (Measured: ~45 MB peak growth here; zipfile's own reader reaches ~530 MB on the bzip2 bomb
    # with a single read(4 MiB), as it decompresses bzip2 and LZMA without an output bound.)
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(bombs[kind])], capture_output=True, text=True, check=True
    )
    report = json.loads(proc.stdout)
    assert [r[2] for r in report] == ["UnsafeArchiveError"] * 4, report
    worst = max(r[3] for r in report)
    assert worst < 128 * MiB, report


# --------------------------------------------------------------------------- chunks


CHUNK_CASES = [
    # content, chunk_bytes, expected [(line, chunk)]
    (b"", 10, []),
    (b"\xef\xbb\xbf", 10, []),
    (b"\n", 10, [(1, b"\n")]),
    (b"a", 10, [(1, b"a")]),
    (b"a\nb\nc\n", 100, [(1, b"a\nb\nc\n")]),
    (b"a\nb\nc", 100, [(1, b"a\nb\nc")]),
    (b"a\nb\nc\n", 4, [(1, b"a\nb\n"), (3, b"c\n")]),
    (b"a\nb\nc\n", 1, [(1, b"a\n"), (2, b"b\n"), (3, b"c\n")]),
    (b"aaaaaaaa\nb\n", 3, [(1, b"aaaaaaaa\n"), (2, b"b\n")]),
    (b"a\naaaaaaaa\nb", 3, [(1, b"a\n"), (2, b"aaaaaaaa\n"), (3, b"b")]),
    (b"\n\n\n\nx", 2, [(1, b"\n\n"), (3, b"\n\n"), (5, b"x")]),
    (b"\xef\xbb\xbf{}\r\n{}\r\n", 4, [(1, b"{}\r\n"), (2, b"{}\r\n")]),
    (b"{}\n\xef\xbb\xbf{}\n", 100, [(1, b"{}\n\xef\xbb\xbf{}\n")]),  # only a leading BOM is dropped
    (b"\xef\xbb\xbf\xef\xbb\xbfx", 100, [(1, b"\xef\xbb\xbfx")]),
    (b"a\r\nb\rc\n", 3, [(1, b"a\r\n"), (2, b"b\rc\n")]),
    (b"no newline at all" * 3, 5, [(1, b"no newline at all" * 3)]),
]


@pytest.mark.parametrize(("content", "size", "expected"), CHUNK_CASES)
def test_iter_chunks_table(tmp_path: Path, content: bytes, size: int, expected: list) -> None:
    for name, raw in [("plain.ndjson", content), ("gz.ndjson", gzip.compress(content))]:
        p = tmp_path / name
        p.write_bytes(raw)
        [m] = iter_members(p)
        assert list(iter_chunks(m, chunk_bytes=size)) == expected


def test_chunk_bytes_defaults_to_settings(tmp_path: Path) -> None:
    p = tmp_path / "a.ndjson"
    p.write_bytes(b"ab\ncd\nef\n")
    [m] = iter_members(p, settings=Settings(chunk_bytes=6))
    assert list(iter_chunks(m)) == [(1, b"ab\ncd\n"), (3, b"ef\n")]
    with pytest.raises(ValueError, match="positive"):
        list(iter_chunks(m, chunk_bytes=0))


def test_ten_megabyte_line(tmp_path: Path) -> None:
    long = b'{"details": "' + os.urandom(5 * MiB).hex().encode() + b'"}\n'
    content = b'{"a": 1}\n' + long + b'{"b": 2}\n\n{"c": 3}'
    p = write_zip(tmp_path / "x.zip", [("big.ndjson", content)])
    [m] = iter_members(p)
    got = list(iter_chunks(m, chunk_bytes=MiB))
    assert got == [(1, b'{"a": 1}\n'), (2, long), (3, b'{"b": 2}\n\n{"c": 3}')]


def reference_chunks(content: bytes, size: int, *, last_alone: bool = False) -> list[tuple[int, bytes]]:
    """Greedy whole-line packing, one line at a time (slow, obviously right).

    ``last_alone``: a final line without ``\\n`` starts its own chunk. ``iter_chunks`` may do
    that when the bytes before it exactly fill a chunk (it does not look ahead for the end).
    """
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    parts = content.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    out: list[tuple[int, bytes]] = []
    cur, first = b"", 1
    for number, line in enumerate(lines, start=1):
        alone = last_alone and number == len(lines) and not line.endswith(b"\n")
        if cur and (len(cur) + len(line) > size or alone):
            out.append((first, cur))
            cur = b""
        if not cur:
            first = number
        cur += line
    if cur:
        out.append((first, cur))
    return out


class ShortReads(io.RawIOBase):
    """Returns at most the next of ``sizes`` bytes per read (cycling), like a slow pipe."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data, self._sizes, self._pos, self._i = data, sizes, 0, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self._sizes[self._i % len(self._sizes)], len(self._data) - self._pos)
        self._i += 1
        b[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n

    def read(self, n: int = -1) -> bytes:  # a raw read: may return fewer bytes than asked
        buf = bytearray(max(n, 0))
        got = self.readinto(buf)
        return bytes(buf[:got])


lines_st = st.lists(
    st.one_of(
        st.just(b""),
        st.just(b"\r"),
        st.binary(min_size=1, max_size=30).map(lambda b: b.replace(b"\n", b"")),
        st.binary(min_size=40, max_size=200).map(lambda b: b.replace(b"\n", b"x")),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(
    lines=lines_st,
    trailing_newline=st.booleans(),
    bom=st.booleans(),
    size=st.integers(min_value=1, max_value=120),
    reads=st.lists(st.integers(min_value=1, max_value=70), min_size=1, max_size=5),
)
def test_chunks_match_greedy_reference(lines, trailing_newline, bom, size, reads) -> None:
    content = (
        (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines) + (b"\n" if trailing_newline and lines else b"")
    )
    got = list(_chunks(ShortReads(content, reads), size))  # type: ignore[arg-type]
    assert got in (reference_chunks(content, size), reference_chunks(content, size, last_alone=True))
    body = content[3:] if content.startswith(b"\xef\xbb\xbf") else content
    assert b"".join(c for _, c in got) == body

    def lines_in(b: bytes) -> int:
        return b.count(b"\n") + (1 if b and not b.endswith(b"\n") else 0)

    assert (got[-1][0] + lines_in(got[-1][1]) - 1 if got else 0) == lines_in(body)


@settings(max_examples=25, deadline=None)
@given(lines=lines_st, size=st.integers(min_value=1, max_value=300), method=st.sampled_from(METHODS))
def test_chunks_from_zip_members_match_reference(tmp_path_factory, lines, size, method) -> None:
    content = b"\n".join(lines)
    # content decides the container: a member that starts with a gzip or ZIP signature is one
    assume(sniff_container(content[:4]) == "plain")
    p = write_zip(tmp_path_factory.mktemp("h") / "x.zip", [("a.ndjson", content)], method)
    [m] = iter_members(p)
    got = list(iter_chunks(m, chunk_bytes=size))
    assert got in (reference_chunks(content, size), reference_chunks(content, size, last_alone=True))

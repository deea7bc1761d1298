"""Turn user paths into safe, decompressed byte streams with provenance.

A *member* is one stream of log bytes: a plain file, a gzip file, or a ZIP member (gzip'd or
not, in folders, or inside a ZIP one level deep). Content decides the container, not the name.

Safety: nothing is ever extracted to disk. ZIP members are decoded here, in memory, block by
block, by the decompressors' bounded ``max_length`` calls (``zipfile`` itself decodes bzip2 and
LZMA members in unbounded steps, so it is only used to list the central directory). Every
stream counts the bytes it yields against :class:`~auditlab.config.Settings`:
``max_member_bytes`` per member, ``max_ratio`` per compression layer once past
``ratio_floor_bytes`` of output (64 MiB: below it any ratio is harmless), and ``max_total_bytes`` over a whole load through a shared :class:`ByteBudget`.
The sizes a ZIP header declares are never trusted for limits.

Examples:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.ndjson").write_bytes(b'\\xef\\xbb\\xbf{"a": 1}\\n\\n{"a": 2}')
    >>> [m.source.endswith("a.ndjson") for m in iter_members(d)]
    [True]
    >>> [(n, c) for n, c in iter_chunks(next(iter_members(d)), chunk_bytes=10)]
    [(1, b'{"a": 1}\\n\\n'), (3, b'{"a": 2}')]
"""

from __future__ import annotations

import io
import itertools
import os
import stat
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from auditlab._types import PathLike
from auditlab.config import Settings
from auditlab.errors import InputError, UnsafeArchiveError
from auditlab.io._streams import (
    _BLOCK,
    _CORRUPT,
    _LOCAL_HEADER,
    ByteBudget,
    _Entry,
    _Guard,
    _Gunzip,
    _MiB,
    _Prepend,
    _Readable,
    _Rewindable,
    _ZipMember,
)
from auditlab.io.detect import BOM, sniff_container

__all__ = ["ByteBudget", "Member", "iter_chunks", "iter_members", "read_head", "read_member"]

_COUNT_SLICE = 8 * _MiB  # newlines are counted with NumPy in slices this big
_SKIP_DIRS = frozenset({"__MACOSX"})


@dataclass(frozen=True)
class Member:
    """One stream of log bytes and where it comes from.

    Attributes:
        source: provenance label, e.g. ``export.zip!audit/log.ndjson``, ``x.ndjson.gz``,
            ``dir/a.ndjson``; ZIP names are cleaned (no leading ``/``, no ``.``/``..``, control
            characters escaped) and a repeated name gets ``#2``, ``#3``.
        path: the file on disk it comes from.
        inner: the ZIP member's own name as stored (innermost one for a nested ZIP), if any.

    Examples:
        >>> m = Member("a.ndjson", Path("a.ndjson"), None)
        >>> m.source, m.inner
        ('a.ndjson', None)
    """

    source: str
    path: Path
    inner: str | None
    _entries: tuple[_Entry, ...] = field(default=(), repr=False)
    _settings: Settings | None = field(default=None, repr=False, compare=False)

    def open(self, *, settings: Settings | None = None, budget: ByteBudget | None = None) -> BinaryIO:
        """A fresh, decompressed, read-only stream that enforces the limits while reading.

        Args:
            settings: limits; defaults to those given to :func:`iter_members`, else ``Settings()``.
            budget: the load's shared byte budget, charged with every byte read.

        Raises:
            InputError: the file is missing or unreadable, or a ZIP/gzip layer is corrupt.
            UnsafeArchiveError: a limit is passed (raised by the stream's reads).
        """
        return _open_member(self, settings or self._settings or Settings(), budget)


def _open_file(path: Path, source: str) -> io.BufferedReader:
    try:
        return open(path, "rb")  # closed by the stream that owns it
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror or exc}", source=source) from exc


def _zip_layer(fp: io.BufferedReader, entry: _Entry, settings: Settings) -> _Guard:
    source = entry.label
    try:
        dec = _ZipMember(fp, entry, source=source)
    except InputError:
        raise
    except _CORRUPT as exc:
        raise InputError(f"corrupt ZIP ({type(exc).__name__}: {exc})", source=source) from exc
    return _Guard(dec, source=source, settings=settings, consumed=lambda: dec.consumed)


def _gunzip_if_gzip(stream: _Readable, source: str, settings: Settings) -> _Readable:
    """``stream`` itself, or a guarded gzip layer over it when its content is gzip."""
    head = bytearray(4)
    got = 0
    try:
        while got < 4 and (n := stream.readinto(memoryview(head)[got:])):
            got += n
    except InputError:
        stream.close()
        raise
    except _CORRUPT as exc:
        stream.close()
        raise InputError(f"cannot read ({type(exc).__name__}: {exc})", source=source) from exc
    joined = _Prepend(bytes(head[:got]), stream)
    kind = sniff_container(bytes(head[:got]))
    if kind != "gzip":
        return joined
    gz = _Gunzip(joined)
    return _Guard(gz, source=source, settings=settings, consumed=gz.consumed)


def _open_member(member: Member, settings: Settings, budget: ByteBudget | None) -> BinaryIO:
    disk = _open_file(member.path, member.source)
    extra: list[_Readable] = [disk]
    try:
        stream: _Readable
        if member._entries:
            fp: io.BufferedReader = disk
            for entry in member._entries[:-1]:
                fp = _nested(fp, entry, settings)
                extra.append(fp)
            stream = _zip_layer(fp, member._entries[-1], settings)
        else:
            stream = disk
            head = disk.read(4)
            disk.seek(0)
            if sniff_container(head) == "zip":
                raise InputError(
                    "is a ZIP archive: list its members with iter_members()", source=member.source
                )
        stream = _gunzip_if_gzip(stream, member.source, settings)
        guard = _Guard(stream, source=member.source, settings=settings, budget=budget, also_close=extra)
    except BaseException:
        for closable in reversed(extra):
            closable.close()
        raise
    return io.BufferedReader(guard, buffer_size=_MiB)


def _nested(fp: io.BufferedReader, entry: _Entry, settings: Settings) -> io.BufferedReader:
    """A seekable, buffered view of a ZIP member that is itself a ZIP."""
    return io.BufferedReader(_Rewindable(lambda: _zip_layer(fp, entry, settings)), buffer_size=64 * 1024)


# --------------------------------------------------------------------------- listing


def _clean_name(name: str) -> str:
    """A ZIP member name made safe as a label: no root, no ``.``/``..``, no control chars.

    Examples:
        >>> _clean_name("/../a/./b\\\\..\\\\c\\n.ndjson")
        'a/b/c\\\\x0a.ndjson'
    """
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    text = "/".join(parts)
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def _skipped(rel: str) -> bool:
    """Hidden files and folders, and macOS resource forks, are not inputs."""
    return any(p.startswith(".") or p in _SKIP_DIRS for p in rel.split("/"))


def _check_overlap(infos: list[zipfile.ZipInfo], source: str) -> None:
    """Refuse archives whose members share bytes (the non-recursive zip bomb construction)."""
    spans = sorted((i.header_offset, i.compress_size) for i in infos)
    for (start, size), (nxt, _) in itertools.pairwise(spans):
        if start + _LOCAL_HEADER.size + size > nxt:
            raise UnsafeArchiveError("ZIP members overlap (a zip bomb construction); refused", source=source)


def _zip_infos(fp: io.BufferedReader, source: str) -> list[zipfile.ZipInfo]:
    try:
        with zipfile.ZipFile(fp) as zf:
            infos = zf.infolist()
    except InputError:
        raise
    except _CORRUPT as exc:
        raise InputError(f"not a readable ZIP ({type(exc).__name__}: {exc})", source=source) from exc
    _check_overlap(infos, source)
    return infos


def _peek(fp: io.BufferedReader, entry: _Entry, settings: Settings) -> bytes:
    """The first four decompressed bytes of a member ("" when it cannot be read)."""
    try:
        guard = _zip_layer(fp, entry, settings)
    except InputError:
        return b""
    try:
        buf = bytearray(4)
        got = 0
        while got < 4 and (n := guard.readinto(memoryview(buf)[got:])):
            got += n
        return bytes(buf[:got])
    except InputError:
        return b""
    finally:
        guard.close()


def _zip_members(
    path: Path,
    fp: io.BufferedReader,
    source: str,
    settings: Settings,
    parents: tuple[_Entry, ...],
) -> Iterator[Member]:
    seen: dict[str, int] = {}
    for index, info in enumerate(_zip_infos(fp, source)):
        if info.is_dir():
            continue
        rel = _clean_name(info.filename) or f"member-{index}"
        if _skipped(rel):
            continue
        seen[rel] = seen.get(rel, 0) + 1
        if seen[rel] > 1:
            rel = f"{rel}#{seen[rel]}"
        label = f"{source}!{rel}"
        entry = _Entry.of(info, label)
        if not parents and sniff_container(_peek(fp, entry, settings)) == "zip":
            inner = _nested(fp, entry, settings)
            try:
                yield from _zip_members(path, inner, label, settings, (entry,))
            finally:
                inner.close()
            continue
        yield Member(label, path, info.filename, (*parents, entry), settings)


def _walk_error(exc: OSError) -> None:
    raise InputError(f"cannot list: {exc.strerror or exc}", source=str(exc.filename)) from exc


def _walk(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=_walk_error):
        dirnames[:] = [d for d in dirnames if not _skipped(d)]
        for name in filenames:
            if not _skipped(name):
                found.append(Path(dirpath, name))
    return sorted(found, key=lambda p: p.relative_to(root).parts)


def _file_members(path: Path, source: str, settings: Settings) -> Iterator[Member]:
    with _open_file(path, source) as fp:
        head = fp.read(4)
        if sniff_container(head) != "zip":
            yield Member(source, path, None, (), settings)
            return
        fp.seek(0)
        yield from _zip_members(path, fp, source, settings, ())


def iter_members(
    paths: PathLike | Iterable[PathLike], *, settings: Settings | None = None
) -> Iterator[Member]:
    """List the members behind ``paths``: files, directories (recursively), ZIP members.

    Directories are walked in sorted order, skipping hidden entries and ``__MACOSX``; symlinked
    directories are not followed. A file is a ZIP if it starts with ``PK\\x03\\x04``: its members
    are listed in archive order (directory entries, hidden and ``__MACOSX`` members skipped), and
    a member that is itself a ZIP is opened one level deep. Any other file is one member (gzip
    or plain, decided when opened). A file reached twice is listed once.

    Args:
        paths: one path or many.
        settings: limits carried by the members (see :meth:`Member.open`).

    Yields:
        :class:`Member` objects, lazily (a ZIP's directory is read when reached).

    Raises:
        InputError: a path is missing or not a regular file or directory; a ZIP is corrupt.
        UnsafeArchiveError: a ZIP's members overlap.

    Examples:
        >>> list(iter_members("no/such/file.ndjson"))
        Traceback (most recent call last):
        auditlab.errors.InputError: no/such/file.ndjson: no such file or directory
    """
    settings = settings or Settings()
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    seen: set[tuple[int, int]] = set()
    for item in items:
        root = Path(item)
        try:
            st = root.stat()
        except FileNotFoundError as exc:
            raise InputError("no such file or directory", source=str(item)) from exc
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", source=str(item)) from exc
        if stat.S_ISDIR(st.st_mode):
            files = _walk(root)
        elif stat.S_ISREG(st.st_mode):
            files = [root]
        else:
            raise InputError("not a regular file or directory", source=str(item))
        for path in files:
            try:
                fst = path.stat()
            except OSError:
                continue  # vanished, or a dangling symlink inside a directory
            key = (fst.st_dev, fst.st_ino)
            if not stat.S_ISREG(fst.st_mode) or key in seen:
                continue
            seen.add(key)
            yield from _file_members(path, str(path), settings)


# --------------------------------------------------------------------------- reading


def read_member(
    member: Member, *, settings: Settings | None = None, budget: ByteBudget | None = None
) -> bytes:
    """The whole decompressed member, limits enforced.

    Raises:
        InputError: unreadable or corrupt.
        UnsafeArchiveError: a limit is passed.
    """
    parts: list[bytes] = []
    with member.open(settings=settings, budget=budget) as f:
        while block := f.read(_BLOCK):
            parts.append(block)
    return b"".join(parts)


def read_head(member: Member, *, size: int = 64 * 1024, settings: Settings | None = None) -> bytes:
    """The first ``size`` decompressed bytes of a member, for :func:`~auditlab.io.detect.sniff_format`."""
    with member.open(settings=settings) as f:
        return f.read(size)


def iter_chunks(
    member: Member,
    *,
    settings: Settings | None = None,
    chunk_bytes: int | None = None,
    budget: ByteBudget | None = None,
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(first line number, chunk)`` pairs: the member's bytes cut into whole lines.

    A chunk holds whole lines (cut after a ``\\n``) and at most ``chunk_bytes`` bytes, unless its
    single line is longer, then it holds just that line. The last chunk may end without
    ``\\n``. Line numbers are 1-based and count every line, blank ones too. A UTF-8 BOM at the
    start of the member is dropped. Lines are counted in bulk (NumPy), never one by one.

    Args:
        member: what to read.
        settings: limits (and ``chunk_bytes`` default).
        chunk_bytes: target chunk size; defaults to ``settings.chunk_bytes``.
        budget: the load's shared byte budget.

    Raises:
        InputError, UnsafeArchiveError: while reading, as :meth:`Member.open`.

    Examples:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp(), "x.log")
        >>> _ = p.write_bytes(b"a\\nbb\\n\\ncccccc\\nd")
        >>> list(iter_chunks(Member(str(p), p, None), chunk_bytes=5))
        [(1, b'a\\nbb\\n'), (3, b'\\n'), (4, b'cccccc\\n'), (5, b'd')]
    """
    size = (
        chunk_bytes if chunk_bytes is not None else (settings or member._settings or Settings()).chunk_bytes
    )
    if size < 1:
        raise ValueError("chunk_bytes must be positive")
    with member.open(settings=settings, budget=budget) as f:
        yield from _chunks(f, size)


def _count_newlines(data: bytes) -> int:
    """``data.count(b"\\n")``, four times faster on big chunks (NumPy over 8 MiB slices).

    Examples:
        >>> _count_newlines(b"a\\n\\nb"), _count_newlines(b"\\n" * (3 * _COUNT_SLICE + 1))
        (2, 25165825)
    """
    if len(data) < _COUNT_SLICE:
        return data.count(b"\n")
    view = np.frombuffer(data, dtype=np.uint8)
    mask = np.empty(min(len(view), _COUNT_SLICE), dtype=bool)
    total = 0
    for start in range(0, len(view), _COUNT_SLICE):
        part = view[start : start + _COUNT_SLICE]
        out = mask[: len(part)]
        np.equal(part, 10, out=out)
        total += int(np.count_nonzero(out))
    return total


def _chunks(f: BinaryIO, size: int) -> Iterator[tuple[int, bytes]]:
    """Cut the stream ``f`` into whole-line chunks (see :func:`iter_chunks`).

    ``pending`` holds bytes read but not yet yielded, starting at a line start; ``plen`` is
    their length. Reads fill ``pending`` up to ``size``; a chunk is cut at the last ``\\n``
    within ``size`` bytes, or, when there is none, at the first one after.
    """
    lineno = 1
    pending: list[bytes] = []
    plen = 0
    first = True

    def take(data: bytes, start: int, end: int) -> bytes:
        nonlocal pending, plen
        if pending:
            chunk = b"".join([*pending, memoryview(data)[start:end]])
            pending, plen = [], 0
            return chunk
        return data if start == 0 and end == len(data) else data[start:end]

    while True:
        want = size - plen if plen < size else max(plen, _BLOCK)
        data = f.read(max(want, len(BOM)) if first else want)
        if not data:
            break
        if first:
            first = False
            while len(data) < len(BOM) and (more := f.read(len(BOM))):
                data += more
            if data.startswith(BOM):
                data = data[len(BOM) :]
                if not data:
                    continue
        pos, n = 0, len(data)
        while pos < n:
            room = size - plen
            if room > 0 and n - pos < room:
                pending.append(data[pos:] if pos else data)
                plen += n - pos
                break
            cut = data.rfind(b"\n", pos, pos + room) if room > 0 else -1
            if cut < 0 and pending and any(b"\n" in p for p in pending):
                joined = b"".join(pending)
                last = joined.rfind(b"\n") + 1
                chunk, rest = joined[:last], joined[last:]
                pending, plen = ([rest] if rest else []), len(rest)
                yield lineno, chunk
                lineno += _count_newlines(chunk)
                continue
            if cut < 0:
                cut = data.find(b"\n", pos + max(room, 0))
            if cut < 0:
                pending.append(data[pos:] if pos else data)
                plen += n - pos
                break
            chunk = take(data, pos, cut + 1)
            yield lineno, chunk
            lineno += _count_newlines(chunk)
            pos = cut + 1
    if plen:
        yield lineno, b"".join(pending)

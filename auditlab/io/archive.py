"""Turn user paths into safe, decompressed byte streams with provenance.

A *member* is one stream of log bytes: a plain file, a gzip file, or a ZIP member (gzip'd or
not, in folders, or inside a ZIP one level deep). Content decides the container, not the name.

Safety: nothing is ever extracted to disk. ZIP members are decoded here, in memory, block by
block, by the decompressors' bounded ``max_length`` calls (``zipfile`` itself decodes bzip2 and
LZMA members in unbounded steps, so it is only used to list the central directory). Every
stream counts the bytes it yields against :class:`~auditlab.config.Settings`:
``max_member_bytes`` per member, ``max_ratio`` per compression layer once past 1 MiB of
output, and ``max_total_bytes`` over a whole load through a shared :class:`ByteBudget`.
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

import bz2
import gzip
import io
import itertools
import lzma
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np

from auditlab._types import PathLike
from auditlab.config import Settings
from auditlab.errors import InputError, UnsafeArchiveError
from auditlab.io.detect import BOM, sniff_container

__all__ = ["ByteBudget", "Member", "iter_chunks", "iter_members", "read_head", "read_member"]

_MiB = 1024 * 1024
_BLOCK = 4 * _MiB  # most bytes one layer yields per read
_RAW_BLOCK = 64 * 1024  # compressed bytes read at a time from a ZIP member
_RATIO_FLOOR = _MiB  # the ratio limit applies past this much output
_TAIL = 4 * _MiB  # end of a nested ZIP kept in memory (central directory)
_LZMA_DICT_MAX = 256 * _MiB  # larger LZMA dictionaries are refused (memory)
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_CORRUPT = (zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError, ValueError)
_COUNT_SLICE = 8 * _MiB  # newlines are counted with NumPy in slices this big
_SKIP_DIRS = frozenset({"__MACOSX"})


# --------------------------------------------------------------------------- budget


@dataclass
class ByteBudget:
    """Decompressed bytes one load may still read, shared by all its members.

    Examples:
        >>> b = ByteBudget(limit=10)
        >>> b.charge(4, source="a"); b.used
        4
        >>> b.charge(7, source="b")
        Traceback (most recent call last):
        auditlab.errors.UnsafeArchiveError: b: the load exceeds max_total_bytes (10 bytes)
    """

    limit: int
    used: int = 0

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> ByteBudget:
        """A fresh budget of ``settings.max_total_bytes``."""
        return cls(limit=(settings or Settings()).max_total_bytes)

    def charge(self, n: int, *, source: str) -> None:
        """Count ``n`` more bytes read from ``source``; raise past the limit."""
        self.used += n
        if self.used > self.limit:
            raise UnsafeArchiveError(f"the load exceeds max_total_bytes ({self.limit} bytes)", source=source)


# --------------------------------------------------------------------------- members


@dataclass(frozen=True, slots=True)
class _Entry:
    """What the central directory says of one ZIP member (sizes used only to bound reads)."""

    name: str
    label: str  # provenance label of this member
    header_offset: int
    compress_size: int
    file_size: int
    method: int
    flags: int
    crc: int

    @classmethod
    def of(cls, info: zipfile.ZipInfo, label: str) -> _Entry:
        return cls(
            info.filename,
            label,
            info.header_offset,
            info.compress_size,
            info.file_size,
            info.compress_type,
            info.flag_bits,
            info.CRC,
        )


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


# --------------------------------------------------------------------------- stream layers


class _Readable(Protocol):
    def readinto(self, b: memoryview, /) -> int | None: ...
    def close(self) -> None: ...


class _Guard(io.RawIOBase):
    """Counts the bytes ``inner`` yields and enforces the limits; wraps corrupt-data errors."""

    def __init__(
        self,
        inner: _Readable,
        *,
        source: str,
        settings: Settings,
        consumed: Callable[[], int] | None = None,
        budget: ByteBudget | None = None,
        also_close: Iterable[_Readable] = (),
    ) -> None:
        super().__init__()
        self._inner = inner
        self._source = source
        self._settings = settings
        self._consumed = consumed
        self._budget = budget
        self._also_close = list(also_close)
        self.produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: memoryview | bytearray) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")[:_BLOCK]
        try:
            n = self._inner.readinto(view) or 0
        except InputError:
            raise
        except _CORRUPT as exc:
            raise InputError(f"corrupt or truncated data ({type(exc).__name__}: {exc})", source=self._source) from exc
        self.produced += n
        self._check(n)
        return n

    def _check(self, n: int) -> None:
        s = self._settings
        if self.produced > s.max_member_bytes:
            what = "decompresses past" if self._consumed else "holds more than"
            raise UnsafeArchiveError(
                f"{what} max_member_bytes ({s.max_member_bytes} bytes); refused",
                source=self._source,
            )
        if self._consumed is not None and self.produced > _RATIO_FLOOR:
            packed = max(self._consumed(), 1)
            if self.produced > s.max_ratio * packed:
                raise UnsafeArchiveError(
                    f"expands more than max_ratio ({s.max_ratio:g}x: {self.produced} bytes out of "
                    f"{packed} compressed); refused as a decompression bomb",
                    source=self._source,
                )
        if self._budget is not None and n:
            self._budget.charge(n, source=self._source)

    def close(self) -> None:
        if not self.closed:
            try:
                self._inner.close()
                for other in self._also_close:
                    other.close()
            finally:
                super().close()


class _Prepend(io.RawIOBase):
    """``head`` followed by the rest of ``inner`` (to peek at magic bytes of any stream)."""

    def __init__(self, head: bytes, inner: _Readable) -> None:
        super().__init__()
        self._head = head
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, b: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return self._inner.readinto(memoryview(b).cast("B")) or 0

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
            super().close()


class _Counter(io.RawIOBase):
    """Counts the bytes read through it (the compressed side of a gzip layer)."""

    def __init__(self, inner: _Readable) -> None:
        super().__init__()
        self._inner = inner
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: memoryview | bytearray) -> int:  # type: ignore[override]
        n = self._inner.readinto(memoryview(b).cast("B")) or 0
        self.count += n
        return n


class _Gunzip(io.RawIOBase):
    """Decompresses a gzip stream (members concatenated too) in bounded steps."""

    def __init__(self, inner: _Readable) -> None:
        super().__init__()
        self._inner = inner
        self._counter = _Counter(inner)
        self._gz = gzip.GzipFile(fileobj=self._counter, mode="rb")

    def consumed(self) -> int:
        return self._counter.count

    def readable(self) -> bool:
        return True

    def readinto(self, b: memoryview | bytearray) -> int:  # type: ignore[override]
        return self._gz.readinto(b)

    def close(self) -> None:
        if not self.closed:
            self._gz.close()
            self._inner.close()
            super().close()


class _Inflate:
    """``zlib`` raw deflate with the ``needs_input`` / ``eof`` face of bz2 and lzma."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(-zlib.MAX_WBITS)
        self._pending = b""

    @property
    def needs_input(self) -> bool:
        return not self._pending

    @property
    def eof(self) -> bool:
        return self._d.eof

    def decompress(self, data: bytes, max_length: int) -> bytes:
        out = self._d.decompress(self._pending + data if self._pending else data, max_length)
        self._pending = self._d.unconsumed_tail
        return out


class _Decompressor(Protocol):
    @property
    def needs_input(self) -> bool: ...
    @property
    def eof(self) -> bool: ...
    def decompress(self, data: bytes, max_length: int) -> bytes: ...


class _ZipMember(io.RawIOBase):
    """Decodes one ZIP member from ``fp`` (any seekable binary file) in bounded steps.

    Reads the local header itself, then the compressed bytes in ``_RAW_BLOCK`` steps, and
    decompresses with ``max_length`` so no step yields more than asked. Checks CRC and size at
    the end. ``consumed`` counts the compressed bytes read so far.
    """

    def __init__(self, fp: io.BufferedReader, entry: _Entry, *, source: str) -> None:
        super().__init__()
        self._fp = fp
        self._source = source
        self._entry = entry
        self.consumed = 0
        self._out = 0
        self._crc = 0
        self._done = False
        if entry.flags & 0x1:
            raise InputError("encrypted ZIP members are not supported", source=source)
        fp.seek(entry.header_offset)
        header = fp.read(_LOCAL_HEADER.size)
        if len(header) < _LOCAL_HEADER.size or not header.startswith(b"PK\x03\x04"):
            raise InputError("corrupt ZIP: no local file header where the directory points", source=source)
        fields = _LOCAL_HEADER.unpack(header)
        name_len, extra_len = fields[9], fields[10]
        raw_name = fp.read(name_len)
        name = raw_name.decode("utf-8" if fields[2] & 0x800 else "cp437", errors="replace")
        if name != entry.name:
            raise InputError(f"corrupt ZIP: local header names {name!r}, directory {entry.name!r}", source=source)
        self._pos = entry.header_offset + _LOCAL_HEADER.size + name_len + extra_len
        self._left = entry.compress_size
        self._dec: _Decompressor | None
        method = entry.method
        if method == zipfile.ZIP_STORED:
            self._dec = None
        elif method == zipfile.ZIP_DEFLATED:
            self._dec = _Inflate()
        elif method == zipfile.ZIP_BZIP2:
            self._dec = bz2.BZ2Decompressor()
        elif method == zipfile.ZIP_LZMA:
            self._dec = self._lzma()
        else:
            raise InputError(f"ZIP compression method {method} is not supported", source=source)

    def _raw(self, n: int) -> bytes:
        n = min(n, self._left)
        if n <= 0:
            return b""
        self._fp.seek(self._pos)
        data = self._fp.read(n)
        self._pos += len(data)
        self._left -= len(data)
        self.consumed += len(data)
        return data

    def _lzma(self) -> lzma.LZMADecompressor:
        head = self._raw(4)
        if len(head) < 4:
            raise InputError("corrupt ZIP: truncated LZMA header", source=self._source)
        props = self._raw(int.from_bytes(head[2:4], "little"))
        if len(props) != 5 or props[0] >= 9 * 5 * 5:
            raise InputError("corrupt ZIP: bad LZMA properties", source=self._source)
        d = props[0]
        dict_size = int.from_bytes(props[1:5], "little")
        if dict_size > _LZMA_DICT_MAX:
            raise UnsafeArchiveError(
                f"LZMA dictionary of {dict_size} bytes is over {_LZMA_DICT_MAX} bytes; refused", source=self._source
            )
        filt = {"id": lzma.FILTER_LZMA1, "dict_size": dict_size, "lc": d % 9, "lp": (d // 9) % 5, "pb": d // 45}
        return lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=[filt])

    def readable(self) -> bool:
        return True

    def readinto(self, b: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._done or not len(b):
            return 0
        n = len(b)
        if self._dec is None:
            out = self._raw(n)
            if not out:
                if self._left:
                    raise InputError("corrupt ZIP: member data ends early", source=self._source)
                self._finish()
                return 0
        else:
            out = self._decode(n)
            if not out:
                self._finish()
                return 0
        self._crc = zlib.crc32(out, self._crc)
        self._out += len(out)
        b[: len(out)] = out
        if self._dec is None and not self._left:
            self._finish()
        return len(out)

    def _decode(self, n: int) -> bytes:
        dec = self._dec
        assert dec is not None
        stalled = 0
        while not dec.eof:
            data = self._raw(_RAW_BLOCK) if dec.needs_input else b""
            out = dec.decompress(data, n)
            if out:
                return out
            if data:
                stalled = 0
                continue
            stalled += 1
            if dec.needs_input or stalled > 3:
                if self._entry.method == zipfile.ZIP_LZMA and not self._entry.flags & 0x2:
                    return b""  # LZMA without an end marker: ends with its input; CRC decides
                raise InputError("corrupt ZIP: compressed data ends early", source=self._source)
        return b""

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        e = self._entry
        if self._out != e.file_size:
            raise InputError(
                f"corrupt ZIP: member holds {self._out} bytes, its header says {e.file_size}", source=self._source
            )
        if self._crc != e.crc:
            raise InputError("corrupt ZIP: CRC-32 mismatch", source=self._source)


class _Rewindable(io.RawIOBase):
    """A seekable view of a forward-only stream, for a ZIP inside a ZIP (``zipfile`` seeks).

    Going back re-opens the stream through ``factory`` and skips forward; the last
    ``_TAIL`` bytes (where the central directory lives) stay in memory once the end is known.
    Memory stays bounded whatever the size; time grows with the number of rewinds.
    """

    def __init__(self, factory: Callable[[], _Guard]) -> None:
        super().__init__()
        self._factory = factory
        self._stream: _Guard | None = None
        self._spos = 0
        self._pos = 0
        self._size: int | None = None
        self._tail = b""
        self._tail_start = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            pos = offset
        elif whence == os.SEEK_CUR:
            pos = self._pos + offset
        else:
            pos = self._length() + offset
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def _length(self) -> int:
        if self._size is None:
            stream = self._factory()
            total = 0
            tail = bytearray()
            buf = bytearray(_BLOCK)
            try:
                while n := stream.readinto(memoryview(buf)):
                    total += n
                    tail += buf[:n]
                    if len(tail) > 2 * _TAIL:
                        del tail[:-_TAIL]
            finally:
                stream.close()
            self._tail = bytes(tail[-_TAIL:])
            self._tail_start = total - len(self._tail)
            self._size = total
        return self._size

    def readinto(self, b: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._size is not None:
            if self._pos >= self._size:
                return 0
            if self._pos >= self._tail_start:
                off = self._pos - self._tail_start
                chunk = self._tail[off : off + len(b)]
                b[: len(chunk)] = chunk
                self._pos += len(chunk)
                return len(chunk)
        if self._stream is None or self._spos > self._pos:
            if self._stream is not None:
                self._stream.close()
            self._stream = self._factory()
            self._spos = 0
        if self._spos < self._pos:
            skip = bytearray(min(_BLOCK, self._pos - self._spos))
            while self._spos < self._pos:
                view = memoryview(skip)[: min(len(skip), self._pos - self._spos)]
                n = self._stream.readinto(view)
                if not n:
                    return 0
                self._spos += n
        n = self._stream.readinto(memoryview(b).cast("B")) or 0
        self._spos += n
        self._pos += n
        return n

    def close(self) -> None:
        if not self.closed:
            if self._stream is not None:
                self._stream.close()
            super().close()


# --------------------------------------------------------------------------- opening


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
                raise InputError("is a ZIP archive: list its members with iter_members()", source=member.source)
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


def iter_members(paths: PathLike | Iterable[PathLike], *, settings: Settings | None = None) -> Iterator[Member]:
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


def read_member(member: Member, *, settings: Settings | None = None, budget: ByteBudget | None = None) -> bytes:
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
    size = chunk_bytes if chunk_bytes is not None else (settings or member._settings or Settings()).chunk_bytes
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

"""The stream layers under :mod:`auditlab.io.archive`: bounded decompression and byte limits.

Each layer is a raw binary stream that yields at most a few MiB per read and counts what it
yields against the limits (:class:`ByteBudget` across a load, ``max_member_bytes`` and
``max_ratio`` per stream, once past ``ratio_floor_bytes`` of output). ZIP members are decoded here block by block with bounded
``max_length`` calls, never by ``zipfile``'s unbounded readers.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from auditlab.config import Settings
from auditlab.errors import InputError, UnsafeArchiveError

_MiB = 1024 * 1024
_BLOCK = 4 * _MiB  # most bytes one layer yields per read
_RAW_BLOCK = 64 * 1024  # compressed bytes read at a time from a ZIP member
_TAIL = 4 * _MiB  # end of a nested ZIP kept in memory (central directory)
_LZMA_DICT_MAX = 256 * _MiB  # larger LZMA dictionaries are refused (memory)
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_CORRUPT = (zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError, ValueError)

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
            raise InputError(
                f"corrupt or truncated data ({type(exc).__name__}: {exc})", source=self._source
            ) from exc
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
        if self._consumed is not None and self.produced > s.ratio_floor_bytes:
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
            raise InputError(
                f"corrupt ZIP: local header names {name!r}, directory {entry.name!r}", source=source
            )
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
                f"LZMA dictionary of {dict_size} bytes is over {_LZMA_DICT_MAX} bytes; refused",
                source=self._source,
            )
        filt = {
            "id": lzma.FILTER_LZMA1,
            "dict_size": dict_size,
            "lc": d % 9,
            "lp": (d // 9) % 5,
            "pb": d // 45,
        }
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
                f"corrupt ZIP: member holds {self._out} bytes, its header says {e.file_size}",
                source=self._source,
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

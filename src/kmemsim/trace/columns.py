"""The replay's front end: trace lines decoded into integer columns, beside the model.

A replay spends its time in the model; reading text (decompressing, cutting
lines into fields, converting numbers) is work another core can do. So a
trace is read by a second process (`DecodedTrace`): it decompresses the
file (trace/source.py, on its own background thread), decodes each block of
lines into columns of integers (`LineDecoder`), and sends them through a
pipe as packed arrays, a block at a time; the pipe holds a few blocks (1 MiB),
so the decoder runs ahead of the replay and memory stays flat however long
the trace. The replay loop (trace/replay.py)
then reads integers: an event kind, the CPU, and up to six values, with
call sites, cache names and GFP texts as ids into string tables that grow
as new strings appear.

The columns hold only what the replay's slow path would read from the same
text. A line the decoder does not read with certainty in the layout every
6.x kernel prints (ftrace `trace`, `trace_pipe`, `trace-cmd report`, `perf
script`) travels as its text, kind RAW: headers, lost-event markers, a
malformed field, a value beyond what a 6.18 kernel can print, an older
kernel's field order, a traced allocation failure. The replay reads those
through trace/events.py's decoders, with every check and message, so a
malformed line is still reported with file:line and what was expected.

Where fork() is missing (or with process=False) the same decoder runs in the
replaying process.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
from array import array
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO, NamedTuple

from kmemsim.trace.events import (
    EVENT_ALIASES,
    KFREE,
    KMALLOC,
    KMEM_CACHE_ALLOC,
    KMEM_CACHE_FREE,
    MAX_PAGE_ORDER,
    MM_PAGE_ALLOC,
    MM_PAGE_FREE,
    MM_PAGE_FREE_BATCHED,
    NULL_POINTERS,
    TRACE_KMALLOC_MAX_SIZE,
    TRACE_MIGRATE_TYPES,
    valid_event_name,
)
from kmemsim.trace.source import TraceError, TraceSource

# Event kinds in the `kind` column.
RAW = 0  # a line sent as text (a header, a malformed line, another layout)
K_KMALLOC = 1
K_KMEM_CACHE_ALLOC = 2
K_KFREE = 3
K_KMEM_CACHE_FREE = 4
K_MM_PAGE_ALLOC = 5
K_MM_PAGE_FREE = 6
K_MM_PAGE_FREE_BATCHED = 7
K_UNKNOWN = 8  # a well-formed event that is not replayed (a: its name's id)
TRUNCATED = -1  # the last line, cut off before its newline (a: index of its text)
# The cpu of a perf script line without the [CPU] column (a per-task
# recording); never a CPU number, nor the replay's "no CPU yet" (-1).
NO_CPU_COLUMN = -2

KIND_OF_EVENT: dict[str, int] = {
    KMALLOC: K_KMALLOC,
    KMEM_CACHE_ALLOC: K_KMEM_CACHE_ALLOC,
    KFREE: K_KFREE,
    KMEM_CACHE_FREE: K_KMEM_CACHE_FREE,
    MM_PAGE_ALLOC: K_MM_PAGE_ALLOC,
    MM_PAGE_FREE: K_MM_PAGE_FREE,
    MM_PAGE_FREE_BATCHED: K_MM_PAGE_FREE_BATCHED,
}

# The string tables the ids index.
SITES, NAMES, GFPS, EVENTS = range(4)
# kind, cpu, a (pointer or pfn: up to 2**64 - 1), b, c, d, e, f (ids, sizes, orders)
_COLUMN_TYPES = "biQiiiii"
_CPU_LIMIT = 1 << 20
_NAMES_CACHED = 512


class Chunk(NamedTuple):
    """A block of decoded lines: one row per line, in order, from line
    `first_lineno` + 1 on."""

    first_lineno: int
    columns: tuple[Sequence[int], ...]  # kind, cpu, a, b, c, d, e, f
    # each row's timestamp text: the last word before the first ': ' (None
    # for a line without one)
    timestamps: Sequence[str | None]
    raw: list[str]  # the texts of RAW and TRUNCATED rows (their a indexes it)
    new_strings: tuple[list[str], ...]  # appended to SITES, NAMES, GFPS, EVENTS


def pointer_value(ptr: str) -> int:
    """A traced pointer as the columns hold it: 0 for a NULL spelling, the
    address for 16 lowercase hex digits (ftrace's %p) or 0x and hex without
    a leading zero (perf's real pointers), else -1 (not a column value)."""
    if ptr in NULL_POINTERS:
        return 0
    if ptr[:2] == "0x":
        digits = ptr[2:]
        if digits[:1] == "0":
            return -1
    elif len(ptr) == 16:
        digits = ptr
    else:
        return -1
    if not (digits.isalnum() and digits.isascii() and (digits.islower() or digits.isdigit())):
        return -1
    try:
        return int(digits, 16) or -1
    except ValueError:
        return -1


def pointer_key(ptr: str) -> int | str:
    """The key of a live object in the replay's pointer map: the column value
    of `ptr`, or for a spelling the columns do not hold, the text itself."""
    value = pointer_value(ptr)
    return value if value > 0 else ptr


class LineDecoder:
    """Decodes trace lines into columns (see Chunk); its string tables persist
    from one block to the next.

    Values a..f by kind:

      kmalloc               a ptr, b call site, c bytes_req, d bytes_alloc, e gfp
      kmem_cache_alloc      the same, and f the cache name
      kfree                 a ptr
      kmem_cache_free       a ptr, f the cache name
      mm_page_alloc         a pfn, c order, d migratetype, e gfp
      mm_page_free          a pfn, c order
      mm_page_free_batched  a pfn
      unknown event         a its name
      RAW, TRUNCATED        a the index of the text in Chunk.raw

    Call sites, names, gfp texts and event names are ids in the string
    tables; a ptr is 0 for NULL (pointer_value); cpu is NO_CPU_COLUMN for a
    perf script line without the [CPU] column. A line is split as the replay's slow path
    splits it: header before the first ': ', the event, then the fields.
    """

    def __init__(self) -> None:
        self.tables: tuple[dict[str, int], ...] = ({}, {}, {}, {})
        self._kinds: dict[str, tuple[int, int]] = {}
        self._cpus: dict[str, int] = {}  # "[001" -> 1
        self._new: tuple[list[str], ...] = ([], [], [], [])

    def _event_kind(self, name: str) -> tuple[int, int]:
        """(kind, id of the name of an event not replayed) of the event text,
        resolved as the replay resolves it (trace/replay.py _new_event_name)."""
        clean = name.strip()
        if clean.startswith("kmem:"):
            clean = clean[5:]
        if not valid_event_name(clean):
            kind = (RAW, 0)
        elif clean in EVENT_ALIASES:
            kind = (KIND_OF_EVENT[EVENT_ALIASES[clean]], 0)
        else:
            kind = (K_UNKNOWN, self._id(EVENTS, clean))
        if len(self._kinds) < _NAMES_CACHED:
            self._kinds[name] = kind
        return kind

    def _cpu(self, text: str) -> int:
        """The CPU number of a '[CPU' text, remembered; ValueError if it is not
        one the columns hold (the line goes as text)."""
        digits = text[1:]
        if not (digits.isdigit() and digits.isascii()) or int(digits) >= _CPU_LIMIT:
            raise ValueError(text)
        if len(self._cpus) < _NAMES_CACHED:
            self._cpus[text] = int(digits)
        return int(digits)

    def _id(self, table: int, text: str) -> int:
        ids = self.tables[table]
        i = ids.get(text)
        if i is None:
            i = ids[text] = len(ids)
            self._new[table].append(text)
        return i

    def decode(self, lines: list[str], first_lineno: int, truncated: bool = False) -> Chunk:
        """Decode `lines`, the first of which is line `first_lineno` + 1 of its
        trace; `truncated`: `lines` is the last line, cut off before its newline."""
        new: tuple[list[str], ...] = ([], [], [], [])
        self._new = new
        cols: tuple[list[int], ...] = ([], [], [], [], [], [], [], [])
        stamps: list[str | None] = []
        raw: list[str] = []
        if truncated:
            for line in lines:
                for col, value in zip(cols, (TRUNCATED, 0, len(raw), 0, 0, 0, 0, 0), strict=True):
                    col.append(value)
                stamps.append(None)
                raw.append(line)
            return Chunk(first_lineno, cols, stamps, raw, new)
        kinds, cpus, aa, bb, cc, dd, ee, ff = cols
        kinds_of = self._kinds
        cpu_of = self._cpus
        event_kind = self._event_kind
        sites, names, gfps = self.tables[0], self.tables[1], self.tables[2]
        new_id = self._id
        nulls = NULL_POINTERS
        max_size = TRACE_KMALLOC_MAX_SIZE
        for line in lines:
            parts = line.split(": ", 2)
            ts = None
            if len(parts) == 3:
                head, name, text = parts
                ts = head[head.rfind(" ") + 1 :]
                k = kinds_of.get(name) or event_kind(name)
                kind = k[0]
                if kind:
                    try:
                        i = head.rfind("[")
                        if i < 0:
                            cpu = NO_CPU_COLUMN
                        else:
                            t = head[i : head.find("]", i)]
                            x = cpu_of.get(t)
                            cpu = self._cpu(t) if x is None else x
                        if not ts.replace(".", "", 1).isdigit():
                            raise ValueError
                        a = b = c = d = e = f = 0
                        fields = text.split(" ")
                        if kind == K_KMEM_CACHE_ALLOC:
                            if not (
                                len(fields) >= 6
                                and fields[0][:10] == "call_site="
                                and fields[1][:4] == "ptr="
                                and fields[2][:5] == "name="
                                and fields[3][:10] == "bytes_req="
                                and fields[4][:12] == "bytes_alloc="
                                and fields[5][:10] == "gfp_flags="
                                and len(fields[2]) > 5
                                and len(fields[5]) > 10
                            ):
                                raise ValueError
                            t = fields[1][4:]
                            if len(t) == 16 and t.isalnum() and t.isascii() and t.islower():
                                a = int(t, 16)  # %p: the common case
                            else:
                                a = pointer_value(t)
                            c = int(fields[3][10:])
                            d = int(fields[4][12:])
                            if a <= 0 or not (0 <= c <= max_size and 0 <= d <= max_size):
                                raise ValueError
                            t = fields[0][10:]
                            x = sites.get(t)
                            b = new_id(SITES, t) if x is None else x
                            t = fields[5][10:]
                            x = gfps.get(t)
                            e = new_id(GFPS, t) if x is None else x
                            t = fields[2][5:]
                            x = names.get(t)
                            f = new_id(NAMES, t) if x is None else x
                        elif kind == K_KMEM_CACHE_FREE:
                            if not (
                                len(fields) == 3
                                and fields[1][:4] == "ptr="
                                and fields[2][:5] == "name="
                                and len(fields[2]) > 5
                            ):
                                raise ValueError
                            t = fields[1][4:]
                            if len(t) == 16 and t.isalnum() and t.isascii() and t.islower():
                                a = int(t, 16)
                            else:
                                a = pointer_value(t)
                                if a < 0:
                                    raise ValueError
                            t = fields[2][5:]
                            x = names.get(t)
                            f = new_id(NAMES, t) if x is None else x
                        elif kind == K_MM_PAGE_ALLOC:
                            if not (
                                len(fields) == 5
                                and fields[1][:6] == "pfn=0x"
                                and fields[2][:6] == "order="
                                and fields[3][:12] == "migratetype="
                                and fields[4][:10] == "gfp_flags="
                                and fields[1] != "pfn=0x0"
                                and len(fields[4]) > 10
                            ):
                                raise ValueError
                            a = int(fields[1][6:], 16)
                            c = int(fields[2][6:])
                            d = int(fields[3][12:])
                            if a < 0 or not (
                                0 <= c <= MAX_PAGE_ORDER and 0 <= d < TRACE_MIGRATE_TYPES
                            ):
                                raise ValueError
                            t = fields[4][10:]
                            x = gfps.get(t)
                            e = new_id(GFPS, t) if x is None else x
                        elif kind == K_KFREE:
                            if not (len(fields) == 2 and fields[1][:4] == "ptr="):
                                raise ValueError
                            t = fields[1][4:]
                            a = 0 if t in nulls else pointer_value(t)
                            if a < 0:
                                raise ValueError
                        elif kind == K_MM_PAGE_FREE:
                            if not (
                                len(fields) == 3
                                and fields[1][:6] == "pfn=0x"
                                and fields[2][:6] == "order="
                            ):
                                raise ValueError
                            a = int(fields[1][6:], 16)
                            c = int(fields[2][6:])
                            if a < 0 or not 0 <= c <= MAX_PAGE_ORDER:
                                raise ValueError
                        elif kind == K_KMALLOC:
                            if not (
                                len(fields) >= 5
                                and fields[0][:10] == "call_site="
                                and fields[1][:4] == "ptr="
                                and fields[2][:10] == "bytes_req="
                                and fields[3][:12] == "bytes_alloc="
                                and fields[4][:10] == "gfp_flags="
                                and len(fields[4]) > 10
                            ):
                                raise ValueError
                            a = pointer_value(fields[1][4:])
                            c = int(fields[2][10:])
                            d = int(fields[3][12:])
                            if a <= 0 or not (0 <= c <= max_size and 0 <= d <= max_size):
                                raise ValueError
                            t = fields[0][10:]
                            x = sites.get(t)
                            b = new_id(SITES, t) if x is None else x
                            t = fields[4][10:]
                            x = gfps.get(t)
                            e = new_id(GFPS, t) if x is None else x
                        elif kind == K_MM_PAGE_FREE_BATCHED:
                            if not (
                                len(fields) == 3
                                and fields[1][:6] == "pfn=0x"
                                and fields[1][6:7] != "-"
                                and fields[2] == "order=0"
                            ):
                                raise ValueError
                            a = int(fields[1][6:], 16)
                        else:  # K_UNKNOWN
                            a = k[1]
                    except ValueError:
                        pass
                    else:
                        kinds.append(kind)
                        cpus.append(cpu)
                        aa.append(a)
                        bb.append(b)
                        cc.append(c)
                        dd.append(d)
                        ee.append(e)
                        ff.append(f)
                        stamps.append(ts)
                        continue
            kinds.append(RAW)
            cpus.append(0)
            aa.append(len(raw))
            bb.append(0)
            cc.append(0)
            dd.append(0)
            ee.append(0)
            ff.append(0)
            stamps.append(ts)
            raw.append(line)
        return Chunk(first_lineno, cols, stamps, raw, new)


def pack_chunk(chunk: Chunk) -> bytes:
    """A chunk as bytes, its columns as packed arrays."""
    columns = tuple(array(t, c) for t, c in zip(_COLUMN_TYPES, chunk.columns, strict=True))
    return pickle.dumps(
        (chunk.first_lineno, columns, chunk.timestamps, chunk.raw, chunk.new_strings),
        protocol=pickle.HIGHEST_PROTOCOL,
    )


def unpack_chunk(data: bytes) -> Chunk:
    """pack_chunk() undone (the columns stay packed arrays: iterating one
    gives its ints)."""
    first, columns, stamps, raw, new = pickle.loads(data)
    return Chunk(first, columns, stamps, raw, new)


def decode_source(source: TraceSource) -> Iterator[Chunk]:
    """The chunks of a trace source, decoded in this process; raises TraceError
    as TraceSource does, after the chunks before the damage."""
    decoder = LineDecoder()
    lineno = 0
    for block in source.blocks():
        if block:  # (a piece of a line: nothing to decode yet)
            yield decoder.decode(block, lineno, source.missing_final_newline)
            lineno += len(block)


# Frames on the pipe: a tag, the payload's length, the payload.
_FRAME = struct.Struct("<cQ")
_CHUNK, _END, _ERROR, _FAILED = b"C", b"E", b"T", b"X"


class DecodedTrace:
    """A trace decoded into chunks, by another process started at once.

    Start it early (the CLI starts it before booting the kernel): the
    process reads and decodes while the parent does other work, and stops
    when the pipe is full. `chunks()` yields the Chunks in order, then sets
    `lines_read`; a damaged stream raises TraceError after the chunks
    before it, as TraceSource does. `close()` (also at the end of chunks())
    stops the process.
    """

    def __init__(self, path: str, *, process: bool = True) -> None:
        self.path = path
        self.source = TraceSource(path)
        self.name = self.source.name
        self.lines_read = 0
        self._pid = 0
        self._pipe: BinaryIO | None = None
        if process and hasattr(os, "fork"):
            self._start()

    def _start(self) -> None:
        r, w = os.pipe()
        _widen(w)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the decoding process
            code = 0
            try:
                os.close(r)
                with open(w, "wb", buffering=1 << 16) as out:
                    _decode_into(self.source, out)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(w)
        self._pid = pid
        self._pipe = open(r, "rb", buffering=1 << 16)  # noqa: SIM115 (closed by close())

    def chunks(self) -> Iterator[Chunk]:
        if self._pipe is None:
            try:
                yield from decode_source(self.source)
            finally:
                self.lines_read = self.source.lines_read
            return
        pipe = self._pipe
        try:
            while True:
                header = pipe.read(_FRAME.size)
                if len(header) < _FRAME.size:
                    raise TraceError(f"{self.name}: the trace decoder stopped unexpectedly")
                tag, size = _FRAME.unpack(header)
                data = pipe.read(size)
                if tag == _CHUNK:
                    yield unpack_chunk(data)
                elif tag == _END:
                    self.lines_read = int(data)
                    return
                elif tag == _ERROR:
                    raise TraceError(data.decode())
                else:
                    raise RuntimeError(f"the trace decoder failed:\n{data.decode()}")
        finally:
            self.close()

    def close(self) -> None:
        """Stop the decoding process (if it still runs) and collect it."""
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        if self._pid:
            pid, self._pid = self._pid, 0
            try:
                if os.waitpid(pid, os.WNOHANG) == (0, 0):
                    import signal

                    os.kill(pid, signal.SIGTERM)
                    os.waitpid(pid, 0)
            except ChildProcessError:
                pass

    def __del__(self) -> None:
        self.close()


# How much the pipe holds: a few blocks, so that the decoder keeps decoding
# while the replay works through the block before (Linux; elsewhere the default).
PIPE_SIZE = 1 << 20


def _widen(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (ImportError, AttributeError, OSError):
        pass


def _decode_into(source: TraceSource, out: Any) -> None:
    """The decoding process: chunks as frames on `out`, then the end or the error."""

    def send(tag: bytes, payload: bytes) -> None:
        out.write(_FRAME.pack(tag, len(payload)))
        out.write(payload)
        out.flush()

    try:
        for chunk in decode_source(source):
            send(_CHUNK, pack_chunk(chunk))
    except TraceError as e:
        send(_ERROR, str(e).encode())
        return
    except BrokenPipeError:
        return
    except Exception:
        import traceback

        send(_FAILED, traceback.format_exc().encode())
        return
    send(_END, str(source.lines_read).encode())


__all__ = [
    "Chunk",
    "DecodedTrace",
    "LineDecoder",
    "decode_source",
    "pack_chunk",
    "pointer_key",
    "pointer_value",
    "unpack_chunk",
]

"""The kmem tracepoints (include/trace/events/kmem.h) as trace text prints them.

A line of ftrace text (`trace`, `trace_pipe`), of `trace-cmd report` or of
`perf script` is a header, the event name and the fields of its print format:

    task-4429    [001] .....  9255.582785: kmalloc: call_site=... ptr=... ...
    task 12256 [000] 10641.976447:              kmem:kmalloc: call_site=...

`split_line` cuts a line there: the CPU number (the bracketed column, set
for the per-CPU slab and page lists), the timestamp text, the event name
(without perf's "kmem:" system prefix) and the field text. `DECODERS`
maps each event name, including older kernels' spellings, to a function
that turns the field text into the values a replay needs; the fast path
reads the fields by position in the 6.x order and checks their names, and
any other order, extra or missing optional fields (older kernels, trace-cmd
plugins) fall back to reading `key=value` pairs by name.

Event spellings over kernel history: kmalloc_node and kmem_cache_alloc_node
(merged into kmalloc and kmem_cache_alloc in 6.1, which gained `node=`);
mm_page_free_direct (renamed mm_page_free in 3.3) and mm_pagevec_free
(renamed mm_page_free_batched in 3.3); `call_site=` printed as a hex
address before 5.x (`%lx`) and as a symbol since (`%pS`); `pfn=` in decimal
before 4.x (`%lu`) and in hex since (`0x%lx`); `name=` in kmem_cache_alloc
only since 6.0; `accounted=` since 6.0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from kmemsim.include.linux.slab import KMALLOC_MAX_SIZE
from kmemsim.mm.page_alloc import MIGRATE_TYPES

# Canonical event names and the spellings that mean the same event.
KMALLOC = "kmalloc"
KMEM_CACHE_ALLOC = "kmem_cache_alloc"
KFREE = "kfree"
KMEM_CACHE_FREE = "kmem_cache_free"
MM_PAGE_ALLOC = "mm_page_alloc"
MM_PAGE_FREE = "mm_page_free"
MM_PAGE_FREE_BATCHED = "mm_page_free_batched"

EVENT_ALIASES: dict[str, str] = {
    "kmalloc": KMALLOC,
    "kmalloc_node": KMALLOC,
    "kmem_cache_alloc": KMEM_CACHE_ALLOC,
    "kmem_cache_alloc_node": KMEM_CACHE_ALLOC,
    "kfree": KFREE,
    "kmem_cache_free": KMEM_CACHE_FREE,
    "mm_page_alloc": MM_PAGE_ALLOC,
    "mm_page_free": MM_PAGE_FREE,
    "mm_page_free_direct": MM_PAGE_FREE,
    "mm_page_free_batched": MM_PAGE_FREE_BATCHED,
    "mm_pagevec_free": MM_PAGE_FREE_BATCHED,
}

# What each event's field text must hold (for malformed-line messages).
EXPECTED: dict[str, str] = {
    KMALLOC: "call_site=SYM ptr=PTR bytes_req=N bytes_alloc=N gfp_flags=FLAGS",
    KMEM_CACHE_ALLOC: "call_site=SYM ptr=PTR [name=CACHE] bytes_req=N bytes_alloc=N "
    "gfp_flags=FLAGS",
    KFREE: "call_site=SYM ptr=PTR",
    KMEM_CACHE_FREE: "call_site=SYM ptr=PTR [name=CACHE]",
    MM_PAGE_ALLOC: "page=PTR pfn=PFN order=N migratetype=N gfp_flags=FLAGS",
    MM_PAGE_FREE: "page=PTR pfn=PFN order=N",
    MM_PAGE_FREE_BATCHED: "page=PTR pfn=PFN order=0",
}

HEADER_EXPECTED = "TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: FIELDS"

# How traces print a NULL pointer: hashed %p of NULL stays all zeroes,
# perf prints 0x0, older kernels and printk "(null)".
NULL_POINTERS = frozenset(
    {"0000000000000000", "00000000", "0x0", "0", "(null)", "(nil)", "0x0000000000000000"}
)


# What a kmem tracepoint of a 6.18 kernel can print (include/trace/events/kmem.h
# and the types behind it); a value outside is a malformed line, never replayed.
#  - order (unsigned int, printed %d): 0..MAX_PAGE_ORDER. include/linux/mmzone.h
#    makes MAX_PAGE_ORDER 10 without ARCH_FORCE_MAX_ORDER (x86 always);
#    __alloc_pages() refuses a larger order before the tracepoint. A replay on a
#    machine configured with a larger MAX_PAGE_ORDER accepts up to its own.
#  - migratetype (int): an enum migratetype value, 0..MIGRATE_TYPES-1 (6.18 with
#    CONFIG_MEMORY_ISOLATION and without CONFIG_CMA: 5 types).
#  - bytes_req, bytes_alloc (size_t, %zu): never negative; an allocation that
#    succeeded is at most KMALLOC_MAX_SIZE (PAGE_SIZE << MAX_PAGE_ORDER, 4 MiB:
#    kmalloc() fails above it, kmem_cache_create() refuses bigger objects and a
#    slab's order cannot exceed MAX_PAGE_ORDER). A failed large kmalloc is traced
#    with ptr=NULL and the size asked for, which may be anything.
#  - ptr (%p, hashed or real), page: hexadecimal, or a NULL spelling.
#  - name (__string): a cache name, never empty (kmem_cache_create() refuses one).
MAX_PAGE_ORDER = 10
TRACE_MIGRATE_TYPES = MIGRATE_TYPES
TRACE_KMALLOC_MAX_SIZE = KMALLOC_MAX_SIZE


class BadLine(ValueError):
    """A line that is not what its format says it should be."""


def check_order(order: int, event: str, max_order: int = MAX_PAGE_ORDER) -> int:
    """`order` if a kernel can trace it for `event`, else BadLine."""
    if not 0 <= order <= max_order:
        raise BadLine(
            f"{event}: order={order} is outside 0..{max_order} (MAX_PAGE_ORDER), "
            f"expected '{EXPECTED[event]}'"
        )
    return order


def check_migratetype(mt: int) -> int:
    """`mt` if it is an enum migratetype value of 6.18, else BadLine."""
    if not 0 <= mt < TRACE_MIGRATE_TYPES:
        raise BadLine(
            f"{MM_PAGE_ALLOC}: migratetype={mt} is outside 0..{TRACE_MIGRATE_TYPES - 1} "
            f"(enum migratetype), expected '{EXPECTED[MM_PAGE_ALLOC]}'"
        )
    return mt


def check_pointer(ptr: str, event: str) -> str:
    """`ptr` if it is a pointer as %p prints one (hexadecimal, or NULL), else BadLine."""
    if ptr not in NULL_POINTERS:
        try:
            int(ptr, 16)
        except ValueError:
            raise BadLine(
                f"{event}: ptr={ptr!r} is not a pointer (hexadecimal), expected '{EXPECTED[event]}'"
            ) from None
    return ptr


def check_sizes(event: str, ptr: str, req: int, alloc: int) -> None:
    """BadLine unless bytes_req and bytes_alloc are sizes the kernel can trace."""
    for key, value in (("bytes_req", req), ("bytes_alloc", alloc)):
        if value < 0:
            raise BadLine(
                f"{event}: {key}={value} is negative (a size_t), expected '{EXPECTED[event]}'"
            )
        if value > TRACE_KMALLOC_MAX_SIZE and ptr not in NULL_POINTERS:
            raise BadLine(
                f"{event}: {key}={value} is above KMALLOC_MAX_SIZE ({TRACE_KMALLOC_MAX_SIZE}), "
                "the most an allocation that succeeded can be"
            )


def check_name(name: str | None, event: str) -> str | None:
    """`name` unless it is present but empty (BadLine)."""
    if name is not None and not name:
        raise BadLine(f"{event}: name= is empty, expected '{EXPECTED[event]}'")
    return name


def check_timestamp(ts: str) -> str:
    """`ts` if it is a trace timestamp (seconds.fraction, or a counter), else BadLine."""
    if not ts.replace(".", "", 1).isdigit():
        raise BadLine(f"expected a timestamp (SECONDS.MICROSECONDS) before the event, got {ts!r}")
    return ts


def parse_cpu(text: str) -> int:
    """The number of a [CPU] column, else BadLine."""
    if not text.isdigit():
        raise BadLine(f"expected a CPU number in [{text}]")
    return int(text)


def split_line(line: str) -> tuple[int, str, str, str]:
    """(cpu, timestamp, event, fields) of one trace line; raises BadLine.

    >>> split_line("  task-1 [001] .....  9.5: kfree: call_site=f+0x1/0x2 ptr=0000000000000000")
    (1, '9.5', 'kfree', 'call_site=f+0x1/0x2 ptr=0000000000000000')
    """
    parts = line.split(": ", 2)
    if len(parts) != 3:
        raise BadLine(f"expected '{HEADER_EXPECTED}'")
    head, event, fields = parts
    i = head.rfind("[")
    j = head.find("]", i)
    if i < 0 or j < 0:
        raise BadLine(f"expected a [CPU] column: '{HEADER_EXPECTED}'")
    cpu = parse_cpu(head[i + 1 : j])
    event = event.strip()
    if event.startswith("kmem:"):
        event = event[5:]
    return cpu, check_timestamp(head[head.rfind(" ") + 1 :]), event, fields


def valid_event_name(name: str) -> bool:
    """Whether `name` looks like a tracepoint name (system:event or event)."""
    return bool(name) and name.replace("_", "").replace(":", "").isalnum() and name.isascii()


def fields_by_name(text: str) -> dict[str, str]:
    """key=value pairs of a field text; tokens without '=' (plugin decorations) are skipped."""
    out: dict[str, str] = {}
    for token in text.split():
        key, eq, value = token.partition("=")
        if eq:
            out[key] = value
    return out


def _need(f: dict[str, str], key: str, event: str) -> str:
    value = f.get(key)
    if value is None:
        raise BadLine(f"{event}: missing {key}=, expected '{EXPECTED[event]}'")
    return value


def _number(value: str, key: str, event: str, base: int = 10) -> int:
    try:
        return int(value, base)
    except ValueError:
        raise BadLine(
            f"{event}: {key}={value!r} is not a number, expected '{EXPECTED[event]}'"
        ) from None


def _pfn(value: str, event: str) -> int:
    # 0x%lx since 4.x, %lu before.
    pfn = _number(value, "pfn", event, 0 if value[:2] in ("0x", "0X") else 10)
    if pfn < 0:
        raise BadLine(f"{event}: pfn={value} is negative, expected '{EXPECTED[event]}'")
    return pfn


# --------------------------------------------------------------------------- decoders
# Each returns the event's values as a tuple, or raises BadLine.


def _parse_kmalloc(text: str) -> tuple[str, str, int, int, str]:
    """(call_site, ptr, bytes_req, bytes_alloc, gfp_flags) of kmalloc / kmalloc_node."""
    f = text.split(" ")
    if (
        len(f) >= 5
        and f[2][:10] == "bytes_req="
        and f[3][:12] == "bytes_alloc="
        and f[4][:10] == "gfp_flags="
        and f[0][:10] == "call_site="
        and f[1][:4] == "ptr="
    ):
        try:
            return f[0][10:], f[1][4:], int(f[2][10:]), int(f[3][12:]), f[4][10:]
        except ValueError:
            pass
    d = fields_by_name(text)
    return (
        _need(d, "call_site", KMALLOC),
        _need(d, "ptr", KMALLOC),
        _number(_need(d, "bytes_req", KMALLOC), "bytes_req", KMALLOC),
        _number(_need(d, "bytes_alloc", KMALLOC), "bytes_alloc", KMALLOC),
        _need(d, "gfp_flags", KMALLOC),
    )


def _parse_kmem_cache_alloc(text: str) -> tuple[str, str, str | None, int, int, str]:
    """(call_site, ptr, name or None, bytes_req, bytes_alloc, gfp_flags)."""
    f = text.split(" ")
    if (
        len(f) >= 6
        and f[2][:5] == "name="
        and f[3][:10] == "bytes_req="
        and f[4][:12] == "bytes_alloc="
        and f[5][:10] == "gfp_flags="
        and f[0][:10] == "call_site="
        and f[1][:4] == "ptr="
    ):
        try:
            return f[0][10:], f[1][4:], f[2][5:], int(f[3][10:]), int(f[4][12:]), f[5][10:]
        except ValueError:
            pass
    d = fields_by_name(text)
    e = KMEM_CACHE_ALLOC
    return (
        _need(d, "call_site", e),
        _need(d, "ptr", e),
        d.get("name"),
        _number(_need(d, "bytes_req", e), "bytes_req", e),
        _number(_need(d, "bytes_alloc", e), "bytes_alloc", e),
        _need(d, "gfp_flags", e),
    )


def _parse_kfree(text: str) -> tuple[str, str]:
    """(call_site, ptr) of kfree."""
    f = text.split(" ")
    if len(f) == 2 and f[0][:10] == "call_site=" and f[1][:4] == "ptr=" and len(f[1]) > 4:
        return f[0][10:], f[1][4:]
    d = fields_by_name(text)
    return _need(d, "call_site", KFREE), _need(d, "ptr", KFREE)


def _parse_kmem_cache_free(text: str) -> tuple[str, str, str | None]:
    """(call_site, ptr, name or None) of kmem_cache_free."""
    f = text.split(" ")
    if (
        len(f) == 3
        and f[0][:10] == "call_site="
        and f[1][:4] == "ptr="
        and f[2][:5] == "name="
        and len(f[2]) > 5
    ):
        return f[0][10:], f[1][4:], f[2][5:]
    d = fields_by_name(text)
    e = KMEM_CACHE_FREE
    return _need(d, "call_site", e), _need(d, "ptr", e), d.get("name")


def _parse_mm_page_alloc(text: str) -> tuple[int, int, int, str]:
    """(pfn, order, migratetype, gfp_flags); pfn -1 for a failed allocation."""
    f = text.split(" ")
    e = MM_PAGE_ALLOC
    if (
        len(f) == 5
        and f[1][:6] == "pfn=0x"
        and f[1][6:7] != "-"
        and f[2][:6] == "order="
        and f[3][:12] == "migratetype="
        and f[4][:10] == "gfp_flags="
    ):
        try:
            pfn = int(f[1][6:], 16)
            if pfn == 0 and f[0][5:] in NULL_POINTERS:
                pfn = -1
            return pfn, int(f[2][6:]), int(f[3][12:]), f[4][10:]
        except ValueError:
            pass
    d = fields_by_name(text)
    page = _need(d, "page", e)
    pfn = _pfn(_need(d, "pfn", e), e)
    if pfn == 0 and page in NULL_POINTERS:
        pfn = -1
    return (
        pfn,
        _number(_need(d, "order", e), "order", e),
        _number(_need(d, "migratetype", e), "migratetype", e),
        _need(d, "gfp_flags", e),
    )


def _parse_mm_page_free(text: str) -> tuple[int, int]:
    """(pfn, order) of mm_page_free (mm_page_free_direct)."""
    f = text.split(" ")
    if len(f) == 3 and f[1][:6] == "pfn=0x" and f[1][6:7] != "-" and f[2][:6] == "order=":
        try:
            return int(f[1][6:], 16), int(f[2][6:])
        except ValueError:
            pass
    d = fields_by_name(text)
    e = MM_PAGE_FREE
    return _pfn(_need(d, "pfn", e), e), _number(_need(d, "order", e), "order", e)


def _parse_mm_page_free_batched(text: str) -> tuple[int]:
    """(pfn,) of mm_page_free_batched (mm_pagevec_free); always order 0."""
    f = text.split(" ")
    if len(f) == 3 and f[1][:6] == "pfn=0x" and f[1][6:7] != "-" and f[2] == "order=0":
        try:
            return (int(f[1][6:], 16),)
        except ValueError:
            pass
    d = fields_by_name(text)
    e = MM_PAGE_FREE_BATCHED
    return (_pfn(_need(d, "pfn", e), e),)


def decode_kmalloc(text: str) -> tuple[str, str, int, int, str]:
    """(call_site, ptr, bytes_req, bytes_alloc, gfp_flags) of kmalloc / kmalloc_node."""
    values = _parse_kmalloc(text)
    check_pointer(values[1], KMALLOC)
    check_sizes(KMALLOC, values[1], values[2], values[3])
    return values


def decode_kmem_cache_alloc(text: str) -> tuple[str, str, str | None, int, int, str]:
    """(call_site, ptr, name or None, bytes_req, bytes_alloc, gfp_flags)."""
    values = _parse_kmem_cache_alloc(text)
    check_pointer(values[1], KMEM_CACHE_ALLOC)
    check_name(values[2], KMEM_CACHE_ALLOC)
    check_sizes(KMEM_CACHE_ALLOC, values[1], values[3], values[4])
    return values


def decode_kfree(text: str) -> tuple[str, str]:
    """(call_site, ptr) of kfree."""
    values = _parse_kfree(text)
    check_pointer(values[1], KFREE)
    return values


def decode_kmem_cache_free(text: str) -> tuple[str, str, str | None]:
    """(call_site, ptr, name or None) of kmem_cache_free."""
    values = _parse_kmem_cache_free(text)
    check_pointer(values[1], KMEM_CACHE_FREE)
    check_name(values[2], KMEM_CACHE_FREE)
    return values


def decode_mm_page_alloc(text: str, max_order: int = MAX_PAGE_ORDER) -> tuple[int, int, int, str]:
    """(pfn, order, migratetype, gfp_flags); pfn -1 for a failed allocation."""
    values = _parse_mm_page_alloc(text)
    check_order(values[1], MM_PAGE_ALLOC, max_order)
    check_migratetype(values[2])
    return values


def decode_mm_page_free(text: str, max_order: int = MAX_PAGE_ORDER) -> tuple[int, int]:
    """(pfn, order) of mm_page_free (mm_page_free_direct)."""
    values = _parse_mm_page_free(text)
    check_order(values[1], MM_PAGE_FREE, max_order)
    return values


def decode_mm_page_free_batched(text: str) -> tuple[int]:
    """(pfn,) of mm_page_free_batched (mm_pagevec_free); always order 0."""
    return _parse_mm_page_free_batched(text)


DECODERS: dict[str, Callable[[str], tuple[Any, ...]]] = {
    KMALLOC: decode_kmalloc,
    KMEM_CACHE_ALLOC: decode_kmem_cache_alloc,
    KFREE: decode_kfree,
    KMEM_CACHE_FREE: decode_kmem_cache_free,
    MM_PAGE_ALLOC: decode_mm_page_alloc,
    MM_PAGE_FREE: decode_mm_page_free,
    MM_PAGE_FREE_BATCHED: decode_mm_page_free_batched,
}
for _alias, _canonical in EVENT_ALIASES.items():
    DECODERS[_alias] = DECODERS[_canonical]


class Event(NamedTuple):
    """One decoded event: what `iter_events` yields (tests, scripts; the replay
    itself dispatches without building these)."""

    lineno: int
    cpu: int
    timestamp: str
    name: str  # canonical name (kmalloc_node -> kmalloc)
    values: tuple[Any, ...]


def is_skippable(line: str) -> bool:
    """Blank lines, '#' headers of the `trace` file, trace-cmd's 'cpus=N', 'version = N'
    and 'CPU N is empty'."""
    s = line.strip()
    if s.startswith("CPU ") and s.endswith(" is empty"):  # trace-cmd report
        return True
    return (
        not s
        or s[0] == "#"
        or s.startswith("cpus=")
        or s.startswith("version =")
        or (s.startswith("#####") and s.endswith("#####"))
    )


def lost_events(line: str) -> int | None:
    """N from a 'CPU:1 [LOST N EVENTS]' line, else None."""
    i = line.find("[LOST ")
    if i < 0:
        return None
    try:
        return int(line[i + 6 :].split()[0])
    except (ValueError, IndexError):
        return None


def iter_events(path: str) -> Iterator[Event]:
    """Decoded kmem events of a trace (generator of Event); malformed lines, and a
    last line cut off before its newline, raise BadLine with the line number in
    the message; unknown events and headers are skipped."""
    from kmemsim.trace.source import TraceSource

    source = TraceSource(path)
    lineno = 0
    for block in source.blocks():
        if source.missing_final_newline:
            raise BadLine(
                f"{source.name}:{lineno + 1}: the file ends in the middle of a line (truncated)"
            )
        for line in block:
            lineno += 1
            if is_skippable(line) or lost_events(line) is not None:
                continue
            try:
                cpu, ts, name, text = split_line(line)
                decode = DECODERS.get(name)
                if decode is None:
                    continue
                values = decode(text)
            except BadLine as e:
                raise BadLine(f"{source.name}:{lineno}: {e}") from None
            yield Event(lineno, cpu, ts, EVENT_ALIASES[name], values)

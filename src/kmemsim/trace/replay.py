"""Replay of kmem trace events through the model: each event drives the kernel.

A real kernel's allocations and frees, read from its trace, are made again on
a booted kmemsim kernel, in order, on the CPU that made them:

    kmalloc(_node)            k.kmalloc(bytes_req, gfp)
    kmem_cache_alloc(_node)   k.kmem_cache_alloc(cache named in the trace, gfp)
    kfree / kmem_cache_free   the model's free of the object the pointer maps to
    mm_page_alloc             k.alloc_pages(gfp, order), or with follow_pfn the
                              very block the kernel took (take_free_block)
    mm_page_free(_batched)    __free_pages() of the block the pfn maps to

Pointers in a trace are the kernel's (hashed %p in ftrace, real in perf);
each maps to the model's own address through `objects`, and each pfn to the
model's block through `pages`. What a trace shows but does not spell out is
handled as the kernel meant it and counted by kind (`quirks`):

  free_before_trace       a free of an object allocated before tracing began
  implied_free            an allocation returning a pointer still live in the
                          trace: the object was freed by a path that emits no
                          event (bulk and RCU-sheaf frees); it is freed first
  kfree_null              kfree(NULL), traced but a no-op
  kfree_of_cache_object   kfree() of a kmem_cache_alloc() object (legal: kfree
                          finds the cache from the slab)
  merged_cache            kmem_cache_alloc naming a cache that the model, like
                          sysfs, shows merged (a link to ":0000024"); the
                          object comes from the merged cache
  batched_repeat          mm_page_free_batched repeating the mm_page_free just
                          before it: one free reported twice
  page_free_before_trace  a page freed that was allocated before tracing began
  split_block_free        a free of part of a block allocated whole (split_page(),
                          a split large folio): the model's block goes back when
                          its last part does
  kmalloc_large_pages     the mm_page_alloc a large kmalloc made; the model's
                          kmalloc makes its own, so the traced one is undone
                          (and its mm_page_free is the model's kfree:
                          kmalloc_large_pages_freed)
  traced_alloc_failure    the real kernel returned NULL; nothing to replay
  no_cpu_column           a perf script line without the [CPU] column (a per-task
                          recording): replayed on CPU 0
  follow_pfn_block_busy   (follow_pfn) the traced block is RAM here but (partly)
                          in use in the model (its own slabs, a boot-time
                          allocation): the model chooses the block instead
  follow_pfn_not_ram      (follow_pfn) the traced pfn is not RAM of this machine
                          (beyond a smaller what-if machine's memory, or in a
                          hole of its memory map): the model chooses the block

With `verify`, each event is also checked against what the model computes,
never against the trace's own earlier events (`mismatches`, `checked`):
kmalloc's bytes_alloc must equal ksize() of the model's object; a
kmem_cache_alloc's bytes_alloc the size of the model's cache (for a cache
the profile does not know, made from bytes_req with the profile's defaults,
a difference is its own kind, "unknown cache geometry"); mm_page_alloc's
migratetype the model's gfp_migratetype() of the mask, the zone holding the
traced pfn must be able to serve the order now and be the zone the model
allocates from; mm_page_free's order the order at which the model holds the
block (with follow_pfn the traced pfn itself, whose block must also be free
in the model when the trace allocates it, unless the model's own allocations
hold it); and the model must not fail where the kernel succeeded. Events the
model cannot check (frees, which name an object but carry nothing the model
computes; objects and pages from before the trace; traced failures) are
counted by reason in `unchecked`.

Statistics are gathered in the same pass (trace/stats.py) and the model is
sampled at intervals for the report's time series (trace/report.py). The
loop is written for speed: it reads the integer columns that
trace/columns.py decodes in another process (event kind, CPU, pointer or
pfn, sizes, order, ids of call sites, caches and GFP texts), and the
handlers take those values; a line sent as text (RAW: headers, malformed or
unusual lines) is read here by trace/events.py's decoders, which then call
the same handlers. Traced pointers are keyed by their value
(columns.pointer_key).
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from kmemsim.errors import KmemsimError, Oops
from kmemsim.include.linux.gfp_types import parse_gfp
from kmemsim.include.linux.slab import KMALLOC_MAX_CACHE_SIZE, KMALLOC_MAX_SIZE, SlabFlags
from kmemsim.mm.page_alloc import (
    MIGRATE_TYPES,
    allocated_order,
    get_order,
    gfp_migratetype,
    zone_has_free_block,
)
from kmemsim.trace import events as ev
from kmemsim.trace.columns import (
    GFPS,
    K_KFREE,
    K_KMALLOC,
    K_KMEM_CACHE_ALLOC,
    K_KMEM_CACHE_FREE,
    K_MM_PAGE_ALLOC,
    K_MM_PAGE_FREE,
    K_MM_PAGE_FREE_BATCHED,
    NO_CPU_COLUMN,
    RAW,
    DecodedTrace,
    pointer_key,
)
from kmemsim.trace.events import NULL_POINTERS, BadLine
from kmemsim.trace.follow_pfn import take_free_block
from kmemsim.trace.model_view import ModelView
from kmemsim.trace.source import TraceError
from kmemsim.trace.stats import ReplayStats

if TYPE_CHECKING:
    from kmemsim.init.main import Kernel

# A trace line read the slow way: the last [CPU] column, the timestamp, the event.
_EVENT_LINE = re.compile(
    r"^.*\[(?P<cpu>\d{1,5})\][^\[\]]*?\s(?P<ts>\d+\.\d+):\s+(?P<event>[A-Za-z_][\w:]*):"
    r"\s(?P<fields>.*)$"
)
MAX_EXAMPLES = 5
# How many recent mm_page_free pfns to remember for mm_page_free_batched (a
# batch is at most a pcp list's worth of pages).
RECENT_FREES = 4096
MAX_MALFORMED_SHOWN = 20

# The mismatch kind of a kmem_cache_alloc of a cache the profile does not know,
# whose size from the profile's defaults differs from the traced bytes_alloc.
UNKNOWN_CACHE_GEOMETRY = "unknown cache geometry"
# Why a verified replay could not check an event against the model.
UNCHECKED_FAILURE = "traced allocation failure (nothing allocated)"
UNCHECKED_UNKNOWN_CACHE = "kmem_cache_alloc of a cache the profile does not know"
UNCHECKED_SLAB_FREE = "slab free (names its object; nothing the model computes)"
UNCHECKED_BEFORE_TRACE = "free of what was allocated before the trace"
UNCHECKED_REPEAT = "mm_page_free_batched repeating an mm_page_free"
UNCHECKED_SPLIT = "page free of part of a block allocated whole"
UNCHECKED_LARGE_KMALLOC = "page free of a large kmalloc (the model's kfree frees its own)"
UNCHECKED_MODEL_FAILED = "page free of a block the model failed to allocate"


class Replay:
    """Drive kernel `k` with the events of one or more traces.

    `verify` compares each event with the model; `follow_pfn` takes the exact
    traced pfn for page allocations; `sample_every` is the initial number of
    events between two samples of the model (the interval doubles to keep at
    most `max_samples`, so memory stays flat however long the trace).
    """

    def __init__(
        self,
        k: Kernel,
        *,
        verify: bool = False,
        follow_pfn: bool = False,
        sample_every: int = 1000,
        max_samples: int = 400,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.k = k
        self.verify = verify
        self.follow_pfn = follow_pfn
        self.stats = ReplayStats(self._kmalloc_cache_name)
        self.view = ModelView(k)
        self.sample_every = sample_every
        self.max_samples = max_samples
        self.progress = progress
        # traced pointer (columns.pointer_key: its value) -> (model addr, cache or
        # None (kmalloc), alloc cpu, bytes_alloc, the call site's and the cache's
        # counters in stats)
        self.objects: dict[int | str, tuple[Any, ...]] = {}
        # traced pfn -> (model page or None, order)
        self.pages: dict[int, tuple[Any, ...]] = {}
        self.caches: dict[str, Any] = {}
        # cache names the trace uses that sysfs shows merged -> the directory they link to
        self.merged_caches: dict[str, str] = {}
        self.quirks: dict[str, int] = {}
        self.mismatches: dict[str, int] = {}
        self.mismatch_examples: dict[str, list[str]] = {}
        # With verify: events compared with what the model computes, and the
        # events it cannot check, by reason (UNCHECKED).
        self.checked = 0
        self.unchecked: dict[str, int] = {}
        # checked mm_page_alloc events whose traced pfn is in no zone of this
        # machine: their zone could not be checked (a smaller what-if machine)
        self.unchecked_zone = 0
        # caches the trace names that neither the booted kernel nor the profile
        # knows: created with the profile's defaults (ModelView.create_unknown_cache)
        self.unknown_caches: set[str] = set()
        # allocations the model failed (returned NULL) where the kernel succeeded
        self.model_failures: dict[str, int] = {}
        self.oops: str | None = None
        self.malformed = 0
        self.malformed_examples: list[str] = []
        self.unknown_events: dict[str, int] = {}
        # GFP flag names the trace prints that this kmemsim does not know
        # (counted once per distinct gfp_flags text)
        self.unknown_gfp_flags: dict[str, int] = {}
        self.lost_events = 0
        self.events = 0
        self.lines = 0
        self.sources: list[str] = []
        self.truncated: list[str] = []
        self.first_timestamp: str | None = None
        self.last_timestamp: str | None = None
        self.elapsed = 0.0
        self._gfp: dict[str, int] = {}
        # pfns of the latest mm_page_free events (insertion-ordered, bounded).
        self._recently_freed: dict[int, None] = {}
        self._last_page_alloc: dict[int, tuple[int, int, int]] = {}
        # blocks freed piece by piece: head pfn -> [model page, order, pages not yet freed]
        self._split_blocks: dict[int, list[Any]] = {}
        # pfns of large kmalloc objects (their pages belong to the model's kmalloc)
        self._kmalloc_pfns: set[int] = set()
        self._cpu = -1
        self._source_name = ""
        self._lineno = 0
        self._clean_names: dict[str, str] = {}
        self._slow_events = 0
        # The handlers of events read from their text (the slow path): each
        # decodes the fields, then calls the handler the columns feed.
        self._handlers: dict[str, Callable[[int, str], None] | None] = {
            ev.KMALLOC: self._kmalloc_text,
            ev.KMEM_CACHE_ALLOC: self._kmem_cache_alloc_text,
            ev.KFREE: self._kfree_text,
            ev.KMEM_CACHE_FREE: self._kmem_cache_free_text,
            ev.MM_PAGE_ALLOC: self._mm_page_alloc_text,
            ev.MM_PAGE_FREE: self._mm_page_free_text,
            ev.MM_PAGE_FREE_BATCHED: self._mm_page_free_batched_text,
        }
        for alias, name in ev.EVENT_ALIASES.items():
            self._handlers[alias] = self._handlers[name]
        self.samples: list[dict[str, Any]] = []
        self._next_sample = 1  # a first sample at the first event: the state at the start
        # The model's entry points, bound once (the Kernel methods delegate to these).
        slab = k.slab
        self._m_kmalloc = slab.kmalloc
        self._m_ksize = slab.ksize
        self._m_kfree = slab.kfree
        self._m_kmem_cache_alloc = slab.kmem_cache_alloc
        self._m_kmem_cache_free = slab.kmem_cache_free
        self._pa = k.page_alloc
        self._last_zone: Any = None  # _zone_of()
        self._zone_spans_apart: bool | None = None
        self._m_alloc_pages = k.page_alloc.alloc_pages
        self._m_free_pages = k.page_alloc.free_pages_struct
        self._max_order = int(k.page_alloc.max_order)  # MAX_PAGE_ORDER
        # The largest order a trace line may hold: the traced kernel's
        # MAX_PAGE_ORDER, or this machine's when configured larger.
        self._trace_max_order = max(self._max_order, ev.MAX_PAGE_ORDER)

    def _kmalloc_cache_name(self, size: int, gfp: int) -> str:
        """The model's kmalloc cache for a kmalloc of `size` bytes with `gfp`
        (mm/slab_common.c kmalloc_slab()); "kmalloc-large" above the caches."""
        if size > KMALLOC_MAX_CACHE_SIZE:
            return "kmalloc-large"
        if size <= 0:
            return "ZERO_SIZE_PTR"
        return str(self.k.slab.kmalloc_slab(size, gfp).name)

    # ------------------------------------------------------------------ bookkeeping
    def _quirk(self, kind: str) -> None:
        self.quirks[kind] = self.quirks.get(kind, 0) + 1

    def _mismatch(self, kind: str, detail: str) -> None:
        self.mismatches[kind] = self.mismatches.get(kind, 0) + 1
        examples = self.mismatch_examples.setdefault(kind, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append(f"{self._source_name}:{self._lineno}: {detail}")

    def _unchecked(self, reason: str) -> None:
        if self.verify:
            self.unchecked[reason] = self.unchecked.get(reason, 0) + 1

    def _model_failure(self, event: str, detail: str) -> None:
        """The model returned NULL where the real kernel succeeded: counted always
        (a smaller what-if machine runs out of memory), a mismatch with verify."""
        self.model_failures[event] = self.model_failures.get(event, 0) + 1
        if self.verify:
            self._mismatch("model returned NULL", detail)

    def _bad_line(self, message: str) -> None:
        self.malformed += 1
        if len(self.malformed_examples) < MAX_MALFORMED_SHOWN:
            self.malformed_examples.append(f"{self._source_name}:{self._lineno}: {message}")

    def gfp(self, text: str) -> int:
        """The GFP mask a trace prints as `text` (cached).

        A flag name this kmemsim does not know (a kernel newer or configured
        otherwise) is counted in `unknown_gfp_flags` and left out; the rest of
        the mask still drives the model. Text that is no flag name at all is a
        malformed line (BadLine).
        """
        value = self._gfp.get(text)
        if value is None:
            try:
                value = int(parse_gfp(text))  # a plain int: the model's hot paths take ints
            except ValueError:
                value = 0
                for part in text.split("|"):
                    try:
                        value |= int(parse_gfp(part))
                    except ValueError:
                        if not part.replace("_", "").isalnum():
                            raise BadLine(
                                f"gfp_flags={text}: {part!r} is not a GFP flag name"
                            ) from None
                        self.unknown_gfp_flags[part] = self.unknown_gfp_flags.get(part, 0) + 1
            if len(self._gfp) < 4096:
                self._gfp[text] = value
        return value

    def _set_cpu(self, cpu: int) -> None:
        if cpu >= self.view.nr_cpus:
            raise KmemsimError(
                f"{self._source_name}:{self._lineno}: the trace runs on CPU {cpu}, the machine "
                f"has {self.view.nr_cpus} CPUs (use --cpus {cpu + 1} or more)"
            )
        self._cpu = cpu
        self.k.sched.current_cpu = cpu

    # ------------------------------------------------------------------ main loop
    def run(self, paths: Iterable[str | DecodedTrace]) -> Replay:
        """Replay every trace of `paths` in order ("-" is standard input); a
        DecodedTrace already started (the CLI starts it before booting) is
        replayed as it is."""
        start = time.perf_counter()
        pending = list(paths)
        try:
            for i, path in enumerate(pending):
                trace = path if isinstance(path, DecodedTrace) else DecodedTrace(path)
                pending[i] = trace
                self._run_one(trace)
        except TraceError as e:
            # A damaged stream: what came before it was replayed and is reported.
            self._bad_line(str(e).removeprefix(f"{self._source_name}: ") + " (after this line)")
        except Oops as e:
            # The simulated kernel died (out of memory with nothing to reclaim,
            # a BUG): the replay ends there; the report says where and why.
            self.oops = f"{self._source_name}:{self._lineno}: {e}"
            self._model_failure("kernel died", self.oops)
        finally:
            for opened in pending:
                if isinstance(opened, DecodedTrace):
                    opened.close()
        self.elapsed += time.perf_counter() - start
        self.take_sample(final=True)
        return self

    def _gfp_of(self, texts: list[str], values: list[int | None], i: int) -> int:
        """The GFP mask of gfp text number `i` of a trace (self.gfp), kept in
        `values` when self.gfp caches it."""
        text = texts[i]
        value = self.gfp(text)
        if text in self._gfp:
            values[i] = value
        return value

    def _run_one(self, trace: DecodedTrace) -> None:
        self.sources.append(trace.name)
        self._source_name = trace.name
        lineno = 0
        events = self.events
        next_sample = self._next_sample
        progress = self.progress
        cur_cpu = self._cpu
        # The timestamps of the chunk being replayed (the last line with a
        # header gives last_timestamp).
        stamps: Sequence[str | None] = ()
        first_lineno = 0
        sites: list[str] = []
        names: list[str] = []
        gfp_texts: list[str] = []
        gfp_values: list[int | None] = []
        event_names: list[str] = []
        tables = (sites, names, gfp_texts, event_names)
        kmalloc = self._kmalloc
        kmem_cache_alloc = self._kmem_cache_alloc
        kfree = self._kfree
        kmem_cache_free = self._kmem_cache_free
        mm_page_alloc = self._mm_page_alloc
        mm_page_free = self._mm_page_free
        mm_page_free_batched = self._mm_page_free_batched
        gfp_of = self._gfp_of
        try:
            for chunk in trace.chunks():
                for table, new in zip(tables, chunk.new_strings, strict=True):
                    table += new
                gfp_values += [None] * len(chunk.new_strings[GFPS])
                raw = chunk.raw
                stamps = chunk.timestamps
                lineno = first_lineno = chunk.first_lineno
                for kind, cpu, a, b, c, d, e, f in zip(*chunk.columns, strict=True):
                    lineno += 1
                    self._lineno = lineno
                    if kind <= RAW:
                        if kind < RAW:  # TRUNCATED
                            # The last line, cut where the file ends: a partial
                            # event is not replayed (its fields may be cut to
                            # other, valid, values); it is the one input
                            # problem reported.
                            self._truncated_line(trace, raw[a])
                            continue
                        replayed = self._text_line(raw[a])
                        cur_cpu = self._cpu  # the slow path may have switched CPUs
                        if not replayed:
                            continue
                    else:
                        try:
                            if cpu != cur_cpu:
                                if cpu == NO_CPU_COLUMN:
                                    # perf script of a per-task recording prints no CPU column.
                                    self._quirk("no_cpu_column")
                                    cpu = 0
                                if cpu != cur_cpu:
                                    self._set_cpu(cpu)
                                    cur_cpu = cpu
                            if kind == K_KMEM_CACHE_ALLOC:
                                g = gfp_values[e]
                                if g is None:
                                    g = gfp_of(gfp_texts, gfp_values, e)
                                kmem_cache_alloc(cpu, a, sites[b], names[f], c, d, g, gfp_texts[e])
                            elif kind == K_KMEM_CACHE_FREE:
                                kmem_cache_free(cpu, a, names[f])
                            elif kind == K_MM_PAGE_ALLOC:
                                g = gfp_values[e]
                                if g is None:
                                    g = gfp_of(gfp_texts, gfp_values, e)
                                mm_page_alloc(cpu, a, c, d, g, gfp_texts[e])
                            elif kind == K_KFREE:
                                kfree(cpu, a)
                            elif kind == K_MM_PAGE_FREE:
                                mm_page_free(cpu, a, c)
                            elif kind == K_KMALLOC:
                                g = gfp_values[e]
                                if g is None:
                                    g = gfp_of(gfp_texts, gfp_values, e)
                                kmalloc(cpu, a, sites[b], c, d, g, gfp_texts[e])
                            elif kind == K_MM_PAGE_FREE_BATCHED:
                                mm_page_free_batched(cpu, a)
                            else:  # K_UNKNOWN
                                name = event_names[a]
                                self.unknown_events[name] = self.unknown_events.get(name, 0) + 1
                                continue
                        except ValueError as exc:
                            # A GFP text that is no flag name (BadLine), or a
                            # value the model refuses.
                            self._bad_line(str(exc) or "bad field")
                            continue
                    events += 1
                    if events >= next_sample:
                        self.events = events
                        self.last_timestamp = stamps[lineno - first_lineno - 1]
                        self.take_sample()
                        next_sample = self._next_sample
                        if self.first_timestamp is None:
                            self.first_timestamp = self.last_timestamp
                        if progress is not None:
                            progress(events, lineno)
        finally:
            self.events = events + self._slow_events
            self._slow_events = 0
            self.lines += lineno
            # The last line read with a header, as far as the replay got.
            for ts in reversed(stamps[: lineno - first_lineno]):
                if ts is not None:
                    self.last_timestamp = ts
                    break
        if lineno == 0:
            self._lineno = 0
            self._bad_line("empty trace: no lines at all")

    def _text_line(self, line: str) -> bool:
        """Replay one line read as text (the slow path): whether it was an event
        replayed."""
        parts = line.split(": ", 2)
        if len(parts) != 3:
            self._odd_line(line)
            return False
        head, name, text = parts
        handler: Any = self._handlers.get(name, False)
        if handler is False:
            handler = self._new_event_name(name, line)
            if handler is False:
                return False
        i = head.rfind("[")
        try:
            if i < 0:
                # perf script of a per-task recording prints no CPU column.
                self._quirk("no_cpu_column")
                cpu = 0
            else:
                cpu_text = head[i + 1 : head.find("]", i)]
                cpu = int(cpu_text) if cpu_text.isdigit() else ev.parse_cpu(cpu_text)
            ts = head[head.rfind(" ") + 1 :]
            if not ts.replace(".", "", 1).isdigit():
                ev.check_timestamp(ts)
            if cpu != self._cpu:
                self._set_cpu(cpu)
            if handler is None:
                self._count_unknown(name)
                return False
            handler(cpu, text)
        except (BadLine, ValueError) as e:
            self._bad_event_line(i, name, text, e)
            return False
        return True

    def _truncated_line(self, source: DecodedTrace, line: str) -> None:
        """The last line has no newline: the trace was cut off in its middle."""
        self.truncated.append(source.name)
        where = "standard input ends" if source.path == "-" else "the file ends"
        tail = line[-40:] if len(line) <= 40 else "..." + line[-40:]
        self._bad_line(
            f"{where} in the middle of a line (truncated); the partial line, "
            f"ending {tail!a}, is not replayed"
        )

    def _bad_event_line(self, i: int, name: str, text: str, e: Exception) -> None:
        """Report an event line that failed, saying what its format expects."""
        if not isinstance(e, BadLine):
            # A fast path stumbled on a value: the decoder says what was expected.
            decode = ev.DECODERS.get(self._clean_names.get(name, name))
            if decode is not None:
                try:
                    decode(text)
                except BadLine as bad:
                    e = bad
        self._bad_line(str(e) or "bad field")

    def _odd_line(self, line: str) -> None:
        """A line the fast split did not read: a header, a lost-events marker, an
        event whose task name holds ': ' (read by a regular expression), or a
        malformed line."""
        if ev.is_skippable(line):
            return
        lost = ev.lost_events(line)
        if lost is not None:
            self.lost_events += lost
            return
        m = _EVENT_LINE.match(line)
        if m is not None:
            clean = m["event"].removeprefix("kmem:")
            if clean not in self._handlers:
                self.unknown_events[clean] = self.unknown_events.get(clean, 0) + 1
                return
            handler = self._handlers[clean]
            if handler is None:
                return
            try:
                cpu = int(m["cpu"])
                ev.check_timestamp(m["ts"])
                if cpu != self._cpu:
                    self._set_cpu(cpu)
                handler(cpu, m["fields"])
            except (BadLine, ValueError) as e:
                self._bad_event_line(0, clean, m["fields"], e)
                return
            self._slow_events += 1
            return
        self._bad_line(f"expected '{ev.HEADER_EXPECTED}', got {line[:60]!a}")

    def _new_event_name(self, name: str, line: str) -> Any:
        """Resolve an event name spelled in a way not seen yet (perf pads it and
        prefixes 'kmem:'). Returns its handler, None for a well-formed event
        that is not replayed (counted), or False for a malformed line."""
        clean = name.strip()
        if clean.startswith("kmem:"):
            clean = clean[5:]
        if not ev.valid_event_name(clean):
            self._odd_line(line)
            return False
        handler = self._handlers.get(clean)
        if len(self._handlers) < 512:
            self._handlers[name] = handler
            self._clean_names[name] = clean
        return handler

    def _count_unknown(self, name: str) -> None:
        clean = self._clean_names.get(name) or name.strip()
        self.unknown_events[clean] = self.unknown_events.get(clean, 0) + 1

    # ------------------------------------------------------------------ slab events
    def _kmalloc_text(self, cpu: int, text: str) -> None:
        f = text.split(" ")
        # The 6.x layout, read by position; anything else through the decoder.
        if (
            len(f) >= 5
            and f[2][:10] == "bytes_req="
            and f[4][:10] == "gfp_flags="
            and f[1][:4] == "ptr="
        ):
            call_site, ptr, req, alloc, gfp_text = (
                f[0][10:],
                f[1][4:],
                int(f[2][10:]),
                int(f[3][12:]),
                f[4][10:],
            )
        else:
            call_site, ptr, req, alloc, gfp_text = ev.decode_kmalloc(text)
        if not (0 <= req <= KMALLOC_MAX_SIZE and 0 <= alloc <= KMALLOC_MAX_SIZE):
            ev.check_sizes(ev.KMALLOC, ptr, req, alloc)
        gfp = self._gfp.get(gfp_text)
        if gfp is None:
            gfp = self.gfp(gfp_text)
        if ptr in NULL_POINTERS:
            self._traced_slab_failure()
            return
        key = pointer_key(ptr)
        if key not in self.objects:
            ev.check_pointer(ptr, ev.KMALLOC)
        self._kmalloc(cpu, key, call_site, req, alloc, gfp, gfp_text)

    def _traced_slab_failure(self) -> None:
        self._quirk("traced_alloc_failure")
        self._unchecked(UNCHECKED_FAILURE)
        self.stats.slab_alloc_failures += 1

    def _kmalloc(
        self,
        cpu: int,
        ptr: int | str,
        call_site: str,
        req: int,
        alloc: int,
        gfp: int,
        gfp_text: str,
    ) -> None:
        """kmalloc(req, gfp) of a valid, non-NULL traced pointer."""
        st = self.stats
        objects = self.objects
        old = objects.get(ptr)
        if old is not None:
            self._quirk("implied_free")
            self._free_object(old, cpu, silent=True)
        addr = self._m_kmalloc(req, gfp)
        if alloc > KMALLOC_MAX_CACHE_SIZE:
            self._undo_large_kmalloc_pages(cpu, alloc)
        key = st.kmalloc_key(alloc, gfp)
        if not addr:
            self._model_failure("kmalloc", f"kmalloc({req}, {gfp_text}) failed in the model")
        else:
            if self.verify:
                self.checked += 1
                size = self._m_ksize(addr)
                if size != alloc:
                    self._mismatch(
                        "kmalloc bytes_alloc",
                        f"kmalloc({req}, {gfp_text}): trace bytes_alloc={alloc}, "
                        f"model ksize={size}",
                    )
        counters = st.slab_alloc(call_site, key, req, alloc)
        if addr:
            objects[ptr] = (addr, None, cpu, alloc, *counters)

    def _undo_large_kmalloc_pages(self, cpu: int, alloc: int) -> None:
        """A large kmalloc's pages were traced by the mm_page_alloc just before it
        on the same CPU; the model's kmalloc took its own, so give those back."""
        last = self._last_page_alloc.get(cpu)
        if last is None:
            return
        pfn, order, lineno = last
        if self._lineno - lineno <= 4 and order == get_order(alloc):
            rec = self.pages.pop(pfn, None)
            if rec is not None:
                if rec[0] is not None:
                    self._m_free_pages(rec[0], rec[1])
                self._quirk("kmalloc_large_pages")
                # Its mm_page_free, when kfree() gives the pages back, is the
                # model's kfree() too.
                self._kmalloc_pfns.add(pfn)
            self._last_page_alloc.pop(cpu, None)

    def cache(self, name: str, req: int, alloc: int) -> Any:
        """The model's cache for a name the trace uses, created on first sight:
        the booted kernel's, else with the creation arguments the profile
        recorded, else from bytes_req with the profile's defaults for unknown
        caches (never fitted to the traced bytes_alloc)."""
        s = self.caches.get(name)
        if s is not None:
            return s
        s = self.k.find_cache(name)
        if s is None:
            s = self.view.create_known_cache(name)
        if s is None:
            s = self.view.create_unknown_cache(name, req)
            self.unknown_caches.add(name)
        if s is not None:
            # sysfs shows a mergeable cache as a link to its unique-id directory
            # (":0000024"), and a cache merged into an earlier one under that
            # one's name; either way the trace names what its creator asked for.
            target = getattr(s, "unique_id", "") or ""
            if not target and getattr(s, "name", name) != name:
                target = s.name
            if target:
                self.merged_caches[name] = target
        self.caches[name] = s
        return s

    def _kmem_cache_alloc_text(self, cpu: int, text: str) -> None:
        f = text.split(" ")
        # Every layout with name= third has bytes_req, bytes_alloc, gfp_flags next.
        if len(f) >= 6 and f[2][:5] == "name=" and f[5][:10] == "gfp_flags=" and f[1][:4] == "ptr=":
            call_site, ptr, name, req, alloc, gfp_text = (
                f[0][10:],
                f[1][4:],
                f[2][5:],
                int(f[3][10:]),
                int(f[4][12:]),
                f[5][10:],
            )
        else:
            call_site, ptr, name_or_none, req, alloc, gfp_text = ev.decode_kmem_cache_alloc(text)
            # Before 6.0 the event did not name its cache: one per slot size.
            name = name_or_none if name_or_none is not None else f"<size-{alloc}>"
        if not (name and 0 <= req <= KMALLOC_MAX_SIZE and 0 <= alloc <= KMALLOC_MAX_SIZE):
            ev.check_name(name, ev.KMEM_CACHE_ALLOC)
            ev.check_sizes(ev.KMEM_CACHE_ALLOC, ptr, req, alloc)
        gfp = self._gfp.get(gfp_text)
        if gfp is None:
            gfp = self.gfp(gfp_text)
        if ptr in NULL_POINTERS:
            self._traced_slab_failure()
            return
        key = pointer_key(ptr)
        if key not in self.objects:
            ev.check_pointer(ptr, ev.KMEM_CACHE_ALLOC)
        self._kmem_cache_alloc(cpu, key, call_site, name, req, alloc, gfp, gfp_text)

    def _kmem_cache_alloc(
        self,
        cpu: int,
        ptr: int | str,
        call_site: str,
        name: str,
        req: int,
        alloc: int,
        gfp: int,
        gfp_text: str,
    ) -> None:
        """kmem_cache_alloc() of the cache the trace names, for a valid,
        non-NULL traced pointer."""
        st = self.stats
        objects = self.objects
        old = objects.get(ptr)
        s = self.caches.get(name)
        if s is None:
            s = self.cache(name, req, alloc)
        if name in self.merged_caches:
            self._quirk("merged_cache")
        if old is not None:
            self._quirk("implied_free")
            self._free_object(old, cpu, silent=True)
        addr = self._m_kmem_cache_alloc(s, gfp) if s is not None else 0
        if not addr:
            self._model_failure(
                "kmem_cache_alloc", f"kmem_cache_alloc({name}, {gfp_text}) failed in the model"
            )
        elif self.verify:
            if name in self.unknown_caches:
                # The geometry is the profile's default, not knowledge of the
                # real cache: compared, but as its own kind.
                self._unchecked(UNCHECKED_UNKNOWN_CACHE)
                if s.size != alloc:
                    align, flags = self.view.unknown_cache_args()
                    names = "|".join(f"SLAB_{f.name}" for f in SlabFlags(flags)) or "0"
                    self._mismatch(
                        UNKNOWN_CACHE_GEOMETRY,
                        f"{name}: trace bytes_alloc={alloc}, model cache size={s.size} "
                        f"(created as kmem_cache_create({name}, {req}, {align}, {names}, NULL))",
                    )
            else:
                self.checked += 1
                if s.size != alloc:
                    self._mismatch(
                        "kmem_cache_alloc bytes_alloc",
                        f"{name}: trace bytes_alloc={alloc}, model cache size={s.size}",
                    )
        counters = st.slab_alloc(call_site, name, req, alloc)
        if addr:
            objects[ptr] = (addr, s, cpu, alloc, *counters)

    def _free_object(self, rec: tuple[Any, ...], cpu: int, silent: bool = False) -> None:
        if not silent and self.verify:
            unchecked = self.unchecked
            unchecked[UNCHECKED_SLAB_FREE] = unchecked.get(UNCHECKED_SLAB_FREE, 0) + 1
        s = rec[1]
        if s is None:
            self._m_kfree(rec[0])
        else:
            self._m_kmem_cache_free(s, rec[0])
        if silent:
            self.stats.slab_unseen_free(rec)
        else:
            self.stats.slab_free(rec, cpu)

    def _kfree_text(self, cpu: int, text: str) -> None:
        f = text.split(" ")
        if len(f) == 2 and f[1][:4] == "ptr=" and len(f[1]) > 4:
            ptr = f[1][4:]
        else:
            ptr = ev.decode_kfree(text)[1]
        self._kfree(cpu, self._freed_pointer(ptr, ev.KFREE))

    def _freed_pointer(self, ptr: str, event: str) -> int | str:
        """The key of a pointer a free names (0 for NULL); BadLine if it is
        neither live nor a pointer."""
        if ptr in NULL_POINTERS:
            return 0
        key = pointer_key(ptr)
        if key not in self.objects:
            ev.check_pointer(ptr, event)
        return key

    def _kfree(self, cpu: int, ptr: int | str) -> None:
        """kfree() of a traced pointer (0: NULL)."""
        if not ptr:
            quirks = self.quirks
            quirks["kfree_null"] = quirks.get("kfree_null", 0) + 1
            if self.verify:
                unchecked = self.unchecked
                unchecked[UNCHECKED_SLAB_FREE] = unchecked.get(UNCHECKED_SLAB_FREE, 0) + 1
            self.stats.nr_kfree_null += 1
            return
        rec = self.objects.pop(ptr, None)
        if rec is None:
            self._unchecked(UNCHECKED_BEFORE_TRACE)
            self._quirk("free_before_trace")
            self.stats.slab_free_only += 1
            return
        if rec[1] is not None:
            self._quirk("kfree_of_cache_object")
        self._free_object(rec, cpu)

    def _kmem_cache_free_text(self, cpu: int, text: str) -> None:
        f = text.split(" ")
        if len(f) == 3 and f[1][:4] == "ptr=" and f[2][:5] == "name=" and len(f[2]) > 5:
            ptr: str = f[1][4:]
            name: str | None = f[2][5:]
        else:
            _, ptr, name = ev.decode_kmem_cache_free(text)
        self._kmem_cache_free(cpu, self._freed_pointer(ptr, ev.KMEM_CACHE_FREE), name)

    def _kmem_cache_free(self, cpu: int, ptr: int | str, name: str | None) -> None:
        """kmem_cache_free() of a traced pointer (0: NULL) of the cache named."""
        if not ptr:
            self._quirk("kmem_cache_free_null")
            self._unchecked(UNCHECKED_SLAB_FREE)
            return
        rec = self.objects.pop(ptr, None)
        if rec is None:
            self._unchecked(UNCHECKED_BEFORE_TRACE)
            self._quirk("free_before_trace")
            self.stats.slab_free_only += 1
            return
        if name is not None and rec[1] is not None and rec[1] is not self.caches.get(name, rec[1]):
            # The traced object went away unseen (a bulk or RCU free) and its
            # memory came back to another cache through an allocation that is
            # not traced either (a bulk refill); this free is that object's.
            self._quirk("pointer_reused_by_other_cache")
            self._unchecked(UNCHECKED_BEFORE_TRACE)
            self._free_object(rec, cpu, silent=True)
            self.stats.slab_free_only += 1
            return
        self._free_object(rec, cpu)

    # ------------------------------------------------------------------ page events
    def _mm_page_alloc_text(self, cpu: int, text: str) -> None:
        f = text.split(" ")
        if (
            len(f) == 5
            and f[1][:6] == "pfn=0x"
            and f[2][:6] == "order="
            and f[3][:12] == "migratetype="
            and f[4][:10] == "gfp_flags="
            and f[1] != "pfn=0x0"
        ):
            pfn, order, migratetype, gfp_text = (
                int(f[1][6:], 16),
                int(f[2][6:]),
                int(f[3][12:]),
                f[4][10:],
            )
            if pfn < 0 or not (
                0 <= order <= self._trace_max_order and 0 <= migratetype < MIGRATE_TYPES
            ):
                pfn, order, migratetype, gfp_text = ev.decode_mm_page_alloc(
                    text, self._trace_max_order
                )
        else:
            pfn, order, migratetype, gfp_text = ev.decode_mm_page_alloc(text, self._trace_max_order)
        gfp = self._gfp.get(gfp_text)
        if gfp is None:
            gfp = self.gfp(gfp_text)
        self._mm_page_alloc(cpu, pfn, order, migratetype, gfp, gfp_text)

    def _mm_page_alloc(
        self, cpu: int, pfn: int, order: int, migratetype: int, gfp: int, gfp_text: str
    ) -> None:
        """alloc_pages(gfp, order) for a traced allocation (pfn -1: it failed)."""
        st = self.stats
        if pfn < 0:
            self._quirk("traced_alloc_failure")
            self._unchecked(UNCHECKED_FAILURE)
            st.page_alloc_failure(order)
            return
        st.page_alloc(order, migratetype, gfp_text)
        pages = self.pages
        old = pages.get(pfn)
        if old is not None:
            self._quirk("implied_page_free")
            if old[0] is not None:
                self._m_free_pages(old[0], old[1])
        zone = None
        if self.verify:
            zone = self._verify_page_alloc(cpu, pfn, order, migratetype, gfp, gfp_text)
        page = None
        if self.follow_pfn:
            page = take_free_block(self.k.page_alloc, pfn, order, gfp)
            if page is None:
                if not self.view.is_ram(pfn, order):
                    self._quirk("follow_pfn_not_ram")
                elif self.verify and self._followed_block_over(pfn, order):
                    self._mismatch(
                        "follow-pfn block not free",
                        f"mm_page_alloc pfn={pfn:#x} order={order}: the model still holds "
                        "a block the trace allocated there",
                    )
                else:
                    self._quirk("follow_pfn_block_busy")
        if page is None:
            page = self._m_alloc_pages(gfp, order)
        if page is None:
            self._model_failure(
                "mm_page_alloc", f"mm_page_alloc order={order} {gfp_text} failed in the model"
            )
        elif zone is not None and not (
            0 <= page.pfn - zone.zone.zone_start_pfn < zone.zone.spanned_pages  # page_zone()
        ):
            model_zone = self._pa.page_zone(page.pfn)
            self._mismatch(
                "page alloc zone",
                f"mm_page_alloc order={order} {gfp_text}: the trace's pfn {pfn:#x} is in zone "
                f"{zone.zone.name}, the model allocated from "
                f"{model_zone.zone.name if model_zone is not None else '?'}",
            )
        pages[pfn] = (page, order)
        self._recently_freed.pop(pfn, None)
        self._last_page_alloc[cpu] = (pfn, order, self._lineno)

    def _verify_page_alloc(
        self, cpu: int, pfn: int, order: int, mt: int, gfp: int, gfp_text: str
    ) -> Any:
        """Check an mm_page_alloc against what the model can know before it
        allocates: the traced migratetype is the one the model derives from the
        GFP mask (__alloc_pages() traces ac.migratetype = gfp_migratetype()),
        and the zone that holds the traced pfn on this machine can serve the
        order from that migratetype (or a fallback) now. Returns that zone, or
        None when the pfn is in no zone of this machine (not checkable)."""
        self.checked += 1
        pa = self._pa
        want = gfp_migratetype(gfp)
        if want != mt:
            self._mismatch(
                "page alloc migratetype",
                f"mm_page_alloc {gfp_text}: trace migratetype={mt}, the model's "
                f"gfp_migratetype()={want}",
            )
        zone = self._zone_of(pfn) if self.view.is_ram(pfn, order) else None
        if zone is None:
            self.unchecked_zone += 1
            return None
        if not zone_has_free_block(pa, zone, order, mt, cpu):
            self._mismatch(
                "page alloc order unsatisfiable",
                f"mm_page_alloc pfn={pfn:#x} order={order} migratetype={mt}: zone "
                f"{zone.zone.name} of the model has no free block for it",
            )
        return zone

    def _zone_of(self, pfn: int) -> Any:
        """page_zone(pfn), remembering the last zone found (the next pfn is
        likely in it too) where no two zones' spans overlap."""
        zb = self._last_zone
        if zb is not None and 0 <= pfn - zb.zone.zone_start_pfn < zb.zone.spanned_pages:
            return zb
        zb = self._pa.page_zone(pfn)
        if self._zone_spans_apart is None:
            spans = sorted(
                (z.zone.zone_start_pfn, z.zone.zone_start_pfn + z.zone.spanned_pages)
                for z in self.view.zones()
            )
            self._zone_spans_apart = all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
        if self._zone_spans_apart:
            self._last_zone = zb
        return zb

    def _followed_block_over(self, pfn: int, order: int) -> bool:
        """Whether a block this replay took at its traced pfn (follow_pfn) and
        still holds overlaps [pfn, pfn + 2**order)."""
        pages = self.pages
        for o in range(self._trace_max_order + 1):
            head = pfn & ~((1 << o) - 1)
            rec = pages.get(head)
            if rec is not None and rec[1] >= o and rec[0] is not None and rec[0].pfn == head:
                # (a block being freed piece by piece has left `pages`)
                return True
        for p in range(pfn + 1, pfn + (1 << order)):
            rec = pages.get(p)
            if rec is not None and rec[0] is not None and rec[0].pfn == p:
                return True
        return False

    def _mm_page_free_text(self, cpu: int, text: str) -> None:
        f = text.split(" ")
        if len(f) == 3 and f[1][:6] == "pfn=0x" and f[2][:6] == "order=":
            pfn, order = int(f[1][6:], 16), int(f[2][6:])
            if pfn < 0 or not 0 <= order <= self._trace_max_order:
                pfn, order = ev.decode_mm_page_free(text, self._trace_max_order)
        else:
            pfn, order = ev.decode_mm_page_free(text, self._trace_max_order)
        self._mm_page_free(cpu, pfn, order)

    def _mm_page_free(self, cpu: int, pfn: int, order: int) -> None:
        """__free_pages() of the block a traced free names."""
        recent = self._recently_freed
        recent[pfn] = None
        if len(recent) > RECENT_FREES:
            del recent[next(iter(recent))]
        self._page_free(pfn, order)

    def _verify_page_free(self, page: Any, pfn: int, order: int) -> None:
        """Check an mm_page_free against the model: the model's block for the
        traced pfn (the very pfn with follow_pfn) is allocated, at the order
        the trace frees."""
        if page is None:
            self._unchecked(UNCHECKED_MODEL_FAILED)
            return
        self.checked += 1
        held = allocated_order(self._pa, page.pfn)
        if held != order:
            where = "at that pfn" if page.pfn == pfn else f"at pfn {page.pfn:#x}"
            state = f"allocated at order {held}" if held >= 0 else "not allocated"
            self._mismatch(
                "page free order",
                f"mm_page_free pfn={pfn:#x} order={order}: the model's block {where} is {state}",
            )

    def _page_free(self, pfn: int, order: int) -> None:
        rec = self.pages.pop(pfn, None)
        if rec is not None and order >= rec[1]:
            self.stats.page_free(order, matched=True)
            if self.verify:
                self._verify_page_free(rec[0], pfn, order)
            if rec[0] is not None:
                self._m_free_pages(rec[0], rec[1])
            return
        if rec is not None:
            self.pages[pfn] = rec  # part of it: split_page() or a split folio
        elif pfn in self._kmalloc_pfns:
            self._kmalloc_pfns.discard(pfn)
            self.stats.page_free(order, matched=True)
            self._quirk("kmalloc_large_pages_freed")
            self._unchecked(UNCHECKED_LARGE_KMALLOC)
            return
        if self._free_part_of_block(pfn, order):
            self.stats.page_free(order, matched=True)
            self._unchecked(UNCHECKED_SPLIT)
            return
        self.stats.page_free(order, matched=False)
        self._quirk("page_free_before_trace")
        self._unchecked(UNCHECKED_BEFORE_TRACE)

    def _free_part_of_block(self, pfn: int, order: int) -> bool:
        """A free of 2**order pages inside a block allocated whole: split_page()
        (alloc_pages_exact, vmalloc) or a split large folio gives its pages back
        piece by piece. The model's block is freed when the last piece is."""
        pages, split = self.pages, self._split_blocks
        for o in range(order, self._max_order + 1):
            head = pfn & ~((1 << o) - 1)
            rec = pages.get(head)
            part = split.get(head)
            if part is None and rec is not None and rec[1] >= o and rec[1] > order:
                del pages[head]
                part = split[head] = [rec[0], rec[1], 1 << rec[1]]
            if part is not None and pfn + (1 << order) <= head + (1 << part[1]):
                self._quirk("split_block_free")
                part[2] -= 1 << order
                if part[2] <= 0:
                    del split[head]
                    if part[0] is not None:
                        self._m_free_pages(part[0], part[1])
                return True
        return False

    def _mm_page_free_batched_text(self, cpu: int, text: str) -> None:
        (pfn,) = ev.decode_mm_page_free_batched(text)
        self._mm_page_free_batched(cpu, pfn)

    def _mm_page_free_batched(self, cpu: int, pfn: int) -> None:
        """A page of a batched free (free_unref_folios())."""
        recent = self._recently_freed
        if pfn in recent:
            # free_unref_folios() traced this page with mm_page_free a moment
            # ago, while preparing the batch: one free, reported twice.
            del recent[pfn]
            quirks = self.quirks
            quirks["batched_repeat"] = quirks.get("batched_repeat", 0) + 1
            if self.verify:
                unchecked = self.unchecked
                unchecked[UNCHECKED_REPEAT] = unchecked.get(UNCHECKED_REPEAT, 0) + 1
            return
        # A batched free on its own (older kernels): the page's only free event.
        self._page_free(pfn, 0)

    # ------------------------------------------------------------------ sampling
    def take_sample(self, final: bool = False) -> None:
        """Record the model's state now (slab pages and waste per cache, free pages
        per order, memory in use); thin the series when it grows too long."""
        sample = self.view.sample()
        sample["event"] = self.events
        sample["timestamp"] = self.last_timestamp
        sample["live_objects"] = len(self.objects)
        sample["live_pages"] = len(self.pages) + len(self._split_blocks)
        self.stats.note_peak(sample)
        if final and self.samples and self.samples[-1]["event"] == self.events:
            self.samples[-1] = sample
        else:
            self.samples.append(sample)
        if len(self.samples) > self.max_samples:
            self.samples = self.samples[::2]
            self.sample_every *= 2
        self._next_sample = self.events + self.sample_every

    # ------------------------------------------------------------------ results
    @property
    def ok(self) -> bool:
        """No mismatches, no malformed input, and the simulated kernel survived."""
        return not self.mismatches and not self.malformed and self.oops is None

    @property
    def nr_mismatches(self) -> int:
        return sum(self.mismatches.values())

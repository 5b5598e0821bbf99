"""Kernel allocation traces, replayed through the model (a tool, not a model).

source.py      TraceSource: plain/.gz/.xz/.zst/.bz2 files and stdin, streamed
events.py      the kmem tracepoints as ftrace, trace-cmd and perf script print them
replay.py      Replay: each event drives the kernel; quirks, --verify
stats.py       the figures of perf kmem stat --slab --page
model_view.py  what a report reads from the model (slabs, free lists, extfrag)
report.py      text, JSON and HTML reports; --compare

>>> import kmemsim
>>> from kmemsim.trace import Replay, build_report
>>> k = kmemsim.boot("linux-6.18-x86_64")
>>> r = Replay(k, verify=True).run(["trace.txt.xz"])   # doctest: +SKIP
>>> build_report(r)["verify"]["total_mismatches"]      # doctest: +SKIP
0
"""

from kmemsim.trace.replay import Replay
from kmemsim.trace.report import build_report, render_text
from kmemsim.trace.source import TraceError, TraceSource

__all__ = ["Replay", "TraceError", "TraceSource", "build_report", "render_text"]

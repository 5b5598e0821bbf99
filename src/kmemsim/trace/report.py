"""Replay reports: text (perf kmem stat's layout, then the model's view), JSON, HTML.

`build_report(replay)` gathers everything into one plain dict (the JSON
report); `render_text` prints it in the layout of `perf kmem stat --slab
--page` (tools/perf/builtin-kmem.c: print_slab_summary, print_page_summary,
the per-callsite table) followed by what only a model can tell: slab pages
and wasted bytes per cache, free blocks per order, the unusable free space
index per order of each zone, peaks, the replay's quirks and the verify
result. `write_html` embeds matplotlib plots as inline SVG and writes the
file atomically (a temporary file in the same directory, then a rename);
`check_output_path` says beforehand whether that can work, so that a bad
destination is refused before a replay rather than after it.
`compare_table` sets two reports side by side (what-if configurations).
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import os
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kmemsim.errors import KmemsimError
from kmemsim.trace.stats import fragmentation

if TYPE_CHECKING:
    from kmemsim.trace.replay import Replay

REPORT_VERSION = 1
TOP_CACHES = 12
DOTS = "-" * 105


def build_report(
    replay: Replay, *, machine: dict[str, Any] | None = None, top: int = 20
) -> dict[str, Any]:
    """The whole report of a replay as a JSON-ready dict."""
    stats = replay.stats.as_dict(top=top)
    samples = replay.samples
    final = samples[-1] if samples else {}
    series = _series(samples)
    peak = {
        key: {"value": v[0], "event": v[1], "timestamp": v[2]}
        for key, v in replay.stats.peak.items()
    }
    page_size = replay.view.page_size
    if "used_pages" in peak:
        peak["used_bytes"] = {
            **peak["used_pages"],
            "value": peak["used_pages"]["value"] * page_size,
        }
    rate = replay.events / replay.elapsed if replay.elapsed > 0 else 0.0
    caches_final = [
        {"cache": name, "slab_pages": pages, "slab_bytes": pages * page_size, "wasted_bytes": waste}
        for name, (pages, waste) in sorted(
            final.get("caches", {}).items(), key=lambda kv: -kv[1][0]
        )
    ]
    return {
        "kmemsim_replay": REPORT_VERSION,
        "traces": list(replay.sources),
        "machine": machine or {},
        "options": {"verify": replay.verify, "follow_pfn": replay.follow_pfn},
        "events": replay.events,
        "lines": replay.lines,
        "first_timestamp": replay.first_timestamp,
        "last_timestamp": replay.last_timestamp,
        "elapsed_seconds": round(replay.elapsed, 3),
        "events_per_second": round(rate),
        "lost_events": replay.lost_events,
        "malformed": {"count": replay.malformed, "examples": list(replay.malformed_examples)},
        "unknown_events": dict(sorted(replay.unknown_events.items())),
        "unknown_gfp_flags": dict(sorted(replay.unknown_gfp_flags.items())),
        "quirks": dict(sorted(replay.quirks.items())),
        "model_failures": dict(sorted(replay.model_failures.items())),
        "oops": replay.oops,
        "merged_caches": dict(sorted(replay.merged_caches.items())),
        "verify": {
            "enabled": replay.verify,
            "mismatches": dict(sorted(replay.mismatches.items())),
            "total_mismatches": replay.nr_mismatches,
            "examples": {k: list(v) for k, v in sorted(replay.mismatch_examples.items())},
            "checked_events": replay.checked,
            "unchecked_events": dict(sorted(replay.unchecked.items(), key=lambda kv: -kv[1])),
            "page_allocs_zone_unchecked": replay.unchecked_zone,
            "unknown_caches": sorted(replay.unknown_caches),
        },
        "slab": stats["slab"],
        "page": stats["page"],
        "model": {
            "final": {
                "slab_pages": final.get("slab_pages", 0),
                "slab_bytes": final.get("slab_pages", 0) * page_size,
                "slab_waste_bytes": final.get("slab_waste_bytes", 0),
                "free_pages": final.get("free_pages", 0),
                "used_pages": final.get("used_pages"),
                "free_blocks_by_order": final.get("free_blocks_by_order", []),
                "zones": final.get("zones", {}),
                "caches": caches_final,
                "live_traced_objects": final.get("live_objects", 0),
                "live_traced_pages": final.get("live_pages", 0),
            },
            "peak": peak,
            "series": series,
        },
    }


def _series(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Time series of the samples; per-cache series for the caches that used most pages."""
    top: dict[str, int] = {}
    for s in samples:
        for name, (pages, _) in s.get("caches", {}).items():
            if pages > top.get(name, 0):
                top[name] = pages
    names = [n for n, _ in sorted(top.items(), key=lambda kv: -kv[1])[:TOP_CACHES]]
    return {
        "event": [s["event"] for s in samples],
        "timestamp": [s.get("timestamp") for s in samples],
        "slab_pages": [s.get("slab_pages", 0) for s in samples],
        "slab_waste_bytes": [s.get("slab_waste_bytes", 0) for s in samples],
        "used_pages": [s.get("used_pages") for s in samples],
        "free_blocks_by_order": [s.get("free_blocks_by_order", []) for s in samples],
        "unusable_index": {
            zone: [s.get("zones", {}).get(zone, {}).get("unusable_index", []) for s in samples]
            for zone in (samples[-1].get("zones", {}) if samples else {})
        },
        "caches": {
            n: {
                "slab_pages": [s.get("caches", {}).get(n, (0, 0))[0] for s in samples],
                "wasted_bytes": [s.get("caches", {}).get(n, (0, 0))[1] for s in samples],
            }
            for n in names
        },
    }


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=1, sort_keys=False) + "\n"


# ---------------------------------------------------------------------------- text
def _n(x: int) -> str:
    return f"{x:,}"


def render_text(report: dict[str, Any], *, lines: int = 20) -> str:
    """The report as text: perf kmem stat's summaries and tables, then the model's view."""
    out: list[str] = []
    w = out.append
    w(f"kmemsim replay of {', '.join(report['traces'])}")
    m = report.get("machine") or {}
    if m:
        cfg = ",".join(f"{k}={v}" for k, v in m.get("config", {}).items()) or "default"
        w(
            f"machine: profile {m.get('profile')}, {m.get('cpus')} CPUs, "
            f"{m.get('mem') or 'profile RAM'}, config {cfg}"
        )
    w(
        f"{_n(report['events'])} events in {_n(report['lines'])} lines, "
        f"trace time {report['first_timestamp']} .. {report['last_timestamp']}; "
        f"replayed in {report['elapsed_seconds']:.2f} s "
        f"({_n(report['events_per_second'])} events/s)"
    )
    slab = report["slab"]
    # perf kmem stat --slab --caller
    w("")
    w(DOTS)
    w(f" {'Callsite':<34s} | Total_alloc/Per | Total_req/Per   | Hit      | Ping-pong | Frag")
    w(DOTS)
    for row in slab["callsites"][:lines]:
        hit = max(row["hit"], 1)
        w(
            f" {row['callsite'][:34]:<34s} "
            f"| {row['total_alloc']:9d}/{row['total_alloc'] // hit:<5d} "
            f"| {row['total_req']:9d}/{row['total_req'] // hit:<5d} | {row['hit']:8d} "
            f"| {row['pingpong']:9d} | {row['frag_percent']:6.3f}%"
        )
    if slab["nr_callsites"] > lines:
        w(
            " ...                                | ...             | ...             | ...      "
            "| ...       | ...   "
        )
    w(DOTS)
    w("")
    w("SUMMARY (SLAB allocator)")
    w("========================")
    w(f"Total bytes requested: {_n(slab['total_bytes_requested'])}")
    w(f"Total bytes allocated: {_n(slab['total_bytes_allocated'])}")
    w(f"Total bytes freed:     {_n(slab['total_bytes_freed'])}")
    if slab["total_bytes_allocated"] > slab["total_bytes_freed"]:
        w(f"Net total bytes allocated: {_n(slab['net_total_bytes_allocated'])}")
    w(
        "Total bytes wasted on internal fragmentation: "
        f"{_n(slab['total_bytes_wasted_on_internal_fragmentation'])}"
    )
    w(f"Internal fragmentation: {slab['internal_fragmentation_percent']:f}%")
    w(f"Cross CPU allocations: {_n(slab['cross_cpu_allocations'])}/{_n(slab['allocations'])}")
    w(
        f"Alloc-only objects (still live at the end): {_n(slab['alloc_only'])}; "
        f"free-only (allocated before the trace): {_n(slab['free_only'])}"
    )
    # per cache
    w("")
    w(
        f" {'Cache':<26s} | {'Allocs':>9s} | {'Frees':>9s} | {'Live':>7s} | {'Total_alloc':>12s} "
        f"| {'Total_req':>12s} | Frag"
    )
    w(DOTS)
    for row in slab["caches"][:lines]:
        w(
            f" {row['cache'][:26]:<26s} | {row['allocs']:9d} | {row['frees']:9d} | "
            f"{row['live']:7d} | {row['total_alloc']:12d} | {row['total_req']:12d} | "
            f"{row['frag_percent']:6.3f}%"
        )
    w(DOTS)
    page = report["page"]
    w("")
    w("SUMMARY (page allocator)")
    w("========================")

    def pl(label: str, n: int, kb: int) -> None:
        w(f"{label:<30s}: {n:16,d}   [ {kb:16,d} KB ]")

    pl("Total allocation requests", page["total_allocation_requests"], page["total_allocation_kb"])
    pl("Total free requests", page["total_free_requests"], page["total_free_kb"])
    w("")
    pl(
        "Total alloc+freed requests",
        page["total_alloc_freed_requests"],
        page["total_alloc_freed_kb"],
    )
    pl("Total alloc-only requests", page["total_alloc_only_requests"], page["total_alloc_only_kb"])
    pl("Total free-only requests", page["total_free_only_requests"], page["total_free_only_kb"])
    w("")
    pl(
        "Total allocation failures",
        page["total_allocation_failures"],
        page["total_allocation_failures_kb"],
    )
    w("")
    mts = page["migratetypes"]
    w(f"{'Order':>5s}" + "".join(f"  {name:>12s}" for name in mts))
    w("-----" + "  ------------" * len(mts))
    max_order = max([int(o) for o in page["by_order"]] + [10])
    for o in range(max_order + 1):
        row = page["by_order"].get(str(o), {})
        w(f"{o:5d}" + "".join(f"  {row[n]:12,d}" if row.get(n) else f"  {'.':>12s}" for n in mts))
    # the model
    model = report["model"]
    fin = model["final"]
    w("")
    w("MODEL (kmemsim)")
    w("===============")
    w(
        f"Slab memory at the end: {_n(fin['slab_pages'])} pages ({_n(fin['slab_bytes'])} bytes), "
        f"wasted {_n(fin['slab_waste_bytes'])} bytes"
    )
    for key, label in (
        ("slab_pages", "Peak slab pages"),
        ("slab_waste_bytes", "Peak slab waste"),
        ("used_pages", "Peak memory in use (pages)"),
    ):
        p = model["peak"].get(key)
        if p:
            w(f"{label}: {_n(p['value'])} at event {_n(p['event'] or 0)} (t={p['timestamp']})")
    w("")
    w(f" {'Cache':<26s} | {'Slab pages':>10s} | {'Slab bytes':>12s} | {'Wasted bytes':>12s}")
    w(DOTS)
    for row in fin["caches"][:lines]:
        w(
            f" {row['cache'][:26]:<26s} | {row['slab_pages']:10d} | {row['slab_bytes']:12d} | "
            f"{row['wasted_bytes']:12d}"
        )
    w(DOTS)
    for zname, z in fin["zones"].items():
        w("")
        w(f"Zone {zname}: {_n(z['free_pages'])} free pages")
        w("  free blocks per order:  " + " ".join(f"{n:6d}" for n in z["free_blocks"]))
        w("  unusable index:         " + " ".join(f"{x:6.3f}" for x in z["unusable_index"]))
    # replay bookkeeping
    w("")
    w("REPLAY")
    w("======")
    if report["quirks"]:
        w(
            "Trace quirks handled (by kind): "
            + ", ".join(f"{k} {_n(v)}" for k, v in report["quirks"].items())
        )
    if report["oops"]:
        w(f"The simulated kernel died, the replay stopped: {report['oops']}")
    if report["model_failures"]:
        w(
            "Allocations the model failed where the kernel succeeded: "
            + ", ".join(f"{k} {_n(v)}" for k, v in report["model_failures"].items())
        )
    if report["merged_caches"]:
        w(
            "Caches the trace names that are merged: "
            + ", ".join(f"{k} -> {v}" for k, v in report["merged_caches"].items())
        )
    if report["unknown_events"]:
        w(
            "Events not replayed: "
            + ", ".join(f"{k} {_n(v)}" for k, v in report["unknown_events"].items())
        )
    if report["unknown_gfp_flags"]:
        w(
            "GFP flags not known to kmemsim (left out of the masks): "
            + ", ".join(report["unknown_gfp_flags"])
        )
    if report["lost_events"]:
        w(f"Events the ring buffer lost: {_n(report['lost_events'])}")
    mal = report["malformed"]
    if mal["count"]:
        w(f"Malformed lines: {_n(mal['count'])}")
        for e in mal["examples"]:
            w(f"  {e}")
    v = report["verify"]
    if v["enabled"]:
        _render_verify(v, report["events"], report["options"].get("follow_pfn", False), w)
    return "\n".join(out) + "\n"


def _render_verify(
    v: dict[str, Any], events: int, follow_pfn: bool, w: Callable[[str], None]
) -> None:
    """The verify summary: what was checked against the model, what could not be,
    and the mismatches by kind (those of caches the profile does not know apart)."""
    unknown_kind = "unknown cache geometry"
    model_kinds = {k: n for k, n in v["mismatches"].items() if k != unknown_kind}
    n_model = sum(model_kinds.values())
    checked = v.get("checked_events", 0)
    if n_model:
        verdict = f"{_n(n_model)} mismatches"
    elif v["total_mismatches"]:
        verdict = "0 mismatches"
    else:
        verdict = "the model matches the trace (0 mismatches)"
    w(f"Verify: {_n(checked)} of {_n(events)} events checked against the model: {verdict}")
    for kind, n in model_kinds.items():
        w(f"  {kind}: {_n(n)}")
        for e in v["examples"].get(kind, []):
            w(f"    {e}")
    unchecked = v.get("unchecked_events", {})
    if unchecked:
        w(f"  not checkable against the model ({_n(sum(unchecked.values()))} events):")
        for reason, n in unchecked.items():
            w(f"    {reason}: {_n(n)}")
    if not follow_pfn and v.get("checked_events"):
        w(
            "  traced pfns: the model chose its own blocks (--follow-pfn takes the traced "
            "ones and checks they are free)"
        )
    if v.get("page_allocs_zone_unchecked"):
        w(
            f"  mm_page_alloc whose traced pfn is no RAM here (zone not checked): "
            f"{_n(v['page_allocs_zone_unchecked'])}"
        )
    if v.get("unknown_caches"):
        w(
            "  caches the profile does not know, made from bytes_req with its defaults: "
            + ", ".join(v["unknown_caches"])
        )
    n_unknown = v["mismatches"].get(unknown_kind, 0)
    if n_unknown:
        w(
            f"  {unknown_kind}: {_n(n_unknown)} events of those caches disagree with the "
            "profile's defaults"
        )
        for e in v["examples"].get(unknown_kind, []):
            w(f"    {e}")


# ---------------------------------------------------------------------------- compare
COMPARE_ROWS: tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...] = (
    ("slab pages at the end", lambda r: r["model"]["final"]["slab_pages"]),
    ("slab bytes at the end", lambda r: r["model"]["final"]["slab_bytes"]),
    ("slab wasted bytes at the end", lambda r: r["model"]["final"]["slab_waste_bytes"]),
    ("peak slab pages", lambda r: r["model"]["peak"].get("slab_pages", {}).get("value")),
    (
        "peak slab wasted bytes",
        lambda r: r["model"]["peak"].get("slab_waste_bytes", {}).get("value"),
    ),
    ("peak memory in use (pages)", lambda r: r["model"]["peak"].get("used_pages", {}).get("value")),
    ("free pages at the end", lambda r: r["model"]["final"]["free_pages"]),
    ("verify mismatches", lambda r: r["verify"]["total_mismatches"]),
)


def _unusable(report: dict[str, Any]) -> dict[str, list[float]]:
    return {z: d["unusable_index"] for z, d in report["model"]["final"]["zones"].items()}


def compare_summary(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of (what, A, B, B - A) for two reports."""
    rows = []
    for label, get in COMPARE_ROWS:
        va, vb = get(a), get(b)
        diff = vb - va if isinstance(va, int) and isinstance(vb, int) else None
        rows.append({"what": label, "a": va, "b": vb, "b_minus_a": diff})
    ua, ub = _unusable(a), _unusable(b)
    for zone in ua:
        if zone in ub:
            for o, (xa, xb) in enumerate(zip(ua[zone], ub[zone], strict=False)):
                rows.append(
                    {
                        "what": f"unusable index {zone} order {o}",
                        "a": xa,
                        "b": xb,
                        "b_minus_a": round(xb - xa, 3),
                    }
                )
    return rows


def compare_table(a: dict[str, Any], b: dict[str, Any], name_a: str, name_b: str) -> str:
    """Two replays of the same trace side by side (A and B are named above the table)."""
    rows = [r for r in compare_summary(a, b) if not r["what"].startswith("unusable index")]
    width = max(len(r["what"]) for r in rows) + 2

    def f(x: Any) -> str:
        if x is None:
            return "-"
        return f"{x:,}" if isinstance(x, int) else f"{x:.3f}"

    out = [f"A: {name_a}", f"B: {name_b}", ""]
    out.append(f"{'':{width}s} {'A':>16s} {'B':>16s} {'B - A':>14s}")
    for r in rows:
        out.append(
            f"{r['what']:{width}s} {f(r['a']):>16s} {f(r['b']):>16s} {f(r['b_minus_a']):>14s}"
        )
    ua, ub = _unusable(a), _unusable(b)
    if ua:
        orders = max(len(v) for v in ua.values())
        out.append("")
        out.append("unusable free space index per order (mm/vmstat.c, extfrag/unusable_index)")
        out.append(f"{'zone':10s}   " + " ".join(f"{o:>6d}" for o in range(orders)))
        for zone in ua:
            out.append(f"{zone:10s} A " + " ".join(f"{x:6.3f}" for x in ua[zone]))
            if zone in ub:
                out.append(f"{'':10s} B " + " ".join(f"{x:6.3f}" for x in ub[zone]))
    caches_a = {c["cache"]: c for c in a["model"]["final"]["caches"]}
    caches_b = {c["cache"]: c for c in b["model"]["final"]["caches"]}
    names = sorted(
        set(caches_a) | set(caches_b),
        key=lambda n: (
            -max(caches_a.get(n, {}).get("slab_pages", 0), caches_b.get(n, {}).get("slab_pages", 0))
        ),
    )[:15]
    out.append("")
    out.append(f"{'cache':24s} {'A pages':>9s} {'A wasted':>12s} {'B pages':>9s} {'B wasted':>12s}")
    for n in names:
        ca, cb = caches_a.get(n, {}), caches_b.get(n, {})
        out.append(
            f"{n[:24]:24s} {ca.get('slab_pages', 0):9,d} {ca.get('wasted_bytes', 0):12,d} "
            f"{cb.get('slab_pages', 0):9,d} {cb.get('wasted_bytes', 0):12,d}"
        )
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------- html
def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.find("<svg") :]


def _plots(report: dict[str, Any]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = report["model"]["series"]
    x: list[float] = [float(e) for e in s["event"]]
    xlabel = "event"
    try:  # trace time in seconds from the first event, when the trace has timestamps
        t0 = float(report["first_timestamp"])
        x = [float(t) - t0 for t in s["timestamp"]]
        xlabel = "trace time (s)"
    except (TypeError, ValueError):
        pass
    plots: list[tuple[str, str]] = []
    if x:
        fig, ax = plt.subplots(figsize=(9, 4))
        for name, d in s["caches"].items():
            ax.plot(x, d["slab_pages"], label=name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("slab pages")
        ax.legend(fontsize="small", ncol=2)
        plots.append(("Slab pages per cache over the trace", _svg(fig)))
        fig, ax = plt.subplots(figsize=(9, 4))
        for name, d in s["caches"].items():
            ax.plot(x, [b / 1024 for b in d["wasted_bytes"]], label=name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("wasted KiB")
        ax.legend(fontsize="small", ncol=2)
        plots.append(("Wasted bytes per cache over the trace", _svg(fig)))
        orders = max((len(v) for v in s["free_blocks_by_order"]), default=0)
        if orders:
            fig, ax = plt.subplots(figsize=(9, 4))
            for o in range(orders):
                ax.plot(
                    x,
                    [v[o] if o < len(v) else 0 for v in s["free_blocks_by_order"]],
                    label=f"order {o}",
                )
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("free blocks")
            ax.legend(fontsize="small", ncol=3)
            plots.append(("Free blocks per order over the trace", _svg(fig)))
    zones = report["model"]["final"]["zones"]
    if x and zones:
        # The zone with the most free memory: where most allocations are served.
        zone = max(zones, key=lambda z: zones[z]["free_pages"])
        series = s["unusable_index"].get(zone, [])
        orders = max((len(v) for v in series), default=0)
        if orders:
            fig, ax = plt.subplots(figsize=(9, 4))
            for o in range(1, orders):
                ax.plot(x, [v[o] if o < len(v) else 0.0 for v in series], label=f"order {o}")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("unusable free space index")
            ax.set_ylim(0, 1)
            ax.legend(fontsize="small", ncol=3)
            plots.append((f"External fragmentation over the trace (zone {zone})", _svg(fig)))
    if zones:
        fig, ax = plt.subplots(figsize=(9, 3.5))
        width = 0.8 / max(len(zones), 1)
        for i, (zname, z) in enumerate(zones.items()):
            idx = z["unusable_index"]
            ax.bar([o + i * width for o in range(len(idx))], idx, width=width, label=zname)
        ax.set_xlabel("order")
        ax.set_ylabel("unusable free space index")
        ax.set_ylim(0, 1)
        ax.legend(fontsize="small")
        plots.append(("External fragmentation at the end (unusable free space index)", _svg(fig)))
    by_order = report["page"]["by_order"]
    if by_order:
        mts = report["page"]["migratetypes"]
        fig, ax = plt.subplots(figsize=(9, 3.5))
        order_list = sorted(int(o) for o in by_order)
        bottom = [0] * len(order_list)
        for mt in mts:
            vals = [by_order[str(o)].get(mt, 0) for o in order_list]
            if any(vals):
                ax.bar([str(o) for o in order_list], vals, bottom=bottom, label=mt)
                bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        ax.set_xlabel("order")
        ax.set_ylabel("page allocations")
        ax.set_yscale("log")
        ax.legend(fontsize="small")
        plots.append(("Page allocations by order and migrate type", _svg(fig)))
    return plots


def render_html(report: dict[str, Any]) -> str:
    """A self-contained HTML page: the text report and the plots as inline SVG."""
    parts = [
        "<!DOCTYPE html>",
        "<html><head><meta charset='utf-8'><title>kmemsim replay</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "pre{font-size:12px;background:#f6f6f6;padding:8px;overflow-x:auto}</style>",
        "</head><body>",
        f"<h1>kmemsim replay: {html.escape(', '.join(report['traces']))}</h1>",
    ]
    for title, svg in _plots(report):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(svg)
    parts.append("<h2>Report</h2>")
    parts.append(f"<pre>{html.escape(render_text(report))}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render_compare_html(a: dict[str, Any], b: dict[str, Any], name_a: str, name_b: str) -> str:
    """A self-contained HTML page for --compare: the table, then each side's plots."""
    parts = [
        "<!DOCTYPE html>",
        "<html><head><meta charset='utf-8'><title>kmemsim replay --compare</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "pre{font-size:12px;background:#f6f6f6;padding:8px;overflow-x:auto}</style>",
        "</head><body>",
        f"<h1>kmemsim replay --compare: {html.escape(', '.join(a['traces']))}</h1>",
        f"<pre>{html.escape(compare_table(a, b, name_a, name_b))}</pre>",
    ]
    for label, name, report in (("A", name_a, a), ("B", name_b, b)):
        parts.append(f"<h2>{label}: {html.escape(name)}</h2>")
        for title, svg in _plots(report):
            parts.append(f"<h3>{html.escape(title)}</h3>")
            parts.append(svg)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def check_output_path(path: str, option: str = "--html") -> None:
    """Raise KmemsimError unless `write_atomically(path, ...)` can work: called
    before a replay, so that a bad destination costs nothing.

    The name must not be empty, nor name a directory or anything but a regular
    file (the new file replaces it by a rename, which would swap out a device
    or a pipe); its directory must exist, and a file must be creatable there
    (probed with the very temporary file the write uses, which also catches a
    read-only file system, where the permission bits alone would lie to root).
    """
    if not path.strip():
        raise KmemsimError(f"{option}: the file name is empty")
    target = os.path.realpath(path)
    if path.endswith(("/", os.sep)) or os.path.isdir(target):
        raise KmemsimError(f"{option} {path}: is a directory, not a file name")
    if os.path.exists(target) and not os.path.isfile(target):
        raise KmemsimError(
            f"{option} {path}: not a regular file (the report replaces the file by a rename)"
        )
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        what = "not a directory" if os.path.exists(directory) else "No such directory"
        raise KmemsimError(f"{option} {path}: {directory}: {what}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".kmemsim-", suffix=".tmp", dir=directory)
    except OSError as e:
        raise KmemsimError(
            f"{option} {path}: cannot create a file in {directory}: {e.strerror}"
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def write_atomically(path: str, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename, so that the
    file is either the old one or the complete new one, never half-written.
    A symbolic link is followed: the file it points to is the one replaced."""
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".kmemsim-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private; give it the mode a new file would get.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_html(report: dict[str, Any], path: str) -> None:
    write_atomically(path, render_html(report))


__all__ = [
    "build_report",
    "check_output_path",
    "compare_table",
    "fragmentation",
    "render_html",
    "render_json",
    "render_text",
    "write_atomically",
    "write_html",
]

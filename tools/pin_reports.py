"""Pin the replay reports of the shared traces (tests/data/pinned_reports/).

    python tools/pin_reports.py [--data DIR] [--check]

Replays every trace of the captured data (the four ftrace traces and the
perf script one) with --verify, and the python-import trace also with
--follow-pfn, then writes each report, text and JSON, with everything that
depends on the host's speed taken out (the "replayed in" line, elapsed
seconds, events per second) and the trace's directory dropped from its path.

The pinned copies are what the model printed before the replay speed work of
issue 8 (made at commit 9c0c524); tests/trace/test_pinned_reports.py replays
the same traces and requires the same reports, so work on speed cannot change
a figure unnoticed. Regenerate them only for a change that means to alter the
model's results, and say so in the commit. --check compares instead of writing.
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from kmemsim.cli.replay import run_replay  # noqa: E402
from kmemsim.trace.report import render_json, render_text  # noqa: E402

PINNED = REPO / "tests" / "data" / "pinned_reports"

# (name of the pinned pair, trace file, follow_pfn)
CASES: list[tuple[str, str, bool]] = [
    ("python-import", "trace-python-import.txt.xz", False),
    ("python-import.follow-pfn", "trace-python-import.txt.xz", True),
    ("tar-extract", "trace-tar-extract.txt.xz", False),
    ("gcc-build", "trace-gcc-build.txt.xz", False),
    ("site-packages-extract", "trace-site-packages-extract.txt.xz", False),
    ("perf-python-import", "perf-python-import.script.txt.xz", False),
]


def default_data() -> Path:
    env = os.environ.get("KMEMSIM_DATA")
    if env:
        return Path(env)
    return REPO.parent / "shared" / "data" / "linux-6.18-x86_64"


def speed_free(report: dict[str, Any]) -> dict[str, Any]:
    """The report without what depends on the host: timing, and where the data lies."""
    out = dict(report)
    out["elapsed_seconds"] = None
    out["events_per_second"] = None
    out["traces"] = [os.path.basename(t) for t in report["traces"]]
    return out


def text_without_timing(text: str, trace_path: str) -> str:
    lines = []
    for line in text.splitlines():
        if "; replayed in " in line:
            line = line.split("; replayed in ")[0]
        lines.append(line.replace(trace_path, os.path.basename(trace_path)))
    return "\n".join(lines) + "\n"


def reports_of(data: Path, trace: str, follow_pfn: bool) -> tuple[str, str]:
    """(text, JSON) of one replay with --verify, timing taken out."""
    path = str(data / trace)
    _, report = run_replay(
        (path,),
        "linux-6.18-x86_64",
        None,
        None,
        (),
        verify=True,
        follow_pfn=follow_pfn,
        progress=False,
    )
    text = text_without_timing(render_text(report), path)
    return text, render_json(speed_free(report))


def pinned(name: str) -> tuple[str, str]:
    with gzip.open(PINNED / f"{name}.txt.gz", "rt") as f:
        text = f.read()
    with gzip.open(PINNED / f"{name}.json.gz", "rt") as f:
        js = f.read()
    return text, js


def write_gz(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    # mtime=0: the same report gives the same bytes.
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(text.encode())
    os.replace(tmp, path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data())
    ap.add_argument("--check", action="store_true", help="compare with the pinned copies")
    args = ap.parse_args()
    PINNED.mkdir(parents=True, exist_ok=True)
    bad = 0
    for name, trace, follow in CASES:
        text, js = reports_of(args.data, trace, follow)
        if args.check:
            want_text, want_js = pinned(name)
            for kind, got, want in (("text", text, want_text), ("json", js, want_js)):
                if got != want:
                    bad += 1
                    print(f"{name} ({kind}) differs:")
                    diff = difflib.unified_diff(
                        want.splitlines(), got.splitlines(), "pinned", "now", lineterm="", n=1
                    )
                    for line in list(diff)[:40]:
                        print("  " + line)
            print(f"{name}: {'same' if not bad else 'checked'}")
        else:
            write_gz(PINNED / f"{name}.txt.gz", text)
            write_gz(PINNED / f"{name}.json.gz", js)
            print(f"{name}: pinned")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""The replay reports of every shared trace equal the pinned copies (issue 8).

tests/data/pinned_reports/ holds the text and JSON reports the model printed
before the replay speed work (tools/pin_reports.py made them at 9c0c524).
Speed work must not change one figure: each trace is replayed again with
--verify (python-import also with --follow-pfn) and both reports must be
equal, apart from what depends on the host (the "replayed in" timing and
the directory the trace lies in).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

_TOOL = Path(__file__).resolve().parents[2] / "tools" / "pin_reports.py"
_spec = importlib.util.spec_from_file_location("pin_reports", _TOOL)
assert _spec is not None and _spec.loader is not None
pin_reports = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pin_reports)


@pytest.mark.parametrize(("name", "trace", "follow_pfn"), pin_reports.CASES)
def test_report_equals_pinned_copy(
    shared_data: Path, name: str, trace: str, follow_pfn: bool
) -> None:
    text, js = pin_reports.reports_of(shared_data, trace, follow_pfn)
    want_text, want_js = pin_reports.pinned(name)
    assert text == want_text
    assert js == want_js


def test_timing_is_the_only_thing_taken_out(shared_data: Path) -> None:
    """Only the timing and the trace's directory are taken out: every figure stays."""
    path = str(shared_data / "trace-python-import.txt.xz")
    line = "1 events in 1 lines, trace time 1.0 .. 2.0; replayed in 0.50 s (2 events/s)"
    assert pin_reports.text_without_timing(f"of {path}\n{line}", path) == (
        "of trace-python-import.txt.xz\n1 events in 1 lines, trace time 1.0 .. 2.0\n"
    )
    _, js = pin_reports.pinned("tar-extract")
    assert '"events": 145979' in js
    report = {"elapsed_seconds": 1.5, "events_per_second": 9, "traces": [path], "events": 3}
    assert pin_reports.speed_free(report) == {
        "elapsed_seconds": None,
        "events_per_second": None,
        "traces": ["trace-python-import.txt.xz"],
        "events": 3,
    }
    assert os.path.isfile(pin_reports.PINNED / "site-packages-extract.json.gz")

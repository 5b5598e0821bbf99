"""The compiled (mypyc) and the pure-Python model are one kernel: the tests run against both.

setup.py compiles the modules kmemsim/_compiled.py lists where a C compiler is
available; this run of the suite uses whichever model is installed, and
test_the_model_tests_pass_on_the_pure_python_model runs the model's test
directories again in a subprocess with KMEMSIM_PURE_PYTHON=1. On a pure-Python
install (no compiler) there is nothing compiled to compare with: the suite
itself ran the pure model, and that test says so by skipping.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kmemsim
from kmemsim import _compiled

_REPO = Path(__file__).resolve().parent.parent.parent

# What runs again on the pure-Python model: every test of the compiled modules' paths
# (boot, page allocator, slab, the debugging tools' hooks and stacks, the API binding),
# the pinned replay reports of every shared trace and the replay's trace decoder.
_MODEL_TESTS = [
    "tests/boot",
    "tests/core",
    "tests/debug",
    "tests/mm",
    "tests/slab",
    "tests/trace/test_pinned_reports.py",
    "tests/trace/test_columns.py",
]


def _pure_env() -> dict[str, str]:
    return os.environ | {_compiled.PURE_ENV: "1"}


def test_the_model_tests_pass_on_the_pure_python_model() -> None:
    compiled = kmemsim.compiled_modules()
    if not compiled:
        pytest.skip("no compiled modules installed: this run is the pure-Python model")
    cmd = [sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider"]
    cmd += [*_MODEL_TESTS, "--ignore", "tests/core/test_compiled.py"]
    done = subprocess.run(cmd, cwd=_REPO, env=_pure_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout


def test_kmemsim_pure_python_loads_every_listed_module_from_its_source() -> None:
    code = (
        "import importlib, kmemsim\n"
        "from kmemsim import _compiled\n"
        "print(kmemsim.compiled_modules())\n"
        "for m in _compiled.MODULES: print(importlib.import_module(m).__file__)\n"
        "k = kmemsim.boot('x86_64', mem='64M', cpus=1)\n"
        "print(k.ksize(k.kmalloc(100, kmemsim.GFP_KERNEL)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=_pure_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "[]"
    assert len(lines) == len(_compiled.MODULES) + 2
    assert all(line.endswith(".py") for line in lines[1:-1]), lines
    assert lines[-1] == "128"
    assert done.stderr == ""


def test_compiled_modules_names_the_modules_that_are_extension_modules() -> None:
    names = kmemsim.compiled_modules()
    assert set(names) <= set(_compiled.MODULES)
    for name in _compiled.MODULES:
        path = str(sys.modules[name].__file__)
        assert (name in names) == (not path.endswith(".py")), path


def _fake_tree(tmp_path: Path) -> Path:
    """A kmemsim/ tree with two listed sources, "compiled", and the build's hash record."""
    pkg = tmp_path / "kmemsim"
    record = {}
    for module in _compiled.MODULES[:2]:
        path = _compiled.source_path(module, tmp_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"NAME = {module!r}\n")
        path.with_suffix(importlib.machinery.EXTENSION_SUFFIXES[0]).write_bytes(b"")
        record[module] = _compiled.source_hash(path)
    (pkg / _compiled.SOURCES_FILE).write_text(json.dumps(record))
    return pkg


def test_a_source_edited_since_it_was_compiled_stales_the_compiled_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = _fake_tree(tmp_path)
    monkeypatch.setattr(_compiled, "_PKG_DIR", pkg)
    found = _compiled._installed_compiled()
    assert found == list(_compiled.MODULES[:2])
    assert _compiled._stale(found) == []
    edited = _compiled.source_path(_compiled.MODULES[1], tmp_path)
    edited.write_text(edited.read_text() + "# edited\n")
    assert _compiled._stale(found) == [_compiled.MODULES[1]]
    (pkg / _compiled.SOURCES_FILE).unlink()  # no record: nothing to trust
    assert _compiled._stale(found) == found


def test_the_pure_finder_finds_the_source_beside_an_extension_module(tmp_path: Path) -> None:
    pkg = _fake_tree(tmp_path)
    module = _compiled.MODULES[0]
    finder = _compiled.PureFinder(_compiled.MODULES)
    where = [str(_compiled.source_path(module, tmp_path).parent)]
    spec = finder.find_spec(module, where)
    assert spec is not None and spec.origin == str(_compiled.source_path(module, tmp_path))
    assert finder.find_spec("kmemsim.mm.vmalloc", where) is None  # not listed: not ours
    assert pkg.is_dir()

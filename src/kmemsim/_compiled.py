"""kmemsim's compiled model: the modules mypyc compiles, and which of them run compiled.

Not a model of kernel source: the build machinery of kmemsim itself. The hot
paths of the model (the slab allocator, the buddy allocator and their data
structures) are typed under mypy --strict, and where the machine installing
kmemsim has a C compiler, setup.py compiles the modules of MODULES with mypyc
into extension modules placed next to their sources (a plain install puts them
in site-packages; `pip install -e .` builds them in the source tree). Without
a compiler the install is pure Python and everything works the same, slower.

This module (imported first by kmemsim/__init__.py, and never compiled)
decides when it is imported which of the two each listed module runs as:

- `KMEMSIM_PURE_PYTHON=1` in the environment: the .py sources, even where
  compiled modules are installed (set it before kmemsim is imported);
- a compiled module whose source has changed since it was compiled (an
  editable install, edited): the build recorded the SHA-256 of each source it
  compiled in SOURCES_FILE; if any source differs, the whole compiled set is
  left aside (its modules call each other natively, so one stale module
  stales them all) and kmemsim says so in one line on standard error;
- otherwise the compiled modules.

`kmemsim.compiled_modules()` names the modules that run compiled.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

# The modules setup.py compiles, chosen by measurement (benchmarks/slab.py,
# benchmarks/page_alloc.py, kmemsim replay; see README "Speed: compiled model").
MODULES: tuple[str, ...] = (
    "kmemsim.hw.physmem",
    "kmemsim.include.linux.free_area",
    "kmemsim.include.linux.mm_types",
    "kmemsim.include.linux.mmzone",
    "kmemsim.mm.kernel_as",
    "kmemsim.mm.page_alloc",
    "kmemsim.mm.slab",
    "kmemsim.mm.slab_common",
    "kmemsim.mm.slub",
    # The replay's trace decoder (it runs in its own process beside the model,
    # and was the slower of the two once the model was compiled).
    "kmemsim.trace.columns",
)

# Written by the build next to the compiled modules: {module: SHA-256 of its source}.
SOURCES_FILE = "_compiled_sources.json"

PURE_ENV = "KMEMSIM_PURE_PYTHON"

_PKG_DIR = Path(__file__).resolve().parent


def source_path(module: str, root: Path) -> Path:
    """The .py source of `module` under `root` (the directory holding kmemsim/)."""
    return root.joinpath(*module.split(".")).with_suffix(".py")


def source_hash(path: Path) -> str:
    """The SHA-256 of a source file, as the build records it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _installed_compiled() -> list[str]:
    """The listed modules that have an extension module beside their source."""
    root = _PKG_DIR.parent
    found = []
    for module in MODULES:
        base = source_path(module, root).with_suffix("")
        if any(
            base.with_name(base.name + suffix).is_file()
            for suffix in importlib.machinery.EXTENSION_SUFFIXES
        ):
            found.append(module)
    return found


def _stale(modules: Sequence[str]) -> list[str]:
    """The compiled modules whose source is not the one they were compiled from."""
    try:
        recorded = json.loads((_PKG_DIR / SOURCES_FILE).read_text())
    except (OSError, ValueError):
        return list(modules)
    root = _PKG_DIR.parent
    stale = []
    for module in modules:
        path = source_path(module, root)
        current = source_hash(path) if path.is_file() else recorded.get(module)
        if module not in recorded or recorded[module] != current:
            stale.append(module)
    return stale


class PureFinder(importlib.abc.MetaPathFinder):
    """A meta path finder that loads the listed modules from their .py sources
    (the path finder would prefer an extension module beside them)."""

    def __init__(self, modules: Sequence[str]) -> None:
        self.modules = frozenset(modules)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.modules:
            return None
        leaf = fullname.rpartition(".")[2] + ".py"
        for entry in path or sys.path:
            source = os.path.join(entry, leaf)
            if os.path.isfile(source):
                return importlib.util.spec_from_file_location(fullname, source)
        return None


def install() -> None:
    """Choose, once, between the compiled modules and their sources (see the module doc)."""
    if any(isinstance(f, PureFinder) for f in sys.meta_path):
        return
    compiled = _installed_compiled()
    if not compiled:
        return  # a pure-Python install (or a source checkout run with PYTHONPATH)
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        sys.meta_path.insert(0, PureFinder(MODULES))
        return
    stale = _stale(compiled)
    if stale:
        sys.stderr.write(
            f"kmemsim: {stale[0]} changed since it was compiled; running the pure-Python "
            "model (rebuild with pip install -e .)\n"
        )
        sys.meta_path.insert(0, PureFinder(MODULES))


def compiled_modules() -> list[str]:
    """The modules of kmemsim that run compiled (mypyc) in this process; [] for pure Python.

    >>> import kmemsim
    >>> isinstance(kmemsim.compiled_modules(), list)
    True
    """
    out = []
    for module in MODULES:
        mod = importlib.import_module(module)
        if not str(mod.__file__).endswith(".py"):
            out.append(module)
    return out


if __name__ == "kmemsim._compiled":  # not when setup.py reads the list
    install()

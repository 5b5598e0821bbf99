"""Build kmemsim: the model's hot modules compiled with mypyc where possible, else pure Python.

The project's metadata is in pyproject.toml; this file only adds the compiled
modules (src/kmemsim/_compiled.py lists them and says how kmemsim picks
between them and their sources at run time). When mypyc or a working C
compiler is missing, or compiling fails, the build warns and installs the
pure-Python model, which behaves the same. KMEMSIM_PURE_PYTHON=1 at build time
skips compiling.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"


def _load_compiled_list() -> Any:
    """kmemsim/_compiled.py on its own (importing kmemsim would import the model)."""
    spec = importlib.util.spec_from_file_location(
        "_kmemsim_compiled_list", SRC / "kmemsim" / "_compiled.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


COMPILED = _load_compiled_list()


def warn(message: str) -> None:
    print(f"WARNING: kmemsim: {message}; installing the pure-Python model", file=sys.stderr)


def mypyc_extensions() -> tuple[list[Any], dict[str, str]]:
    """The mypyc extension modules, and the SHA-256 of each source they compile."""
    if os.environ.get(COMPILED.PURE_ENV, "") not in ("", "0"):
        warn(f"{COMPILED.PURE_ENV} is set")
        return [], {}
    try:
        from mypyc.build import mypycify
    except ImportError as e:
        warn(f"mypyc is not available ({e})")
        return [], {}
    paths = [COMPILED.source_path(m, SRC) for m in COMPILED.MODULES]
    hashes = {m: COMPILED.source_hash(p) for m, p in zip(COMPILED.MODULES, paths, strict=True)}
    cwd = os.getcwd()
    try:
        os.chdir(HERE)
        extensions = mypycify(
            [str(p.relative_to(HERE)) for p in paths],
            opt_level="3",
            debug_level="0",
            group_name="kmemsim",
        )
    except (Exception, SystemExit) as e:
        warn(f"mypyc could not compile the model ({e})")
        return [], {}
    finally:
        os.chdir(cwd)
    return list(extensions), hashes


EXTENSIONS, HASHES = mypyc_extensions()


class BuildExt(build_ext):
    """build_ext that falls back to pure Python when the C compiler fails, and records
    the hash of every compiled source (kmemsim ignores a compiled module whose source
    has changed since: an editable install, edited)."""

    def run(self) -> None:
        if not self.extensions:
            return
        try:
            super().run()
        except Exception as e:  # no compiler, a compiler error, a missing Python.h
            warn(f"compiling the model failed ({type(e).__name__}: {str(e)[:160]})")
            self._remove_outputs()
            self.extensions = []
            return
        self._write_hashes()

    def _targets(self) -> list[Path]:
        """Where the compiled modules land: the build tree, and the source tree when the
        build is in place (pip install -e .)."""
        return [Path(self.build_lib)] + ([SRC] if self.inplace or self.editable_mode else [])

    def _remove_outputs(self) -> None:
        for ext in self.extensions:
            for root in self._targets():
                (root / self.get_ext_filename(ext.name)).unlink(missing_ok=True)

    def _write_hashes(self) -> None:
        for root in self._targets():
            (root / "kmemsim").mkdir(parents=True, exist_ok=True)
            (root / "kmemsim" / COMPILED.SOURCES_FILE).write_text(json.dumps(HASHES, indent=1))

    def get_outputs(self) -> list[str]:
        outputs: list[str] = super().get_outputs()
        if self.extensions:
            outputs.append(str(Path(self.build_lib) / "kmemsim" / COMPILED.SOURCES_FILE))
        return outputs


setup(ext_modules=EXTENSIONS, cmdclass={"build_ext": BuildExt})

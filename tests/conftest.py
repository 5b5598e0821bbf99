"""Shared fixtures: the captured Linux 6.18 data and booted kernels.

The data of ../shared/data/linux-6.18-x86_64 is required: a test that needs it
fails when it is missing, it never skips. KMEMSIM_DATA overrides the location.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import kmemsim

_REPO = Path(__file__).resolve().parent.parent


def _data_dir() -> Path:
    env = os.environ.get("KMEMSIM_DATA")
    if env:
        return Path(env)
    return _REPO.parent / "shared" / "data" / "linux-6.18-x86_64"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The directory of data captured from the real Linux 6.18 x86_64 machine."""
    path = _data_dir()
    if not (path / "README.md").is_file():
        pytest.fail(f"captured kernel data missing at {path} (set KMEMSIM_DATA)")
    return path


@pytest.fixture
def kernel_6_18() -> kmemsim.Kernel:
    """A fresh kernel on the machine the shared data was captured from."""
    return kmemsim.boot("linux-6.18-x86_64")


@pytest.fixture
def kernel_x86_64() -> kmemsim.Kernel:
    """A fresh default machine with 1 GiB of RAM and 2 CPUs."""
    return kmemsim.boot("x86_64", mem="1G", cpus=2)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest test first (the model's tests again, on the pure-Python model: see
    tests/core/test_compiled.py), so that the other workers' tests run beside it."""
    items.sort(key=lambda item: item.name != "test_the_model_tests_pass_on_the_pure_python_model")

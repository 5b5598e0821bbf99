"""The caches a booted linux-6.18-x86_64 creates, against the captured machine.

The profile records what each 6.18 call site passes to kmem_cache_create()
(profiles/linux-6.18-x86_64.caches.json, built by tools/slab_profile.py);
the model computes everything else: slab size, order, objects per slab,
alignment, which caches merge and under which name /proc/slabinfo lists
them. These tests compare those results with slab_caches.json,
slab_aliases.json and proc-slabinfo.txt. Entries whose inputs the source did
not settle ("guessed": true) are counted apart: the assertions that can fail
hold for the settled ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import kmemsim
from kmemsim.mm import slab_boot

GEOMETRY = ("slab_size", "order", "objs_per_slab", "align", "min_partial", "cpu_partial")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def k() -> kmemsim.Kernel:
    return kmemsim.boot("linux-6.18-x86_64")


@pytest.fixture(scope="module")
def profile() -> dict[str, Any]:
    data = slab_boot.profile_caches("linux-6.18-x86_64")
    assert data is not None
    return data


def _entries(profile: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in profile["caches"]}


def _real_slabinfo(shared_data: Path) -> list[list[str]]:
    lines = (shared_data / "proc-slabinfo.txt").read_text().splitlines()[2:]
    return [ln.split() for ln in lines if ln.strip()]


def _our_slabinfo(k: kmemsim.Kernel) -> list[list[str]]:
    return [ln.split() for ln in k.cat("/proc/slabinfo").splitlines()[2:]]


def test_core_caches_are_listed_in_proc_slabinfo(k: kmemsim.Kernel) -> None:
    names = [row[0] for row in _our_slabinfo(k)]
    for name in (
        "kmem_cache",
        "kmem_cache_node",
        "dentry",
        "names_cache",
        "inode_cache",
        "filp",
        "radix_tree_node",
        "task_struct",
        "mm_struct",
        "vm_area_struct",
        "sighand_cache",
        "signal_cache",
        "files_cache",
        "proc_inode_cache",
        "maple_node",
        "vmap_area",
        "anon_vma",
    ):
        assert name in names, name
    # kmem_cache_init() makes kmem_cache_node, then kmem_cache, then the kmalloc
    # caches: /proc/slabinfo lists newest first, so they are its last lines.
    assert names[-2:] == ["kmem_cache", "kmem_cache_node"]
    assert names.index("kmem_cache") > names.index("kmalloc-96") > names.index("vmap_area")
    # kmem_cache and kmem_cache_node are never merged: real directories.
    assert k.fs.readlink("/sys/kernel/slab/kmem_cache") is None
    assert k.cat("/sys/kernel/slab/kmem_cache_node/align") == "64\n"


def test_every_real_slabinfo_line_is_there_with_the_computed_geometry(
    k: kmemsim.Kernel, shared_data: Path, profile: dict[str, Any]
) -> None:
    """Each cache the real /proc/slabinfo lists (merged ones under their first
    creator's name) is listed by the model with the same objsize, objperslab
    and pagesperslab, computed from the recorded arguments."""
    entries = _entries(profile)
    ours = {row[0]: row for row in _our_slabinfo(k)}
    settled = guessed = 0
    wrong: list[tuple[str, list[str], list[str] | None]] = []
    for row in _real_slabinfo(shared_data):
        name = row[0]
        e = entries.get(name)
        if e is not None and e["guessed"] and "size" in e.get("guessed_what", []):
            guessed += 1
            assert name in ours, name  # created, its size not settled
            continue
        settled += 1
        got = ours.get(name)
        if got is None or got[3:6] != row[3:6]:
            wrong.append((name, row[3:6], got and got[3:6]))
    assert not wrong, wrong
    assert settled >= 110 and settled + guessed == len(_real_slabinfo(shared_data))


def test_merged_caches_carry_the_first_creators_name(
    k: kmemsim.Kernel, shared_data: Path, profile: dict[str, Any]
) -> None:
    """A directory :id of the real machine is named, in /proc/slabinfo, after the
    first cache created with its geometry; the model finds the same first
    creator from the creation order alone."""
    aliases: dict[str, str] = json.loads((shared_data / "slab_aliases.json").read_text())
    real_names = {row[0] for row in _real_slabinfo(shared_data)}
    checked = 0
    for uid in sorted(set(aliases.values())):
        first = [n for n, t in aliases.items() if t == uid and n in real_names]
        if not first:
            continue  # that directory is not in the captured /proc/slabinfo sample
        (name,) = first
        s = k.slab.find_cache(name)
        assert s is not None, name
        assert s.name == name, (uid, name, s.name)
        checked += 1
    assert checked >= 45


def test_sysfs_links_follow_the_real_ones(
    k: kmemsim.Kernel, shared_data: Path, profile: dict[str, Any]
) -> None:
    """Every name /sys/kernel/slab shows as a link on the real machine is a link
    to the same unique id in the model, for the names whose size is settled;
    guessed and unmodelled names are counted apart."""
    aliases: dict[str, str] = json.loads((shared_data / "slab_aliases.json").read_text())
    entries = _entries(profile)
    not_modelled = {e["name"] for e in profile["not_modelled"]}
    settled = guessed = absent = 0
    wrong = []
    for name, target in sorted(aliases.items()):
        if name in not_modelled:
            absent += 1
            continue
        if name.startswith(("memdup_user-", "msg_msg-")):
            continue  # kmem_buckets caches are never merged
        e = entries[name]
        link = k.fs.readlink(f"/sys/kernel/slab/{name}")
        if "size" in e.get("guessed_what", []):
            guessed += 1
            continue
        settled += 1
        if link != target:
            wrong.append((name, target, link))
    assert not wrong, wrong
    assert settled >= 30
    assert settled + guessed + absent == len(aliases)


def _model_cache_for_dir(
    k: kmemsim.Kernel, dirname: str, aliases: dict[str, str]
) -> tuple[Any, list[str]]:
    names = (
        [n for n, t in aliases.items() if t == dirname] if dirname.startswith(":") else [dirname]
    )
    for name in names:
        s = k.slab.find_cache(name)
        if s is not None:
            return s, names
    return None, names


def test_geometry_is_computed_from_the_recorded_arguments(
    k: kmemsim.Kernel, shared_data: Path, profile: dict[str, Any]
) -> None:
    """slab_size, order, objs_per_slab, align, min_partial and cpu_partial of each
    captured directory, as calculate_alignment(), calculate_sizes() and
    calculate_order() give them for the arguments the call sites pass."""
    aliases: dict[str, str] = json.loads((shared_data / "slab_aliases.json").read_text())
    entries = _entries(profile)
    settled = guessed = 0
    wrong = []
    for d in json.loads((shared_data / "slab_caches.json").read_text()):
        if d["kmalloc"]:
            continue
        s, names = _model_cache_for_dir(k, d["name"], aliases)
        if s is None:
            continue
        creator = entries.get(s.name)
        if creator is not None and "size" in creator.get("guessed_what", []):
            guessed += 1
            continue
        settled += 1
        sysfs = k.slab.sysfs_name(s)
        for attr in GEOMETRY:
            got = int(k.cat(f"/sys/kernel/slab/{sysfs}/{attr}"))
            if got != d[attr]:
                wrong.append((d["name"], names[0], attr, got, d[attr]))
    assert not wrong, wrong
    assert settled >= 55
    assert settled + guessed >= 85


def test_creation_order_follows_start_kernel(
    k: kmemsim.Kernel, shared_data: Path, profile: dict[str, Any]
) -> None:
    """The caches start_kernel() creates (not the initcalls, whose link order the
    profile guesses) appear in the real /proc/slabinfo's order."""
    entries = _entries(profile)
    ours = [row[0] for row in _our_slabinfo(k)]
    real = [
        row[0]
        for row in _real_slabinfo(shared_data)
        if row[0] in entries and "order" not in entries[row[0]].get("guessed_what", [])
    ]
    assert len(real) >= 25
    assert [n for n in ours if n in real] == real


def test_the_profile_holds_inputs_only(profile: dict[str, Any]) -> None:
    allowed = {"source", "sysfs", "trace"}
    counts = {"settled": 0, "guessed": 0}
    for e in profile["caches"]:
        for result in ("slab_size", "order", "objs_per_slab", "objects", "min_partial"):
            assert result not in e, (e["name"], result)
        how = e["size_from"]
        assert how in allowed or (how.startswith("guess:") and e["guessed"]), e["name"]
        assert "unique id" not in how
        assert e["creator"] and e["file"] and e["phase"] in profile["phases"]
        counts["guessed" if e["guessed"] else "settled"] += 1
    assert counts["settled"] >= 20 and sum(counts.values()) == len(profile["caches"])


def test_the_profile_is_what_the_tool_builds(shared_data: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "slab_profile.py"), "--check", str(shared_data)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_configuration_selects_the_call_sites(profile: dict[str, Any]) -> None:
    xfs = next(e for e in profile["caches"] if e["name"] == "xfs_buf")
    assert slab_boot.selected(xfs, profile["kconfig"])
    assert not slab_boot.selected(xfs, {**profile["kconfig"], "CONFIG_XFS_FS": "n"})
    # The captured kernel has no modules: every recorded call site is built in.
    assert all(slab_boot.selected(e, profile["kconfig"]) for e in profile["caches"])


def test_boot_caches_n_keeps_slubs_own_and_the_kmalloc_caches() -> None:
    k = kmemsim.boot("linux-6.18-x86_64", config={"boot_caches": "n"})
    names = {row[0] for row in _our_slabinfo(k)}
    assert {"kmem_cache", "kmem_cache_node", "kmalloc-8"} <= names
    assert "dentry" not in names and "filp" not in names


def test_a_profile_without_a_record_gets_slubs_own_caches() -> None:
    k = kmemsim.boot("x86_64", mem="256M")
    names = [row[0] for row in _our_slabinfo(k)]
    assert names[-2:] == ["kmem_cache", "kmem_cache_node"]
    assert "dentry" not in names


def test_unknown_names_are_not_invented(k: kmemsim.Kernel) -> None:
    assert slab_boot.kmem_cache_create_known(k, "no_such_cache_anywhere") is None

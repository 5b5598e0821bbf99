"""The `kmemsim` command line: boot, cat, run (and the tools' subcommands).

Every subcommand that needs a kernel takes the same machine options, declared
once in `machine_options`: --profile, --mem, --cpus, --config KEY=VALUE
(repeatable). A mistake in them, a missing file, or any KmemsimError is one
line on standard error and exit code 2; never a traceback.
"""

from __future__ import annotations

import functools
import runpy
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

import kmemsim
from kmemsim.errors import KmemsimError, Oops
from kmemsim.hw.mmio import BusError
from kmemsim.init.config import parse_assignment

F = TypeVar("F", bound=Callable[..., Any])


def machine_options(func: F) -> F:
    """The options every kernel-booting subcommand shares."""
    options = [
        click.option(
            "--profile",
            "-p",
            default="x86_64",
            show_default=True,
            help="Machine profile name (x86_64, linux-6.18-x86_64, i386, "
            "beaglebone-black) or path to a profile TOML file.",
        ),
        click.option(
            "--mem",
            "-m",
            default=None,
            metavar="SIZE",
            help="RAM size, e.g. 512M, 4G, 1T (where the profile allows).",
        ),
        click.option(
            "--cpus",
            "-c",
            default=None,
            type=click.IntRange(min=1),
            metavar="N",
            help="Number of CPUs.",
        ),
        click.option(
            "--config",
            "-C",
            "config",
            multiple=True,
            metavar="KEY=VALUE",
            help="Kconfig option or boot parameter (repeatable), e.g. "
            "slub_max_order=1, SLUB_TINY=y, min_free_kbytes=8192.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def config_dict(assignments: tuple[str, ...]) -> dict[str, str]:
    """--config KEY=VALUE ... as a dict (later ones win)."""
    return dict(parse_assignment(a) for a in assignments)


def boot_from_options(
    profile: str, mem: str | None, cpus: int | None, config: tuple[str, ...]
) -> kmemsim.Kernel:
    """Boot the kernel the shared machine options describe."""
    return kmemsim.boot(profile, mem=mem, cpus=cpus, config=config_dict(config))


def fail(message: str) -> None:
    """One line on stderr, exit code 2."""
    click.echo(f"kmemsim: error: {message}", err=True)
    sys.exit(2)


def user_errors(func: F) -> F:
    """Turn KmemsimError into a one-line message and exit code 2; a kernel that died while
    booting shows its log, then one line saying so, exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KmemsimError as e:
            fail(str(e))
        except Oops as e:
            if isinstance(e.kernel, kmemsim.Kernel):
                click.echo(e.kernel.dmesg(), nl=False)
            click.echo(f"kmemsim: the kernel died while booting: {e}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


class _Group(click.Group):
    """A click group whose usage errors are one line with exit code 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("standalone_mode", True)
        try:
            return super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.ctx.get_help() if e.ctx else str(e))
            sys.exit(0)
        except click.UsageError as e:
            hint = f" (see 'kmemsim {e.ctx.command.name if e.ctx and e.ctx.parent else ''} --help')"
            click.echo(f"kmemsim: error: {e.format_message()}{hint.replace('  ', ' ')}", err=True)
            sys.exit(2)
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except click.ClickException as e:
            e.show()
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(kmemsim.__version__, prog_name="kmemsim")
def cli() -> None:
    """kmemsim: Linux memory management and I/O memory, as an executable model."""


@cli.command()
@machine_options
@user_errors
def boot(profile: str, mem: str | None, cpus: int | None, config: tuple[str, ...]) -> None:
    """Boot a machine and print its kernel log."""
    k = boot_from_options(profile, mem, cpus, config)
    click.echo(k.dmesg(), nl=False)


@cli.command()
@machine_options
@click.option("--user", is_flag=True, help="Read as an unprivileged user (no CAP_SYS_ADMIN).")
@click.argument("paths", nargs=-1, required=True)
@user_errors
def cat(
    profile: str,
    mem: str | None,
    cpus: int | None,
    config: tuple[str, ...],
    user: bool,
    paths: tuple[str, ...],
) -> None:
    """Print /proc and /sys files of a freshly booted machine.

    As cat(1): each file in turn; one that cannot be read is reported on stderr
    and the others are still printed; the exit code is then 1.
    """
    k = boot_from_options(profile, mem, cpus, config)
    status = 0
    for path in paths:
        try:
            text = k.cat(path, user=user)
        except KmemsimError as e:
            click.echo(f"kmemsim {e}", err=True)
            status = 1
            continue
        click.echo(text, nl=not text.endswith("\n"))
    if status:
        sys.exit(status)


@cli.command()
@click.argument("script", type=click.Path(dir_okay=False))
@machine_options
@user_errors
def run(
    script: str, profile: str, mem: str | None, cpus: int | None, config: tuple[str, ...]
) -> None:
    """Run a scenario SCRIPT.py with a booted kernel bound to `k`, then print its dmesg.

    The script sees `k` (the kernel) and `kmemsim` in its globals; the log
    printed is what the kernel logged after boot.
    """
    path = Path(script)
    if not path.is_file():
        fail(f"{script}: No such file")
    k = boot_from_options(profile, mem, cpus, config)
    # The scenario runs as a task named after it (TASK_COMM_LEN - 1 characters), as a
    # module loaded by insmod runs as "insmod": reports name it.
    k.sched.set_task(path.stem[:15], 1000)
    since = len(k.log)
    try:
        runpy.run_path(str(path), init_globals={"k": k, "kmemsim": kmemsim}, run_name="__main__")
    except Oops as e:
        click.echo(k.dmesg(since), nl=False)
        click.echo(f"kmemsim: the kernel died in {script}: {e}", err=True)
        sys.exit(1)
    except SystemExit:
        click.echo(k.dmesg(since), nl=False)
        raise
    except KmemsimError as e:
        # A misuse of kmemsim itself (a bad argument, the wrong machine): one line.
        click.echo(k.dmesg(since), nl=False)
        click.echo(f"kmemsim: error: {e}", err=True)
        sys.exit(2)
    except Exception:
        # A bug in the user's scenario: show where, as Python would, after the log.
        click.echo(k.dmesg(since), nl=False)
        traceback.print_exc()
        sys.exit(1)
    click.echo(k.dmesg(since), nl=False)


@cli.command()
@machine_options
@click.argument("address")
@click.argument("width", required=False)
@click.argument("value", required=False)
@user_errors
def devmem(
    profile: str,
    mem: str | None,
    cpus: int | None,
    config: tuple[str, ...],
    address: str,
    width: str | None,
    value: str | None,
) -> None:
    """Read or write physical memory through /dev/mem, as busybox devmem does.

    ADDRESS is physical; WIDTH is 8, 16, 32 (default) or 64 bits (or b, h, w, l);
    with VALUE the location is written, else it is read and printed. The access
    goes through an mmap() of /dev/mem, with the kernel's STRICT_DEVMEM rules.
    """
    try:
        addr = int(address, 0)
        bits = {"b": 8, "h": 16, "w": 32, "l": 64}.get(width or "32") or int(width or "32")
        val = int(value, 0) if value is not None else None
    except ValueError:
        fail(f"devmem: invalid number in {' '.join(x for x in (address, width, value) if x)}")
        return
    if bits not in (8, 16, 32, 64) or addr < 0:
        fail(f"devmem: invalid width or address: {width} {address}")
        return
    k = boot_from_options(profile, mem, cpus, config)
    if k.devmem is None:
        click.echo("devmem: can't open '/dev/mem': No such file or directory", err=True)
        sys.exit(1)
    page = k.machine.page_size
    base = addr & ~(page - 1)
    width_bytes = bits // 8
    try:
        mapping = k.devmem.mmap(base, addr - base + width_bytes)
        if val is None:
            click.echo(f"0x{mapping.read(addr - base, width_bytes):0{bits // 4}X}")
        else:
            mapping.write(addr - base, width_bytes, val)
    except OSError as e:
        click.echo(f"devmem: mmap: {e.strerror}", err=True)
        sys.exit(1)
    except BusError:
        click.echo("Bus error", err=True)
        sys.exit(135)


def _register_tools() -> None:
    """Subcommands that live with their tools (trace/, ...)."""
    from kmemsim.cli.replay import replay

    cli.add_command(replay)


def main() -> None:
    """Console-script entry point."""
    _register_tools()
    cli.main(prog_name="kmemsim")


def _size_text(size: int) -> str:
    """A region size as mm.rst writes it: the largest unit that keeps it >= 1 (kB .. PB)."""
    for unit, shift in (("PB", 50), ("TB", 40), ("GB", 30), ("MB", 20), ("kB", 10)):
        if size >= 1 << shift:
            value = size / (1 << shift)
            text = f"{value:.2f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
    return f"{size} B"


@cli.command()
@machine_options
@user_errors
def layout(profile: str, mem: str | None, cpus: int | None, config: tuple[str, ...]) -> None:
    """Print the kernel's virtual address space: start, end, size and what each region holds."""
    k = boot_from_options(profile, mem, cpus, config)
    lay = k.vm_layout
    width = 16 if lay.bits == 64 else 8
    paging = f", {lay.pgtable_levels}-level paging" if lay.bits == 64 else ""
    click.echo(f"# {k.machine.name} ({k.machine.arch}{paging}), PAGE_OFFSET {lay.page_offset:#x}")
    click.echo(f"{'start':>{width}} | {'end':>{width}} | {'size':>9} | what")
    for r in k.layout():
        click.echo(
            f"{r.start:0{width}x} | {r.end - 1:0{width}x} | {_size_text(r.size):>9} | {r.what}"
        )

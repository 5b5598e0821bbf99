"""`kmemsim replay`: real kernel allocation traces through the model.

    kmemsim replay TRACE... [--verify] [--follow-pfn] [--json | --html FILE]
                   [--compare CONFIG_A CONFIG_B] [machine options]

TRACE is ftrace text (trace, trace_pipe, trace-cmd report) or `perf script`
text, plain or compressed (.gz, .xz, .zst), or "-" for standard input.
Without --profile the machine is linux-6.18-x86_64, the one the shared traces
were captured on; --profile/--mem/--cpus/--config work as for every
subcommand, so `--config slub_max_order=1` asks "what if".

Exit codes: 0 replayed (and, with --verify, no mismatch); 1 the model and
the trace disagree (--verify), or the simulated kernel died (an Oops: out of
memory on a smaller what-if machine); 2 bad usage or bad input (a missing,
empty, truncated or malformed trace, an unknown option value).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from kmemsim.cli.main import boot_from_options, config_dict, fail, machine_options, user_errors
from kmemsim.errors import KmemsimError

REPLAY_DEFAULT_PROFILE = "linux-6.18-x86_64"


def _progress_bar(enabled: bool | None) -> Any:
    """A rich progress display on stderr: by default when stderr is a terminal;
    with --progress also when it is not (a log file, a pipe to `less -R`), drawn
    as on a terminal (each refresh rewrites the line, the end erases it), since
    rich on a non-terminal would draw nothing but a newline; never with
    --no-progress."""
    tty = sys.stderr.isatty()
    if enabled is False or (enabled is None and not tty):
        return None
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.fields[events]:>12,} events"),
        TimeElapsedColumn(),
        console=Console(stderr=True, force_terminal=True if not tty else None),
        transient=True,
    )


def parse_config_spec(spec: str) -> tuple[str, ...]:
    """A --compare operand: "default", or "KEY=VALUE,KEY=VALUE"."""
    text = spec.strip()
    if text in ("default", "defaults", ""):
        return ()
    items = tuple(part.strip() for part in text.split(",") if part.strip())
    for item in items:
        if "=" not in item:
            raise KmemsimError(
                f"--compare {spec!r}: expected 'default' or a comma-separated "
                f"KEY=VALUE list, got {item!r}"
            )
    return items


def run_replay(
    traces: tuple[str, ...],
    profile: str,
    mem: str | None,
    cpus: int | None,
    config: tuple[str, ...],
    *,
    verify: bool,
    follow_pfn: bool,
    progress: bool | None,
    label: str = "replay",
) -> Any:
    """Boot, replay and return (replay, report dict).

    The first trace's decoding process starts before the boot, so that
    reading, decompressing and decoding overlap the boot on another core."""
    from kmemsim.trace.columns import DecodedTrace
    from kmemsim.trace.replay import Replay
    from kmemsim.trace.report import build_report

    first = DecodedTrace(traces[0])
    try:
        k = boot_from_options(profile, mem, cpus, config)
        sources: list[str | DecodedTrace] = [first, *traces[1:]]
        bar = _progress_bar(progress)
        if bar is None:
            r = Replay(k, verify=verify, follow_pfn=follow_pfn)
            r.run(sources)
        else:
            with bar:
                task = bar.add_task(label, total=None, events=0)

                def tick(events: int, lines: int) -> None:
                    bar.update(task, events=events)

                r = Replay(k, verify=verify, follow_pfn=follow_pfn, progress=tick)
                r.run(sources)
    finally:
        first.close()
    machine = {
        "profile": profile,
        "mem": mem,
        "cpus": r.view.nr_cpus,
        "config": config_dict(config),
    }
    return r, build_report(r, machine=machine)


def _write_output(path: str, write: Callable[[], None]) -> None:
    """Run `write`; a failure the check before the replay could not foresee (the
    disk filled, the directory went away meanwhile) is one line and exit 2."""
    try:
        write()
    except OSError as e:
        fail(f"cannot write {path}: {e.strerror or e}")


def _exit_code(r: Any) -> int:
    if r.malformed or (r.events == 0 and r.oops is None):
        return 2
    if (r.verify and r.mismatches) or r.oops is not None:
        return 1
    return 0


def _input_problems(r: Any, printed_report: bool) -> None:
    """The input's problems on stderr, one line each (the report holds them too)."""
    if r.malformed:
        if printed_report and r.malformed == 1 and r.malformed_examples:
            click.echo(f"kmemsim: error: {r.malformed_examples[0]}", err=True)
        elif printed_report:
            first = r.malformed_examples[0] if r.malformed_examples else ""
            click.echo(
                f"kmemsim: error: {r.malformed:,} malformed line(s) in the trace; first: {first}",
                err=True,
            )
        else:
            for example in r.malformed_examples:
                click.echo(f"kmemsim: error: {example}", err=True)
            if r.malformed > len(r.malformed_examples):
                click.echo(f"kmemsim: error: {r.malformed:,} malformed lines in all", err=True)
    if r.events == 0 and r.oops is None and not r.malformed:
        click.echo("kmemsim: error: the trace holds no kmem events", err=True)
    if r.oops is not None:
        click.echo(f"kmemsim: the simulated kernel died at {r.oops}", err=True)


@click.command()
@click.argument("traces", nargs=-1, required=True, metavar="TRACE...")
@machine_options
@click.option(
    "--verify", is_flag=True, help="Check every event against the model; exit 1 on any mismatch."
)
@click.option(
    "--follow-pfn",
    is_flag=True,
    help="Page allocations take the traced pfn instead of the model's choice.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Also write an HTML report with plots to FILE.",
)
@click.option(
    "--compare",
    nargs=2,
    default=None,
    metavar="CONFIG_A CONFIG_B",
    help="Replay twice and show both side by side; each is 'default' or "
    "KEY=VALUE[,KEY=VALUE...] on top of --config.",
)
@click.option(
    "--lines",
    "-l",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Rows of the per-call-site and per-cache tables.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: when stderr is a terminal; --progress "
    "draws it on any stderr, with terminal control codes).",
)
@user_errors
def replay(
    traces: tuple[str, ...],
    profile: str,
    mem: str | None,
    cpus: int | None,
    config: tuple[str, ...],
    verify: bool,
    follow_pfn: bool,
    as_json: bool,
    html_path: str | None,
    compare: tuple[str, str] | None,
    lines: int,
    progress: bool | None,
) -> None:
    """Replay kernel allocation traces (ftrace or perf script text) through the model.

    TRACE is a file (plain, .gz, .xz, .zst) or - for standard input. Exit code 0
    when replayed (and verified), 1 when --verify finds mismatches, 2 for bad
    usage or a malformed, truncated or empty trace.
    """
    from kmemsim.trace.report import (
        check_output_path,
        compare_summary,
        compare_table,
        render_compare_html,
        render_json,
        render_text,
        write_atomically,
        write_html,
    )

    for path in traces:
        if path != "-" and not os.path.isfile(path):
            fail(f"{path}: No such file" if not os.path.exists(path) else f"{path}: not a file")
    if traces.count("-") > 1:
        fail("standard input ('-') can be replayed only once")
    if compare is not None and "-" in traces:
        fail("--compare replays the trace twice: give a file, not standard input")
    # Every output path is checked before the replay, which may take minutes.
    if html_path is not None:
        check_output_path(html_path, "--html")
        for path in traces:
            if path != "-" and os.path.exists(html_path) and os.path.samefile(path, html_path):
                fail(f"--html {html_path}: is the trace {path}; the report would replace it")
    if compare is None:
        r, report = run_replay(
            traces,
            profile,
            mem,
            cpus,
            config,
            verify=verify,
            follow_pfn=follow_pfn,
            progress=progress,
        )
        # Nothing replayed: the reasons (on stderr) are all there is to say.
        printed = as_json or bool(r.events) or r.oops is not None
        if as_json:
            click.echo(render_json(report), nl=False)
        elif printed:
            click.echo(render_text(report, lines=lines), nl=False)
        if html_path is not None:
            _write_output(html_path, lambda: write_html(report, html_path))
        _input_problems(r, printed)
        sys.exit(_exit_code(r))
    spec_a, spec_b = compare
    results = []
    for spec in (spec_a, spec_b):
        extra = parse_config_spec(spec)
        results.append(
            run_replay(
                traces,
                profile,
                mem,
                cpus,
                config + extra,
                verify=verify,
                follow_pfn=follow_pfn,
                progress=progress,
                label=spec,
            )
        )
    (ra, rep_a), (rb, rep_b) = results
    if as_json:
        import json

        click.echo(
            json.dumps(
                {
                    "a": {"config": spec_a, "report": rep_a},
                    "b": {"config": spec_b, "report": rep_b},
                    "comparison": compare_summary(rep_a, rep_b),
                },
                indent=1,
            )
        )
    else:
        click.echo(f"kmemsim replay --compare of {', '.join(rep_a['traces'])}")
        click.echo(compare_table(rep_a, rep_b, spec_a, spec_b), nl=False)
    if html_path is not None:
        _write_output(
            html_path,
            lambda: write_atomically(html_path, render_compare_html(rep_a, rep_b, spec_a, spec_b)),
        )
    _input_problems(ra, True)
    sys.exit(max(_exit_code(ra), _exit_code(rb)))


# The shared traces come from the linux-6.18-x86_64 machine: replay boots it
# unless --profile says otherwise (the other machine options are as everywhere).
for _param in replay.params:
    if _param.name == "profile":
        _param.default = REPLAY_DEFAULT_PROFILE

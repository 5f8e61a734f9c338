"""Progress of an experiment's or a rehearsal's runs on stderr: a rich bar on a terminal, else one plain
line per finished run, so that a log (a CI job, ``nohup``, a scheduler) shows how far a long run has got
while it runs, not only when it ends."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class FinishedRun(Protocol):
    """What a progress line says of a finished run (``RunResult``, ``RunSummary``)."""

    @property
    def replication(self) -> int: ...

    @property
    def seconds(self) -> float: ...


R = TypeVar("R", bound=FinishedRun)


def plain(console: Console, text: str) -> None:
    """Print ``text`` as it is: no markup, no highlighting, no wrapping."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@contextmanager
def run_progress(
    console: Console, title: str, total: int, label: Callable[[R], str]
) -> Iterator[Callable[[R, int, int], None]]:
    """A callback ``(run, finished, total)`` for each finished run: it moves a rich progress bar when
    ``console`` is a terminal, else prints a line with the run's ``label``, its time, the count and the
    time elapsed and left (estimated from the runs so far)."""
    if not console.is_terminal:
        started = time.perf_counter()

        def line(r: R, n: int, of: int) -> None:
            elapsed = time.perf_counter() - started
            left = f", about {elapsed / n * (of - n):.0f} s left" if n < of else ""
            runs = f"{n}/{of} runs, {elapsed:.0f} s elapsed{left}"
            plain(console, f"{title}: {label(r)} done in {r.seconds:.1f} s ({runs})")

        yield line
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(title, total=total)

        def bar(r: R, n: int, of: int) -> None:
            progress.update(task, completed=n, description=f"{label(r)} done")

        yield bar

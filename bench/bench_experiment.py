"""Wall and CPU time of a whole experiment (`dom simulate`), optionally A/B against an earlier commit.

The machine's speed swings from minute to minute, so a before/after figure is only fair when the two
run in turn: with ``--against REV`` the commit's tree is exported to a temporary folder and each round
runs it and the working tree one after the other (same venv, the old code first on ``PYTHONPATH``).
A commit that has ``tools/build_compiled.py`` gets its own compiled build first (~2 minutes), so both
sides run as their users would; the closing line says which ran compiled.

    python bench/bench_experiment.py                                   # the default scenario, once
    python bench/bench_experiment.py --against e6c61c5 --rounds 2      # old and new in turn, twice

A fixed pure-Python workload (``REFERENCE``, independent of this project's code) is timed on one core
just before and just after each run: the mean of the two says how fast the machine was about then, so
figures taken at different times can be compared (the column "reference s").
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def export(rev: str, into: Path) -> Path:
    """The tree of commit ``rev`` written under ``into`` (git archive: no repository metadata)."""
    tree = into / rev
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=False, capture_output=True)
    if archive.returncode:
        raise SystemExit(f"--against: {rev!r} is not a commit here ({archive.stderr.decode().strip()})")
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    recipe = tree / "tools" / "build_compiled.py"
    if recipe.is_file():  # a commit that has a compiled build runs compiled, as its users would
        print(f"building {rev}'s compiled modules ...", flush=True)
        built = subprocess.run([sys.executable, str(recipe)], cwd=tree, check=False, capture_output=True)
        if built.returncode:
            print(f"  no build, {rev} runs its sources: {built.stderr.decode()[-300:]}", flush=True)
    return tree


# dicts, tuples, floats, attribute and method calls: the interpreter work a simulation is made of
REFERENCE = """
import time
class Box:
    __slots__ = ("n", "x")
    def __init__(self, n, x):
        self.n, self.x = n, x
started = time.process_time()
table, boxes = {}, []
for i in range(1_000_000):
    key = (i % 997, i % 13)
    table[key] = table.get(key, 0.0) + i * 0.5
    boxes.append(Box(i, key))
    if len(boxes) > 1000:
        boxes.sort(key=lambda b: b.x)
        boxes.clear()
print(time.process_time() - started)
"""


def reference_seconds() -> float:
    """CPU seconds of ``REFERENCE`` in a fresh interpreter: how fast the machine is right now."""
    done = subprocess.run([sys.executable, "-c", REFERENCE], capture_output=True, text=True, check=True)
    return float(done.stdout)


def simulate(tree: Path, scenario: str, out: Path) -> tuple[float, float, str]:
    """(wall s, CPU s of the process and its workers, the run's closing line) of one `dom simulate`."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    code = "from sim.cli import app; app()"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, "simulate", scenario, "--out", str(out)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"dom simulate failed in {tree}:\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    closing = next((ln for ln in reversed(done.stdout.splitlines()) if "simulated in" in ln), "")
    return wall, cpu, closing.strip()


def main() -> None:
    """Run the experiment(s) and print and write the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default="scenarios/default.yaml")
    ap.add_argument("--against", metavar="REV", help="also run this commit, in turn with the working tree")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "experiment.md")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        trees = [("working tree", ROOT)]
        if args.against:
            trees.insert(0, (args.against, export(args.against, Path(tmp))))
        for rnd in range(1, args.rounds + 1):
            for label, tree in trees:
                before = reference_seconds()
                wall, cpu, closing = simulate(tree, args.scenario, Path(tmp) / "results")
                reference = (before + reference_seconds()) / 2
                rows.append(f"| {rnd} | {label} | {reference:.2f} | {wall:.1f} | {cpu:.1f} | {closing} |")
                print(rows[-1], flush=True)
    table = "\n".join(
        [
            f"# `dom simulate {args.scenario}`",
            "",
            "| round | code | reference s | wall s | CPU s | dom's closing line |",
            "|---:|---|---:|---:|---:|---|",
            *rows,
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table + "\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()

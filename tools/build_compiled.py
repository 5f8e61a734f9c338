"""Compile the hot modules (``dom_core.compiled.COMPILED_MODULES``) with Cython into ``.compiled/<tag>/``.

The sources are compiled unchanged, so the build decides exactly as they do; it is used only while
every one of those sources is byte-for-byte what was compiled (see ``dom_core/compiled.py``).

    python tools/build_compiled.py           # build for the current sources, if not built yet
    python tools/build_compiled.py --force   # build again
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("DOM_PURE_PYTHON", "1")  # importing dom_core here must not need a build
from dom_core.compiled import BUILD_ROOT, COMPILED_MODULES, RECIPE, build_dir, source_tag  # noqa: E402

DIRECTIVES = {
    "language_level": 3,
    "binding": True,  # functions keep their signatures and docstrings for inspect and typer
    "annotation_typing": False,  # type hints stay hints: the compiled code has the sources' semantics
}


def build(force: bool = False, jobs: int = 2) -> Path:
    """Compile into the build folder of the current sources and return it."""
    missing = [module for module in (*COMPILED_MODULES, RECIPE) if not (ROOT / module).is_file()]
    if missing:
        raise SystemExit(f"COMPILED_MODULES (dom_core/compiled.py): no such source under {ROOT}: {missing}")
    current = build_dir()
    if (current / "COMPLETE").is_file() and not force:
        print(f"compiled build up to date: {current.relative_to(ROOT)}")
        return current
    from Cython.Build import cythonize
    from setuptools import Distribution
    from setuptools.command.build_ext import build_ext

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dom-compile-") as tmp:
        work = Path(tmp)
        # compile copies, so that no .c file or extension module lands beside the sources
        for module in COMPILED_MODULES:
            src = ROOT / module
            for package in [*src.relative_to(ROOT).parents][:-1]:
                init = work / package / "__init__.py"
                if not init.exists():
                    init.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(ROOT / package / "__init__.py", init)
            shutil.copyfile(src, work / module)
        (work / RECIPE).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / RECIPE, work / RECIPE)
        # named for the bytes compiled: a source edited meanwhile only makes this build unused
        target = BUILD_ROOT / source_tag(work)
        print(f"cythonizing {len(COMPILED_MODULES)} modules ...", flush=True)
        cwd = os.getcwd()
        os.chdir(work)
        try:
            extensions = cythonize(  # type: ignore[no-untyped-call]
                list(COMPILED_MODULES), compiler_directives=DIRECTIVES, quiet=True
            )
            dist = Distribution({"ext_modules": extensions})
            cmd = build_ext(dist)
            cmd.inplace = True
            cmd.parallel = jobs
            cmd.ensure_finalized()
            print(f"compiling C with {jobs} jobs ...", flush=True)
            cmd.run()
        finally:
            os.chdir(cwd)
        staging = BUILD_ROOT / f"{target.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        for module in COMPILED_MODULES:
            stem = work / module[: -len(".py")]
            (built,) = stem.parent.glob(stem.name + ".*.so")
            dest = staging / built.relative_to(work)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(built, dest)
    (staging / "COMPLETE").write_text(target.name + "\n")
    # one build at a time: earlier builds are for sources that no longer exist
    for old in BUILD_ROOT.iterdir():
        if old != staging:
            shutil.rmtree(old, ignore_errors=True)
    staging.rename(target)
    print(f"compiled build ready in {time.perf_counter() - started:.0f} s: {target.relative_to(ROOT)}")
    return target


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--force", action="store_true", help="build again even if up to date")
    parser.add_argument("--jobs", type=int, default=2, help="parallel C compilations (default 2)")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f"--jobs: must be at least 1, got {args.jobs}")
    build(args.force, args.jobs)


if __name__ == "__main__":
    main()

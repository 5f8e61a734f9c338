"""Bad-row reports: which file, row and column, and what is wrong; and the errors an import raises.

Rows are numbered from 1 for the first row under the header (line 2 of a CSV file). An import either
returns complete results or raises: ``ImportRefusedError`` when ``strict`` and any row is bad, ``FileError``
when a file cannot be used at all (unreadable, a required column missing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from dom_core.errors import DomError

PROBLEM_SCHEMA = {
    "file": pl.String,
    "row": pl.Int64,
    "column": pl.String,
    "problem": pl.String,
    "value": pl.String,
}


def no_problems() -> pl.DataFrame:
    """An empty problems frame."""
    return pl.DataFrame(schema=PROBLEM_SCHEMA)


@dataclass(frozen=True)
class FileCount:
    """Rows read from one file, and how many were imported and skipped."""

    file: str
    rows: int
    imported: int

    @property
    def skipped(self) -> int:
        """Rows not imported (bad, or belonging to a bad order or a skipped location/SKU)."""
        return self.rows - self.imported


@dataclass
class ImportReport:
    """Counts per file, every bad row's problems, and notes (ignored columns, defaults applied)."""

    counts: list[FileCount] = field(default_factory=list)
    problems: pl.DataFrame = field(default_factory=no_problems)
    notes: list[str] = field(default_factory=list)

    def add(self, other: ImportReport) -> None:
        """Merge another report into this one."""
        self.counts += other.counts
        self.problems = pl.concat([self.problems, other.problems])
        self.notes += other.notes

    @property
    def skipped(self) -> int:
        """Rows skipped over all files."""
        return sum(c.skipped for c in self.counts)

    @property
    def ok(self) -> bool:
        """No bad row."""
        return self.problems.height == 0

    def lines(self, limit: int = 20) -> list[str]:
        """The first ``limit`` problems as text, then how many more there are."""
        shown = self.problems.head(limit)
        out = [
            f"{r['file']} row {r['row']}, column {r['column']}: {r['problem']}"
            + (f" (value {r['value']!r})" if r["value"] is not None else "")
            for r in shown.iter_rows(named=True)
        ]
        if self.problems.height > limit:
            out.append(f"... and {self.problems.height - limit} more problems")
        return out

    def summary(self) -> list[str]:
        """One line per file: rows read, imported and skipped."""
        return [f"{c.file}: {c.rows} rows, {c.imported} imported, {c.skipped} skipped" for c in self.counts]


class FileError(DomError):
    """A file that cannot be imported at all (missing, unreadable, a required column missing)."""


class ImportRefusedError(DomError):
    """A strict import met bad rows: nothing was imported; ``report`` lists every problem."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(
            "import", f"{report.problems.height} problems in {report.skipped} rows; nothing imported"
        )
        self.report = report

    def __reduce__(self) -> tuple[type, tuple[ImportReport]]:
        return (type(self), (self.report,))

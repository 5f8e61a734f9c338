"""Reading a file (CSV or Parquet) against its row model: typed columns, and a bad-row report.

``Table`` parses every column of the model (``retail.parsing``), checks required cells, bounds and
patterns, and collects problems as a frame (file, row, column, problem, value). Importers add their own
row checks with ``flag`` (duplicates, unknown references, places that cannot be geocoded) and take the
rows without problems with ``good``. Everything is vectorised with polars.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
from pydantic import BaseModel

from retail.columns import Column, columns_of
from retail.parsing import DTYPES, parse_column
from retail.problems import FileCount, FileError, ImportReport, no_problems

ROW = "__row"
SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")


def _separator(path: Path) -> str:
    with path.open("r", encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    return max(counts, key=lambda s: counts[s]) if any(counts.values()) else ","


def read_raw(path: Path) -> pl.DataFrame:
    """A CSV file as text columns (so that every bad cell can be reported), or a Parquet file as stored."""
    if not path.is_file():
        raise FileError(str(path), "no such file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pl.read_parquet(path)
        frame = pl.read_csv(path, infer_schema=False, separator=_separator(path), encoding="utf8-lossy")
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise FileError(str(path), f"cannot read: {exc}") from None
    if frame.columns and frame.columns[0].startswith("\ufeff"):
        frame = frame.rename({frame.columns[0]: frame.columns[0].lstrip("\ufeff")})
    return frame


def _as_text(values: pl.Series) -> pl.Series:
    if isinstance(values.dtype, pl.List | pl.Struct | pl.Array):
        return pl.Series([None if v is None else str(v) for v in values.to_list()], dtype=pl.String)
    return values.cast(pl.String, strict=False)


def column_key(name: str) -> str:
    """A column name as matched: lower case, stripped, spaces and hyphens as underscores."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


class Table:
    """One file's rows parsed against a row model, with every problem found so far."""

    def __init__(
        self,
        raw: pl.DataFrame,
        model: type[BaseModel],
        label: str,
        aliases: dict[str, str] | None = None,
        timezone: str = "UTC",
    ) -> None:
        self.label = label
        self.columns = columns_of(model)
        self.notes: list[str] = []
        self._problems: list[pl.DataFrame] = []
        self._dropped: pl.Expr | None = None
        frame = (
            raw
            if ROW in raw.columns
            else raw.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
        )
        names = {c: (aliases or {}).get(column_key(c), column_key(c)) for c in frame.columns if c != ROW}
        known = {c.name for c in self.columns}
        taken: dict[str, str] = {}
        for original, name in names.items():
            if name in known and name not in taken:
                taken[name] = original
        ignored = sorted(o for o, n in names.items() if taken.get(n) != o)
        if ignored:
            self.notes.append(f"{label}: ignored columns {', '.join(ignored)}")
        missing = [c.name for c in self.columns if c.required and c.name not in taken]
        if missing:
            raise FileError(label, f"required column(s) missing: {', '.join(missing)}")
        self.rows = frame.height
        parts = [frame.select(ROW)]
        for col in self.columns:
            if col.name in taken:
                raw_name = taken[col.name]
                parsed = parse_column(frame, raw_name, col, timezone)
                parts.append(
                    pl.DataFrame(
                        {
                            col.name: parsed.get_column("value"),
                            f"__raw_{col.name}": frame.get_column(raw_name),  # cast to text when reported
                            f"__err_{col.name}": parsed.get_column("error"),
                        }
                    )
                )
            else:
                empty = pl.Series(col.name, [], dtype=DTYPES[col.kind]).extend_constant(None, frame.height)
                parts.append(empty.to_frame())
        self.frame = pl.concat(parts, how="horizontal")
        for col in self.columns:
            self._check(col, present=col.name in taken)

    def _check(self, col: Column, present: bool) -> None:
        if not present:
            return
        v = pl.col(col.name)
        self.flag(pl.col(f"__err_{col.name}").is_not_null(), col.name, pl.col(f"__err_{col.name}"))
        parsed = pl.col(f"__err_{col.name}").is_null()
        if col.required:
            self.flag(v.is_null() & parsed, col.name, "required")
        for bound, op, word in ((col.ge, "ge", ">="), (col.gt, "gt", ">"), (col.le, "le", "<=")):
            if bound is not None:
                ok = getattr(v, op)(bound)
                self.flag(v.is_not_null() & ~ok, col.name, f"must be {word} {bound:g}")
        if col.pattern is not None:
            self.flag(v.is_not_null() & ~v.str.contains(col.pattern), col.name, f"must match {col.pattern}")
        self.frame = self.frame.drop(f"__err_{col.name}")

    def flag(self, mask: pl.Expr, column: str, problem: str | pl.Expr, value: pl.Expr | None = None) -> None:
        """Report every row where ``mask`` holds as bad in ``column``, with ``problem`` (text or expr)."""
        raw = f"__raw_{column}"
        if value is None:
            value = pl.col(raw) if raw in self.frame.columns else pl.col(column).cast(pl.String)
        mask = mask.fill_null(False)
        if not self.frame.select(mask.any()).item():
            return
        found = (
            self.frame.select(  # windows in problem and value see every row, so select first, then filter
                pl.lit(self.label).alias("file"),
                pl.col(ROW).alias("row"),
                pl.lit(column).alias("column"),
                (pl.lit(problem) if isinstance(problem, str) else problem).cast(pl.String).alias("problem"),
                value.alias("value"),
                mask.alias("__hit"),
            )
            .filter(pl.col("__hit"))
            .drop("__hit")
        )
        found = found.with_columns(_as_text(found.get_column("value")).alias("value"))
        if found.height:
            self._problems.append(found)

    def drop(self, mask: pl.Expr) -> None:
        """Skip the rows where ``mask`` holds without reporting them (e.g. the other lines of a bad order)."""
        self._dropped = mask if self._dropped is None else (self._dropped | mask)

    def problems(self) -> pl.DataFrame:
        """Every problem found, in row order."""
        if not self._problems:
            return no_problems()
        return pl.concat(self._problems).sort("row", maintain_order=True)

    def bad(self) -> pl.Expr:
        """True on rows with a problem."""
        rows = (
            pl.concat([p.get_column("row") for p in self._problems]).unique()
            if self._problems
            else pl.Series([], dtype=pl.Int64)
        )
        return pl.col(ROW).is_in(rows.implode())

    def good(self) -> pl.DataFrame:
        """The rows without problems (nor dropped): the row number, typed columns and any added ones."""
        keep = ~self.bad()
        if self._dropped is not None:
            keep = keep & ~self._dropped
        return self.frame.filter(keep).select(pl.exclude(r"^__raw_.*$"))

    def report(self, imported: int) -> ImportReport:
        """This file's report, ``imported`` rows of it kept."""
        return ImportReport([FileCount(self.label, self.rows, imported)], self.problems(), list(self.notes))

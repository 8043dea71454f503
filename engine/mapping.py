"""Mapping by hand in bulk (S7, I4): a file of id pairs an operator filled in, often in a spreadsheet
(`qbsync items unmapped --csv` writes one to start from).

Each row keeps its line, so a row that cannot be mapped is named where the operator wrote it, and
the other rows go on (SyncSession.map_many). A file that cannot be read as such a table stops
everything before anything is planned.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from .errors import QbsyncError
from .plan import Plan

PRECORO_COLUMN, QUICKBOOKS_COLUMN = "precoro_id", "quickbooks_id"
DELIMITERS = ",;\t"  # a European spreadsheet saves "CSV" with semicolons


class MappingFileError(QbsyncError):
    """The file is not a table of id pairs (`PATH:LINE:COL: what was expected`); nothing was planned."""


@dataclass(frozen=True)
class MappingRow:
    line: int
    precoro_id: str
    quickbooks_id: str


@dataclass(frozen=True)
class RefusedRow:
    row: MappingRow
    reason: str

    def to_json(self) -> dict:
        return {"line": self.row.line, "precoro_id": self.row.precoro_id, "quickbooks_id": self.row.quickbooks_id,
                "reason": self.reason}


@dataclass(frozen=True)
class MappingFile:
    rows: list[MappingRow]
    refused: list[RefusedRow]  # rows that name no Precoro record
    left_empty: int  # rows with no QuickBooks id: not to be mapped (yet)


@dataclass(frozen=True)
class BulkMapping:
    """What SyncSession.map_many made of the rows: a plan of those that can be mapped (None: no
    row can), the rows refused with why, and those mapped as they ask already."""
    plan: Plan | None
    refused: list[RefusedRow]
    already: list[MappingRow]


def _column(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def read_mapping_file(path: str | Path, text: str | None = None) -> MappingFile:
    """The id pairs of a CSV file with a header row that names `precoro_id` and `quickbooks_id`
    (other columns are ignored; a UTF-8 byte order mark, and `;` or tab between columns, are taken).
    `text`: the file's content when it is not read from `path` (standard input)."""
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise MappingFileError(f"{path}: no such file") from None
        except UnicodeDecodeError as error:
            raise MappingFileError(f"{path}: not UTF-8 text (byte {error.start}); save it as CSV UTF-8") from None
    text = text.removeprefix("\ufeff")
    header_line = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [_column(name) for name in next(reader)]
    except StopIteration:
        header = []
    missing = [name for name in (PRECORO_COLUMN, QUICKBOOKS_COLUMN) if name not in header]
    if missing:
        found = ", ".join(name for name in header if name) or "nothing"
        raise MappingFileError(f"{path}:1:1: expected a header row naming the columns {PRECORO_COLUMN} and "
                               f"{QUICKBOOKS_COLUMN}; found {found}")
    at_p, at_q = header.index(PRECORO_COLUMN), header.index(QUICKBOOKS_COLUMN)
    rows: list[MappingRow] = []
    refused: list[RefusedRow] = []
    left_empty = 0
    try:
        for cells in reader:
            precoro_id, quickbooks_id = (cells[at].strip() if at < len(cells) else "" for at in (at_p, at_q))
            row = MappingRow(reader.line_num, precoro_id, quickbooks_id)
            if not quickbooks_id:
                left_empty += bool(precoro_id)
            elif not precoro_id:
                refused.append(RefusedRow(row, f"no {PRECORO_COLUMN} (column {at_p + 1})"))
            else:
                rows.append(row)
    except csv.Error as error:
        raise MappingFileError(f"{path}:{reader.line_num}:1: {error}") from None
    return MappingFile(rows, refused, left_empty)

"""Mapping by hand in bulk (S7, I4): a file of id pairs an operator filled in, often in a spreadsheet
(`qbsync items unmapped --csv` writes one to start from), read as an engine.tables.Table.

A row that cannot be mapped is named by its line, and the other rows go on (SyncSession.map_many).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .plan import Plan
from .tables import Table

PRECORO_COLUMN, QUICKBOOKS_COLUMN = "precoro_id", "quickbooks_id"


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


def read_mapping_file(path: str | Path, text: str | None = None) -> MappingFile:
    """The id pairs of a CSV file with a header row that names `precoro_id` and `quickbooks_id`
    (engine.tables.Table). `text`: the file's content when it is not read from `path` (standard input)."""
    table = Table(path, text, (PRECORO_COLUMN, QUICKBOOKS_COLUMN))
    rows: list[MappingRow] = []
    refused: list[RefusedRow] = []
    left_empty = 0
    for line, cells in table:
        row = MappingRow(line, cells[PRECORO_COLUMN], cells[QUICKBOOKS_COLUMN])
        if not row.quickbooks_id:
            left_empty += bool(row.precoro_id)
        elif not row.precoro_id:
            refused.append(RefusedRow(row, f"no {PRECORO_COLUMN} (column {table.at[PRECORO_COLUMN] + 1})"))
        else:
            rows.append(row)
    return MappingFile(rows, refused, left_empty)

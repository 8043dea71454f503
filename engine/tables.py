"""Tables an operator fills in, often in a spreadsheet, and gives back as a CSV file: id pairs to map
(engine.mapping), a signed-off plan (engine.signoff).

Each row keeps its line, so a row that cannot be taken is named where the operator wrote it. A file
that cannot be read as the table asked for stops everything before anything is done.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import Iterator

from .errors import QbsyncError

DELIMITERS = ",;\t"  # a European spreadsheet saves "CSV" with semicolons


class TableError(QbsyncError):
    """The file is not the table asked for (`PATH:LINE:COL: what was expected`); nothing was done."""


def column_name(name: str) -> str:
    """A header cell as a column's name: `Precoro ID` and `precoro-id` are `precoro_id`."""
    return name.strip().lower().replace(" ", "_").replace("-", "_")


class Table:
    """A CSV file's rows, as the cells of the columns asked for, each with its line; the header row
    must name every column in `needed` (`what`: how the error names the table). Other columns are
    ignored; a UTF-8 byte order mark, and `;` or tab between columns, are taken. `text`: the file's
    content when it is not read from `path` (standard input).

    Rows are read as iterated: a signed-off plan of 260,000 actions has a row per field."""

    def __init__(self, path: str | Path, text: str | None, needed: tuple[str, ...], optional: tuple[str, ...] = (),
                 *, what: str = "a header row") -> None:
        self.path = path
        if text is None:
            try:
                data = Path(path).read_bytes()
                text = data.decode("utf-8-sig")
            except FileNotFoundError:
                raise TableError(f"{path}: no such file") from None
            except UnicodeDecodeError as error:
                raise TableError(f"{path}: not UTF-8 text (byte {error.start}); save it as CSV UTF-8") from None
        else:
            data = text.encode()
        self.digest = hashlib.sha256(data).hexdigest()  # names the very file a sign-off was read from
        text = text.removeprefix("\ufeff")
        header_line = text[:text.find("\n")] if "\n" in text else text  # not a copy of the rest
        self._reader = csv.reader(io.StringIO(text, newline=""), delimiter=max(DELIMITERS, key=header_line.count))
        try:
            header = [column_name(name) for name in next(self._reader)]
        except StopIteration:
            header = []
        except csv.Error as error:
            raise TableError(f"{path}:1:1: {error}") from None
        missing = [name for name in needed if name not in header]
        if missing:
            found = ", ".join(name for name in header if name) or "nothing"
            raise TableError(f"{path}:1:1: expected {what} naming the columns {' and '.join(needed)}; found {found}")
        self.columns = tuple(name for name in (*needed, *optional) if name in header)
        self.at = {name: header.index(name) for name in self.columns}  # where each column is, counted from 0

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        """(line, {column: cell, stripped}) of each row after the header; a cell the row lacks is ""."""
        reader, at = self._reader, self.at
        try:
            for cells in reader:
                yield reader.line_num, {name: cells[i].strip() if i < len(cells) else "" for name, i in at.items()}
        except csv.Error as error:
            raise TableError(f"{self.path}:{reader.line_num}:1: {error}") from None

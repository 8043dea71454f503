"""I4 in bulk: the file of id pairs an operator fills in (engine.mapping), read with each row's line."""

from __future__ import annotations

import pytest

from engine.mapping import read_mapping_file
from engine.tables import TableError


def test_i4_a_spreadsheet_s_csv_is_read_with_each_row_s_line(tmp_path):
    # Excel's "CSV UTF-8" starts with a byte order mark; a European one separates with semicolons.
    path = tmp_path / "map.csv"
    path.write_bytes("\ufeffPrecoro ID;Note;QuickBooks ID\n 12 ;\"a; b\";40\n\n13;;\n;x;41\n14;;42\n".encode())
    table = read_mapping_file(path)
    assert [(r.line, r.precoro_id, r.quickbooks_id) for r in table.rows] == [(2, "12", "40"), (6, "14", "42")]
    assert table.left_empty == 1  # 13: no QuickBooks id yet, left out
    [refused] = table.refused
    assert (refused.row.line, refused.row.quickbooks_id) == (5, "41") and "no precoro_id" in refused.reason


@pytest.mark.parametrize("text, expected", [
    ("precoro,quickbooks\n1,2\n", "found precoro, quickbooks"),
    ("", "found nothing"),
])
def test_i4_a_file_without_the_two_columns_is_refused_where_the_header_is(tmp_path, text, expected):
    path = tmp_path / "pairs.csv"
    path.write_text(text)
    with pytest.raises(TableError) as refused:
        read_mapping_file(path)
    assert str(refused.value).startswith(f"{path}:1:1: expected a header row naming the columns precoro_id and "
                                         "quickbooks_id")
    assert expected in str(refused.value)


def test_i4_a_file_that_is_not_utf8_or_not_there_says_so(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("precoro_id,quickbooks_id,name\n1,2,Caf\xe9\n".encode("latin-1"))
    with pytest.raises(TableError, match="not UTF-8 text"):
        read_mapping_file(path)
    with pytest.raises(TableError, match="no such file"):
        read_mapping_file(tmp_path / "missing.csv")


def test_i4_windows_line_ends_and_quoted_headers_are_read_alike(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b'"precoro_id","QuickBooks_ID","name"\r\n"7","8","Acme, Inc."\r\n9,10,x\r\n')
    table = read_mapping_file(path)
    assert [(r.line, r.precoro_id, r.quickbooks_id) for r in table.rows] == [(2, "7", "8"), (3, "9", "10")]

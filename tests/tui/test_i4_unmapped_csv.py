"""I4 in bulk: the Not-mapped list written as CSV (`qbsync items unmapped --csv`) reads back as the
file of pairs `qbsync items map --from FILE` takes, once the operator fills it in."""

from __future__ import annotations

import io

from engine.mapping import read_mapping_file
from tui.render import unmapped_csv

ITEMS = [
    {"precoro_id": "1", "name": "Copy paper", "sku": "CP", "price": "4.2", "free_of_charge": False,
     "candidates": [{"quickbooks_id": "16", "name": "Copy paper A4", "score": 0.6931, "reasons": []}]},
    {"precoro_id": "2", "name": "=HYPERLINK(\"x\")", "sku": None, "price": "0", "free_of_charge": True,
     "candidates": []},
]


def test_i4_the_not_mapped_export_reads_back_once_filled_in(tmp_path):
    out = io.StringIO()
    assert unmapped_csv(ITEMS, out) == 2
    lines = out.getvalue().splitlines()
    assert lines[0] == "precoro_id,name,sku,price,quickbooks_id,suggested_id,suggested_name,score"
    assert lines[1] == "1,Copy paper,CP,4.2,,16,Copy paper A4,0.693"
    assert lines[2] == "2,\"'=HYPERLINK(\"\"x\"\")\",,0,,,,"  # a name is never run as a formula
    path = tmp_path / "unmapped.csv"
    path.write_text(out.getvalue())
    untouched = read_mapping_file(path)
    assert untouched.rows == [] and untouched.left_empty == 2
    path.write_text(out.getvalue().replace("1,Copy paper,CP,4.2,,16", "1,Copy paper,CP,4.2,16,16"))
    [row] = read_mapping_file(path).rows
    assert (row.line, row.precoro_id, row.quickbooks_id) == (2, "1", "16")

"""W1 signed off in a spreadsheet: `qbsync show --csv` edited by a reviewer (engine.signoff), read
with each row's line. What the plan makes of it: tests/e2e/test_w1_sign_off_from_a_spreadsheet.py."""

from __future__ import annotations

import pytest

from engine.plan import action_id
from engine.signoff import read_signoff_file
from engine.tables import TableError

HEADER = "plan_id,action_id,entity,kind,name,precoro_id,quickbooks_id,writes,approved,decision,field\n"


def test_w1_each_action_takes_what_its_rows_say_and_a_bad_row_is_named_by_its_line(tmp_path):
    path = tmp_path / "signed.csv"
    path.write_text(HEADER +
                    "p1,aaaaaaaaaa,supplier,create,Acme,7,,quickbooks,yes,,name\n"
                    "p1,aaaaaaaaaa,supplier,create,Acme,7,,quickbooks,Yes,,city\n"       # the same action, agreeing
                    "p1,bbbbbbbbbb,supplier,conflict,Beta,8,9,,,QuickBooks,phone\n"     # a decision, approval as is
                    "p1,cccccccccc,item,update,Gamma,10,11,precoro,no,,sku\n"
                    "p1,cccccccccc,item,update,Gamma,10,11,precoro,yes,,price\n"        # disagrees with line 5
                    "p1,dddddddddd,item,create,Delta,12,,quickbooks,maybe,,name\n"      # not a yes or no
                    "p1,eeeeeeeeee,item,conflict,Eps,13,14,,,theirs,name\n"             # not a decision
                    ",,,,,,,,,,\n"                                                      # an empty row
                    "p1,,item,link,Zeta,15,16,,yes,,\n")                                # no action id
    signed = read_signoff_file(path)
    assert signed.plan_id == "p1" and signed.path == str(path)
    assert [(a.line, a.action_id, a.approved, a.decision) for a in signed.actions] == [
        (2, "aaaaaaaaaa", True, None), (4, "bbbbbbbbbb", None, "quickbooks")]
    assert [(r.line, r.action_id) for r in signed.refused] == [
        (6, "cccccccccc"), (7, "dddddddddd"), (8, "eeeeeeeeee"), (10, "")]
    reasons = [r.reason for r in signed.refused]
    assert reasons[0] == "says approved yes, but line 5 of the same action says approved no: make its rows agree"
    assert "approved is yes or no" in reasons[1] and "'maybe'" in reasons[1]
    assert "decision is precoro, quickbooks or skip" in reasons[2] and "'theirs'" in reasons[2]
    assert "no action_id (column 2)" == reasons[3]


def test_w1_an_id_a_spreadsheet_turned_into_a_number_is_made_again_from_its_columns(tmp_path):
    # Excel reads 0012345678 as 12345678: the action's entity, kind, target and records make its id.
    path = tmp_path / "signed.csv"
    path.write_bytes(("\ufeff" + HEADER.replace(",", ";") +
                      "p1;12345678;supplier;create;Acme;7;;quickbooks;no;;name\n"
                      "p1;1.23E+59;supplier;conflict;Beta;8;9;quickbooks;;skip;phone\n").encode())
    signed = read_signoff_file(path)
    assert [(a.action_id, a.made_id) for a in signed.actions] == [
        ("12345678", action_id("supplier", "create", "quickbooks", "7", None)),
        ("1.23E+59", action_id("supplier", "conflict", None, "8", "9"))]  # a conflict's target is none


@pytest.mark.parametrize("text, expected", [
    ("action,approved\n1,yes\n", ":1:1: expected the header row of `qbsync show --csv` naming the columns plan_id and "
                                 "action_id; found action, approved"),
    ("plan_id,action_id,name\np1,a,x\n", ":1:1: expected a column approved or decision"),
    ("plan_id,action_id,approved\np1,a,yes\np2,b,no\n", ":3:1: this row is of plan p2, the rows before it of plan p1: "
                                                         "a sign-off is of one plan; nothing was recorded"),
    ("plan_id,action_id,approved\n,a,yes\n", ":2:1: no plan id"),
    ("plan_id,action_id,approved\n", ":2:1: no rows: nothing to sign off"),
])
def test_w1_a_file_that_is_not_one_plan_signed_off_is_refused_whole_where_it_goes_wrong(tmp_path, text, expected):
    path = tmp_path / "signed.csv"
    path.write_text(text)
    with pytest.raises(TableError) as refused:
        read_signoff_file(path)
    assert str(refused.value).startswith(f"{path}{expected}")

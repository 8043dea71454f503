"""I4 in bulk through the CLI: the Not-mapped list written as CSV, filled in, and mapped from the file
(`qbsync items unmapped --csv`, `qbsync items map --from FILE`) against the local APIs."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3

import pytest

pytestmark = pytest.mark.e2e


def _links(workdir) -> dict[str, str]:
    db = sqlite3.connect(workdir.path / ".qbsync" / "state.db")
    try:
        return dict(db.execute("select precoro_id, quickbooks_id from links where entity = 'items'").fetchall())
    finally:
        db.close()


def test_i4_the_not_mapped_list_filled_in_as_a_spreadsheet_maps_every_good_row(workdir):
    workdir.first_sync()
    before = _links(workdir)
    exported = workdir.run("items", "unmapped", "--csv")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    suggested = [r for r in rows if r["suggested_id"]]
    assert rows and suggested and not any(r["quickbooks_id"] for r in rows)
    assert "qbsync items map --from FILE" in exported.stderr
    # The operator takes every suggestion, and mistypes one more row.
    for row in suggested:
        row["quickbooks_id"] = row["suggested_id"]
    rows.append({**rows[0], "precoro_id": "777777", "quickbooks_id": "888888"})
    filled = workdir.path / "mapping.csv"
    with filled.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    mapped = workdir.run("items", "map", "--from", str(filled), "--yes")
    assert mapped.returncode == 1, mapped.stderr  # a row was refused: scripts see it
    bad_line = len(rows) + 1
    assert f"{filled}:{bad_line}: Precoro has no item 777777" in mapped.stderr
    after = _links(workdir)
    assert {p: q for p, q in after.items() if p not in before} == {r["precoro_id"]: r["suggested_id"]
                                                                   for r in suggested}
    left_out = len(rows) - len(suggested) - 1
    tally = "1 row refused" + (f"; {left_out} row{'s' * (left_out != 1)} with no quickbooks_id left out" if left_out else "")
    assert f"{tally}." in mapped.stderr

    # The same file again: nothing is written twice, and the same row is named again.
    again = workdir.run("items", "map", "--from", str(filled), "--json")
    assert again.returncode == 1
    said = json.loads(again.stdout)
    assert said["plan"] is None and said["mapping"]["already_mapped"] == len(suggested)
    assert [r["line"] for r in said["mapping"]["refused"]] == [bad_line]
    assert _links(workdir) == after


def test_i4_pairs_from_standard_input_are_saved_as_a_plan_to_apply_later(workdir):
    workdir.run("plan", check=True)
    unmapped = workdir.json("items", "unmapped")["unmapped"]
    pick = next(u for u in unmapped if u["candidates"])
    pairs = f"precoro_id,quickbooks_id\n{pick['precoro_id']},{pick['candidates'][0]['quickbooks_id']}\n"
    saved = workdir.run("items", "map", "--from", "-", input=pairs)
    assert saved.returncode == 2, saved.stderr  # saved, not applied: there was no one to ask
    assert "Saved as plan" in saved.stderr and "no row refused" in saved.stderr
    plan_id = re.search(r"Saved as plan (\w+)", saved.stderr).group(1)
    plan = workdir.json("show", plan_id)
    assert [(a["precoro_id"], a["quickbooks_id"]) for a in plan["actions"] if a["kind"] == "link"] == \
        [(pick["precoro_id"], pick["candidates"][0]["quickbooks_id"])]
    assert workdir.run("apply", plan_id, "--yes").returncode == 0
    assert _links(workdir)[pick["precoro_id"]] == pick["candidates"][0]["quickbooks_id"]


@pytest.mark.parametrize("args, expected", [
    (("items", "map", "1", "2", "--from", "x.csv"), "not both"),
    (("items", "map"), "not both"),
    (("items", "map", "1"), "name the QuickBooks record"),
])
def test_i4_one_pair_or_a_file_never_both(workdir, args, expected):
    result = workdir.run(*args)
    assert result.returncode == 1 and expected in result.stderr


def test_i4_a_file_that_is_not_a_table_of_pairs_plans_nothing(workdir):
    workdir.run("plan", check=True)
    latest = workdir.json("show")["plan_id"]
    bad = workdir.path / "pairs.csv"
    bad.write_text("precoro;qbo\n1;2\n")
    result = workdir.run("items", "map", "--from", str(bad), "--yes")
    assert result.returncode == 1
    assert f"{bad}:1:1: expected a header row naming the columns precoro_id and quickbooks_id; found precoro, qbo" \
        in result.stderr
    assert workdir.json("show")["plan_id"] == latest


def test_i4_items_the_plan_links_are_listed_apart_until_that_link_is_skipped(workdir):
    """A first plan links items by name; until it is applied they are still unlinked, but they are not
    left to map by hand: `items unmapped` (and its CSV) lists them apart, `--all` with them."""
    plan = workdir.json("plan")
    links = {a["precoro_id"]: a for a in plan["actions"] if a["entity"] == "item" and a["kind"] == "link"}
    assert links
    listed = workdir.json("items", "unmapped")["unmapped"]
    planned = {u["precoro_id"]: u["planned"] for u in listed if u["planned"]}
    assert planned == {pid: {"plan_id": plan["plan_id"], "quickbooks_id": a["quickbooks_id"]}
                       for pid, a in links.items()}
    by_hand = [u["precoro_id"] for u in listed if not u["planned"]]
    assert by_hand

    text = workdir.run("items", "unmapped").stdout
    assert f"{len(by_hand)} not mapped." in text
    assert f"{len(links)} more item{'s' * (len(links) != 1)} not mapped yet" in text and plan["plan_id"] in text
    assert not any(f"Precoro {pid} " in text for pid in links)
    exported = workdir.run("items", "unmapped", "--csv")
    assert [r["precoro_id"] for r in csv.DictReader(io.StringIO(exported.stdout))] == by_hand
    assert f"linked by plan {plan['plan_id']}" in exported.stderr
    every = list(csv.DictReader(io.StringIO(workdir.run("items", "unmapped", "--all", "--csv").stdout)))
    assert {r["precoro_id"]: r["quickbooks_id"] for r in every if r["quickbooks_id"]} == \
        {pid: a["quickbooks_id"] for pid, a in links.items()}  # the plan's pair, as a mapping file would say it

    skipped, link = next(iter(links.items()))
    assert workdir.run("skip", link["id"]).returncode == 0
    again = {u["precoro_id"]: u for u in workdir.json("items", "unmapped")["unmapped"]}
    assert again[skipped]["planned"] is None and again[skipped]["candidates"]  # left to map by hand again

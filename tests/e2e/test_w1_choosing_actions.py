"""W1 from the command line at scale: `show`, `approve`, `skip` and `decide` choose a plan's actions
as the TUI's filters and search do (--entity, --kind, --to, --which, --search), so an operator
without the TUI acts on many actions at once, and a script on exactly those it means."""

from __future__ import annotations

import csv
import io

from engine.entities import BY_SECTION
from engine.plan import KIND_ORDER
from engine.review import SHOW_WORDS, TARGET_CHOICES, WAIT_FOR_DATA
from tui.cli import ENTITY_SECTIONS, KINDS, SIDES, WHICH, build_parser


def test_w1_show_csv_gives_a_row_per_field_each_chosen_action_changes(workdir):
    plan = workdir.json("plan")
    rows = list(csv.DictReader(io.StringIO(workdir.run("show", "--csv").stdout)))
    assert [r["action_id"] for r in rows] == [a["id"] for a in plan["actions"] for _ in a["changes"] or [None]]
    assert {r["plan_id"] for r in rows} == {plan["plan_id"]}
    create = next(a for a in plan["actions"] if a["kind"] == "create" and a["entity"] == "supplier")
    assert {r["field"]: r["after"] for r in rows if r["action_id"] == create["id"]} == {
        c["field"]: "; ".join(c["after"]) if isinstance(c["after"], list) else str(c["after"])
        for c in create["changes"]}
    assert {(r["writes"], r["applies"]) for r in rows if r["action_id"] == create["id"]} == {(create["target"], "yes")}
    conflict = next(a for a in plan["actions"] if a["kind"] == "conflict")
    sides = {r["field"]: (r["precoro"], r["quickbooks"], r["decision"], r["writes"], r["applies"])
             for r in csv.DictReader(io.StringIO(workdir.run("show", "--csv", "--kind", "conflict").stdout))}
    assert sides == {c["field"]: (str(c["precoro"]), str(c["quickbooks"]), "", "", "no") for c in conflict["changes"]}
    assert workdir.run("decide", conflict["id"], "quickbooks").returncode == 0
    decided = list(csv.DictReader(io.StringIO(workdir.run("show", "--csv", "--kind", "conflict").stdout)))
    assert {(r["decision"], r["writes"], r["applies"]) for r in decided} == {("quickbooks", "precoro", "yes")}
    every = workdir.run("show", "--all").stdout  # read a page at a time, as --json and --csv are
    assert every == workdir.run("show").stdout and all(f"id={a['id']}" in every for a in plan["actions"])
    refused = workdir.run("show", "--csv", "--json")
    assert refused.returncode == 1 and "not allowed with argument" in refused.stderr


def approvals(workdir) -> dict[str, bool]:
    return {a["id"]: a["approved"] for a in workdir.json("show")["actions"]}


def test_w1_show_prints_only_the_actions_chosen_and_says_how_many_of_the_plan(workdir):
    plan = workdir.json("plan")
    conflicts = [a["id"] for a in plan["actions"] if a["kind"] == "conflict"]
    assert conflicts
    shown = workdir.json("show", "--kind", "conflict")
    assert [a["id"] for a in shown["actions"]] == conflicts and shown["chosen"] == len(conflicts)
    assert shown["summary"] == plan["summary"]  # what the whole plan comes to, still

    text = workdir.run("show", "--entity", "suppliers", "--which", "attention").stdout
    attention = [a for a in plan["actions"] if a["entity"] == "supplier"
                 and (a["kind"] in WAIT_FOR_DATA or a["kind"] == "conflict" and not a["decision"])]
    assert f"{len(attention)} of {len(plan['actions'])} actions chosen." in text
    assert all(f"id={a['id']}" in text for a in attention)
    assert not any(f"id={a['id']}" in text for a in plan["actions"] if a not in attention)

    # The search looks in names and ids, whatever the case.
    named = next(a for a in plan["actions"] if a["kind"] == "create")
    found = workdir.json("show", "--search", named["name"].upper())
    assert named["id"] in [a["id"] for a in found["actions"]]
    assert all(named["name"].casefold() in a["name"].casefold() or named["name"].casefold() in a["id"]
               for a in found["actions"])
    nothing = workdir.run("show", "--search", "no such supplier at all")
    assert nothing.returncode == 0 and f"None of its {len(plan['actions'])} actions is chosen." in nothing.stdout


def test_w1_skip_and_approve_what_is_chosen_and_leave_what_needs_a_person(workdir):
    plan = workdir.json("plan")
    to_precoro = [a["id"] for a in plan["actions"] if a["kind"] == "create" and a["target"] == "precoro"]
    assert len(to_precoro) > 1
    skipped = workdir.run("skip", "--kind", "create", "--to", "precoro")
    assert skipped.returncode == 0 and f"Skipped {len(to_precoro)} actions of plan {plan['plan_id']}." in skipped.stdout
    after = approvals(workdir)
    assert not any(after[i] for i in to_precoro)
    assert all(after[a["id"]] == a["approved"] for a in plan["actions"] if a["id"] not in to_precoro)

    # Every supplier's action: those an approval lets through are approved; the rest are said, and left.
    suppliers = [a for a in plan["actions"] if a["entity"] == "supplier"]
    waiting = [a for a in suppliers if a["kind"] in WAIT_FOR_DATA or a["kind"] == "conflict" and not a["decision"]]
    assert waiting and len(waiting) < len(suppliers)
    answer = workdir.json("approve", "--entity", "supplier")
    assert sorted(answer["approved"]) == sorted(a["id"] for a in suppliers if a not in waiting)
    assert sorted(left["id"] for left in answer["left"]) == sorted(a["id"] for a in waiting)
    after = approvals(workdir)
    assert all(after[i] for i in answer["approved"])
    assert all(after[a["id"]] == a["approved"] for a in waiting)  # a conflict waits for its side, not an approval
    assert not any(after[i] for i in to_precoro if i not in answer["approved"])  # items' creates stay skipped

    said = workdir.run("approve", "--entity", "suppliers").stdout
    assert "Left as they are: 1 conflict without a side taken (qbsync decide)" in said


def test_w1_decide_takes_one_side_of_every_conflict_chosen_and_approves_them(workdir):
    plan = workdir.json("plan")
    conflicts = [a["id"] for a in plan["actions"] if a["kind"] == "conflict"]
    decided = workdir.json("decide", "quickbooks", "--entity", "suppliers")
    assert sorted(decided["decided"]) == sorted(conflicts) and decided["plan_id"] == plan["plan_id"]
    after = {a["id"]: a for a in workdir.json("show")["actions"]}
    assert all(after[i]["decision"] == "quickbooks" and after[i]["approved"] for i in conflicts)
    assert all(after[a["id"]]["decision"] == a["decision"] for a in plan["actions"] if a["id"] not in conflicts)
    said = workdir.run("decide", "skip", "--kind", "conflict").stdout
    assert f"Skipped {len(conflicts)} conflict" in said
    none = workdir.run("decide", "precoro", "--entity", "items", "--kind", "conflict")
    assert none.returncode == 0 and "nothing decided" in none.stdout

    # The conflicts decided by a selection are applied as one decided by its id would be.
    assert workdir.json("decide", "quickbooks", "--all")["decided"] == conflicts
    report = workdir.json("apply", "--yes")
    assert {r["id"]: r["status"] for r in report["results"]}[conflicts[0]] == "applied"


def test_w1_a_selection_that_is_not_clear_is_refused_and_changes_nothing(workdir):
    plan = workdir.json("plan")
    before = approvals(workdir)
    some = plan["actions"][0]["id"]
    for args, said in [
        (("approve", some, "--kind", "create"), "name actions by id or choose them"),
        (("skip",), "name actions by id, or choose them with --entity"),
        (("decide", "precoro"), "name actions by id, or choose them with --entity"),
        (("skip", "--kind", "creat"), "argument --kind: invalid choice: 'creat' (choose from 'link', 'unlink'"),
        (("approve", "--entity", "vendors"), "unknown entity 'vendors'; expected one of chart_of_accounts"),
        (("approve", "--to", "qbo"), "argument --to: invalid choice: 'qbo' (choose from 'quickbooks', 'precoro'"),
        (("show", "--which", "new"), "argument --which: invalid choice: 'new' (choose from 'all', 'attention'"),
    ]:
        refused = workdir.run(*args)
        assert refused.returncode == 1 and said in refused.stderr, (args, refused.stderr)
    assert approvals(workdir) == before


def test_w1_the_selection_options_know_every_word_the_engine_knows():
    # The command line names them without loading the engine; these must not drift apart.
    assert list(KINDS) == list(KIND_ORDER)
    assert list(ENTITY_SECTIONS) == list(BY_SECTION)
    assert list(SIDES) == list(TARGET_CHOICES)
    assert list(WHICH) == list(SHOW_WORDS)
    parser = dict((a.dest, a) for a in build_parser()._subparsers._group_actions[0].choices["skip"]._actions)
    assert {"entity", "kind", "target", "which", "search", "all"} <= set(parser)
    assert parser["which"].help and all(word in parser["which"].help for word in SHOW_WORDS if word != "all")

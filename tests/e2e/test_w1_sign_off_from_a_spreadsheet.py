"""W1 signed off in a spreadsheet through the CLI: the plan written as CSV (`qbsync show --csv`), its
approved and decision columns set by a reviewer, read back (`qbsync approve --from FILE`), and applied:
only what the file approved is written, against the local APIs."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import pytest

pytestmark = pytest.mark.e2e


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _text(rows: list[dict[str, str]]) -> str:
    """The rows as a spreadsheet saves them again."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_w1_a_plan_signed_off_in_a_spreadsheet_is_applied_as_signed(workdir):
    plan_id = workdir.json("plan")["plan_id"]
    rows = _rows(workdir.run("show", "--csv", check=True).stdout)
    conflict = next(r for r in rows if r["kind"] == "conflict")
    creates = sorted({r["action_id"] for r in rows if r["kind"] == "create"})
    refused_create, mangled_create = creates[0], creates[1]
    assert conflict["applies"] == "no" and len(creates) > 2
    # The reviewer takes QuickBooks' side of the conflict and refuses one create. The spreadsheet
    # turned another create's id into something else; one more row names an action of no plan.
    for row in rows:
        if row["action_id"] == conflict["action_id"]:
            row["decision"] = "quickbooks"
        if row["action_id"] == refused_create:
            row["approved"] = "no"
        if row["action_id"] == mangled_create:
            row["approved"], row["action_id"] = "no", "1.23E+09"
    rows.append({**rows[0], "action_id": "ffffffffff", "entity": "", "kind": ""})
    signed = workdir.path / "signed.csv"
    signed.write_text(_text(rows))

    said = workdir.run("approve", "--from", str(signed), "--json")
    assert said.returncode == 1, said.stderr  # a row was refused: scripts see it
    assert f"{signed}:{len(rows) + 1}: plan {plan_id} has no such action" in said.stderr
    done = json.loads(said.stdout)
    assert done["plan_id"] == plan_id and done["decided"] == {"quickbooks": [conflict["action_id"]]}
    assert sorted(done["skipped"]) == sorted([refused_create, mangled_create])  # the mangled id made again
    assert [r["line"] for r in done["refused"]] == [len(rows) + 1]
    actions = len({r["action_id"] for r in rows}) - 1  # the one of no plan apart
    assert done["approved"] == [] and done["as_they_were"] == actions - 3  # only what the reviewer changed

    # The same file again: everything is as it says already, and nothing is recorded twice.
    again = workdir.json("approve", "--from", str(signed))
    assert (again["approved"], again["skipped"], again["decided"]) == ([], [], {})
    assert again["as_they_were"] == actions
    # The plan keeps who signed it off, when, and from which file, and shows it.
    digest = hashlib.sha256(signed.read_bytes()).hexdigest()[:16]
    notes = [n for n in workdir.json("show")["notes"] if n.startswith("signed off by e2e-tester at ")]
    assert [n.split(f" from {signed} (sha256 {digest}): ")[1] for n in notes] == [
        f"0 approved, 2 skipped, 1 decided quickbooks, {actions - 3} as they were, 1 row refused",
        f"0 approved, 0 skipped, {actions} as they were, 1 row refused"]
    assert f"Note: {notes[0]}." in workdir.run("show", check=True).stdout

    after = {r["action_id"]: r for r in _rows(workdir.run("show", "--csv", check=True).stdout)}
    assert after[conflict["action_id"]]["applies"] == "yes"  # taking a side approves it
    assert after[refused_create]["applies"] == after[mangled_create]["applies"] == "no"
    report = workdir.json("apply", "--yes")
    outcomes = {r["id"]: r["status"] for r in report["results"]}
    assert outcomes[conflict["action_id"]] == "applied"
    assert outcomes[refused_create] == outcomes[mangled_create] == "skipped"
    assert all(status == "applied" for id_, status in outcomes.items() if after[id_]["applies"] == "yes")


def test_w1_a_sign_off_of_another_plan_or_with_ids_is_refused_and_records_nothing(workdir):
    first = workdir.json("plan")["plan_id"]
    text = workdir.run("show", "--csv", check=True).stdout
    rows = _rows(text)
    for row in rows:
        row["approved"] = "no"
    signed = workdir.path / "signed.csv"
    signed.write_text(_text(rows))
    # Another plan is made meanwhile (a rules change): the file signs the first, which is no longer the latest.
    workdir.path.joinpath("rules.yaml").write_text(workdir.path.joinpath("rules.yaml").read_text() + "\n# edited\n")
    second = workdir.json("plan", "--full")["plan_id"]
    assert second != first

    wrong = workdir.run("approve", "--from", str(signed), "--plan", second)
    assert wrong.returncode != 0 and f"signs off plan {first}, not plan {second}: nothing was recorded" in wrong.stderr
    both = workdir.run("approve", "--from", str(signed), "--all")
    assert both.returncode == 1 and "not both" in both.stderr  # a usage error
    assert all(r["approved"] == "yes" for r in _rows(workdir.run("show", second, "--csv", check=True).stdout))

    # From standard input, to the plan the file names (not the latest): recorded there.
    piped = workdir.run("approve", "--from", "-", input=_text(rows))
    assert piped.returncode == 0, piped.stderr
    assert f"Signed off plan {first} from <stdin>: 0 actions approved, {len({r['action_id'] for r in rows})} " \
           "actions skipped" in piped.stdout
    assert all(r["approved"] == "no" for r in _rows(workdir.run("show", first, "--csv", check=True).stdout))



def test_u3_a_sign_off_answers_only_the_held_actions_it_changes(workdir):
    ran = workdir.run("run", "--json")
    assert ran.returncode == 3, ran.stderr  # something was held for a person
    summary = json.loads(ran.stdout.strip().splitlines()[-1])
    held = {row["action_id"]: row for row in summary["held_actions"]}
    plan_id = {row["plan_id"] for row in json.loads(workdir.run("held", "--json").stdout)["held"]}.pop()
    rows = _rows(workdir.run("show", plan_id, "--csv", check=True).stdout)
    answered = next(r["action_id"] for r in rows if r["action_id"] in held and r["approved"] == "no"
                    and r["kind"] != "conflict")
    for row in rows:
        if row["action_id"] == answered:
            row["approved"] = "yes"
    signed = workdir.path / "signed.csv"
    signed.write_text(_text(rows))

    done = workdir.json("approve", "--from", str(signed))
    assert done["approved"] == [answered] and done["skipped"] == [] and not done["refused"]
    still = {row["action_id"] for row in json.loads(workdir.run("held", "--json").stdout)["held"]}
    assert answered not in still and still == set(held) - {answered}  # the rows left as they were stay held

"""The CLI's conventions for operators and scripts (issue 14): exit codes, partial plans, progress,
the confirmation on the terminal, history, common options. Real subprocesses on the local APIs."""

from __future__ import annotations

import argparse
import csv
import fcntl
import io
import json
import os
import re
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from engine.review import ERROR_OUTCOMES
from tui.cli import AUDIT_STATUSES, build_parser

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def leaves(parser: argparse.ArgumentParser, path=()):
    """Every runnable command of the parser, as (path, its parser)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for sub in subs:
        for name, child in sub.choices.items():
            yield from leaves(child, (*path, name))


def test_w1_every_command_takes_the_common_options_and_version_is_printed(workdir):
    commands = dict(leaves(build_parser()))
    assert len(commands) >= 20
    for path, parser in commands.items():
        options = {option for action in parser._actions for option in action.option_strings}
        if path == ("init",):  # it writes a rules file, before there is any state
            assert "--rules" in options and "--state" not in options
        elif path != ("local", "serve"):  # the local APIs keep their own data, not qbsync's state
            assert {"--rules", "--state"} <= options, path
    assert workdir.run("validate", "--state", "elsewhere.db").returncode == 0  # refused it before
    version = workdir.run("--version")
    assert version.returncode == 0 and re.fullmatch(r"qbsync \d+\.\d+\.\d+\S*\n", version.stdout)
    for help_of in (("apply", "--help"), ("show", "--help"), ("validate", "--help")):
        shown = workdir.run(*help_of).stdout
        assert "--rules PATH" in shown and "the rules file" in shown
        if help_of[0] != "validate":
            assert "PLAN_ID" in shown and "a plan id, or a prefix" in shown


def test_w1_every_argument_of_every_command_says_what_it_is_in_help():
    unexplained = []
    for path, parser in leaves(build_parser()):
        if not parser.description:
            unexplained.append(" ".join(path))
        for action in parser._actions:
            if action.help is None and not isinstance(action, argparse._SubParsersAction):
                unexplained.append(f"{' '.join(path)} {action.option_strings or action.dest}")
    assert unexplained == []


def test_w1_plan_exits_0_and_detailed_exitcode_tells_changes_from_only_blocked_from_nothing(workdir):
    assert workdir.run("plan").returncode == 0
    changes = workdir.run("plan", "--detailed-exitcode")
    assert changes.returncode == 2 and "1 conflict waits for a decision" in changes.stdout
    assert workdir.run("show", "--detailed-exitcode").returncode == 2
    assert workdir.run("show").returncode == 0
    workdir.first_sync()
    assert workdir.run("suppliers", "map", "5", "11", "--yes").returncode == 0  # the ambiguous match, by hand
    # What is left of the demo is blocked (names QuickBooks refuses): nothing to apply, yet not "in sync".
    only_blocked = workdir.run("plan", "--detailed-exitcode")
    assert only_blocked.returncode == 3, only_blocked.stdout
    assert {a["kind"] for a in workdir.json("show")["actions"]} == {"blocked"}
    nothing = workdir.run("plan", "--only", "terms", "--detailed-exitcode")
    assert nothing.returncode == 0, nothing.stdout
    assert "No changes to payment terms." in nothing.stdout and "in sync" not in nothing.stdout
    # A bad command line is an error (1), never a "changes" 2.
    assert workdir.run("plan", "--detailed-exitcode", "--no-such-option").returncode == 1


def test_w6_a_partial_plan_never_becomes_the_latest_plan_of_a_bare_apply_or_decide(workdir):
    full = workdir.json("plan")
    conflict = next(a for a in full["actions"] if a["kind"] == "conflict")
    partial = workdir.json("plan", "--only", "items")
    assert partial["scope"] == "items" and partial["plan_id"] != full["plan_id"]
    text = workdir.run("show", partial["plan_id"]).stdout
    assert f"Partial plan {partial['plan_id']} (items only)" in text and "does not replace the latest full plan" in text

    assert workdir.json("show")["plan_id"] == full["plan_id"]  # the latest is still the full plan
    assert workdir.run("decide", conflict["id"], "quickbooks").returncode == 0  # on the full plan
    refused = workdir.run("decide", conflict["id"], "quickbooks", "--plan", partial["plan_id"])
    assert refused.returncode == 1 and "has no action" in refused.stderr
    ambiguous = next(a for a in full["actions"] if a["kind"] == "ambiguous")
    assert "is an ambiguous, not a conflict" in workdir.run("decide", ambiguous["id"], "skip").stderr

    # Planning the items again, with nothing changed, finds that same partial plan.
    assert workdir.json("plan", "--only", "items")["plan_id"] == partial["plan_id"]
    report = workdir.json("apply", "--yes")
    assert report["plan_id"] == full["plan_id"]


def test_w6_with_only_a_partial_plan_a_bare_apply_has_no_plan_to_take_and_says_how_to_name_one(workdir):
    partial = workdir.json("plan", "--only", "suppliers")
    refused = workdir.run("apply", "--yes")
    assert refused.returncode == 1 and "a plan made with --only is named by its id" in refused.stderr
    assert workdir.json("apply", partial["plan_id"], "--yes")["plan_id"] == partial["plan_id"]


def test_w3_applying_an_applied_plan_again_says_already_applied_and_writes_nothing(workdir):
    plan = workdir.json("plan")
    held = next(a for a in plan["actions"] if a["kind"] == "create" and a["target"] == "precoro")
    assert workdir.run("skip", held["id"]).returncode == 0
    first = workdir.run("apply", plan["plan_id"], "--yes")
    assert first.returncode == 0, first.stderr
    # Not a terminal: a line at every tenth of the way, on stderr.
    tenths = re.findall(r"qbsync: applied [\d,]+ of [\d,]+ actions \((\d+)%\)", first.stderr)
    assert tenths[-1] == "100" and len(tenths) >= 5 and tenths == sorted(tenths, key=int)
    assert "applied " not in first.stderr.replace("qbsync: applied", "")  # progress only, not the results
    again = workdir.run("apply", plan["plan_id"], "--yes")
    assert again.returncode == 0
    assert again.stdout.startswith(f"Plan {plan['plan_id']} was already applied by e2e-tester (started ")
    assert "; nothing to do" in again.stdout
    assert not re.search(r"^applied ", again.stdout, re.M)
    as_json = workdir.json("apply", plan["plan_id"], "--yes")
    assert as_json["already_applied"] is True and as_json["results"] == []
    # An action approved since is not "already applied": the same plan applies it, and only it.
    assert workdir.run("approve", held["id"]).returncode == 0
    later = workdir.json("apply", plan["plan_id"], "--yes")
    assert not later.get("already_applied")
    assert {r["id"]: r["status"] for r in later["results"]}[held["id"]] == "applied"
    assert workdir.json("apply", plan["plan_id"], "--yes")["already_applied"] is True
    status = workdir.json("status")
    assert all(counts["pending"] == 0 and counts["conflicts"] == 0 for counts in status["entities"].values())


def read_one_line_then_go_away(workdir, *args: str) -> int:
    """`qbsync ARGS 2>&1 | head -1`: the reader takes the first line and closes the pipe; returns
    the command's exit code."""
    env = {**os.environ, **workdir.apis.env, "QBSYNC_OPERATOR": "e2e-tester"}
    process = subprocess.Popen([sys.executable, "-m", "tui.cli", *args], cwd=workdir.path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout.readline()
    process.stdout.close()
    return process.wait(timeout=120)


def test_w3_an_apply_whose_reader_goes_away_applies_the_whole_plan_and_says_so_by_its_exit_code(workdir):
    """Its progress and report have no one to read them: the apply still goes to its end (before,
    the first progress line after the reader left stopped it half done, and it exited 0)."""
    plan = workdir.json("plan")
    conflict = next(a for a in plan["actions"] if a["kind"] == "conflict")
    assert workdir.run("decide", conflict["id"], "quickbooks").returncode == 0
    assert read_one_line_then_go_away(workdir, "apply", "--yes") == 0
    status = workdir.json("status")
    assert status["latest_plan"]["state"] == "applied", status["latest_plan"]
    applied = [e for e in workdir.json("history")["history"] if e["status"] == "applied"]
    assert len(applied) == sum(1 for a in plan["actions"] if a["approved"] and a["kind"] not in ("ambiguous", "blocked"))
    # A command that only prints stops when its reader goes away, quietly and with 0.
    assert read_one_line_then_go_away(workdir, "history") == 0


def test_w4_history_finds_a_record_by_any_part_of_its_name_names_both_ids_and_prints_no_python(workdir):
    workdir.first_sync()
    found = workdir.run("history", "--record", "ROBERTSON")
    assert "Robertson & Associates" in found.stdout
    history = workdir.run("history").stdout
    assert "{'" not in history and "None" not in history
    assert 'name: Precoro "amy\'s bird sanctuary " | QuickBooks "Amy\'s Bird Sanctuary" -> "Amy\'s Bird Sanctuary"' in history
    created = [row for row in workdir.json("history")["history"] if row["kind"] == "create"]
    assert created and all(row["precoro_id"] and row["quickbooks_id"] for row in created)
    none = workdir.run("history", "--record", "No Such Company")
    assert "No applied action touched a record matching 'No Such Company'" in none.stdout
    assert "Nothing has been applied yet" not in none.stdout
    assert len(workdir.json("history", "--limit", "2")["history"]) == 2
    # Filtered by plan, outcome and day (UTC, as recorded), and an empty answer says what was asked.
    everything = workdir.json("history")["history"]
    first_plan = everything[-1]["plan_id"]
    of_plan = workdir.json("history", "--plan", first_plan[:6], "--status", "applied")["history"]
    assert of_plan == [row for row in everything if row["plan_id"] == first_plan] and of_plan
    day = everything[0]["at"][:10]
    assert workdir.json("history", "--since", day)["history"] == everything
    later = workdir.run("history", "--since", "2999-01-01", "--status", "failed,refused")
    assert later.returncode == 0 and later.stdout.startswith(
        "No applied action ended failed or refused and was recorded on 2999-01-01 (UTC) or later; the history holds")
    assert workdir.json("history", "--until", day)["history"] == everything  # that day included
    earlier = workdir.run("history", "--until", "2000-01-01").stdout
    assert earlier.startswith("No applied action was recorded on 2000-01-01 (UTC) or earlier")
    assert set(AUDIT_STATUSES) == {"applied", *ERROR_OUTCOMES}  # what --status takes is what the apply records
    for bad in (("--status", "done"), ("--since", "yesterday"), ("--plan", "nosuchplan"), ("--until", "soon")):
        refused = workdir.run("history", *bad)
        assert refused.returncode == 1 and bad[1] in refused.stderr and "Traceback" not in refused.stderr

    # As CSV for a spreadsheet: every entry, its changes in one cell, and a name that looks like a
    # formula kept as text.
    _, pc = workdir.clients()
    pc.create("/suppliers", {"name": "=HYPERLINK(1)", "currencies": ["USD"]})
    plan = workdir.json("plan")
    assert workdir.run("apply", plan["plan_id"], "--yes").returncode == 0
    rows = list(csv.DictReader(io.StringIO(workdir.run("history", "--csv").stdout)))
    entries = workdir.json("history")["history"]
    assert [(row["at"], row["status"], row["action_id"]) for row in rows] == \
        [(entry["at"], entry["status"], entry["action_id"]) for entry in entries]
    [made] = [row for row in rows if "HYPERLINK" in row["name"]]
    assert made["name"] == "'=HYPERLINK(1)" and made["kind"] == "create" and "name: (empty) -> " in made["changes"]
    for bad in ("0", "-1", "x"):
        refused = workdir.run("history", "--limit", bad)
        assert refused.returncode == 1 and "--limit" in refused.stderr
    assert workdir.run("items", "unmapped", "--limit", "0").returncode == 1


def run_on_a_terminal(workdir, shell_command: str, answer: str | None = None, timeout: float = 120) -> tuple[str, int]:
    """Run `sh -c shell_command` with a pseudo-terminal as its controlling terminal, stdin, stdout
    and stderr (the command redirects what it wants elsewhere); type `answer` once it asks.
    Returns everything the terminal showed, and the exit code."""
    master, slave = os.openpty()
    env = {**os.environ, **workdir.apis.env, "QBSYNC_OPERATOR": "e2e-tester", "QBSYNC": f"{sys.executable} -m tui.cli"}

    def controlling_terminal() -> None:  # in the child, after setsid (start_new_session)
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(["sh", "-c", shell_command], cwd=workdir.path, env=env, stdin=slave, stdout=slave,
                               stderr=slave, start_new_session=True, preexec_fn=controlling_terminal)
    os.close(slave)
    shown, deadline, answered = b"", time.monotonic() + timeout, answer is None
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child is gone and the terminal closed
                    break
                if not chunk:
                    break
                shown += chunk
            if not answered and b"Type 'yes' to apply: " in shown:
                os.write(master, answer.encode() + b"\n")
                answered = True
            if not ready and process.poll() is not None:
                break
        return shown.decode(errors="replace"), process.wait(timeout=10)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()


def test_w1_apply_asks_on_the_terminal_when_stdout_and_stderr_go_to_a_log(workdir):
    workdir.run("plan")
    shown, code = run_on_a_terminal(workdir, "$QBSYNC apply > log 2>&1", answer="no")
    assert code == 1 and "Type 'yes' to apply:" in shown and "not applied" in shown
    assert "Apply: " not in (workdir.path / "log").read_text()

    shown, code = run_on_a_terminal(workdir, "$QBSYNC apply > log 2>&1", answer="yes")
    log = (workdir.path / "log").read_text()
    assert code == 0, (shown, log)
    assert "Type 'yes' to apply:" in shown and "Type 'yes'" not in log  # asked where the operator sees it
    assert "Apply: " in log and "(100%)" in log  # the report and the progress went to the log


def test_w1_progress_on_a_terminal_is_one_line_rewritten_and_rubbed_out(workdir):
    shown, code = run_on_a_terminal(workdir, "$QBSYNC plan > plan.txt")
    assert code == 0
    # The plan's reading, each line clearing what a longer one left, and cleared at the end.
    assert "\r" in shown and "\x1b[K" in shown and shown.rstrip("\r\n").endswith("\r\x1b[K")
    shown, code = run_on_a_terminal(workdir, "$QBSYNC apply --yes > report.txt")
    assert code == 0, shown
    assert re.search(r"\rapplying: \d+/\d+ \(\d+%\), [\d.,]+/s", shown), shown
    assert "100%" in shown and shown.rstrip("\r\n").endswith("\r\x1b[K")
    assert "Apply: " in (workdir.path / "report.txt").read_text()


def test_u1_a_run_that_waits_out_a_cap_says_so_in_its_log_as_text_or_json_events(capsys):
    """`qbsync run` in a log (systemd): a line when a wait begins and one every ten minutes of it;
    with --log-format json, JSON event lines a log collector can read."""
    from tui.cli import _run_waits

    what = "Precoro's hourly limit is reached: going on at 10:00 UTC"
    for log_format in ("json", "text"):
        told = _run_waits(build_parser().parse_args(["run", "--log-format", log_format]))
        for seconds_left in (3600, 3500, 3000, 2990):  # the first, then ten minutes on
            told(what, seconds_left)
        told("acme: " + what, 2980)  # another company's wait (`run --all`): said at once
        lines = capsys.readouterr().err.splitlines()
        if log_format == "json":
            assert [json.loads(line) for line in lines] == [
                {"event": "qbsync.wait", "what": what, "seconds_left": 3600},
                {"event": "qbsync.wait", "what": what, "seconds_left": 3000},
                {"event": "qbsync.wait", "what": "acme: " + what, "seconds_left": 2980}]
        else:
            assert lines == [f"qbsync: {what} (in 1 h)", f"qbsync: {what} (in 50 min)",
                             f"qbsync: acme: {what} (in 49 min)"]


def test_w4_status_names_what_an_apply_left_failed_and_how_to_try_it_again(workdir):
    workdir.first_sync()
    # A field Precoro has no such key for: writing it there fails (refused by Precoro, not stale).
    rules = workdir.path / "rules.yaml"
    rules.write_text(rules.read_text().replace(
        "    accountNumber: {precoro: accountNumber, quickbooks: AcctNum}",
        "    accountNumber: {precoro: accountNumber, quickbooks: AcctNum}\n"
        "    taxId: {precoro: vatNumber, quickbooks: TaxIdentifier, direction: to_precoro}", 1))
    qb, _ = workdir.clients()
    robertson = next(v for v in qb.query_all("Vendor") if v["DisplayName"] == "Robertson & Associates")
    qb.update("Vendor", {"Id": robertson["Id"], "SyncToken": robertson["SyncToken"], "sparse": True,
                         "TaxIdentifier": "99-1234567"})
    plan = workdir.json("plan")
    applied = workdir.run("apply", plan["plan_id"], "--yes")
    assert applied.returncode == 1  # a failed action
    status = workdir.run("status").stdout
    assert (f"plan {plan['plan_id']}: 1 failed in its applies (`qbsync history --plan {plan['plan_id']} --status "
            f"failed,refused` says why); `qbsync apply {plan['plan_id']} --retry-failed` tries the failed again") \
        in status, status
    [failed] = workdir.json("history", "--plan", plan["plan_id"], "--status", "failed")["history"]
    assert failed["name"] == "Robertson & Associates" and "vatNumber" in failed["reason"]


def test_w4_a_long_history_prints_its_latest_entries_and_says_how_to_see_the_rest(make_workdir):
    workdir = make_workdir(seed="scale:150")
    plan = workdir.json("plan")
    assert workdir.run("apply", plan["plan_id"], "--yes").returncode in (0, 1)
    everything = workdir.json("history")["history"]  # scripts get every entry
    assert len(everything) > 200

    def entries(*args: str) -> list[str]:
        return [line for line in workdir.run("history", *args).stdout.splitlines() if not line.startswith(("    ", "…"))]

    shown = workdir.run("history").stdout
    assert len(entries()) == 200 and shown.rstrip().endswith(
        "… older entries are not shown: `qbsync history --all` prints every one, `--limit N` the N latest.")
    assert entries()[0].startswith(everything[0]["at"]) and f"plan={everything[199]['plan_id']}" in entries()[199]
    assert len(entries("--all")) == len(everything) and "older entries" not in workdir.run("history", "--all").stdout
    assert len(entries("--limit", "3")) == 3 and "older entries" not in workdir.run("history", "--limit", "3").stdout


def test_w4_history_lists_one_entity_and_one_kind_of_action(workdir):
    workdir.first_sync()
    everything = workdir.json("history")["history"]
    links = workdir.json("history", "--entity", "suppliers", "--kind", "link")["history"]
    assert links == [row for row in everything if row["entity"] == "supplier" and row["kind"] == "link"]
    assert links and len(links) < len(everything)
    items = workdir.json("history", "--entity", "item")["history"]  # an entity named by its kind too
    assert items == [row for row in everything if row["entity"] == "item"] and items
    none = workdir.run("history", "--kind", "deactivate")
    assert none.returncode == 0
    assert f"No applied action is of kind deactivate; the history holds {len(everything)} entries" in none.stdout
    refused = workdir.run("history", "--kind", "delete")
    assert refused.returncode == 1 and "argument --kind: invalid choice: 'delete' (choose from 'link'" in refused.stderr


def test_w4_explain_tells_one_records_story_as_text_or_json_and_refuses_a_name_several_records_have(workdir):
    workdir.first_sync()
    said = workdir.json("explain", "suppliers", "amy's bird sanctuary")
    precoro_id, quickbooks_id = said["link"]["precoro_id"], said["link"]["quickbooks_id"]
    assert said["records"]["quickbooks"]["id"] == quickbooks_id and said["plan"]["actions"] == []
    assert said["history"] and all(e["precoro_id"] == precoro_id for e in said["history"])

    text = workdir.run("explain", "suppliers", f"quickbooks:{quickbooks_id}", "--history", "1").stdout.splitlines()
    assert text[0].startswith("supplier \"Amy's Bird Sanctuary\" (as read ")
    assert text[1].startswith(f"  Precoro {precoro_id}") and text[2].startswith(f"  QuickBooks {quickbooks_id}")
    assert text[3].startswith("  linked           since ")
    assert '      phone: "(650) 555-3311" | "(650) 555-3311" | "(650) 555-3311"   (both ways)' in text
    assert any(line.startswith("  latest plan ") and line.endswith(": nothing for it (the two sides agreed)")
               for line in text)
    assert f"  history (the latest 1; `qbsync history --entity suppliers --record {precoro_id}` lists all):" in text

    live = workdir.run("explain", "suppliers", f"precoro:{precoro_id}", "--live").stdout.splitlines()
    assert live[0] == "supplier \"Amy's Bird Sanctuary\" (read now)" and live[1:4] == text[1:4]

    several = workdir.run("explain", "suppliers", "Northwind Traders")
    assert several.returncode == 1 and several.stdout == ""
    assert several.stderr.startswith("qbsync: 'Northwind Traders' names 3 suppliers: ")
    unknown = workdir.run("explain", "vendors", "Amy")
    assert unknown.returncode == 1 and "argument ENTITY: invalid choice: 'vendors'" in unknown.stderr

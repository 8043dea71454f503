"""`qbsync run --all DIR`: every company of a bookkeeping firm, a few at a time, failures isolated (U1)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def qbsync(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=cwd, env={**os.environ, **(env or {})},
                          text=True, capture_output=True, timeout=300)


def test_u1_run_all_over_three_companies_where_one_fails(tmp_path):
    # Two companies on the embedded local APIs (each its own, with demo data, beside its state file),
    # and one whose rules file is broken.
    for name in ("acme", "beta"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "rules.yaml").write_text((ROOT / "rules.yaml").read_text())
    (tmp_path / "gamma").mkdir()
    (tmp_path / "gamma" / "rules.yaml").write_text("version: 1\nsuppliers:\n  conflict: ask_me\n")
    (tmp_path / "not-a-company").mkdir()  # no rules.yaml: not a company

    result = qbsync("run", "--all", str(tmp_path), "--jobs", "2", "--json", "--log-format", "json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # one failed
    report = json.loads(result.stdout)
    rows = {row["company"]: row for row in report["companies"]}
    assert list(rows) == ["acme", "beta", "gamma"] and report["exit_code"] == 1
    for name in ("acme", "beta"):  # the failure of gamma touched neither
        assert rows[name]["exit_code"] == 3 and rows[name]["error"] is None and rows[name]["counts"]["applied"] > 0
        assert (tmp_path / name / ".qbsync" / "state.db").exists()
    assert rows["gamma"]["exit_code"] == 1 and "gamma/rules.yaml:3:13" in rows["gamma"]["error"]
    logged = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert sorted(entry["company"] for entry in logged) == ["acme", "beta", "gamma"]

    # The table, and a second round: each company's held actions are its own and nothing is new.
    again = qbsync("run", "--all", str(tmp_path), cwd=tmp_path)
    lines = again.stdout.splitlines()
    assert again.returncode == 1 and lines[0].split() == ["company", "result", "applied", "held", "new", "failed", "note"]
    assert lines[1].split()[:2] == ["acme", "held"] and lines[1].split()[4] == "0"
    assert lines[3].split()[:2] == ["gamma", "FAILED"]
    # One Intuit app's monthly reads, all companies together: what this pass spent of them.
    reads = sum(row["quickbooks_reads"] for row in rows.values() if row["quickbooks_reads"])
    assert report["quickbooks_reads"] == reads > 0
    for name in ("acme", "beta"):  # its state file's month so far: at least this run's reads
        assert rows[name]["quickbooks_reads_month"]["reads"] >= rows[name]["quickbooks_reads"] > 0
    assert re.fullmatch(r"QuickBooks reads in this pass: \d+\. Intuit counts an app's reads by the month, all its "
                        r"companies together \(500,000 on the Builder tier\): about [\d,]+ passes like this one a "
                        r"month\. These companies read [\d,]+ in \d{4}-\d\d so far\.", lines[-1]), lines[-1]

    # Of a morning, which companies want a person: from the state files, with exit codes for scripts.
    status = qbsync("status", "--all", str(tmp_path), cwd=tmp_path)
    lines = status.stdout.splitlines()
    assert status.returncode == 1, status.stderr  # gamma cannot be read
    assert lines[0].split() == ["company", "last", "run", "(UTC)", "result", "held", "to", "decide", "QB", "reads", "note"]
    acme = lines[1].split()
    assert acme[0] == "acme" and acme[3] == "held" and acme[4] == str(rows["acme"]["held"])
    assert lines[1].endswith(f"{rows['acme']['held']} held for review (`qbsync held`)")
    assert lines[3].split()[:4] == ["gamma", "never", "-", "-"] and "cannot be read: " in lines[3]
    assert re.fullmatch(r"QuickBooks reads in \d{4}-\d\d: [\d,]+ by these companies' state files \(\d+\.\d% of the "
                        r"500,000 an Intuit app may read a month on the Builder tier, all its companies together\)\.",
                        lines[-1]), lines[-1]
    told = json.loads(qbsync("status", "--all", str(tmp_path), "--json", cwd=tmp_path).stdout)
    assert [c["company"] for c in told["companies"]] == ["acme", "beta", "gamma"] and told["exit_code"] == 1
    assert told["companies"][0]["exit_code"] == 3 and told["companies"][0]["status"]["unattended"]["held"] > 0
    assert told["quickbooks_reads"]["reads"] == sum(c["status"]["quickbooks_reads"]["reads"]
                                                    for c in told["companies"] if c["status"])
    late = qbsync("status", "--all", str(tmp_path), "--late", "1d", "--json", cwd=tmp_path)  # the runs are recent
    assert [c["problems"] for c in json.loads(late.stdout)["companies"]][:2] == [[], []]
    alone = qbsync("status", "--late", "1h", cwd=tmp_path)
    assert alone.returncode == 1 and "--late goes with --all" in alone.stderr



def test_u5_a_check_on_a_timer_tells_a_broken_company_once_a_day(tmp_path, chat_hook):
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "rules.yaml").write_text((ROOT / "rules.yaml").read_text())
    (tmp_path / "gamma").mkdir()
    (tmp_path / "gamma" / "rules.yaml").write_text("version: 1\nsuppliers:\n  conflict: ask_me\n")
    env = {"QBSYNC_NOTIFY_URL": chat_hook.url}
    first = qbsync("status", "--all", str(tmp_path), "--notify", cwd=tmp_path, env=env)
    assert first.returncode == 1 and first.stderr == ""
    [told] = chat_hook.received
    assert told["text"].startswith("qbsync: 1 company needs you\ngamma (new): cannot be read: ")
    assert [c["company"] for c in told["qbsync"]["companies"]] == ["gamma"]
    assert json.loads((tmp_path / ".qbsync-status.json").read_text())["companies"] == ["gamma"]
    again = qbsync("status", "--all", str(tmp_path), "--notify", cwd=tmp_path, env=env)
    assert again.returncode == 1 and len(chat_hook.received) == 1  # said today already
    unset = qbsync("status", "--all", str(tmp_path), "--notify", cwd=tmp_path, env={"QBSYNC_NOTIFY_URL": ""})
    assert unset.returncode == 1 and "--notify: set QBSYNC_NOTIFY_URL" in unset.stderr

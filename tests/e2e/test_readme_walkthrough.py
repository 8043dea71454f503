"""The README's operator walkthrough is a test: its console block, run in order on the demo data.

The block is parsed, not copied: `$ qbsync ...` lines are commands, the lines under one are what it
prints on stdout (each a whole line; `…` any number of lines; `<id>`, `<time>`, `<who>`, `<size>` the parts that
change from run to run), and `[exit N]` its exit code (0 when not shown). Edit the README and this
test follows; break the behaviour it shows and this test fails.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- walkthrough: tests/e2e/test_readme_walkthrough.py"
PLACEHOLDERS = {"<id>": r"[0-9a-f]+", "<time>": r"[0-9T:+\-]+", "<who>": r"\S+", "<size>": r"[0-9][0-9.,]*"}


@dataclass
class Step:
    argv: list[str]
    expected: list[str] = field(default_factory=list)
    exit_code: int = 0

    def pattern(self) -> re.Pattern:
        """The whole stdout, as the README shows it: every shown line in order, `…` for any lines."""
        parts = []
        for line in self.expected:
            if line == "…":
                parts.append(r"(?:[^\n]*\n)*?")
                continue
            text = re.escape(line)
            for placeholder, regex in PLACEHOLDERS.items():
                text = text.replace(re.escape(placeholder), regex)
            parts.append(text + r"\n")
        return re.compile("".join(parts))


def walkthrough(readme: str) -> list[Step]:
    lines = readme[readme.index(MARKER):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("```")) + 1
    steps: list[Step] = []
    for line in lines[start:]:
        if line.startswith("```"):
            break
        if line.startswith("$ "):
            program, *argv = shlex.split(line[2:])
            assert program == "qbsync", line
            steps.append(Step(argv))
        elif (found := re.fullmatch(r"\[exit (\d+)\]", line)) is not None:
            steps[-1].exit_code = int(found.group(1))
        else:
            steps[-1].expected.append(line)
    return steps


def test_w1_the_parser_reads_commands_outputs_and_exit_codes():
    steps = walkthrough(f"{MARKER} -->\n```console\n$ qbsync plan --only items\nPlan <id>\n…\n[exit 2]\n"
                        "$ qbsync status\n```\n$ qbsync not-in-the-block\n")
    assert [(s.argv, s.expected, s.exit_code) for s in steps] == [
        (["plan", "--only", "items"], ["Plan <id>", "…"], 2), (["status"], [], 0)]
    assert steps[0].pattern().fullmatch("Plan 2c0cd3804030\nmore\nlines\n")
    assert not steps[0].pattern().fullmatch("Partial plan 2c0cd3804030\n")
    assert not steps[1].pattern().fullmatch("anything\n")  # an empty expectation means no output


def test_w1_readme_walkthrough_runs_in_order_on_the_demo_data_with_the_outcomes_it_shows(tmp_path):
    steps = walkthrough((ROOT / "README.md").read_text())
    assert len(steps) >= 10
    shutil.copy(ROOT / "rules.yaml", tmp_path / "rules.yaml")
    # The shipped rules on the embedded local APIs, as a new user runs them: no credentials around.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("QUICKBOOKS_", "PRECORO_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for number, step in enumerate(steps, 1):
        result = subprocess.run([sys.executable, "-m", "tui.cli", *step.argv], cwd=tmp_path, env=env, text=True,
                                capture_output=True, timeout=180)
        where = f"step {number}: qbsync {shlex.join(step.argv)}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        assert result.returncode == step.exit_code, where
        stdout = result.stdout if result.stdout.endswith("\n") or not result.stdout else result.stdout + "\n"
        assert step.pattern().fullmatch(stdout), where

"""`qbsync tui --screenshot FILE.svg [--plan ID] [--size COLSxROWS]`: the real CLI, on the shipped rules
and the embedded local APIs, writing real SVG files."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def qbsync(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("QUICKBOOKS_", "PRECORO_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=cwd, env=env, text=True, capture_output=True,
                          timeout=180)


def shown(svg: Path) -> str:
    """The text an SVG screenshot shows, as one string."""
    return "".join(html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg.read_text())).replace("\xa0", " ")


def width(svg: Path) -> float:
    return float(re.search(r'viewBox="0 0 ([\d.]+) ', svg.read_text()).group(1))


def test_w1_screenshot_of_the_tui_at_start_and_of_a_given_plan_at_a_given_size(tmp_path):
    shutil.copy(ROOT / "rules.yaml", tmp_path / "rules.yaml")
    first = qbsync(tmp_path, "tui", "--screenshot", "shots/start.svg")
    assert first.returncode == 0, first.stderr
    start = shown(tmp_path / "shots" / "start.svg")
    # No plan yet: the TUI makes one and opens on the Overview, as `qbsync` would.
    assert "QuickBooks Online" in start and "Suppliers" in start and "Latest plan" in start

    items = json.loads(qbsync(tmp_path, "plan", "--only", "items", "--json").stdout)
    small = qbsync(tmp_path, "tui", "--screenshot", "items.svg", "--plan", items["plan_id"][:6], "--size", "80x24")
    assert small.returncode == 0, small.stderr
    review = shown(tmp_path / "items.svg")
    assert items["plan_id"] in review and "Copy paper A4" in review  # that plan, on the Review screen
    assert "amy's bird sanctuary" not in review.casefold()  # a supplier: not in the items plan
    assert width(tmp_path / "items.svg") < width(tmp_path / "shots" / "start.svg")  # 80 columns, not 120

    missing = qbsync(tmp_path, "tui", "--screenshot", "x.svg", "--plan", "no-such-plan")
    assert missing.returncode == 1 and "no saved plan 'no-such-plan'" in missing.stderr
    assert not (tmp_path / "x.svg").exists()
    too_small = qbsync(tmp_path, "tui", "--screenshot", "x.svg", "--size", "60x20")
    assert too_small.returncode == 1 and "smaller than 80x24" in too_small.stderr
    alone = qbsync(tmp_path, "tui", "--plan", items["plan_id"])
    assert alone.returncode == 1 and "go with --screenshot" in alone.stderr

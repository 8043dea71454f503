"""`qbsync init`: a folder with no rules file gets the commented one qbsync ships with (W5: rules
without code start from a file that explains every key), and an operator's own file is never touched.
Real subprocesses of the CLI in empty folders."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import rules

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = (ROOT / "rules.yaml").read_text(encoding="utf-8")


def qbsync(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QBSYNC_OPERATOR": "e2e-tester"}
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=folder, env=env, text=True,
                          capture_output=True, timeout=120)


def test_w5_init_writes_the_shipped_rules_and_a_plan_runs_on_them_at_once(tmp_path):
    result = qbsync(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "rules.yaml").read_text(encoding="utf-8") == SHIPPED
    assert "`qbsync` opens the TUI on the local APIs with demo data" in result.stdout
    # The start works as it is: the embedded local APIs with demo data, nothing to connect.
    plan = qbsync(tmp_path, "plan", "--json")
    assert plan.returncode == 0, plan.stderr
    assert '"id"' in plan.stdout and (tmp_path / ".qbsync").is_dir()


def test_w5_init_never_overwrites_a_rules_file_and_makes_a_company_folder(tmp_path):
    own = "version: 1\n# mine\n"
    (tmp_path / "rules.yaml").write_text(own)
    result = qbsync(tmp_path, "init", "--quickbooks", "production")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == ("qbsync: rules.yaml already exists; nothing was written (qbsync never rewrites a rules "
                             "file: move it away first to start anew)\n")
    assert (tmp_path / "rules.yaml").read_text() == own

    # A company's folder of its own, as `qbsync run --all clients/` wants them: made.
    company = qbsync(tmp_path, "init", "--rules", "clients/acme/rules.yaml")
    assert company.returncode == 0, company.stderr
    assert company.stdout.startswith("wrote clients/acme/rules.yaml (a new folder, clients/acme): ")
    assert (tmp_path / "clients" / "acme" / "rules.yaml").read_text(encoding="utf-8") == SHIPPED
    assert qbsync(tmp_path, "validate", "--rules", "clients/acme/rules.yaml").returncode == 0


def test_w5_init_for_real_companies_changes_only_the_two_environments_and_names_the_next_steps(tmp_path):
    result = qbsync(tmp_path, "init", "--rules", "books.yaml", "--quickbooks", "production", "--precoro", "us")
    assert result.returncode == 0, result.stderr
    written = (tmp_path / "books.yaml").read_text(encoding="utf-8")
    loaded = rules.load(tmp_path / "books.yaml")
    assert (loaded.connections.quickbooks.environment, loaded.connections.precoro.environment) == ("production", "us")
    changed = [(old, new) for old, new in zip(SHIPPED.splitlines(), written.splitlines()) if old != new]
    assert changed == [("    environment: local", "    environment: production"),
                       ("    environment: local", "    environment: us")]
    assert len(written.splitlines()) == len(SHIPPED.splitlines())
    assert ("Next: `qbsync connect quickbooks --rules books.yaml`, then `qbsync connect precoro --rules books.yaml`"
            in result.stdout)
    assert qbsync(tmp_path, "validate", "--rules", "books.yaml").stdout == "books.yaml: valid\n"


def test_w5_the_shipped_rules_travel_in_the_package():
    # A wheel holds the package's data files, not the project's top level: `rules/starter.yaml` is a
    # link to rules.yaml that setuptools copies as a file (checked by hand with `pip wheel .`).
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "starter.yaml" in package_data["rules"]
    assert (ROOT / "rules" / "starter.yaml").resolve() == (ROOT / "rules.yaml").resolve()
    assert rules.starter() == SHIPPED

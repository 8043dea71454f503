"""Shared plumbing of the benchmarks: a served pair of local APIs, rules and a session pointed at them,
peak memory, medians and the results file. Nothing here is measured itself."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"


class Endpoints:
    """Where the local APIs are and the credentials they minted (`info`), as a client needs them."""

    def __init__(self, info: dict) -> None:
        self.info = info

    @property
    def env(self) -> dict[str, str]:
        qb, pc = self.info["quickbooks"], self.info["precoro"]
        return {
            "QUICKBOOKS_CLIENT_ID": qb["client_id"], "QUICKBOOKS_CLIENT_SECRET": qb["client_secret"],
            "QUICKBOOKS_REFRESH_TOKEN": qb["refresh_token"], "QUICKBOOKS_ACCESS_TOKEN": qb["access_token"],
            "PRECORO_EMAIL": pc["email"], "PRECORO_TOKEN": pc["token"],
        }

    def rules_yaml(self, extra: str = "") -> str:
        """A rules.yaml with every default (`version: 1` alone means the shipped defaults) pointed here."""
        qb, pc = self.info["quickbooks"], self.info["precoro"]
        return (
            "version: 1\n"
            "connections:\n"
            f"  quickbooks: {{environment: local, base_url: '{qb['base_url']}', realm_id: '{qb['realm_id']}', "
            f"token_url: '{qb['token_url']}'}}\n"
            f"  precoro: {{environment: local, base_url: '{pc['base_url']}'}}\n" + extra
        )


class LocalServer(Endpoints):
    """`bench/_serve.py` in a child process: its own CPU and memory, reached over loopback HTTP."""

    def __init__(self, data: Path, seed: str = "empty", *, throttle_window: float | None = None,
                 latency: float = 0.0, seeded_ago: float = 0.0, precoro_lists_with_details: bool = False) -> None:
        command = [sys.executable, str(ROOT / "bench" / "_serve.py"), "--data", str(data), "--seed", seed,
                   "--latency", str(latency), "--seeded-ago", str(seeded_ago)]
        if precoro_lists_with_details:
            command.append("--precoro-lists-with-details")
        if throttle_window:
            command += ["--throttle-window", str(throttle_window)]
        started = time.perf_counter()
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        line = self.process.stdout.readline()
        if not line:
            self.process.kill()
            raise RuntimeError("bench/_serve.py printed nothing (see its stderr above)")
        self.ready_seconds = time.perf_counter() - started
        hello = json.loads(line)
        super().__init__(hello["info"])
        self.seed_seconds: float | None = hello["seed_seconds"]
        self.stats_url: str = hello["stats_url"]

    def stats(self) -> dict:
        with urllib.request.urlopen(f"{self.stats_url}/_bench/stats", timeout=30) as answer:
            return json.loads(answer.read())

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.stats_url}/_bench/reset", data=b"", method="POST")
        urllib.request.urlopen(request, timeout=30).read()

    def peak_rss_mb(self) -> float | None:
        """The server process's peak resident memory (VmHWM), for the record."""
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                self.process.wait(timeout=10)

    def __enter__(self) -> "LocalServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"qbsync-bench-{prefix}-") as name:
        yield Path(name)


def session_for(server: LocalServer, directory: Path, extra_rules: str = "", state_name: str = "state.db"):
    """A SyncSession as `qbsync` builds one, on a fresh state file, talking to `server`."""
    from engine.sync import SyncSession

    directory.mkdir(parents=True, exist_ok=True)
    rules_path = directory / "rules.yaml"
    rules_path.write_text(server.rules_yaml(extra_rules))
    return SyncSession(rules_path, directory / state_name, env=server.env)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(script: Path, *args: str, timeout: float = 1800, cwd: Path = ROOT) -> dict:
    """Run `script --child ...` in a fresh interpreter (so its peak RSS is its own); it prints one JSON line last.
    `cwd`: the checkout it runs in (another one's script imports that checkout's code)."""
    result = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=cwd,
                            timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{script.name} {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    if result.stderr:
        sys.stderr.write(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _git() -> dict:
    def run(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    changed = [line for line in run("status", "--porcelain", "--", "engine", "rules").splitlines() if line]
    return {"head": run("rev-parse", "--short", "HEAD"), "engine_or_rules_changed_files": len(changed)}


def python_speed() -> float:
    """CPU seconds this machine takes for a fixed piece of plain Python work (dicts, strings, a sort;
    the best of three): the machines these benchmarks run on differ by up to 2x from day to day, so a
    figure is read beside this one (the README's say which they were taken at)."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        rows = [{"id": str(i), "name": f"Supplier {i:06d}", "city": "Lyon" if i % 3 else "Oslo"} for i in range(100_000)]
        index = {row["name"].casefold(): row for row in rows}
        ordered = sorted(rows, key=lambda row: (row["city"], row["id"]))
        assert len(index) == len(ordered)
        best = min(best, time.process_time() - started)
    return round(best, 3)


def machine() -> dict:
    return {"git": _git(), "python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "loadavg": os.getloadavg(), "python_speed_seconds": python_speed()}


def record(name: str, payload: dict) -> Path:
    """Append one result line to bench/results/<name>.jsonl (gitignored)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.jsonl"
    line = {"bench": name, "at": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": machine(), **payload}
    with path.open("a") as out:
        out.write(json.dumps(line, default=str) + "\n")
    print(f"This machine's speed: {line['machine']['python_speed_seconds']:.3f} s of plain Python work "
          "(bench/_harness.python_speed; compare figures taken at about the same speed)", flush=True)
    return path


def fmt(value: float | None, unit: str = "s", digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f} {unit}".strip()

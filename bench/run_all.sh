#!/usr/bin/env bash
# Run every benchmark with its defaults (about 45-60 minutes on 2 cores); results are appended to
# bench/results/*.jsonl and each script prints its own summary. Pass QUICK=1 for a smoke run at
# small sizes (a couple of minutes) that checks the scripts still work.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
if [[ "${QUICK:-0}" == "1" ]]; then
  "$PY" bench/plan_scale.py --n 2000 --runs 1
  "$PY" bench/api_calls.py --n 1000 --runs 1
  "$PY" bench/apply_throttled.py --writes 1500 --window 2 --runs 1 --paced
  "$PY" bench/items_scale.py --n 5000 --unmapped 500 --runs 1
  "$PY" bench/local_apis_scale.py --n 5000 --runs 1
  "$PY" bench/tui_open.py --n 5000 --runs 1
  "$PY" bench/plan_incremental.py --n 2000 --changed 10 --runs 1
  "$PY" bench/plan_killed.py --n 1000
  "$PY" bench/plan_killed.py --n 1000 --list items --at 0.3
  "$PY" bench/approve_many.py --actions 5000 --held 500
  "$PY" bench/map_many.py --n 1000
  "$PY" bench/first_sync.py --n 1000
  "$PY" bench/state_growth.py --days 10
  exit 0
fi
"$PY" bench/plan_scale.py --n 100000 --runs 2
"$PY" bench/api_calls.py --n 5000 --runs 2
"$PY" bench/apply_throttled.py --writes 1500 --window 60 --runs 2
"$PY" bench/apply_throttled.py --writes 1500 --window 6 --runs 2 --paced
"$PY" bench/items_scale.py --n 100000 --unmapped 10000 --runs 2
"$PY" bench/local_apis_scale.py --n 100000 --runs 2
"$PY" bench/tui_open.py --n 100000 --runs 2
"$PY" bench/plan_incremental.py --n 20000 --changed 100 --runs 1
"$PY" bench/plan_killed.py
"$PY" bench/plan_killed.py --list items --at 0.3
"$PY" bench/approve_many.py --actions 260000 --held 5000
"$PY" bench/map_many.py --n 20000
"$PY" bench/first_sync.py --n 20000
"$PY" bench/state_growth.py

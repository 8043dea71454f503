"""W1 at the shell: a tab completes qbsync's commands, options, the selection options' words, and
the plan and action ids of the state file, through the code `qbsync completion bash` prints,
sourced in a real bash."""

from __future__ import annotations

import os
import subprocess
import sys


# As bash calls a completion function at a tab: the line, the cursor at its end, its words.
BASH_TAB = """
eval "$QBSYNC_COMPLETION"
COMP_LINE="$LINE"; COMP_POINT=${#LINE}
read -ra COMP_WORDS <<< "$LINE"
[[ "$LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
_python_argcomplete qbsync "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\\n' "${COMPREPLY[@]}"
"""


def tab(workdir, line: str) -> list[str]:
    """What bash offers for a tab at the end of `line`, with qbsync's completion sourced."""
    code = workdir.run("completion", "bash")
    assert code.returncode == 0, code.stderr
    # The completion runs the `qbsync` on PATH, as a shell does: this checkout's, whatever is installed.
    command = workdir.path.parent / "bin" / "qbsync"
    if not command.exists():
        command.parent.mkdir()
        command.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tui.cli "$@"\n')
        command.chmod(0o755)
    env = {**os.environ, **workdir.apis.env, "PATH": f"{command.parent}{os.pathsep}{os.environ['PATH']}",
           "QBSYNC_COMPLETION": code.stdout, "LINE": line}
    done = subprocess.run(["bash", "-c", BASH_TAB], cwd=workdir.path, env=env, text=True, capture_output=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return sorted(word.strip() for word in done.stdout.splitlines() if word.strip())


def test_w1_a_tab_completes_commands_options_words_and_the_state_files_ids(workdir):
    # Before any plan: commands and options, and no state file is made to find ids.
    assert tab(workdir, "qbsync de") == ["decide"]
    assert tab(workdir, "qbsync sh") == ["show"]
    assert {"--entity", "--kind", "--to", "--which", "--search", "--all"} <= set(tab(workdir, "qbsync approve --"))
    assert tab(workdir, "qbsync show ") == []
    assert not (workdir.path / ".qbsync" / "state.db").exists()

    plan = workdir.json("plan")
    assert tab(workdir, "qbsync show --kind c") == ["conflict", "create"]
    assert tab(workdir, "qbsync skip --entity su") == ["suppliers"]
    assert tab(workdir, "qbsync approve --to p") == ["precoro"]
    assert tab(workdir, "qbsync history --which n") == []  # history has no --which
    assert tab(workdir, "qbsync show ") == [plan["plan_id"]]

    ids = [a["id"] for a in plan["actions"]]
    first = ids[0][:2]
    assert tab(workdir, f"qbsync approve {first}") == sorted(i for i in ids if i.startswith(first))
    conflicts = [a["id"] for a in plan["actions"] if a["kind"] == "conflict"]
    offered = tab(workdir, "qbsync decide ")
    assert set(conflicts) <= set(offered) and not set(ids) - set(conflicts) & set(offered)
    assert {"precoro", "quickbooks", "skip"} <= set(offered)

"""Tab completion for the command line, through argcomplete.

A shell that sourced `qbsync completion bash` (or zsh, fish) runs qbsync at each tab with the line
typed in its environment; `complete` answers it and exits before any command runs. Commands and
options come from the parser, with their choices (--kind, --to, ...), and --entity's words from the
CLI; plan and action ids from the state file the line names (`--rules`, `--state`), read
only if it exists: a tab never makes a state file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Iterator, Sequence

import argcomplete

def shell_code(shell: str) -> str:
    """What a shell sources to complete `qbsync` (as argcomplete's register-python-argcomplete prints)."""
    return argcomplete.shellcode(["qbsync"], shell=shell)


def complete(parser: argparse.ArgumentParser, entities: Sequence[str]) -> None:
    """Answer the shell asking what a tab completes (its line is in the environment), and exit.
    `entities`: the words --entity takes."""
    for sub in _parsers(parser):
        for action in sub._actions:
            if action.dest == "entity":
                action.completer = argcomplete.ChoicesCompleter(entities)  # type: ignore[attr-defined]
            elif action.dest == "plan_id":
                action.completer = _plan_ids  # type: ignore[attr-defined]
            elif action.dest in ("action_id", "action_ids"):
                action.completer = _action_ids  # type: ignore[attr-defined]
    argcomplete.autocomplete(parser, always_complete_options=False)  # options once a "-" is typed


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """The parser and every subcommand's, nested ones too (`suppliers map`)."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # a parser once, whatever its aliases
                yield from _parsers(sub)


def _store(parsed_args: argparse.Namespace) -> Any:
    from engine.store import Store
    from engine.sync import state_path_for

    rules = Path(getattr(parsed_args, "rules", None) or "rules.yaml")
    path = state_path_for(rules, getattr(parsed_args, "state", None))
    return Store(path) if path.is_file() else None


def _plan_ids(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    store = _store(parsed_args)
    return store.plan_ids(prefix) if store is not None else []


def _action_ids(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    """The ids of the plan named by --plan, else of the latest full plan; a decision's, of its conflicts."""
    store = _store(parsed_args)
    if store is None:
        return []
    named = getattr(parsed_args, "plan_id", None)
    plan_id = (store.plan_ids(named, limit=1) or [None])[0] if named else store.latest_plan_id()
    if plan_id is None:
        return []
    kinds = ("conflict",) if getattr(parsed_args, "command", None) == "decide" else ()
    return store.action_ids(plan_id, prefix, kinds)

"""Plain-text views of plans, apply reports and history for the headless CLI (no Textual here)."""

from __future__ import annotations

import csv
import json
import os
import shlex
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, TextIO

from engine.apply import ApplyReport
from engine.entities import BY_KIND, ENTITIES
from engine.plan import Action, Plan
from engine.review import approvals_digest
from engine.signoff import SignOff
from rules.model import SIDE_NAMES

SIDE = {**SIDE_NAMES, None: "qbsync"}
SYMBOL = {"create": "+", "update": "~", "deactivate": "-", "reactivate": "^", "link": "=", "unlink": "/",
          "conflict": "!", "ambiguous": "?", "blocked": "x"}
SECTION_OF = {spec.kind: spec.plural for spec in ENTITIES}
LABEL_OF = {spec.section: spec.plural for spec in ENTITIES}
DIRECTION_SAID = {"both": "both ways", "to_quickbooks": "to QuickBooks", "to_precoro": "to Precoro"}


def plural(n: int, word: str, many: str | None = None) -> str:
    """"1 field", "2 fields", "1,000 fields" (`many` for the irregular ones)."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def show(value: Any) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        if value and set(value) <= set(SIDE_NAMES):  # both sides' values, as a conflict records them
            return " | ".join(f"{SIDE_NAMES[side]} {show(v)}" for side, v in value.items())
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def minute(stamp: Any) -> str:
    """An ISO timestamp as a person reads it, to the minute: "2026-11-30 16:05"."""
    return str(stamp or "")[:16].replace("T", " ")


def cancels_document(action: Action) -> str | None:
    """"void" or "delete" for a document's cancellation (D7), else None: the deactivation of a
    document is its QuickBooks document voided or deleted, never made inactive."""
    if action.kind != "deactivate" or BY_KIND[action.entity].planned != "documents":
        return None
    write = getattr(action, "write", None)  # a listed action of a large plan has not read its request
    return "delete" if write is not None and write.op == "delete" else "void"


def headline(action: Action) -> str:
    ids = []
    if action.precoro_id:
        ids.append(f"Precoro {action.precoro_id}")
    if action.quickbooks_id:
        ids.append(f"QuickBooks {action.quickbooks_id}")
    where = {
        "create": f"create in {SIDE[action.target]}",
        "update": f"update in {SIDE[action.target]}",
        "deactivate": f"{cancels_document(action) or 'deactivate'} in {SIDE[action.target]}",
        "reactivate": f"reactivate in {SIDE[action.target]}",
        "link": "link",
        "unlink": "unlink",
        "conflict": "conflict",
        "ambiguous": "ambiguous match",
        "blocked": "blocked",
    }[action.kind]
    state = ""
    if action.kind == "conflict":
        state = f" (decided: {action.decision})" if action.decision else " (undecided)"
    elif not action.approved:
        state = " (not approved)"
    return f"{SYMBOL[action.kind]} {where} {show(action.name)} [{' <-> '.join(ids)}] id={action.id}{state}"


def action_lines(action: Action, held: str | None = None) -> list[str]:
    """An action as `show` prints it; `held`: why a run would hold it (`--which would-hold`)."""
    lines = [headline(action)]
    for change in action.changes:
        if action.kind == "conflict":
            lines.append(f"    {change.field}: Precoro {show(change.precoro)} | QuickBooks {show(change.quickbooks)}"
                         f" | last synced {show(change.baseline)}")
        elif action.kind == "create":
            lines.append(f"    {change.field}: {show(change.after)}")
        else:
            lines.append(f"    {change.field}: {show(change.before)} -> {show(change.after)}")
        if change.note:
            lines.append(f"      note: {change.note}")
    for candidate in action.candidates:
        lines.append(f"    candidate: QuickBooks {candidate['quickbooks_id']} {show(candidate['name'])}")
    if action.note:
        lines.append(f"    # {action.note}")
    if held is not None:
        lines.append(f"    → a run would hold it: {held}")
    return lines


def scope_text(plan: Plan) -> str:
    """What a plan covers, in words: "items", "suppliers and items"."""
    names = [LABEL_OF.get(section, section) for section in plan.entities]
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def summary_line(plan: Plan) -> str:
    by_kind, undecided = plan.kinds()
    if not plan.actions:
        # A partial plan knows nothing of the entities it did not read.
        return f"No changes to {scope_text(plan)}." if plan.partial else "No changes. Both sides are in sync."
    words = {"create": ("to create",) * 2, "update": ("to update",) * 2, "deactivate": ("to deactivate",) * 2,
             "reactivate": ("to reactivate",) * 2, "link": ("to link",) * 2, "unlink": ("to unlink",) * 2,
             "conflict": ("conflict", "conflicts"), "ambiguous": ("ambiguous match", "ambiguous matches"),
             "blocked": ("blocked",) * 2}
    parts = [f"{n:,} {words[k][n != 1]}" for k, n in by_kind.items()]
    text = "Plan: " + ", ".join(parts) + "."
    if undecided:
        text += f" {plural(undecided, 'conflict')} {'waits' if undecided == 1 else 'wait'} for a decision."
    return text


def decided_text(decision: str, conflicts: int) -> str:
    """"Took Precoro's side of 3 conflicts", "Skipped 1 conflict": a decision on several, for both faces."""
    taken = {"precoro": "Took Precoro's side of", "quickbooks": "Took QuickBooks' side of", "skip": "Skipped"}
    return f"{taken[decision]} {plural(conflicts, 'conflict')}"


def left_waiting(actions: Iterable[Action]) -> str:
    """What an approval chosen by filters left alone, and why: "2 conflicts without a side taken
    (qbsync decide), 1 ambiguous match (map by hand), 1 blocked write (mend the data first)"."""
    counts = Counter("undecided" if a.needs_decision else a.kind for a in actions)
    words = {"undecided": ("conflict without a side taken", "conflicts without a side taken", "qbsync decide"),
             "ambiguous": ("ambiguous match", "ambiguous matches", "map by hand"),
             "blocked": ("blocked write", "blocked writes", "mend the data first")}
    return ", ".join(f"{plural(counts[key], one, many)} ({how})" for key, (one, many, how) in words.items()
                     if counts[key])


def plan_text(plan: Plan, limit: int | None, chosen: list[Action] | None = None,
              holds: Mapping[str, str] | None = None) -> str:
    """The plan as text: the first `limit` of its actions, or of those `chosen` (`show --kind ...`;
    None: all), then what the whole plan comes to. `holds`: why a run would hold each (action id -> why)."""
    return "\n".join(plan_lines(plan, limit, chosen, holds=holds))


def plan_lines(plan: Plan, limit: int | None, chosen: list[Action] | None = None,
               every: Iterable[Action] | None = None, holds: Mapping[str, str] | None = None) -> Iterator[str]:
    """plan_text's lines, one at a time; `every`: the plan's actions whole, read as they are printed
    (`show --all` of a large plan holds a page of them, not all)."""
    holds = holds or {}
    if plan.partial:
        yield f"Partial plan {plan.id} ({scope_text(plan)} only) for QuickBooks company {plan.realm_id} ({plan.created_at})"
    else:
        yield f"Plan {plan.id} for QuickBooks company {plan.realm_id} ({plan.created_at})"
    if plan.unchanged:
        yield "Nothing changed in either company since this plan was made: it is still the one to review."
    yield ""
    entity = None
    listed = plan.actions if chosen is None else chosen
    shown = every if every is not None else listed if limit is None else listed[:limit]
    for action in shown:
        if action.entity != entity:
            entity = action.entity
            yield SECTION_OF.get(entity, entity) + ":"
        yield from ("  " + line for line in action_lines(action, holds.get(action.id)))
    if limit is not None and limit < len(listed):
        how = f"`qbsync show {plan.id} --all` prints" if chosen is None else "`--all` with the same choice prints"
        yield (f"... and {plural(len(listed) - limit, 'more action')}: {how} them all, `--json` too, and the "
               "TUI lists them")
    if chosen is not None:
        yield (f"{len(chosen):,} of {plural(len(plan.actions), 'action')} chosen." if chosen else
               f"None of its {plural(len(plan.actions), 'action')} is chosen.")
    if plan.actions:
        yield ""
    yield summary_line(plan)
    yield from (f"Note: {note}." for note in plan.notes)
    # A partial plan is never "the latest": every command that acts on it names it.
    named = f" --plan {plan.id}" if plan.partial else ""
    if plan.kinds()[1]:
        yield f"Decide conflicts with: qbsync decide ACTION_ID precoro|quickbooks|skip{named}"
    if any(a.executable for a in plan.actions):
        yield f"Apply with: qbsync apply {plan.id}"
    if plan.partial:
        yield ("A partial plan does not replace the latest full plan: a bare `qbsync apply`, `decide` or "
               "the TUI still takes that one.")


def write_plan_json(plan: Plan, out: TextIO, actions: Iterable[Action] | None = None,
                    holds: Mapping[str, str] | None = None, **more: Any) -> None:
    """The plan as `plan_json` prints it (`actions`: those, else the plan's own; `holds`: why a run would
    hold each, as its `would_hold`; `more`: other keys), written an action at a time: the whole JSON of a
    260,000-action plan (360 MB) is never held at once."""
    said = (a.to_json() for a in (plan.actions if actions is None else actions))
    if holds is not None:
        said = ({**action, "would_hold": holds.get(action["id"])} for action in said)
    write_json({**plan.to_json(()), "approvals": approvals_digest(plan.actions), **more}, "actions", said, out)


def write_json(head: Mapping[str, Any], key: str, items: Iterable[Any], out: TextIO) -> None:
    """`head` as JSON with `items` as the list under `key`, written an item at a time: the text is
    the one json.dumps(..., indent=2) gives for the whole, as every --json of the CLI prints."""
    marker = "\x00items\x00"
    text = json.dumps({**head, key: marker}, indent=2, ensure_ascii=False, default=str)
    before, after = text.split(json.dumps(marker), 1)
    out.write(before + "[")
    written = False
    for item in items:
        text = json.dumps(item, indent=2, ensure_ascii=False, default=str)
        out.write(("," if written else "") + "\n    " + text.replace("\n", "\n    "))
        written = True
    out.write(("\n  ]" if written else "]") + after + "\n")


def plan_json(plan: Plan, chosen: list[Action] | None = None) -> dict[str, Any]:
    """The plan as JSON; with `chosen`, only those actions, and `chosen`: how many (its summary is
    still the whole plan's)."""
    # `approvals`: what an apply of it would run, as one word (W1): `apply --yes --expect-approvals` holds a
    # script's apply to the plan it reviewed, as the question holds an operator's.
    approvals = {"approvals": approvals_digest(plan.actions)}
    return {**plan.to_json(), **approvals} if chosen is None else {**plan.to_json(chosen), **approvals,
                                                                   "chosen": len(chosen)}


def report_text(report: ApplyReport) -> str:
    if report.already_applied:
        return f"{report.already_said()} `qbsync history` shows what it wrote; `qbsync plan` makes a new plan."
    out = []
    for result in report.results:
        if result.status == "skipped" and not result.reason:
            continue
        line = f"{result.status:8} {result.kind:10} {show(result.name)} id={result.id}"
        if result.reason:
            line += f"\n         {result.reason}"
        out.append(line)
    for told in report.attachments:  # D8: a document's files, each said (none fails its document)
        out.append(f"{told['status']:8} file       {show(told['file'])}" + (f"\n         {told['reason']}"
                                                                          if told["reason"] else ""))
    counts = report.counts()
    if not any(status != "skipped" for status in counts):
        if not report.attachments:
            out.append("Nothing to apply.")
        return "\n".join(out)
    out.append("")
    out.append("Apply: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) + ".")
    if report.stopped:
        out.append(f"Stopped early: {report.stopped}")
    return "\n".join(out)


PLAN_COLUMNS = ("plan_id", "action_id", "entity", "kind", "name", "precoro_id", "quickbooks_id", "writes", "approved",
                "decision", "applies", "field", "before", "after", "precoro", "quickbooks", "last_synced", "field_note",
                "note")


def shown_path(path: str | Path) -> str:
    """The path as the operator knows it: relative to where qbsync was started, when inside it."""
    path = Path(path)
    try:
        return os.path.relpath(path) if path.is_absolute() and path.resolve().is_relative_to(Path.cwd()) else str(path)
    except (OSError, ValueError):
        return str(path)


def no_plan_said(status: Mapping[str, Any] | None) -> str:
    """What to do while there is no plan (the Overview and the status line): a plan reads both
    sides, so a side not connected yet comes first; `r` would only fail with its message."""
    connections = (status or {}).get("connections") or {}
    waiting = [SIDE_NAMES[side] for side in ("quickbooks", "precoro")
               if (connections.get(side) or {}).get("connected") is False]
    if waiting:
        return f"Connect {' and '.join(waiting)} first (in a shell: its card on the Overview says how); then r plans."
    return "No plan yet: r makes one."


def no_rules_file(path: str | Path) -> str:
    """What the first thing a new operator meets outside the folder of their rules file says."""
    return (f"no rules file {path} in {Path.cwd()}: run qbsync in the folder that holds it, name it with "
            f"--rules PATH, or write a commented start with `qbsync init{rules_option(path)}`")


def rules_option(path: str | Path) -> str:
    """` --rules PATH` for a command line qbsync suggests, or nothing for the default ./rules.yaml."""
    return "" if str(path) == "rules.yaml" else f" --rules {shlex.quote(str(path))}"


def plan_csv(plan_id: str, actions: Iterable[Action], out: TextIO) -> int:
    """A plan's actions as CSV (`qbsync show --csv`), a row per field an action changes (one row for
    an action that changes none): the plan it is of (a sign-off names what it signed), what it is,
    the side it writes, whether it is approved or decided and so whether the next apply carries it
    out, and the field's values: before and after; for a conflict each side's and the last synced one.
    Returns the rows written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PLAN_COLUMNS)
    rows = 0
    for action in actions:
        head = [plan_id, action.id, action.entity, action.kind, action.name, action.precoro_id, action.quickbooks_id,
                action.write_target, "yes" if action.approved else "no", action.decision,
                "yes" if action.executable else "no"]
        for change in action.changes or [None]:
            values = ([None] * 7 + [action.note] if change is None else
                      [change.field, change.before, change.after, change.precoro, change.quickbooks, change.baseline,
                       change.note, action.note])
            writer.writerow([_inert(_cell(value)) for value in head + values])
            rows += 1
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "; ".join(_cell(each) for each in value)
    if isinstance(value, Mapping):
        return json.dumps(dict(value), ensure_ascii=False, default=str)
    return str(value)


HISTORY_COLUMNS = ("at", "who", "status", "kind", "entity", "target", "name", "precoro_id", "quickbooks_id",
                   "plan_id", "action_id", "reason")


def history_csv(rows: Iterable[dict], out: TextIO) -> None:
    """The audit as CSV (`qbsync history --csv`): HISTORY_COLUMNS, then `changes`, each changed field
    as "name: before -> after" on a line of its own within the cell."""
    writer = csv.writer(out)
    writer.writerow([*HISTORY_COLUMNS, "changes"])
    for row in rows:
        before, after = row.get("before") or {}, row.get("after") or {}
        changes = "\n".join(f"{name}: {show(before.get(name))} -> {show(after.get(name))}"
                            for name in sorted(set(before) | set(after)))
        cells = ["" if row.get(column) is None else str(row[column]) for column in HISTORY_COLUMNS]
        writer.writerow([_inert(cell) for cell in [*cells, changes]])


def _inert(cell: str) -> str:
    """A cell a spreadsheet shows as text, never runs: a supplier named "=HYPERLINK(...)" in someone's
    books must not become a formula in the bookkeeper's (OWASP's CSV injection)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def history_text(rows: Iterable[dict], asked: Mapping[str, str] | None = None, total: int = 0) -> str:
    """The audit, newest first. `asked`/`total`: the filters asked for (record, plan, status, since),
    and how many entries there are in all, so that an empty answer says which of the two it means."""
    out = []
    for row in rows:
        out.append(f"{row['at']} {row['who']} {row['status']:8} {row['kind']:10} {row['entity']} {show(row['name'])}"
                   f" precoro={row['precoro_id'] or '-'} quickbooks={row['quickbooks_id'] or '-'} plan={row['plan_id']}")
        if row.get("reason"):
            out.append(f"    {row['reason']}")
        after = row.get("after") or {}
        before = row.get("before") or {}
        for name in sorted(set(before) | set(after)):
            out.append(f"    {name}: {show(before.get(name))} -> {show(after.get(name))}")
    if out:
        return "\n".join(out)
    if asked and total:
        what = {"record": "touched a record matching {!r} (its Precoro or QuickBooks id, or a part of its name)",
                "plan": "belongs to plan {}", "status": "ended {}", "since": "was recorded on {} (UTC) or later",
                "until": "was recorded on {} (UTC) or earlier", "entity": "is of {}", "kind": "is of kind {}"}
        return (f"No applied action {' and '.join(what[name].format(value) for name, value in asked.items())}; "
                f"the history holds {plural(total, 'entry', 'entries')}: `qbsync history` lists them.")
    return "Nothing has been applied yet."


def mapping_file_said(refused: int, already: int, left_empty: int) -> str:
    """The tally of a file of pairs mapped by hand, beside the plan it made."""
    parts = [f"{plural(refused, 'row')} refused" if refused else "no row refused"]
    if already:
        parts.append(f"{plural(already, 'row')} mapped as asked already")
    if left_empty:
        parts.append(f"{plural(left_empty, 'row')} with no quickbooks_id left out")
    return "; ".join(parts) + "."


def signoff_text(done: SignOff, name: str) -> str:
    """What `approve --from FILE` recorded of a signed-off plan, and what comes next."""
    parts = [f"{plural(len(done.approved), 'action')} approved", f"{plural(len(done.skipped), 'action')} skipped"]
    for decision, conflicts in done.decided.items():
        parts.append(f"{plural(len(conflicts), 'conflict')} decided: {decision}")
    parts.append(f"{plural(done.as_they_were, 'action')} as the plan had {'it' if done.as_they_were == 1 else 'them'}")
    said = f"Signed off plan {done.plan_id} from {name}: " + ", ".join(parts)
    if done.refused:
        said += f"; {plural(len(done.refused), 'row')} refused (above)"
    return said + f".\nWhat the next apply carries out: qbsync show {done.plan_id} (--csv); apply with: " \
                  f"qbsync apply {done.plan_id}"


# What `items unmapped --csv` writes: the operator fills in quickbooks_id (or copies the suggestion),
# and `items map --from FILE` reads it back (engine.mapping.read_mapping_file).
UNMAPPED_COLUMNS = ("precoro_id", "name", "sku", "price", "quickbooks_id", "suggested_id", "suggested_name", "score")


def unmapped_csv(items: Iterable[dict], out: TextIO) -> int:
    """The Not-mapped list as CSV: one row per Precoro item, its best candidate beside an empty
    quickbooks_id. Returns the rows written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(UNMAPPED_COLUMNS)
    written = 0
    for item in items:
        best = item["candidates"][0] if item["candidates"] else {}
        # An item the latest plan links (`--all`) has that QuickBooks item filled in: the same pair, mapped.
        planned = (item.get("planned") or {}).get("quickbooks_id", "")
        cells = [item["precoro_id"], item["name"], item["sku"], item["price"], planned, best.get("quickbooks_id"),
                 best.get("name"), f"{best['score']:.3f}" if best else None]
        writer.writerow([_inert(_cell(cell)) for cell in cells])
        written += 1
    return written


def planned_links_said(planned: list[dict]) -> str:
    """What `items unmapped` left out: the items the latest plan links, mapped once it is applied."""
    plan_id = planned[0]["planned"]["plan_id"]
    one = len(planned) == 1
    return (f"{plural(len(planned), 'more item')} not mapped yet {'is' if one else 'are'} linked by plan {plan_id}: "
            f"applying it maps {'it' if one else 'them'} (--all lists {'it' if one else 'them'} too)")


def unmapped_text(items: list[dict], planned: list[dict] = ()) -> str:
    """The Not-mapped list; `planned`: the items left out of it because the latest plan links them."""
    if not items:
        return planned_links_said(planned) if planned else "Every Precoro item is mapped."
    out = []
    for item in items:
        flags = " (free of charge)" if item["free_of_charge"] else ""
        out.append(f"Precoro {item['precoro_id']} {show(item['name'])} sku={show(item['sku'])} price={show(item['price'])}{flags}")
        if item.get("planned"):
            planned = item["planned"]
            out.append(f"    plan {planned['plan_id']} links it to QuickBooks {planned['quickbooks_id']}")
            continue
        for c in item["candidates"]:
            out.append(f"    {c['score']:.2f}  QuickBooks {c['quickbooks_id']} {show(c['name'])}  ({', '.join(c['reasons'])})")
        if not item["candidates"]:
            out.append("    no candidate")
    out.append("")
    out.append(f"{len(items):,} not mapped. Map one with: qbsync items map PRECORO_ID QUICKBOOKS_ID; many: "
               "qbsync items unmapped --csv > map.csv, fill in quickbooks_id, then qbsync items map --from map.csv")
    if planned:
        out.append(planned_links_said(planned))
    return "\n".join(out)


def explained_text(said: Mapping[str, Any]) -> str:
    """`qbsync explain` as text: the record on each side, its link, its fields side by side, the
    latest plan's actions on it with what became of them, and its latest history."""
    as_of = " (read now)" if said.get("live") else f" (as read {minute(said['as_of'])} UTC)" if said.get("as_of") else ""
    out = [f"{said['label']} {show(said['name'] or '(no name)')}{as_of}"]
    gone = "not found: deleted, or merged away" if said.get("live") else \
        "not in the copy the last plan read: the next plan reads it again"
    for side, record in said["records"].items():
        if record is None:
            continue
        facts = [("active" if record["active"] else "inactive"), *record["currencies"]] if record["found"] else \
            [gone] if record["found"] is False else []
        if record.get("updated_at"):
            facts.append(f"updated {minute(record['updated_at'])}")
        if record.get("written_since"):
            facts.append(f"written by qbsync {minute(record['written_since'])} UTC, after that read"
                         + (" (the values below are from before)" if record["found"] else ""))
        out.append(f"  {SIDE_NAMES[side] + ' ' + record['id']:<17}{' · '.join(facts)}".rstrip())
    link = said["link"]
    if link:
        out.append(f"  {'linked':<17}since {minute(link['since'])} UTC ({link['how']})")
    elif all(said["records"].values()):
        out.append(f"  {'not linked':<17}the latest plan proposes what follows")
    else:
        out.append(f"  {'not linked':<17}no {SIDE_NAMES['quickbooks' if said['records']['precoro'] else 'precoro']} "
                   f"{said['label']} is linked to it")
    for held in said["held_back"]:
        out.append(f"  {'held back':<17}{SIDE_NAMES[held['side']]} {held['record_id']} is not created again on its own: "
                   f"{held['reason']}" + (f" (since {minute(held['since'])} UTC)" if held.get("since") else ""))
    read = [side for side, record in said["records"].items() if record and record["found"]]
    if said["fields"] and len(read) == 2:
        out.append("  fields (Precoro | QuickBooks | last synced; ≠: the two sides differ):")
        for field in said["fields"]:
            mark = "≠ " if field["agree"] is False else "  "
            out.append(f"    {mark}{field['field']}: {_named(field, 'precoro')} | {_named(field, 'quickbooks')} | "
                       f"{_named(field, 'last_synced')}   ({_syncs(field)})")
    elif said["fields"] and read:
        out.append(f"  fields ({SIDE_NAMES[read[0]]}):")
        out += [f"      {field['field']}: {_named(field, read[0])}   ({_syncs(field)})" for field in said["fields"]]
    plan = said["plan"]
    if plan is None:
        out.append(f"  no plan has covered {LABEL_OF.get(said['entity'], said['entity'])} yet: `qbsync plan` makes one")
    else:
        made = f"latest plan {plan['id']} ({plan['state']}, made {minute(plan['created_at'])} UTC)"
        if not plan["actions"]:
            why = ("nothing to link, create or fix" if not link else "the two sides agreed"
                   if said.get("planned") == "pairs" else "sent already, and not changed since")
            out.append(f"  {made}: nothing for it ({why})")
        else:
            out.append(f"  {made}:")
        for entry in plan["actions"]:
            action = Action.from_json({k: v for k, v in entry.items() if k not in ("outcome", "unattended")})
            out += ["    " + line for line in action_lines(action)]
            after = []
            if entry.get("outcome"):
                after.append(f"{entry['outcome']['status']}" + (f": {entry['outcome']['reason']}"
                                                                 if entry["outcome"].get("reason") else ""))
            run = entry.get("unattended")
            if run:  # a held blocked record's reason ends with its note, shown just above
                reason = run["reason"].removesuffix(f": {action.note}") if action.note else run["reason"]
                after.append("an unattended run would apply it" if run["apply"] else
                             f"an unattended run would hold it: {reason}" if run.get("held", True) else
                             f"an unattended run would leave it: {reason}")
            if after:
                out.append("        → " + " · ".join(after))
    if said["history"]:
        ref = next(record["id"] for record in said["records"].values() if record)
        out.append(f"  history (the latest {len(said['history'])}; `qbsync history --entity {said['entity']} "
                   f"--record {ref}` lists all):")
        out += ["    " + line for line in history_text(said["history"]).splitlines()]
    else:
        out.append("  history: nothing applied to it yet")
    return "\n".join(out)


def _syncs(field: Mapping[str, Any]) -> str:
    """Which way a field syncs, in words: "both ways", "to Precoro, when created only"."""
    return DIRECTION_SAID[field["direction"]] + ("" if field["updated"] else ", when created only")


def _named(field: Mapping[str, Any], which: str) -> str:
    """A field's value as `show` says it, with the name of the record a reference stands for."""
    value = field[which]
    name = (field.get("names") or {}).get(value) if isinstance(value, str) else None
    return show(value) + (f" ({name})" if name else "")

"""U2: whether an unattended run may apply an action without a person, from the action and the policy alone.

Pure: no I/O, no clock. `qbsync run` asks it of every action of a fresh plan; what it holds waits
for review (U3). The rules file declares what may go (`policy:`); what is always held is here,
because no policy should be able to let it through: a conflict needs someone to pick a side, an
unlink or a deactivation loses something, an ambiguous or blocked record needs a fix by hand.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from rules.model import PolicyRule, Rules

from . import bulk
from .entities import BY_KIND
from .plan import EXECUTABLE, WHOLE_TOTAL, Action, FieldChange, LinkFacts, short_name

ALWAYS_HELD = {
    "conflict": "a conflict: both sides changed it; someone picks a side",
    "unlink": "an unlink: the two records stop being kept in sync",
    "deactivate": "a deactivation",
    "reactivate": "a reactivation",
    "ambiguous": "several candidates match: map it by hand",
    "blocked": "cannot be synced as it is",
}
# What is always held of a document already in the books (D6, D7): it changes what was booked.
DOCUMENT_HELD = {"update": "a revision of a document in the books",
                 "deactivate": "a cancellation of a document in the books"}
# What decides a new document (policy.documents_up_to): its total, its currency, and a split-cost
# part's whole invoice.
JUDGED_DOCUMENT_FIELDS = ("total", "currency", WHOLE_TOTAL)
# Links qbsync is sure of: equal match keys, or a record qbsync itself created (its origin).
EXACT_LINKS = frozenset({"matched", "origin"})


BRAKED_KINDS = frozenset({"update", "deactivate", "conflict"})


def braked(actions: Iterable[Action], limit: Any, count_links: Callable[[str], int]) -> dict[str, tuple[int, int]]:
    """The sections whose executable actions the safety brake stops: section -> (records changed,
    records linked). Shared by apply (which refuses) and an unattended run (which holds them, U2)."""
    touched: dict[str, set[str]] = {}
    for action in actions:
        if action.executable and action.kind in BRAKED_KINDS and action.precoro_id:
            touched.setdefault(action.entity, set()).add(action.precoro_id)
    found = {}
    for entity, records in touched.items():
        section = BY_KIND[entity].section
        linked = count_links(section)
        if linked >= limit.min_linked and len(records) > limit.max_change_share * linked:
            found[section] = (len(records), linked)
    return found


@dataclass(frozen=True)
class Verdict:
    """Apply it now (`apply`), or hold it for review, saying why."""

    apply: bool
    reason: str = ""


APPLY = Verdict(True)


def verdict(action: Action, policy: PolicyRule) -> Verdict:
    """What the policy says of one action, on its own (dependencies and the brake: `verdicts`)."""
    not_approved = Verdict(False, "not approved in the plan" + (f" ({action.note})" if action.note else ""))
    if action.kind == "conflict" and action.decision in ("precoro", "quickbooks"):
        # A person picked the side already (decisions come from no one else); unapproved, the same
        # write failed before (W9).
        return APPLY if action.approved else not_approved
    if action.kind == "conflict" and action.decision == "skip":
        return Verdict(False, "skipped by the operator")
    spec = BY_KIND[action.entity]
    if spec.planned == "documents" and action.kind in DOCUMENT_HELD:
        # No policy key lets these go; the plan's note says which change (and a failure before, W9).
        return Verdict(False, f"{DOCUMENT_HELD[action.kind]} ({action.note})")
    if action.kind in ALWAYS_HELD:
        reason = ALWAYS_HELD[action.kind]
        # A blocked record's note says what to fix; an unlink's, why (a payment voided in QuickBooks, D9).
        return Verdict(False, f"{reason}: {action.note}" if action.kind in ("blocked", "unlink") and action.note else reason)
    if not action.approved:  # W9: the same write failed before; or the operator skipped it
        return not_approved
    if action.kind == "link":
        how = action.link.how if action.link else ""
        if policy.links == "exact" and how in EXACT_LINKS:
            return APPLY
        return Verdict(False, f"a link made by {how or 'hand'}" if policy.links == "exact" else "links are held (policy.links: none)")
    if action.kind == "create" and spec.planned == "documents":
        return _document_verdict(action, policy.documents_up_to)
    if action.kind == "create":
        if spec.section in policy.creates:
            return APPLY
        return Verdict(False, f"a new {spec.label} (policy.creates does not list {spec.section})")
    if action.kind == "update":
        allowed = policy.updates.get(spec.section, frozenset())
        others = sorted({c.field for c in action.changes} - allowed)
        if not others:
            return APPLY
        return Verdict(False, f"changes {', '.join(others)} (not in policy.updates.{spec.section})")
    return Verdict(False, f"a {action.kind}")


def _document_verdict(action: Action, limit: float | Mapping[str, float] | None) -> Verdict:
    """A new document goes when its total is at most the limit; a limit per currency holds one in
    any other currency (an amount in yen is not one in dinars)."""
    after = {c.field: c.after for c in action.changes if c.field in JUDGED_DOCUMENT_FIELDS}
    total, currency, whole = after.get("total"), after.get("currency"), after.get(WHOLE_TOTAL)
    by_whole = isinstance(whole, (int, float)) and isinstance(total, (int, float)) and whole > total
    if by_whole:
        total = whole  # a part of a split-cost invoice goes by the whole invoice's total
    if limit is None:
        return Verdict(False, "a document (policy.documents_up_to: null holds every one)")
    named = ""
    if isinstance(limit, Mapping):
        if currency not in limit:
            return Verdict(False, f"a document in {currency or 'no currency'} (policy.documents_up_to names "
                                  f"{', '.join(sorted(limit)) or 'no currency'})")
        limit, named = limit[currency], f".{currency}"
    if isinstance(total, (int, float)) and total <= limit:
        return APPLY
    shown = f"{total:,.2f}" if isinstance(total, (int, float)) else str(total)
    whole_said = "part of a split invoice " if by_whole else ""
    return Verdict(False, f"a document {whole_said}of {shown}{f' {currency}' if currency else ''}, over "
                          f"policy.documents_up_to{named} ({limit:,.2f})")


def _can_go(action: Action) -> bool:
    """Whether approving it is enough to apply it (a conflict also needs a side, an ambiguous or
    blocked record a fix): an approval that is not enough leaves it held."""
    return action.kind in EXECUTABLE and not action.needs_decision


def verdicts(actions: Iterable[Action], policy: PolicyRule, *, braked: Mapping[str, tuple[int, int]] | None = None,
             answers: Mapping[str, bool] | None = None) -> dict[str, Verdict]:
    """Every action's verdict: the operator's answer to it when there is one (`answers`: action id
    -> approved, from U3's held actions), else the policy's; the policy's is held when the safety
    brake stops its entity (`braked`: section -> (changed, linked), from `braked`); and any is held
    when it depends on a held action (applying it alone would only be skipped)."""
    actions = list(actions)
    answers = answers or {}
    out = {}
    for action in actions:
        if action.id in answers and (not answers[action.id] or _can_go(action)):
            out[action.id] = APPLY if answers[action.id] else Verdict(False, "skipped by the operator")
            continue
        out[action.id] = verdict(action, policy)
        section = BY_KIND[action.entity].section
        if out[action.id].apply and braked and section in braked and action.kind in BRAKED_KINDS:
            changed, linked = braked[section]
            out[action.id] = Verdict(False, f"the safety brake: this run would change {changed} of {linked} "
                                            f"linked {section}")
    by_id = {action.id: action for action in actions}
    changed = True
    while changed:  # dependencies may chain (a document on a supplier on a link)
        changed = False
        for action in actions:
            if not out[action.id].apply:
                continue
            waiting = next((d for d in action.depends_on if d in out and not out[d].apply), None)
            if waiting:
                first = by_id[waiting]
                out[action.id] = Verdict(False, f"waits for held action {waiting} ({BY_KIND[first.entity].label} "
                                                f"{first.kind} {short_name(first.name)!r})")
                changed = True
    return out


def fingerprint(action: Action) -> str:
    """What an action proposes (not when, nor on which versions): held again with the same
    fingerprint, it is the same question and keeps the operator's answer."""
    proposal = [action.kind, action.target, [c.to_json() for c in action.changes], action.candidates]
    return hashlib.sha1(bulk.dumps(proposal, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Judged:
    """What an unattended run makes of a plan's actions (`judge`)."""

    verdicts: dict[str, Verdict]  # every action's, by id
    held_before: dict[str, Mapping[str, Any]]  # the held rows of earlier runs, by action id
    prints: dict[str, str]  # the fingerprints of the actions held before
    answers: dict[str, bool]  # the operator's answers: to those while they propose the same thing; skips in the plan

    def holds(self, action: Action) -> bool:
        """Whether a run leaves it waiting for a person (not what the operator skipped)."""
        return not (self.verdicts[action.id].apply or self.answers.get(action.id) is False
                    or action.decision == "skip")


def judged_part(action: Action) -> Action:
    """What `judge` reads of an action, and no more: judging a saved plan of 260,000 actions holds
    these, not the whole actions (their values, requests and baselines), which `fingerprint` needs
    only of the few held before (`judge`'s `prints`)."""
    # A document's total and currency decide it (policy.documents_up_to); an update's changed fields; nothing
    # else of the changes is read.
    changes = ([FieldChange(c.field, after=c.after) for c in action.changes if c.field in JUDGED_DOCUMENT_FIELDS]
               if BY_KIND[action.entity].planned == "documents" else
               [FieldChange(c.field) for c in action.changes] if action.kind == "update" else [])
    # Its note only where a reason quotes it (a blocked record, an unlink, an unapproved write, a
    # document in the books).
    note = (action.note if action.kind in ("blocked", "unlink") or not action.approved
            or BY_KIND[action.entity].planned == "documents" else "")
    return Action(action.id, action.entity, action.kind, action.target, action.name, action.precoro_id,
                  action.quickbooks_id, changes=changes, note=note, depends_on=list(action.depends_on),
                  link=LinkFacts(action.link.how) if action.link else None, decision=action.decision,
                  approved=action.approved, unapproved_why=action.unapproved_why)


def judge(actions: list[Action], rules: Rules, held_before: Iterable[Mapping[str, Any]],
          count_links: Callable[[str], int] | None = None, prints: Mapping[str, str] | None = None) -> Judged:
    """Every action's verdict as `qbsync run` gives it: the operator's answer to an action held
    before (`held_before`: the state file's held rows) while it still proposes the same thing, or a
    skip in the plan itself; else the policy's, held when the safety brake stops its entity
    (`count_links(section)`: how many are linked; None leaves the brake aside) or when it waits for
    a held action. Sets each action's `approved` to its verdict (so `executable` agrees); a run
    saves them, a preview only says them. `prints`: the fingerprints of the actions held before,
    when `actions` are their judged_part."""
    rows = {row["action_id"]: row for row in held_before}
    prints = dict(prints) if prints is not None else {a.id: fingerprint(a) for a in actions if a.id in rows}
    answers = {aid: row["decision"] == "approved" for aid, row in rows.items()
               if row["decision"] and prints.get(aid) == row["fingerprint"]}
    # Unapproved in the plan, and not by the plan itself (`unapproved_why`: W9, D9): by a run's own
    # hold (held before), then the policy is asked again; else a person skipped it, and that is their
    # answer, as a skip of a held action is.
    for action in actions:
        if action.approved or action.unapproved_why is not None or action.id in answers:
            continue
        if action.id in rows:
            action.approved = True
        else:
            answers[action.id] = False
    asked = {a.id: a.approved for a in actions}
    said = verdicts(actions, rules.policy, answers=answers)
    _approve(actions, said)
    # The brake counts what the policy would let go (the approvals just set); the policy is then
    # asked again from the plan's own approvals, so that what it held keeps its own reason.
    stopped = braked(actions, rules.safety, count_links) if count_links is not None else {}
    if stopped:
        for action in actions:
            action.approved = asked[action.id]
        said = verdicts(actions, rules.policy, braked=stopped, answers=answers)
        _approve(actions, said)
    return Judged(said, rows, prints, answers)


def _approve(actions: Iterable[Action], said: Mapping[str, Verdict]) -> None:
    for action in actions:
        action.approved = said[action.id].apply

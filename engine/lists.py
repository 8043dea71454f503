"""Lists, QuickBooks -> Precoro (L1-L3): accounts, classes, locations, taxes and terms as Precoro options.

Pure like reconcile. Each active QuickBooks record becomes a Precoro option (an item or document
custom-field option, a tax, a payment term) carrying the QuickBooks id as `externalId`; a renamed
record renames its option. Links are kept per QuickBooks company in the state store, so
reconnecting the same company finds every option it integrated (L2), while another company starts
with none (L3): its records are matched to existing options by name, or created.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from .entities import CHART_OF_ACCOUNTS, TAXES, TERMS, EntityKind
from .plan import Action, FieldChange, action_id



# Accounts a purchase line can be booked on; receivables, payables, income and equity are not.
_NOT_FOR_PURCHASES = {"Accounts Payable", "Accounts Receivable", "Income", "Other Income", "Equity"}


def quickbooks_name(raw: Mapping[str, Any]) -> str:
    return str(raw.get("FullyQualifiedName") or raw.get("Name") or "")


def wanted(kind: EntityKind, raw: Mapping[str, Any]) -> bool:
    if raw.get("Active") is False:
        return False
    return not (kind is CHART_OF_ACCOUNTS and raw.get("AccountType") in _NOT_FOR_PURCHASES)


def precoro_fields(kind: EntityKind, raw: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": quickbooks_name(raw)}
    if kind is CHART_OF_ACCOUNTS and raw.get("AcctNum"):
        fields["code"] = raw["AcctNum"]
    if kind is TAXES:
        fields["percent"] = 0  # the rate lives on TaxRate; Precoro's percent is informative here
    if kind is TERMS:
        fields["creditPeriodDays"] = int(raw.get("DueDays") or 0)
    return fields


def plan_list(kind: EntityKind, quickbooks: Iterable[Mapping[str, Any]], options: Iterable[Mapping[str, Any]],
              links: Mapping[str, str], collection: str | None) -> list[Action]:
    """Actions that make Precoro's options mirror one QuickBooks list.

    `links` maps Precoro option id -> QuickBooks id for this company; `collection` is where the
    options are written (None when Precoro lacks the custom field they belong to).
    """
    if collection is None:
        return [Action(id=action_id(kind.kind, "blocked", None, None, None), entity=kind.kind, kind="blocked",
                       target=None, name=kind.custom_field or kind.section,
                       note=f"Precoro has no custom field named {kind.custom_field!r}: create it in Precoro, then plan again")]
    options = {str(o["id"]): o for o in options}
    linked = {qid: pid for pid, qid in links.items()}
    by_name: dict[str, str] = {}
    for pid, option in options.items():
        if pid not in links:
            by_name.setdefault(str(option.get("name") or "").strip().casefold(), pid)
    quickbooks = list(quickbooks)
    present = {str(raw["Id"]) for raw in quickbooks}
    actions = []
    for pid, qid in sorted(links.items()):
        # W8: either side gone; an option whose account is gone stays in Precoro (documents may use it).
        if pid not in options:
            actions.append(_action(kind, "unlink", None, pid, qid, str(qid),
                                   "the Precoro option no longer exists: the link is removed and the option imported again"))
        elif qid not in present:
            actions.append(_action(kind, "unlink", None, pid, qid, str(options[pid].get("name") or pid),
                                   f"the QuickBooks {kind.quickbooks} {qid} no longer exists: the link is removed; "
                                   "the Precoro option stays"))
    for raw in sorted(quickbooks, key=lambda r: int(r["Id"]) if str(r["Id"]).isdigit() else 0):
        if not wanted(kind, raw):
            continue
        qid, name = str(raw["Id"]), quickbooks_name(raw)
        pid = linked.get(qid)
        if pid in options:
            current = str(options[pid].get("name") or "")
            if kind.renames and current != name:
                actions.append(_action(kind, "update", "precoro", pid, qid, name, "renamed in QuickBooks",
                                       [FieldChange("name", before=current, after=name, quickbooks=name, precoro=current)],
                                       {"path": f"{collection}/{pid}", "form": {"name": name}}))
            continue
        match = by_name.pop(name.strip().casefold(), None)
        if match is not None:
            actions.append(_action(kind, "link", None, match, qid, name, "same name", extra={"how": "matched"}))
            continue
        fields = precoro_fields(kind, raw)
        actions.append(_action(kind, "create", "precoro", None, qid, name, f"new in QuickBooks: a Precoro {kind.kind} option",
                               [FieldChange(k, after=v, quickbooks=v) for k, v in fields.items()],
                               {"path": collection, "form": fields}))
    return actions


def _action(kind: EntityKind, what: str, target: str | None, pid: str | None, qid: str | None, name: str, note: str,
            changes: list[FieldChange] | None = None, request: dict | None = None, extra: dict | None = None) -> Action:
    data = dict(extra or {})
    if request:
        data["precoro_request"] = request
    return Action(id=action_id(kind.kind, what, target, pid, qid), entity=kind.kind, kind=what, target=target,
                  name=name, precoro_id=pid, quickbooks_id=qid, changes=changes or [], note=note, extra=data)

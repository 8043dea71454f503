"""Item rules on top of the shared reconcile (I1-I10): QuickBooks leads, merges move links.

Items differ from suppliers in three ways, all configured in rules.yaml: their fields follow
QuickBooks (one-way, I2/I7), a free-of-charge Precoro item keeps its price (I7), and a QuickBooks
item that turns inactive is either merged (I10: the link moves) or deactivated (I9: unlinked).

How a merge is told from a deactivation, from what the API shows: QuickBooks merges by renaming
the duplicate to the survivor's name and making it inactive (the API then shows it inactive,
named "<survivor> (deleted)"). A plain deactivation keeps the item's own name. So a linked item
that is now inactive under a name that (a) differs from the name it had at the last sync and
(b) is the name of another, active item was merged into that item. The name is compared without
the " (deleted)" suffix, and case-insensitively as QuickBooks keeps item names unique that way.
"""

from __future__ import annotations

from typing import Any, Iterable

from rules.model import FieldRule, ItemRules
from rules.transforms import REFERENCE_TRANSFORMS

from .plan import Action, FieldChange, HoldFacts, LinkFacts
from .records import Record
from .reconcile import LinkState, Reconciler, SyncState, id_order, fit
from .references import References


def _name_key(value: Any) -> str:
    return str(value or "").strip().casefold()


class ItemReconciler(Reconciler):
    rules: ItemRules

    def __init__(self, spec: Any, rules: ItemRules, precoro: Iterable[Record], quickbooks: Iterable[Record],
                 state: SyncState, **options: Any) -> None:
        super().__init__(spec, rules, precoro, quickbooks, state, **options)
        everyone = {**self.quickbooks, **self.quiet_names}
        self.active_by_name = {_name_key(q.values.get("name")): q
                               for _, q in sorted(everyone.items(), key=id_order) if q.active}

    # -- hooks of the shared reconcile -----------------------------------------------------------

    def fields_for(self, p: Record) -> tuple[FieldRule, ...]:
        if self.rules.free_of_charge_keeps_price and p.raw.get("freeOfCharge"):
            return tuple(rule for rule in self.rules.fields if rule.name != "price")  # I7
        return self.rules.fields

    def writable_to_precoro(self, changes: list[FieldChange]) -> tuple[list[FieldChange], list[str]]:
        kept, notes = [], []
        for change in changes:
            rule = self.rules.field(change.field)
            problem = self.refs.missing(rule.transform, change.after) if rule.transform in REFERENCE_TRANSFORMS else None
            if problem:
                notes.append(f"{change.field} not written: {problem}")
            else:
                kept.append(change)
        return kept, notes

    def reconcile_linked(self, p: Record, q: Record, link: LinkState, linked_q: set[str]) -> None:
        if q.active:
            self.reconcile_pair(p, q, link)
        else:
            self.inactive_in_quickbooks(p, q, link, linked_q)

    def before_matching(self, free_p: list[Record], linked_q: set[str]) -> tuple[list[Record], set[str]]:
        """I9: an item unlinked because its QuickBooks item went inactive is linked again once it is active."""
        still_free, taken = [], set()
        for p in free_p:
            hold = self.state.holds.get(p.id)
            q = self.quickbooks.get(hold.other_id) if hold and hold.reason == "quickbooks_inactive" and hold.other_id else None
            if q is not None and q.active and q.id not in linked_q and q.id not in taken:
                link = self.add_action("link", None, p, q, note="active again in QuickBooks: linked again (I9)",
                                       link=LinkFacts("reactivated"))
                self.propose_new_pair(p, q, link)
                taken.add(q.id)
            else:
                still_free.append(p)
        still_free, by_origin = super().before_matching(still_free, linked_q | taken)
        return still_free, taken | by_origin

    # -- item behaviours ---------------------------------------------------------------------------

    def inactive_in_quickbooks(self, p: Record, q: Record, link: LinkState, linked_q: set[str]) -> None:
        """`linked_q` holds every linked QuickBooks item, and the survivors links move to in this plan."""
        survivor = self.merge_survivor(q, link)
        if survivor is not None and self.rules.when_merged == "move_link":
            if survivor.id in linked_q:
                self.add_action("unlink", None, p, q, note=f"merged in QuickBooks into {survivor.label!r}, which is already "
                             "linked to another Precoro item: the link is removed (I10)")
                return
            linked_q.add(survivor.id)
            move = self.add_action("link", None, p, survivor, link=LinkFacts("merged"),
                                   note=f"merged in QuickBooks ({q.label!r}, item {q.id}, into item {survivor.id}): the link "
                                   "moves to the surviving item; documents keep item lines (I10)")
            self.propose_new_pair(p, survivor, move)
            return
        policy = self.rules.when_inactive.in_quickbooks
        if policy == "unlink":
            self.add_action("unlink", None, p, q, hold=HoldFacts("quickbooks_inactive", "precoro", q.id),
                            note="inactive in QuickBooks: the Precoro item is Not mapped until the item is active again (I9)")
        elif policy == "deactivate_in_precoro":
            self.add_action("deactivate", "precoro", p, q, note="inactive in QuickBooks")

    def merge_survivor(self, q: Record, link: LinkState) -> Record | None:
        name = _name_key(q.values.get("name"))
        last_synced = link.baseline.get("name", {}).get("quickbooks")
        if last_synced is not None and _name_key(last_synced) == name:
            return None  # kept its own name: a plain deactivation (I9)
        survivor = self.active_by_name.get(name)
        return survivor if survivor is not None and survivor.id != q.id else None

    def propose_mapping(self, p: Record, q: Record) -> None:
        """A manual mapping (I4-I6): equal names take the price; different names import the listed fields."""
        same_name = _name_key(p.values.get("name")) == _name_key(q.values.get("name"))
        wanted = self.rules.mapping.same_name if same_name else self.rules.mapping.different_name
        link = self.add_action("link", None, p, q, link=LinkFacts("manual"),
                               note="mapped by hand" + ("" if same_name else "; names stay until the next Sync Items (I6)"))
        allowed = {rule.name for rule in self.fields_for(p)}
        changes = []
        for name in wanted:
            if name not in allowed or not self.rules.has_field(name):
                continue
            rule = self.rules.field(name)
            after, note = fit(q.values.get(name), rule, "precoro")
            if after != p.values.get(name):
                changes.append(FieldChange(name, before=p.values.get(name), after=after, precoro=p.values.get(name),
                                           quickbooks=q.values.get(name), note=note))
        changes, notes = self.writable_to_precoro(changes)
        link.link.active = {"precoro": p.active, "quickbooks": q.active}
        if changes:
            self.add_action("update", "precoro", p, q, changes=changes, depends_on=[link.id], note="; ".join(notes))


def mapping_actions(spec: Any, rules: ItemRules, pairs: list[tuple[Record, Record]], refs: References) -> list[Action]:
    reconciler = ItemReconciler(spec, rules, [p for p, _ in pairs], [q for _, q in pairs], SyncState(), refs=refs)
    for p, q in pairs:
        reconciler.propose_mapping(p, q)
    return reconciler.out.actions

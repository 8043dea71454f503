"""The typed, frozen form of rules.yaml that the engine reads (built by `rules.load`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Literal, Mapping

Side = Literal["precoro", "quickbooks"]
SIDES: tuple[Side, Side] = ("precoro", "quickbooks")
SIDE_NAMES: dict[str, str] = {"precoro": "Precoro", "quickbooks": "QuickBooks"}  # how messages name the sides

Direction = Literal["both", "to_quickbooks", "to_precoro"]
ConflictPolicy = Literal["ask", "precoro_wins", "quickbooks_wins", "newest_wins"]
WhenInactiveInQuickBooks = Literal["unlink", "deactivate_in_precoro", "ignore"]
WhenInactiveInPrecoro = Literal["deactivate_in_quickbooks", "unlink", "ignore"]
WhenDeletedInQuickBooks = Literal["unlink", "recreate"]
WhenDeletedInPrecoro = Literal["unlink", "recreate", "deactivate_in_quickbooks"]


def other_side(side: Side) -> Side:
    return "quickbooks" if side == "precoro" else "precoro"


@dataclass(frozen=True)
class FieldRule:
    """How one field maps between the two systems.

    `precoro` and `quickbooks` are paths into the wire JSON of each side: dots for nesting
    (`BillAddr.City`), `[]` for "every element of this list" (`contacts[].email`). Precoro's
    `{data: [...]}` wrappers around embedded lists are skipped by the path (`contacts[]` reads
    `contacts.data`).
    """

    name: str
    precoro: str
    quickbooks: str
    direction: Direction = "both"
    conflict: ConflictPolicy | None = None  # None: the entity's policy
    transform: str | None = None  # a name from rules.transforms.TRANSFORMS
    max_length: dict[Side, int] = field(default_factory=dict)  # cut to fit when writing that side (I3)
    update: bool = True  # False: written when the record is created, never updated (e.g. currency)

    def path(self, side: Side) -> str:
        return self.precoro if side == "precoro" else self.quickbooks

    def writes_to(self, side: Side) -> bool:
        """Whether an update may flow into `side`."""
        if not self.update:
            return False
        if self.direction == "both":
            return True
        return self.direction == ("to_quickbooks" if side == "quickbooks" else "to_precoro")

    def policy(self, entity_policy: ConflictPolicy) -> ConflictPolicy:
        return self.conflict or entity_policy


@dataclass(frozen=True)
class MatchRule:
    """Which fields must be equal for two unlinked records to be linked (S7, I1)."""

    keys: tuple[str, ...]
    normalize: tuple[str, ...] = ("trim", "casefold")  # names from rules.transforms.NORMALIZERS


@dataclass(frozen=True)
class CreateRule:
    """Whether an unmatched record is created on the other side (S8)."""

    in_quickbooks: bool = True
    in_precoro: bool = True

    def allows(self, side: Side) -> bool:
        return self.in_quickbooks if side == "quickbooks" else self.in_precoro


@dataclass(frozen=True)
class InactiveRule:
    """What deactivation on one side does to the link and the other side (S4, S5, I9)."""

    in_quickbooks: WhenInactiveInQuickBooks = "unlink"
    in_precoro: WhenInactiveInPrecoro = "deactivate_in_quickbooks"


@dataclass(frozen=True)
class DeletedRule:
    """What follows when a linked record is gone from one side: deleted, merged away, unreadable (W8).

    The link is always dropped. `unlink` keeps the surviving record and never recreates it on its own
    (it can still be matched or mapped); `recreate` creates it again on the side it vanished from.
    """

    in_quickbooks: WhenDeletedInQuickBooks = "unlink"
    in_precoro: WhenDeletedInPrecoro = "unlink"


@dataclass(frozen=True)
class EntityRules:
    """Rules for one synced entity (suppliers, items, a list, a kind of document)."""

    entity: str  # the rules section name: "suppliers", "items", "chart_of_accounts", "invoices", ...
    enabled: bool
    match: MatchRule
    create: CreateRule
    conflict: ConflictPolicy
    when_inactive: InactiveRule
    fields: tuple[FieldRule, ...]  # enabled fields only, in file order
    when_deleted: DeletedRule = DeletedRule()

    def field(self, name: str) -> FieldRule:
        return self._by_name[name]

    def has_field(self, name: str) -> bool:
        return name in self._by_name

    @cached_property
    def _by_name(self) -> Mapping[str, FieldRule]:
        # Asked for per record and field while planning: a scan of `fields` adds up at 100,000 records.
        return {rule.name: rule for rule in self.fields}

    @cached_property
    def quickbooks_objects(self) -> frozenset[str]:
        """The QuickBooks objects the fields' paths go into (`BillAddr` of `BillAddr.City`); asked
        for per record read."""
        return frozenset(rule.quickbooks.split(".", 1)[0] for rule in self.fields if "." in rule.quickbooks)


@dataclass(frozen=True)
class ItemMappingRule:
    """What mapping an item by hand imports from QuickBooks (I5, I6)."""

    same_name: tuple[str, ...] = ("price",)
    different_name: tuple[str, ...] = ("sku", "description", "price", "supplier", "chart_of_accounts")


@dataclass(frozen=True)
class ItemRules(EntityRules):
    """Suppliers' rules plus the item-only behaviours (I1-I10)."""

    names_from: Side = "quickbooks"  # I2: the linked Precoro item takes the QuickBooks name
    mapping: ItemMappingRule = ItemMappingRule()
    free_of_charge_keeps_price: bool = True  # I7
    when_merged: Literal["move_link", "unlink"] = "move_link"  # I10


@dataclass(frozen=True)
class DocumentRules(EntityRules):
    """A kind of document's rules (D1-D7): its header `fields`, plus its lines and its life after sending.

    `lines` map each Precoro line to its QuickBooks line's detail (`ClassRef.value`, `TaxCodeRef.value`);
    a line with neither a linked item nor an account goes to `default_account` (a QuickBooks account
    name), or is blocked alone when there is none (D5). `revisions`: an edited document updates its
    QuickBooks one (D6). `when_cancelled`: what its QuickBooks document becomes (D7). `attachments`:
    its Precoro files go to QuickBooks after it is created; `split_cost`: a split-cost invoice goes
    once, as its parent (the whole amount) or as its parts (D8).
    """

    lines: tuple[FieldRule, ...] = ()
    default_account: str | None = None
    revisions: bool = True
    when_cancelled: Literal["void", "delete", "ignore"] = "void"
    attachments: bool = False
    split_cost: Literal["parent", "children"] = "parent"


@dataclass(frozen=True)
class QuickBooksConnection:
    environment: Literal["local", "sandbox", "production"] = "local"
    base_url: str | None = None  # the /v3 root; derived from environment when absent
    realm_id: str | None = None
    token_url: str | None = None


@dataclass(frozen=True)
class PrecoroConnection:
    environment: Literal["local", "com", "us"] = "local"
    base_url: str | None = None


@dataclass(frozen=True)
class Connections:
    quickbooks: QuickBooksConnection = QuickBooksConnection()
    precoro: PrecoroConnection = PrecoroConnection()


@dataclass(frozen=True)
class SafetyRule:
    """Refuse an apply that updates or deactivates more than this share of an entity's links."""

    max_change_share: float = 0.5
    min_linked: int = 20


@dataclass(frozen=True)
class PolicyRule:
    """U2: what an unattended run applies without a person (the rest is held for review)."""

    links: Literal["exact", "none"] = "exact"
    creates: frozenset[str] = frozenset()  # entity sections whose new records go without a person
    updates: Mapping[str, frozenset[str]] = field(default_factory=dict)  # section -> fields an update may change
    # None: every document is held; per currency (ISO code -> amount): one in another currency is held.
    documents_up_to: float | Mapping[str, float] | None = None


@dataclass(frozen=True)
class Rules:
    """A whole, valid rules file."""

    version: int
    connections: Connections
    entities: Mapping[str, EntityRules]  # by section: suppliers, items, chart_of_accounts, ..., invoices
    source: str  # the path it was loaded from, for messages
    digest: str  # sha256 of the file's bytes: a plan made under other rules is refused
    safety: SafetyRule = SafetyRule()
    policy: PolicyRule = PolicyRule()
    # D4: documents approved before this day are not sent (None: from the day QuickBooks was connected).
    documents_since: date | None = None

    def entity(self, section: str) -> EntityRules:
        return self.entities[section]

    @property
    def suppliers(self) -> EntityRules:
        return self.entities["suppliers"]

    @property
    def items(self) -> ItemRules:
        return self.entities["items"]  # type: ignore[return-value]

"""Ranked QuickBooks candidates for an unmapped Precoro item (I4), fast enough for whole catalogues.

Scoring every pair of 10,000 unmapped items and 100,000 candidates is a billion comparisons, so
candidates are first gathered through an inverted index of name words (words shared by too many
names say little and are skipped) and equal SKUs. Their names are compared by `rapidfuzz` (in C):
casefolded words in sorted order, so a swapped word costs nothing and a dropped word or a typo a
little. Only the best few by name (and every equal SKU) get the full score: a finer name similarity,
an equal SKU, a close price and the same supplier.
"""

from __future__ import annotations

import heapq
import re
from operator import itemgetter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from rapidfuzz import fuzz, process

from .records import Record

_WORD = re.compile(r"\w+")
# A word found in more names than this does not narrow anything down.
COMMON_WORD_LIMIT = 2000
POOL_LIMIT = 400
# How many of the pool, best by name, get the full score, per suggestion asked for. The rest of the
# score (SKU, price, supplier) adds at most 0.4 to a name's 0.6, and equal SKUs are always scored.
SCORED_PER_SUGGESTION = 4


def _words(text: Any) -> list[str]:
    return [w for w in _WORD.findall(str(text or "").casefold()) if len(w) > 1]


def _key(text: Any) -> str:
    """A name as compared: its casefolded words, sorted (word order says little about an item)."""
    return " ".join(sorted(_WORD.findall(str(text or "").casefold())))


def _similarity(key: str, other: str, name: str, other_name: str) -> float:
    """How alike two names are, 0 to 1: the mean of two rapidfuzz ratios, of their sorted words (a
    typo costs a little, a swap nothing) and of the names as written (of two with the same words,
    the same order wins), and of the share of the item's words the other has (a word dropped from
    the item's name costs nothing there)."""
    words = set(key.split())
    shared = len(words & set(other.split())) / len(words) if words else 0.0
    return (fuzz.ratio(key, other) + fuzz.ratio(name, other_name)) / 300 + shared / 3


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


@dataclass(frozen=True)
class Suggestion:
    quickbooks_id: str
    name: str
    score: float
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"quickbooks_id": self.quickbooks_id, "name": self.name, "score": round(self.score, 3),
                "reasons": list(self.reasons)}


class CandidateIndex:
    """Active, unlinked QuickBooks items, indexed for suggestions."""

    def __init__(self, candidates: Iterable[Record]) -> None:
        self.records = list(candidates)
        self.names = [str(r.values.get("name") or "").casefold() for r in self.records]
        self.keys = [_key(name) for name in self.names]
        # Precomputed once: the full score runs for a few candidates of every unmapped item.
        self.skus = [str(r.values.get("sku") or "").strip().casefold() for r in self.records]
        self.prices = [_number(r.values.get("price")) for r in self.records]
        self.by_word: dict[str, list[int]] = {}
        self.by_sku: dict[str, list[int]] = {}
        for index, record in enumerate(self.records):
            for word in set(_words(record.values.get("name"))):
                self.by_word.setdefault(word, []).append(index)
            if self.skus[index]:
                self.by_sku.setdefault(self.skus[index], []).append(index)

    def suggest(self, item: Record, limit: int = 5) -> list[Suggestion]:
        pool: set[int] = set()
        words = sorted(set(_words(item.values.get("name"))), key=lambda w: len(self.by_word.get(w, ())))
        for word in words:  # the rarest words first: they narrow the pool the most
            postings = self.by_word.get(word, ())
            if len(postings) > COMMON_WORD_LIMIT and pool:
                break
            pool.update(postings[:COMMON_WORD_LIMIT])
            if len(pool) >= POOL_LIMIT:
                break
        sku = str(item.values.get("sku") or "").strip().casefold()
        same_sku = self.by_sku.get(sku, []) if sku else []
        indexes = list(pool)
        name = str(item.values.get("name") or "").casefold()
        key = _key(name)
        # itemgetter gathers the pool's names in C: a Python loop over them took half the time.
        names = itemgetter(*indexes)(self.keys) if len(indexes) > 1 else [self.keys[i] for i in indexes]
        nearest = [indexes[at] for _, _, at in process.extract(key, names, scorer=fuzz.ratio,
                                                                 limit=limit * SCORED_PER_SUGGESTION)]
        similarity = {index: _similarity(key, self.keys[index], name, self.names[index])
                      for index in (*nearest, *same_sku)}
        price = _number(item.values.get("price"))
        supplier = item.values.get("supplier")
        best = heapq.nlargest(limit, similarity, key=lambda i: (
            self._points(i, similarity[i], sku, price, supplier)[0], -i))
        scored = [self._suggestion(i, similarity[i], sku, price, supplier) for i in best]
        scored.sort(key=lambda s: (-s.score, s.name.casefold(), s.quickbooks_id))
        return scored

    def _points(self, index: int, similarity: float, sku: str, price: Decimal | None,
                supplier: Any) -> tuple[float, bool, bool, bool]:
        score = 0.6 * similarity
        same_sku = bool(sku) and sku == self.skus[index]
        if same_sku:
            score += 0.25
        close = False
        their_price = self.prices[index]
        if price is not None and their_price is not None and max(price, their_price) > 0:
            closeness = float(min(price, their_price) / max(price, their_price))
            if closeness >= 0.8:
                score += 0.1 * closeness
                close = True
        same_supplier = bool(supplier) and supplier == self.records[index].values.get("supplier")
        if same_supplier:
            score += 0.05
        return score, same_sku, close, same_supplier

    def _suggestion(self, index: int, similarity: float, sku: str, price: Decimal | None, supplier: Any) -> Suggestion:
        score, same_sku, close, same_supplier = self._points(index, similarity, sku, price, supplier)
        reasons = [f"name {similarity:.0%} alike"]
        reasons += [reason for reason, yes in (("same SKU", same_sku), ("similar price", close),
                                               ("same supplier", same_supplier)) if yes]
        candidate = self.records[index]
        return Suggestion(candidate.id, str(candidate.values.get("name") or ""), score, tuple(reasons))

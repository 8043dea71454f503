"""Ranked QuickBooks candidates for an unmapped Precoro item (I4), fast enough for whole catalogues.

Scoring every pair of 10,000 unmapped items and 100,000 candidates is a billion comparisons, so
candidates are first gathered through an inverted index of name words (words shared by too many
names say little and are skipped) and equal SKUs; only those are scored. The score mixes name
similarity (character trigrams), an equal SKU, a close price and the same supplier.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from .records import Record

_WORD = re.compile(r"[0-9a-z]+")
# A word found in more names than this does not narrow anything down.
COMMON_WORD_LIMIT = 2000
POOL_LIMIT = 400


def _words(text: Any) -> set[str]:
    return {w for w in _WORD.findall(str(text or "").casefold()) if len(w) > 1}


def _trigrams(text: Any) -> frozenset[str]:
    padded = f"  {str(text or '').casefold()} "
    return frozenset(padded[i:i + 3] for i in range(len(padded) - 2))


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
        self.grams = [_trigrams(r.values.get("name")) for r in self.records]
        # Precomputed once: scoring runs up to POOL_LIMIT times per unmapped item.
        self.skus = [str(r.values.get("sku") or "").strip().casefold() for r in self.records]
        self.prices = [_number(r.values.get("price")) for r in self.records]
        self.by_word: dict[str, list[int]] = {}
        self.by_sku: dict[str, list[int]] = {}
        for index, record in enumerate(self.records):
            for word in _words(record.values.get("name")):
                self.by_word.setdefault(word, []).append(index)
            sku = str(record.values.get("sku") or "").strip().casefold()
            if sku:
                self.by_sku.setdefault(sku, []).append(index)

    def suggest(self, item: Record, limit: int = 5) -> list[Suggestion]:
        pool: dict[int, int] = {}
        words = sorted(_words(item.values.get("name")), key=lambda w: len(self.by_word.get(w, ())))
        for word in words:
            postings = self.by_word.get(word, ())
            if len(postings) > COMMON_WORD_LIMIT and pool:
                break
            for index in postings[:COMMON_WORD_LIMIT]:
                pool[index] = pool.get(index, 0) + 1
            if len(pool) >= POOL_LIMIT:
                break
        sku = str(item.values.get("sku") or "").strip().casefold()
        for index in self.by_sku.get(sku, ()) if sku else ():
            pool[index] = pool.get(index, 0) + 1
        grams = _trigrams(item.values.get("name"))
        price = _number(item.values.get("price"))
        supplier = item.values.get("supplier")
        # Cheap scores for the whole pool; reasons and Suggestions only for the few that are shown.
        best = heapq.nlargest(limit, pool, key=lambda i: (self._points(i, grams, sku, price, supplier)[0],
                                                          -i))
        scored = [self._suggestion(i, grams, sku, price, supplier) for i in best]
        scored.sort(key=lambda s: (-s.score, s.name.casefold(), s.quickbooks_id))
        return scored

    def _points(self, index: int, grams: frozenset[str], sku: str, price: Decimal | None,
                supplier: Any) -> tuple[float, float, bool, bool, bool]:
        other = self.grams[index]
        shared = len(grams & other)
        total = len(grams) + len(other) - shared
        similarity = shared / total if total else 0.0
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
        return score, similarity, same_sku, close, same_supplier

    def _suggestion(self, index: int, grams: frozenset[str], sku: str, price: Decimal | None, supplier: Any) -> Suggestion:
        score, similarity, same_sku, close, same_supplier = self._points(index, grams, sku, price, supplier)
        reasons = [f"name {similarity:.0%} alike"]
        reasons += [reason for reason, yes in (("same SKU", same_sku), ("similar price", close),
                                               ("same supplier", same_supplier)) if yes]
        candidate = self.records[index]
        return Suggestion(candidate.id, str(candidate.values.get("name") or ""), score, tuple(reasons))

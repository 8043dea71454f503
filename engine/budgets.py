"""The services' published limits, and what an apply costs under them: said before it starts.

QuickBooks: 500 requests a minute and 40 batch calls a minute per company, 30 operations a batch.
Precoro (its documents disagree; the strictest reading): 1 request a second, 1,500 an hour, 3,000 a
day per API user, no batch writes. A first sync of 10,000 records therefore takes Precoro days,
whatever qbsync does: the operator should know that before typing "yes". Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from .clients import precoro_contract as contract

QUICKBOOKS_BATCH_SIZE = 30
QUICKBOOKS_BATCHES_PER_MINUTE = 40
QUICKBOOKS_IN_FLIGHT = 10  # concurrent requests per company
PRECORO_PER_SECOND = round(1 / contract.REQUEST_INTERVAL)
PRECORO_PER_HOUR = contract.PER_HOUR
PRECORO_PER_DAY = contract.PER_DAY
# Intuit's monthly cap of an app's reads ("CorePlus" calls) on the App Partner Program's free Builder
# tier, all its companies together; past it, every read is refused until the next month.
QUICKBOOKS_READS_A_MONTH = 500_000
# From this share of the month's reads on, a warning (the rest of the month may not fit).
READS_WARNED_FROM = 0.8


def month_reads_said(month: str, reads: int, by: str) -> str:
    """The month's QuickBooks reads `by` whom (a state file, a folder of companies), against an
    Intuit app's monthly reads, with `month_reads_warning` when near them."""
    warning = month_reads_warning(reads)
    return (f"QuickBooks reads in {month}: {reads:,} by {by} ({reads / QUICKBOOKS_READS_A_MONTH:.1%} of the "
            f"{QUICKBOOKS_READS_A_MONTH:,} an Intuit app may read a month on the Builder tier, all its companies "
            "together)." + (f" {warning}" if warning else ""))


def month_reads_warning(reads: int) -> str | None:
    """A warning when the month's QuickBooks reads so far (of every company one Intuit app serves)
    reach READS_WARNED_FROM of its QUICKBOOKS_READS_A_MONTH, else None."""
    if reads < READS_WARNED_FROM * QUICKBOOKS_READS_A_MONTH:
        return None
    return (f"Warning: that is {reads / QUICKBOOKS_READS_A_MONTH:.0%} of the month's reads: run less often, "
            "or move the app to a paid tier, before Intuit blocks its reads until the month ends.")


@dataclass(frozen=True)
class ApplyCost:
    """The calls an apply makes (at least: a supplier's contacts take a call each), and the least
    time the services' limits allow for them."""

    quickbooks_calls: int
    precoro_calls: int
    seconds: float

    def text(self) -> str:
        calls = []
        if self.quickbooks_calls:
            calls.append(f"{self.quickbooks_calls:,} QuickBooks call{'s' if self.quickbooks_calls != 1 else ''}")
        if self.precoro_calls:
            calls.append(f"{self.precoro_calls:,} Precoro call{'s' if self.precoro_calls != 1 else ''}")
        if not calls:
            return "no calls"
        said = f"at least {' and '.join(calls)}"
        if self.seconds >= 60:
            said += f"; under the services' limits at least {duration(self.seconds)}"
            if self.precoro_calls > PRECORO_PER_HOUR:
                said += (f" (Precoro allows {PRECORO_PER_HOUR:,} calls an hour and {PRECORO_PER_DAY:,} a day: "
                         "qbsync waits out the hourly limit and stops at the daily one, unless --until-done)")
        return said


def apply_cost(quickbooks_writes: int, precoro_writes: int, precoro_collections: int = 1,
               precoro_creates: int = 0) -> ApplyCost:
    """What writing these records costs: QuickBooks in batches, Precoro a call a record, one more
    per record created (its externalId is set by PATCH right after: precoro_contract), and one read
    per collection written (the staleness check)."""
    batches = math.ceil(quickbooks_writes / QUICKBOOKS_BATCH_SIZE)
    precoro = precoro_writes + precoro_creates + (precoro_collections if precoro_writes else 0)
    return ApplyCost(batches, precoro, quickbooks_seconds(batches) + precoro_seconds(precoro))


def quickbooks_seconds(batches: int) -> float:
    """The least time QuickBooks' 40 batches a minute allow (the first 40 go at once)."""
    return max(0, batches - QUICKBOOKS_BATCHES_PER_MINUTE) * 60 / QUICKBOOKS_BATCHES_PER_MINUTE


def precoro_seconds(calls: int) -> float:
    """The least time Precoro's limits allow: a call a second, each hour's and each day's calls capped."""
    if calls <= 0:
        return 0.0
    days, rest = divmod(calls - 1, PRECORO_PER_DAY)
    hours, rest = divmod(rest, PRECORO_PER_HOUR)
    return days * 86400 + hours * 3600 + (rest + 1) / PRECORO_PER_SECOND


def reading_left(sources: list[dict[str, Any]], resume_at: str | None) -> dict[str, Any]:
    """What a first read that a Precoro cap stopped still costs (W11): the calls left, over the lists
    whose size is known (`calls_known`: false while some list is not begun, so it is at least that),
    and the earliest it can end under Precoro's limits, from when the cap lifts (ISO 8601, UTC; None
    when that is not known)."""
    counted = [source.get("calls_left") for source in sources]
    calls = sum(count for count in counted if count is not None)
    done_at = None
    if resume_at and calls:
        done_at = (datetime.fromisoformat(resume_at) + timedelta(seconds=precoro_seconds(calls))).isoformat(timespec="seconds")
    return {"calls_left": calls, "calls_known": None not in counted, "done_at": done_at}


def calls_left_said(left: Mapping[str, Any]) -> str:
    """What `reading_left` found, in words: "about 1,234", or "at least 1,234" while a list is not
    begun (its size is not known yet). The plan's message, `qbsync status` and the Overview say it alike."""
    return f"{'about' if left['calls_known'] else 'at least'} {left['calls_left']:,}"


def polling_cost(calls_per_run: int, every: float) -> str | None:
    """What runs every `every` seconds cost Precoro a day when nothing changes (`calls_per_run`
    each: a read of changes per list), said when that is more than half of Precoro's day: then
    little is left for the changes themselves, and the day's cap stops the runs."""
    per_day = calls_per_run * 86400 / every
    if per_day <= PRECORO_PER_DAY / 2:
        return None
    return (f"a run every {duration(every)} costs about {per_day:,.0f} Precoro calls a day when nothing changes "
            f"({calls_per_run} a run), of the {PRECORO_PER_DAY:,} Precoro allows: little is left for the changes "
            "themselves. Run less often, or let Precoro's webhooks start runs (docs/unattended.md)")


def duration(seconds: float) -> str:
    """3 d 2 h, 2 h 5 min, 12 min, 40 s."""
    seconds = int(round(seconds))
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"


def cost_of(summary: Any) -> ApplyCost:
    """The cost of what an apply summary (engine.review.ApplySummary) counts."""
    return apply_cost(summary.writes("quickbooks"), summary.writes("precoro"),
                      precoro_creates=summary.records["precoro"].get("create", 0))

"""U1, U5: the status of many companies at once (`qbsync status --all DIR`), from their state files alone.

An operator who keeps many company pairs has each in `DIR/<company>/` with its own rules and state
file, run by `qbsync run --all DIR` on a timer. What they need to know of a morning is which
companies want them: a run that failed, actions held for review, conflicts to decide, a QuickBooks
authorization that ends soon, an apply left unfinished; and how much of the Intuit app's monthly
reads the companies have used together. Nothing here sends a request: with dozens of companies,
looking at every connection would spend the very reads it reports (`qbsync status` in one
company's folder looks at its connections).

Run on a timer of its own (`--late 2h --notify`), it is the runs' dead man's switch: a timer that
stopped or runs that hang say nothing themselves, so a company whose last run is too old is a
problem, and `news_of` says what of the problems to tell a person, and when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

from .budgets import duration, month_reads_warning
from .run import EXIT_ERROR, EXIT_HELD, EXIT_OK, RESULTS, aligned, company_name, first_line, worst_exit


@dataclass
class CompanyStatus:
    """One company's status, and what of it is wrong (`problems`), waits for a person (`waiting`)
    or is worth knowing (`notes`)."""

    company: str
    rules: str
    status: dict[str, Any] | None = None  # SyncSession.status(look=False); None when it could not be read
    problems: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_ERROR if self.problems else EXIT_HELD if self.waiting else EXIT_OK

    @property
    def held(self) -> int | None:
        return self.status["unattended"]["held"] if self.status else None

    @property
    def to_decide(self) -> int | None:
        """Conflicts of the plan to review that wait for a side to be taken, when a person made that
        plan: an unattended run holds every conflict of its plan (policy.ALWAYS_HELD), so those are
        among the held already."""
        if not self.status:
            return None
        last = self.last_run
        if last and last["plan_id"] and last["plan_id"] == self.status["plan_to_review"]:
            return 0
        return sum(counts.get("undecided", 0) for counts in self.status["entities"].values())

    @property
    def last_run(self) -> dict[str, Any] | None:
        return self.status["unattended"]["last_run"] if self.status else None

    @property
    def reads(self) -> dict[str, Any] | None:
        return self.status.get("quickbooks_reads") if self.status else None

    def to_json(self) -> dict[str, Any]:
        return {"company": self.company, "rules": self.rules, "exit_code": self.exit_code, "problems": self.problems,
                "waiting": self.waiting, "notes": self.notes, "held": self.held, "to_decide": self.to_decide,
                "status": self.status}


def company_status(company: str, rules: str, status: dict[str, Any], now: datetime,
                   late: float | None = None) -> CompanyStatus:
    """What of a company's status (`SyncSession.status(look=False)`) needs a person, as of `now`.
    `late`: seconds after which a company with no run is a problem (its timer stopped, say)."""
    out = CompanyStatus(company, rules, status)
    last = status["unattended"]["last_run"]
    if last and last["exit_code"] == EXIT_ERROR:
        out.problems.append(f"its last run failed: {last['error']}" if last.get("error") else "its last run failed")
    if late is not None:
        age = (now - datetime.fromisoformat(last["started_at"])).total_seconds() if last else None
        if age is None or age > late:
            out.problems.insert(0, f"no run for {duration(age)} (late after {duration(late)})" if age is not None
                                else "no run yet")
    quickbooks = status["connections"].get("quickbooks") or {}
    if quickbooks.get("ending"):  # within the month's warning, or past
        ended = datetime.fromisoformat(quickbooks["ends_at"]) <= now
        (out.problems if ended else out.waiting).append(quickbooks["ending"])
    if out.held:
        out.waiting.append(f"{out.held:,} held for review (`qbsync held`)")
    if out.to_decide:
        out.waiting.append(f"{out.to_decide:,} conflict{'s' if out.to_decide != 1 else ''} to decide "
                           f"in plan {status['plan_to_review']}")
    unfinished = status.get("unfinished_apply")
    if unfinished:
        out.waiting.append(f"the apply of plan {unfinished['plan_id']} was {unfinished['state']}: "
                           f"`qbsync apply {unfinished['plan_id']}` finishes it")
    reading = status.get("reading")
    if reading:
        out.notes.append(f"reading stopped at {reading['cap']}"
                         + (f"; it goes on at {reading['resume_at']}" if reading.get("resume_at") else ""))
    in_use = status.get("in_use")
    if in_use:
        out.notes.append(f"process {in_use['pid']} on {in_use['host']} is {in_use['what']}")
    return out


def status_all(rules_files: Iterable[Any], open_session: Callable[[Any], Any],
               late: float | None = None) -> list[CompanyStatus]:
    """Each company's status from its state file, in turn (`late`: as `company_status`). A company
    whose rules or state file cannot be read is one row with that problem: the others are still told."""
    found = []
    for rules_path in rules_files:
        name = company_name(rules_path)
        try:
            with open_session(rules_path) as session:
                status = session.status(look=False)
                found.append(company_status(name, str(rules_path), status, datetime.fromisoformat(session.clock()),
                                            late))
        except Exception as exc:  # an invalid rules file, an unreadable state file: this company only
            found.append(CompanyStatus(name, str(rules_path), problems=[f"cannot be read: {first_line(exc)}"]))
    return found


def status_all_exit_code(companies: Iterable[CompanyStatus]) -> int:
    """1 when any company has a problem, else 3 when any waits for a person, else 0 (as `run --all`)."""
    return worst_exit(company.exit_code for company in companies)


def month_reads(companies: Iterable[CompanyStatus]) -> dict[str, Any] | None:
    """The month's QuickBooks reads of these companies' state files together (one Intuit app serves
    them all, and Intuit caps the app's reads by the month), with a warning when near the cap."""
    tallies = [company.reads for company in companies if company.reads]
    if not tallies:
        return None
    month = max(tally["month"] for tally in tallies)
    reads = sum(tally["reads"] for tally in tallies if tally["month"] == month)
    return {"month": month, "reads": reads, "warning": month_reads_warning(reads)}


def companies_table(companies: Iterable[CompanyStatus]) -> str:
    """The one table of `status --all`: a line a company, what is wrong or waits first in its note."""
    rows = [("company", "last run (UTC)", "result", "held", "to decide", "QB reads", "note")]
    for company in companies:
        last, reads = company.last_run, company.reads
        said = company.problems + company.waiting + company.notes
        rows.append((company.company, last["started_at"][:16].replace("T", " ") if last else "never",
                     RESULTS.get(last["exit_code"], "unfinished") if last else "-",
                     _count(company.held), _count(company.to_decide), _count(reads["reads"] if reads else None),
                     "; ".join(said)))
    return aligned(rows, last_width=100)


def _count(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def news_of(companies: Iterable[CompanyStatus], told: dict[str, Any] | None,
            today: str) -> tuple[tuple[str, str] | None, dict[str, Any]]:
    """What a check of many companies tells a person (`status --all --notify`): (subject, text) or
    None, and what to remember for the next check. Only problems: what waits is told by the runs
    that held it (U5); a stopped timer or rules that no longer load tell nobody else. A company is
    told when its problem is new since the last check, and every day while it lasts (checks every
    few minutes would repeat it all night otherwise); one that works again is said once."""
    told = told or {}
    broken = {company.company: company.problems for company in companies if company.problems}
    before = set(told.get("companies", []))
    new, mended = sorted(set(broken) - before), sorted(before - set(broken))
    telling = bool(new or mended or broken and told.get("day") != today)
    # The day of the last telling, while something is broken: the next day's check tells it again.
    remember = {"day": told.get("day", today) if broken and not telling else today, "companies": sorted(broken)}
    if not telling:
        return None, remember
    lines = [f"{name}{' (new)' if name in new else ''}: {'; '.join(problems)}" for name, problems in sorted(broken.items())]
    lines += [f"{name}: works again" for name in mended]
    subject = (f"qbsync: {len(broken)} compan{'ies' if len(broken) != 1 else 'y'} need{'' if len(broken) != 1 else 's'} you"
               if broken else "qbsync: every company works again")
    return (subject, "\n".join(lines)), remember

"""An experiment, not part of qbsync: how much CPU could suppliers' planning take if it worked on
columns of records instead of one record at a time? (Issue 10's CPU target, bench/README.md.)

It takes the suppliers of a first plan's mirror (wire JSON as both APIs answered) and does, as
column operations in polars, the core of what `engine.reconcile` does for them with the shipped
rules.yaml: the rules' fields read from the wire, the match on name + currency (trim, casefold),
unique pairs linked and the rest created on the other side, the three-way merge of each pair (for a
new link: which fields differ, the baseline of those that agree), the bodies of the creates as
JSON, and a stored form (JSON lines, zlib) of it all.

It leaves out what a plan must also do, so its figure is a floor, not a forecast: W9's refusals,
cutting values to fit (I3), the `email_list` transform's cleaning, ambiguous matches, inactive
records, existing links, action ids and the plan's content hash.

    .venv/bin/python bench/plan_scale.py --n 100000 --runs 1 --lists-with-details --keep-state /tmp/state100k.db
    pip install polars        # not a dependency of qbsync; use a venv of its own
    python bench/experiments/columnar_suppliers.py /tmp/state100k.db

The same suppliers cost the engine about 6 s of CPU (Records 0.95 s, reconcile 3.6 s, keeping their
actions 1.2 s, their JSON 0.4 s): `plan_scale.py`'s staged run.
"""

from __future__ import annotations

import io
import resource
import sqlite3
import sys
import zlib

try:
    import polars as pl
except ImportError:
    sys.exit("this experiment needs polars, which qbsync does not depend on: pip install polars (in a venv of its own)")

# The shipped rules.yaml's supplier fields: name -> (Precoro path, QuickBooks path).
FIELDS = {
    "name": ("name", "DisplayName"),
    "currency": ("currency", "CurrencyRef.value"),
    "legalAddress": ("legalAddress", "BillAddr.Line1"),
    "city": ("city", "BillAddr.City"),
    "state": ("state", "BillAddr.CountrySubDivisionCode"),
    "postalCode": ("postalCode", "BillAddr.PostalCode"),
    "country": ("country", "BillAddr.Country"),
    "phone": ("phone", "PrimaryPhone.FreeFormNumber"),
    "accountNumber": ("accountNumber", "AcctNum"),
}


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of the process, polars' included
    return usage.ru_utime + usage.ru_stime


def wire_json(state_file: str, side: str) -> bytes:
    """The side's suppliers as one JSON array, as if it were one long page."""
    with sqlite3.connect(state_file) as db:
        raws = [raw for (raw,) in db.execute(
            "select raw from mirror where side = ? and section = 'suppliers' order by sort_key", [side])]
    return ("[" + ",".join(raws) + "]").encode()


def column(frame: pl.DataFrame, path: str, name: str) -> pl.Series:
    """A dotted wire path as a column of text (None where the record has no such value)."""
    first, *rest = path.split(".")
    if first not in frame.columns:
        return pl.Series(name, [None] * len(frame), dtype=pl.Utf8)
    values = frame[first]
    for part in rest:
        if not isinstance(values.dtype, pl.Struct) or part not in [f.name for f in values.dtype.fields]:
            return pl.Series(name, [None] * len(frame), dtype=pl.Utf8)
        values = values.struct.field(part)
    return values.cast(pl.Utf8).alias(name)


def precoro_emails(frame: pl.DataFrame) -> pl.Series:
    try:
        emails = frame["contacts"].struct.field("data").list.eval(pl.element().struct.field("email"))
    except (pl.exceptions.PolarsError, KeyError):  # no contact anywhere: the list holds no structs
        emails = pl.Series([[]] * len(frame), dtype=pl.List(pl.Utf8))
    return emails.alias("emails")


def main(state_file: str) -> None:
    steps: dict[str, float] = {}

    def step(name: str, started: float) -> None:
        steps[name] = cpu() - started

    precoro_json, quickbooks_json = wire_json(state_file, "precoro"), wire_json(state_file, "quickbooks")

    started = cpu()
    precoro_wire = pl.read_json(io.BytesIO(precoro_json))
    quickbooks_wire = pl.read_json(io.BytesIO(quickbooks_json))
    step("wire JSON into columns", started)

    started = cpu()
    precoro = pl.DataFrame([precoro_wire["id"].cast(pl.Utf8).alias("precoro_id"),
                            *(column(precoro_wire, paths[0], name) for name, paths in FIELDS.items()),
                            precoro_emails(precoro_wire)])
    quickbooks = pl.DataFrame([quickbooks_wire["Id"].cast(pl.Utf8).alias("quickbooks_id"),
                               *(column(quickbooks_wire, paths[1], name) for name, paths in FIELDS.items()),
                               column(quickbooks_wire, "PrimaryEmailAddr.Address", "emails").str.split(",").fill_null([])])
    step("the rules' fields (canonical columns)", started)

    started = cpu()
    key = pl.col("name").str.strip_chars().str.to_lowercase() + "|" + pl.col("currency").fill_null("")
    precoro, quickbooks = precoro.with_columns(key=key), quickbooks.with_columns(key=key)
    per_key_p = precoro.group_by("key").len().rename({"len": "in_precoro"})
    per_key_q = quickbooks.group_by("key").len().rename({"len": "in_quickbooks"})
    precoro = precoro.join(per_key_p, on="key").join(per_key_q, on="key", how="left")
    quickbooks = quickbooks.join(per_key_q, on="key").join(per_key_p, on="key", how="left")
    unique = (pl.col("in_precoro") == 1) & (pl.col("in_quickbooks") == 1)
    pairs = precoro.filter(unique).join(quickbooks.filter(unique).drop("in_precoro", "in_quickbooks"), on="key",
                                        suffix="_q")
    create_in_quickbooks = precoro.filter(pl.col("in_quickbooks").is_null())
    create_in_precoro = quickbooks.filter(pl.col("in_precoro").is_null())
    step("match on name + currency", started)

    started = cpu()
    names = [*FIELDS, "emails"]
    differs = pairs.select([pl.col(n).ne_missing(pl.col(f"{n}_q")).alias(n) for n in names])
    baseline = pairs.select("precoro_id", "quickbooks_id",
                            *(pl.struct(pl.col(n).alias("precoro"), pl.col(f"{n}_q").alias("quickbooks")).alias(n)
                              for n in names))
    step("three-way merge of the new pairs", started)

    started = cpu()
    to_quickbooks = create_in_quickbooks.select("precoro_id", pl.struct(
        pl.col("name").alias("DisplayName"), pl.struct(pl.col("currency").alias("value")).alias("CurrencyRef"),
        pl.struct(pl.col("legalAddress").alias("Line1"), pl.col("city").alias("City"),
                  pl.col("state").alias("CountrySubDivisionCode"), pl.col("postalCode").alias("PostalCode"),
                  pl.col("country").alias("Country")).alias("BillAddr"),
        pl.struct(pl.col("phone").alias("FreeFormNumber")).alias("PrimaryPhone"), pl.col("accountNumber").alias("AcctNum"),
        pl.struct(pl.col("emails").list.join(",").alias("Address")).alias("PrimaryEmailAddr"),
    ).struct.json_encode().alias("body"))
    to_precoro = create_in_precoro.select("quickbooks_id", pl.struct(*FIELDS).struct.json_encode().alias("body"))
    step("create bodies (JSON)", started)

    started = cpu()
    lines = io.BytesIO()
    for frame in (baseline, to_quickbooks, to_precoro):
        frame.write_ndjson(lines)
    stored = zlib.compress(lines.getvalue(), 3)
    step("stored form (JSON lines, zlib)", started)

    print(f"suppliers: {len(precoro):,} in Precoro, {len(quickbooks):,} in QuickBooks; {len(pairs):,} linked "
          f"({int(differs.sum().sum_horizontal()[0]):,} fields differ), {len(to_quickbooks):,} created in QuickBooks, "
          f"{len(to_precoro):,} in Precoro; stored form {len(stored) / 1e6:.1f} MB")
    for name, seconds in steps.items():
        print(f"  {name:40s} {seconds:5.2f} s CPU")
    print(f"  {'in all':40s} {sum(steps.values()):5.2f} s CPU")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])

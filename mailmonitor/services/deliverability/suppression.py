"""The suppression list: addresses that asked for no more email (or were imported as such).

One list per database (data folder): a suppressed address is never added to any campaign again
(`leads import`, a new campaign's CSV) and its leads already in campaigns get no further step
(state `unsubscribed`). Import and export as CSV with an `email` column (`mailmonitor suppress
import|export FILE.csv`); an import is all rows or nothing, like every CSV of the app."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from peewee import fn

from mailmonitor.events import LEADS_CHANGED, bus
from mailmonitor.models import Lead, Suppression, db
from mailmonitor.models.lead import FINAL_STATES
from mailmonitor.services.common.validation import InvalidInput, normalize_email, read_csv_rows

MAX_ROWS = 1_000_000
CHUNK = 500  # addresses per IN (...) query: under SQLite's variable limit


def is_suppressed(email: str) -> bool:
    return bool(Suppression.select().where(Suppression.email == email.strip().lower()).exists())


def suppressed_among(emails: Iterable[str]) -> set[str]:
    """The lower-cased addresses of `emails` that are on the list."""
    wanted = list({e.strip().lower() for e in emails})
    found: set[str] = set()
    for i in range(0, len(wanted), CHUNK):
        found.update(e for (e,) in Suppression.select(Suppression.email).where(
            Suppression.email.in_(wanted[i:i + CHUNK])).tuples())
    return found


def stop_suppressed_leads(now: datetime) -> int:
    """Every lead whose address is on the list, in every campaign, gets no further step (one
    pass over the leads, whatever the size of the list)."""
    where = fn.LOWER(Lead.email).in_(Suppression.select(Suppression.email)) \
        & Lead.state.not_in(FINAL_STATES)
    campaigns = [c for (c,) in Lead.select(Lead.campaign).where(where).distinct().tuples()]
    if not campaigns:
        return 0
    changed = int(Lead.update(state="unsubscribed", next_due_at=None, updated_at=now)
                  .where(where).execute())
    for campaign_id in campaigns:
        bus.emit(LEADS_CHANGED, campaign_id)
    return changed


def suppress(emails: Iterable[str], now: datetime, reason: str = "unsubscribed",
             source: str = "") -> int:
    """Put addresses on the list (and stop their leads). Returns how many were new."""
    wanted = sorted({e.strip().lower() for e in emails if e.strip()})
    table = Suppression._meta.table_name
    param = db.param  # "?" for SQLite, "%s" for PostgreSQL
    # executemany with one prepared INSERT: peewee renders each row at about 50 µs otherwise.
    sql = (f'INSERT INTO "{table}" (email, reason, source, created_at) VALUES '
           f"({param}, {param}, {param}, {param}) ON CONFLICT (email) DO NOTHING")
    when = Suppression.created_at.db_value(now)
    with db.atomic():
        before = Suppression.select().count()
        cursor = db.cursor()
        for i in range(0, len(wanted), CHUNK * 20):
            cursor.executemany(sql, [(e, reason, source[:500], when)
                                     for e in wanted[i:i + CHUNK * 20]])
        added = Suppression.select().count() - before
        stop_suppressed_leads(now)
    return int(added)


def import_csv(path: Path, now: datetime) -> tuple[int, int]:
    """All rows or nothing. Returns (added, already on the list)."""
    header, rows = read_csv_rows(path)
    if "email" not in header:
        raise InvalidInput(f"{path}: the header has no 'email' column")
    if len(rows) > MAX_ROWS:
        raise InvalidInput(f"{path}: more than {MAX_ROWS:,} rows; split the file")
    errors: list[str] = []
    emails: list[str] = []
    for line, row in rows:
        if "__error__" in row:
            errors.append(f"line {line}: {row['__error__']}")
            continue
        try:
            emails.append(normalize_email(row.get("email", "")))
        except Exception as exc:
            errors.append(f"line {line}: {exc}")
    if errors:
        shown = "; ".join(errors[:20]) + (f"; and {len(errors) - 20} more" if len(errors) > 20
                                           else "")
        raise InvalidInput(f"{path}: {len(errors)} malformed row(s), nothing imported; {shown}")
    unique = {e.lower() for e in emails}
    added = suppress(unique, now, reason="imported", source=f"imported from {path.name}")
    return added, len(unique) - added


def export_csv(path: Path) -> int:
    """Write the whole list (replacing the file in one step). Returns the number of rows."""
    folder = path.resolve().parent
    if not folder.is_dir():
        raise InvalidInput(f"cannot write {path}: {folder} is not a folder")
    rows = Suppression.select().order_by(Suppression.email)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    count = 0
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["email", "reason", "source", "added_at"])
            for row in rows:
                writer.writerow([row.email, row.reason, row.source,
                                 row.created_at.isoformat(timespec="seconds") + "Z"])
                count += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count

"""Import PayPal's Activity Download (CSV, or a ZIP of CSVs): streamed, batch by batch,
through the same comparison as Transaction Search. Importing a file again changes
nothing: flags are keyed by difference and backfills by payment.

Memory does not grow with the file: bytes are read through a small buffer, rows decoded
one at a time by the csv module, and compared and committed `BATCH` at a time. What is
kept to the end grows only with our own records (`session.py`): the row ids of our
payments the file names (8 bytes each), refunds and reversals, and the differences found.
`bench/activity_import.py` measures it.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from models import JobRun, db

from ..billing.formats.activity_csv import SOURCE, ActivityReader, HeaderError, Problem, Skipped
from ..billing.formats.activity_locale import DateOrder
from ..billing.formats.reconcile import SKEW
from ..billing.formats.reported_transaction import Reported
from ..billing.rules.statuses import JobOutcome
from .session import Session, Tally

#: Rows compared and committed together.
BATCH = 1000
#: Row problems kept for the report (all are counted).
KEEP_PROBLEMS = 200
#: What an import is recorded as in `job_runs` (beside the `reconcile` job's runs).
RUN_NAME = "import-activity"


class TooLarge(ValueError):
    """The file (or a ZIP's content) is bigger than allowed."""


@dataclass(frozen=True)
class Member:
    """One CSV to read: the file itself, or one file inside a ZIP."""

    name: str
    size: int
    open: Callable[[], IO[bytes]]


@dataclass
class ImportReport:
    name: str
    tally: Tally = field(default_factory=Tally)
    skipped: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    notes: list[str] = field(default_factory=list)
    bytes_read: int = 0

    def summary(self) -> str:
        problems = f", {self.problem_count} unreadable row(s)" if self.problem_count else ""
        first = (
            f" (line {self.problems[0].line}: {self.problems[0].message})" if self.problems else ""
        )
        checked = f"; ours checked for {self.tally.checked}" if self.tally.checked else ""
        return (
            f"{SOURCE} {self.name}: {self.tally.line()}, {self.skipped} row(s) skipped"
            f"{problems}{first}{checked}"
        )


def members(stream: IO[bytes], name: str) -> list[Member]:
    """The CSVs in `stream` (seekable): itself, or each .csv/.txt file of a ZIP."""
    head = stream.read(4)
    stream.seek(0)
    if head != b"PK\x03\x04":
        size = stream.seek(0, io.SEEK_END)
        stream.seek(0)
        return [Member(name, size, lambda: stream)]
    archive = zipfile.ZipFile(stream)
    found = [
        info
        for info in sorted(archive.infolist(), key=lambda i: i.filename)
        if not info.is_dir()
        and not info.filename.startswith("__MACOSX/")
        and info.filename.lower().endswith((".csv", ".txt"))
    ]
    return [_member(archive, info, name) for info in found]


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> Member:
    return Member(f"{name}/{info.filename}", info.file_size, lambda: archive.open(info))


class _Counted(io.RawIOBase):
    """A binary stream that counts what is read through it, and stops past a limit."""

    def __init__(self, raw: IO[bytes], limit: int | None, done: int) -> None:
        self.raw, self.limit, self.count = raw, limit, done

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        if self.limit is not None and self.count > self.limit:
            raise TooLarge(f"more than {self.limit // 2**20} MB of CSV")
        return len(data)


def _text(counted: _Counted) -> io.TextIOWrapper:
    """UTF-8 (a BOM is dropped), or UTF-16 when the file starts with its BOM (Excel's
    "Unicode text"); undecodable bytes become U+FFFD rather than stopping the import."""
    buffered = io.BufferedReader(counted, buffer_size=64 * 1024)
    bom = buffered.peek(2)[:2]
    encoding = "utf-16" if bom in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    return io.TextIOWrapper(buffered, encoding=encoding, errors="replace", newline="")


def import_activity(
    files: list[Member],
    name: str,
    now: datetime,
    *,
    date_order: DateOrder | None = None,
    decimal_mark: str | None = None,
    progress: Callable[[int], None] | None = None,
    max_bytes: int | None = None,
) -> ImportReport:
    """Compare every row of `files` (one export: a ZIP's parts share its dates) with ours;
    flag the differences, backfill the payments we never heard of."""
    report = ImportReport(name)
    session = Session(now)
    done = 0
    for member in files:
        counted = _Counted(member.open(), max_bytes, done)
        try:
            reader = ActivityReader(
                _text(counted),
                date_order=date_order,
                decimal_mark=decimal_mark,
                source=f"{SOURCE} {member.name}",
            )
        except HeaderError as e:
            _problem(report, Problem(1, f"{member.name}: {e}"))
            continue
        batch: list[Reported] = []
        for row in reader:
            if isinstance(row, Reported):
                batch.append(row)
            elif isinstance(row, Skipped):
                report.skipped += 1
            else:
                _problem(report, row)
            if len(batch) >= BATCH:
                session.feed(batch)
                batch = []
                done = _progress(progress, counted, done)
        session.feed(batch)
        done = _progress(progress, counted, done)
        report.notes += [f"{member.name}: {n}" for n in reader.notes]
        # The parts of one export share its locale: what one part settled holds for the next.
        date_order, decimal_mark = reader.file.order, reader.file.mark
    first, last = session.tally.first, session.tally.last
    report.tally = session.finish((first + SKEW, last - SKEW) if first and last else None)
    report.bytes_read = done
    return report


def _problem(report: ImportReport, problem: Problem) -> None:
    report.problem_count += 1
    if len(report.problems) < KEEP_PROBLEMS:
        report.problems.append(problem)


def _progress(progress: Callable[[int], None] | None, counted: _Counted, done: int) -> int:
    if progress is not None and counted.count > done:
        progress(counted.count - done)
    return counted.count


def log_run(
    report: ImportReport, owner: str, started: datetime, now: datetime, elapsed: float
) -> JobRun:
    """Keep the import beside the reconcile job's runs (the admin page lists both)."""
    run = JobRun(
        job=RUN_NAME,
        owner=owner[:80],
        started_at=started,
        finished_at=now,
        outcome=JobOutcome.FAILED
        if report.problem_count and not report.tally.rows
        else JobOutcome.OK,
        summary=report.summary()[:2000],
        duration_ms=int(elapsed * 1000),
    )
    db.session.add(run)
    db.session.commit()
    return run

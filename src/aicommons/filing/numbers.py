"""Filing numbers: `filing_number_format` over a per-year sequence that never goes back.

The sequence row of the year is bumped with one `UPDATE … RETURNING` in the approving
transaction: PostgreSQL holds that row's lock until the transaction ends, and SQLite's
`BEGIN IMMEDIATE` holds the database's write lock, so two approvals never read the same value,
and a rolled-back approval gives its value back with everything else it wrote. The unique
(number, revision) constraint on filings stands behind it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.core.errors import Invalid
from aicommons.filing.tables import FilingSequence

MAX_NUMBER_LENGTH = 100


def format_number(number_format: str, year: int, seq: int) -> str:
    number = number_format.format(year=year, seq=seq)
    if len(number) > MAX_NUMBER_LENGTH:
        raise Invalid(f"The filing_number_format setting makes {number!r}, longer than {MAX_NUMBER_LENGTH} characters.")
    return number


def next_sequence(session: Session, year: int) -> int:
    """The year's next sequence value, taken in the caller's transaction."""
    bump = (
        sa.update(FilingSequence).where(FilingSequence.year == year).values(last=FilingSequence.last + 1)
        .returning(FilingSequence.last).execution_options(synchronize_session=False)
    )
    value = session.scalar(bump)
    if value is None:  # the year's first number: make its row (racing another first is fine)
        try:
            with session.begin_nested():
                session.add(FilingSequence(year=year, last=0))
        except sa.exc.IntegrityError:
            pass
        value = session.scalar(bump)
    assert value is not None
    return int(value)


def issue_number(session: Session, number_format: str, at: datetime) -> str:
    """A new filing number for an approval at `at` (its UTC year)."""
    return format_number(number_format, at.year, next_sequence(session, at.year))

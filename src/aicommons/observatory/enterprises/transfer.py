"""Import and export of the registry as CSV or XLSX, with a row-by-row report.

**Import** is synchronous, with limits of 4 MiB and 5,000 data rows: the registry is a few
thousand enterprises province-wide (the plans' targets are 20 科技领军企业 and 200 小巨人), an
official uploads a city's or a district's sheet at a time and wants the report on the spot, not a
job to poll. Each stored row costs about 2 ms (its savepoint and its audit entry), so the largest
file is answered in about ten seconds on a small machine. A larger file is refused whole, before
anything is written; rows are read lazily, so an oversized workbook is refused without reading it all.

The header (row 1) names the columns, in English (`credit_code`, as the export writes them) or in
Chinese (统一社会信用代码, 企业名称 …); `revenue_2024` (or 2024年营业收入) holds a year's revenue in
yuan; list cells (tiers, AI fields, products, scenarios) separate items with ; or 、. A file
without a credit-code column, with an unknown or repeated column, or that is not CSV/XLSX is refused
whole. Then each row is all or nothing: it is parsed and checked completely (credit code, region,
vocabulary, numbers, linked org) and stored in its own savepoint, or it writes nothing and its
problems go to the report as (row, column, message). A row whose code is already registered, in the
database or earlier in the file, merges into that record: its non-blank cells replace the stored
values and its revenue years are added, so a blank cell never erases what is known.

**Export** writes the records matching the listing's filters with the same columns, so an export
imported again changes nothing.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session

from aicommons.core import audit
from aicommons.core.errors import Invalid
from aicommons.core.ids import new_id
from aicommons.core.permissions import Actor
from aicommons.core.tables import Org
from aicommons.observatory.enterprises.credit_codes import (
    credit_code_problem,
    normalise,
)
from aicommons.observatory.enterprises.regions import find_city, region_problem
from aicommons.observatory.enterprises.registry import filtered, store, to_read
from aicommons.observatory.enterprises.schemas import (
    EnterpriseCreate,
    ImportReport,
    RowError,
)
from aicommons.observatory.enterprises.spreadsheets import (
    Cell,
    Format,
    detect_format,
    read_rows,
    write_rows,
)
from aicommons.observatory.enterprises.tables import Enterprise
from aicommons.core.officials import require_official

MAX_IMPORT_BYTES = 4 << 20
MAX_IMPORT_ROWS = 5_000
MAX_REPORTED_ERRORS = 1000

COLUMNS: dict[str, tuple[str, ...]] = {  # the export's header, in order, and the Chinese headers read as the same column
    "credit_code": ("统一社会信用代码", "信用代码"),
    "name": ("企业名称", "名称"),
    "city": ("城市", "设区市", "所在市"),
    "district": ("区县", "县(市、区)", "县市区", "所在区县"),
    "tiers": ("企业梯队", "梯队", "认定类型"),
    "ai_fields": ("人工智能领域", "领域"),
    "invention_patents": ("发明专利", "发明专利数"),
    "standards": ("标准", "标准数"),
    "products": ("产品", "主要产品"),
    "scenarios": ("应用场景", "场景"),
    "org_id": ("平台机构", "平台机构id"),
    "sample": ("示例", "示例数据"),
}
LIST_COLUMNS = ("tiers", "ai_fields", "products", "scenarios")
_REVENUE_HEADER = re.compile(r"^(?:revenue[_ ]?(?P<a>\d{4})|营业收入[_ ]?(?P<b>\d{4})年?|(?P<c>\d{4})年?营业收入)$")
_LIST_SEPARATOR = re.compile(r"[;；、\n]+")
_VOCABULARY_SEPARATOR = re.compile(r"[;；、,，\n]+")  # slugs and labels hold no comma; product names may
_YES = {"true", "yes", "y", "1", "是"}
_NO = {"false", "no", "n", "0", "否", ""}


@dataclass
class _Header:
    """Which column of the file holds which field, and each column's heading as the file spells it."""

    fields: dict[str, int] = field(default_factory=dict)
    revenue_years: dict[int, int] = field(default_factory=dict)
    headings: list[str] = field(default_factory=list)

    def names(self, index: int) -> bool:
        return index < len(self.headings) and bool(_heading_key(self.headings[index]))

    def heading(self, key: str | int) -> str:
        index = self.revenue_years.get(key) if isinstance(key, int) else self.fields.get(key)
        return self.headings[index] if index is not None else str(key if isinstance(key, str) else f"revenue_{key}")


def _heading_key(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", unicodedata.normalize("NFKC", text).strip().lower())


_ALIASES = {_heading_key(alias): key for key, aliases in COLUMNS.items() for alias in (key, *aliases)}


def _parse_header(cells: list[Cell], label: str) -> _Header:
    header = _Header(headings=[_text(c) for c in cells])
    for index, heading in enumerate(header.headings):
        key = _heading_key(heading)
        if not key:
            continue
        if match := _REVENUE_HEADER.match(key):
            year = int(match.group("a") or match.group("b") or match.group("c"))
            if year in header.revenue_years:
                raise Invalid(f"{label} has revenue for {year} in two columns ({index + 1} and {header.revenue_years[year] + 1}); keep one.")
            header.revenue_years[year] = index
        elif key in _ALIASES:
            if _ALIASES[key] in header.fields:
                raise Invalid(f"{label} has the column {_ALIASES[key]!r} twice (column {index + 1}: {heading!r}); keep one.")
            header.fields[_ALIASES[key]] = index
        else:
            raise Invalid(
                f"{label} has an unknown column {heading!r} (column {index + 1}); expected {', '.join(COLUMNS)} "
                "or revenue_YYYY (or their Chinese headings). Rename or remove it so no data is silently left out."
            )
    if "credit_code" not in header.fields:
        raise Invalid(f"{label} has no 'credit_code' (统一社会信用代码) column in its first row; every row needs the enterprise's code.")
    return header


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()  # names keep their full-width （）: only codes, regions and vocabulary are normalised


class _RowProblems(Exception):
    def __init__(self, errors: list[RowError]):
        self.errors = errors


def _row_spec(session: Session, header: _Header, number: int, cells: list[Cell], known: dict[str, Enterprise]) -> EnterpriseCreate:
    """The record this row describes, merged into the stored one; _RowProblems listing every problem otherwise."""
    errors: list[RowError] = []

    def problem(column: str | int | None, message: str) -> None:
        errors.append(RowError(row=number, column=None if column is None else header.heading(column), message=message))

    def cell(key: str) -> Cell:
        index = header.fields.get(key)
        return cells[index] if index is not None and index < len(cells) else None

    unnamed = [index + 1 for index, value in enumerate(cells) if _text(value) and not header.names(index)]
    if unnamed:
        problem(None, f"The row has values in columns {unnamed}, which have no heading in row 1; is a cell split by a stray comma?")
    raw_code = cell("credit_code")
    if isinstance(raw_code, int | float) and not isinstance(raw_code, bool):
        problem("credit_code", "The credit code is stored as a number, which loses digits and letters; format the column as text and type it again.")
        raise _RowProblems(errors)
    code = normalise(_text(raw_code))
    if not code:
        problem("credit_code", "The credit code is empty; every row needs the enterprise's 18-character unified social credit code.")
        raise _RowProblems(errors)
    if reason := credit_code_problem(code):
        problem("credit_code", f"The credit code {code!r} {reason}.")
    if errors:
        raise _RowProblems(errors)
    stored = known.get(code)
    values: dict[str, Any] = to_read(stored).model_dump(exclude={"created_at", "updated_at"}) if stored else {"credit_code": code}
    values["revenue"] = dict(values.get("revenue", {}))
    for key in header.fields:
        text = _text(cell(key))
        if key == "credit_code" or not text:
            continue  # blank: keep what is stored (or the default for a new record)
        if key in LIST_COLUMNS:
            separator = _LIST_SEPARATOR if key in ("products", "scenarios") else _VOCABULARY_SEPARATOR
            values[key] = [item.strip() for item in separator.split(text) if item.strip()]
        elif key == "sample":
            text = unicodedata.normalize("NFKC", text)
            if text.lower() not in _YES | _NO:
                problem(key, f"The sample flag must be true or false (是/否); got {text!r}.")
            values[key] = text.lower() in _YES
        elif key == "org_id":
            values[key] = text
            if session.get(Org, text) is None:
                problem(key, f"No org {text!r} exists on the platform; give the id of the enterprise's own org or leave it blank.")
        else:
            values[key] = text
    if stored and _text(cell("city")) and not _text(cell("district")) and find_city(values["city"]) != find_city(stored.city):
        values["district"] = None  # the stored district is of the old city
    for year, index in header.revenue_years.items():
        text = _text(cells[index] if index < len(cells) else None).replace(",", "")
        if text:
            values["revenue"][year] = text
    if "city" in values and (region := region_problem(values["city"], values.get("district"))):
        problem(region[0], region[1])
    try:
        spec = EnterpriseCreate.model_validate(values)
    except ValidationError as error:
        for e in error.errors():
            loc = e["loc"]
            column = loc[1] if loc[:1] == ("revenue",) and len(loc) > 1 and isinstance(loc[1], int) else (loc[0] if loc else None)
            if column is None and errors:
                continue  # the region check above already named the column
            message = e["msg"].removeprefix("Value error, ")
            if e["type"] == "missing":
                message = f"The {column} is empty; a new enterprise needs it."
            elif "input" in e and not message.startswith("The "):
                message = f"{message}; got {e['input']!r}."
            problem(column, message)
        raise _RowProblems(errors) from None
    if errors:
        raise _RowProblems(errors)
    return spec


def _stored_records(session: Session, header: _Header, body: list[tuple[int, list[Cell]]]) -> dict[str, Enterprise]:
    """The stored records the file's rows name, fetched together rather than one query per row."""
    index = header.fields["credit_code"]
    codes = sorted({normalise(_text(cells[index])) for _, cells in body if index < len(cells) and isinstance(cells[index], str)})
    known: dict[str, Enterprise] = {}
    for start in range(0, len(codes), 500):
        rows = session.scalars(sa.select(Enterprise).where(Enterprise.credit_code.in_(codes[start : start + 500])))
        known.update((row.credit_code, row) for row in rows)
    return known


def import_enterprises(session: Session, actor: Actor, stream: BinaryIO, filename: str = "") -> ImportReport:
    """Read a CSV or XLSX file into the registry; good rows are stored, bad rows are reported and write nothing."""
    require_official(session, actor, "import enterprises")
    label = f"The file {filename!r}" if filename else "The uploaded file"
    data = stream.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise Invalid(f"{label} is larger than {MAX_IMPORT_BYTES / 2**20:g} MiB, the most one import takes; split it.")
    if not data:
        raise Invalid(f"{label} is empty.")
    fmt = detect_format(data, filename)
    rows = enumerate(read_rows(data, fmt, filename), start=1)
    first = next(rows, None)
    if first is None:
        raise Invalid(f"{label} has no header row.")
    header = _parse_header(first[1], label)
    body: list[tuple[int, list[Cell]]] = []
    for number, cells in rows:
        if any(_text(c) for c in cells):
            if len(body) == MAX_IMPORT_ROWS:
                raise Invalid(f"{label} has more than {MAX_IMPORT_ROWS:,} data rows, the most one import takes; split it.")
            body.append((number, cells))
    import_id = new_id("eimp")
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    errors: list[RowError] = []
    failed = 0
    known = _stored_records(session, header, body)
    for number, cells in body:
        try:
            spec = _row_spec(session, header, number, cells, known)
            with session.begin_nested():  # all or nothing for this row, whatever the database says
                detail = {"via": "import", "import_id": import_id, "row": number}
                outcome, known[spec.credit_code] = store(session, actor, spec, known.get(spec.credit_code), detail=detail)
            counts[outcome] += 1
        except _RowProblems as problems:
            failed += 1
            errors.extend(problems.errors)
        except sa.exc.DBAPIError as error:
            failed += 1
            errors.append(RowError(row=number, column=None, message=f"The row could not be stored: {error.orig}."))
    report = ImportReport(
        format=fmt, rows=len(body), **counts, failed=failed, errors=errors[:MAX_REPORTED_ERRORS],
        errors_omitted=max(0, len(errors) - MAX_REPORTED_ERRORS),
    )
    audit.record(
        session, actor, "enterprise.import", "enterprise import", import_id, org_id=None,
        detail={"filename": filename, "sha256": hashlib.sha256(data).hexdigest(), **report.model_dump(exclude={"errors"})},
    )  # fmt: skip
    return report


def export_enterprises(
    session: Session,
    actor: Actor,
    fmt: Format,
    *,
    city: str | None = None,
    district: str | None = None,
    tier: str | None = None,
    ai_field: str | None = None,
    name: str | None = None,
    sample: bool | None = None,
) -> bytes:
    """The matching records as CSV or XLSX, by credit code, in the columns `import_enterprises` reads."""
    require_official(session, actor, "export the enterprise registry")
    if fmt not in ("csv", "xlsx"):
        raise Invalid(f"The 'format' parameter of export_enterprises must be 'csv' or 'xlsx'; got {fmt!r} instead.")
    stmt = filtered(city=city, district=district, tier=tier, ai_field=ai_field, name=name, sample=sample, owner="export_enterprises")
    records = [to_read(row) for row in session.scalars(stmt.order_by(Enterprise.credit_code))]
    years = sorted({year for record in records for year in record.revenue})
    header = [*COLUMNS, *(f"revenue_{year}" for year in years)]
    rows = (
        [
            record.credit_code, record.name, record.city, record.district or "", "; ".join(record.tiers), "; ".join(record.ai_fields),
            record.invention_patents, record.standards, "; ".join(record.products), "; ".join(record.scenarios),
            record.org_id or "", "true" if record.sample else "false", *(record.revenue.get(year, "") for year in years),
        ]
        for record in records
    )  # fmt: skip
    return write_rows(header, rows, fmt)

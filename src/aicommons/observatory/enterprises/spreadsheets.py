"""Reading and writing the registry's spreadsheets: CSV and XLSX, recognised by their bytes.

A file is XLSX when it is a zip holding `xl/workbook.xml` (read with openpyxl, first sheet, cell
values as stored: a number stays a number, so the importer can tell a credit code Excel turned into
a float); CSV when it decodes as UTF-8 (with or without BOM) or, as Chinese Excel writes it, GB18030,
and holds no NUL byte. Anything else, including legacy .xls, is refused whole before a row is read.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

from aicommons.core.errors import Invalid

Format = Literal["csv", "xlsx"]
Cell = str | int | float | bool | None
FORMATS: tuple[Format, ...] = ("csv", "xlsx")

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and .doc …)


def detect_format(data: bytes, filename: str = "") -> Format:
    """"csv" or "xlsx" from the file's content; Invalid, naming the file, for anything else."""
    label = filename or "the uploaded file"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "xl/workbook.xml" in archive.namelist():
                    return "xlsx"
        except zipfile.BadZipFile:
            pass
        raise Invalid(f"{label} is a zip archive but not an XLSX workbook; upload a .xlsx or .csv file.")
    if data.startswith(_OLE2_MAGIC):
        raise Invalid(f"{label} is a legacy Excel .xls (or other OLE2) file; save it as .xlsx or CSV and upload that.")
    if b"\x00" in data or _decode(data) is None:
        raise Invalid(f"{label} is neither CSV (UTF-8 or GB18030 text) nor XLSX; upload a .csv or .xlsx file.")
    return "csv"


def _decode(data: bytes) -> str | None:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def read_rows(data: bytes, fmt: Format, filename: str = "") -> Iterator[list[Cell]]:
    """The file's rows in order (the first is the header), read as they are asked for, so a caller can stop early."""
    return _read_csv(data) if fmt == "csv" else _read_xlsx(data, filename or "the uploaded file")


def _read_csv(data: bytes) -> Iterator[list[Cell]]:
    text = _decode(data) or ""
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
        yield list(row)


def _read_xlsx(data: bytes, label: str) -> Iterator[list[Cell]]:
    from openpyxl import load_workbook  # imported here: only XLSX files need it

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - openpyxl raises many types for a damaged workbook
        raise Invalid(f"{label} could not be read as an XLSX workbook: {error}.") from None
    try:
        for row in workbook.worksheets[0].iter_rows(values_only=True):
            yield [_xlsx_cell(value) for value in row]
    except Exception as error:  # noqa: BLE001 - a damaged sheet inside a sound zip
        raise Invalid(f"{label} could not be read as an XLSX workbook: {error}.") from None
    finally:
        workbook.close()


def _xlsx_cell(value: Any) -> Cell:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # dates and times: kept as their text


def write_rows(header: Sequence[str], rows: Iterable[Sequence[Cell]], fmt: Format) -> bytes:
    """The rows as a CSV (UTF-8 with BOM, so Excel shows Chinese right) or a one-sheet XLSX."""
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        return buffer.getvalue().encode("utf-8-sig")
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("enterprises")
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

"""Import and export: good rows kept, bad rows reported by row and column and written nowhere, round trips exact."""

from __future__ import annotations

import io
import zipfile

import pytest
import sqlalchemy as sa
from support import assert_db_unchanged, db_state

from aicommons.core.errors import Forbidden, Invalid
from aicommons.core.tables import AuditEntry
from aicommons.observatory import enterprises
from aicommons.observatory.enterprises import transfer
from aicommons.observatory.enterprises.credit_codes import check_character
from aicommons.observatory.enterprises.tables import Enterprise

HIKVISION, DAHUA = "91330000733796106P", "91330000727215176K"


def code(division: str, serial: str) -> str:
    first17 = "91" + division + serial
    return first17 + check_character(first17)


def run_import(runtime, actor, data: bytes, filename: str = "enterprises.csv") -> enterprises.ImportReport:
    with runtime.session() as session:
        return enterprises.import_enterprises(session, actor, io.BytesIO(data), filename)


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


def stored(runtime) -> dict[str, Enterprise]:
    with runtime.session() as session:
        rows = session.scalars(sa.select(Enterprise)).all()
        session.expunge_all()
        return {row.credit_code: row for row in rows}


def test_good_rows_are_kept_and_bad_rows_reported_and_written_nowhere(runtime, world):
    good_new = code("330106", "MA2G00D01")
    data = csv_bytes(
        "credit_code,name,city,district,tiers,ai_fields,invention_patents,revenue_2024",
        f"{HIKVISION},杭州海康威视数字技术股份有限公司,杭州,滨江,科技领军企业;上市企业,视觉智能,5000,\"89,300,000,000\"",
        f"{HIKVISION[:17]}Q,坏校验码,杭州,滨江,,,,",
        f"{good_new},杭州西湖某科技,Hangzhou,西湖区,high-tech、little-giant,computer-vision,12,3000000",
        f"{DAHUA},浙江大华技术股份有限公司,苏州,,,,,",
        f"{code('330212', 'MA2BAD001')},宁波某科技,宁波,鄞州,national-champion,quantum,-3,lots",
        ",,,,,,,",  # a blank row: skipped
        f"{code('330212', 'MA2BAD002')},,宁波,,,,,",
    )
    report = run_import(runtime, world.operator.actor, data)
    assert (report.format, report.rows, report.created, report.updated, report.failed) == ("csv", 6, 2, 0, 4)
    assert set(stored(runtime)) == {HIKVISION, good_new}
    by_row = {}
    for error in report.errors:
        by_row.setdefault(error.row, []).append((error.column, error.message))
    assert set(by_row) == {3, 5, 6, 8}
    assert by_row[3] == [("credit_code", f"The credit code '{HIKVISION[:17]}Q' ends with check character 'Q', but the first 17 characters give 'P'.")]
    assert by_row[5][0][0] == "city" and "'苏州' is not a prefecture-level city of Zhejiang" in by_row[5][0][1]
    assert {column for column, _ in by_row[6]} == {"tiers", "ai_fields", "invention_patents", "revenue_2024"}
    assert any("'national-champion'" in message for _, message in by_row[6])
    assert by_row[8] == [("name", "The name is empty; a new enterprise needs it.")]
    hik = stored(runtime)[HIKVISION]
    assert (hik.city, hik.district, hik.tiers, hik.revenue) == ("杭州市", "滨江区", ["tech-leader", "listed"], {"2024": 89_300_000_000})
    with runtime.session() as session:
        actions = list(session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.seq)))
    assert actions[-3:] == ["enterprise.create", "enterprise.create", "enterprise.import"]


def test_a_file_of_only_bad_rows_changes_no_record(runtime, world):
    run_import(runtime, world.operator.actor, csv_bytes("credit_code,name,city", f"{HIKVISION},海康威视,杭州"))
    before = db_state(runtime)
    report = run_import(runtime, world.operator.actor, csv_bytes(
        "credit_code,name,city,district,tiers",
        f"{HIKVISION},新名字,杭州,滨江,not-a-tier",  # one bad cell: the good ones of the row are not written either
        f"{DAHUA},大华,杭州,西湖区,,stray",
        "91330000727215176,短码,杭州,,",
    ))
    assert (report.failed, report.created, report.updated) == (3, 0, 0)
    assert [(e.row, e.column) for e in report.errors] == [(2, "tiers"), (3, None), (4, "credit_code")]
    assert "values in columns [6], which have no heading in row 1" in report.errors[1].message
    after = db_state(runtime)
    assert after["audit_entries"][0] == before["audit_entries"][0] + 1  # the import itself, recorded
    del before["audit_entries"], after["audit_entries"]
    assert_db_unchanged(before, after)


def test_reimport_and_repeated_codes_merge_into_one_record(runtime, world):
    first = run_import(runtime, world.operator.actor, csv_bytes(
        "credit_code,name,city,district,revenue_2023",
        f"{HIKVISION},海康威视,杭州,滨江,100",
        f"{HIKVISION.lower()},,,,",  # the same code again, blank: nothing to change
        f"{HIKVISION},,,,",
    ))
    assert (first.created, first.unchanged) == (1, 2)
    second = run_import(runtime, world.operator.actor, csv_bytes(
        "统一社会信用代码,企业名称,企业梯队,2024年营业收入",
        f"{HIKVISION},杭州海康威视数字技术股份有限公司,专精特新“小巨人”企业,200",
    ))
    assert (second.updated, second.failed) == (1, 0)
    moved = run_import(runtime, world.operator.actor, csv_bytes("credit_code,city,district", f"{HIKVISION},宁波,", f"{HIKVISION},杭州,滨江"))
    assert (moved.updated, moved.failed) == (2, 0)  # moving city drops the old city's district
    hik = stored(runtime)
    assert list(hik) == [HIKVISION]
    record = hik[HIKVISION]
    assert (record.name, record.district, record.tiers, record.revenue) == (
        "杭州海康威视数字技术股份有限公司", "滨江区", ["little-giant"], {"2023": 100, "2024": 200}
    )


def test_gb18030_csv_with_chinese_headings_is_read(runtime, world):
    data = csv_bytes("统一社会信用代码,企业名称,城市,区县,人工智能领域,应用场景", f"{DAHUA},浙江大华技术股份有限公司,杭州市,滨江区,视觉智能、智慧安防,城市治理、交通", encoding="gb18030")
    report = run_import(runtime, world.operator.actor, data)
    assert report.created == 1, report.errors
    assert stored(runtime)[DAHUA].ai_fields == ["computer-vision", "security"]
    assert stored(runtime)[DAHUA].scenarios == ["城市治理", "交通"]


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "logo.png", "neither CSV"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", "legacy Excel .xls"),
        (b"", "empty.csv", "is empty"),
        ("name,city\n某公司,杭州\n".encode(), "nocode.csv", "has no 'credit_code'"),
        (f"credit_code,name,city,phone\n{HIKVISION},海康,杭州,123\n".encode(), "extra.csv", "unknown column 'phone'"),
        (f"credit_code,统一社会信用代码\n{HIKVISION},{HIKVISION}\n".encode(), "twice.csv", "the column 'credit_code' twice"),
    ],
)
def test_files_that_cannot_be_read_are_refused_whole(runtime, world, data, filename, message):
    before = db_state(runtime)
    with pytest.raises(Invalid, match=message):
        run_import(runtime, world.operator.actor, data, filename)
    assert_db_unchanged(before, db_state(runtime))


def test_a_zip_that_is_not_a_workbook_is_refused(runtime, world):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.csv", f"credit_code\n{HIKVISION}\n")
    with pytest.raises(Invalid, match="zip archive but not an XLSX"):
        run_import(runtime, world.operator.actor, buffer.getvalue(), "data.xlsx")


def test_files_over_the_limits_are_refused_before_any_row(runtime, world, monkeypatch):
    monkeypatch.setattr(transfer, "MAX_IMPORT_ROWS", 2)
    lines = ["credit_code,name,city", *(f"{code('330106', f'MA2L1M{i:03d}')},某公司{i},杭州" for i in range(3))]
    with pytest.raises(Invalid, match="has more than 2 data rows, the most one import takes"):
        run_import(runtime, world.operator.actor, csv_bytes(*lines))
    monkeypatch.setattr(transfer, "MAX_IMPORT_BYTES", 100)
    with pytest.raises(Invalid, match="is larger than"):
        run_import(runtime, world.operator.actor, csv_bytes(*lines))
    assert stored(runtime) == {}


def test_only_officials_import_and_export(runtime, world, official):
    data = csv_bytes("credit_code,name,city", f"{HIKVISION},海康威视,杭州")
    with pytest.raises(Forbidden, match="may import enterprises"):
        run_import(runtime, world.a_admin.actor, data)
    with runtime.session() as session, pytest.raises(Forbidden, match="may export"):
        enterprises.export_enterprises(session, world.a_admin.actor, "csv")
    assert run_import(runtime, official.actor, data).created == 1


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_an_export_imports_back_unchanged(runtime, world, fmt):
    with runtime.session() as session:
        enterprises.add_sample_enterprises(session, world.operator.actor, count=25, seed=2)
        enterprises.create_enterprise(session, world.operator.actor, enterprises.EnterpriseCreate(
            credit_code=HIKVISION, name="海康威视, \"Hikvision\"; 含分隔符", city="杭州", district=None,
            products=["萤石云, 视频平台"], org_id=world.org_a, revenue={2019: 1},
        ))  # fmt: skip
        original = {e.credit_code: e for e in enterprises.list_enterprises(session, world.operator.actor, limit=200).items}
        data = enterprises.export_enterprises(session, world.operator.actor, fmt)
    if fmt == "xlsx":
        assert data.startswith(b"PK")
    with runtime.session() as session:
        session.execute(sa.delete(Enterprise))
    report = run_import(runtime, world.operator.actor, data, f"export.{fmt}")
    assert (report.format, report.created, report.failed) == (fmt, 26, 0), report.errors
    with runtime.session() as session:
        again = {e.credit_code: e for e in enterprises.list_enterprises(session, world.operator.actor, limit=200).items}
    strip = lambda e: e.model_dump(exclude={"created_at", "updated_at"})
    assert {k: strip(v) for k, v in again.items()} == {k: strip(v) for k, v in original.items()}
    assert run_import(runtime, world.operator.actor, data, f"export.{fmt}").unchanged == 26


def test_export_filters_and_xlsx_numeric_codes(runtime, world):
    from openpyxl import Workbook, load_workbook

    with runtime.session() as session:
        enterprises.add_sample_enterprises(session, world.operator.actor, count=40, seed=3)
        hangzhou = enterprises.export_enterprises(session, world.operator.actor, "xlsx", city="杭州")
        expected = {e.credit_code for e in enterprises.list_enterprises(session, world.operator.actor, city="杭州", limit=200).items}
    sheet = load_workbook(io.BytesIO(hangzhou), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("credit_code", "name", "city") and {r[0] for r in rows[1:]} == expected
    assert {r[2] for r in rows[1:]} == {"杭州市"}

    workbook = Workbook()
    workbook.active.append(["统一社会信用代码", "企业名称", "城市", "发明专利"])
    workbook.active.append([914403001922038216, "华为技术有限公司", "杭州", 3])  # Excel typed the code as a number
    workbook.active.append([HIKVISION, "海康威视", "杭州", 12.0])
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = run_import(runtime, world.operator.actor, buffer.getvalue(), "typed.xlsx")
    assert (report.created, report.failed) == (1, 1)
    assert report.errors[0].column == "统一社会信用代码" and "stored as a number" in report.errors[0].message
    assert stored(runtime)[HIKVISION].invention_patents == 12

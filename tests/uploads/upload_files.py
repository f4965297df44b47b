"""Builders for the upload tests: a template filled with valid rows, as a clerk would in Excel."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, timedelta

import duckdb
from openpyxl import load_workbook

from fundwatch.uploads.templates import template_xlsx
from ingestion.kinds import KINDS_BY_TABLE, Column, VType
from ingestion.normalise import id_check_char

COUNTY = "430121"  # 长沙县 (长沙市 430100)
OTHER_COUNTY = "430203"  # 株洲市芦淞区 (株洲市 430200)
TEXT_VALUES = {"project_type": "金秋助学", "posting_type": "项目挂牌", "relation": "本人",
               "person_category": "独生子女死亡家庭", "allowed_categories": "补助发放、宣传费"}


def person_id(i: int) -> str:
    first17 = f"43012119900101{i:03d}"
    return first17 + id_check_char(first17)


def cell_value(col: Column, i: int) -> object:
    """A valid value of ``col`` for row ``i`` (keys differ from row to row)."""
    if col.name in TEXT_VALUES:
        return TEXT_VALUES[col.name]
    return {
        VType.TEXT: f"{col.name}-{i}", VType.DOCNO: f"湘财社指〔2020〕{i}号",
        VType.DATE: date(2020, 1, 1) + timedelta(days=i),
        VType.MONEY: 1200.5 + i, VType.INT: 30, VType.ID: person_id(i), VType.ACCOUNT: f"62170000111122{i:05d}",
        VType.NAME: "张　三", VType.CODE: COUNTY,
    }[col.vtype]


def valid_rows(table: str, n: int = 3) -> list[list[object]]:
    return [[cell_value(c, i) for c in KINDS_BY_TABLE[table].columns] for i in range(1, n + 1)]


def filled_template(table: str, rows: Sequence[Sequence[object]], unit: str = COUNTY) -> bytes:
    """The downloaded template of ``table`` with ``rows`` typed below its header (openpyxl)."""
    wb = load_workbook(io.BytesIO(template_xlsx(table, unit)))
    ws = wb.worksheets[0]
    for r, row in enumerate(rows, start=2):
        for c, v in enumerate(row, start=1):
            ws.cell(row=r, column=c, value=v)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_bytes(rows: Sequence[Sequence[object]], encoding: str = "utf-8-sig") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode(encoding)


def headers(table: str) -> list[str]:
    return [c.header for c in KINDS_BY_TABLE[table].columns]


def raw_query(warehouse, sql: str, params: Sequence[object] = ()) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()

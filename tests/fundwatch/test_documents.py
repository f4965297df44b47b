"""整改通知书 (.docx) and 整改台账 (.xlsx): read back with python-docx and openpyxl."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

import docx
import pytest
from fw_testdata import (
    ACCOUNT_CS,
    CITY_OWN,
    CS_LATE,
    CS_ROSTER,
    CS_SHARED,
    ID_CS,
    ZZ_FILE,
    ZZ_LATE,
    confirm,
    drive,
    fid,
    step,
    today,
)
from openpyxl import load_workbook

from fundwatch import documents, rectification
from fundwatch.catalog import by_id


@pytest.fixture()
def confirmed(conn, rhome):
    """长沙县: three confirmed (one verified); 长沙市 and 株洲 each their own."""
    for f in (CS_ROSTER, CS_SHARED, CITY_OWN, ZZ_LATE, ZZ_FILE):
        confirm(conn, f)
    drive(conn, rhome, CS_LATE, "verified")
    step(conn, rhome, CS_ROSTER, "county_clerk", "respond", comment=f"已补公示（{ID_CS}）")
    return conn


def _all_text(blob: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        return "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml"))


def test_notice_of_a_county(confirmed):
    blob = documents.notice_docx(confirmed, "430121", viewer_unit="430000")
    d = docx.Document(io.BytesIO(blob))
    text = [p.text for p in d.paragraphs]
    assert text[0] == "整改通知书"
    assert text[1] == f"湘计协监整〔{today().year}〕430121-{today():%m%d}号"
    assert text[2] == "长沙市长沙县计划生育协会："
    assert "湖南省计划生育协会" in text and f"{today().year}年{today().month}月{today().day}日" in text
    sec = d.sections[0]
    assert (round(sec.page_width.mm), round(sec.page_height.mm)) == (210, 297), "A4"
    rows = [[c.text for c in r.cells] for r in d.tables[0].rows]
    assert rows[0] == ["序号", "问题", "涉及对象", "涉及金额（元）", "整改时限", "整改要求"]
    body = rows[1:-1]
    # The open ones only (CS_LATE is verified), earliest due first: the error before the warning.
    assert [r[0] for r in body] == ["1", "2"]
    assert body[0][1].startswith(f"名单公示期不足（问题编号 {fid(CS_ROSTER)}）")
    assert body[0][2] == "JQZX-2020-430121|430121********1236"
    assert body[0][3] == "1,500.50" and body[1][3] == "800.00"
    assert body[0][4] == rectification.get(confirmed, fid(CS_ROSTER))["due"]
    assert body[1][5] == by_id()["PAY_SHARED_ACCOUNT"].requirement
    assert rows[-1][0] == "合计 2 条" and rows[-1][3] == "2,300.50"
    everything = _all_text(blob)
    assert ID_CS not in everything and ACCOUNT_CS not in everything, "personal data masked"
    assert "超期发放" not in everything, "a verified rectification is not in the notice"


def test_notice_scope_and_empty(confirmed):
    for viewer in ("430000", "430100", "430121"):
        documents.notice_docx(confirmed, "430121", viewer_unit=viewer)
    for viewer, unit in (("430200", "430121"), ("430122", "430121"), ("430121", "430100"), ("430100", "430202")):
        with pytest.raises(rectification.NotFound):
            documents.notice_docx(confirmed, unit, viewer_unit=viewer)
    with pytest.raises(rectification.NotFound, match="没有待整改"):
        documents.notice_docx(confirmed, "430102", viewer_unit="430000")


def _ledger(conn, viewer, unit=None):
    wb = load_workbook(io.BytesIO(documents.ledger_xlsx(conn, viewer, unit=unit)))
    return wb, wb.active


def test_ledger_of_the_province(confirmed):
    wb, ws = _ledger(confirmed, "430000")
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("序号", "问题描述", "责任单位", "涉及金额", "整改时限", "整改措施", "整改进展", "销号情况")
    assert len(rows) == 1 + 6 and [r[0] for r in rows[1:]] == [1, 2, 3, 4, 5, 6]
    by_fid = {r[1].rsplit("问题编号 ", 1)[1].rstrip("）"): (i, r) for i, r in enumerate(rows[1:], start=2)}
    i, late = by_fid[fid(CS_LATE)]
    assert late[2] == "长沙市长沙县计划生育协会" and late[3] == 3000 and late[7].startswith("已销号（")
    assert isinstance(late[4], datetime)
    i, roster = by_fid[fid(CS_ROSTER)]
    assert roster[5] == "已补公示（430121********1236）" and roster[6].startswith("已反馈")
    assert roster[7] == "未销号"
    money = ws.cell(row=i, column=4)
    assert money.data_type == "n" and money.value == 1500.5 and money.number_format == "#,##0.00"
    _, zz = by_fid[fid(ZZ_LATE)]
    assert zz[3] == 1234567.89
    _, bad = by_fid[fid(ZZ_FILE)]
    assert bad[1].startswith("文件无法识别或读取：=文件表头"), "text inside a cell, not at its start"
    # Formula-safe: no cell is a formula; every text that would start one starts with an apostrophe.
    for row in ws.iter_rows():
        for c in row:
            assert c.data_type != "f"
            if isinstance(c.value, str):
                assert not c.value.startswith(("=", "+", "-", "@"))
    # Printing: A4 landscape, header frozen and repeated.
    assert ws.freeze_panes == "A2"
    assert ws.page_setup.orientation == "landscape" and str(ws.page_setup.paperSize) == "9"
    assert ws.print_title_rows == "$1:$1"
    assert ID_CS not in _all_text(documents.ledger_xlsx(confirmed, "430000"))


def test_ledger_follows_the_scope(confirmed):
    def fids(viewer, unit=None):
        _, ws = _ledger(confirmed, viewer, unit)
        return {r[1].rsplit("问题编号 ", 1)[1].rstrip("）") for r in list(ws.iter_rows(values_only=True))[1:]}

    cs = {fid(CS_LATE), fid(CS_ROSTER), fid(CS_SHARED)}
    assert fids("430100") == cs | {fid(CITY_OWN)}
    assert fids("430121") == cs
    assert fids("430200") == fids("430202") == {fid(ZZ_LATE), fid(ZZ_FILE)}
    assert fids("430000", "430100") == {fid(CITY_OWN)}
    assert fids("430122") == set()
    with pytest.raises(rectification.NotFound):
        documents.ledger_xlsx(confirmed, "430100", unit="430202")


def test_a_formula_typed_by_a_clerk_stays_text(conn, rhome):
    drive(conn, rhome, ZZ_LATE, "notified")
    step(conn, rhome, ZZ_LATE, "other_county_clerk", "respond", comment='=HYPERLINK("http://x.example","点此")')
    _, ws = _ledger(conn, "430202")
    cell = ws.cell(row=2, column=6)
    assert cell.data_type == "s" and cell.value == '\'=HYPERLINK("http://x.example","点此")'

"""Builders for ingestion tests: inbox files (CSV in each encoding, xlsx with number/date cells), a loader."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import duckdb
import openpyxl

from ingestion import LoadReport, load_inbox
from ingestion.kinds import KINDS

PAY_HEADER = ["交易流水号", "发放批次", "项目编码", "姓名", "公民身份号码", "银行账号", "开户银行",
              "金额（元）", "发放日期", "发放单位代码", "备注"]
ID1 = "430102199001011238"  # valid check digit
ID2 = "43012119850315003X"


def pay_row(ref: str = "T001", amount: object = "1200.00", *, name: object = "张三", id_number: object = ID1,
            account: object = "6217000011112222", date: object = "2020-06-30", unit: object = "430121",
            project: object = "P2020001") -> list[object]:
    return [ref, "第一批", project, name, id_number, account, "农行", amount, date, unit, ""]


def write_csv(path: Path, rows: Sequence[Sequence[object]], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: Sequence[Sequence[object]], *, hidden_first: bool = False,
               text_columns: Sequence[int] = ()) -> Path:
    """An xlsx whose cells keep their Python types (float/int -> number cells, date -> date cells)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    ws = wb.active
    if hidden_first:
        ws.title = "说明"
        ws["A1"] = "本表为隐藏的说明页"
        ws["A2"] = "交易流水号"
        ws.sheet_state = "hidden"
        ws = wb.create_sheet("明细")
    for r in rows:
        ws.append(list(r))
    for col in text_columns:
        for row in ws.iter_rows(min_col=col + 1, max_col=col + 1):
            for cell in row:
                cell.number_format = "@"
    wb.save(path)
    return path


class Warehouse:
    """A warehouse under test with a loader bound to one inbox."""

    def __init__(self, inbox: Path, path: Path) -> None:
        self.inbox, self.path, self.runs = inbox, path, 0

    def load(self, **kw) -> LoadReport:
        self.runs += 1
        kw.setdefault("loaded_at", datetime(2021, 4, 30, 8, 0, 0))
        return load_inbox(self.inbox, self.path, run_id=f"run{self.runs}", **kw)

    def q(self, sql: str, params: list | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def files(self) -> dict[str, tuple]:
        """source_file -> (status, reason, rows_loaded, rows_rejected, kind) of current versions."""
        return {r[0]: r[1:] for r in self.q(
            "SELECT source_file, status, reason, rows_loaded, rows_rejected, kind "
            "FROM raw.files WHERE is_current")}

    def rejected(self) -> list[tuple]:
        return self.q("SELECT source_file, source_row, reason FROM raw.rejected_rows ORDER BY 1, 2")

    def snapshot(self, *, history: bool = True) -> dict[str, list[tuple]]:
        """The raw layer (and ``history``: raw_history) with values, reasons, row numbers and lineage,
        all but the run id and load time: what two ways of loading the same inbox agree on."""
        out = {}
        for k in KINDS:
            cols = ", ".join(c.name for c in k.columns)
            out[k.table] = self.q(
                f"SELECT {cols}, source_file, source_row, file_sha256 FROM raw.{k.table} ORDER BY ALL")
        out["files"] = self.q("SELECT source_file, file_sha256, kind, status, reason, rows_loaded, rows_rejected, "
                              "is_current FROM raw.files ORDER BY ALL")
        out["rejected"] = self.q("SELECT source_file, source_row, kind, reason, raw_values, file_sha256 "
                                 "FROM raw.rejected_rows ORDER BY ALL")
        out["totals"] = self.q("SELECT * FROM raw.total_mismatches ORDER BY ALL")
        if history:
            out["contents"] = self.q("SELECT file_sha256, kind, status, reason, header_row, data_rows, rows_valid, "
                                     "rows_rejected FROM raw_history.contents ORDER BY ALL")
            out["history_rejects"] = self.q("SELECT * FROM raw_history.row_rejects ORDER BY ALL")
            out["total_checks"] = self.q("SELECT * FROM raw_history.total_checks ORDER BY ALL")
        return out

"""The generator's own invariants: figures, kinds, identities, determinism and the expected file."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from gen_reader import find_header, read_cells, records

from fundwatch.generator import generate
from fundwatch.generator.ids import id_is_valid
from fundwatch.generator.schema import KINDS
from fundwatch.paths import REFERENCE_DIR, RULE_CATALOG_CSV

DOC36 = "湘财社指〔2020〕36号"
DOC37 = "湘财社指〔2020〕37号"
SOURCE_SUBJECTS = {"allocation", "transfer", "payment", "roster_entry", "expenditure"}


def _data_files(demo, kind: str) -> list[Path]:
    return [demo.result.inbox / m["path"] for m in demo.manifest if m["kind"] == kind and m["status"] == "data"]


def _doc(v: object) -> str:
    return re.sub(r"[\[【(（]", "〔", re.sub(r"[\]】)）]", "〕", str(v)))


def test_allocation_documents_sum_to_the_domain_figures(demo) -> None:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    recipients: set[str] = set()
    for path in _data_files(demo, "allocations"):
        for _, rec in records(path, "allocations"):
            assert rec is not None
            totals[_doc(rec["doc_no"])] += rec["amount"]
            recipients.add(rec["recipient_code"])
    assert set(totals) == {DOC36, DOC37}
    assert totals[DOC36] + totals[DOC37] == Decimal("51660000.00")
    with open(REFERENCE_DIR / "hunan_divisions_2020.csv", encoding="utf-8") as fh:
        divisions = {r["code"]: r["level"] for r in csv.DictReader(fh)}
    levels = [divisions[c] for c in recipients]
    assert levels.count("prefecture") == 14 and levels.count("county") == 122


def test_every_file_is_recognised_as_the_kind_it_claims(demo) -> None:
    assert {m["kind"] for m in demo.manifest if m["status"] != "rejected"} == set(KINDS)
    for m in demo.manifest:
        path = demo.result.inbox / m["path"]
        assert path.exists(), m["path"]
        if m["status"] == "rejected":
            if path.suffix in (".xlsx", ".csv"):
                assert find_header(read_cells(path)) is None, m["path"]
            continue
        found = find_header(read_cells(path))
        assert found is not None and found[1] == [m["kind"]], m["path"]


def test_formats_and_encodings_all_occur(demo) -> None:
    formats = {m["format"] for m in demo.manifest}
    assert {"xlsx", "csv-utf8", "csv-bom", "csv-gb18030", "xls", "docx", "pdf"} <= formats
    assert any(m["status"] == "duplicate" for m in demo.manifest)
    assert any(m["total_row"] for m in demo.manifest)


def test_ids_are_valid_except_the_planted_invalid_ones(demo) -> None:
    invalid_paid: set[str] = set()
    checked = 0
    for path in _data_files(demo, "payments"):
        for _, rec in records(path, "payments"):
            if rec is not None:
                checked += 1
                if not id_is_valid(rec["id_number"], rec["pay_date"]):
                    invalid_paid.add(rec["txn_ref"])
    planted = {f["subject_key"] for f in demo.findings if f["rule_id"] == "PAY_INVALID_ID"}
    assert checked >= 390
    assert invalid_paid == planted and 3 <= len(planted) <= 10


def test_ages_fit_the_project_type(demo) -> None:
    for path in _data_files(demo, "roster"):
        for _, rec in records(path, "roster"):
            if rec is None or not id_is_valid(rec["id_number"], date(2020, 12, 31)):
                continue  # planted invalid IDs (incl. one "born" after its payment)
            born = int(rec["id_number"][6:10])
            if rec["project_code"].endswith("JQZX"):
                assert 1999 <= born <= 2003
            if rec["project_code"].endswith("TSJT"):
                assert born <= 1972


def test_unreadable_rows_are_reported_as_rejected(demo) -> None:
    unreadable = set()
    for kind in KINDS:
        for path in _data_files(demo, kind):
            rel = path.relative_to(demo.result.inbox).as_posix()
            unreadable |= {f"{rel}|{row}" for row, rec in records(path, kind) if rec is None}
    rejected = {f["subject_key"] for f in demo.findings if f["rule_id"] == "ROW_REJECTED"}
    assert unreadable and unreadable <= rejected
    assert len(rejected - unreadable) % 2 == 0  # key conflicts come in pairs


def test_every_rule_of_the_catalogue_has_expected_cases(demo) -> None:
    with open(RULE_CATALOG_CSV, encoding="utf-8") as fh:
        catalogue = {r["rule_id"] for r in csv.DictReader(fh)}
    assert catalogue <= {f["rule_id"] for f in demo.findings}


def test_expected_file_shape_and_lineage(demo) -> None:
    with open(demo.result.expected_findings, encoding="utf-8") as fh:
        header = fh.readline().strip()
    assert header == "rule_id,subject_type,subject_key,amount_at_risk,source_file,source_row,unit_code"
    paths = {m["path"] for m in demo.manifest if m["status"] != "rejected"}
    lineage = {m["lineage"] for m in demo.manifest}
    for f in demo.findings:
        assert re.fullmatch(r"\d+\.\d\d", f["amount_at_risk"]), f
        if f["subject_type"] in SOURCE_SUBJECTS:
            assert f["source_file"] in paths and f["source_file"] in lineage, f
            assert int(f["source_row"]) >= 2, f
        else:
            assert f["source_file"] == "" and f["source_row"] == "", f
        if f["subject_type"] == "allocation":
            assert f["subject_key"].startswith(("湘财社指〔2020〕36号|", "湘财社指〔2020〕37号|"))


@pytest.mark.parametrize(
    ("subject_type", "kind", "key_field"),
    [
        pytest.param("payment", "payments", "txn_ref", id="payment"),
        pytest.param("transfer", "credits", "txn_ref", id="transfer"),
        pytest.param("expenditure", "expenditures", "voucher_no", id="expenditure"),
    ],
)
def test_source_row_is_the_row_a_person_sees(demo, subject_type: str, kind: str, key_field: str) -> None:
    cache: dict[str, dict[int, dict]] = {}
    hits = [f for f in demo.findings if f["subject_type"] == subject_type]
    assert hits
    for f in hits:
        if f["source_file"] not in cache:
            cache[f["source_file"]] = dict(records(demo.result.inbox / f["source_file"], kind))
        rec = cache[f["source_file"]][int(f["source_row"])]
        assert rec is not None and rec[key_field] == f["subject_key"], f


def test_planted_volume_is_modest(demo) -> None:
    payments = demo.result.counts["payment_rows"]
    flagged = {f["subject_key"] for f in demo.findings if f["subject_type"] == "payment"}
    assert 0 < len(flagged) / payments < 0.12


def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", seed=11, payments=150)
    b = generate(tmp_path / "b", seed=11, payments=150)
    c = generate(tmp_path / "c", seed=12, payments=150)

    def tree(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    assert tree(a.inbox) == tree(b.inbox)
    assert a.expected_findings.read_bytes() == b.expected_findings.read_bytes()
    assert tree(a.inbox) != tree(c.inbox)


def test_as_of_rules_wait_for_their_deadlines(tmp_path: Path, demo) -> None:
    early = generate(tmp_path, seed=2020, payments=400, as_of=date(2020, 9, 30))
    inbox_bytes = {p.relative_to(early.inbox): p.read_bytes() for p in early.inbox.rglob("*") if p.is_file()}
    assert inbox_bytes == {
        p.relative_to(demo.result.inbox): p.read_bytes() for p in demo.result.inbox.rglob("*") if p.is_file()
    }
    with open(early.expected_findings, encoding="utf-8") as fh:
        early_rules = {r["rule_id"] for r in csv.DictReader(fh)}
    late_rules = {f["rule_id"] for f in demo.findings}
    for rule in ("ROSTER_UNPAID", "PROJ_REPORT_MISSING", "PROJ_FUNDS_IDLE"):
        assert rule in late_rules and rule not in early_rules


def test_large_files_are_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fundwatch.generator import build

    monkeypatch.setattr(build, "XLSX_MAX_ROWS", 20)
    result = generate(tmp_path, seed=3, payments=600)
    with open(tmp_path / "manifest.csv", encoding="utf-8") as fh:
        big = [r for r in csv.DictReader(fh) if r["kind"] == "payments" and int(r["rows"]) > 20]
    assert big and all(r["format"] != "xlsx" for r in big)
    assert result.counts["payment_rows"] >= 600


def _cells_by_type(demo) -> dict[str, list[object]]:
    from gen_reader import norm_label

    out: dict[str, list[object]] = defaultdict(list)
    for m in demo.manifest:
        if m["status"] != "data":
            continue
        rows = read_cells(demo.result.inbox / m["path"])
        h, _ = find_header(rows)
        types = {norm_label(c.header): c.vtype for c in KINDS[m["kind"]]}
        col_types = [types.get(norm_label(c)) for c in rows[h]]
        out["header"].extend(rows[h])
        out["layout"].append(("title", h))
        out["layout"].extend(("first", r[0]) for r in rows[h + 1 :] if r and r[0] not in (None, ""))
        out["layout"].extend(("blank", 1) for r in rows[h + 1 :] if all(c in (None, "") for c in r))
        for r in rows[h + 1 :]:
            for t, c in zip(col_types, r, strict=False):
                if t is not None and c not in (None, ""):
                    out[t].append(c)
    return out


_FW_DIGIT = re.compile("[０-９]")
VARIANTS = [
    ("date", "excel date cell", lambda c: hasattr(c, "year")),
    ("date", "2020-06-30", lambda c: isinstance(c, str) and re.fullmatch(r"2020-\d\d-\d\d", c)),
    ("date", "2020/6/30", lambda c: isinstance(c, str) and re.fullmatch(r"20\d\d/\d{1,2}/\d{1,2}", c)),
    ("date", "2020.6.30", lambda c: isinstance(c, str) and re.fullmatch(r"20\d\d\.\d{1,2}\.\d{1,2}", c)),
    ("date", "2020年6月30日", lambda c: isinstance(c, str) and c.endswith("日")),
    ("date", "20200630", lambda c: isinstance(c, str) and re.fullmatch(r"20\d{6}", c)),
    ("money", "number cell", lambda c: isinstance(c, float | int)),
    ("money", "1,200.00", lambda c: isinstance(c, str) and "," in c and not c.startswith("￥")),
    ("money", "1200元", lambda c: isinstance(c, str) and c.endswith("元")),
    ("money", "￥1,200.00", lambda c: isinstance(c, str) and c.startswith("￥")),
    ("money", "full-width digits", lambda c: isinstance(c, str) and _FW_DIGIT.search(c)),
    ("id", "lowercase x", lambda c: isinstance(c, str) and c.endswith("x")),
    ("id", "spaces inside", lambda c: isinstance(c, str) and " " in c.strip()),
    ("id", "full-width digits", lambda c: isinstance(c, str) and _FW_DIGIT.search(c)),
    ("id", "15-digit old number", lambda c: isinstance(c, str) and re.fullmatch(r"\d{15}", c)),
    ("account", "spaces", lambda c: isinstance(c, str) and " " in c),
    ("account", "dashes", lambda c: isinstance(c, str) and "-" in c),
    ("account", "number cell", lambda c: isinstance(c, float | int)),
    ("name", "padded with a full-width space", lambda c: "\u3000" in str(c)),
    ("name", "surrounding spaces", lambda c: str(c) != str(c).strip()),
    ("name", "• ・ or ･ dot", lambda c: re.search("[•・･]", str(c))),
    ("code", "number cell", lambda c: isinstance(c, float | int)),
    ("docno", "[] brackets", lambda c: "[" in str(c)),
    ("docno", "【】 brackets", lambda c: "【" in str(c)),
    ("header", "half-width brackets", lambda c: "(元)" in str(c)),
    ("header", "padded header", lambda c: str(c) != str(c).strip()),
    ("header", "序号 column", lambda c: c == "序号"),
    ("layout", "title rows", lambda c: c[0] == "title" and c[1] > 0),
    ("layout", "合计 line", lambda c: c[0] == "first" and str(c[1]).startswith("合计")),
    ("layout", "总计 line", lambda c: c[0] == "first" and str(c[1]).startswith("总计")),
    ("layout", "blank row", lambda c: c[0] == "blank"),
]


@pytest.fixture(scope="module")
def cells(demo) -> dict[str, list[object]]:
    return _cells_by_type(demo)


@pytest.mark.parametrize(("type_", "variant", "check"), [pytest.param(*v, id=f"{v[0]}-{v[1]}") for v in VARIANTS])
def test_every_messiness_of_source_files_occurs(cells, type_: str, variant: str, check) -> None:
    assert any(check(c) for c in cells[type_]), f"{type_}: no cell in the form {variant}"


def test_bytes_do_not_depend_on_hash_seed_or_process(tmp_path: Path) -> None:
    import hashlib
    import os
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from fundwatch.generator import generate; "
        "generate(Path(sys.argv[1]), seed=5, payments=200)"
    )

    def digest(root: Path) -> str:
        h = hashlib.sha256()
        for p in sorted(root.rglob("*")):
            if p.is_file():
                h.update(p.relative_to(root).as_posix().encode() + p.read_bytes())
        return h.hexdigest()

    for n in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": n}
        subprocess.run([sys.executable, "-c", code, str(tmp_path / n)], check=True, env=env)
    assert digest(tmp_path / "1") == digest(tmp_path / "2")


def test_register_rules_fire_exactly_where_the_files_say(demo) -> None:
    """Dead payees (death strictly before payment) and staff relatives of the paying unit, read back
    from the files: the expected file lists exactly those (the same-day death and the relative at
    another association are planted near misses)."""
    deaths = {
        r["id_number"]: r["death_date"] for p in _data_files(demo, "deaths") for _, r in records(p, "deaths") if r
    }
    staff = {(r["id_number"], r["unit_code"]) for p in _data_files(demo, "staff") for _, r in records(p, "staff") if r}
    dead_paid, staff_paid, near_miss = set(), set(), 0
    for path in _data_files(demo, "payments"):
        for _, r in records(path, "payments"):
            if r is None:
                continue
            died = deaths.get(r["id_number"])
            if died is not None and died < r["pay_date"]:
                dead_paid.add(r["txn_ref"])
            near_miss += died == r["pay_date"]
            if (r["id_number"], r["unit_code"]) in staff:
                staff_paid.add(r["txn_ref"])
    expected = defaultdict(set)
    for f in demo.findings:
        expected[f["rule_id"]].add(f["subject_key"])
    assert dead_paid == expected["PAY_DECEASED"] and dead_paid
    assert staff_paid == expected["PAY_STAFF_RELATED"] and staff_paid
    assert near_miss >= 1

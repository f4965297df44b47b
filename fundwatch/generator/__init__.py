"""Demo-province data generator: the 2020 inbox of the Hunan Family Planning Association.

``generate(out_dir, seed=..., payments=..., as_of=...)`` writes ``out_dir/inbox/**`` (the files a
clerk would drop), ``out_dir/expected_findings.csv`` (what the pipeline must find when run on
``as_of``) and ``out_dir/manifest.csv`` (every file with its kind, format and status). The bytes
depend on ``seed`` and ``payments`` only: never on the wall clock, nor on ``as_of`` (which only
decides which as-of rules fire in the expected file).

What is in the inbox
--------------------
- 资金指标: 湘财社指〔2020〕36号 (individual-payment projects, 31,000,000.00 元) and 37号 (other
  projects, 20,660,000.00 元), together 51,660,000.00 元, one line per project for the 14 市州 and
  122 county associations of 2020; 37号 is also delivered as an exact copy under 省财政厅/备份/.
- 资金到账 per month, 项目文本 (two files), 上报名单 and 发放明细 per 市州 (plus 补报材料/ supplements),
  支出明细 and 集体决策记录 per 市州, 公示记录, 终期报告, 死亡登记 (GB18030 CSV) and the
  staff-and-relatives register (xlsx whose first sheet is hidden).
- Messiness: xlsx and CSV (UTF-8, UTF-8 BOM, GB18030), title rows, 合计/总计 lines, blank rows, a 序号
  column, shuffled columns, header bracket variants, every date/money/ID/account/name variant of
  source-files.md (a few percent of cells at random; the first rows of 补报材料/*, of 长沙市's roster,
  株洲市's payments and of the death register walk through all of them), Excel date and number
  cells (accounts only up to 15 digits, e.g. passbooks), misleading file names in sub-folders
  (长沙市/长沙县…发放明细（第二批）.* is a roster, 株洲市/上报材料/终稿/上报名单（定稿）.* holds payments).
  Above 20,000 rows a file is CSV (``build.XLSX_MAX_ROWS``).

What is planted where
---------------------
- Funds: two allocations credited at 90 % (ALLOC_SHORT), one credited twice (ALLOC_OVER), two credited
  after the deadline (ALLOC_LATE), one credited exactly on the deadline and one with 拨付时限 60 days
  (no finding), a credit quoting 38号 and a credit to a unit that has no such project
  (TRANSFER_UNMATCHED), an association with two 37号 projects and a credit without 项目编码
  (ambiguous: TRANSFER_UNMATCHED and ALLOC_SHORT).
- Payments and rosters (counts scale with ``payments``, see ``build.PAYMENT_PLANTS``): each case is an
  extra person in a random individual-payment project: off the roster, wrong name, account or
  amount, over the standard, before the end of the posting, late, paid twice, invalid IDs (check
  character, 19800230, 17 characters, born after payment), dead payees (and one dying on the pay
  day: no finding), staff relatives (and one of another unit: no finding), shared accounts (also
  across projects), unpaid roster entries, short or missing posting periods, an unknown 项目编码, a
  combination (late + dead + wrong name), edge days (paid on the deadline / the day after posting).
- Rows: unreadable dates and amounts, empty keys, a 19-digit account typed as an Excel number (digits
  lost), a payment whose 交易流水号 clashes between two files, a voucher that clashes, a roster line
  repeated with equal values in 补报材料/ (one record; its lineage is the smaller path).
- Vouchers: unknown project, category not allowed, before start / after end, large amounts without a
  (timely, own-unit) decision, one exactly at the threshold with its decision (no finding).
- Projects: over budget, no signboard or a late one, missing / late / mismatching final reports,
  projects that spent only 80 % of their credits (PROJ_FUNDS_IDLE).
- Files: an unknown header, a header below 5 title rows, .xls/.docx/.pdf (FILE_REJECTED); wrong 合计
  lines in 湘潭市's voucher file and in May's bank credits (FILE_TOTAL_MISMATCH).

Deadlines are in 2020 (payments by 2020-10-31 / 2020-12-20, final reports by 2021-01-31 or
2021-03-31, projects ending 2020-11-30 or 2020-12-31), so every as-of rule fires on 2021-04-30 and
several do not fire on earlier run dates. The expected file is *computed* from the written records
by ``expected.Engine`` (an independent implementation of rules.md), not listed from the plan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from fundwatch.generator.build import Builder

__all__ = ["GeneratedInbox", "generate"]


@dataclass(frozen=True)
class GeneratedInbox:
    """Where the files went and how many of each thing were written."""

    inbox: Path
    expected_findings: Path
    counts: dict[str, int]


def generate(
    out_dir: Path,
    *,
    seed: int = 2020,
    payments: int = 400,
    as_of: date = date(2021, 4, 30),
    progress: Callable[[str], None] | None = None,
) -> GeneratedInbox:
    """Write ``out_dir/inbox/**`` and ``out_dir/expected_findings.csv`` (and ``manifest.csv``).

    ``payments`` is the size knob (about that many payment rows; a few hundred for tests, up to 10
    million for benchmarks). An existing ``out_dir/inbox`` is replaced.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    inbox, expected, counts = Builder(out_dir, seed, payments, as_of, progress).run()
    return GeneratedInbox(inbox, expected, counts)

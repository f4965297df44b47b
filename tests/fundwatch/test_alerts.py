"""The failure hook of the daily DAG: one masked line per failed run (the alert goes out from here)."""

from __future__ import annotations

import logging

from fundwatch.alerts import on_run_failure

ID = "43010219800101001X"  # synthetic


def test_a_failed_run_is_logged_with_its_run_and_reason_and_no_personal_data(caplog):
    context = {"run_id": "scheduled__2021-04-30T06:00:00+08:00", "logical_date": "2021-04-30 06:00:00+08:00",
               "reason": f"task_failure: 无法读取 {ID}"}
    with caplog.at_level(logging.ERROR, logger="fundwatch.alerts"):
        on_run_failure(context)
    [record] = caplog.records
    line = record.getMessage()
    assert "每日运行失败" in line and "scheduled__2021-04-30" in line and "task_failure" in line
    assert ID not in line and "430102********001X" in line

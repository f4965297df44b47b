"""fundwatch.alerts, by mail to a local SMTP server (aiosmtpd): what the office receives when a run
fails and when no run has completed by 08:00. The real failed run under the scheduler is in
tests/production/test_celery_stack.py; here the context is shaped as Airflow's."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from fw_testdata import mail_url

from fundwatch import alerts, notify, state
from fundwatch.paths import Home

ID_NUMBER = "430121198505051236"  # synthetic
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _context(home: Home, task: str = "ingest") -> dict:
    ti = SimpleNamespace(dag_id="fundwatch_daily", run_id="scheduled__2021-05-01", task_id=task, try_number=1)
    return {"run_id": ti.run_id, "ti": ti, "reason": "task_failure", "params": {"home": str(home.root)},
            "logical_date": datetime(2021, 5, 1, 6, 0, tzinfo=SHANGHAI), "dag_run": SimpleNamespace(run_id=ti.run_id)}


def _recorded(home: Home, day: date) -> None:
    state.record_run(home.state_db, run_id=f"r{day}", run_date=day, findings=[{
        "rule_id": "PAY_LATE", "subject_type": "payment", "subject_key": "TX1", "amount_at_risk": Decimal("1.00")}])


def _text(msg) -> str:
    return msg.get_body(("plain", "html")).get_content()


def test_a_failed_run_mails_the_office_with_the_task_and_its_error(tmp_path, smtp, monkeypatch):
    controller, handler = smtp
    home = Home(tmp_path / "home").ensure()
    _recorded(home, date(2021, 4, 30))
    logs = tmp_path / "logs"
    log_file = logs / "dag_id=fundwatch_daily" / "run_id=scheduled__2021-05-01" / "task_id=ingest" / "attempt=1.log"
    log_file.parent.mkdir(parents=True)
    log_file.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in (
        {"level": "info", "event": "starting"},
        {"level": "error", "event": "Task failed with exception", "error_detail": [
            {"exc_type": "RunRefused", "exc_value": f"收件箱目录不存在：/data/inbox（{ID_NUMBER}）"}]},
        {"level": "info", "event": "done"})), encoding="utf-8")
    monkeypatch.setenv("AIRFLOW__LOGGING__BASE_LOG_FOLDER", str(logs))
    monkeypatch.setenv(notify.ENV_URLS, mail_url(controller.port, "office@example.org"))

    alerts.on_run_failure(_context(home))

    [(rcpts, msg)] = handler.wait()
    body = _text(msg)
    assert rcpts == ["office@example.org"]
    assert msg["Subject"] == "【fundwatch】每日运行失败 daily run failed：2021-05-01"
    assert "ingest" in body and "task_failure" in body
    assert "RunRefused: 收件箱目录不存在" in body
    assert "上一次完整运行（2021-04-30）" in body and "last complete run (2021-04-30)" in body
    assert ID_NUMBER not in body  # masked, as every line of an alert


def test_the_watchdog_is_quiet_when_the_day_is_recorded(tmp_path, smtp, monkeypatch):
    controller, handler = smtp
    home = Home(tmp_path / "home").ensure()
    _recorded(home, date(2021, 5, 1))
    monkeypatch.setenv(notify.ENV_URLS, mail_url(controller.port, "office@example.org"))
    assert alerts.check_day(home, date(2021, 5, 1)) == {
        "day": "2021-05-01", "recorded": True, "latest": "2021-05-01", "alerted": False}
    assert handler.messages == []


def test_the_watchdog_mails_when_the_day_is_missing(tmp_path, smtp, monkeypatch):
    controller, handler = smtp
    home = Home(tmp_path / "home").ensure()
    _recorded(home, date(2021, 4, 30))
    monkeypatch.setenv(notify.ENV_URLS, mail_url(controller.port, "office@example.org"))
    assert alerts.check_day(home, date(2021, 5, 1))["alerted"] is True
    [(_rcpts, msg)] = handler.wait()
    assert msg["Subject"] == "【fundwatch】截至 08:00 今日运行未完成 no complete run by 08:00：2021-05-01"
    assert "2021-04-30" in _text(msg)
    # A home without any run yet is missing its day too.
    assert alerts.check_day(Home(tmp_path / "empty"), date(2021, 5, 1))["latest"] is None


def test_an_alert_that_cannot_be_sent_is_logged_not_raised(tmp_path, monkeypatch, caplog):
    home = Home(tmp_path / "home").ensure()
    monkeypatch.setenv(notify.ENV_URLS, "change-me")  # .env.example's placeholder left in place
    with caplog.at_level(logging.ERROR, logger="fundwatch.alerts"):
        alerts.on_run_failure(_context(home, task="validate"))
        assert alerts.check_day(home, date(2021, 5, 1))["alerted"] is False
    assert "alert not sent" in caplog.text

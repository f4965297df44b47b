"""fundwatch.notify: a real mail through apprise to a local SMTP server (aiosmtpd)."""

from __future__ import annotations

import pytest
from fw_testdata import free_port, mail_url

from fundwatch import notify


def test_a_message_arrives_by_mail(smtp):
    controller, handler = smtp
    url = mail_url(controller.port, "office@example.org")
    delivery = notify.send("监督日报 2021-04-30", "新增问题线索 3 条", urls=url)
    assert delivery.sent and delivery.channels == 1
    rcpts, msg = handler.wait()[0]
    assert rcpts == ["office@example.org"]
    assert msg["Subject"] == "监督日报 2021-04-30"
    assert "新增问题线索 3 条" in msg.get_body(("plain", "html")).get_content()


def test_nothing_configured_sends_nothing(monkeypatch):
    monkeypatch.delenv(notify.ENV_URLS, raising=False)
    assert notify.send("t", "b") == notify.Delivery(0, False)


def test_a_channel_that_refuses_is_reported_not_hidden():
    delivery = notify.send("t", "b", urls=mail_url(free_port(), "b@example.org"))  # nothing listens there
    assert delivery.configured and not delivery.sent


def test_urls_from_the_environment(monkeypatch):
    monkeypatch.setenv(notify.ENV_URLS, "mailto://a, dingtalk://b  wecombot://c")
    assert notify.configured_urls() == ["mailto://a", "dingtalk://b", "wecombot://c"]


def test_a_bad_url_is_an_error():
    with pytest.raises(ValueError, match="apprise"):
        notify.send("t", "b", urls="nosuchscheme://x")

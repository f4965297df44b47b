"""fundwatch.notify: a real mail through apprise to a local SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
import time
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from fundwatch import notify


class _Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def smtp():
    handler = _Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


def test_a_message_arrives_by_mail(smtp):
    controller, handler = smtp
    url = f"mailto://127.0.0.1:{controller.port}?from=fundwatch@example.org&to=office@example.org&mode=insecure"
    delivery = notify.send("监督日报 2021-04-30", "新增问题线索 3 条", urls=url)
    assert delivery.sent and delivery.channels == 1
    for _ in range(50):
        if handler.messages:
            break
        time.sleep(0.1)
    rcpts, msg = handler.messages[0]
    assert rcpts == ["office@example.org"]
    assert msg["Subject"] == "监督日报 2021-04-30"
    assert "新增问题线索 3 条" in msg.get_body(("plain", "html")).get_content()


def test_nothing_configured_sends_nothing(monkeypatch):
    monkeypatch.delenv(notify.ENV_URLS, raising=False)
    assert notify.send("t", "b") == notify.Delivery(0, False)


def test_a_channel_that_refuses_is_reported_not_hidden():
    port = _free_port()  # nothing listens there
    delivery = notify.send("t", "b", urls=f"mailto://127.0.0.1:{port}?from=a@example.org&to=b@example.org&mode=insecure")
    assert delivery.configured and not delivery.sent


def test_urls_from_the_environment(monkeypatch):
    monkeypatch.setenv(notify.ENV_URLS, "mailto://a, dingtalk://b  wecombot://c")
    assert notify.configured_urls() == ["mailto://a", "dingtalk://b", "wecombot://c"]


def test_a_bad_url_is_an_error():
    with pytest.raises(ValueError, match="apprise"):
        notify.send("t", "b", urls="nosuchscheme://x")

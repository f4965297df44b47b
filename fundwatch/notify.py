"""Notifications to the office and the associations, through apprise (DingTalk, WeCom bot, e-mail).

Where messages go is configured by apprise URLs, never in code: ``$FUNDWATCH_NOTIFY_URLS`` (several
separated by spaces or commas), e.g. ``mailtos://user:pass@smtp.example.org?to=office@example.org``,
``dingtalk://TOKEN/``, ``wecombot://KEY``. Secrets stay in the environment (``.env`` in production).
An empty configuration sends nothing and says so; a configured channel that fails is an error the
caller reports (an alert nobody receives must not look like one that was sent).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)
ENV_URLS = "FUNDWATCH_NOTIFY_URLS"


@dataclass(frozen=True)
class Delivery:
    """What happened to one message: how many channels were configured and whether all took it."""

    channels: int
    sent: bool

    @property
    def configured(self) -> bool:
        return self.channels > 0


def configured_urls(urls: str | Sequence[str] | None = None) -> list[str]:
    """The apprise URLs to use: those given, else ``$FUNDWATCH_NOTIFY_URLS``."""
    if urls is None:
        urls = os.environ.get(ENV_URLS, "")
    if isinstance(urls, str):
        urls = re.split(r"[\s,]+", urls)
    return [u for u in (x.strip() for x in urls) if u]


def send(title: str, body: str, *, urls: str | Sequence[str] | None = None) -> Delivery:
    """Send one message (Chinese title and body; no unmasked personal data) to every channel."""
    targets = configured_urls(urls)
    if not targets:
        log.info("no notification channel configured (%s is empty): not sent: %s", ENV_URLS, title)
        return Delivery(0, False)
    import apprise  # imported only when something is sent: it is not light

    client = apprise.Apprise()
    for url in targets:
        if not client.add(url):
            raise ValueError(f"{ENV_URLS}: not a valid apprise URL (scheme {url.split(':', 1)[0]!r})")
    ok = bool(client.notify(title=title, body=body))
    if not ok:
        log.error("notification not delivered by every channel: %s", title)
    return Delivery(len(targets), ok)

"""Sign-in throttle: slows guessing without ever locking the owner out.

Failed sign-ins are counted per (client address, name) and per client address over the last
``WINDOW_S``. Past ``PAIR_FREE`` failures of one name from one client, that client waits before
trying that name again, and past ``CLIENT_FREE`` failures from one client (spraying many names),
that client waits before trying any name; each further failure doubles the wait, up to
``MAX_WAIT_S``. While waiting, no password is checked. The same name from another client is never
held back, so a stranger cannot lock the office out; a success clears that client's count for
that name. Counts live in ``HOME/review_sessions.sqlite`` (shared by every server process).
"""

from __future__ import annotations

import math
from pathlib import Path

from fundwatch.review import sessions

PAIR_FREE = 5
CLIENT_FREE = 20
PAIR_FIRST_WAIT_S = 30
CLIENT_FIRST_WAIT_S = 60
MAX_WAIT_S = 15 * 60
WINDOW_S = 60 * 60


def _until(count: int, last: float | None, free: int, first_wait: int) -> float:
    if count < free or last is None:
        return 0.0
    return last + min(first_wait * 2 ** min(count - free, 20), MAX_WAIT_S)


def wait_seconds(path: Path, client: str, name: str) -> int:
    """Seconds this client must wait before trying ``name`` (0: go ahead)."""
    now = sessions.clock()
    conn = sessions.connect(path)
    try:
        since = now - WINDOW_S
        pair = conn.execute("SELECT count(*), max(at) FROM signin_failures WHERE client = ? AND username = ? "
                            "AND at > ?", (client, name, since)).fetchone()
        whole = conn.execute("SELECT count(*), max(at) FROM signin_failures WHERE client = ? AND at > ?",
                             (client, since)).fetchone()
    finally:
        conn.close()
    until = max(_until(pair[0], pair[1], PAIR_FREE, PAIR_FIRST_WAIT_S),
                _until(whole[0], whole[1], CLIENT_FREE, CLIENT_FIRST_WAIT_S))
    return max(0, math.ceil(until - now))


def failed(path: Path, client: str, name: str) -> None:
    now = sessions.clock()
    conn = sessions.connect(path)
    try:
        conn.execute("DELETE FROM signin_failures WHERE at < ?", (now - WINDOW_S,))
        conn.execute("INSERT INTO signin_failures (at, client, username) VALUES (?, ?, ?)", (now, client, name))
    finally:
        conn.close()


def succeeded(path: Path, client: str, name: str) -> None:
    conn = sessions.connect(path)
    try:
        conn.execute("DELETE FROM signin_failures WHERE client = ? AND username = ?", (client, name))
    finally:
        conn.close()

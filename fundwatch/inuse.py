"""Who is using a home: an advisory lock that ``fundwatch serve`` and the daily run hold, and that
``fundwatch restore`` must take alone.

Holders take a *shared* ``flock`` on ``HOME/.in-use`` for as long as they use the home (the review
server for its whole life, each stage of a run while it works), so any number of them coexist.
``restore`` takes it *exclusively* without waiting: while anybody holds it, restore refuses. The
kernel drops a lock when its holder dies (even by ``kill -9``), so a lock never outlives its
process. Beside the lock each holder leaves a one-line note in ``HOME/.in-use.d/`` (what it is,
pid, host, since when) so that a refusal can say who holds the home; notes are only read while the
lock is really held, and a note whose process is gone (same host) is ignored and removed.

``flock`` works across containers that share the home volume (same kernel), which is how compose
runs the review page and the worker.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fundwatch.paths import Home

LOCK_NAME = ".in-use"
NOTES_DIR = ".in-use.d"


class HomeInUse(RuntimeError):
    """The home is held by someone else (``holders``: their notes); the message is for the operator."""

    def __init__(self, home: Home, holders: list[str]) -> None:
        self.home = home
        self.holders = holders
        who = "\n".join(f"  - {h}" for h in holders) or "  - （未留下说明 / no note left）"
        super().__init__(
            f"安装目录正在使用中，不能恢复（home in use, restore refused）：{home.root}\n{who}\n"
            "请先停止审核页面（fundwatch serve）并等待或暂停每日运行，然后重试。\n"
            "Stop the review page (fundwatch serve) and wait for or pause the daily run, then retry."
        )


@dataclass(frozen=True)
class _Paths:
    lock: Path
    notes: Path


def _paths(home: Home) -> _Paths:
    home.root.mkdir(parents=True, exist_ok=True)
    notes = home.root / NOTES_DIR
    notes.mkdir(exist_ok=True)
    return _Paths(home.root / LOCK_NAME, notes)


def _open_lock(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


@contextlib.contextmanager
def hold(home: Home, what: str, *, wait_s: float = 600.0) -> Iterator[None]:
    """Hold the home (shared) while the block runs; waits while a restore has it (at most ``wait_s``)."""
    p = _paths(home)
    fd = _open_lock(p.lock)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"安装目录被占用超过 {wait_s:.0f} 秒（home locked by a restore）："
                                       f"{home.root}") from None
                time.sleep(0.2)
        note = p.notes / f"{os.getpid()}-{secrets.token_hex(4)}"
        since = time.strftime("%Y-%m-%d %H:%M:%S")
        note.write_text(f"{what}; pid {os.getpid()} on {socket.gethostname()}; since {since}\n", encoding="utf-8")
        try:
            yield
        finally:
            note.unlink(missing_ok=True)
    finally:
        os.close(fd)  # releases the lock


def holders(home: Home) -> list[str]:
    """The notes of the processes holding the home; notes of dead processes on this host are removed."""
    p = _paths(home)
    host = socket.gethostname()
    out = []
    for note in sorted(p.notes.iterdir()):
        try:
            text = note.read_text(encoding="utf-8").strip()
        except OSError:
            continue
        pid = note.name.split("-", 1)[0]
        if f" on {host};" in text and pid.isdigit() and not Path(f"/proc/{pid}").exists():
            note.unlink(missing_ok=True)
            continue
        out.append(text)
    return out


@contextlib.contextmanager
def exclusive(home: Home) -> Iterator[None]:
    """Have the home alone for the block (restore), or raise :class:`HomeInUse` at once."""
    p = _paths(home)
    fd = _open_lock(p.lock)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HomeInUse(home, holders(home)) from None
        for note in p.notes.iterdir():  # nobody holds the lock: every note left is stale
            note.unlink(missing_ok=True)
        yield
    finally:
        os.close(fd)

"""A file that looks exactly as when it was read (size, mtime, ctime, inode) is not read again; any
write to it — even one that keeps its size and puts its mtime back — is seen, and so is a file
changed within the same second as it was read."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ingest_helpers import PAY_HEADER, Warehouse, pay_row, write_csv

import ingestion.history as history


def _counting_scans(monkeypatch) -> list[str]:
    real, scanned = history.scan_file, []

    def scan(path: Path):
        scanned.append(path.name)
        return real(path)

    monkeypatch.setattr(history, "scan_file", scan)
    return scanned


def test_an_unchanged_file_is_not_read_again_and_a_rewritten_one_is(wh: Warehouse, inbox: Path, monkeypatch):
    old = time.time() - 3600
    a = write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T1", amount="1200.00")])
    os.utime(a, (old, old))
    scanned = _counting_scans(monkeypatch)
    wh.load()
    assert scanned == ["a.csv"]

    report = wh.load()
    assert scanned == ["a.csv"] and report.files_unchanged == 1  # not opened the second time

    write_csv(a, [PAY_HEADER, pay_row("T1", amount="1300.00")])  # same size, mtime put back
    os.utime(a, (old, old))
    wh.load()
    assert scanned == ["a.csv", "a.csv"]
    assert wh.q("SELECT amount FROM raw.payments") == [(1300,)]


def test_a_file_read_in_the_second_it_was_written_is_read_again(wh: Warehouse, inbox: Path, monkeypatch):
    write_csv(inbox / "b.csv", [PAY_HEADER, pay_row("T2")])
    scanned = _counting_scans(monkeypatch)
    wh.load()
    wh.load()  # its mtime is not yet settled: a second write in the same second could hide in it
    assert scanned == ["b.csv", "b.csv"]

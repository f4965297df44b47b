"""Findings state: the one store that is NOT rebuildable (ARCHITECTURE.md "Findings state").

Everything lives in ``HOME/state.sqlite`` (SQLite, WAL mode, busy timeout), so the warehouse can
be rebuilt at will without losing a reviewer's decision.

Tables
------
``runs(run_id PK, run_date, started_at, finished_at, status)``
    One row per recorded run (``status`` is ``complete``).
``findings(finding_id PK, rule_id, rule_name, severity, subject_type, subject_key, project_code,
unit_code, amount_at_risk, source_file, source_row, detail, evidence, first_seen, last_seen,
is_open, closed_on, content_hash)``
    One row per finding ever seen; closed, never deleted. A view (migration 0009) over the tables
    ``finding_rows`` (every column but ``evidence``) and ``finding_evidence(finding_id PK, evidence)``,
    so that a run rewrites and reads the small rows only; writing to the view writes both (this
    module writes the tables). ``amount_at_risk`` is 2-place decimal
    text; ``evidence`` is a JSON object, one key per kind of evidence record (dbt model
    ``fct_finding_evidence``), each a list of records with their ``source_file`` and ``source_row``
    (money as 2-decimal text; unmasked: mask on display). ``first_seen``/``last_seen`` are the
    earliest/latest run dates on which it fired (NULL if a corrected re-run removed its only date;
    the view gives an open finding's ``last_seen`` as the latest run date: ``finding_rows`` keeps it
    only for closed findings, so a day does not rewrite every finding still firing);
    ``is_open`` says whether it fires on the latest recorded run date; ``closed_on`` is the first
    run date after ``last_seen`` (NULL when open). ``content_hash`` is the pipeline's fingerprint of
    the stored attributes and evidence, ``<attributes>:<evidence>`` (``fundwatch.pipeline.FINGERPRINT_SQL``;
    NULL when recorded without one): a finding whose fingerprint is unchanged is recorded without being
    read again, one whose evidence part is unchanged without re-reading its evidence.
``finding_history(run_date, finding_id, amount_at_risk)``
    Which findings fired on which run date, with the amount (the finding page and the queue's
    chart read this): a view (migration 0010) over ``finding_spans(finding_id, first_date,
    last_date, amount_at_risk, PK(finding_id, first_date))``, each span every recorded run date
    from first to last on which the finding fired with that amount (``last_date`` NULL: through the
    latest run date). A day writes the spans of what came, went or changed amount only, so the
    store grows with changes, not with days x findings.
``history_daily(run_date, rule_id, severity, unit_code, project_code, n)``
    Derived from finding_history + findings (rewritten with each run date): counts per day for
    the review page's chart, so it never has to join millions of history rows.
``decisions(id PK, finding_id, action, comment, username, decided_at)``
    Append-only reviewers' decisions; ``action`` in confirmed/dismissed/resolved/reopened.
    A finding's status is its latest decision (``reopened`` -> ``open``), else ``open``.
``users(username PK, password_hash, role, unit_code, created_at, updated_at)``
    People who may sign in to the review page (``fundwatch users ...``). ``password_hash`` is a
    werkzeug scrypt hash, never the password. ``role`` in reviewer/auditor/admin/unit;
    ``unit_code`` (6 digits) decides their scope (``fundwatch.scope``).
``rectification_steps(id PK, finding_id, action, state, due, comment, username, at, decision_id)``,
``rectification_attachments(id PK, step_id, finding_id, sha256, original_name, media_type, size_bytes)``
    Append-only rectification of confirmed findings (``fundwatch.rectification``): each step
    holds the state and due date in force after it; a rectification's state is its latest step.
``digests(run_date, unit_code, new_findings, overdue, data_fixed, title, body, items, ...)``
    The daily digest per unit (``fundwatch.digest``), replaced when a day is re-run.
``schema_migrations(name PK, applied_at)``
    Which entries of ``MIGRATIONS`` this home has applied (schema changes after version 2).
``uploads(id PK, uploaded_at, username, unit_code, file_name, inbox_path, sha256, size_bytes,
file_type, kind, status, placed, replaced_sha256, reason, rows_read, rows_loaded, rows_rejected,
total_mismatches, report)``
    Every upload of ``fundwatch.uploads``, append-only: ``report`` is the JSON answer the clerk saw.
``audit_log(id PK, at, username, action, finding_id, detail, client)``
    Security-relevant events of the review page, append-only: every unmasking of personal data
    (``action='unmask'``), sign-ins, user management; ``client`` is the client's address.
``api_tokens(id PK, username, token_hash, created_at, revoked_at)``
    API tokens of the review service (``fundwatch.review.tokens``): SHA-256 only, revoked not deleted.

Times written by this module (``decided_at``, ``started_at`` ...) are Asia/Shanghai wall time in
ISO form; run dates are ISO dates and always come from the caller, never the clock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import marshal
import os
import sqlite3
import time
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 30_000
RECORD_BATCH = 2_000  # findings (with their evidence) held in memory at once by record_run

ACTIONS = ("confirmed", "dismissed", "resolved", "reopened")

EXPORT_COLUMNS = (
    "finding_id", "rule_id", "rule_name", "severity", "subject_type", "subject_key", "project_code",
    "unit_code", "amount_at_risk", "source_file", "source_row", "detail", "first_seen", "status",
)
_FINDING_COLUMNS = (
    "rule_id", "rule_name", "severity", "subject_type", "subject_key", "project_code", "unit_code",
    "amount_at_risk", "source_file", "source_row", "detail",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    run_date TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    status TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_date ON runs(run_date);
CREATE TABLE IF NOT EXISTS findings (
    finding_id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    rule_name TEXT,
    severity TEXT,
    subject_type TEXT NOT NULL,
    subject_key TEXT NOT NULL,
    project_code TEXT,
    unit_code TEXT,
    amount_at_risk TEXT,
    source_file TEXT,
    source_row INTEGER,
    detail TEXT,
    evidence TEXT,
    first_seen TEXT,
    last_seen TEXT,
    is_open INTEGER NOT NULL DEFAULT 1,
    closed_on TEXT
);
CREATE INDEX IF NOT EXISTS findings_open ON findings(is_open, first_seen);
CREATE TABLE IF NOT EXISTS finding_history (
    run_date TEXT NOT NULL,
    finding_id TEXT NOT NULL,
    amount_at_risk TEXT,
    PRIMARY KEY (run_date, finding_id)
);
CREATE INDEX IF NOT EXISTS finding_history_by_finding ON finding_history(finding_id, run_date);
CREATE TABLE IF NOT EXISTS history_daily (
    run_date TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    severity TEXT,
    unit_code TEXT,
    project_code TEXT,
    n INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS history_daily_by_date ON history_daily(run_date);
INSERT INTO history_daily
    SELECT h.run_date, f.rule_id, f.severity, f.unit_code, f.project_code, count(*)
    FROM finding_history h JOIN findings f ON f.finding_id = h.finding_id
    WHERE NOT EXISTS (SELECT 1 FROM history_daily)
    GROUP BY h.run_date, f.rule_id, f.severity, f.unit_code, f.project_code;
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY,
    finding_id TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('confirmed', 'dismissed', 'resolved', 'reopened')),
    comment TEXT,
    username TEXT NOT NULL,
    decided_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_finding ON decisions(finding_id, id);
CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions
    BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions
    BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('reviewer', 'auditor', 'admin')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    username TEXT NOT NULL,
    action TEXT NOT NULL,
    finding_id TEXT,
    detail TEXT
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"""

# The view findings writes through to finding_rows and finding_evidence (migration 0009); a view's
# triggers go with it, so 0010, which replaces the view, creates them again. Part of both migrations'
# fixed text, byte for byte (its first line's indent completes the line before it): never edit (a
# change of the triggers is a migration of its own).
_FINDINGS_TRIGGERS = """    CREATE TRIGGER findings_insert INSTEAD OF INSERT ON findings BEGIN
            INSERT INTO finding_rows VALUES (
                NEW.finding_id, NEW.rule_id, NEW.rule_name, NEW.severity, NEW.subject_type, NEW.subject_key,
                NEW.project_code, NEW.unit_code, NEW.amount_at_risk, NEW.source_file, NEW.source_row,
                NEW.detail, NEW.first_seen, NEW.last_seen, coalesce(NEW.is_open, 1), NEW.closed_on,
                NEW.content_hash);
            INSERT INTO finding_evidence VALUES (NEW.finding_id, NEW.evidence);
        END;
        CREATE TRIGGER findings_update INSTEAD OF UPDATE ON findings BEGIN
            UPDATE finding_rows SET
                finding_id = NEW.finding_id, rule_id = NEW.rule_id, rule_name = NEW.rule_name,
                severity = NEW.severity, subject_type = NEW.subject_type, subject_key = NEW.subject_key,
                project_code = NEW.project_code, unit_code = NEW.unit_code, amount_at_risk = NEW.amount_at_risk,
                source_file = NEW.source_file, source_row = NEW.source_row, detail = NEW.detail,
                first_seen = NEW.first_seen, last_seen = NEW.last_seen, is_open = NEW.is_open,
                closed_on = NEW.closed_on, content_hash = NEW.content_hash
            WHERE finding_id = OLD.finding_id;
            DELETE FROM finding_evidence WHERE finding_id = OLD.finding_id AND NEW.finding_id != OLD.finding_id;
            INSERT INTO finding_evidence VALUES (NEW.finding_id, NEW.evidence) ON CONFLICT (finding_id)
                DO UPDATE SET evidence = excluded.evidence WHERE evidence IS NOT excluded.evidence;
        END;
        CREATE TRIGGER findings_delete INSTEAD OF DELETE ON findings BEGIN
            DELETE FROM finding_rows WHERE finding_id = OLD.finding_id;
            DELETE FROM finding_evidence WHERE finding_id = OLD.finding_id;
        END;
    """

# Changes to the schema after version 2, applied in order, each once, in one transaction with the
# record of it (table ``schema_migrations``). Append new entries at the end; never edit a landed one.
# Each entry: (name, SQL script). Scripts run after ``_SCHEMA`` on a home of any age.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    ("0003_people_have_a_unit", """
        -- People and their scope (interface.md): every person has a unit (6-digit division code);
        -- the role 'unit' is a city or county association's clerk. Existing people are the
        -- province's office (430000). SQLite cannot alter a CHECK: rebuild the table.
        CREATE TABLE users_new (
            username TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('reviewer', 'auditor', 'admin', 'unit')),
            unit_code TEXT NOT NULL DEFAULT '430000'
                CHECK (length(unit_code) = 6 AND unit_code NOT GLOB '*[^0-9]*'),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        INSERT INTO users_new (username, password_hash, role, unit_code, created_at, updated_at)
            SELECT username, password_hash, role, '430000', created_at, updated_at FROM users;
        DROP TABLE users;
        ALTER TABLE users_new RENAME TO users;
    """),
    ("0004_review_audit_client", """
        -- The review service logs the client's address of every security event (sign-ins ...).
        ALTER TABLE audit_log ADD COLUMN client TEXT;
        CREATE INDEX IF NOT EXISTS audit_log_by_action ON audit_log(action, id);
    """),
    ("0004_review_api_tokens", """
        -- API tokens (Authorization: Bearer): only the SHA-256 of the token is kept; revoked, never deleted.
        CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
        CREATE INDEX api_tokens_by_user ON api_tokens(username);
    """),
    ("0006_uploads_log", """
        -- Every upload (fundwatch.uploads): who sent what, where it went and what the check said.
        -- Append-only; the bytes are kept under HOME/uploads/files/<sha256[:2]>/<sha256>.<ext>.
        CREATE TABLE uploads (
            id INTEGER PRIMARY KEY,
            uploaded_at TEXT NOT NULL,
            username TEXT NOT NULL,
            unit_code TEXT NOT NULL CHECK (length(unit_code) = 6 AND unit_code NOT GLOB '*[^0-9]*'),
            file_name TEXT NOT NULL,
            inbox_path TEXT,
            sha256 TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            file_type TEXT CHECK (file_type IN ('xlsx', 'csv')),
            kind TEXT,
            status TEXT NOT NULL CHECK (status IN ('loaded', 'rejected')),
            placed INTEGER NOT NULL CHECK (placed IN (0, 1)),
            replaced_sha256 TEXT,
            reason TEXT,
            rows_read INTEGER NOT NULL,
            rows_loaded INTEGER NOT NULL,
            rows_rejected INTEGER NOT NULL,
            total_mismatches INTEGER NOT NULL,
            report TEXT NOT NULL
        );
        CREATE INDEX uploads_by_unit ON uploads(unit_code, id);
    """),
    ("0007_evidence_by_kind", """
        -- Evidence becomes one key per kind of record, each a list of records (interface.md,
        -- dbt model fct_finding_evidence). Findings still firing get new evidence with the next
        -- run; this reshapes what earlier runs stored ({source_row, roster_entry, project, credits}).
        UPDATE findings SET evidence = (
            SELECT json_group_object(kind, json(records)) FROM (
                SELECT CASE findings.subject_type WHEN 'row' THEN 'rejected_row' WHEN 'file' THEN 'file'
                       ELSE 'subject' END AS kind,
                       json_array(json(json_extract(findings.evidence, '$.source_row'))) AS records
                WHERE json_type(findings.evidence, '$.source_row') = 'object'
                UNION ALL
                SELECT 'roster_entry', json_array(json(json_extract(findings.evidence, '$.roster_entry')))
                WHERE json_type(findings.evidence, '$.roster_entry') = 'object'
                  AND findings.subject_type = 'payment'
                UNION ALL
                SELECT 'project', json_array(json(json_extract(findings.evidence, '$.project')))
                WHERE json_type(findings.evidence, '$.project') = 'object'
                UNION ALL
                SELECT 'matched_credits', json_extract(findings.evidence, '$.credits')
                WHERE json_array_length(findings.evidence, '$.credits') > 0))
        WHERE json_valid(evidence) AND json_type(evidence, '$.credits') IS NOT NULL;
    """),
    ("0005_rectify_tables", """
        -- Rectification (../shared/spec/rectification.md), written by fundwatch.rectification:
        -- append-only steps (the state and due date in force after each), their attachments (files
        -- under HOME/attachments by content hash), and the daily digest per unit (fundwatch.digest).
        CREATE TABLE rectification_steps (
            id INTEGER PRIMARY KEY,
            finding_id TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('notify', 'respond', 'verify', 'return', 'reopen')),
            state TEXT NOT NULL CHECK (state IN ('notified', 'responded', 'returned', 'verified')),
            due TEXT NOT NULL CHECK (due GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
            comment TEXT,
            username TEXT NOT NULL,
            at TEXT NOT NULL,
            decision_id INTEGER
        );
        CREATE INDEX rectification_steps_by_finding ON rectification_steps(finding_id, id);
        CREATE TRIGGER rectification_steps_no_update BEFORE UPDATE ON rectification_steps
            BEGIN SELECT RAISE(ABORT, 'rectification steps are append-only'); END;
        CREATE TRIGGER rectification_steps_no_delete BEFORE DELETE ON rectification_steps
            BEGIN SELECT RAISE(ABORT, 'rectification steps are append-only'); END;
        CREATE TABLE rectification_attachments (
            id INTEGER PRIMARY KEY,
            step_id INTEGER NOT NULL REFERENCES rectification_steps(id),
            finding_id TEXT NOT NULL,
            sha256 TEXT NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
            original_name TEXT NOT NULL,
            media_type TEXT NOT NULL CHECK (media_type IN ('application/pdf', 'image/png', 'image/jpeg')),
            size_bytes INTEGER NOT NULL
        );
        CREATE INDEX rectification_attachments_by_step ON rectification_attachments(step_id);
        CREATE TRIGGER rectification_attachments_no_update BEFORE UPDATE ON rectification_attachments
            BEGIN SELECT RAISE(ABORT, 'rectification attachments are append-only'); END;
        CREATE TRIGGER rectification_attachments_no_delete BEFORE DELETE ON rectification_attachments
            BEGIN SELECT RAISE(ABORT, 'rectification attachments are append-only'); END;
        CREATE TABLE digests (
            run_date TEXT NOT NULL,
            unit_code TEXT NOT NULL,
            new_findings INTEGER NOT NULL,
            overdue INTEGER NOT NULL,
            data_fixed INTEGER NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            items TEXT NOT NULL,
            content_sha256 TEXT NOT NULL,
            created_at TEXT NOT NULL,
            channels INTEGER NOT NULL DEFAULT 0,
            delivered INTEGER NOT NULL DEFAULT 0,
            sent_at TEXT,
            PRIMARY KEY (run_date, unit_code)
        );
        CREATE INDEX IF NOT EXISTS findings_by_first_seen ON findings(first_seen, unit_code);
        -- Findings confirmed before this migration get their rectification now, as if opened by
        -- their latest confirmation (due dates: DUE_DAYS of fundwatch.rectification).
        INSERT INTO rectification_steps (finding_id, action, state, due, comment, username, at, decision_id)
        SELECT d.finding_id, 'notify', 'notified',
               date(substr(d.decided_at, 1, 10), CASE f.severity WHEN 'warning' THEN '+60 days' ELSE '+30 days' END),
               NULL, d.username, d.decided_at, d.id
        FROM decisions d JOIN findings f ON f.finding_id = d.finding_id
        WHERE d.action = 'confirmed'
          AND d.id = (SELECT max(x.id) FROM decisions x WHERE x.finding_id = d.finding_id);
    """),
    ("0008_findings_content_hash", """
        -- The fingerprint of what is stored of a finding (attributes, evidence), written by the daily
        -- run: a finding firing again unchanged is recorded without its evidence being read again.
        ALTER TABLE findings ADD COLUMN content_hash TEXT;
    """),
    ("0009_findings_evidence_apart", """
        -- A finding's evidence (about 1 kB of JSON) in a table of its own, so that the daily run,
        -- which moves last_seen of every finding still firing and reads the queue's columns of all
        -- of them, never rewrites nor reads the evidence of findings that did not change. ``findings``
        -- becomes a view with the same columns in the same order (evidence read only where asked
        -- for); writing to the view writes both tables (fundwatch.state writes the tables).
        CREATE TABLE finding_rows (
            finding_id TEXT PRIMARY KEY,
            rule_id TEXT NOT NULL,
            rule_name TEXT,
            severity TEXT,
            subject_type TEXT NOT NULL,
            subject_key TEXT NOT NULL,
            project_code TEXT,
            unit_code TEXT,
            amount_at_risk TEXT,
            source_file TEXT,
            source_row INTEGER,
            detail TEXT,
            first_seen TEXT,
            last_seen TEXT,
            is_open INTEGER NOT NULL DEFAULT 1,
            closed_on TEXT,
            content_hash TEXT
        );
        INSERT INTO finding_rows SELECT
            finding_id, rule_id, rule_name, severity, subject_type, subject_key, project_code, unit_code,
            amount_at_risk, source_file, source_row, detail, first_seen, last_seen, is_open, closed_on,
            content_hash
        FROM findings;
        CREATE TABLE finding_evidence (finding_id TEXT PRIMARY KEY, evidence TEXT);
        INSERT INTO finding_evidence SELECT finding_id, evidence FROM findings WHERE evidence IS NOT NULL;
        DROP TABLE findings;
        CREATE INDEX findings_open ON finding_rows(is_open, first_seen);
        CREATE INDEX findings_by_first_seen ON finding_rows(first_seen, unit_code);
        CREATE VIEW findings AS SELECT
            r.finding_id, r.rule_id, r.rule_name, r.severity, r.subject_type, r.subject_key, r.project_code,
            r.unit_code, r.amount_at_risk, r.source_file, r.source_row, r.detail,
            (SELECT e.evidence FROM finding_evidence e WHERE e.finding_id = r.finding_id) AS evidence,
            r.first_seen, r.last_seen, r.is_open, r.closed_on, r.content_hash
        FROM finding_rows r;
    """ + _FINDINGS_TRIGGERS),
    ("0010_finding_history_as_spans", """
        -- A finding's history as spans of run dates (finding_spans) instead of a row per firing finding
        -- per day: a day writes only the spans of findings that came, went or changed their amount,
        -- and the store grows with what changes, not with days x findings. A span covers every
        -- recorded run date from first_date to last_date on which the finding fired with that
        -- amount; last_date NULL: it still fires, through the latest run date. finding_history stays,
        -- as a view with its columns. last_seen of an open finding is the latest run date (view
        -- findings), so the daily run no longer rewrites it for every finding still firing.
        CREATE TABLE finding_spans (
            finding_id TEXT NOT NULL,
            first_date TEXT NOT NULL,
            last_date TEXT,
            amount_at_risk TEXT,
            PRIMARY KEY (finding_id, first_date)
        ) WITHOUT ROWID;
        CREATE INDEX finding_spans_open ON finding_spans(finding_id) WHERE last_date IS NULL;
        INSERT INTO finding_spans
            WITH dates AS (
                SELECT run_date, row_number() OVER (ORDER BY run_date) AS n
                FROM (SELECT run_date FROM runs UNION SELECT run_date FROM finding_history)
            ),
            steps AS (
                SELECT h.finding_id, h.run_date, h.amount_at_risk, d.n,
                       lag(d.n) OVER w AS prev_n, lag(h.amount_at_risk) OVER w AS prev_amount
                FROM finding_history h JOIN dates d ON d.run_date = h.run_date
                WINDOW w AS (PARTITION BY h.finding_id ORDER BY d.n)
            ),
            numbered AS (
                SELECT *, sum(CASE WHEN prev_n = n - 1 AND prev_amount IS amount_at_risk THEN 0 ELSE 1 END)
                    OVER (PARTITION BY finding_id ORDER BY n ROWS UNBOUNDED PRECEDING) AS span
                FROM steps
            )
            SELECT finding_id, min(run_date), max(run_date), amount_at_risk FROM numbered
            GROUP BY finding_id, span;
        UPDATE finding_spans SET last_date = NULL
            WHERE last_date = (SELECT max(run_date) FROM (SELECT run_date FROM runs
                                                          UNION SELECT run_date FROM finding_history));
        DROP TABLE finding_history;
        CREATE VIEW finding_history AS
            SELECT d.run_date, s.finding_id, s.amount_at_risk
            FROM finding_spans s JOIN (SELECT DISTINCT run_date FROM runs) d
                ON d.run_date >= s.first_date AND d.run_date <= coalesce(s.last_date, '9999-12-31');
        DROP VIEW findings;
        CREATE VIEW findings AS SELECT
            r.finding_id, r.rule_id, r.rule_name, r.severity, r.subject_type, r.subject_key, r.project_code,
            r.unit_code, r.amount_at_risk, r.source_file, r.source_row, r.detail,
            (SELECT e.evidence FROM finding_evidence e WHERE e.finding_id = r.finding_id) AS evidence,
            r.first_seen,
            CASE WHEN r.is_open = 1 THEN (SELECT max(run_date) FROM runs) ELSE r.last_seen END AS last_seen,
            r.is_open, r.closed_on, r.content_hash
        FROM finding_rows r;
    """ + _FINDINGS_TRIGGERS),
    ("0011_findings_closed_on", """
        -- The findings a day closed are counted by their closed_on (record_run's summary, the digest):
        -- without an index that read every finding (0.7 s at 380,000). Only closed findings have one.
        CREATE INDEX findings_closed_on ON finding_rows(closed_on) WHERE closed_on IS NOT NULL;
    """),
)

# SQL expression: a finding's status from its latest decision (alias f for findings).
STATUS_SQL = """coalesce((
    SELECT CASE d.action WHEN 'reopened' THEN 'open' ELSE d.action END
    FROM decisions d WHERE d.finding_id = f.finding_id ORDER BY d.id DESC LIMIT 1), 'open')"""


@dataclass(frozen=True)
class RunSummary:
    """What one recorded run did to the queue.

    ``new``: findings firing on this run date for the first time (first_seen == run_date);
    ``still_open``: the other findings firing on this date; ``closed``: findings closed on this
    date (they fired before and no longer do). Re-recording the same date gives the same summary.
    """

    run_date: date
    new: int
    still_open: int
    closed: int

    @property
    def firing(self) -> int:
        return self.new + self.still_open


def now_shanghai() -> str:
    """Asia/Shanghai wall time, ISO, seconds precision (for bookkeeping timestamps only)."""
    return datetime.now(SHANGHAI).replace(tzinfo=None).isoformat(timespec="seconds")


def connect(path: Path) -> sqlite3.Connection:
    """Open the state database (WAL, busy timeout), creating folder and schema if missing.

    The connection is in autocommit mode; callers group writes with ``with transaction(conn):``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():  # personal data and password hashes: owner only
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        _wal(conn)
        with transaction(conn):  # another process may have created it since: look again under the lock
            if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                for statement in _statements(_SCHEMA):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    _migrate(conn)
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _statements(script: str) -> Iterable[str]:
    """The statements of a script, one by one (a trigger's body kept whole)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        yield pending


def _wal(conn: sqlite3.Connection) -> None:
    """WAL mode for a new state file. SQLite does not wait (busy_timeout) to change the journal mode:
    two processes opening a new home at once (two uploads, the review service and a run) got
    "database is locked" at once; so wait here, as long as the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _script(conn: sqlite3.Connection, sql: str) -> None:
    try:
        conn.executescript(sql)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _migrate(conn: sqlite3.Connection) -> None:
    """Apply the MIGRATIONS this home has not seen, each with its record, in one transaction each."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        # The record goes first: a process that lost the race fails on its primary key and rolls back.
        try:
            _script(conn, f"BEGIN IMMEDIATE; INSERT INTO schema_migrations VALUES ('{name}', '{now_shanghai()}');"
                          f"\n{sql}\n; COMMIT;")
        except sqlite3.IntegrityError:
            if not conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)).fetchone():
                raise
            continue
        if name in _COMPACT_AFTER and conn.execute("PRAGMA freelist_count").fetchone()[0]:
            # The pages the old table left: given back once, or every backup would copy them.
            with contextlib.suppress(sqlite3.OperationalError):  # busy: a later VACUUM may do it
                conn.execute("VACUUM")


# Migrations that leave a home's file half empty.
_COMPACT_AFTER = {"0009_findings_evidence_apart", "0010_finding_history_as_spans"}


class transaction:  # noqa: N801 - used like a function: ``with transaction(conn):``
    """One IMMEDIATE transaction: commit on success, roll back on any error."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def finding_id(rule_id: str, subject_type: str, subject_key: str) -> str:
    """Stable id: first 16 hex chars of sha256("rule_id|subject_type|subject_key")."""
    return hashlib.sha256(f"{rule_id}|{subject_type}|{subject_key}".encode()).hexdigest()[:16]


def evidence_part(content_hash: str | None) -> str | None:
    """The evidence part of a fingerprint ``<attributes>:<evidence>`` (``fundwatch.pipeline.FINGERPRINT_SQL``);
    None for one without (an older state's, or none)."""
    if not content_hash or ":" not in content_hash:
        return None
    return content_hash.partition(":")[2]


def money_text(value: Any) -> str | None:
    """Decimal (or int / decimal text) -> 2-place decimal text. Floats are refused (never exact)."""
    if value is None:
        return None
    if isinstance(value, float | bool):
        raise TypeError(f"amount must be Decimal, int or decimal text, not {type(value).__name__}")
    return str(Decimal(str(value).strip()).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def money(text: str | None) -> Decimal | None:
    """2-place decimal text from the state -> Decimal."""
    return None if text is None else Decimal(text)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"evidence value of type {type(value).__name__} is not JSON-able")


def _iso(d: date | str) -> str:
    return d if isinstance(d, str) else d.isoformat()


# Pages the connection recording a run keeps (negative: KiB; SQLite's default is 2 MB). A day of a
# big province (380,000 findings) upserts, updates and indexes rows all over the history tables: with
# 2 MB the same pages were read and written again and again (3.4M pread and 1.8M pwrite calls in one
# export stage at 10M payments; README, Measurements). Filled only as pages are used.
RECORD_CACHE_KIB = -262_144


def record_run(path: Path, *, run_id: str, run_date: date,
               findings: Iterable[Mapping] | Callable[[Mapping[str, str]], Iterable[Mapping]],
               batch: int = RECORD_BATCH) -> RunSummary:
    """Record the findings that fire on ``run_date`` (all of them), in ONE transaction.

    Upserts the findings, replaces the run date in ``finding_spans`` (``finding_history``), inserts/replaces the
    ``runs`` row, and recomputes first_seen (min), last_seen (max), is_open and closed_on of every
    finding the run can affect. Re-recording a date with the same findings changes nothing;
    recording an earlier date after a later one keeps first_seen = the earliest date and leaves
    the open/closed state to the latest date. Readers see the previous complete run until commit.
    A finding's evidence comes as ``evidence`` (a JSON-able dict) or, from the pipeline, already
    serialised as ``evidence_json`` (text), which is stored as it is, with its ``content_hash``.
    A finding the state holds with the same ``content_hash`` may come as just ``{"finding_id",
    "content_hash"}`` (``fundwatch.pipeline.iter_findings``): it fires with what is stored (the
    stored amount goes into the history); if the state holds it with another hash, or not at all,
    ValueError and nothing is written. A finding may also come with its attributes and
    ``evidence_as_stored`` (True) instead of its evidence: the state must hold it with a ``content_hash``
    whose evidence part (after the ``:``) is the same as the one it comes with (else ValueError), and its
    stored evidence is kept. From the pipeline a finding comes already as the row the state writes
    (:class:`FindingRow`; the evidence None for the evidence as stored), with the same rules.

    ``findings`` is consumed as a stream: ``batch`` findings at a time are written inside the one
    transaction, so memory does not grow with the number of findings (a finding listed twice
    raises ValueError and nothing is written).

    ``findings`` may also be a function of the fingerprints the state holds (``content_hashes``) that
    returns the findings (``fundwatch.pipeline.iter_findings``): it is given them as read inside this
    transaction, so the findings it gives as stored are checked against that very read, in memory,
    with their stored amounts from the same read, instead of one lookup each in the state (at 380,000
    findings the lookups took 3.7 s of a 10 s record). What it is given is a :class:`Held`: a mapping
    (read when first used), and ``offer``, which takes all the day's fingerprints at once and records
    those the state holds as firing as stored, in SQL, without a Python object per finding.
    """
    day = date.fromisoformat(_iso(run_date)).isoformat()  # validated: it is inlined below
    conn = connect(path)
    conn.execute(f"PRAGMA cache_size = {RECORD_CACHE_KIB}")
    conn.execute(f"PRAGMA temp.cache_size = {RECORD_CACHE_KIB}")  # _fired & co: one row per finding firing
    try:
        with transaction(conn):
            held = None
            if callable(findings):
                held = Held(conn, day)
                findings = findings(held)
            firing = _record(conn, run_id, day, findings, batch, held)
            # New: first seen on the day. Such a finding fires on it (first_seen is its earliest date;
            # one that no longer fires on a date recorded again has it recomputed without that date),
            # so the index on first_seen counts them alone (not one lookup per finding firing).
            new = conn.execute("SELECT count(*) FROM finding_rows WHERE first_seen = ?", (day,)).fetchone()[0]
            closed = conn.execute("SELECT count(*) FROM finding_rows WHERE closed_on = ?",
                                  (day,)).fetchone()[0]
    finally:
        conn.close()
    return RunSummary(run_date=date.fromisoformat(day), new=new, still_open=firing - new,
                      closed=closed)


class FindingRow(tuple):
    """A finding already as the parameters of ``_UPSERT`` (``_finding_row``'s tuple: its id first, the
    amount as 2-place text at index 8, the evidence JSON at 12, None for the evidence as stored, then
    its content_hash), as ``fundwatch.pipeline.iter_findings`` reads it: recorded as it is."""

    __slots__ = ()


def _finding_row(f: Mapping) -> tuple:
    """A finding as the parameters of ``_UPSERT`` (finding_id first, amount_at_risk at index 8)."""
    source_row = f.get("source_row")
    return (
        finding_id(f["rule_id"], f["subject_type"], f["subject_key"]), f["rule_id"], f.get("rule_name"),
        f.get("severity"), f["subject_type"], f["subject_key"], f.get("project_code"), f.get("unit_code"),
        money_text(f.get("amount_at_risk")), f.get("source_file"),
        None if source_row is None else int(source_row), f.get("detail"),
        None if f.get("evidence_as_stored") else (
            f.get("evidence_json") or json.dumps(f.get("evidence") or {}, ensure_ascii=False, default=_json_default)),
        f.get("content_hash"),
    )


def _as_stored(f: Mapping) -> bool:
    """Whether ``f`` stands for a finding as the state stores it (only its id and fingerprint)."""
    return "rule_id" not in f


def content_hashes(path: Path) -> dict[str, str]:
    """The fingerprint of every finding the state holds with one (``findings.content_hash``)."""
    conn = connect(path)
    try:
        return {fid: h for fid, (h, _) in _held(conn).items()}
    finally:
        conn.close()


class Held(Mapping[str, str]):
    """finding_id -> content_hash of every finding the state holds with a fingerprint, as read inside
    ``record_run``'s transaction (a mapping read whole when first used), and ``offer``.

    ``offer`` is how ``fundwatch.pipeline.iter_findings`` gives a day's findings that the state holds
    unchanged: all the day's fingerprints at once, compared with the stored ones by SQLite itself. At
    the 10M bench's 381,739 findings, reading the stored fingerprints into a dict, comparing them in
    Python and yielding each unchanged finding as its own ``{finding_id, content_hash}`` took ~3.5 s of
    a ~7 s record (2026-12-07).
    """

    def __init__(self, conn: sqlite3.Connection, day: str | None = None) -> None:
        self._conn = conn
        self._read: dict[str, tuple[str, str | None]] | None = None
        self.offered = 0  # findings ``offer`` recorded as firing as stored (in _fired, or set aside unchanged)
        self.day = day  # the run date being recorded (ISO)
        # Set by ``offer`` given the day's counts for a new latest date: the run is recorded by its
        # differences from the latest date before it (``_record``); ``unchanged``: the ids still firing,
        # open and unchanged, that have no row in ``_fired``; ``daily``: the day's history_daily rows.
        self.daily: list[tuple] | None = None
        self.unchanged: set[str] = set()

    def amounts(self) -> dict[str, tuple[str, str | None]]:
        """finding_id -> (content_hash, amount_at_risk), read once."""
        if self._read is None:
            self._read = _held(self._conn)
        return self._read

    def __getitem__(self, finding_id: str) -> str:
        return self.amounts()[finding_id][0]

    def __iter__(self):
        return iter(self.amounts())

    def __len__(self) -> int:
        return len(self.amounts())

    def offer(self, fingerprints: Iterable[tuple[str, str]],
              daily: Iterable[tuple] | None = None) -> dict[str, str | None]:
        """Record as firing, as stored (its stored amount into the history), every (finding_id,
        content_hash) the state holds with that very fingerprint; return the others, each with the
        fingerprint the state holds (None: none, or not that finding). Once per ``record_run``, before
        any finding of its stream is written; a finding_id twice is ValueError (nothing is written).

        ``daily``: the day's counts of findings per (rule_id, severity, unit_code, project_code), as
        read with the fingerprints (``fundwatch.pipeline.DAILY_SQL``). With them, a run of a new latest
        date is recorded by its differences from the latest date before it (``_unchanged_open``)."""
        conn = self._conn
        if daily is not None:
            fingerprints = self._unchanged_open(list(fingerprints), list(daily))
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS _offered "
                     "(finding_id TEXT PRIMARY KEY, content_hash TEXT) WITHOUT ROWID")
        conn.execute("DELETE FROM _offered")
        try:
            conn.executemany("INSERT INTO _offered VALUES (?, ?)", fingerprints)
        except sqlite3.IntegrityError:
            raise ValueError("a finding is listed twice among the fingerprints offered") from None
        self.offered += conn.execute(
            "INSERT INTO _fired SELECT o.finding_id, r.amount_at_risk, 1 FROM _offered o "
            "JOIN finding_rows r ON r.finding_id = o.finding_id AND r.content_hash = o.content_hash").rowcount
        return dict(conn.execute(
            "SELECT o.finding_id, r.content_hash FROM _offered o LEFT JOIN finding_rows r "
            "ON r.finding_id = o.finding_id WHERE r.content_hash IS NOT o.content_hash "
            "OR o.content_hash IS NULL"))  # offered without a fingerprint: never as stored

    def _unchanged_open(self, pairs: list[tuple[str, str]], daily: list[tuple]) -> list[tuple[str, str]]:
        """On a new latest date (the first run too): set aside the findings open on the latest date
        before it (they fired then) that fire again with the same fingerprint, and return the other
        pairs. Those set aside need no write at all: an open finding's dates, open span and attributes
        stay as they are (its last_seen is the latest run date by definition, its amount is in its
        fingerprint). The findings open before that do not fire go into ``_stopped`` (they close), and
        the day's history_daily is ``daily``: on a new latest date every firing finding's stored
        attributes are the warehouse's (the same fingerprint, or written by this run), so its counts
        are the warehouse's.

        At the 10M bench's 381,739 findings, offering all of them to SQLite, then spans, closings and
        the day's counts over every firing finding took ~2.5 s of a ~6 s export stage (2026-12-07)."""
        conn = self._conn
        latest = conn.execute("SELECT max(run_date) FROM runs").fetchone()[0]
        if self.day is None or (latest is not None and self.day <= latest):
            return pairs  # a date recorded again or late: every firing finding is written
        if sum(r[-1] for r in daily) != len(pairs):
            raise ValueError(f"the day's counts ({sum(r[-1] for r in daily)}) are not those of its "
                             f"findings ({len(pairs)})")
        open_ = dict(conn.execute("SELECT finding_id, content_hash FROM finding_rows WHERE is_open = 1"))
        unchanged, rest = self.unchanged, []
        for pair in pairs:
            fid, h = pair
            if h is not None and open_.get(fid) == h:
                if fid in unchanged:
                    raise ValueError("a finding is listed twice among the fingerprints offered")
                unchanged.add(fid)
            else:
                rest.append(pair)
        if any(fid in unchanged for fid, _ in rest):
            raise ValueError("a finding is listed twice among the fingerprints offered")
        others = {fid for fid, _ in rest}
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS _stopped (finding_id TEXT PRIMARY KEY) WITHOUT ROWID")
        conn.execute("DELETE FROM _stopped")
        conn.executemany("INSERT INTO _stopped VALUES (?)",
                         ((fid,) for fid in open_ if fid not in unchanged and fid not in others))
        # In the order SQLite's GROUP BY gives them (NULL first, then by code point: UTF-8's byte order).
        self.daily = sorted(daily, key=lambda r: [(v is not None, v) for v in r[:-1]])
        self.offered += len(unchanged)
        return rest


def _held(conn: sqlite3.Connection) -> dict[str, tuple[str, str | None]]:
    """finding_id -> (content_hash, amount_at_risk) of every finding stored with a fingerprint."""
    return {fid: (h, amount) for fid, h, amount in conn.execute(
        "SELECT finding_id, content_hash, amount_at_risk FROM finding_rows WHERE content_hash IS NOT NULL")}


# A finding's last date before this run: the latest run date while it is open (``:p``; its stored
# last_seen is not moved while it stays open), else its stored last_seen (alias r: finding_rows).
_LAST_SEEN = "CASE WHEN r.is_open = 1 THEN :p ELSE r.last_seen END"
# Attributes (detail, amount, evidence ...) follow the latest date on which the finding fired;
# in SET, every column reference is the row's value before this update. ``:d`` is the run date.
_UPSERT = f"""
    INSERT INTO finding_rows AS r (finding_id, {', '.join(_FINDING_COLUMNS)}, content_hash,
                                   first_seen, last_seen, is_open, closed_on)
    VALUES (?, {', '.join('?' for _ in _FINDING_COLUMNS)}, ?, :d, :d, 1, NULL)
    ON CONFLICT (finding_id) DO UPDATE SET
    {', '.join(f'{c} = CASE WHEN :d >= coalesce({_LAST_SEEN}, :d) THEN excluded.{c} ELSE {c} END'
               for c in (*_FINDING_COLUMNS, 'content_hash'))},
    first_seen = min(coalesce(first_seen, :d), :d),
    last_seen = max(coalesce(last_seen, :d), :d)
"""
# The same rule for the evidence, written (before _UPSERT moves last_seen) only where it changes.
_EVIDENCE_UPSERT = f"""
    INSERT INTO finding_evidence (finding_id, evidence) VALUES (?, ?)
    ON CONFLICT (finding_id) DO UPDATE SET evidence = excluded.evidence
    WHERE finding_evidence.evidence IS NOT excluded.evidence
      AND :d >= coalesce((SELECT {_LAST_SEEN} FROM finding_rows r WHERE r.finding_id = finding_evidence.finding_id), :d)
"""


def _listed_twice(conn: sqlite3.Connection, rows: list[tuple], stored: list[str]) -> str:
    """The refusal of a run that lists a finding twice (in this batch or an earlier one)."""
    seen: set[str] = set()
    for r in rows:
        if r[0] in seen or conn.execute("SELECT 1 FROM _fired WHERE finding_id = ?", (r[0],)).fetchone():
            return f"finding listed twice in one run: {r[1]} {r[4]} {r[5]}"
        seen.add(r[0])
    for fid in stored:
        if fid in seen or conn.execute("SELECT 1 FROM _fired WHERE finding_id = ?", (fid,)).fetchone():
            return f"finding listed twice in one run: {fid}"
        seen.add(fid)
    return "finding listed twice in one run"


def _record(conn: sqlite3.Connection, run_id: str, day: str, findings: Iterable[Mapping], batch: int,
            held: Held | None = None) -> int:
    """Write the run inside the caller's transaction; returns the number of findings firing. ``held``
    (read in this transaction): what the findings given as stored are checked against, and those
    it recorded as firing (``Held.offer``)."""
    for ddl in ("_fired (finding_id TEXT PRIMARY KEY, amount TEXT, as_stored INTEGER NOT NULL) WITHOUT ROWID",
                "_gone (finding_id TEXT PRIMARY KEY)", "_affected (finding_id TEXT PRIMARY KEY)",
                "_stored (finding_id TEXT, content_hash TEXT)", "_kept (finding_id TEXT)"):
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {ddl}")
        conn.execute(f"DELETE FROM {ddl.split()[0]}")
    d = {"d": day}

    latest_before = conn.execute("SELECT max(run_date) FROM runs").fetchone()[0]
    is_latest = latest_before is None or day >= latest_before
    latest = day if is_latest else latest_before
    if not is_latest:
        # An earlier date recorded late: closed findings whose closed_on may move back to it
        # (read before the upserts below move last_seen).
        conn.execute("""INSERT OR IGNORE INTO _affected SELECT finding_id FROM finding_rows
                        WHERE is_open = 0 AND closed_on > :d AND (last_seen IS NULL OR last_seen < :d)""", d)

    # The findings, a batch at a time: memory stays flat however many fire.
    before = "NULL" if latest_before is None else f"'{latest_before}'"  # a date from the state
    upsert = _UPSERT.replace(":d", f"'{day}'").replace(":p", before)
    evidence_upsert = _EVIDENCE_UPSERT.replace(":d", f"'{day}'").replace(":p", before)
    firing = 0
    it = iter(findings)
    unchanged = held.unchanged if held is not None else set()
    while True:
        rows: list[tuple] = []
        stored: list[tuple[str, str]] = []
        for f in islice(it, batch):
            if type(f) is FindingRow:
                rows.append(f)
            elif _as_stored(f):
                stored.append((f["finding_id"], f["content_hash"]))
            else:
                rows.append(_finding_row(f))
        if not rows and not stored:
            break
        if unchanged:  # fired already, as offered: no row of its own in _fired
            again = [r[0] for r in rows if r[0] in unchanged] + [fid for fid, _ in stored if fid in unchanged]
            if again:
                raise ValueError(f"finding listed twice in one run: {again[0]}")
        conn.execute("SAVEPOINT fired_batch")
        try:
            conn.executemany("INSERT INTO _fired VALUES (?, ?, 0)", ((r[0], r[8]) for r in rows))
            # As stored: its amount from the state, where the fingerprint must be the same.
            if held is not None:
                amounts = held.amounts() if stored else {}
                same = [(fid, amounts[fid][1]) for fid, h in stored if fid in amounts and amounts[fid][0] == h]
                conn.executemany("INSERT INTO _fired VALUES (?, ?, 1)", same)
                n = len(same)
            else:
                conn.execute("DELETE FROM _stored")
                conn.executemany("INSERT INTO _stored VALUES (?, ?)", stored)
                n = conn.execute("INSERT INTO _fired SELECT f.finding_id, f.amount_at_risk, 1 FROM _stored s JOIN "
                                 "finding_rows f ON f.finding_id = s.finding_id AND f.content_hash = s.content_hash"
                                 ).rowcount if stored else 0
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK TO fired_batch")
            raise ValueError(_listed_twice(conn, rows, [fid for fid, _ in stored])) from None
        conn.execute("RELEASE fired_batch")
        if n != len(stored):
            raise ValueError(f"{len(stored) - n} finding(s) given as stored are not stored with that content_hash")
        # Evidence as stored: only where the state holds that very evidence (checked before the upsert
        # below moves content_hash).
        kept = {r[0]: evidence_part(r[13]) for r in rows if r[12] is None}
        if kept:
            conn.execute("DELETE FROM _kept")
            conn.executemany("INSERT INTO _kept VALUES (?)", ((fid,) for fid in kept))
            kept_as = dict(conn.execute("SELECT f.finding_id, f.content_hash FROM _kept k "
                                        "JOIN finding_rows f ON f.finding_id = k.finding_id"))
            n = sum(1 for fid, part in kept.items() if part is None or evidence_part(kept_as.get(fid)) != part)
            if n:
                raise ValueError(f"{n} finding(s) given with their evidence as stored are not "
                                 "stored with that evidence")
        conn.executemany(evidence_upsert, ((r[0], r[12]) for r in rows if r[12] is not None))
        conn.executemany(upsert, (r[:12] + r[13:] for r in rows))
        firing += len(rows) + len(stored)
    if held is not None:
        firing += held.offered
    # A new latest date recorded by its differences (``Held._unchanged_open``): _fired holds only what
    # fires and is not open unchanged, _stopped what was open and does not fire.
    by_difference = held is not None and held.daily is not None
    if by_difference and not (latest_before is None or day > latest_before):
        raise RuntimeError("a run recorded by its differences must be of a new latest date")
    # Those recorded as stored only widen their dates (one column at a time: an UPDATE that assigns
    # first_seen rewrites its index entry even to the same value). last_seen is kept for closed
    # findings only (an open one's is the latest run date): only a date recorded late moves it.
    # first_seen by its index (``+finding_id``: not by the key): only a date recorded late moves it.
    widen = [("first_seen", "first_seen > :d"), ("first_seen", "first_seen IS NULL")]
    if not is_latest:
        widen.append(("last_seen", "is_open = 0 AND (last_seen IS NULL OR last_seen < :d)"))
    for col, wider in widen:
        conn.execute(f"""UPDATE finding_rows SET {col} = :d
                         WHERE ({wider}) AND +finding_id IN (SELECT finding_id FROM _fired WHERE as_stored)""", d)

    # Fired on this date when it was recorded before, and no longer does (a corrected re-run).
    if conn.execute("SELECT 1 FROM runs WHERE run_date = :d", d).fetchone():
        conn.execute("""INSERT INTO _gone SELECT finding_id FROM finding_history
                        WHERE run_date = :d AND finding_id NOT IN (SELECT finding_id FROM _fired)""", d)
    conn.execute("INSERT OR IGNORE INTO _affected SELECT finding_id FROM _gone")
    if not is_latest:
        # Findings firing on the earlier date that do not fire on the latest date (they stay closed).
        conn.execute("""INSERT OR IGNORE INTO _affected SELECT x.finding_id FROM _fired x
                        WHERE NOT EXISTS (SELECT 1 FROM finding_history h
                                          WHERE h.finding_id = x.finding_id AND h.run_date = :latest)""",
                     {"latest": latest})

    _write_spans(conn, day, latest_before, by_difference)
    conn.execute("DELETE FROM history_daily WHERE run_date = :d", d)
    if by_difference:
        conn.executemany("INSERT INTO history_daily VALUES (?, ?, ?, ?, ?, ?)", ((day, *r) for r in held.daily))
    else:
        conn.execute("""
            INSERT INTO history_daily
            SELECT :d, f.rule_id, f.severity, f.unit_code, f.project_code, count(*)
            FROM _fired x JOIN finding_rows f ON f.finding_id = x.finding_id
            GROUP BY f.rule_id, f.severity, f.unit_code, f.project_code
        """, d)

    stamp = now_shanghai()
    conn.execute("""
        INSERT INTO runs (run_id, run_date, started_at, finished_at, status)
        VALUES (?, ?, ?, ?, 'complete')
        ON CONFLICT (run_id) DO UPDATE SET run_date = excluded.run_date,
            finished_at = excluded.finished_at, status = excluded.status
    """, (run_id, day, stamp, stamp))

    conn.execute("""
        UPDATE finding_rows SET  -- NULL when it no longer fired on any recorded date
            first_seen = (SELECT min(run_date) FROM finding_history h WHERE h.finding_id = finding_rows.finding_id),
            last_seen = (SELECT max(run_date) FROM finding_history h WHERE h.finding_id = finding_rows.finding_id)
        WHERE finding_id IN (SELECT finding_id FROM _gone)
    """)
    if is_latest:
        # The common case, in bulk: what fires is open, what was open and does not fire closes today.
        conn.execute("""UPDATE finding_rows SET is_open = 1, closed_on = NULL
                        WHERE finding_id IN (SELECT finding_id FROM _fired)
                          AND (is_open = 0 OR closed_on IS NOT NULL)""")
        # Their last_seen: the run before (on a date recorded again, _gone above has set it).
        closing = ("finding_id IN (SELECT finding_id FROM _stopped)" if by_difference
                   else "finding_id NOT IN (SELECT finding_id FROM _fired)")
        conn.execute(f"""UPDATE finding_rows SET is_open = 0, closed_on = :d, last_seen = coalesce(:p, last_seen)
                         WHERE is_open = 1 AND {closing}""",
                     {"d": day, "p": latest_before if latest_before != day else None})
    # The rest by definition: open = fires on the latest date; closed_on = first run after last_seen.
    conn.execute("""
        UPDATE finding_rows SET
            is_open = EXISTS (SELECT 1 FROM finding_history h
                              WHERE h.finding_id = finding_rows.finding_id AND h.run_date = :latest),
            closed_on = CASE
                WHEN EXISTS (SELECT 1 FROM finding_history h
                             WHERE h.finding_id = finding_rows.finding_id AND h.run_date = :latest)
                THEN NULL
                WHEN NOT EXISTS (SELECT 1 FROM finding_history h
                                 WHERE h.finding_id = finding_rows.finding_id) THEN :d
                ELSE (SELECT min(r.run_date) FROM runs r WHERE r.run_date > finding_rows.last_seen)
            END
        WHERE finding_id IN (SELECT finding_id FROM _affected)
    """, {"latest": latest, "d": day})
    return firing


def _write_spans(conn: sqlite3.Connection, day: str, latest_before: str | None, by_difference: bool = False) -> None:
    """Make ``finding_spans`` say that on ``day`` exactly the findings of ``_fired`` fired, with their
    amounts (the table's definition: migration 0010). ``latest_before``: the latest run date recorded
    before this run.

    A new latest date (every day's run) writes only what changed: spans still open go on where the
    finding fires again with the same amount and end on the run before where it does not; a finding
    with no open span left starts one. A date recorded before, or earlier than the latest, is first
    taken out of every span covering it (split around it), then added where the finding fires, joined
    with the spans ending on the run before and starting on the run after when the amount is the same.
    ``by_difference`` (a new latest date only): ``_fired`` holds only the findings that are not open
    unchanged, ``_stopped`` those open that do not fire; the open spans of the others go on.
    """
    if latest_before is None or day > latest_before:
        only = (" AND finding_id IN (SELECT finding_id FROM _fired UNION ALL SELECT finding_id FROM _stopped)"
                if by_difference else "")
        conn.execute(f"""UPDATE finding_spans SET last_date = ?
                         WHERE last_date IS NULL AND NOT EXISTS (
                             SELECT 1 FROM _fired x WHERE x.finding_id = finding_spans.finding_id
                                                      AND x.amount IS finding_spans.amount_at_risk){only}""",
                     (latest_before,))
        conn.execute("""INSERT INTO finding_spans (finding_id, first_date, last_date, amount_at_risk)
                        SELECT x.finding_id, ?, NULL, x.amount FROM _fired x
                        WHERE NOT EXISTS (SELECT 1 FROM finding_spans s
                                          WHERE s.finding_id = x.finding_id AND s.last_date IS NULL)""", (day,))
        return
    prev, nxt = conn.execute("SELECT (SELECT max(run_date) FROM runs WHERE run_date < :d), "
                             "(SELECT min(run_date) FROM runs WHERE run_date > :d)", {"d": day}).fetchone()
    p = {"d": day, "prev": prev, "next": nxt}
    for ddl in ("_cover (finding_id TEXT, first_date TEXT, last_date TEXT, amount_at_risk TEXT)",
                "_joined (finding_id TEXT, first_date TEXT, last_date TEXT, amount_at_risk TEXT, "
                "left_first TEXT, right_first TEXT)"):
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {ddl}")
        conn.execute(f"DELETE FROM {ddl.split()[0]}")
    # Out: every span covering the date, split into the part before it and the part after it.
    conn.execute("""INSERT INTO _cover SELECT finding_id, first_date, last_date, amount_at_risk FROM finding_spans
                    WHERE first_date <= :d AND coalesce(last_date, '9999-12-31') >= :d""", p)
    conn.execute("DELETE FROM finding_spans WHERE (finding_id, first_date) IN "
                 "(SELECT finding_id, first_date FROM _cover)")
    conn.execute("""INSERT INTO finding_spans SELECT finding_id, first_date, :prev, amount_at_risk FROM _cover
                    WHERE first_date < :d""", p)
    conn.execute("""INSERT INTO finding_spans SELECT finding_id, :next, last_date, amount_at_risk FROM _cover
                    WHERE :next IS NOT NULL AND coalesce(last_date, '9999-12-31') > :d""", p)
    # In: the date where the finding fires, joined with its neighbours of the same amount.
    conn.execute("""
        INSERT INTO _joined
        SELECT x.finding_id, coalesce(l.first_date, :d),
               CASE WHEN r.finding_id IS NOT NULL THEN r.last_date WHEN :next IS NULL THEN NULL ELSE :d END,
               x.amount, l.first_date, r.first_date
        FROM _fired x
        LEFT JOIN finding_spans l
            ON l.finding_id = x.finding_id AND l.last_date = :prev AND l.amount_at_risk IS x.amount
        LEFT JOIN finding_spans r
            ON r.finding_id = x.finding_id AND r.first_date = :next AND r.amount_at_risk IS x.amount
    """, p)
    conn.execute("""DELETE FROM finding_spans WHERE (finding_id, first_date) IN (
                        SELECT finding_id, left_first FROM _joined WHERE left_first IS NOT NULL
                        UNION ALL SELECT finding_id, right_first FROM _joined WHERE right_first IS NOT NULL)""")
    conn.execute("INSERT INTO finding_spans SELECT finding_id, first_date, last_date, amount_at_risk FROM _joined")


def export_rows(path: Path) -> list[dict]:
    """The current open findings with the export columns of rules.md, in that order.

    ``amount_at_risk`` is a Decimal; ``status`` is the latest decision (``open`` if none).
    """
    return export_snapshot(path)[0]


def export_snapshot(path: Path) -> tuple[list[dict], str]:
    """``export_rows`` and the fingerprint of those very rows (one read): ``export_parts`` as dicts."""
    read = export_parts(path)
    return [export_row(row) for part in read.parts for row in part], read.fingerprint


def export_row(row: tuple) -> dict:
    """A row of ``export_parts`` as a row of ``export_rows`` (the amount a Decimal)."""
    d = dict(zip(EXPORT_COLUMNS, row[:len(EXPORT_COLUMNS)], strict=True))
    d["amount_at_risk"] = money(d["amount_at_risk"])
    return d


EXPORT_PART = 1_024  # rows per part of ``export_parts`` on average (and per block of the export's files)
EXPORT_PART_MAX = 4 * EXPORT_PART
_PART_ENDS = ("000", "400", "800", "c00")  # a finding id's last 10 bits zero: one id in 1,024

_EXPORT_ORDER = "FROM findings f WHERE f.is_open = 1{only} ORDER BY f.rule_id, f.subject_type, f.subject_key"
# What makes a finding's row of the export, lighter to read than the row (at the 10M bench's 385,733
# findings 0.8 s against 2.0 s): its id, its fingerprint (``content_hash``: its attributes, as
# ``record_run`` trusts it too), first_seen and status; a finding stored without a fingerprint brings
# its attributes instead (``extra``).
_EXTRA = f"CASE WHEN f.content_hash IS NULL THEN json_array({', '.join('f.' + c for c in _FINDING_COLUMNS)}) END"
_EXPORT_KEY = f"f.finding_id, f.content_hash, {_EXTRA}, f.first_seen, {STATUS_SQL}"
# A row of the export (EXPORT_COLUMNS), then the two columns of its key that it lacks.
_EXPORT_ROW = f"{', '.join('f.' + c for c in EXPORT_COLUMNS[:-1])}, {STATUS_SQL}, f.content_hash, {_EXTRA}"
_FIRST_SEEN, _STATUS = EXPORT_COLUMNS.index("first_seen"), EXPORT_COLUMNS.index("status")


def _export_key(row: tuple) -> tuple:
    """The key (``_EXPORT_KEY``) of a row read by ``_EXPORT_ROW``."""
    return row[0], row[-2], row[-1], row[_FIRST_SEEN], row[_STATUS]


@dataclass(frozen=True)
class ExportParts:
    """The export's rows in parts (``export_parts``): each part's rows (tuples in ``EXPORT_COLUMNS``
    order, then two columns of their own; None: a part ``known`` to the reader, not read), its size and
    digest; the fingerprint of all of them, and whether some row has an amount."""

    parts: list[list[tuple] | None]
    sizes: list[int]
    digests: list[str]
    fingerprint: str
    has_amounts: bool


def export_parts(path: Path, known: Container[str] = ()) -> ExportParts:
    """The rows of ``export_rows`` as read (tuples in ``EXPORT_COLUMNS`` order, the amount as its stored
    text), in parts, each with its digest, and their fingerprint (a SHA-256 of the digests: equal
    fingerprints, equal exports). The daily export is built from these (``fundwatch.export.ExportRows``)
    without a dict per row.

    A part ends after a finding whose id ends in 000, 400, 800 or c00 (one in 1,024: ids are hex digits
    of a SHA-256), or at ``EXPORT_PART_MAX`` rows: where a part ends depends on its own rows, not on
    how many come before it, so a day that adds or closes some findings changes the parts that hold
    them and leaves the others as they were, digests included (``fundwatch.export`` writes only the
    changed parts of its files again).

    A part's digest is a SHA-256 of what makes its rows (``_EXPORT_KEY``, marshalled), not of the rows:
    with ``known`` digests (those of the parts the files written before hold), only the keys are read,
    then the rows of the parts whose digest is not known; a known part comes as None. Both reads see
    one snapshot of the state."""
    conn = connect(path)
    conn.row_factory = None

    def read_rows(ids: list[str] | None = None, *, every: bool = False) -> list[tuple]:
        """The export's rows of the findings ``ids`` (of all findings if ``every``, else the ids are
        the findings read), checked to be those, in that order; without ``ids``, every row unchecked."""
        only = "" if ids is None or every else " AND f.finding_id IN (SELECT value FROM json_each(?))"
        got = conn.execute(f"SELECT {_EXPORT_ROW} {_EXPORT_ORDER.format(only=only)}",
                           (json.dumps(ids),) if only else ()).fetchall()
        if ids is not None and [r[0] for r in got] != ids:
            raise RuntimeError("export_parts: the rows read differ from their keys")
        return got

    try:
        conn.execute("BEGIN")  # a read transaction: every read below sees the same state
        if known:
            keys = conn.execute(f"SELECT {_EXPORT_KEY} {_EXPORT_ORDER.format(only='')}").fetchall()
            rows = None
        else:
            rows = read_rows()
            keys = [_export_key(r) for r in rows]
        bounds, start = [], 0
        for end in [i + 1 for i, k in enumerate(keys) if k[0].endswith(_PART_ENDS)] + [len(keys)]:
            while end - start > EXPORT_PART_MAX:
                bounds.append((start, start + EXPORT_PART_MAX))
                start += EXPORT_PART_MAX
            if end > start:
                bounds.append((start, end))
                start = end
        # version 2: no back-references, the same values the same bytes
        digests = [hashlib.sha256(marshal.dumps(keys[a:b], 2)).hexdigest() for a, b in bounds]
        if rows is not None:
            parts: list[list[tuple] | None] = [rows[a:b] for a, b in bounds]
        else:
            parts = [None] * len(bounds)
            wanted = [k for k, d in enumerate(digests) if d not in known]
            if 2 * sum(bounds[k][1] - bounds[k][0] for k in wanted) > len(keys):  # most of them: all at once
                rows = read_rows([k[0] for k in keys], every=True)
                parts, wanted = [rows[a:b] for a, b in bounds], []
            if wanted:
                got = read_rows([keys[i][0] for k in wanted for i in range(*bounds[k])])
                at = 0
                for k in wanted:
                    a, b = bounds[k]
                    parts[k], at = got[at:at + b - a], at + b - a
        has_amounts = conn.execute("SELECT EXISTS (SELECT 1 FROM finding_rows WHERE is_open = 1 "
                                   "AND amount_at_risk IS NOT NULL AND amount_at_risk <> '')").fetchone()[0] == 1
    finally:
        conn.close()  # the read transaction ends with it
    return ExportParts(parts, [b - a for a, b in bounds], digests,
                       hashlib.sha256("".join(digests).encode()).hexdigest(), has_amounts)


def add_decision(path: Path | sqlite3.Connection, *, finding_id: str, action: str,
                 comment: str | None, username: str, due: date | str | None = None) -> int:
    """Append a reviewer's decision (its id is returned). ``dismissed`` requires a reason (comment).

    A ``confirmed`` decision opens the finding's rectification in the same transaction
    (``fundwatch.rectification.open_on_confirm``), due ``due`` if given, else 30/60 days after the
    decision by severity. Raises ValueError (unknown action, missing reason or user, a bad due
    date), KeyError (unknown finding) and ``rectification.Conflict``. ``path`` may also be an
    open connection (the review page passes its own).
    """
    own = not isinstance(path, sqlite3.Connection)
    conn = connect(path) if own else path
    try:
        with transaction(conn):
            return insert_decision(conn, finding_id=finding_id, action=action, comment=comment,
                                   username=username, due=due)
    finally:
        if own:
            conn.close()


def insert_decision(conn: sqlite3.Connection, *, finding_id: str, action: str, comment: str | None,
                    username: str, due: date | str | None = None) -> int:
    """``add_decision`` inside the caller's transaction (a bulk decision writes many in one; a
    bulk confirmation opens each rectification with its default due date)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    comment = (comment or "").strip()
    if action == "dismissed" and not comment:
        raise ValueError("驳回（dismissed）必须填写理由 / a reason is required to dismiss")
    if not (username or "").strip():
        raise ValueError("a decision needs the signed-in user's name")
    if due not in (None, "") and action != "confirmed":
        raise ValueError("整改时限只能在确认问题时设定 / a due date goes with a confirmation only")
    from fundwatch import rectification  # it builds on this module

    if conn.execute("SELECT 1 FROM findings WHERE finding_id = ?", (finding_id,)).fetchone() is None:
        raise KeyError(finding_id)
    stamp = now_shanghai()
    cur = conn.execute(
        "INSERT INTO decisions (finding_id, action, comment, username, decided_at) "
        "VALUES (?, ?, ?, ?, ?)", (finding_id, action, comment, username.strip(), stamp))
    if action == "confirmed":
        rectification.open_on_confirm(conn, finding_id=finding_id, decision_id=cur.lastrowid,
                                      username=username.strip(), at=stamp, due=due or None)
    return int(cur.lastrowid)


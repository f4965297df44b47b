"""The supervision office's review page (Flask): queue, finding pages, decisions, export, docs.

Security model: every route except ``/login`` and ``/static/`` (CSS only, no data) needs a signed-in
user; pages redirect to the sign-in form, ``/api/``, ``/docs/`` fetches of non-GET requests get 401.
POSTs carry a per-session CSRF token. Roles: ``reviewer`` decides, ``auditor`` reads and may
unmask, ``admin`` does both and reads the audit log. Personal numbers are masked unless an
auditor/admin asks to unmask one finding, which is written to ``audit_log`` first.
"""

from __future__ import annotations

import hmac
import os
import secrets
import sqlite3
import tempfile
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import wraps
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from flask import (
    Flask,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException

from fundwatch import masking, state
from fundwatch.export import write_xlsx
from fundwatch.paths import Home
from fundwatch.review import charts, data, users

CAN_DECIDE = ("reviewer", "admin")
CAN_UNMASK = ("auditor", "admin")
DECIDE_ACTIONS = ("confirmed", "dismissed", "resolved", "reopened")
PUBLIC_ENDPOINTS = {"login", "static", "favicon"}
MAX_FAILED_LOGINS = 5
LOCKOUT_MINUTES = 15
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SECRET_FILE = "review_secret_key"  # noqa: S105 - a file name, not a secret

FIELD_LABELS = {
    "project_code": "项目编码", "name": "姓名", "id_number": "公民身份号码", "person_category": "人员类别",
    "account_no": "银行账号", "bank_name": "开户银行", "approved_amount": "核定金额（元）",
    "unit_code": "单位代码", "report_date": "上报日期", "publicity_start": "公示开始日期",
    "publicity_end": "公示结束日期", "txn_ref": "流水号", "batch": "发放批次", "amount": "金额（元）",
    "pay_date": "发放日期", "remark": "备注", "voucher_no": "凭证号", "spend_date": "支出日期",
    "category": "支出类别", "payee": "收款方", "memo": "摘要", "decision_no": "决策文号",
    "doc_no": "文号", "issue_date": "发文日期", "issuer": "发文单位", "fiscal_year": "资金年度",
    "recipient_code": "收款单位代码", "recipient_name": "收款单位", "deadline_days": "拨付时限（天）",
    "value_date": "到账日期", "payer": "付款单位", "project_name": "项目名称", "project_type": "项目类型",
    "unit_name": "实施单位", "start_date": "开始日期", "end_date": "结束日期", "budget": "预算金额（元）",
    "standard_amount": "补助标准（元/人）", "pay_deadline": "发放截止日期", "publicity_days": "公示天数",
    "report_deadline": "终期报告截止日期", "allowed_categories": "允许支出类别",
    "large_amount_threshold": "大额资金标准（元）", "source_file": "来源文件", "source_row": "来源行号",
    "death_date": "死亡日期", "staff_id_number": "关联工作人员身份号码", "relation": "关系",
    "position": "职务", "submit_date": "提交日期", "actual_spent": "实际支出（元）",
    "report_no": "报告编号", "beneficiaries": "受益人数", "meeting_date": "会议日期", "meeting_type": "会议类型",
    "matter": "决策事项", "posting_type": "公示类型", "location": "公示地点", "evidence_no": "证明材料编号",
    "data_source": "数据来源", "file_sha256": "文件校验值（SHA-256）", "load_run_id": "载入批次",
    "loaded_at": "载入时间", "kind": "文件类型", "status": "状态", "reason": "原因", "raw_values": "原始值",
    "size_bytes": "文件大小（字节）", "rows_loaded": "载入行数", "rows_rejected": "拒收行数",
    "is_current": "当前版本", "amount_at_risk": "涉及金额（元）",
}
EVIDENCE_TITLES = {
    "source_row": "原始数据行", "roster_entry": "上报名单记录", "project": "项目文本条款",
    "credits": "到账记录",
}


def _secret_key(home: Home) -> bytes:
    """A random key generated once into the home (mode 0600); never in the repository."""
    path = home.root / SECRET_FILE
    home.root.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))
    return path.read_bytes()


def money_fmt(value) -> str:
    if value is None or value == "":
        return ""
    try:
        return f"{Decimal(str(value)):,.2f}"
    except InvalidOperation:
        return str(value)


MONEY_FIELDS = {"amount", "approved_amount", "budget", "standard_amount", "large_amount_threshold",
                "actual_spent", "amount_at_risk"}


def field_fmt(value, key: str = "") -> str:
    """An evidence value for display: money fields with 2 decimals (display only), None as blank."""
    if value is None:
        return ""
    if key in MONEY_FIELDS and isinstance(value, int | float | str) and not isinstance(value, bool):
        # JSON numbers from the warehouse: shown through their text, never computed with.
        return money_fmt(value)
    return str(value)


def create_app(home: Home) -> Flask:
    """The review page over ``home.state_db`` and the built docs of ``home``."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=_secret_key(home),
        SESSION_COOKIE_NAME="fundwatch_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=10),
        MAX_CONTENT_LENGTH=64 * 1024,
        HOME=home,
        # How long a write (decision, sign-in log) waits while a run commits before answering 503.
        STATE_BUSY_TIMEOUT_MS=10_000,
    )
    state.connect(home.state_db).close()  # schema exists before the first request
    app.jinja_env.filters["money"] = money_fmt
    app.jinja_env.filters["unit"] = data.unit_label
    app.jinja_env.filters["ts"] = lambda v: (v or "").replace("T", " ")
    app.jinja_env.filters["field"] = field_fmt
    app.json.ensure_ascii = False
    app.jinja_env.globals.update(
        SEVERITY_LABELS=data.SEVERITY_LABELS, STATUS_LABELS=data.STATUS_LABELS,
        ACTION_LABELS=data.ACTION_LABELS, SUBJECT_LABELS=data.SUBJECT_LABELS,
        ROLE_LABELS=users.ROLE_LABELS, FIELD_LABELS=FIELD_LABELS, EVIDENCE_TITLES=EVIDENCE_TITLES,
        CAN_DECIDE=CAN_DECIDE, CAN_UNMASK=CAN_UNMASK,
    )

    def db() -> sqlite3.Connection:
        if "db" not in g:
            g.db = state.connect(home.state_db)
            g.db.execute(f"PRAGMA busy_timeout = {int(app.config['STATE_BUSY_TIMEOUT_MS'])}")
        return g.db

    @app.teardown_appcontext
    def _close(_exc) -> None:
        conn = g.pop("db", None)
        if conn is not None:
            conn.close()

    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        return session["csrf"]

    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    def _guard():
        g.user = g.role = None
        name = session.get("user")
        if name:
            row = db().execute("SELECT role, updated_at FROM users WHERE username = ?", (name,)).fetchone()
            # A removed user, or one whose password/role changed since sign-in, signs in again.
            if row is not None and row["updated_at"] == session.get("stamp"):
                g.user, g.role = name, row["role"]
            else:
                session.clear()
        if request.endpoint not in PUBLIC_ENDPOINTS and not g.user:
            if request.method == "GET" and not request.path.startswith("/api/"):
                return redirect(url_for("login", next=request.full_path.rstrip("?")))
            abort(401, description="请先登录。")
        if request.method == "POST":
            sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
            expected = session.get("csrf") or ""
            if not expected or not hmac.compare_digest(sent, expected):
                abort(400, description="表单已失效或来源不明（CSRF 校验未通过），请刷新页面后重试。")
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"
        if not request.path.startswith("/static/"):
            resp.headers["Cache-Control"] = "no-store"
        if request.path.startswith("/docs/"):
            resp.headers["X-Frame-Options"] = "SAMEORIGIN"
        else:
            resp.headers["X-Frame-Options"] = "DENY"
            resp.headers["Content-Security-Policy"] = (
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        titles = {400: "请求无效", 401: "需要登录", 403: "无权操作", 404: "未找到", 405: "不支持的请求方式"}
        message = exc.description if isinstance(exc.description, str) else ""
        if request.path.startswith("/api/"):
            return jsonify(error=titles.get(exc.code, exc.name), message=message), exc.code
        return render_template("error.html", code=exc.code, title=titles.get(exc.code, exc.name),
                               message=message), exc.code

    @app.errorhandler(sqlite3.OperationalError)
    def _busy(exc: sqlite3.OperationalError):
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise exc
        message = "每日运行正在写入结果，请稍等几秒后重试（未保存）。"
        if request.path.startswith("/api/"):
            return jsonify(error="busy", message=message), 503
        return render_template("error.html", code=503, title="请稍后重试", message=message), 503

    def require(roles: tuple[str, ...]):
        def wrap(fn):
            @wraps(fn)
            def inner(*a, **kw):
                if g.role not in roles:
                    label = users.ROLE_LABELS.get(g.role, g.role)
                    abort(403, description=f"当前角色（{label}）无权进行此操作。")
                return fn(*a, **kw)
            return inner
        return wrap

    def audit(action: str, finding_id: str | None, detail: str, who: str | None = None) -> None:
        conn = db()
        with state.transaction(conn):
            conn.execute("INSERT INTO audit_log (at, username, action, finding_id, detail) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (state.now_shanghai(), who or g.user, action, finding_id, detail))

    # ---------------------------------------------------------------- sign-in
    def recent_failures(name: str) -> int:
        """Failed sign-ins of this name in the last LOCKOUT_MINUTES, since its last success."""
        since = (datetime.now(state.SHANGHAI) - timedelta(minutes=LOCKOUT_MINUTES)).replace(tzinfo=None)
        return db().execute("""
            SELECT count(*) FROM audit_log WHERE username = ? AND action = 'login_failed' AND at >= ?
              AND id > coalesce((SELECT max(id) FROM audit_log WHERE username = ? AND action = 'login'), 0)
        """, (name, since.isoformat(timespec="seconds"), name)).fetchone()[0]

    @app.route("/login", methods=["GET", "POST"])
    def login():
        nxt = request.values.get("next") or ""
        if not nxt.startswith("/") or nxt.startswith("//") or urlsplit(nxt).netloc:
            nxt = url_for("queue")
        if request.method == "POST":
            name = (request.form.get("username") or "").strip()[:64]
            if recent_failures(name) >= MAX_FAILED_LOGINS:
                audit("login_blocked", None, name, who=name or "-")
                return render_template("login.html", next=nxt, error=(
                    f"该账号登录失败次数过多，请 {LOCKOUT_MINUTES} 分钟后再试。")), 429
            role = users.verify(db(), name, request.form.get("password") or "")
            if role is None:
                audit("login_failed", None, name, who=name or "-")
                return render_template("login.html", next=nxt, error="用户名或密码错误。"), 401
            stamp = db().execute("SELECT updated_at FROM users WHERE username = ?", (name,)).fetchone()[0]
            session.clear()
            session.permanent = True
            session.update(user=name, stamp=stamp, csrf=secrets.token_urlsafe(32))
            audit("login", None, role, who=name)
            return redirect(nxt)
        if g.user:
            return redirect(nxt)
        return render_template("login.html", next=nxt, error=None)

    @app.get("/favicon.ico")
    def favicon():
        return Response(status=204)

    @app.post("/logout")
    def logout():
        session.clear()
        return redirect(url_for("login"))

    # ---------------------------------------------------------------- queue
    def filter_options(flt: data.Filters) -> dict:
        catalog = data.rule_catalog()
        return {
            "rules": sorted(catalog.values(), key=lambda r: r.rule_id),
            "prefectures": data.prefectures(),
            "counties": [(p, data.counties_by_prefecture()[p.code]) for p in data.prefectures()
                         if not flt.prefecture or p.code == flt.prefecture],
            "projects": data.projects(db()),
        }

    def describe(flt: data.Filters) -> str:
        parts = []
        if flt.rule:
            r = data.rule_catalog().get(flt.rule)
            parts.append(f"规则：{r.rule_name if r else ''}（{flt.rule}）")
        if flt.severity:
            parts.append(f"严重程度：{data.SEVERITY_LABELS[flt.severity]}")
        if flt.prefecture:
            parts.append(f"市州：{data.unit_label(flt.prefecture)}")
        if flt.county:
            parts.append(f"县市区：{data.unit_label(flt.county)}")
        if flt.project:
            parts.append(f"项目：{flt.project}")
        if flt.status:
            parts.append(f"状态：{data.STATUS_LABELS[flt.status]}")
        return "；".join(parts)

    @app.get("/")
    def queue():
        flt = data.Filters.from_args(request.args)
        conn = db()
        summ = data.summary(conn, flt)
        pages = max(1, -(-summ["count"] // data.PAGE_SIZE))
        flt.page = min(flt.page, pages)
        rows = data.queue_rows(conn, flt, offset=(flt.page - 1) * data.PAGE_SIZE)
        for r in rows:
            r["subject_display"] = masking.mask_subject_key(r["subject_type"], r["subject_key"])
            r["detail"] = masking.mask_text(r["detail"])
        dates, counts = data.history_by_day(conn, flt)
        names = {k: v.rule_name for k, v in data.rule_catalog().items()}
        run = data.latest_run(conn)
        return render_template(
            "queue.html", flt=flt, rows=rows, summary=summ, pages=pages, run=run,
            chart=charts.stacked_bars(dates, counts, names), options=filter_options(flt),
            filter_text=describe(flt), qs=lambda **kw: urlencode(flt.args(**kw)),
        )

    @app.get("/export.xlsx")
    def export_xlsx():
        flt = data.Filters.from_args(request.args)
        rows = data.queue_rows(db(), flt, limit=None)
        for r in rows:
            r["subject_key"] = masking.mask_subject_key(r["subject_type"], r["subject_key"])
            r["detail"] = masking.mask_text(r["detail"])
            r["amount_at_risk"] = state.money(r["amount_at_risk"])
        # The pipeline's own writer: the same columns and the same formula safety as findings.xlsx.
        with tempfile.TemporaryDirectory(prefix="fundwatch-export-") as tmp:
            body = write_xlsx(rows, Path(tmp) / "queue.xlsx").read_bytes()
        audit("export", None, f"{len(rows)} rows; {describe(flt) or '全部'}")
        stamp = state.now_shanghai()[:10].replace("-", "")
        disposition = f'attachment; filename="fundwatch-queue-{stamp}.xlsx"'
        return Response(body, mimetype=XLSX_MIME, headers={"Content-Disposition": disposition})

    # ---------------------------------------------------------------- one finding
    def render_finding(fid: str, *, unmasked: bool = False, error: str | None = None, status: int = 200):
        conn = db()
        f = data.finding(conn, fid)
        if f is None:
            abort(404, description="没有这个问题编号。")
        rule = data.rule_catalog().get(f["rule_id"])
        show = (lambda v, _k: v) if unmasked else masking.mask_evidence
        comparison = [(key, label, show(found, key), show(expected, key), differs)
                      for key, label, found, expected, differs in _comparison(f["evidence"])]
        if not unmasked:
            f["subject_display"] = masking.mask_subject_key(f["subject_type"], f["subject_key"])
            f["detail"] = masking.mask_text(f["detail"])
            f["evidence"] = masking.mask_evidence(f["evidence"])
        else:
            f["subject_display"] = f["subject_key"]
        docs = home.dbt_docs_dir / "index.html"
        body = render_template(
            "finding.html", f=f, rule=rule, unmasked=unmasked, error=error,
            history=data.finding_history(conn, fid), decisions=data.decisions(conn, fid),
            dbt_link=(url_for("docs", kind="dbt", filename="index.html")
                      + (f"#!/model/model.fundwatch.{rule.mart}" if rule and rule.mart else "")),
            dbt_built=docs.exists(), gx_built=(home.gx_docs_dir / "index.html").exists(),
            evidence_items=_evidence_items(f["evidence"]), comparison=comparison,
        )
        return body, status

    @app.get("/findings/<fid>")
    def finding_page(fid: str):
        return render_finding(fid)

    @app.post("/findings/<fid>/decide")
    @require(CAN_DECIDE)
    def decide(fid: str):
        action = request.form.get("action") or ""
        comment = (request.form.get("comment") or "").strip()[:2000]
        if action not in DECIDE_ACTIONS:
            return render_finding(fid, error="请选择处理结果。", status=400)
        if action == "dismissed" and not comment:
            return render_finding(fid, error="驳回必须填写理由。", status=400)
        try:
            state.add_decision(db(), finding_id=fid, action=action, comment=comment, username=g.user)
        except KeyError:
            abort(404, description="没有这个问题编号。")
        flash(f"已记录：{data.ACTION_LABELS[action]}。")
        return redirect(url_for("finding_page", fid=fid))

    @app.post("/findings/<fid>/unmask")
    @require(CAN_UNMASK)
    def unmask(fid: str):
        reason = (request.form.get("reason") or "").strip()[:500]
        if not reason:
            return render_finding(fid, error="查看完整号码须填写查看理由。", status=400)
        if data.finding(db(), fid) is None:
            abort(404, description="没有这个问题编号。")
        audit("unmask", fid, reason)
        return render_finding(fid, unmasked=True)

    # ---------------------------------------------------------------- API (masked, read-only)
    def api_row(r: dict) -> dict:
        r = dict(r)
        r["subject_key"] = masking.mask_subject_key(r["subject_type"], r["subject_key"])
        r["detail"] = masking.mask_text(r["detail"])
        r.pop("evidence", None)
        return r

    @app.get("/api/findings")
    def api_findings():
        flt = data.Filters.from_args(request.args)
        rows = data.queue_rows(db(), flt, offset=(flt.page - 1) * data.PAGE_SIZE)
        summ = data.summary(db(), flt)
        return jsonify(count=summ["count"], amount_at_risk=str(summ["amount"]), page=flt.page,
                       findings=[api_row(r) for r in rows])

    @app.get("/api/findings/<fid>")
    def api_finding(fid: str):
        f = data.finding(db(), fid)
        if f is None:
            abort(404, description="没有这个问题编号。")
        out = api_row(f)
        out["evidence"] = masking.mask_evidence(f["evidence"])
        out["decisions"] = data.decisions(db(), fid)
        return jsonify(out)

    # ---------------------------------------------------------------- admin
    @app.get("/admin/audit")
    @require(("admin",))
    def audit_page():
        return render_template("audit.html", entries=data.audit_entries(db()),
                               people=users.list_users(home.state_db))

    # ---------------------------------------------------------------- built docs
    @app.get("/docs/<any(dbt, gx):kind>/")
    def docs_index(kind: str):
        return docs(kind, "index.html")

    @app.get("/docs/<any(dbt, gx):kind>/<path:filename>")
    def docs(kind: str, filename: str):
        root = home.dbt_docs_dir if kind == "dbt" else home.gx_docs_dir
        if not (root / "index.html").exists():
            abort(404, description=("dbt 模型文档" if kind == "dbt" else "GX 数据文档")
                  + "尚未生成：每日运行完成后自动生成。")
        return send_from_directory(Path(root), filename)

    return app


# Roster field compared with the payment field of the same meaning (found -> expected).
_COMPARED = (("name", "name"), ("id_number", "id_number"), ("account_no", "account_no"),
             ("amount", "approved_amount"), ("project_code", "project_code"), ("unit_code", "unit_code"))


def _comparison(evidence: dict) -> list[tuple[str, str, object, object, bool]]:
    """(key, label, found in the subject's row, expected by the roster, differs) for shared fields."""
    row, roster = evidence.get("source_row"), evidence.get("roster_entry")
    if not isinstance(row, dict) or not isinstance(roster, dict):
        return []
    out = []
    for found_key, expected_key in _COMPARED:
        if found_key in row and expected_key in roster:
            found, expected = row[found_key], roster[expected_key]
            differs = _norm(found) != _norm(expected)
            out.append((found_key, FIELD_LABELS.get(found_key, found_key), found, expected, differs))
    return out


def _norm(value) -> str:
    text = "" if value is None else str(value).strip()
    try:
        return str(Decimal(text))
    except InvalidOperation:
        return text


def _evidence_items(evidence: dict) -> list[tuple[str, str, object]]:
    """(title, kind, value) per evidence key: 'table' (dict), 'rows' (list of dicts), 'text'."""
    items = []
    order = [k for k in EVIDENCE_TITLES if k in evidence] + [k for k in evidence if k not in EVIDENCE_TITLES]
    for key in order:
        value = evidence[key]
        title = EVIDENCE_TITLES.get(key, FIELD_LABELS.get(key, key))
        if value is None or value == [] or value == {}:
            items.append((title, "none", None))
        elif isinstance(value, dict):
            items.append((title, "table", value))
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            cols: list[str] = []
            for v in value:
                cols += [c for c in v if c not in cols]
            items.append((title, "rows", (cols, value)))
        else:
            items.append((title, "text", value))
    return items

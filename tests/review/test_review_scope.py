"""Scope on every route (interface.md "People and their scope"), enumerated from ``app.url_map``.

People at three levels and in two branches (province 430000; 市州 430100 and 430200; counties
430121 and 430181 of 430100) each get every route. Out of scope must answer 404 exactly like a
finding that does not exist. ``CASES`` holds one check per (method, endpoint): a route added later
without a case here fails ``test_every_route_has_a_scope_case``.
"""

from __future__ import annotations

import io
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docx
import pytest
from openpyxl import load_workbook
from review_data import (
    CHANGSHA,
    CHANGSHA_XIAN,
    DAY2,
    ID_LIU,
    LIUYANG,
    PASSWORD,
    PROVINCE,
    SCOPE_FINDINGS,
    SCOPE_UNITS,
    VISIBLE,
    ZHUZHOU,
    csrf_of,
    fid,
    login,
    person_name,
)

from fundwatch import attachments, digest, rectification, scope, state
from fundwatch.paths import Home
from fundwatch.review import create_app, tokens
from fundwatch.uploads.submit import receive
from fundwatch.uploads.templates import LISTS_SHEET

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "uploads"))
from upload_files import filled_template, valid_rows  # noqa: E402

MISSING = "0000000000000000"
ARCHIVED_GX_PAGE = "validations/fundwatch_payments/fundwatch-2021-01-04/20210103T220000.000000Z/warehouse-payments.html"
# Whose people each unit's admin sees (by hand, from interface.md).
PEOPLE_OF = {
    PROVINCE: set(SCOPE_UNITS),
    CHANGSHA: {CHANGSHA, CHANGSHA_XIAN, LIUYANG},
    ZHUZHOU: {ZHUZHOU},
    CHANGSHA_XIAN: {CHANGSHA_XIAN},
    LIUYANG: {LIUYANG},
}


def tag(key: str) -> str:
    """The text unique to one scope finding (in its rule id, key, project, name and file)."""
    return SCOPE_FINDINGS[key]["rule_id"].removeprefix("SCOPE_")


@dataclass
class World:
    home: Home
    app: object
    clients: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)
    upload_ids: dict = field(default_factory=dict)

    def client(self, role: str, unit: str):
        """A signed-in client of that person (kept for the module)."""
        key = (role, unit)
        if key not in self.clients:
            self.clients[key] = self.fresh(role, unit)
        return self.clients[key]

    def fresh(self, role: str, unit: str):
        c = self.app.test_client()
        assert login(c, person_name(role, unit)).status_code == 302
        return c

    def bearer(self, role: str, unit: str) -> dict:
        key = (role, unit)
        if key not in self.tokens:
            self.tokens[key] = tokens.create(self.home.state_db, person_name(role, unit))[1]
        return {"Authorization": f"Bearer {self.tokens[key]}"}

    def rows(self, sql: str, *params) -> list:
        conn = state.connect(self.home.state_db)
        try:
            return [tuple(r) for r in conn.execute(sql, params)]
        finally:
            conn.close()


@pytest.fixture(scope="module")
def world(scope_template, tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("scope-routes") / "home"
    shutil.copytree(scope_template.root, root)
    home = Home(root)
    (home.dbt_docs_dir / "index.html").write_text("<html>dbt docs of every unit</html>", encoding="utf-8")
    (home.gx_docs_dir / "index.html").write_text("<html>GX docs of every unit</html>", encoding="utf-8")
    archived = home.gx_docs_archive_dir / ARCHIVED_GX_PAGE  # a run older than the index (run_archive)
    archived.parent.mkdir(parents=True)
    archived.write_text("<html>archived GX run page, docs of every unit</html>", encoding="utf-8")
    app = create_app(home)
    app.config["TESTING"] = True
    return World(home, app)


def visible_ids(unit: str) -> set[str]:
    return {fid(SCOPE_FINDINGS[k]) for k in VISIBLE[unit]}


def assert_no_leak(text: str, unit: str) -> None:
    for key in SCOPE_FINDINGS.keys() - VISIBLE[unit]:
        assert tag(key) not in text, f"{key} leaks to {unit}"
    assert ID_LIU not in text


def assert_holds_no_finding(text: str) -> None:
    for key in SCOPE_FINDINGS:
        assert tag(key) not in text


def per_finding(w: World, unit: str, call: Callable, ok: int, after: Callable | None = None) -> None:
    """``call(fid)`` answers ``ok`` for a finding in scope and the missing finding's answer otherwise."""
    for key, finding in SCOPE_FINDINGS.items():
        call(MISSING)  # shows (and ends) the flash message of the call before, if any
        missing = call(MISSING)
        assert missing.status_code == 404
        resp = call(fid(finding))
        if key in VISIBLE[unit]:
            assert resp.status_code == ok, (key, resp.get_data(as_text=True)[:300])
        else:
            assert (resp.status_code, resp.data) == (404, missing.data), f"{key} out of scope for {unit}"
            assert_holds_no_finding(resp.get_data(as_text=True))
        if after:
            after(key, finding)


# ------------------------------------------------------------------ one check per route


def static_css(w: World, unit: str) -> None:
    resp = w.app.test_client().get("/static/style.css")
    assert resp.status_code == 200 and b"font-family" in resp.data


def login_form(w: World, unit: str) -> None:
    text = w.app.test_client().get("/login").get_data(as_text=True)
    assert "登录" in text
    assert_holds_no_finding(text)


def login_post(w: World, unit: str) -> None:
    c = w.app.test_client()
    resp = login(c, person_name("reviewer", unit))
    assert resp.status_code == 302
    assert_no_leak(c.get(resp.headers["Location"]).get_data(as_text=True), unit)


def favicon(w: World, unit: str) -> None:
    resp = w.client("reviewer", unit).get("/favicon.ico")
    assert resp.status_code == 204 and resp.data == b""


def logout(w: World, unit: str) -> None:
    c = w.fresh("auditor", unit)
    resp = c.post("/logout", data={"csrf_token": csrf_of(c)})
    assert resp.status_code == 302
    assert c.get("/api/findings").status_code == 401


def password_form(w: World, unit: str) -> None:
    text = w.client("reviewer", unit).get("/account/password").get_data(as_text=True)
    assert "修改密码" in text
    assert_holds_no_finding(text)


def password_post(w: World, unit: str) -> None:
    c = w.client("reviewer", unit)
    resp = c.post("/account/password", data={"csrf_token": csrf_of(c), "current": "wrong-password",
                                              "new": "x" * 12, "repeat": "x" * 12})
    assert resp.status_code == 400
    assert_holds_no_finding(resp.get_data(as_text=True))


def queue_page(w: World, unit: str) -> None:
    """The queue, its counts, chart (history), per-rule and area tables, filter choices."""
    c = w.client("reviewer", unit)
    text = c.get("/").get_data(as_text=True)
    for key in VISIBLE[unit]:
        assert f"/findings/{fid(SCOPE_FINDINGS[key])}" in text
    assert f'id="stat-count">{len(VISIBLE[unit])}<' in text
    assert_no_leak(text, unit)
    for key in SCOPE_FINDINGS.keys() - VISIBLE[unit]:
        f = SCOPE_FINDINGS[key]
        for query in (f"rule={f['rule_id']}", f"county={f['unit_code']}", f"unit={f['unit_code']}",
                      f"project={f['project_code']}", f"q={f['subject_key']}"):
            if "None" in query:
                continue
            filtered = c.get(f"/?{query}").get_data(as_text=True)  # the query itself is echoed
            for hidden in SCOPE_FINDINGS.keys() - VISIBLE[unit]:
                other = SCOPE_FINDINGS[hidden]
                assert fid(other) not in filtered and other["rule_name"] not in filtered


def queue_export(w: World, unit: str) -> None:
    resp = w.client("reviewer", unit).get("/export.xlsx?status=all")
    ws = load_workbook(io.BytesIO(resp.data)).worksheets[0]
    column = [c.value for c in ws[3]].index("问题编号")
    ids = {r[column].value for r in ws.iter_rows(min_row=4) if r[column].value}
    assert ids == visible_ids(unit)
    assert_no_leak(" ".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None), unit)


def queue_bulk_decide(w: World, unit: str) -> None:
    """Ticked findings: one out of scope refuses the whole request with 404 (like a missing one),
    nothing recorded; the whole filtered queue holds only findings in scope."""
    c = w.client("reviewer", unit)

    def bulk(*fids, target="selected", query="status=all", expected=""):
        return c.post(f"/bulk-decide?{query}", data={"csrf_token": csrf_of(c), "action": "confirmed",
                                                      "comment": "批量范围测试", "target": target,
                                                      "fid": list(fids), "expected": expected})

    counts = "SELECT finding_id, count(*) FROM decisions GROUP BY finding_id"
    before = dict(w.rows(counts))
    per_finding(w, unit, lambda f: bulk(f), 302)
    inside = next(iter(visible_ids(unit)))
    for key in SCOPE_FINDINGS.keys() - VISIBLE[unit]:
        mixed = bulk(inside, fid(SCOPE_FINDINGS[key]))
        assert (mixed.status_code, mixed.data) == (404, bulk(MISSING).data)
    after = dict(w.rows(counts))
    for key, f in SCOPE_FINDINGS.items():
        grew = after.get(fid(f), 0) - before.get(fid(f), 0)
        assert grew == (1 if key in VISIBLE[unit] else 0), (key, unit)
    whole = bulk(target="filter", expected=str(len(VISIBLE[unit])))
    assert whole.status_code == 302
    final = dict(w.rows(counts))
    assert {f for f in final if final[f] != after.get(f)} == visible_ids(unit)
    logged = {r[0] for r in w.rows("SELECT finding_id FROM audit_log WHERE action = 'bulk_decide' AND username = ?",
                                   person_name("reviewer", unit))}
    assert logged == visible_ids(unit)


def finding_page(w: World, unit: str) -> None:
    c = w.client("unit", unit)  # the unit role reads its scope's findings too
    per_finding(w, unit, lambda f: c.get(f"/findings/{f}"), 200)


def finding_decide(w: World, unit: str) -> None:
    c = w.client("reviewer", unit)
    before = dict(w.rows("SELECT finding_id, count(*) FROM decisions GROUP BY finding_id"))

    def unchanged_if_hidden(key, finding):
        now = dict(w.rows("SELECT finding_id, count(*) FROM decisions GROUP BY finding_id"))
        if key not in VISIBLE[unit]:
            assert now.get(fid(finding)) == before.get(fid(finding))

    per_finding(w, unit, lambda f: c.post(f"/findings/{f}/decide", data={
        "csrf_token": csrf_of(c), "action": "confirmed", "comment": "范围测试"}), 302, unchanged_if_hidden)


def finding_unmask(w: World, unit: str) -> None:
    c = w.client("auditor", unit)
    per_finding(w, unit, lambda f: c.post(f"/findings/{f}/unmask", data={
        "csrf_token": csrf_of(c), "reason": "范围测试"}), 200)
    logged = {r[0] for r in w.rows("SELECT finding_id FROM audit_log WHERE action = 'unmask' AND username = ?",
                                   person_name("auditor", unit))}
    assert logged == visible_ids(unit)


def audit_page(w: World, unit: str) -> None:
    for role in ("reviewer", "auditor"):  # everyone signs in once, so the log holds every person
        w.client(role, unit)
    text = w.client("admin", unit).get("/admin/audit").get_data(as_text=True)
    allowed = {person_name(r, u) for u in PEOPLE_OF[unit] for r in ("reviewer", "auditor", "admin", "unit")}
    hidden = {person_name(r, u) for u in set(SCOPE_UNITS) - PEOPLE_OF[unit]
              for r in ("reviewer", "auditor", "admin", "unit")}
    assert person_name("admin", unit) in text
    for name in hidden:
        assert name not in text, f"{name} shown to the admin of {unit}"
    assert allowed & {n for n in allowed if n in text}


ALL_ROLES = ("reviewer", "auditor", "admin", "unit")


def people_page(w: World, unit: str) -> None:
    text = w.client("admin", unit).get("/admin/people").get_data(as_text=True)
    for u in SCOPE_UNITS:
        for role in ALL_ROLES:
            assert (person_name(role, u) in text) == (u in PEOPLE_OF[unit]), (role, u, unit)


def add_person(w: World, unit: str) -> None:
    c = w.client("admin", unit)
    for target in SCOPE_UNITS:
        name = f"new_{unit}_{target}"
        resp = c.post("/admin/people", data={"csrf_token": csrf_of(c), "username": name, "role": "unit",
                                             "unit": target, "password": "initial-pass-1"})
        made = w.rows("SELECT unit_code FROM users WHERE username = ?", name)
        if target in PEOPLE_OF[unit]:
            assert resp.status_code == 302 and made == [(target,)]
        else:
            assert resp.status_code == 400 and made == [], f"{unit} added a person of {target}"
            assert "只能在本单位范围内" in resp.get_data(as_text=True)


def on_people(action: str, ok: int = 302) -> Callable[[World, str], None]:
    """POST /admin/people/<name>/<action> answers ok for a person in scope, else 404 like nobody."""
    def check(w: World, unit: str) -> None:
        c = w.client("admin", unit)
        targets = {}
        for target in SCOPE_UNITS:
            name = f"{action}_{unit}_{target}"
            conn = state.connect(w.home.state_db)
            with state.transaction(conn):  # quick: the hash of another person (no sign-in needed)
                conn.execute("INSERT INTO users SELECT ?, password_hash, 'unit', ?, created_at, updated_at "
                             "FROM users LIMIT 1", (name, target))
            conn.close()
            tokens.create(w.home.state_db, name)
            targets[target] = name
        form = {"password": "reset-pass-123"}
        for target, name in targets.items():
            c.post("/admin/people/nobody/" + action, data={"csrf_token": csrf_of(c), **form})  # ends a flash
            missing = c.post("/admin/people/nobody/" + action, data={"csrf_token": csrf_of(c), **form})
            before = w.rows("SELECT password_hash FROM users WHERE username = ?", name)
            live = w.rows("SELECT count(*) FROM api_tokens WHERE username = ? AND revoked_at IS NULL", name)
            resp = c.post(f"/admin/people/{name}/{action}", data={"csrf_token": csrf_of(c), **form})
            if target in PEOPLE_OF[unit]:
                assert resp.status_code == ok, (action, target, unit)
                assert {
                    "password": lambda n, b=before: w.rows("SELECT password_hash FROM users WHERE username = ?",
                                                           n) != b,
                    "remove": lambda n: w.rows("SELECT 1 FROM users WHERE username = ?", n) == [],
                    "revoke-tokens": lambda n: w.rows("SELECT count(*) FROM api_tokens WHERE username = ? "
                                                      "AND revoked_at IS NULL", n) == [(0,)],
                }[action](name), (action, target, unit)
            else:
                assert (resp.status_code, resp.data) == (404, missing.data), (action, target, unit)
                assert w.rows("SELECT password_hash FROM users WHERE username = ?", name) == before
                assert w.rows("SELECT count(*) FROM api_tokens WHERE username = ? AND revoked_at IS NULL",
                              name) == live
    return check


def docs(*paths: str) -> Callable[[World, str], None]:
    def check(w: World, unit: str) -> None:
        c = w.client("reviewer", unit)
        for path in paths:
            resp = c.get(path)
            if unit == PROVINCE:
                assert resp.status_code == 200 and b"docs of every unit" in resp.data, path
            else:
                missing = c.get("/no-such-page")
                assert (resp.status_code, resp.data) == (404, missing.data), path
                assert "/docs/" not in c.get("/").get_data(as_text=True), "no link to what they may not open"
    return check


def api_list(w: World, unit: str) -> None:
    for auth in ({}, w.bearer("auditor", unit)):
        c = w.client("auditor", unit)
        body = c.get("/api/findings", headers=auth).get_json()
        assert {f["finding_id"] for f in body["findings"]} == visible_ids(unit)
        assert body["total"] == len(VISIBLE[unit])
        for key in SCOPE_FINDINGS.keys() - VISIBLE[unit]:
            f = SCOPE_FINDINGS[key]
            for query in (f"unit_code={f['unit_code']}", f"rule_id={f['rule_id']}", f"q={f['subject_key']}",
                          f"q=姓名{tag(key)}"):
                if "None" in query:
                    continue
                found = c.get(f"/api/findings?{query}", headers=auth).get_json()["findings"]
                assert {x["finding_id"] for x in found} <= visible_ids(unit), (query, unit)


def api_one(w: World, unit: str) -> None:
    headers = w.bearer("unit", unit)
    c = w.app.test_client()
    per_finding(w, unit, lambda f: c.get(f"/api/findings/{f}", headers=headers), 200)


def api_decide(w: World, unit: str) -> None:
    headers = w.bearer("reviewer", unit)
    c = w.app.test_client()
    per_finding(w, unit, lambda f: c.post(f"/api/findings/{f}/decisions", headers=headers,
                                          json={"action": "confirmed", "comment": "范围测试"}), 201)


def api_unmask(w: World, unit: str) -> None:
    c = w.client("admin", unit)
    per_finding(w, unit, lambda f: c.post(f"/api/findings/{f}/unmask", headers={"X-CSRF-Token": csrf_of(c)},
                                          json={"reason": "范围测试"}), 200)


def api_openapi(w: World, unit: str) -> None:
    resp = w.app.test_client().get("/api/openapi.json", headers=w.bearer("unit", unit))
    assert resp.status_code == 200 and resp.get_json()["openapi"].startswith("3.1")
    assert_holds_no_finding(resp.get_data(as_text=True))


# ------------------------------------------------------------------ 报送 (uploads)
# Whose uploads each unit sees: one upload per unit of SCOPE_UNITS, so the units it sees (by hand).
UPLOADS_VISIBLE = PEOPLE_OF
MISSING_UPLOAD = 999_999


def upload_tag(unit: str) -> str:
    return f"标签{unit}"  # in the file name and in a rejected row's reason: unique to that upload


def uploads_of(w: World) -> dict[str, int]:
    """One upload per scope unit by its clerk (made once per module): unit -> upload id."""
    if not w.upload_ids:
        for unit in SCOPE_UNITS:
            rows = valid_rows("payments", 2)
            rows[1][7] = upload_tag(unit)  # 金额 unreadable: the reason quotes the tag
            up = receive(w.home, username=person_name("unit", unit), unit_code=unit,
                         data=filled_template("payments", rows, unit), filename=f"{upload_tag(unit)}.xlsx")
            assert up.placed
            w.upload_ids[unit] = up.id
    return w.upload_ids


def assert_no_upload_leak(text: str, unit: str) -> None:
    for other in set(SCOPE_UNITS) - UPLOADS_VISIBLE[unit]:
        assert upload_tag(other) not in text, f"the upload of {other} leaks to {unit}"


def per_upload(w: World, unit: str, call: Callable, ok: int) -> list:
    """``call(id)`` answers ``ok`` for an upload in scope, and exactly what a missing one answers otherwise."""
    answers = []
    for owner, uid in uploads_of(w).items():
        missing = call(MISSING_UPLOAD)
        assert missing.status_code == 404
        resp = call(uid)
        if owner in UPLOADS_VISIBLE[unit]:
            assert resp.status_code == ok, (owner, unit, resp.get_data(as_text=True)[:300])
            answers.append((owner, resp))
        else:
            assert (resp.status_code, resp.data) == (404, missing.data), f"upload of {owner} out of scope for {unit}"
            assert_no_upload_leak(resp.get_data(as_text=True), unit)
    return answers


def uploads_page(w: World, unit: str) -> None:
    uploads_of(w)
    for role in ALL_ROLES:
        text = w.client(role, unit).get("/uploads").get_data(as_text=True)
        for owner in UPLOADS_VISIBLE[unit]:
            assert f"{upload_tag(owner)}.xlsx" in text, (role, owner, unit)
        assert_no_upload_leak(text, unit)
        assert ('id="upload-form"' in text) == (role == "unit")


def upload_submit(w: World, unit: str) -> None:
    """A clerk's file lands in its own unit folder only; a path out of it is refused; other roles 403."""
    c = w.client("unit", unit)
    name = f"死亡登记{unit}.xlsx"
    data = filled_template("deaths", valid_rows("deaths"), unit)

    def send(client, **extra):
        return client.post("/uploads", data={"csrf_token": csrf_of(client), "file": (io.BytesIO(data), name),
                                             **extra}, content_type="multipart/form-data")

    resp = send(c, path="../430200")
    assert resp.status_code == 303
    assert "报送路径中不能有" in c.get(resp.headers["Location"]).get_data(as_text=True)
    assert send(c).status_code == 303
    placed = [p.relative_to(w.home.inbox).as_posix() for p in w.home.inbox.rglob(name)]
    assert len(placed) == 1 and placed[0].split("/")[0] == unit, placed
    assert send(w.client("reviewer", unit)).status_code == 403
    assert send(w.client("admin", unit)).status_code == 403


def upload_detail(w: World, unit: str) -> None:
    c = w.client("auditor", unit)
    for owner, resp in per_upload(w, unit, lambda u: c.get(f"/uploads/{u}"), 200):
        assert upload_tag(owner) in resp.get_data(as_text=True)
        assert_no_upload_leak(resp.get_data(as_text=True), unit)


def upload_annotated(prefix: str) -> Callable[[World, str], None]:
    def check(w: World, unit: str) -> None:
        c = w.client("unit", unit)
        for owner, resp in per_upload(w, unit, lambda u: c.get(f"{prefix}/uploads/{u}/annotated.xlsx"), 200):
            ws = load_workbook(io.BytesIO(resp.data)).worksheets[0]
            assert any(upload_tag(owner) in str(v) for row in ws.iter_rows(values_only=True) for v in row)
        reviewer = w.client("reviewer", unit)  # may read reports, not the files' personal data
        per_upload(w, unit, lambda u: reviewer.get(f"{prefix}/uploads/{u}/annotated.xlsx"), 403)
    return check


def upload_template(w: World, unit: str) -> None:
    """The unit-code drop-down offers exactly the units in scope (the five scope units by hand)."""
    resp = w.client("unit", unit).get("/templates/payments.xlsx")
    lists = load_workbook(io.BytesIO(resp.data))[LISTS_SHEET]
    col = next(c for c in range(1, lists.max_column + 1) if lists.cell(1, c).value == "发放单位代码")
    codes = {v for (v,) in lists.iter_rows(min_col=col, max_col=col, min_row=2, values_only=True) if v}
    assert {u for u in SCOPE_UNITS if u in codes} == UPLOADS_VISIBLE[unit]
    assert all(c[:4] == unit[:4] for c in codes) if unit != PROVINCE else len(codes) == 137
    assert w.client("unit", unit).get("/templates/nothing.xlsx").status_code == 404


def api_upload(w: World, unit: str) -> None:
    data = filled_template("deaths", valid_rows("deaths"), unit)
    c = w.app.test_client()
    resp = c.post("/api/uploads", headers=w.bearer("unit", unit), content_type="multipart/form-data",
                  data={"file": (io.BytesIO(data), "死亡登记API.xlsx")})
    body = resp.get_json()
    assert resp.status_code == 201 and body["placed"] and body["inbox_path"].startswith(f"{unit}/")
    resp = c.post("/api/uploads", headers=w.bearer("auditor", unit), content_type="multipart/form-data",
                  data={"file": (io.BytesIO(data), "x.xlsx")})
    assert resp.status_code == 403


def api_uploads(w: World, unit: str) -> None:
    ids = uploads_of(w)
    body = w.app.test_client().get("/api/uploads", headers=w.bearer("reviewer", unit)).get_json()
    listed = {u["id"] for u in body["uploads"]}
    assert {ids[o] for o in UPLOADS_VISIBLE[unit]} <= listed
    assert not {ids[o] for o in set(SCOPE_UNITS) - UPLOADS_VISIBLE[unit]} & listed
    assert_no_upload_leak(str(body), unit)


def api_upload_detail(w: World, unit: str) -> None:
    c, headers = w.app.test_client(), w.bearer("reviewer", unit)
    for owner, resp in per_upload(w, unit, lambda u: c.get(f"/api/uploads/{u}", headers=headers), 200):
        assert resp.get_json()["unit_code"] == owner


# ------------------------------------------------------------------ rectification (整改)

PNG = (Path(__file__).resolve().parent.parent / "fundwatch" / "data" / "receipt.png").read_bytes()


def rectifications_ready(w: World) -> dict[str, int]:
    """Once per module: every scope finding confirmed, answered by its unit's clerk with a PNG, and
    the day's digests stored. Returns each finding's attachment id by key."""
    if getattr(w, "attachment_of", None) is None:
        conn = state.connect(w.home.state_db)
        try:
            w.attachment_of = {}
            for key, finding in SCOPE_FINDINGS.items():
                if rectification.get(conn, fid(finding)) is None or rectification.get(conn, fid(finding))["withdrawn"]:
                    state.add_decision(conn, finding_id=fid(finding), action="confirmed", comment="",
                                       username=person_name("reviewer", PROVINCE))
                r = rectification.get(conn, fid(finding))
                if finding["unit_code"] and r["state"] in ("notified", "returned"):
                    clerk = rectification.Actor(person_name("unit", finding["unit_code"]), "unit",
                                                finding["unit_code"])
                    r = rectification.act(conn, w.home.attachments_dir, finding_id=fid(finding), actor=clerk,
                                          action="respond", comment=f"整改说明{tag(key)}",
                                          files=[attachments.Upload(f"回单{tag(key)}.png", PNG)])
                ids = [a["id"] for s in r["steps"] for a in s["attachments"]]
                if ids:
                    w.attachment_of[key] = ids[0]
            digest.store(conn, digest.build(conn, DAY2))
        finally:
            conn.close()
    return w.attachment_of


def rect_step(client_of: Callable[[World, str], tuple]) -> Callable[[World, str], None]:
    """A rectification step on every finding: out of scope 404 exactly like a missing finding and
    nothing written; in scope, the state machine answers (201, or 403/409 with its reason)."""
    def check(w: World, unit: str) -> None:
        rectifications_ready(w)
        c, post = client_of(w, unit)
        for key, finding in SCOPE_FINDINGS.items():
            post(c, MISSING)
            missing = post(c, MISSING)
            assert missing.status_code == 404
            before = w.rows("SELECT count(*) FROM rectification_steps WHERE finding_id = ?", fid(finding))
            resp = post(c, fid(finding))
            if key in VISIBLE[unit]:
                own = finding["unit_code"] == unit
                assert resp.status_code in ((201, 302, 409) if own else (403,)), (key, unit, resp.status_code)
            else:
                assert (resp.status_code, resp.data) == (404, missing.data), f"{key} out of scope for {unit}"
                assert_holds_no_finding(resp.get_data(as_text=True))
                assert w.rows("SELECT count(*) FROM rectification_steps WHERE finding_id = ?",
                              fid(finding)) == before
    return check


def _api_client(w: World, unit: str) -> tuple:
    headers = w.bearer("unit", unit)
    return w.app.test_client(), lambda c, f: c.post(f"/api/findings/{f}/rectification", headers=headers,
                                                   json={"action": "respond", "comment": "范围测试"})


def _page_client(w: World, unit: str) -> tuple:
    c = w.client("unit", unit)
    return c, lambda c, f: c.post(f"/findings/{f}/rectification", data={
        "csrf_token": csrf_of(c), "action": "respond", "comment": "范围测试"})


def rect_queue(w: World, unit: str) -> None:
    rectifications_ready(w)
    for role in ("reviewer", "unit"):
        text = w.client(role, unit).get("/rectifications?all=1").get_data(as_text=True)
        for key in VISIBLE[unit]:
            assert fid(SCOPE_FINDINGS[key]) in text
        assert_no_leak(text, unit)


def rect_notice(w: World, unit: str) -> None:
    rectifications_ready(w)
    c = w.client("unit", unit)
    missing = c.get("/rectifications/notice/439999.docx")
    for key, finding in SCOPE_FINDINGS.items():
        target = finding["unit_code"]
        if target is None:
            continue
        resp = c.get(f"/rectifications/notice/{target}.docx")
        if key in VISIBLE[unit]:
            assert resp.status_code == 200, (key, unit)
            text = "".join(cell.text for t in docx.Document(io.BytesIO(resp.data)).tables for r in t.rows
                           for cell in r.cells)
            assert tag(key) in text and ID_LIU not in text
        elif unit != PROVINCE:
            assert (resp.status_code, resp.data) == (404, missing.data), (key, unit)


def rect_ledger(w: World, unit: str) -> None:
    rectifications_ready(w)
    c = w.client("auditor", unit)
    ws = load_workbook(io.BytesIO(c.get("/rectifications/ledger.xlsx").data)).worksheets[0]
    text = " ".join(str(v) for row in ws.iter_rows(values_only=True) for v in row)
    assert {k for k in SCOPE_FINDINGS if fid(SCOPE_FINDINGS[k]) in text} == VISIBLE[unit]
    for target in SCOPE_UNITS:
        resp = c.get(f"/rectifications/ledger.xlsx?unit={target}")
        assert resp.status_code == (200 if scope.covers(unit, target) else 404), (target, unit)


def rect_attachment(w: World, unit: str, api: bool = False) -> None:
    attachment_of = rectifications_ready(w)
    c, headers = (w.app.test_client(), w.bearer("auditor", unit)) if api else (w.client("reviewer", unit), {})
    prefix = "/api/rectifications/attachments/" if api else "/rectifications/attachments/"
    missing = c.get(f"{prefix}999999", headers=headers)
    assert missing.status_code == 404
    for key, aid in attachment_of.items():
        resp = c.get(f"{prefix}{aid}", headers=headers)
        if key in VISIBLE[unit]:
            assert resp.status_code == 200 and resp.data == PNG and resp.mimetype == "image/png"
            assert resp.headers["Content-Disposition"].startswith("attachment;")
        else:
            assert (resp.status_code, resp.data) == (404, missing.data), (key, unit)


def digest_page(w: World, unit: str) -> None:
    rectifications_ready(w)
    text = w.client("unit", unit).get(f"/digest?date={DAY2}").get_data(as_text=True)
    shown = {u for u in ("430000", "430100", "430121", "430181", "430200", "430202") if f'id="digest-{u}"' in text}
    assert shown == {u for u in ("430000", "430100", "430121", "430181", "430200", "430202")
                     if scope.covers(unit, u)}
    assert_no_leak(text, unit)


CASES: dict[str, Callable[[World, str], None]] = {
    "GET static": static_css,
    "GET signin.login": login_form,
    "POST signin.login": login_post,
    "GET signin.favicon": favicon,
    "POST signin.logout": logout,
    "GET signin.password": password_form,
    "POST signin.password": password_post,
    "GET queue.index": queue_page,
    "GET queue.export_xlsx": queue_export,
    "POST queue.bulk_decide": queue_bulk_decide,
    "GET finding.page": finding_page,
    "POST finding.decide": finding_decide,
    "POST finding.unmask": finding_unmask,
    "GET admin.audit": audit_page,
    "GET admin.people": people_page,
    "POST admin.add_person": add_person,
    "POST admin.reset_password": on_people("password"),
    "POST admin.remove_person": on_people("remove"),
    "POST admin.revoke_tokens": on_people("revoke-tokens"),
    "GET docs.index": docs("/docs/gx/"),
    "GET docs.file": docs("/docs/dbt/index.html", f"/docs/gx/{ARCHIVED_GX_PAGE}"),
    "GET api.findings": api_list,
    "GET api.finding": api_one,
    "POST api.decide": api_decide,
    "POST api.unmask": api_unmask,
    "GET api.openapi_json": api_openapi,
    "GET submission.index": uploads_page,
    "POST submission.submit": upload_submit,
    "GET submission.detail": upload_detail,
    "GET submission.annotated": upload_annotated(""),
    "GET submission.template": upload_template,
    "POST submission.api_upload": api_upload,
    "GET submission.api_history": api_uploads,
    "GET submission.api_detail": api_upload_detail,
    "GET submission.api_annotated": upload_annotated("/api"),
    "POST rectify.api_step": rect_step(_api_client),
    "POST rectify.page_step": rect_step(_page_client),
    "GET rectify.queue": rect_queue,
    "GET rectify.notice": rect_notice,
    "GET rectify.ledger": rect_ledger,
    "GET rectify.attachment": rect_attachment,
    "GET rectify.api_attachment": lambda w, unit: rect_attachment(w, unit, api=True),
    "GET rectify.digest_page": digest_page,
}


def routes(app) -> set[str]:
    return {f"{m} {rule.endpoint}" for rule in app.url_map.iter_rules()
            for m in rule.methods - {"HEAD", "OPTIONS"}}


def test_every_route_has_a_scope_case(world):
    assert routes(world.app) - CASES.keys() == set(), "a route without a scope check: add it to CASES"
    assert CASES.keys() - routes(world.app) == set(), "a check for a route that does not exist"


@pytest.mark.parametrize("unit", SCOPE_UNITS)
@pytest.mark.parametrize("route", sorted(CASES))
def test_route_honours_scope(world, route, unit):
    CASES[route](world, unit)


def test_the_unit_role_reads_its_scope_but_may_not_decide(world):
    c = world.client("unit", CHANGSHA_XIAN)
    f = fid(SCOPE_FINDINGS["in_430121"])
    assert c.get(f"/findings/{f}").status_code == 200
    assert 'id="decide-form"' not in c.get(f"/findings/{f}").get_data(as_text=True)
    assert c.post(f"/findings/{f}/decide", data={"csrf_token": csrf_of(c), "action": "confirmed"}).status_code == 403
    resp = world.app.test_client().post(f"/api/findings/{f}/decisions", headers=world.bearer("unit", CHANGSHA_XIAN),
                                        json={"action": "confirmed"})
    assert resp.status_code == 403 and "无权" in resp.get_json()["message"]


def test_wrong_password_of_a_scoped_person_still_fails(world):
    assert login(world.app.test_client(), person_name("unit", LIUYANG), PASSWORD + "x").status_code == 401


@pytest.mark.parametrize("role", ["reviewer", "auditor", "unit"])
def test_only_admins_manage_people(world, role):
    c = world.client(role, PROVINCE)
    assert c.get("/admin/people").status_code == 403
    assert c.get("/admin/audit").status_code == 403
    resp = c.post("/admin/people", data={"csrf_token": csrf_of(c), "username": "x", "role": "admin",
                                         "unit": PROVINCE, "password": "initial-pass-1"})
    assert resp.status_code == 403 and world.rows("SELECT 1 FROM users WHERE username = 'x'") == []

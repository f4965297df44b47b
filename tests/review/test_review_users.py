"""`fundwatch users ...`: who may sign in, with which role; passwords only as scrypt hashes."""

from __future__ import annotations

import io

import pytest
from review_data import PAY_LATE, fid, login

from fundwatch import state
from fundwatch.paths import Home
from fundwatch.review import create_app, users_command
from fundwatch.review.users import list_users

SECRET = "Pa55word-for-tests"


@pytest.fixture
def fresh_home(tmp_path) -> Home:
    return Home(tmp_path / "home")


def run(home, argv, stdin="", monkeypatch=None):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return users_command(home, argv)


def test_add_list_and_sign_in(fresh_home, monkeypatch, capsys):
    assert run(fresh_home, ["add", "张三", "--role", "reviewer", "--password-stdin"], SECRET + "\n",
               monkeypatch) == 0
    assert run(fresh_home, ["list"], monkeypatch=monkeypatch) == 0
    assert "张三\treviewer" in capsys.readouterr().out
    raw = b"".join(p.read_bytes() for p in fresh_home.root.glob("state.sqlite*"))
    assert SECRET.encode() not in raw, "the password itself is never stored"
    conn = state.connect(fresh_home.state_db)
    assert conn.execute("SELECT password_hash FROM users").fetchone()[0].startswith("scrypt:")
    conn.close()
    app = create_app(fresh_home)
    assert login(app.test_client(), "张三", SECRET).status_code == 302


@pytest.mark.parametrize(("argv", "stdin", "message"), [
    pytest.param(["add", "li", "--role", "reviewer", "--password-stdin"], "short\n", "at least 8",
                 id="short"),
    pytest.param(["add", "bad name!", "--role", "admin", "--password-stdin"], SECRET + "\n", "user name",
                 id="bad-name"),
    pytest.param(["passwd", "ghost", "--password-stdin"], SECRET + "\n", "no user", id="passwd-unknown"),
    pytest.param(["remove", "ghost"], "", "no user", id="remove-unknown"),
    pytest.param(["set-role", "ghost", "admin"], "", "no user", id="set-role-unknown"),
])
def test_refusals_exit_1_with_a_reason(fresh_home, monkeypatch, capsys, argv, stdin, message):
    assert run(fresh_home, argv, stdin, monkeypatch) == 1
    assert message in capsys.readouterr().err


def test_unknown_role_is_a_usage_error(fresh_home, monkeypatch):
    assert run(fresh_home, ["add", "li", "--role", "boss", "--password-stdin"], SECRET, monkeypatch) == 2


def test_duplicate_user_is_refused(fresh_home, monkeypatch, capsys):
    argv = ["add", "li", "--role", "auditor", "--password-stdin"]
    assert run(fresh_home, argv, SECRET + "\n", monkeypatch) == 0
    assert run(fresh_home, argv, SECRET + "\n", monkeypatch) == 1
    assert "already exists" in capsys.readouterr().err


def test_passwd_set_role_and_remove_take_effect(home, monkeypatch):
    app = create_app(home)
    assert run(home, ["passwd", "reviewer1", "--password-stdin"], "new-password-42\n", monkeypatch) == 0
    assert login(app.test_client(), "reviewer1", "new-password-42").status_code == 302
    assert run(home, ["set-role", "reviewer1", "auditor"], monkeypatch=monkeypatch) == 0
    client = app.test_client()
    login(client, "reviewer1", "new-password-42")
    with client.session_transaction() as sess:
        token = sess["csrf"]
    resp = client.post(f"/findings/{fid(PAY_LATE)}/decide", data={"action": "confirmed", "csrf_token": token})
    assert resp.status_code == 403, "now read-only"
    assert run(home, ["remove", "reviewer1"], monkeypatch=monkeypatch) == 0
    assert login(app.test_client(), "reviewer1", "new-password-42").status_code == 401
    conn = state.connect(home.state_db)
    actions = [r[0] for r in conn.execute(
        "SELECT action FROM audit_log WHERE action LIKE 'user_%' ORDER BY id")]
    conn.close()
    assert actions[-3:] == ["user_passwd", "user_set_role", "user_remove"]


def test_prompted_password_must_be_typed_twice_alike(fresh_home, monkeypatch, capsys):
    answers = iter(["first-password", "other-password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert users_command(fresh_home, ["add", "wang", "--role", "admin"]) == 1
    assert "differ" in capsys.readouterr().err


def test_home_may_come_last_as_interface_md_writes_it(tmp_path, monkeypatch, capsys):
    from fundwatch import cli

    home = Home(tmp_path / "home")
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
    assert cli.main(["users", "add", "县填报", "--role", "unit", "--unit", "430121", "--password-stdin",
                     "--home", str(home.root)]) == 0
    assert cli.main(["users", "token", "县填报", "--home", str(home.root)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("fw_")
    assert [(u["username"], u["role"], u["unit_code"]) for u in list_users(home.state_db)] == [
        ("县填报", "unit", "430121")]


def test_set_unit_changes_scope_and_ends_sessions(home, monkeypatch):
    app = create_app(home)
    client = app.test_client()
    assert login(client, "reviewer1").status_code == 302
    assert client.get(f"/findings/{fid(PAY_LATE)}").status_code == 200
    assert run(home, ["set-unit", "reviewer1", "430200"], monkeypatch=monkeypatch) == 0
    assert client.get("/").status_code == 302, "signed out by the change"
    client = app.test_client()
    login(client, "reviewer1")
    assert client.get(f"/findings/{fid(PAY_LATE)}").status_code == 404, "a 长沙县 finding is outside 株洲"
    assert run(home, ["set-unit", "reviewer1", "4302"], monkeypatch=monkeypatch) == 1


def _post(client, url, **form):
    with client.session_transaction() as sess:
        form["csrf_token"] = sess["csrf"]
    return client.post(url, data=form)


def test_an_admin_manages_people_on_the_page(home):
    app = create_app(home)
    admin = app.test_client()
    login(admin, "admin1")
    resp = _post(admin, "/admin/people", username="株洲填报", role="unit", unit="430200", password=SECRET)
    assert resp.status_code == 302
    clerk = app.test_client()
    assert login(clerk, "株洲填报", SECRET).status_code == 302
    assert clerk.get(f"/findings/{fid(PAY_LATE)}").status_code == 404, "a 长沙县 finding is outside 株洲"
    resp = _post(admin, "/admin/people/株洲填报/password", password="another-secret-1")
    assert resp.status_code == 302 and clerk.get("/").status_code == 302, "reset ends the clerk's session"
    assert login(app.test_client(), "株洲填报", "another-secret-1").status_code == 302
    for form, message in (({"username": "x y", "role": "unit", "unit": "430200", "password": SECRET}, "用户名"),
                          ({"username": "短密码", "role": "unit", "unit": "430200", "password": "short"}, "至少 8"),
                          ({"username": "株洲填报", "role": "unit", "unit": "430200", "password": SECRET}, "同名")):
        resp = _post(admin, "/admin/people", **form)
        assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    resp = _post(admin, "/admin/people/admin1/remove")
    assert resp.status_code == 400 and "不能删除自己" in resp.get_data(as_text=True)
    assert _post(admin, "/admin/people/株洲填报/remove").status_code == 302
    assert login(app.test_client(), "株洲填报", "another-secret-1").status_code == 401
    conn = state.connect(home.state_db)
    logged = conn.execute("SELECT action, username, client FROM audit_log WHERE action LIKE 'user_%' "
                          "AND username = 'admin1' ORDER BY id").fetchall()
    conn.close()
    assert [r[0] for r in logged] == ["user_add", "user_passwd", "user_remove"]
    assert {r[2] for r in logged} == {"127.0.0.1"}

"""`fundwatch users import FILE.csv`: a unit's people in bulk, all or none, passwords shown once."""

from __future__ import annotations

import sqlite3

from fundwatch import state
from fundwatch.cli import main
from fundwatch.paths import Home
from fundwatch.review.users import add_user, verify


def _csv(path, text: str, bom: bool = True):
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_import_adds_everyone_with_a_password_printed_once(tmp_path, capsys):
    home = Home(tmp_path / "home")
    people = _csv(tmp_path / "长沙县.csv", "姓名,角色,单位代码\n张填报,unit,430121\n李审核,reviewer,430100\n"
                                            "王审计,auditor,430000\n")
    assert main(["users", "--home", str(home.root), "import", str(people)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("name\tinitial password")
    passwords = dict(line.split("\t") for line in lines[1:])
    assert set(passwords) == {"张填报", "李审核", "王审计"}
    assert len(set(passwords.values())) == 3 and all(len(p) >= 16 for p in passwords.values())
    conn = state.connect(home.state_db)
    try:
        for name, password in passwords.items():
            assert verify(conn, name, password) is not None
            assert verify(conn, name, password + "x") is None
        units = dict(conn.execute("SELECT username, unit_code FROM users").fetchall())
        assert units == {"张填报": "430121", "李审核": "430100", "王审计": "430000"}
        stored = " ".join(r[0] for r in conn.execute("SELECT password_hash FROM users"))
        assert not any(p in stored for p in passwords.values())  # only scrypt hashes
        logged = [r[0] for r in conn.execute("SELECT detail FROM audit_log WHERE action = 'user_add'")]
        assert len(logged) == 3 and not any(p in " ".join(logged) for p in passwords.values())
    finally:
        conn.close()


def test_one_bad_row_adds_nobody_and_names_the_row(tmp_path, capsys):
    home = Home(tmp_path / "home")
    add_user(home.state_db, "李审核", "correct-horse-9", "reviewer")
    people = _csv(tmp_path / "p.csv", "name,role,unit\n赵一,unit,430121\n钱二,clerk,430121\n孙三,unit,4301\n"
                                      "李审核,reviewer,430000\n", bom=False)
    assert main(["users", "--home", str(home.root), "import", str(people)]) == 1
    err = capsys.readouterr().err
    assert "nobody added" in err and "row 3" in err and "row 4" in err and "already a user" in err
    conn = sqlite3.connect(home.state_db)
    assert [r[0] for r in conn.execute("SELECT username FROM users")] == ["李审核"]
    conn.close()


def test_a_file_without_the_columns_is_refused(tmp_path, capsys):
    people = _csv(tmp_path / "p.csv", "who,what\na,b\n")
    assert main(["users", "--home", str(tmp_path / "home"), "import", str(people)]) == 1
    assert "missing column 'name'" in capsys.readouterr().err

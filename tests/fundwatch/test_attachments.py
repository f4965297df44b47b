"""Rectification attachments: type by content, size limit, storage by hash outside served folders, scope."""

from __future__ import annotations

import stat

import pytest
from fw_testdata import CS_LATE, DATA, ZZ_LATE, drive, fid, step

from fundwatch import attachments, rectification

PDF, PNG, JPG = ((DATA / f"receipt.{ext}").read_bytes() for ext in ("pdf", "png", "jpg"))


@pytest.mark.parametrize(("name", "data", "media_type"), [
    ("整改说明.pdf", PDF, "application/pdf"), ("回单.PNG", PNG, "image/png"), ("现场照片.jpg", JPG, "image/jpeg"),
    ("现场照片.jpeg", JPG, "image/jpeg"),
])
def test_pdf_png_jpg_are_accepted_by_content(name, data, media_type):
    assert attachments.check(attachments.Upload(name, data)) == (name, media_type)


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("回单.png", PDF, "内容是PDF 文件，但扩展名 .png 表示PNG 图片"),   # a PDF renamed .png
    ("说明.pdf", PNG, "内容是PNG 图片，但扩展名 .pdf 表示PDF 文件"),    # a PNG renamed .pdf: refused too
    ("照片.png", JPG, "内容是JPG 图片"),
    ("说明", PDF, "文件名没有扩展名"),
    ("说明.docx", PDF, "扩展名 .docx 不是 PDF、JPG 或 PNG"),
    ("说明.pdf", b"<html><script>alert(1)</script></html>", "不是 PDF、JPG 或 PNG"),
    ("说明.pdf", b"MZ\x90\x00" + b"\x00" * 100, "不是 PDF、JPG 或 PNG"),   # an executable named .pdf
    ("说明.pdf", b"", "空文件"),
])
def test_the_content_decides_and_the_name_must_agree(name, data, reason):
    with pytest.raises(attachments.AttachmentError, match=reason):
        attachments.check(attachments.Upload(name, data))


def test_size_limit_is_configurable(monkeypatch):
    assert attachments.max_bytes() == 10 * 1024 * 1024
    monkeypatch.setenv(attachments.ENV_MAX_MB, "0.005")  # 5 KB: the 10 KB PDF is too large, the PNG is not
    with pytest.raises(attachments.AttachmentError, match="超过大小上限"):
        attachments.check(attachments.Upload("说明.pdf", PDF))
    attachments.check(attachments.Upload("回单.png", PNG))
    monkeypatch.setenv(attachments.ENV_MAX_MB, "ten")
    with pytest.raises(ValueError, match=attachments.ENV_MAX_MB):
        attachments.max_bytes()


def test_names_are_kept_but_never_a_path(tmp_path):
    s = attachments.store(tmp_path, attachments.Upload("../../etc/整改\x00说明.pdf", PDF))
    assert s.original_name == "整改_说明.pdf"
    assert attachments.path_of(tmp_path, s.sha256).parent.parent == tmp_path
    with pytest.raises(ValueError):
        attachments.path_of(tmp_path, "../" * 10 + "etc/passwd")


def test_stored_once_by_hash_owner_only(tmp_path):
    a = attachments.store(tmp_path, attachments.Upload("a.pdf", PDF))
    b = attachments.store(tmp_path, attachments.Upload("b.pdf", PDF))
    assert a.sha256 == b.sha256 and (a.original_name, b.original_name) == ("a.pdf", "b.pdf")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].read_bytes() == PDF
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600


def test_a_step_with_attachments_and_scoped_reading(conn, rhome):
    drive(conn, rhome, CS_LATE, "notified")
    files = [attachments.Upload("整改说明.pdf", PDF), attachments.Upload("回单.png", PNG)]
    r = step(conn, rhome, CS_LATE, "county_clerk", "respond", files=files)
    got = r["steps"][-1]["attachments"]
    assert [(a["name"], a["media_type"], a["size_bytes"]) for a in got] == [
        ("整改说明.pdf", "application/pdf", len(PDF)), ("回单.png", "image/png", len(PNG))]
    # Home.attachments_dir is outside every folder the review page serves (docs).
    assert not rhome.attachments_dir.is_relative_to(rhome.dbt_docs_dir.parent)
    one = got[0]["id"]
    for viewer in ("430000", "430100", "430121"):
        rec = rectification.attachment(conn, viewer, one)
        assert attachments.path_of(rhome.attachments_dir, rec["sha256"]).read_bytes() == PDF
    for viewer in ("430200", "430202", "430122"):
        assert rectification.attachment(conn, viewer, one) is None
    assert rectification.attachment(conn, "430000", 9999) is None


def test_a_refused_attachment_refuses_the_step(conn, rhome):
    drive(conn, rhome, ZZ_LATE, "notified")
    bad = [attachments.Upload("整改说明.pdf", PDF), attachments.Upload("回单.png", PDF)]
    with pytest.raises(rectification.BadRequest, match="回单.png"):
        step(conn, rhome, ZZ_LATE, "other_county_clerk", "respond", files=bad)
    assert rectification.get(conn, fid(ZZ_LATE))["state"] == "notified"
    assert not rhome.attachments_dir.exists() or not any(p.is_file() for p in rhome.attachments_dir.rglob("*"))
    too_many = [attachments.Upload(f"{i}.png", PNG) for i in range(attachments.MAX_FILES + 1)]
    with pytest.raises(rectification.BadRequest, match="最多"):
        step(conn, rhome, ZZ_LATE, "other_county_clerk", "respond", files=too_many)

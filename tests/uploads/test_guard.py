"""The upload guard: paths below the unit's own folder, type by content, zip bombs, size."""

from __future__ import annotations

import io
import struct
import time
import zipfile
import zlib

import pytest
from upload_files import COUNTY, csv_bytes, filled_template, headers, valid_rows

from fundwatch.uploads import guard
from fundwatch.uploads.guard import UploadRefused, content_type, target_path

UNIT_DIR = "430121"


@pytest.mark.parametrize("filename, path, expected", [
    pytest.param("名单.xlsx", None, f"{UNIT_DIR}/名单.xlsx", id="plain"),
    pytest.param("名单.xlsx", "2020/第二批", f"{UNIT_DIR}/2020/第二批/名单.xlsx", id="sub-folder"),
    pytest.param("名单.xlsx", "2020/第二批/", f"{UNIT_DIR}/2020/第二批/名单.xlsx", id="trailing-slash"),
    pytest.param("x.xlsx", "2020/定稿.CSV", f"{UNIT_DIR}/2020/定稿.CSV", id="path-names-the-file"),
    pytest.param("发放明细（第二批）.csv", None, f"{UNIT_DIR}/发放明细（第二批）.csv", id="full-width-brackets"),
    pytest.param("Ame\u0301lie.xlsx", None, f"{UNIT_DIR}/Am\u00e9lie.xlsx", id="nfc"),
])
def test_paths_land_below_the_unit_folder(filename, path, expected):
    assert target_path(COUNTY, filename, path).as_posix() == expected


@pytest.mark.parametrize("filename, path", [
    pytest.param("x.xlsx", "../430122_望城区", id="dotdot"),
    pytest.param("x.xlsx", "a/../../430122_望城区", id="dotdot-inside"),
    pytest.param("../x.xlsx", None, id="dotdot-in-name"),
    pytest.param("x.xlsx", "/etc", id="absolute"),
    pytest.param("x.xlsx", "/430122_望城区/x.xlsx", id="absolute-file"),
    pytest.param("x.xlsx", "..\\430122", id="backslash-dotdot"),
    pytest.param("a\\b.xlsx", None, id="backslash-name"),
    pytest.param("x.xlsx", "C:/temp", id="drive-letter"),
    pytest.param("x.xlsx", "\uff0e\uff0e/430122", id="fullwidth-dots"),
    pytest.param("x.xlsx", "a\uff0fb", id="fullwidth-slash"),
    pytest.param("x.xlsx", "a\u2215b", id="division-slash"),
    pytest.param("x.xlsx", "a\u2044b", id="fraction-slash"),
    pytest.param("x\u202excslx.xlsx", None, id="bidi-override"),
    pytest.param("x\u200b.xlsx", None, id="zero-width"),
    pytest.param("x\x00.xlsx", None, id="nul-in-name"),
    pytest.param("x.xlsx", "a\x00b", id="nul-in-path"),
    pytest.param("x\n.xlsx", None, id="newline"),
    pytest.param("~$x.xlsx", None, id="office-lock-file"),
    pytest.param(".x.xlsx", None, id="hidden"),
    pytest.param("x.xlsx", "a//b", id="empty-part"),
    pytest.param("x.xlsx", "./a", id="dot"),
    pytest.param("CON.xlsx", None, id="windows-name"),
    pytest.param("x .xlsx", "a ", id="trailing-space"),
    pytest.param("x.xls", None, id="xls"),
    pytest.param("x.pdf", None, id="pdf-name"),
    pytest.param("x", None, id="no-extension"),
    pytest.param("", None, id="empty-name"),
    pytest.param("x.xlsx", "/".join("a" * 6), id="too-deep"),
    pytest.param("x.xlsx", "430102", id="folder-named-like-a-code"),
    pytest.param("x.xlsx", "2020/芙蓉区", id="folder-named-like-a-division"),
])
def test_path_escapes_and_tricks_are_refused(filename, path):
    with pytest.raises(UploadRefused) as exc:
        target_path(COUNTY, filename, path)
    assert str(exc.value) and not str(exc.value).isascii()  # a Chinese reason


def test_unit_folder_is_the_code():
    assert guard.unit_folder("430121") == UNIT_DIR
    assert guard.unit_folder("430100") == "430100"
    with pytest.raises(UploadRefused):
        guard.unit_folder("../x")


# ---------------------------------------------------------------- content
def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


XLSX_SKELETON = {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}


def test_real_files_pass():
    assert content_type(filled_template("payments", valid_rows("payments")), "a.xlsx") == "xlsx"
    rows = [headers("payments"), *valid_rows("payments")]
    assert content_type(csv_bytes(rows), "a.csv") == "csv"
    assert content_type(csv_bytes(rows, "gb18030"), "a.csv") == "csv"


@pytest.mark.parametrize("data, name, words", [
    pytest.param(b"%PDF-1.7\n...", "a.xlsx", "PDF", id="pdf-named-xlsx"),
    pytest.param(b"\x89PNG\r\n\x1a\n....", "a.csv", "PNG", id="png-named-csv"),
    pytest.param(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "a.xlsx", ".xls", id="old-xls"),
    pytest.param(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "EncryptedPackage".encode("utf-16-le"), "a.xlsx",
                 "密码", id="password"),
    pytest.param(_zip({"word/document.xml": b"<w/>", "[Content_Types].xml": b"<T/>"}), "a.xlsx", "Word",
                 id="docx"),
    pytest.param(_zip({"a.txt": b"hello"}), "a.xlsx", "压缩包", id="plain-zip"),
    pytest.param(b"PK\x03\x04garbage", "a.xlsx", "损坏", id="broken-zip"),
    pytest.param("交易流水号,金额\nT1,\x0012\n".encode(), "a.csv", "NUL", id="csv-with-nul"),
    pytest.param("交易流水号,金额\n".encode("utf-16"), "a.csv", "UTF-16", id="utf-16"),
    pytest.param(b"a,b\n\x80\xff\xff" * 10, "a.csv", "不是", id="undecodable"),
    pytest.param("交易流水号,金额\nT1,12\n".encode(), "a.xlsx", "扩展名", id="csv-named-xlsx"),
    pytest.param(_zip(XLSX_SKELETON), "a.csv", "扩展名", id="xlsx-named-csv"),
    pytest.param(b"", "a.csv", "空", id="empty"),
])
def test_type_is_decided_by_content(data, name, words):
    with pytest.raises(UploadRefused) as exc:
        content_type(data, name)
    assert words in str(exc.value)


def test_size_limit(monkeypatch):
    monkeypatch.setattr(guard, "MAX_BYTES", 1000)
    with pytest.raises(UploadRefused, match="超过报送上限"):
        content_type(b"a,b\n" * 300, "a.csv")


def test_zip_bomb_by_ratio_is_refused_quickly():
    bomb = _zip({**XLSX_SKELETON, "xl/worksheets/sheet1.xml": b"\0" * (60 * 1024 * 1024)})
    assert len(bomb) < 200_000
    t0 = time.monotonic()
    with pytest.raises(UploadRefused, match="压缩炸弹"):
        content_type(bomb, "a.xlsx")
    assert time.monotonic() - t0 < 1


def test_zip_bomb_by_total_size_is_refused(monkeypatch):
    monkeypatch.setattr(guard, "MAX_UNCOMPRESSED", 4 * 1024 * 1024)
    members = {**XLSX_SKELETON, **{f"xl/media/{i}.bin": bytes(range(256)) * 4096 for i in range(5)}}
    with pytest.raises(UploadRefused, match="超过上限"):
        content_type(_zip(members), "a.xlsx")


def _lying_zip(real: bytes, declared: int) -> bytes:
    """An xlsx zip whose sheet member says it inflates to ``declared`` bytes but holds ``real``."""
    data = bytearray(_zip({**XLSX_SKELETON, "xl/worksheets/sheet1.xml": real}))
    z = zipfile.ZipFile(io.BytesIO(bytes(data)))
    info = z.getinfo("xl/worksheets/sheet1.xml")
    crc = zlib.crc32(real[:declared])
    # patch the local header and the central directory entry: CRC and uncompressed size
    struct.pack_into("<II", data, info.header_offset + 14 + 4, info.compress_size, declared)
    struct.pack_into("<I", data, info.header_offset + 14, crc)
    cd = data.find(b"PK\x01\x02")
    while cd != -1:
        name_len = struct.unpack_from("<H", data, cd + 28)[0]
        if bytes(data[cd + 46:cd + 46 + name_len]) == b"xl/worksheets/sheet1.xml":
            struct.pack_into("<I", data, cd + 16, crc)
            struct.pack_into("<I", data, cd + 24, declared)
        cd = data.find(b"PK\x01\x02", cd + 4)
    return bytes(data)


def test_a_member_that_inflates_past_its_header_is_refused():
    """The header says 1 KB (and carries the CRC of that first KB), the stream holds 8 MB."""
    lying = _lying_zip(b"<row/>" * (8 * 1024 * 1024 // 6), 1024)
    assert zipfile.ZipFile(io.BytesIO(lying)).getinfo("xl/worksheets/sheet1.xml").file_size == 1024
    with pytest.raises(UploadRefused, match="压缩炸弹"):
        content_type(lying, "a.xlsx")

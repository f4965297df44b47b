"""Walk the inbox: every entry becomes an :class:`Entry`, to read or with the reason it is not read.

Nothing in the inbox can stop the walk (source-files.md "Delivery": every file accounted for):
a name that is not UTF-8, a link in a loop or out of the inbox, a pipe, a folder that cannot be
opened and a file that vanishes between listing and reading each become an entry with a Chinese
reason. Nothing outside the inbox is ever opened.

Decisions (决定及理由):

- 跳过（skipped：记录原因，不产生问题线索），正如 source-files.md "Delivery" 所列：Office/WPS 的
  临时锁定文件（``~$x.xlsx``、``.~lock.x.csv#``，有人正打开该文件时产生，不是数据），指向收件箱
  之外、循环或不存在的链接，名字不是 UTF-8 的文件或文件夹（常见于在 Linux 上解压 Windows
  压缩包，名字是 GBK 编码；理由中给出按 GBK 读出的名字），以及本次运行中途消失或正在被改写的
  新文件（下次运行再读）。跳过的条目及理由记在 ``raw.files``（status ``skipped``）并在入库摘要中
  报出。
- 拒收（rejected：产生 FILE_REJECTED）：管道和设备，打不开的文件夹和文件，以及不是
  .xlsx/.csv 的文件。
- 没有读取内容的条目（上面除格式不符以外的各项）只在它仍在收件箱中时有效：改名、删除链接后，
  对应的记录随下一次运行消失，不会永远挂着一条问题线索。
- 指向收件箱之内的文件链接照常读取（内容与目标相同，按“重复文件”处理）；目录链接不跟随。
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path

SUFFIXES = (".xlsx", ".csv")
LOCK_PREFIXES = ("~$", ".~lock.")


@dataclass(frozen=True)
class Entry:
    """One inbox entry. ``status`` is None for a file to read, else ``rejected`` or ``skipped``."""

    rel: str  # posix path relative to the inbox (valid UTF-8: undecodable bytes shown as \\xNN)
    path: Path | None  # what to read (a symlink's target inside the inbox); None if it is not opened
    reason: str | None = None  # why it is not loaded (Chinese)
    status: str | None = None  # None (read it) | "rejected" | "skipped"

    def refused(self, reason: str, status: str = "rejected", *, keep_path: bool = False) -> Entry:
        return replace(self, reason=reason, status=status, path=self.path if keep_path else None)


def display_rel(rel: str) -> str:
    """A relative path as valid UTF-8 text: bytes that are not UTF-8 written as ``\\xNN``."""
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def _bad_name_reason(rel: str, what: str) -> str:
    raw = os.fsencode(rel.rsplit("/", 1)[-1])
    try:
        guess = f"（按 GBK 读作“{raw.decode('gb18030')}”）"
    except UnicodeDecodeError:
        guess = ""
    return (f"{what}名不是 UTF-8 编码{guess}，常见于在 Linux 上解压 Windows 压缩包；未读取。"
            f"请把{what}改名（或用 UTF-8 文件名重新打包）后放回收件箱")


def _is_lock_file(name: str) -> bool:
    return name.startswith(LOCK_PREFIXES)


def classify(path: Path, rel: str, root: Path | None = None) -> Entry:
    """The entry for one file at ``path`` (relative path ``rel``); never raises for an OSError."""
    name = rel.rsplit("/", 1)[-1]
    shown = display_rel(rel)
    e = Entry(shown, path)
    if shown != rel:
        return e.refused(_bad_name_reason(rel, "文件"), "skipped")
    if _is_lock_file(name):
        return e.refused("Office/WPS 临时锁定文件（有人正在打开对应的表格时产生），不是数据文件，已跳过",
                         "skipped")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return e.refused("文件在本次运行读取前已被移走或删除，已跳过；若仍需载入请放回收件箱", "skipped")
    except OSError as exc:
        return e.refused(os_error_reason(exc))
    target = path
    if stat.S_ISLNK(st.st_mode):
        try:
            target = Path(os.path.realpath(path, strict=True))
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return e.refused("这是一个循环链接（符号链接最终指回自身），已跳过；请把文件本身放入收件箱",
                                 "skipped")
            return e.refused("链接（符号链接）指向的文件不存在，已跳过；请把文件本身放入收件箱", "skipped")
        except RuntimeError:  # pathlib's own loop detection, should it be reached
            return e.refused("这是一个循环链接（符号链接最终指回自身），已跳过；请把文件本身放入收件箱", "skipped")
        if root is not None and not target.is_relative_to(root):
            return e.refused("这是指向收件箱之外的链接（符号链接），已跳过；请把文件本身放入收件箱", "skipped")
        try:
            st = os.stat(target)
        except OSError as exc:
            return e.refused(os_error_reason(exc))
    if not stat.S_ISREG(st.st_mode):
        return e.refused("不是普通文件（可能是管道或设备），未读取")
    e = replace(e, path=target)
    if not name.lower().endswith(SUFFIXES):
        suffix = Path(name).suffix or "（无扩展名）"
        hint = "；请在 Excel 中另存为 .xlsx" if suffix.lower() in (".xls", ".et", ".xlsm") else ""
        return e.refused(f"不支持的文件格式“{suffix}”：只接受 .xlsx 和 .csv 文件{hint}", keep_path=True)
    return e


def os_error_reason(exc: OSError) -> str:
    """The Chinese reason for a file that could not be opened or read."""
    if isinstance(exc, FileNotFoundError):
        return "文件在读取时已被移走或删除，未读取"
    if isinstance(exc, PermissionError):
        return "没有读取该文件的权限，未读取；请检查文件权限（或文件是否被其他程序锁定）"
    if exc.errno == errno.ELOOP:
        return "这是一个循环链接（符号链接最终指回自身），未读取；请把文件本身放入收件箱"
    return f"文件无法打开或读取（系统错误 {exc.errno}：{exc.strerror or exc}），未读取；请检查文件后重新放入"


def walk_inbox(inbox: Path) -> list[Entry]:
    """Every entry under the inbox, sorted by relative path; nothing outside it is ever opened."""
    root = Path(os.path.realpath(inbox, strict=True))
    if not root.is_dir():
        raise NotADirectoryError(f"收件箱不是目录: {inbox}")
    os.scandir(root).close()  # an unreadable inbox fails the run (PermissionError); a sub-folder does not
    entries: list[Entry] = []

    def unreadable_dir(exc: OSError) -> None:
        rel = Path(exc.filename).relative_to(root).as_posix() if exc.filename else "."
        entries.append(Entry(display_rel(rel), None, "文件夹无法打开（没有权限或已被移走），"
                             "其中的文件未读取；请检查文件夹权限", "rejected"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable_dir, followlinks=False):
        d = Path(dirpath)
        keep = []
        for name in sorted(dirnames):
            p = d / name
            rel = p.relative_to(root).as_posix()
            if display_rel(rel) != rel:
                entries.append(Entry(display_rel(rel), None, _bad_name_reason(rel, "文件夹") + "；其中的文件未读取",
                                     "skipped"))
                continue
            if p.is_symlink():
                try:
                    inside = Path(os.path.realpath(p, strict=True)).is_relative_to(root)
                except (OSError, RuntimeError):
                    entries.append(Entry(rel, None, "这是一个循环或失效的目录链接（符号链接），已跳过", "skipped"))
                    continue
                if not inside:
                    entries.append(Entry(rel, None, "这是指向收件箱之外的目录链接（符号链接），已跳过；"
                                                    "请把文件直接放入收件箱", "skipped"))
                continue  # os.walk does not follow it; a link inside shows files walked anyway
            keep.append(name)
        dirnames[:] = keep
        for name in filenames:
            p = d / name
            entries.append(classify(p, p.relative_to(root).as_posix(), root))
    entries.sort(key=lambda e: e.rel)
    return entries

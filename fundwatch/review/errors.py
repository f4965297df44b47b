"""Error answers of the review service, in Chinese: a page, or JSON under ``/api/``."""

from __future__ import annotations

import sqlite3

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

TITLES = {
    400: "请求无效", 401: "需要登录", 403: "无权操作", 404: "未找到", 405: "不支持的请求方式",
    413: "提交的内容过大", 415: "不支持的内容类型", 429: "请求过于频繁", 500: "服务器内部错误",
    503: "请稍后重试",
}
# Werkzeug's own English descriptions are replaced by these (a view's own Chinese text is kept).
MESSAGES = {
    400: "请求格式不正确。", 401: "请先登录。", 403: "当前账号无权进行此操作。", 404: "没有找到所请求的内容。",
    405: "此地址不支持该请求方式。", 413: "提交的内容超过了允许的大小。", 415: "请求的内容类型不受支持。",
    429: "请求过于频繁，请稍后再试。", 500: "服务器处理请求时出错，已记录；请稍后重试或联系管理员。",
    503: "服务暂时不可用，请稍后重试。",
}


def _is_chinese(text: object) -> bool:
    return isinstance(text, str) and any("\u4e00" <= ch <= "\u9fff" for ch in text)


def answer(code: int, message: str, headers: dict | None = None):
    title = TITLES.get(code, "错误")
    if request.path.startswith("/api/"):
        resp = jsonify(error=title, message=message, status=code)
    else:
        resp = render_template("error.html", code=code, title=title, message=message)
    return resp, code, headers or {}


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = exc.code or 500
        message = exc.description if _is_chinese(exc.description) else MESSAGES.get(code, TITLES.get(code, "错误"))
        headers = {}
        if code == 401 and request.path.startswith("/api/"):
            headers["WWW-Authenticate"] = 'Bearer realm="fundwatch"'
        if code == 405 and getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(exc.valid_methods)
        return answer(code, message, headers)

    @app.errorhandler(InternalServerError)
    def _internal(exc: InternalServerError):
        app.logger.error("unhandled error on %s %s", request.method, request.path,
                         exc_info=exc.original_exception or exc)
        return answer(500, MESSAGES[500])

    @app.errorhandler(sqlite3.OperationalError)
    def _busy(exc: sqlite3.OperationalError):
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise exc
        return answer(503, "每日运行正在写入结果，请稍等几秒后重试（未保存）。")

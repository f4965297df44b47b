"""OpenAPI 3.1 description of the review service's JSON API, served at ``/api/openapi.json``.

Hand-written, one dict. A test checks that every ``/api/`` route of the app is described here and
nothing else is: a blueprint that adds an API route adds its entry to ``PATHS``.
"""

from __future__ import annotations

from fundwatch import state

_ERR = {"$ref": "#/components/responses/Error"}
_FID = {"name": "finding_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{16}$"}}
_JSON = "application/json"
_UID = {"name": "upload_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


def _ok(schema_ref: str, description: str) -> dict:
    return {"description": description, "content": {_JSON: {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}


def _errors(*codes: int) -> dict:
    return {str(c): _ERR for c in codes}


def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


FINDING_PROPERTIES: dict[str, dict] = {
    "finding_id": {"type": "string", "description": "问题编号：sha256(rule_id|subject_type|subject_key) 的前 16 位"},
    "rule_id": {"type": "string"},
    "rule_name": {"type": "string"},
    "severity": {"type": "string", "enum": ["error", "warning"]},
    "subject_type": {"type": "string"},
    "subject_key": {"type": "string", "description": "对象键；名单人员的身份证号已脱敏"},
    "project_code": {"type": ["string", "null"]},
    "unit_code": {"type": ["string", "null"], "description": "责任单位 6 位行政区划代码"},
    "amount_at_risk": {"type": ["string", "null"], "pattern": r"^-?\d+\.\d{2}$",
                       "description": "涉及金额（元），两位小数的字符串"},
    "source_file": {"type": ["string", "null"]},
    "source_row": {"type": ["integer", "null"]},
    "detail": {"type": ["string", "null"], "description": "应为与实际（一句中文），号码已脱敏"},
    "first_seen": {"type": "string", "format": "date"},
    "status": {"type": "string", "enum": ["open", "confirmed", "dismissed", "resolved"]},
    "unit_name": {"type": ["string", "null"]},
    "rectification": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Rectification"}],
                      "description": "整改（rectification.md）：state、due、overdue、data_fixed 等；无则为 null；"
                                     "单条问题的详情另含 steps"},
}

RECTIFICATION_ACTIONS = ["respond", "verify", "return", "reopen"]
RECTIFICATION = {
    "type": "object",
    "properties": {
        "state": {"type": "string", "enum": ["notified", "responded", "returned", "verified"]},
        "state_label": {"type": "string", "description": "已下发 / 已反馈 / 已退回 / 已销号"},
        "due": {"type": "string", "format": "date", "description": "整改时限"},
        "overdue": {"type": "boolean", "description": "未销号且最近一次运行日期已过整改时限"},
        "overdue_days": {"type": "integer"},
        "data_fixed": {"type": "boolean", "description": "未销号且该问题已不再触发：数据已整改，待核销"},
        "withdrawn": {"type": "boolean", "description": "问题的确认已撤回（驳回或重新打开）：整改已撤销"},
        "unit_code": {"type": ["string", "null"], "description": "责任单位"},
        "opened_at": {"type": "string", "description": "下发时间（北京时间 ISO）"},
        "updated_at": {"type": "string"},
        "steps": {"type": "array", "description": "整改记录，最早的在前（只增不改）", "items": {
            "type": "object", "properties": {
                "id": {"type": "integer"},
                "action": {"type": "string", "enum": ["notify", *RECTIFICATION_ACTIONS]},
                "action_label": {"type": "string"},
                "state": {"type": "string"}, "due": {"type": "string", "format": "date"},
                "comment": {"type": ["string", "null"], "description": "号码已脱敏"},
                "username": {"type": "string"}, "at": {"type": "string"},
                "attachments": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "integer", "description": "下载：/api/rectifications/attachments/{id}"},
                    "name": {"type": "string"}, "media_type": {"type": "string"},
                    "size_bytes": {"type": "integer"}}}}}}},
    },
}
_RECT_FIELDS = {
    "action": {"type": "string", "enum": RECTIFICATION_ACTIONS,
               "description": "respond：问题所属单位反馈；verify / return / reopen：范围内的审核人员"},
    "comment": {"type": "string", "maxLength": 4000, "description": "反馈、退回、重新打开时必填"},
    "due": {"type": "string", "format": "date", "description": "新的整改时限：退回时必填，重新打开时可选"},
}

DECISION = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "finding_id": {"type": "string"},
        "action": {"type": "string", "enum": list(state.ACTIONS)}, "comment": {"type": ["string", "null"]},
        "username": {"type": "string"}, "decided_at": {"type": "string", "description": "北京时间 ISO"},
        "rectification": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Rectification"}],
                          "description": "确认后打开的整改（不含 steps）"},
    },
}

_MONEY = {"type": "string", "pattern": r"^\d+\.\d{2}$"}
UPLOAD = {
    "type": "object",
    "required": ["kind", "rows_read", "rows_loaded", "rows_rejected", "total_mismatches", "status"],
    "properties": {
        "id": {"type": "integer"},
        "status": {"type": "string", "enum": ["loaded", "rejected"],
                   "description": "loaded：可以载入（可能有被拒收的行）；rejected：整个文件被拒收"},
        "kind": {"type": ["string", "null"], "description": "识别出的文件类型（raw 表名，如 payments）"},
        "kind_label": {"type": ["string", "null"], "description": "文件类型的中文名，如 发放明细"},
        "reason": {"type": ["string", "null"], "description": "整个文件被拒收的原因"},
        "rows_read": {"type": "integer"},
        "rows_loaded": {"type": "integer"},
        "rows_rejected": {"type": "array", "items": {"type": "object", "required": ["row", "reason"], "properties": {
            "row": {"type": "integer", "description": "打开文件时看到的行号（CSV 为行号）"},
            "reason": {"type": "string"},
            "columns": {"type": "array", "items": {"type": "string"}, "description": "出错的列（表头）"}}}},
        "total_mismatches": {"type": "array", "items": {"type": "object", "properties": {
            "row": {"type": "integer"}, "column": {"type": "string"}, "stated": _MONEY, "computed": _MONEY,
            "difference": _MONEY}}},
        "notes": {"type": "array", "items": {"type": "string"}},
        "file_name": {"type": "string"}, "inbox_path": {"type": ["string", "null"]},
        "placed": {"type": "boolean", "description": "已放入收件箱"},
        "sha256": {"type": "string"}, "size_bytes": {"type": "integer"}, "unit_code": {"type": "string"},
        "username": {"type": "string"}, "uploaded_at": {"type": "string", "description": "北京时间 ISO"},
        "annotated_url": {"type": "string"},
    },
}

PATHS: dict[str, dict] = {
    "/api/findings": {
        "get": {
            "summary": "当前问题清单（仅本人范围内）",
            "description": "每页 50 条，新发现的在前。q 匹配：项目编码前缀；问题对象键前缀"
                           "（流水号、文号、凭证号、文件名；不按前缀匹配身份证号）；"
                           "证据中完全相等的值（姓名、身份证号、账号、流水号、文号）。",
            "parameters": [
                _query("status", "处理状态",
                       {"type": "string", "enum": ["open", "confirmed", "dismissed", "resolved"]}),
                _query("rule_id", "规则编号"),
                _query("unit_code", "单位代码：市州代码含其下属县市区", {"type": "string", "pattern": r"^\d{6}$"}),
                _query("severity", "严重程度", {"type": "string", "enum": ["error", "warning"]}),
                _query("q", "搜索（见上）", {"type": "string", "maxLength": 100}),
                _query("page", "页码，从 1 开始；超出末页返回空清单",
                       {"type": "integer", "minimum": 1, "maximum": 1_000_000}),
            ],
            "responses": {"200": _ok("FindingList", "问题清单"), **_errors(400, 401)},
        },
    },
    "/api/findings/{finding_id}": {
        "get": {
            "summary": "一条问题：证据（已脱敏）与处理记录（最早的在前）",
            "parameters": [_FID],
            "responses": {"200": _ok("FindingDetail", "问题详情"), **_errors(401, 404)},
        },
    },
    "/api/findings/{finding_id}/decisions": {
        "post": {
            "summary": "记录一次处理决定（只增不改）",
            "parameters": [_FID],
            "requestBody": {"required": True, "content": {_JSON: {"schema": {
                "type": "object", "required": ["action"],
                "properties": {"action": {"type": "string", "enum": list(state.ACTIONS)},
                               "comment": {"type": "string", "maxLength": 2000, "description": "驳回时必填"},
                               "due": {"type": "string", "format": "date",
                                       "description": "确认时可选：整改时限（默认错误 30 天、警告 60 天）"}}}}}},
            "responses": {"201": _ok("Decision", "已记录的决定（确认时含 rectification）"),
                          **_errors(400, 401, 403, 404, 409)},
        },
    },
    "/api/findings/{finding_id}/unmask": {
        "post": {
            "summary": "查看一条问题的完整号码（审计员、管理员；理由记入审计日志）",
            "parameters": [_FID],
            "requestBody": {"required": True, "content": {_JSON: {"schema": {
                "type": "object", "required": ["reason"],
                "properties": {"reason": {"type": "string", "maxLength": 500}}}}}},
            "responses": {"200": _ok("FindingDetail", "未脱敏的问题详情"), **_errors(400, 401, 403, 404)},
        },
    },
    "/api/uploads": {
        "get": {
            "summary": "报送记录（仅本人范围内，最新的在前，最多 200 条）",
            "responses": {"200": _ok("UploadList", "报送记录"), **_errors(401)},
        },
        "post": {
            "summary": "报送一个文件（单位经办人）：立即按每日运行的规则检查，可以载入的放入本单位收件箱目录",
            "description": "multipart/form-data：file 为 .xlsx 或 .csv（不超过 50 MB）；path 可选，为本单位目录下的"
                           "子文件夹（或以 .xlsx/.csv 结尾的相对路径）。同一路径再次报送即为更正版本。"
                           "整个文件被拒收的（status 为 rejected）不放入收件箱；部分行被拒收的照常放入。",
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"},
                               "path": {"type": "string", "maxLength": 300}}}}}},
            "responses": {"201": _ok("Upload", "检查结果（报送已记录）"), **_errors(400, 401, 403, 413)},
        },
    },
    "/api/uploads/{upload_id}": {
        "get": {
            "summary": "一次报送的检查结果",
            "parameters": [_UID],
            "responses": {"200": _ok("Upload", "检查结果"), **_errors(401, 404)},
        },
    },
    "/api/uploads/{upload_id}/annotated.xlsx": {
        "get": {
            "summary": "标注文件：被拒收的行加“问题说明”列、出错单元格标红，另有“检查结果”工作表"
                       "（单位经办人、审计员、管理员；审计员与管理员的下载记入审计日志）",
            "parameters": [_UID],
            "responses": {"200": {"description": "xlsx", "content": {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}},
                **_errors(401, 403, 404)},
        },
    },
    "/api/findings/{finding_id}/rectification": {
        "post": {
            "summary": "整改的一步（只增不改）：反馈、核查销号、退回、重新打开",
            "description": "状态不允许该操作时返回 409（中文说明）。附件（PDF、JPG、PNG，按内容识别，"
                           "每个不超过 10 MB，最多 5 个）用 multipart/form-data 的 attachments 字段上传。",
            "parameters": [_FID],
            "requestBody": {"required": True, "content": {
                _JSON: {"schema": {"type": "object", "required": ["action"], "properties": _RECT_FIELDS}},
                "multipart/form-data": {"schema": {"type": "object", "required": ["action"], "properties": {
                    **_RECT_FIELDS, "attachments": {"type": "array", "items": {
                        "type": "string", "format": "binary"}}}}}}},
            "responses": {"201": _ok("Rectification", "这一步之后的整改"),
                          **_errors(400, 401, 403, 404, 409, 413)},
        },
    },
    "/api/rectifications/attachments/{attachment_id}": {
        "get": {
            "summary": "下载整改附件（仅本人范围内的问题）",
            "parameters": [{"name": "attachment_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "附件原文件（PDF、JPG 或 PNG），文件名为上传时的名称",
                                  "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                              for t in ("application/pdf", "image/jpeg", "image/png")}},
                          **_errors(401, 404)},
        },
    },
    "/api/openapi.json": {
        "get": {"summary": "本说明", "responses": {"200": {"description": "OpenAPI 3.1"}, **_errors(401)}},
    },
}

SPEC: dict = {
    "openapi": "3.1.0",
    "info": {
        "title": "fundwatch 审核服务 API",
        "version": "1.0",
        "description": "湖南省计生协项目资金监督：问题清单、证据与处理。"
                       "JSON 为 UTF-8；金额为两位小数的字符串；日期为 ISO。"
                       "每个请求须已登录：浏览器会话（写操作带 X-CSRF-Token）或 Authorization: Bearer 令牌"
                       "（fundwatch users token NAME）。超出本人范围的问题与不存在的一样返回 404。",
    },
    "security": [{"bearer": []}, {"session": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "fundwatch users token NAME"},
            "session": {"type": "apiKey", "in": "cookie", "name": "fundwatch_session"},
        },
        "schemas": {
            "Finding": {"type": "object", "properties": FINDING_PROPERTIES},
            "FindingList": {"type": "object", "required": ["total", "findings"], "properties": {
                "total": {"type": "integer"}, "page": {"type": "integer"}, "page_size": {"type": "integer"},
                "findings": {"type": "array", "items": {"$ref": "#/components/schemas/Finding"}}}},
            "FindingDetail": {"allOf": [{"$ref": "#/components/schemas/Finding"}, {"type": "object", "properties": {
                "last_seen": {"type": ["string", "null"], "format": "date"},
                "is_open": {"type": "boolean"},
                "closed_on": {"type": ["string", "null"], "format": "date"},
                "evidence": {"type": "object", "additionalProperties": True,
                             "description": "每类记录一个键，各为带 source_file、source_row 的记录列表"},
                "decisions": {"type": "array", "items": {"$ref": "#/components/schemas/Decision"}}}}]},
            "Decision": DECISION,
            "Upload": UPLOAD,
            "UploadList": {"type": "object", "required": ["total", "uploads"], "properties": {
                "total": {"type": "integer"},
                "uploads": {"type": "array", "items": {"$ref": "#/components/schemas/Upload"}}}},
            "Rectification": RECTIFICATION,
            "Error": {"type": "object", "properties": {
                "error": {"type": "string"}, "message": {"type": "string"}, "status": {"type": "integer"}}},
        },
        "responses": {"Error": {"description": "错误（中文说明）", "content": {_JSON: {"schema": {
            "$ref": "#/components/schemas/Error"}}}}},
    },
}

"""Error pages in Chinese; JSON errors with a stable code for API and JSON requests."""

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .extensions import db

MESSAGES = {
    400: ("bad_request", "请求有误"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "您没有权限访问此页面"),
    404: ("not_found", "页面不存在或已被移除"),
    405: ("method_not_allowed", "不支持此请求方式"),
    409: ("conflict", "操作冲突，请刷新后重试"),
    413: ("too_large", "上传的文件太大"),
    429: ("too_many_requests", "请求过于频繁，请稍后再试"),
    500: ("internal_error", "服务器内部错误，我们已记录此问题，请稍后再试"),
}


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def json_error(status: int, code: str, message: str, fields: dict | None = None):
    body = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    response = jsonify(body)
    response.status_code = status
    return response


def render_error(status: int, message: str | None = None, code: str | None = None):
    default_code, default_message = MESSAGES.get(status, ("error", "出错了"))
    message = message or default_message
    if wants_json():
        return json_error(status, code or default_code, message)
    return render_template("errors/error.html", status=status, message=message), status


def register_error_handlers(app):
    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return render_error(400, "表单缺少安全令牌或已过期，请刷新页面后重新提交", "csrf_failed")

    @app.errorhandler(HTTPException)
    def http_error(e):
        custom = isinstance(e.description, str) and not e.description.isascii()
        message = e.description if custom else None
        return render_error(e.code or 500, message)

    @app.errorhandler(PermissionError)
    def permission_error(e):
        db.session.rollback()
        return render_error(403, str(e) or None)

    @app.errorhandler(Exception)
    def unhandled(e):
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500)

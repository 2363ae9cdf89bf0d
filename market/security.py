"""Security headers on every response.

The app serves all its own scripts, styles and images, so the Content-Security-Policy allows only
the app's origin (no inline script or style, no framing: one-click POST buttons cannot be
clickjacked).
"""

from flask import Flask, abort, request
from flask_login import current_user

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


def register_input_guard(app: Flask) -> None:
    """NUL characters never reach the database (PostgreSQL refuses them in text): a request carrying
    one in its path, query, form or JSON body is refused."""

    @app.before_request
    def refuse_nul():
        if (
            _has_nul(request.path)
            or _has_nul(list(request.args.items(multi=True)))
            or (
                request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")
                and _has_nul(list(request.form.items(multi=True)))
            )
            or (request.is_json and _has_nul(request.get_json(silent=True)))
        ):
            abort(400, "请求中含有不允许的控制字符（NUL）")


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def security_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint != "static" and current_user and current_user.is_authenticated:
            response.headers.setdefault("Cache-Control", "private, no-store")
        return response

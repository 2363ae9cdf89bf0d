import hmac
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from ..extensions import db, limiter, login_manager
from ..models import Organisation, User
from ..services import accounts
from ..validation import reference, rules
from ..validation.fields import ValidationError
from . import bp


@login_manager.user_loader
def load_user(user_id: str):
    """The user of a session or remember cookie, if its token is still the user's current one."""
    ident, _, token = str(user_id).partition(".")
    user = db.session.get(User, int(ident)) if rules.is_ascii_int(ident) else None
    if user is None or not user.session_token or not hmac.compare_digest(user.session_token, token):
        return None
    return user


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("main.index")


def _address() -> str:
    return request.remote_addr or ""


def _account() -> str:
    return "account:" + accounts.normal_username(request.form.get("username", ""))


def _limit(name: str):
    return lambda: current_app.config[name]


THROTTLED = "登录尝试过于频繁，请稍后再试"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    _limit("LOGIN_LIMIT_ADDRESS"),
    methods=["POST"],
    key_func=_address,
    error_message=THROTTLED,
    deduct_when=lambda response: response.status_code == 401,
)
@limiter.limit(
    _limit("LOGIN_LIMIT_ACCOUNT_ADDRESS"),
    methods=["POST"],
    key_func=lambda: f"{_account()}@{_address()}",
    error_message=THROTTLED,
)
@limiter.limit(_limit("LOGIN_LIMIT_ACCOUNT"), methods=["POST"], key_func=_account, error_message=THROTTLED)
def login():
    """Throttled per address (failed attempts only, so many people behind one NAT can still sign in:
    password spraying), per account and address (guessing) and per account over all addresses
    (distributed guessing), counted atomically in the limiter storage all server processes share."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    error = None
    if request.method == "POST":
        user = accounts.authenticate(request.form.get("username", ""), request.form.get("password", ""), _address())
        db.session.commit()
        if user:
            if not user.session_token:
                user.new_session_token()
                db.session.commit()
            login_user(user, remember=request.form.get("remember") == "on")
            flash(f"欢迎，{user.display_name}", "success")
            nxt = request.args.get("next")
            return redirect(_safe_next(nxt) if nxt else url_for("todo.index"))
        error = "用户名或密码不正确"
    return render_template("auth/login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    current_user.new_session_token()  # every session and remember cookie of the user ends
    db.session.commit()
    logout_user()
    flash("已退出登录", "info")
    return redirect(url_for("main.index"))


@bp.route("/register", methods=["GET", "POST"])
def register():
    errors, values = {}, {}
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            user = accounts.register(values)
            user.new_session_token()
            db.session.commit()
            login_user(user)
            if user.org_state == "pending":
                flash(
                    f"注册成功。加入“{user.org.name}”的申请已提交，经该单位管理员或平台管理员确认后，"
                    "您才能以单位名义发布信息、查看本单位的合同与对接。",
                    "success",
                )
            elif not user.org.verified:
                flash(
                    f"注册成功。您是“{user.org.name}”的单位管理员；平台管理员核验单位（统一社会信用代码）后，"
                    "即可以单位名义发布信息。",
                    "success",
                )
            else:
                flash("注册成功", "success")
            return redirect(url_for("account.dashboard"))
        except ValidationError as e:
            db.session.rollback()
            errors = e.errors
    orgs = db.session.scalars(select(Organisation).order_by(Organisation.kind, Organisation.name)).all()
    return render_template(
        "auth/register.html",
        errors=errors,
        values=values,
        orgs=orgs,
        org_kinds=reference.vocab().names.get("org_kind", []),
    ), (400 if errors else 200)

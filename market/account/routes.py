"""我的: a user's own listings, notifications and API token."""
import hashlib
import secrets

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..extensions import db
from ..models import Notification, utcnow
from ..services import listings
from . import bp


@bp.route("/")
@login_required
def dashboard():
    mine = {k: listings.owned_by(current_user, k) for k in listings.KINDS.values()}
    expiring = [item for items in mine.values() for item in items if listings.expiring_soon(item)]
    notes = db.session.scalars(select(Notification).where(Notification.user_id == current_user.id)
                               .order_by(Notification.created_at.desc()).limit(10)).all()
    return render_template("account/dashboard.html", mine=mine, kinds=listings.KINDS, expiring=expiring,
                           notes=notes)


@bp.route("/notifications")
@login_required
def notifications():
    notes = db.session.scalars(select(Notification).where(Notification.user_id == current_user.id)
                               .order_by(Notification.created_at.desc()).limit(200)).all()
    return render_template("account/notifications.html", notes=notes)


@bp.route("/notifications/read", methods=["POST"])
@login_required
def mark_read():
    ids = [int(i) for i in request.form.getlist("id") if i.isdigit()]
    stmt = select(Notification).where(Notification.user_id == current_user.id, Notification.read_at.is_(None))
    if ids:
        stmt = stmt.where(Notification.id.in_(ids))
    for note in db.session.scalars(stmt):
        note.read_at = utcnow()
    db.session.commit()
    return redirect(request.referrer or url_for(".notifications"))


@bp.route("/token", methods=["POST"])
@login_required
def new_token():
    token = secrets.token_urlsafe(32)
    current_user.api_token_hash = hashlib.sha256(token.encode()).hexdigest()
    db.session.commit()
    flash(f"新的 API 令牌（只显示这一次，请妥善保存）：{token}", "warning")
    return redirect(url_for(".dashboard"))

"""我的: a user's own listings, notifications and API token."""
import hashlib
import secrets

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..extensions import db
from ..models import Match, Notification, utcnow
from ..services import listings, matches
from ..services.schema import ValidationError
from ..web import get_or_404
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


@bp.route("/matches")
@login_required
def my_matches():
    rows = matches.of_party(current_user)
    return render_template("account/matches.html", rows=rows, reason_of=matches.Reason.of,
                           side_of=lambda m: matches.party_side(current_user, m))


def _party_match(match_id) -> Match:
    return get_or_404(Match, match_id, matches.can_view)


@bp.route("/matches/<int:match_id>")
@login_required
def my_match(match_id):
    m = _party_match(match_id)
    side = matches.party_side(current_user, m)
    mine, other = (m.need, m.achievement) if side == "need" else (m.achievement, m.need)
    return render_template("account/match.html", m=m, side=side, mine=mine, other=other,
                           other_private=listings.can_see_private(current_user, other),
                           close_reasons=matches.CLOSE_REASONS, action_labels=matches.ACTION_LABELS,
                           reason=matches.Reason.of(m))


@bp.route("/matches/<int:match_id>/<action>", methods=["POST"])
@login_required
def my_match_act(match_id, action):
    m = _party_match(match_id)
    form = request.form
    note = (form.get("note") or "").strip()[:2000]
    try:
        if str(m.version) != form.get("version", str(m.version)):
            raise matches.ConcurrentChange()
        if action == "interested":
            matches.respond(m, current_user, True, note=note)
        elif action == "declined":
            matches.respond(m, current_user, False, form.get("reason_code") or "party_declined", note)
        elif action == "negotiate":
            matches.negotiate(m, current_user, note)
        elif action == "close":
            matches.close(m, current_user, form.get("reason_code"), note)
        elif action == "note":
            matches.add_note(m, current_user, note)
        else:
            abort(404)
        db.session.commit()
        flash("已提交", "success")
    except (matches.TransitionError, matches.ConcurrentChange) as e:
        db.session.rollback()
        flash(str(e), "danger")
    except ValidationError as e:
        db.session.rollback()
        flash("；".join(e.errors.values()), "danger")
    return redirect(url_for(".my_match", match_id=m.id))

"""我的: a user's own listings, notifications and API token."""

import hashlib
import secrets

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..extensions import db
from ..models import Match, Notification, Organisation, User, utcnow
from ..services import accounts, contracts, listings, matches
from ..validation import rules
from ..validation.fields import ValidationError
from ..web import get_or_404
from . import bp


@bp.route("/")
@login_required
def dashboard():
    return _dashboard()


def _dashboard(new_token: str | None = None):
    mine = {k: listings.owned_by(current_user, k) for k in listings.KINDS.values()}
    expiring = [item for items in mine.values() for item in items if listings.expiring_soon(item)]
    notes = db.session.scalars(
        select(Notification)
        .where(Notification.user_id == current_user.id)
        .order_by(Notification.created_at.desc())
        .limit(10)
    ).all()
    return render_template(
        "account/dashboard.html", mine=mine, kinds=listings.KINDS, expiring=expiring, notes=notes, new_token=new_token
    )


@bp.route("/notifications")
@login_required
def notifications():
    notes = db.session.scalars(
        select(Notification)
        .where(Notification.user_id == current_user.id)
        .order_by(Notification.created_at.desc())
        .limit(200)
    ).all()
    return render_template("account/notifications.html", notes=notes)


@bp.route("/notifications/email", methods=["POST"])
@login_required
def email_setting():
    current_user.email_notices = request.form.get("email_notices") == "1"
    db.session.commit()
    flash("已开启邮件通知" if current_user.email_notices else "已关闭邮件通知（站内通知照常）", "success")
    return redirect(url_for(".notifications"))


@bp.route("/notifications/read", methods=["POST"])
@login_required
def mark_read():
    ids = [int(i) for i in request.form.getlist("id") if rules.is_ascii_int(i)]
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
    # shown in this response only: a flash message would keep it in the (readable) session cookie
    return _dashboard(new_token=token)


@bp.route("/matches")
@login_required
def my_matches():
    rows = matches.of_party(current_user)
    return render_template(
        "account/matches.html",
        rows=rows,
        reason_of=matches.Reason.of,
        side_of=lambda m: matches.party_side(current_user, m),
    )


def _party_match(match_id) -> Match:
    return get_or_404(Match, match_id, matches.can_view)


@bp.route("/matches/<int:match_id>")
@login_required
def my_match(match_id):
    m = _party_match(match_id)
    side = matches.party_side(current_user, m)
    mine, other = (m.need, m.achievement) if side == "need" else (m.achievement, m.need)
    return render_template(
        "account/match.html",
        m=m,
        side=side,
        mine=mine,
        other=other,
        other_private=listings.can_see_private(current_user, other),
        close_reasons=matches.CLOSE_REASONS,
        decline_reasons=matches.DECLINE_REASONS,
        action_labels=matches.ACTION_LABELS,
        reason=matches.Reason.of(m),
        events=matches.visible_events(m, current_user),
        answer=lambda s: matches.answer_label(m, s),
        contract=contracts.contract_of(m),
        can_apply=contracts.may_apply_for(current_user, m),
    )


@bp.route("/matches/<int:match_id>/<action>", methods=["POST"])
@login_required
def my_match_act(match_id, action):
    m = _party_match(match_id)
    form = request.form
    note = (form.get("note") or "").strip()[:2000]
    try:
        if str(m.version) != form.get("version", str(m.version)):
            raise matches.ConcurrentChange()
        if action == "agree":
            matches.respond(m, current_user, True, note=note)
        elif action == "decline":
            matches.respond(m, current_user, False, form.get("reason_code"), note)
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


# ---- 本单位: membership --------------------------------------------------------------------


@bp.route("/org")
@login_required
def org():
    own = current_user.org
    orgs = (
        db.session.scalars(select(Organisation).order_by(Organisation.kind, Organisation.name)).all()
        if current_user.has_role("researcher", "enterprise") and not current_user.org_confirmed
        else []
    )
    return render_template(
        "account/org.html",
        org=own,
        pending=accounts.pending_members(current_user)
        if not current_user.is_admin
        else [u for u in accounts.pending_members(current_user) if own is not None and u.org_id == own.id],
        members=accounts.members(own) if own is not None and current_user.org_confirmed else [],
        orgs=orgs,
    )


@bp.route("/org/join", methods=["POST"])
@login_required
def join_org():
    if not current_user.has_role("researcher", "enterprise") or current_user.org_confirmed:
        abort(403, "只有尚未确认单位的科研人员、企业用户可以申请加入单位")
    org = get_or_404(Organisation, rules.as_id(request.form.get("org_id")) or 0)
    allowed = (listings.ACHIEVEMENT if current_user.has_role("researcher") else listings.NEED).org_kinds
    if org.kind not in allowed:
        flash(f"{current_user.role_label}的单位性质应为{'、'.join(allowed)}", "danger")
        return redirect(url_for(".org"))
    accounts.request_membership(current_user, org)
    db.session.commit()
    flash(f"加入“{org.name}”的申请已提交，等待确认", "success")
    return redirect(url_for(".org"))


@bp.route("/org/members/<int:user_id>/<any(confirm, refuse):decision>", methods=["POST"])
@login_required
def decide_member(user_id, decision):
    member = get_or_404(User, user_id, lambda actor, m: accounts.can_decide(actor, m))
    try:
        accounts.decide_membership(member, current_user, decision == "confirm")
        db.session.commit()
        flash(f"已{'确认' if decision == 'confirm' else '拒绝'}{member.display_name}的加入申请", "success")
    except ValidationError as e:
        db.session.rollback()
        flash("；".join(e.errors.values()), "warning")
    return redirect(url_for(".org"))

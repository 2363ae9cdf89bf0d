"""经纪人工作台: the station queue, one match with both listings, the broker's decisions."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from matching.features import LABELS as FEATURE_LABELS

from ..extensions import db
from ..models import Match, MatchStatus, Role
from ..services import contracts, feedback, matches
from ..validation import reference, rules
from ..validation.fields import ValidationError
from ..web import get_or_404, page_arg, roles_required
from . import bp


@bp.before_request
@roles_required(Role.broker, Role.admin)
def require_broker():
    return None


@bp.route("/")
def queue():
    f = matches.QueueFilters.from_args(request.args)
    page = db.paginate(matches.queue_query(current_user, f), page=page_arg(), per_page=20, error_out=False)
    return render_template(
        "broker/queue.html",
        page=page,
        filters=f,
        counts=matches.queue_counts(current_user),
        statuses=list(MatchStatus),
        vocab=reference.vocab(),
        reasons=matches.REJECT_REASONS,
        labels=FEATURE_LABELS,
    )


def _match(match_id) -> Match:
    """Another station's match is answered as a missing one (no existence oracle)."""
    return get_or_404(Match, match_id, matches.is_broker_for)


@bp.route("/matches/<int:match_id>")
def match(match_id):
    m = _match(match_id)
    return render_template(
        "broker/match.html",
        m=m,
        reject_reasons=matches.REJECT_REASONS,
        close_reasons=matches.CLOSE_REASONS,
        labels=FEATURE_LABELS,
        action_labels=matches.ACTION_LABELS,
        reason=matches.Reason.of(m),
        events=matches.visible_events(m, current_user),
        waiting=matches.waiting_on(m),
        answer=lambda side: matches.answer_label(m, side),
        contract=contracts.contract_of(m),
        can_apply=contracts.may_apply_for(current_user, m),
    )


@bp.route("/matches/<int:match_id>/<action>", methods=["POST"])
def act(match_id, action):
    m = _match(match_id)
    form = request.form
    if str(m.version) != form.get("version", str(m.version)):
        flash(str(matches.ConcurrentChange()), "danger")
        return redirect(url_for(".match", match_id=m.id)), 303
    note = (form.get("note") or "").strip()[:2000]
    try:
        if action == "claim":
            matches.claim(m, current_user)
            message = "已认领"
        elif action == "accept":
            matches.accept(m, current_user, note)
            message = f"已采纳，已请双方在 {m.consent_due:%Y-%m-%d} 前答复是否同意对接"
        elif action == "reject":
            matches.reject(m, current_user, form.get("reason_code"), note)
            message = "已标记为未采纳，双方将看到原因"
        elif action == "close":
            matches.close(m, current_user, form.get("reason_code"), note)
            message = "已关闭"
        elif action == "note":
            shared = form.get("audience") == "shared"
            matches.add_note(m, current_user, note, shared=shared)
            message = "留言已保存，双方可见" if shared else "内部备注已保存（仅经纪人与工作人员可见）"
        else:
            abort(404)
        db.session.commit()
        flash(message, "success")
    except (matches.TransitionError, matches.ConcurrentChange) as e:
        db.session.rollback()
        flash(str(e), "danger")
        return redirect(url_for(".match", match_id=m.id)), 303
    except ValidationError as e:
        db.session.rollback()
        flash("；".join(e.errors.values()), "danger")
        return redirect(url_for(".match", match_id=m.id)), 303
    if form.get("next") == "queue":
        return redirect(request.referrer or url_for(".queue"))
    return redirect(url_for(".match", match_id=m.id))


@bp.route("/bulk-reject", methods=["POST"])
def bulk_reject():
    ids = [int(i) for i in request.form.getlist("match_id") if rules.is_ascii_int(i)]
    if not ids:
        flash("请先勾选要处理的匹配", "warning")
        return redirect(request.referrer or url_for(".queue"))
    chosen = [
        m for m in db.session.scalars(select(Match).where(Match.id.in_(ids))) if matches.is_broker_for(current_user, m)
    ]
    try:
        done, problems = matches.bulk_reject(
            chosen, current_user, request.form.get("reason_code"), (request.form.get("note") or "").strip()
        )
    except ValidationError as e:
        db.session.rollback()
        flash("；".join(e.errors.values()), "danger")
        return redirect(request.referrer or url_for(".queue"))
    db.session.commit()
    flash(
        f"已批量标记 {done} 条为未采纳" + (f"；{len(problems)} 条未处理：{'；'.join(problems)}" if problems else ""),
        "success" if not problems else "warning",
    )
    return redirect(request.referrer or url_for(".queue"))


@bp.route("/feedback", methods=["GET", "POST"])
def feedback_page():
    result = None
    if request.method == "POST":
        if not current_user.is_admin:
            abort(403, "只有管理员可以更新排序权重")
        result = feedback.refit()
        db.session.commit()
        flash(result.message, "success" if result.replaced else "warning")
    return render_template(
        "broker/feedback.html",
        report=feedback.report(),
        result=result,
        min_labels=current_app.config["FEEDBACK_MIN_LABELS"],
    )

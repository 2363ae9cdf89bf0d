"""揭榜挂帅: the calls, “我要揭榜”, the review page (stages, scores, criteria, experts), an
application, and the public 公示 page with its objection form."""

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..extensions import db
from ..infra import uploads
from ..models import Achievement, ChallengeApplication, ListingStatus, Need
from ..services import challenges
from ..validation.fields import ValidationError
from . import bp

LOG_LABELS = {
    "apply": "提交申请",
    "pass": "通过形式审查",
    "shortlist": "入围答辩",
    "award": "揭榜成功",
    "drop": "未通过",
    "score": "评分",
    "criteria": "修改评审标准",
    "expert": "指定专家",
    "publicity": "结果公示",
    "objection": "异议",
    "finalise": "确认结果",
}


def _need(need_id) -> Need:
    need = db.session.get(Need, need_id)
    if (
        need is None
        or not need.is_challenge
        or (
            not need.is_published
            and not challenges.is_reviewer(current_user, need)
            and not challenges.is_owner(current_user, need)
        )
    ):
        abort(404)
    return need


def _application(app_id) -> ChallengeApplication:
    app = db.session.get(ChallengeApplication, app_id)
    if app is None or not challenges.may_view(current_user, app):
        abort(404)
    return app


def _problem(err) -> str:
    return "；".join(err.errors.values()) if isinstance(err, ValidationError) else str(err)


@bp.route("/")
def index():
    rows = challenges.open_challenges()
    mine = challenges.of_applicant(current_user) if current_user.is_authenticated else []
    return render_template(
        "challenges/index.html", rows=rows, peek=challenges.peek, mine=mine, closed=challenges.open_for_applications
    )


@bp.route("/<int:need_id>")
def call(need_id):
    need = _need(need_id)
    mine = None
    if current_user.is_authenticated:
        mine = db.session.scalar(
            select(ChallengeApplication).where(
                ChallengeApplication.need_id == need.id, ChallengeApplication.applicant_id == current_user.id
            )
        )
    return render_template(
        "challenges/call.html",
        need=need,
        ch=challenges.peek(need),
        criteria=challenges.criteria_of(need),
        closed=challenges.open_for_applications(need),
        mine=mine,
        count=len(challenges.applications(need)),
        may_review=challenges.is_reviewer(current_user, need) or challenges.is_owner(current_user, need),
    )


@bp.route("/<int:need_id>/apply", methods=["GET", "POST"])
@login_required
def apply(need_id):
    need = _need(need_id)
    if why := challenges.open_for_applications(need):
        flash(why, "danger")
        return redirect(url_for(".call", need_id=need.id))
    errors, values = {}, {}
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            app = challenges.apply(
                need, current_user, values, request.files.get("attachment"), values.get("achievement_id")
            )
            db.session.commit()
            flash("揭榜申请已提交，进入形式审查", "success")
            return redirect(url_for(".application", app_id=app.id))
        except challenges.ChallengeError as err:
            db.session.rollback()
            flash(str(err), "danger")
            return redirect(url_for(".call", need_id=need.id))
        except ValidationError as err:
            db.session.rollback()
            errors = err.errors
    own = db.session.scalars(
        select(Achievement).where(
            Achievement.owner_id == current_user.id, Achievement.status == ListingStatus.published.value
        )
    ).all()
    return render_template(
        "challenges/apply.html",
        need=need,
        fields=challenges.FIELDS,
        values=values,
        errors=errors,
        own=own,
        max_mb=uploads.max_bytes() // (1024 * 1024),
    ), 422 if errors else 200


@bp.route("/<int:need_id>/review")
@login_required
def review(need_id):
    need = _need(need_id)
    staff, owner = challenges.is_reviewer(current_user, need), challenges.is_owner(current_user, need)
    if not (staff or owner):
        abort(404)
    return render_template(
        "challenges/review.html",
        need=need,
        ch=challenges.peek(need),
        apps=challenges.applications(need),
        criteria=challenges.criteria_of(need),
        staff=staff,
        owner=owner,
        is_staff=current_user.is_staff,
        experts=challenges.experts(need),
        objections=challenges.objections(need) if current_user.is_staff else [],
        history=challenges.history(need),
        labels=LOG_LABELS,
        in_window=challenges.in_objection_window(challenges.peek(need)),
        see=lambda a: challenges.may_see_confidential(current_user, a),
        scored=lambda a: challenges.has_scored(a, current_user),
    )


def _back(need):
    return redirect(url_for(".review", need_id=need.id)), 303


@bp.route("/<int:need_id>/criteria", methods=["POST"])
@login_required
def criteria(need_id):
    need = _need(need_id)
    try:
        challenges.set_criteria(need, request.form.get("criteria", ""), current_user)
        db.session.commit()
        flash("评审标准已保存", "success")
    except (challenges.ChallengeError, ValidationError) as err:
        db.session.rollback()
        flash(_problem(err), "danger")
    return _back(need)


@bp.route("/<int:need_id>/experts", methods=["POST"])
@login_required
def experts(need_id):
    need = _need(need_id)
    try:
        expert = challenges.assign_expert(need, request.form.get("username", ""), current_user)
        db.session.commit()
        flash(f"已指定 {expert.display_name} 为评审专家", "success")
    except (challenges.ChallengeError, ValidationError) as err:
        db.session.rollback()
        flash(_problem(err), "danger")
    return _back(need)


@bp.route("/<int:need_id>/finalise", methods=["POST"])
@login_required
def finalise(need_id):
    need = _need(need_id)
    try:
        m = challenges.finalise(need, current_user, request.form.get("note", ""))
        db.session.commit()
        flash(f"结果已确认，生成匹配 #{m.id}（洽谈中，来源：揭榜挂帅）", "success")
    except (challenges.ChallengeError, ValidationError) as err:
        db.session.rollback()
        flash(_problem(err), "danger")
    return _back(need)


@bp.route("/applications/<int:app_id>")
@login_required
def application(app_id):
    app = _application(app_id)
    need = app.need
    return render_template(
        "challenges/application.html",
        a=app,
        need=need,
        see=challenges.may_see_confidential(current_user, app),
        staff=current_user.is_staff,
        criteria=challenges.criteria_of(need),
        may_score=challenges.is_reviewer(current_user, need)
        and app.stage == "review"
        and current_user.id not in (need.owner_id, app.applicant_id),
        scored=challenges.has_scored(app, current_user),
        show_scores=challenges.is_reviewer(current_user, need),
        errors={},
    )


@bp.route("/applications/<int:app_id>/move/<action>", methods=["POST"])
@login_required
def move(app_id, action):
    app = _application(app_id)
    if str(app.version) != request.form.get("version", str(app.version)):
        flash(str(challenges.ConcurrentChange()), "danger")
        return redirect(url_for(".application", app_id=app.id)), 303
    try:
        challenges.move(app, action, current_user, request.form.get("reason", ""))
        db.session.commit()
        flash(f"已标记为“{app.stage_label}”，申请人已收到通知", "success")
    except (challenges.ChallengeError, ValidationError) as err:
        db.session.rollback()
        flash(_problem(err), "danger")
    return redirect(url_for(".application", app_id=app.id)), 303


@bp.route("/applications/<int:app_id>/score", methods=["POST"])
@login_required
def score(app_id):
    app = _application(app_id)
    try:
        s = challenges.score(app, current_user, request.form.to_dict(), request.form.get("comment", ""))
        db.session.commit()
        flash(f"评分已提交：加权得分 {s.total}", "success")
    except challenges.ChallengeError as err:
        db.session.rollback()
        flash(str(err), "danger")
    except ValidationError as err:
        db.session.rollback()
        flash(_problem(err), "danger")
    return redirect(url_for(".application", app_id=app.id)), 303


@bp.route("/applications/<int:app_id>/file")
@login_required
def attachment(app_id):
    app = _application(app_id)
    if not challenges.may_see_confidential(current_user, app):
        abort(403, "附件在申请通过形式审查后才对需求方开放")
    path = uploads.path_of(app.file_key, challenges.FILE_AREA)
    if path is None:
        abort(404)
    response = send_file(
        path,
        mimetype=app.file_mime,
        as_attachment=True,
        max_age=0,
        download_name=uploads.download_name(app.file_mime, f"揭榜材料-{app.id}"),
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/<int:need_id>/result", methods=["GET", "POST"])
def result(need_id):
    """公示: the awarded team and the objection window; anyone may object while it is open."""
    need = _need(need_id)
    ch = challenges.result_of(need)
    if ch is None:
        abort(404)
    errors, values = {}, {}
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            challenges.object_to(need, values, current_user)
            db.session.commit()
            flash("异议已受理，驿站将核实并联系您", "success")
            return redirect(url_for(".result", need_id=need.id)), 303
        except challenges.ChallengeError as err:
            db.session.rollback()
            flash(str(err), "danger")
        except ValidationError as err:
            db.session.rollback()
            errors = err.errors
    return render_template(
        "challenges/result.html",
        need=need,
        ch=ch,
        a=ch.awarded,
        errors=errors,
        values=values,
        in_window=challenges.in_objection_window(ch),
    ), 422 if errors else 200

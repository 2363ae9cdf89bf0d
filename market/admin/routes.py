"""管理: users and their roles, organisations, stations, taxonomies."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select

from ..extensions import db
from ..models import Organisation, Role, Station, User
from ..services import accounts, stations
from ..validation import reference, rules
from ..validation.fields import ValidationError
from ..web import get_or_404, page_arg, roles_required
from . import bp


@bp.before_request
@roles_required(Role.admin)
def require_admin():
    return None


@bp.route("/")
def index():
    return redirect(url_for(".users"))


@bp.route("/users")
def users():
    q = (request.args.get("q") or "").strip()
    stmt = select(User).order_by(User.id)
    if q:
        stmt = stmt.where(or_(User.username.contains(q), User.display_name.contains(q)))
    if request.args.get("role"):
        stmt = stmt.where(User.role == request.args["role"])
    page = db.paginate(stmt, page=page_arg(), per_page=50, error_out=False)
    return render_template("admin/users.html", page=page, roles=list(Role), q=q)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user(user_id):
    target = get_or_404(User, user_id)
    errors = {}
    if request.method == "POST":
        try:
            if request.form.get("action") == "toggle":
                if target.id == current_user.id:
                    raise ValidationError({"": "不能停用自己的账号"})
                target.active = not target.active
            else:
                accounts.grant_role(
                    current_user,
                    target,
                    request.form.get("role"),
                    station_id=request.form.get("station_id"),
                    org_id=request.form.get("org_id"),
                )
            db.session.commit()
            flash("已保存", "success")
            return redirect(url_for(".user", user_id=target.id))
        except ValidationError as e:
            db.session.rollback()
            errors = e.errors
    stations_ = db.session.scalars(select(Station).order_by(Station.id)).all()
    orgs = db.session.scalars(select(Organisation).order_by(Organisation.name)).all()
    return render_template(
        "admin/user.html", target=target, roles=list(Role), stations=stations_, orgs=orgs, errors=errors
    ), (400 if errors else 200)


@bp.route("/orgs", methods=["GET", "POST"])
def orgs():
    errors, values = {}, {}
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            org = accounts.create_org(values)
            db.session.commit()
            flash(f"已新建单位：{org.name}", "success")
            return redirect(url_for(".orgs"))
        except ValidationError as e:
            db.session.rollback()
            errors = e.errors
    rows = db.session.scalars(select(Organisation).order_by(Organisation.kind, Organisation.name)).all()
    return render_template(
        "admin/orgs.html",
        orgs=rows,
        errors=errors,
        values=values,
        org_kinds=reference.vocab().names.get("org_kind", []),
    ), (400 if errors else 200)


@bp.route("/stations", methods=["GET", "POST"])
def stations_():
    errors, values = {}, {}
    if request.method == "POST":
        values = request.form.to_dict()
        values["districts"] = request.form.getlist("districts")
        try:
            station = stations.create(values)
            db.session.commit()
            flash(f"已新建驿站：{station.name}", "success")
            return redirect(url_for(".stations_"))
        except ValidationError as e:
            db.session.rollback()
            errors = e.errors
    rows = db.session.scalars(select(Station).order_by(Station.is_hall.desc(), Station.id)).all()
    orgs = db.session.scalars(select(Organisation).order_by(Organisation.name)).all()
    return render_template(
        "admin/stations.html",
        stations=rows,
        orgs=orgs,
        errors=errors,
        values=values,
        regions=rules.zhengzhou_districts(),
    ), (400 if errors else 200)


@bp.route("/taxonomies", methods=["GET", "POST"])
def taxonomies():
    errors = {}
    if request.method == "POST":
        kind, name = request.form.get("kind", ""), (request.form.get("name") or "").strip()
        parent = request.form.get("parent") or None
        try:
            reference.add_term(kind, name, parent)
            db.session.commit()
            flash(f"已添加：{name}", "success")
            return redirect(url_for(".taxonomies"))
        except ValidationError as e:
            db.session.rollback()
            errors = e.errors
    v = reference.vocab()
    return render_template("admin/taxonomies.html", vocab=v, labels=reference.TERM_KIND_LABELS, errors=errors), (
        400 if errors else 200
    )


# ---- membership and organisation verification ------------------------------------------------


@bp.route("/memberships")
def memberships():
    return render_template(
        "admin/memberships.html",
        pending=accounts.pending_members(current_user),
        orgs=accounts.unverified_orgs(),
        errors={},
        admins_of=accounts.org_admins,
    )


@bp.route("/memberships/<int:user_id>/<any(confirm, refuse):decision>", methods=["POST"])
def decide_membership(user_id, decision):
    member = get_or_404(User, user_id)
    try:
        accounts.decide_membership(
            member, current_user, decision == "confirm", make_admin=request.form.get("org_admin") == "1"
        )
        db.session.commit()
        flash(f"已{'确认' if decision == 'confirm' else '拒绝'}：{member.display_name} → {member.org.name}", "success")
    except ValidationError as e:
        db.session.rollback()
        flash("；".join(e.errors.values()), "warning")
    return redirect(url_for(".memberships"))


@bp.route("/orgs/<int:org_id>/verify", methods=["POST"])
def verify_org(org_id):
    org = get_or_404(Organisation, org_id)
    try:
        accounts.verify_org(org, current_user, request.form.get("credit_code", ""))
        db.session.commit()
        flash(f"单位“{org.name}”已核验", "success")
    except ValidationError as e:
        db.session.rollback()
        return render_template(
            "admin/memberships.html",
            pending=accounts.pending_members(current_user),
            orgs=accounts.unverified_orgs(),
            errors={org.id: e.errors},
            admins_of=accounts.org_admins,
        ), 400
    return redirect(url_for(".memberships"))

"""技术合同认定登记: applications by the seller side, the registrar's queue and decisions."""

from datetime import date

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..extensions import db
from ..infra import uploads
from ..models import Contract, ContractStatus, Match, Organisation, Role, Station, User
from ..services import contracts, matches
from ..services.matches import ConcurrentChange
from ..validation import rules
from ..validation.fields import ValidationError
from ..web import get_or_404, page_arg, roles_required
from . import bp


def _raw(form) -> dict:
    """The submitted application; the type select carries '类型|子类'."""
    raw = form.to_dict()
    ctype, _, subtype = (raw.pop("ctype_subtype", "") or "").partition("|")
    raw.setdefault("ctype", ctype)
    raw.setdefault("subtype", subtype)
    return raw


def _form_ctx(**extra) -> dict:
    orgs = db.session.scalars(select(Organisation).order_by(Organisation.kind, Organisation.name)).all()
    stations = db.session.scalars(select(Station).where(Station.active.is_(True)).order_by(Station.id)).all()
    brokers = db.session.scalars(
        select(User)
        .where(User.role == Role.broker.value, User.active.is_(True))
        .order_by(User.station_id, User.display_name)
    ).all()
    regions = [*rules.zhengzhou_districts().items(), *rules.regions()["henan"].items()]
    fixed = current_user.org if current_user.has_role(Role.researcher, Role.enterprise) else None
    return {
        "fields": {f.name: f for f in contracts.FIELDS},
        "vocab": contracts.vocab(),
        "types": contracts.TYPES,
        "orgs": orgs,
        "stations": stations,
        "brokers": brokers,
        "regions": regions,
        "seller_fixed": fixed,
        "matches": contracts.linkable_matches(current_user),
        "max_mb": uploads.max_bytes() // (1024 * 1024),
        **extra,
    }


def _get(contract_id: int) -> Contract:
    return get_or_404(Contract, contract_id, contracts.can_view)


@bp.route("/")
@login_required
def index():
    status, q = request.args.get("status", ""), (request.args.get("q") or "").strip()[:50]
    page = db.paginate(
        contracts.visible_query(current_user, status, q),
        page=page_arg(),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "contracts/list.html",
        page=page,
        status=status,
        q=q,
        statuses=list(ContractStatus),
        can_apply=contracts.can_apply(current_user),
        registrar=contracts.is_registrar(current_user),
        pending=contracts.pending_count() if contracts.is_registrar(current_user) else 0,
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    if not contracts.can_apply(current_user):
        abort(403, "只有卖方单位的用户、技术经纪人或管理员可以申请技术合同登记")
    errors, values = {}, {}
    if request.method == "POST":
        values = _raw(request.form)
        try:
            contract = contracts.submit(values, current_user, file=request.files.get("attachment"))
            db.session.commit()
            flash(
                f"登记申请已提交。登记员将在 {contracts.review_days(contract.tech_amount)} 个工作日内"
                f"（{contract.due_on:%Y-%m-%d} 前）作出决定。",
                "success",
            )
            return redirect(url_for(".detail", contract_id=contract.id))
        except ValidationError as e:
            db.session.rollback()
            errors = e.errors
    elif rules.is_ascii_int(request.args.get("match")):
        match = db.session.get(Match, int(request.args["match"]))
        if match is not None and match in contracts.linkable_matches(current_user):
            values = contracts.values_from_match(match)
    elif rules.is_ascii_int(request.args.get("from")):
        values = contracts.values_of(_get(int(request.args["from"])))
        values["match_id"] = ""
    return render_template("contracts/form.html", **_form_ctx(errors=errors, values=values, original=None)), (
        400 if errors else 200
    )


@bp.route("/<int:contract_id>")
@login_required
def detail(contract_id):
    contract = _get(contract_id)
    return _render_detail(contract)


def _render_detail(contract: Contract, errors: dict | None = None, status: int = 200):
    registrar = contracts.is_registrar(current_user)
    return render_template(
        "contracts/detail.html",
        c=contract,
        errors=errors or {},
        registrar=registrar,
        can_act=contracts.can_act_for(current_user, contract),
        moves=contracts.moves(current_user, contract),
        can_download=contracts.can_download(current_user, contract),
        versions=contracts.versions(contract),
        pending_change=contracts.pending_change(contract),
        reasons=contracts.REFUSAL_REASONS,
        refusal=contracts.refusal_text(contract),
        action_labels=contracts.ACTION_LABELS,
        days_left=contracts.working_days_left(contract) if contract.status == ContractStatus.pending.value else None,
        review_days=contracts.review_days(contract.tech_amount),
        locality=contracts.locality(contract),
        nature=contracts.nature,
        checklist=contracts.CHECKLIST,
        match_link=_match_link(contract),
    ), status


def _match_link(contract: Contract) -> str | None:
    match = contract.match
    if match is None:
        return None
    if matches.is_broker_for(current_user, match):
        return url_for("broker.match", match_id=match.id)
    return url_for("account.my_match", match_id=match.id) if matches.can_view(current_user, match) else None


@bp.route("/<int:contract_id>/change", methods=["GET", "POST"])
@login_required
def change(contract_id):
    original = _get(contract_id)
    if not contracts.can_act_for(current_user, original):
        abort(403, "只有申请方、该驿站的技术经纪人或管理员可以申请变更")
    errors, values = {}, contracts.values_of(original)
    try:
        if request.method == "POST":
            values = _raw(request.form)
            try:
                contract = contracts.submit_change(original, values, current_user, file=request.files.get("attachment"))
                db.session.commit()
                flash("变更申请已提交，登记后将取代原登记", "success")
                return redirect(url_for(".detail", contract_id=contract.id))
            except ValidationError as e:
                db.session.rollback()
                errors = e.errors
        else:
            contracts.check_status("change", original)
    except contracts.NotAllowed as e:
        db.session.rollback()
        flash(str(e), "danger")
        return redirect(url_for(".detail", contract_id=original.id))
    return render_template("contracts/form.html", **_form_ctx(errors=errors, values=values, original=original)), (
        400 if errors else 200
    )


def _act(contract: Contract, step, success: str, **kwargs):
    """Run one step on a contract; the request commits, or rolls back and says why."""
    try:
        step(contract, current_user, **kwargs)
        db.session.commit()
        flash(success, "success")
    except ValidationError as e:
        db.session.rollback()
        return _render_detail(contract, e.errors, 400)
    except (contracts.NotAllowed, contracts.Conflict, ConcurrentChange) as e:
        db.session.rollback()
        flash(str(e), "warning")
    return redirect(url_for(".detail", contract_id=contract.id))


@bp.route("/<int:contract_id>/withdraw", methods=["POST"])
@login_required
def withdraw(contract_id):
    return _act(_get(contract_id), contracts.withdraw, "申请已撤回", note=request.form.get("note", ""))


@bp.route("/<int:contract_id>/cancel-request", methods=["POST"])
@login_required
def cancel_request(contract_id):
    return _act(
        _get(contract_id), contracts.request_cancel, "注销申请已提交，等待登记员处理", note=request.form.get("note", "")
    )


@bp.route("/<int:contract_id>/file")
@login_required
def attachment(contract_id):
    contract = _get(contract_id)
    if not contracts.can_download(current_user, contract):
        abort(403, "只有申请人、登记员和管理员可以下载合同扫描件")
    path = uploads.path_of(contract.file_key)
    if path is None:
        abort(404)
    inline = request.args.get("inline") == "1"
    response = send_file(
        path,
        mimetype=contract.file_mime,
        as_attachment=not inline,
        max_age=0,
        download_name=uploads.download_name(contract.file_mime, f"技术合同-{contract.number or contract.id}"),
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    if inline:  # previewed in the contract's own page: framed by this origin only, loads nothing
        response.headers["Content-Security-Policy"] = PREVIEW_CSP
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


PREVIEW_CSP = "default-src 'none'; img-src 'self'; object-src 'self'; frame-ancestors 'self'"


# ---- the registrar's desk -----------------------------------------------------------------


@bp.route("/queue")
@roles_required(Role.registrar, Role.admin)
def queue():
    work = contracts.queue()
    today = date.today()
    left = {c.id: contracts.working_days_left(c, today) for c in work["pending"]}
    return render_template("contracts/queue.html", **work, left=left, review_days=contracts.review_days)


@bp.route("/<int:contract_id>/register", methods=["POST"])
@roles_required(Role.registrar, Role.admin)
def register(contract_id):
    contract = _get(contract_id)
    form = request.form
    response = _act(
        contract,
        contracts.register,
        "已登记",
        approved=form.get("approved_tech_amount"),
        approved_note=form.get("approved_note", ""),
        checked=form.getlist("check"),
    )
    if contract.status == ContractStatus.registered.value and contract.number:
        flash(f"登记编号：{contract.number}", "info")
    return response


@bp.route("/<int:contract_id>/refuse", methods=["POST"])
@roles_required(Role.registrar, Role.admin)
def refuse(contract_id):
    return _act(
        _get(contract_id),
        contracts.refuse,
        "已作出未予登记决定，申请人将看到理由",
        code=request.form.get("refusal_code"),
        note=request.form.get("refusal_note", ""),
    )


@bp.route("/<int:contract_id>/cancel", methods=["POST"])
@roles_required(Role.registrar, Role.admin)
def cancel(contract_id):
    return _act(_get(contract_id), contracts.cancel, "已注销登记", note=request.form.get("note", ""))


@bp.route("/<int:contract_id>/decline-cancel", methods=["POST"])
@roles_required(Role.registrar, Role.admin)
def decline_cancel(contract_id):
    return _act(_get(contract_id), contracts.decline_cancel, "已驳回注销申请", note=request.form.get("note", ""))

"""申请对接 (to the station serving a listing) and the hall's service desk."""

from functools import partial

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..extensions import db, limiter
from ..models import SERVICES, ContactRequest, ContactStatus, ServiceRequest, ServiceStatus
from ..services import contact, desk, listings, stations
from ..validation.fields import ValidationError
from ..web import get_or_404, page_arg, roles_required
from . import bp

CONTACT_LABELS = {s.value: s.label for s in ContactStatus}
SERVICE_LABELS = {s.value: s.label for s in ServiceStatus}


@bp.route("/")
@login_required
def home():
    if current_user.has_role("broker", "admin"):
        return redirect(url_for(".requests"))
    return redirect(url_for(".mine"))


# ---- 申请对接 ------------------------------------------------------------------------------


def _listing(kind_name: str, listing_id: int):
    kind = listings.KINDS.get(kind_name) or abort(404)
    listing = get_or_404(kind.model, listing_id, listings.can_view)
    if not listing.is_published:
        abort(404)
    return kind, listing


@bp.route("/contact/<any(need, achievement):kind_name>/<int:listing_id>", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["CONTACT_LIMIT"],
    methods=["POST"],
    error_message="提交申请对接过于频繁，请稍后再试",
    exempt_when=lambda: current_user.is_authenticated,
)
def contact_form(kind_name, listing_id):
    kind, listing = _listing(kind_name, listing_id)
    station = stations.serving(listing)
    errors, values = {}, contact.defaults_for(current_user)
    if request.method == "POST":
        values = {f.name: request.form.get(f.name, "") for f in contact.FIELDS}
        try:
            req, token = contact.submit(listing, values, current_user)
            db.session.commit()
        except ValidationError as e:
            db.session.rollback()
            errors = e.errors
        else:
            flash(f"申请已提交，{req.station.name}的技术经纪人会尽快回复", "success")
            if token:
                return _private(
                    render_template(
                        "desk/contact_sent.html", req=req, link=url_for(".visitor", token=token, _external=True)
                    )
                )
            return redirect(url_for(".request_detail", request_id=req.id))
    return render_template(
        "desk/contact_form.html",
        kind=kind,
        listing=listing,
        station=station,
        values=values,
        errors=errors,
        fields=contact.FIELDS,
    ), (400 if errors else 200)


@bp.route("/r/<token>")
def visitor(token):
    req = contact.by_token(token) or abort(404)
    return _private(
        render_template(
            "desk/contact.html",
            req=req,
            handle=False,
            show_contact=True,
            listing=contact.listing_of(req),
            action_labels=contact.ACTION_LABELS,
            status_labels=CONTACT_LABELS,
        )
    )


def _private(html: str):
    """A page only its link opens (the visitor's token): never kept by a shared cache."""
    response = make_response(html)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/requests")
@roles_required("broker", "admin")
def requests():
    status = request.args.get("status", "pending")
    page = db.paginate(contact.queue(current_user, status), page=page_arg(), per_page=20, error_out=False)
    return render_template("desk/requests.html", page=page, status=status, counts=contact.queue_counts(current_user))


def _request(request_id) -> ContactRequest:
    return get_or_404(ContactRequest, request_id, contact.can_view)


@bp.route("/requests/<int:request_id>")
@login_required
def request_detail(request_id):
    req = _request(request_id)
    handle = contact.can_handle(current_user, req)
    return render_template(
        "desk/contact.html",
        req=req,
        handle=handle,
        show_contact=True,
        listing=contact.listing_of(req),
        action_labels=contact.ACTION_LABELS,
        status_labels=CONTACT_LABELS,
    )


@bp.route("/requests/<int:request_id>/<any(reply, close):action>", methods=["POST"])
@login_required
def request_act(request_id, action):
    req = _request(request_id)
    form = request.form
    run = partial(
        contact.reply if action == "reply" else contact.close,
        req,
        current_user,
        form.get("reply" if action == "reply" else "note", ""),
        version=form.get("version"),
    )
    return _step(
        run,
        "回复已发送，申请人会看到" if action == "reply" else "申请已关闭",
        url_for(".request_detail", request_id=req.id),
    )


def _step(run, done: str, back: str):
    """Run one step of a request, commit, and say what happened (or why not) on the page it came from."""
    try:
        run()
        db.session.commit()
        flash(done, "success")
    except (desk.TransitionError, desk.ConcurrentChange) as e:
        db.session.rollback()
        flash(str(e), "danger")
    except ValidationError as e:
        db.session.rollback()
        flash("；".join(e.errors.values()), "danger")
    return redirect(back, 303)


@bp.route("/mine")
@login_required
def mine():
    return render_template(
        "desk/mine.html",
        contacts=contact.mine(current_user),
        services=desk.mine(current_user),
        may_request=desk.may_request(current_user),
    )


# ---- the hall's service desk ----------------------------------------------------------------


@bp.route("/services/new", methods=["GET", "POST"])
@login_required
def service_new():
    if not desk.may_request(current_user):
        raise PermissionError("只有科研人员和企业用户可以申请大厅服务")
    errors, values = {}, {"service": request.args.get("service", "")}
    if request.method == "POST":
        values = {f.name: request.form.get(f.name, "") for f in desk.FIELDS}
        try:
            req = desk.submit(current_user, values)
            db.session.commit()
            flash("服务申请已提交，交易大厅受理后会通知您", "success")
            return redirect(url_for(".service_detail", service_id=req.id))
        except ValidationError as e:
            db.session.rollback()
            errors = e.errors
    return render_template("desk/service_form.html", values=values, errors=errors, services=SERVICES), (
        400 if errors else 200
    )


@bp.route("/services")
@roles_required("broker", "admin")
def services():
    status = request.args.get("status", "open")
    page = db.paginate(desk.queue(current_user, status), page=page_arg(), per_page=20, error_out=False)
    return render_template(
        "desk/services.html", page=page, status=status, statuses=list(ServiceStatus), staff=desk.is_staff(current_user)
    )


def _service(service_id) -> ServiceRequest:
    return get_or_404(ServiceRequest, service_id, desk.can_view)


@bp.route("/services/<int:service_id>")
@login_required
def service_detail(service_id):
    req = _service(service_id)
    handler = desk.is_staff(current_user) or req.broker_id == current_user.id
    return render_template(
        "desk/service.html",
        req=req,
        staff=desk.is_staff(current_user),
        handler=handler,
        brokers=desk.assignable_brokers() if desk.is_staff(current_user) else [],
        action_labels=desk.ACTION_LABELS,
        status_labels=SERVICE_LABELS,
    )


@bp.route("/services/<int:service_id>/<any(accept, assign, start, finish, refuse, note):action>", methods=["POST"])
@login_required
def service_act(service_id, action):
    req = _service(service_id)
    form = request.form
    if action == "note":
        run = partial(desk.add_note, req, current_user, form.get("note", ""))
    else:
        run = partial(
            desk.act,
            req,
            action,
            current_user,
            form.get("note", ""),
            broker_id=form.get("broker_id"),
            version=form.get("version"),
        )
    return _step(run, f"已{desk.ACTION_LABELS[action]}", url_for(".service_detail", service_id=req.id))

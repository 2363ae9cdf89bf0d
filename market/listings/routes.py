"""成果库 and 问题库: one blueprint registered twice (/achievements, /needs)."""

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from matching.features import LABELS as FEATURE_LABELS

from ..extensions import db
from ..infra import match_engine
from ..models import Organisation
from ..services import listings
from ..validation import reference
from ..validation.fields import ValidationError
from ..web import form_data, get_or_404, page_arg, semantic_search_limit
from . import bp


@bp.url_value_preprocessor
def pull_kind(endpoint, values):
    g.kind = listings.KINDS[values.pop("kind_name")]


def _ctx(**extra):
    v = reference.vocab()
    return {"kind": g.kind, "vocab": v, "regions": listings.region_choices(), "bp": request.blueprint, **extra}


@bp.route("/")
@semantic_search_limit(exempt_when=lambda: request.args.get("mode") != "semantic")
def browse():
    f = listings.Filters.from_args(request.args)
    semantic = request.args.get("mode") == "semantic" and bool(f.q) and match_engine.enabled()
    left_out = 0
    if semantic:
        hits = match_engine.semantic_search(g.kind.name, f.q, match_engine.filter_spec(g.kind.name, f))
        semantic = not match_engine.unavailable()  # else the keyword search below, saying why
    if semantic:
        if request.args.get("all") != "1":
            hits, left_out = match_engine.relevance_floor(
                hits, current_app.config["SEARCH_MIN_SCORE"], current_app.config["SEARCH_MIN_SHARE"]
            )
        page = listings.ListPage([h.listing for h in hits], page_arg(), current_app.config["PAGE_SIZE"])
        scores = {h.listing.id: h for h in hits}
    else:
        page, scores = listings.browse(g.kind, f, page_arg()), {}
    return render_template(
        "listings/browse.html",
        **_ctx(
            page=page,
            filters=f,
            terms=listings.keyword_terms(f.q),
            semantic=semantic,
            scores=scores,
            left_out=left_out,
            semantic_available=match_engine.enabled(),
            matching_down=match_engine.unavailable(),
        ),
    )


@bp.route("/<int:listing_id>")
def detail(listing_id):
    listing = get_or_404(g.kind.model, listing_id, listings.can_view)
    suggestions = match_engine.best_matches(listing) if listing.is_published else []
    return render_template(
        "listings/detail.html",
        **_ctx(
            listing=listing,
            private=listings.can_see_private(current_user, listing),
            editable=listings.can_edit(current_user, listing),
            expiring=listings.expiring_soon(listing),
            suggestions=suggestions,
            other=listings.other_kind(g.kind),
            labels=FEATURE_LABELS,
            matching_on=match_engine.enabled(),
            matching_down=match_engine.unavailable(),
            close_reasons=listings.CLOSE_REASONS,
        ),
    )


def _client_orgs():
    if current_user.has_role(g.kind.author_role):
        return []
    return db.session.scalars(
        select(Organisation).where(Organisation.kind.in_(g.kind.org_kinds)).order_by(Organisation.name)
    ).all()


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    if not listings.can_post(current_user, g.kind):
        if current_user.has_role(g.kind.author_role):
            abort(403, "您的单位成员身份尚未确认（或单位尚未核验），暂不能以单位名义发布")
        abort(403, f"只有{g.kind.author_role.label}、技术经纪人和管理员可以发布{g.kind.label}")
    errors, values = {}, listings.initial_values(current_user, g.kind)
    if request.method == "POST":
        values = form_data(g.kind.fields, request.form)
        org_id = request.form.get("org_id")
        try:
            if not request.form.get("confirm_duplicate"):
                duplicates = listings.similar_to_new(g.kind, values, current_user, org_id)
                if duplicates:
                    return render_template(
                        "listings/form.html",
                        **_ctx(
                            errors={},
                            values={**values, "org_id": org_id},
                            listing=None,
                            client_orgs=_client_orgs(),
                            duplicates=duplicates,
                        ),
                    ), 409
            listing = listings.create(
                g.kind, values, current_user, org_id=org_id, publish=request.form.get("action") == "publish"
            )
            db.session.commit()
            flash(f"{g.kind.label}已{'发布' if listing.is_published else '保存为草稿'}", "success")
            return redirect(url_for(".detail", listing_id=listing.id))
        except ValidationError as e:
            db.session.rollback()
            errors = e.errors
        values["org_id"] = request.form.get("org_id")
    return render_template(
        "listings/form.html", **_ctx(errors=errors, values=values, listing=None, client_orgs=_client_orgs())
    ), (400 if errors else 200)


@bp.route("/<int:listing_id>/edit", methods=["GET", "POST"])
@login_required
def edit(listing_id):
    listing = get_or_404(g.kind.model, listing_id)
    if not listings.can_edit(current_user, listing):
        abort(403, "只有发布者或管理员可以修改")
    errors = {}
    values = {f.name: getattr(listing, f.name) for f in g.kind.fields}
    if request.method == "POST":
        values = form_data(g.kind.fields, request.form)
        try:
            listings.update(listing, values, current_user)
            if request.form.get("action") == "publish":
                listings.publish_listing(listing, current_user)
            db.session.commit()
            flash("修改已保存", "success")
            return redirect(url_for(".detail", listing_id=listing.id))
        except ValidationError as e:
            db.session.rollback()
            errors = e.errors
    return render_template(
        "listings/form.html", **_ctx(errors=errors, values=values, listing=listing, client_orgs=[])
    ), (400 if errors else 200)


@bp.route("/<int:listing_id>/publish", methods=["POST"])
@login_required
def publish(listing_id):
    listing = get_or_404(g.kind.model, listing_id)
    if not listings.can_edit(current_user, listing):
        abort(403)
    listings.publish_listing(listing, current_user)
    db.session.commit()
    flash(f"{g.kind.label}已发布", "success")
    return redirect(url_for(".detail", listing_id=listing.id))


@bp.route("/<int:listing_id>/archive", methods=["POST"])
@login_required
def archive(listing_id):
    listing = get_or_404(g.kind.model, listing_id)
    if not request.form.get("confirm"):
        flash("请勾选“确认下架”", "danger")
        return redirect(url_for(".detail", listing_id=listing.id))
    try:
        listings.archive_listing(
            listing, current_user, request.form.get("close_reason"), request.form.get("close_note", "")
        )
    except ValidationError as e:
        db.session.rollback()
        flash("；".join(e.errors.values()), "danger")
        return redirect(url_for(".detail", listing_id=listing.id))
    db.session.commit()
    flash(f"{g.kind.label}已下架（{listings.CLOSE_REASONS[listing.close_reason]}），不再公开展示", "info")
    return redirect(url_for(".detail", listing_id=listing.id))

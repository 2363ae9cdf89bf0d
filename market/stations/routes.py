"""A station's public page, its edit form (station admins) and the station-admin flag (platform admins)."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..extensions import db
from ..models import Organisation, Station, User
from ..services import events, stations, stats
from ..validation import rules
from ..validation.fields import ValidationError
from ..web import get_or_404, roles_required
from . import bp


@bp.app_template_global("serving_station")
def serving_station(listing):
    return stations.serving(listing)


def _station(station_id) -> Station:
    return get_or_404(Station, station_id, stations.visible)


@bp.route("/<int:station_id>")
def detail(station_id):
    station = _station(station_id)
    return render_template(
        "stations/detail.html",
        station=station,
        brokers=stations.brokers(station),
        figures=stats.station_figures(station),
        served_orgs=stations.served_orgs(station),
        editable=stations.can_edit_page(current_user, station),
        upcoming_events=events.upcoming_events(station.id),
    )


@bp.route("/<int:station_id>/edit", methods=["GET", "POST"])
@login_required
def edit(station_id):
    station = _station(station_id)
    if not stations.can_edit_page(current_user, station):
        raise PermissionError("只有该驿站的驿站管理员或平台管理员可以修改驿站信息")
    errors, values = {}, {f.name: getattr(station, f.name) or "" for f in stations.PAGE_FIELDS}
    team = stations.brokers(station)
    values.update(
        districts=station.districts or [],
        served_orgs=[str(i) for i in station.served_orgs or []],
        expertise={b.id: b.expertise or "" for b in team},
    )
    if request.method == "POST":
        values = {f.name: request.form.get(f.name, "") for f in stations.PAGE_FIELDS}
        values.update(
            districts=request.form.getlist("districts"),
            served_orgs=request.form.getlist("served_orgs"),
            expertise={b.id: request.form[f"expertise-{b.id}"] for b in team if f"expertise-{b.id}" in request.form},
        )
        try:
            changed = stations.update_page(station, values, current_user)
            db.session.commit()
            flash("驿站信息已保存" if changed else "没有修改任何内容", "success" if changed else "info")
            return redirect(url_for(".detail", station_id=station.id))
        except ValidationError as e:
            db.session.rollback()
            errors = e.errors
    chosen = set(values["served_orgs"])  # the ones served first, so a long list still shows them
    orgs = sorted(db.session.scalars(select(Organisation)), key=lambda o: (str(o.id) not in chosen, o.kind, o.name))
    return render_template(
        "stations/edit.html",
        station=station,
        values=values,
        errors=errors,
        orgs=orgs,
        fields=stations.PAGE_FIELDS,
        team=team,
        org_names={o.id: o.name for o in orgs},
        districts=rules.zhengzhou_districts(),
        labels=stations.PAGE_LABELS,
        history=stations.history(station),
    ), (400 if errors else 200)


@bp.route("/<int:station_id>/brokers/<int:user_id>/admin", methods=["POST"])
@roles_required("admin")
def set_admin(station_id, user_id):
    station = _station(station_id)
    broker = get_or_404(User, user_id, lambda _u, b: b.station_id == station.id)
    try:
        stations.set_station_admin(broker, request.form.get("flag") == "1", current_user)
        db.session.commit()
        flash(f"{broker.display_name}{'已设为' if broker.station_admin else '不再是'}驿站管理员", "success")
    except ValidationError as e:
        db.session.rollback()
        flash("；".join(e.errors.values()), "danger")
    return redirect(url_for(".detail", station_id=station.id))

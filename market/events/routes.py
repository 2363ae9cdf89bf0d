"""活动: the calendar, an event's page and sign-up, the organiser's pages (edit, check-in, attendance
export, pairs that met, history)."""

import calendar
from datetime import date
from urllib.parse import quote

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..extensions import db
from ..infra import exports
from ..models import Achievement, Event, EventSignup, Need, Station
from ..models.event import EVENT_KINDS
from ..services import events
from ..validation import rules
from ..validation.fields import ValidationError
from . import bp


def _event(event_id) -> Event:
    e = db.session.get(Event, event_id)
    if e is None:
        abort(404)
    return e


def _organised(event_id) -> Event:
    e = _event(event_id)
    if not events.may_organise(current_user, e.station):
        abort(403, "只有该活动的组织方可以进入")
    return e


def _month_arg() -> tuple[int, int]:
    raw = request.args.get("month", "")
    try:
        y, m = (int(x) for x in raw.split("-"))
        if 2000 <= y <= 2100 and 1 <= m <= 12:
            return y, m
    except ValueError:
        pass
    today = date.today()
    return today.year, today.month


@bp.route("/")
def index():
    year, month = _month_arg()
    kind = request.args.get("kind") if request.args.get("kind") in EVENT_KINDS else ""
    rows = events.in_month(year, month, kind or None)
    by_day = {}
    for e in rows:
        by_day.setdefault(e.starts_at.day, []).append(e)
    prev = (year - 1, 12) if month == 1 else (year, month - 1)
    nxt = (year + 1, 1) if month == 12 else (year, month + 1)
    return render_template(
        "events/index.html",
        year=year,
        month=month,
        weeks=calendar.Calendar().monthdayscalendar(year, month),
        by_day=by_day,
        rows=rows,
        kind=kind,
        kinds=EVENT_KINDS,
        today=date.today(),
        prev=f"{prev[0]}-{prev[1]:02d}",
        nxt=f"{nxt[0]}-{nxt[1]:02d}",
        may_create=current_user.is_authenticated and events.may_organise(current_user, current_user.station),
        upcoming=events.upcoming_events(limit=5),
    )


@bp.route("/<int:event_id>")
def detail(event_id):
    e = _event(event_id)
    needs, achievements = events.presented(e)
    mine = events.my_signup(e, current_user)
    return render_template(
        "events/detail.html",
        e=e,
        seats=events.seats(e),
        needs=needs,
        achievements=achievements,
        mine=mine,
        position=events.waiting_position(mine) if mine else None,
        closed=events.open_for_signup(e),
        where=events.where(e),
        errors={},
        values={},
        organiser=events.may_organise(current_user, e.station),
    )


@bp.route("/<int:event_id>/signup", methods=["POST"])
def signup(event_id):
    e = _event(event_id)
    try:
        row = events.signup(e, current_user, request.form.to_dict())
        db.session.commit()
    except events.EventError as err:
        db.session.rollback()
        flash(str(err), "danger")
        return redirect(url_for(".detail", event_id=e.id)), 303
    except ValidationError as err:
        db.session.rollback()
        needs, achievements = events.presented(e)
        return render_template(
            "events/detail.html",
            e=e,
            seats=events.seats(e),
            needs=needs,
            achievements=achievements,
            mine=None,
            position=None,
            closed=None,
            where=events.where(e),
            errors=err.errors,
            values=request.form,
            organiser=events.may_organise(current_user, e.station),
        ), 422
    if row.status == "confirmed":
        flash("报名成功，名额已确认" + ("" if row.user_id else "。请保存本页链接，可随时取消报名"), "success")
    else:
        flash(f"名额已满，您在候补名单第 {events.waiting_position(row)} 位；有人取消时按顺序递补并通知您", "warning")
    if row.user_id is None:
        return redirect(url_for(".visitor", token=row.token)), 303
    return redirect(url_for(".detail", event_id=e.id)), 303


@bp.route("/<int:event_id>/cancel-signup", methods=["POST"])
@login_required
def cancel_mine(event_id):
    e = _event(event_id)
    mine = events.my_signup(e, current_user)
    if mine is None:
        abort(404)
    return _cancel(mine, url_for(".detail", event_id=e.id))


def _cancel(row: EventSignup, back: str):
    try:
        events.cancel_signup(row, current_user if current_user.is_authenticated else None)
        db.session.commit()
        flash("已取消报名", "success")
    except events.EventError as err:
        db.session.rollback()
        flash(str(err), "danger")
    return redirect(back), 303


@bp.route("/signup/<token>", methods=["GET", "POST"])
def visitor(token):
    """A visitor's own sign-up, reached by the link they got (no account needed)."""
    row = db.session.scalar(select(EventSignup).where(EventSignup.token == token)) if len(token) == 32 else None
    if row is None:
        abort(404)
    if request.method == "POST":
        return _cancel(row, url_for(".visitor", token=token))
    return render_template(
        "events/visitor.html", s=row, e=row.event, position=events.waiting_position(row), where=events.where(row.event)
    )


def _form_values(e: Event | None) -> dict:
    if e is None:
        return {"kind": "路演", "capacity": "50"}
    return {
        "title": e.title,
        "kind": e.kind_label,
        "starts_at": f"{e.starts_at:%Y-%m-%dT%H:%M}",
        "ends_at": f"{e.ends_at:%Y-%m-%dT%H:%M}",
        "place": e.place or "",
        "online_url": e.online_url or "",
        "capacity": str(e.capacity),
        "description": e.description,
        "achievement_ids": ",".join(map(str, e.achievement_ids or [])),
        "need_ids": ",".join(map(str, e.need_ids or [])),
    }


def _stations_for(user) -> list[Station]:
    rows = db.session.scalars(
        select(Station).where(Station.active.is_(True)).order_by(Station.is_hall.desc(), Station.id)
    )
    return [s for s in rows if events.may_organise(user, s)]


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    choices = _stations_for(current_user)
    if not choices:
        abort(403, "只有驿站或大厅的技术经纪人、管理员可以发布活动")
    errors, values = {}, _form_values(None)
    if request.method == "POST":
        values = request.form.to_dict()
        station_id = rules.as_id(values.get("station_id"))
        station = next((s for s in choices if s.id == station_id), choices[0])
        try:
            e = events.create(values, current_user, station)
            db.session.commit()
            flash("活动已发布", "success")
            return redirect(url_for(".detail", event_id=e.id))
        except ValidationError as err:
            db.session.rollback()
            errors = err.errors
    return render_template(
        "events/form.html",
        e=None,
        values=values,
        errors=errors,
        fields=events.FIELDS,
        kinds=EVENT_KINDS,
        stations=choices,
    ), 422 if errors else 200


@bp.route("/<int:event_id>/edit", methods=["GET", "POST"])
@login_required
def edit(event_id):
    e = _organised(event_id)
    errors, values = {}, _form_values(e)
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            changes = events.update_event(e, values, current_user)
            told = len(events.active_signups(e))
            db.session.commit()
            flash(
                ("已保存：" + "；".join(changes) + (f"。已通知 {told} 位报名者" if told else ""))
                if changes
                else "没有改动",
                "success",
            )
            return redirect(url_for(".detail", event_id=e.id))
        except ValidationError as err:
            db.session.rollback()
            errors = err.errors
    return render_template(
        "events/form.html",
        e=e,
        values=values,
        errors=errors,
        fields=events.FIELDS,
        kinds=EVENT_KINDS,
        stations=[e.station],
    ), 422 if errors else 200


@bp.route("/<int:event_id>/cancel", methods=["POST"])
@login_required
def cancel_event(event_id):
    e = _organised(event_id)
    try:
        events.cancel_event(e, current_user, request.form.get("reason", ""))
        db.session.commit()
        flash("活动已取消，报名者已收到通知", "success")
    except (events.EventError, ValidationError) as err:
        db.session.rollback()
        flash(str(err) if isinstance(err, events.EventError) else "；".join(err.errors.values()), "danger")
    return redirect(url_for(".manage", event_id=e.id)), 303


@bp.route("/<int:event_id>/manage")
@login_required
def manage(event_id):
    e = _organised(event_id)
    q = (request.args.get("q") or "").strip()[:40]
    rows = events.active_signups(e)
    if q:
        rows = [s for s in rows if q in s.name or q in (s.phone or "") or q in (s.org_name or "")]
    needs, achievements = events.pair_choices(e)
    return render_template(
        "events/manage.html",
        e=e,
        rows=rows,
        q=q,
        seats=events.seats(e),
        needs=needs,
        achievements=achievements,
        pairs=events.pairs(e),
        history=events.history(e),
        labels=events.LOG_LABELS,
    )


@bp.route("/<int:event_id>/checkin/<int:signup_id>", methods=["POST"])
@login_required
def checkin(event_id, signup_id):
    e = _organised(event_id)
    row = db.session.get(EventSignup, signup_id)
    if row is None or row.event_id != e.id:
        abort(404)
    try:
        events.check_in(row, current_user)
        db.session.commit()
        flash(f"{row.name} 已签到", "success")
    except events.EventError as err:
        db.session.rollback()
        flash(str(err), "danger")
    return redirect(url_for(".manage", event_id=e.id, q=request.form.get("q") or None)), 303


@bp.route("/<int:event_id>/pairs", methods=["POST"])
@login_required
def add_pair(event_id):
    e = _organised(event_id)
    need = db.session.get(Need, rules.as_id(request.form.get("need_id")) or 0)
    ach = db.session.get(Achievement, rules.as_id(request.form.get("achievement_id")) or 0)
    if need is None or ach is None:
        flash("请选择需求和成果各一项", "danger")
        return redirect(url_for(".manage", event_id=e.id)), 303
    try:
        pair = events.record_pair(e, need, ach, current_user, (request.form.get("note") or "").strip()[:500])
        db.session.commit()
        flash(f"已记录对接，生成匹配 #{pair.match_id}（来源：活动），进入经纪人工作台", "success")
    except (events.EventError, ValidationError) as err:
        db.session.rollback()
        flash(str(err) if isinstance(err, events.EventError) else "；".join(err.errors.values()), "danger")
    return redirect(url_for(".manage", event_id=e.id)), 303


@bp.route("/<int:event_id>/attendance.<fmt>")
@login_required
def attendance(event_id, fmt):
    e = _organised(event_id)
    if fmt not in ("csv", "xlsx"):
        abort(404)
    cols, rows = events.attendance(e)
    name = f"签到表-{e.starts_at:%Y%m%d}-{e.id}.{fmt}"
    if fmt == "csv":
        body, mime = exports.csv_bytes(cols, rows), "text/csv; charset=utf-8"
    else:
        body = exports.xlsx_bytes(
            "签到表", cols, rows, [f"{e.title}", f"{e.starts_at:%Y-%m-%d %H:%M} {events.where(e)}"]
        )
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, mimetype=mime, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})

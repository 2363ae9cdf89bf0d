"""The hall's front page for the screen at the entrance: today's events, the newest needs and 成果,
the stations map and the turnover figures; it reloads itself (static script)."""

from datetime import date

from flask import render_template
from sqlalchemy import select

from ..extensions import db
from ..models import Achievement, ListingStatus, Need, Station
from ..services import events, stats
from . import bp
from . import svgmap as hallmap

REFRESH_SECONDS = 120


@bp.route("/hall")
def front():
    today = date.today()
    published = ListingStatus.published.value
    stations = db.session.scalars(select(Station).where(Station.active.is_(True)).order_by(Station.id)).all()
    shapes, markers = hallmap.layout(stations)
    todays = events.on_day(today)
    return render_template(
        "hall/front.html",
        todays=todays,
        upcoming=[] if todays else events.upcoming_events(limit=4),
        needs=db.session.scalars(
            select(Need).where(Need.status == published).order_by(Need.published_at.desc(), Need.id.desc()).limit(6)
        ).all(),
        achievements=db.session.scalars(
            select(Achievement)
            .where(Achievement.status == published)
            .order_by(Achievement.published_at.desc(), Achievement.id.desc())
            .limit(6)
        ).all(),
        shapes=shapes,
        markers=markers,
        stations=stations,
        progress=stats.progress(today.year, today),
        last12=stats.totals(stats.Period.last_months(12, today)),
        year=today.year,
        today=today,
        updated=stats.now_label(),
        refresh=REFRESH_SECONDS,
        where=events.where,
    )

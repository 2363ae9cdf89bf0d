from flask import render_template
from sqlalchemy import func, select

from ..extensions import db
from ..models import Achievement, ListingStatus, Need, Organisation, Station
from ..services import stations as station_service
from . import bp


@bp.route("/")
def index():
    published = ListingStatus.published.value

    def count(model, *where):
        return db.session.scalar(select(func.count()).select_from(model).where(model.status == published, *where))

    stats = {
        "achievements": count(Achievement),
        "needs": count(Need),
        "bottlenecks": count(Need, Need.bottleneck.is_(True)),
        "stations": db.session.scalar(select(func.count()).select_from(Station).where(Station.is_hall.is_(False))),
        "orgs": db.session.scalar(select(func.count()).select_from(Organisation)),
    }
    latest_a = db.session.scalars(
        select(Achievement).where(Achievement.status == published).order_by(Achievement.published_at.desc()).limit(6)
    ).all()
    latest_n = db.session.scalars(
        select(Need).where(Need.status == published).order_by(Need.bottleneck.desc(), Need.published_at.desc()).limit(6)
    ).all()
    return render_template("main/index.html", stats=stats, latest_a=latest_a, latest_n=latest_n)


@bp.route("/stations")
def stations():
    return render_template("main/stations.html", stations=station_service.public_list())


@bp.route("/about")
def about():
    return render_template("main/about.html")

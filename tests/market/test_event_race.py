"""Seats under concurrency — on SQLite and on PostgreSQL (run with TEST_DATABASE_URL): each thread
has its own app context, session and connection, all released at once."""

import threading

from sqlalchemy import func, select

from market.extensions import db
from market.models import Event, EventSignup, Role, User
from market.services import events
from tests.conftest import event_form


def _race(app, event_id: int, user_ids: list[int]) -> tuple[list[str], list[str]]:
    barrier = threading.Barrier(len(user_ids))
    statuses, errors = [], []

    def work(user_id):
        barrier.wait()
        with app.app_context():
            try:
                event = db.session.get(Event, event_id)
                user = db.session.get(User, user_id)
                row = events.signup(event, user)
                status = row.status
                db.session.commit()
                statuses.append(status)
            except events.EventError as e:
                db.session.rollback()
                errors.append(str(e))
            except Exception as e:  # anything else fails the test below
                db.session.rollback()
                errors.append(repr(e))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(u,)) for u in user_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a sign-up hung"
    return statuses, errors


def _setup(make, capacity: int, people: int):
    station = make.station()
    broker = make.user(Role.broker, station=station)
    event = events.create(event_form(capacity=str(capacity)), broker, station)
    users = [make.user() for _ in range(people)]
    db.session.commit()
    return event.id, [u.id for u in users]


def test_twenty_signups_at_once_for_ten_seats(app, make):
    event_id, users = _setup(make, 10, 20)
    statuses, errors = _race(app, event_id, users)
    assert errors == []
    assert sorted(statuses) == ["confirmed"] * 10 + ["waiting"] * 10
    db.session.expire_all()
    counts = dict(
        db.session.execute(
            select(EventSignup.status, func.count())
            .where(EventSignup.event_id == event_id)
            .group_by(EventSignup.status)
        ).all()
    )
    assert counts == {"confirmed": 10, "waiting": 10}


def test_two_at_once_for_the_last_seat(app, make):
    event_id, users = _setup(make, 1, 2)
    statuses, errors = _race(app, event_id, users)
    assert errors == [] and sorted(statuses) == ["confirmed", "waiting"]


def test_one_person_twice_at_once_gets_one_place(app, make):
    event_id, users = _setup(make, 5, 1)
    statuses, errors = _race(app, event_id, users * 6)
    assert statuses == ["confirmed"] and len(errors) == 5
    assert all("无需重复报名" in e for e in errors)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(EventSignup)) == 1

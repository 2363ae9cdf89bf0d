"""Events: sign-up with capacity and waiting list, cancellation with promotion, edits told to the
people signed up, reminders once, check-in, the attendance export, pairs → matches (source 活动)."""

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from market.extensions import db
from market.models import EventLog, Match, Notification, Role, utcnow
from market.services import events, listings
from market.validation.fields import ValidationError
from tests.conftest import ACHIEVEMENT, NEED, event_form, login, post_form


@pytest.fixture
def org(make):
    station = make.station()
    broker = make.user(Role.broker, station=station)
    return {"station": station, "broker": broker}


def new_event(org, **over):
    e = events.create(event_form(**over), org["broker"], org["station"])
    db.session.commit()
    return e


def test_validation_says_what_is_wrong_in_chinese(org):
    with pytest.raises(ValidationError) as e:
        events.create(
            event_form(title="", starts_at="明天", capacity="0", place="", achievement_ids="12x"),
            org["broker"],
            org["station"],
        )
    errors = e.value.errors
    assert errors["title"] == "请填写“活动名称”"
    assert "时间格式" in errors["starts_at"]
    assert "1 到 5000" in errors["capacity"]
    assert "不是编号" in errors["achievement_ids"]


def test_capacity_then_waiting_list_then_promotion_on_cancel(org, make):
    e = new_event(org)
    a, b, c = (make.user() for _ in range(3))
    sa, sb, sc = (events.signup(e, u) for u in (a, b, c))
    db.session.commit()
    assert [sa.status, sb.status, sc.status] == ["confirmed", "confirmed", "waiting"]
    assert events.waiting_position(sc) == 1
    events.cancel_signup(sa, a)
    db.session.commit()
    assert sc.status == "confirmed" and sa.status == "cancelled"
    assert (
        db.session.scalar(
            select(Notification).where(Notification.user_id == c.id, Notification.title.like("候补成功%"))
        )
        is not None
    )
    actions = [h.action for h in events.history(e)]
    assert actions == ["create", "signup", "signup", "signup", "cancel", "promote"]


def test_double_signup_is_refused_and_signing_up_again_after_cancelling_queues_anew(org, make):
    e = new_event(org)
    u = make.user()
    first = events.signup(e, u)
    db.session.commit()
    with pytest.raises(events.EventError, match="您已报名该活动（已确认），无需重复报名"):
        events.signup(e, u)
    db.session.rollback()
    events.cancel_signup(first, u)
    again = events.signup(e, u)
    db.session.commit()
    assert again.id == first.id and again.status == "confirmed"  # the row is taken up again, not a new one


def test_visitor_signs_up_with_phone_or_email_and_twice_is_refused(org, client):
    e = new_event(org)
    with pytest.raises(ValidationError) as err:
        events.signup(e, None, {"name": "王访客"})
    assert "至少一项" in err.value.errors["phone"]
    s = events.signup(e, None, {"name": "王访客", "phone": "138 0371 2345", "email": "wang@example.com"})
    db.session.commit()
    with pytest.raises(events.EventError, match="无需重复报名"):
        events.signup(e, None, {"name": "王二", "phone": "13803712345"})
    db.session.rollback()
    page = client.get(f"/events/signup/{s.token}")
    assert "已确认" in page.get_data(as_text=True)


def test_signup_closed_for_past_and_cancelled_events(org, make):
    e = new_event(org)
    e.starts_at = utcnow() - timedelta(hours=1)
    with pytest.raises(events.EventError, match="报名已截止"):
        events.signup(e, make.user())


def test_editing_after_signups_tells_everyone_signed_up(org, make):
    e = new_event(org)
    u, w = make.user(), make.user()
    events.signup(e, u)
    events.signup(e, w)
    db.session.commit()
    changes = events.update_event(e, event_form(place="郑州大学主校区行政楼 201"), org["broker"])
    db.session.commit()
    assert changes == ["地点：郑州技术交易市场大厅 2 楼路演厅 → 郑州大学主校区行政楼 201"]
    for person in (u, w):
        n = db.session.scalar(
            select(Notification).where(Notification.user_id == person.id, Notification.title.like("活动信息有变更%"))
        )
        assert "郑州大学主校区行政楼 201" in n.body
    assert db.session.scalar(select(EventLog).where(EventLog.action == "edit")).note == changes[0]
    with pytest.raises(ValidationError, match="名额不能少于 2"):
        events.update_event(e, event_form(capacity="1"), org["broker"])


def test_raising_capacity_promotes_the_waiting_list(org, make):
    e = new_event(org, capacity="1")
    events.signup(e, make.user())
    waiting = events.signup(e, make.user())
    db.session.commit()
    events.update_event(e, event_form(capacity="2"), org["broker"])
    assert waiting.status == "confirmed"


def test_only_organisers_create_and_edit(org, make):
    other = make.user(Role.broker)  # a broker of another station
    e = new_event(org)
    with pytest.raises(events.EventError):
        events.update_event(e, event_form(), other)
    with pytest.raises(events.EventError):
        events.create(event_form(), make.user(), org["station"])


def test_reminder_once_per_signup(org, make):
    e = new_event(org)
    u = make.user()
    u.email = "u@example.com"
    events.signup(e, u)
    events.signup(e, None, {"name": "李访客", "email": "li@example.com"})
    db.session.commit()
    assert events.remind_upcoming(hours=24) == 0  # three days ahead: not yet
    soon = utcnow() + timedelta(days=2, hours=12)
    assert events.remind_upcoming(now=soon, hours=24) == 2
    db.session.commit()
    assert events.remind_upcoming(now=soon, hours=24) == 0  # idempotent
    assert (
        db.session.scalar(
            select(Notification).where(Notification.user_id == u.id, Notification.title.like("活动提醒%"))
        )
        is not None
    )


def test_remind_command(app, org, make):
    e = new_event(org)
    e.starts_at = utcnow() + timedelta(hours=5)
    events.signup(e, make.user())
    db.session.commit()
    runner = app.test_cli_runner()
    assert "reminded: 1" in runner.invoke(args=["events", "remind"]).output
    assert "reminded: 0" in runner.invoke(args=["events", "remind"]).output


def test_check_in_and_attendance_export_is_formula_safe(org, make, client):
    e = new_event(org)
    s = events.signup(e, None, {"name": '=HYPERLINK("x")', "phone": "13803710001"})
    events.signup(e, make.user())
    db.session.commit()
    events.check_in(s, org["broker"])
    with pytest.raises(events.EventError, match="已于"):
        events.check_in(s, org["broker"])
    db.session.commit()
    login(client, org["broker"])
    csv = client.get(f"/events/{e.id}/attendance.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in csv
    wb = load_workbook(io.BytesIO(client.get(f"/events/{e.id}/attendance.xlsx").data))
    cell = wb.active["B2"]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
    assert wb.active["H2"].value  # checked-in time


def test_recorded_pair_becomes_a_match_from_the_event(org, make):
    researcher, enterprise = make.user(Role.researcher), make.user(Role.enterprise)
    ach = listings.create(listings.ACHIEVEMENT, ACHIEVEMENT, researcher, publish=True, suggest=False)
    need = listings.create(listings.NEED, NEED, enterprise, publish=True, suggest=False)
    db.session.commit()
    e = new_event(org, achievement_ids=str(ach.id))
    s = events.signup(e, enterprise)
    db.session.commit()
    with pytest.raises(events.EventError, match="活动开始后"):
        events.record_pair(e, need, ach, org["broker"])
    e.starts_at = utcnow() - timedelta(hours=2)
    events.check_in(s, org["broker"])
    needs, achs = events.pair_choices(e)
    assert need in needs and ach in achs  # presented, and brought by who checked in
    pair = events.record_pair(e, need, ach, org["broker"])
    db.session.commit()
    m = db.session.get(Match, pair.match_id)
    assert (m.source, m.status, m.source_label) == ("event", "introduced", "活动")
    assert m.events[0].note.startswith("在活动“盾构装备专场对接会”")
    with pytest.raises(events.EventError, match="已记录过"):
        events.record_pair(e, need, ach, org["broker"])


def test_web_signup_and_double_signup_message(org, make, client):
    e = new_event(org)
    u = make.user()
    login(client, u)
    r = post_form(client, f"/events/{e.id}/signup", {}, token_page=f"/events/{e.id}")
    assert r.status_code == 303
    r = post_form(client, f"/events/{e.id}/signup", {}, token_page=f"/events/{e.id}")
    assert "无需重复报名" in client.get(r.headers["Location"]).get_data(as_text=True)


def test_calendar_shows_the_month_and_upcoming_events(org, client):
    e = new_event(org)
    html = client.get(f"/events/?month={e.starts_at:%Y-%m}").get_data(as_text=True)
    assert "盾构装备专场对接会" in html and f"{e.starts_at.year} 年 {e.starts_at.month} 月" in html
    assert events.upcoming_events(station_id=org["station"].id) == [e]
    assert events.upcoming_events(station_id=org["station"].id + 999) == []


def test_cancelling_the_event_tells_everyone_and_closes_signup(org, make):
    e = new_event(org)
    u = make.user()
    events.signup(e, u)
    db.session.commit()
    with pytest.raises(ValidationError, match="请填写取消原因"):
        events.cancel_event(e, org["broker"], " ")
    events.cancel_event(e, org["broker"], "场地检修")
    db.session.commit()
    n = db.session.scalar(
        select(Notification).where(Notification.user_id == u.id, Notification.title.like("活动取消%"))
    )
    assert n.body == "原因：场地检修"
    with pytest.raises(events.EventError, match="活动已取消"):
        events.signup(e, make.user())


def test_visitor_cancels_by_their_link_and_the_waiting_member_moves_up(org, make, client):
    e = new_event(org, capacity="1")
    s = events.signup(e, None, {"name": "王访客", "phone": "13803710002"})
    waiting_user = make.user()
    waiting = events.signup(e, waiting_user)
    db.session.commit()
    r = post_form(client, f"/events/signup/{s.token}", {})
    assert r.status_code == 303
    db.session.expire_all()
    assert (s.status, waiting.status) == ("cancelled", "confirmed")
    assert client.get("/events/signup/" + "0" * 32).status_code == 404


def test_a_stations_page_lists_its_upcoming_events(org, make, client):
    mine = new_event(org, title="郑大驿站成果路演")
    other = make.station()
    new_event({"station": other, "broker": make.user(Role.broker, station=other)}, title="别的驿站的培训")
    past_start = utcnow() - timedelta(days=3)
    new_event(
        org, title="上周的对接会", starts_at=f"{past_start:%Y-%m-%dT09:00}", ends_at=f"{past_start:%Y-%m-%dT11:00}"
    )
    html = client.get(f"/stations/{org['station'].id}").get_data(as_text=True)
    assert "近期活动" in html and f"/events/{mine.id}" in html and "郑大驿站成果路演" in html
    assert "别的驿站的培训" not in html and "上周的对接会" not in html


def test_the_hall_screen_shows_the_target_only_when_one_is_set(app, make, client):
    """Without a configured target the hall's screen compares with the year before, never a share of
    an invented target; an admin's target for the year brings the 年度目标完成 figure back."""
    from market.services import stats

    html = client.get("/hall").get_data(as_text=True)
    assert "成交额同比" in html and "年度目标完成" not in html
    stats.set_target(utcnow().year, "10亿", make.user(Role.admin))
    db.session.commit()
    html = client.get("/hall").get_data(as_text=True)
    assert "年度目标完成" in html and "成交额同比" not in html

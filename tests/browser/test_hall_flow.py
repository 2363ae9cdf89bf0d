"""End to end in headless Chromium: a member signs up for an event, the organiser checks them in and
records a pair → a match (source 活动) appears; a team applies to a 揭榜挂帅 challenge → passes 形式审查
→ two reviewers score → awarded → 公示 → match 洽谈中; the hall's front page. No page may break the CSP."""

import re
from datetime import date, timedelta

import pytest

from market.extensions import db
from market.models import Match, Role, utcnow
from market.services import challenges, events, listings
from tests.browser.conftest import SHOTS, login
from tests.conftest import ACHIEVEMENT, APPLICATION, NEED, event_form

pytestmark = pytest.mark.browser


def _page(browser, width=1280, height=900):
    page = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height}).new_page()
    page.csp_errors = []
    page.on("console", lambda m: "Content Security Policy" in m.text and page.csp_errors.append(m.text))
    return page


@pytest.fixture
def world(make):
    station = make.station()
    people = {
        "station": station,
        "broker": make.user(Role.broker, station=station, username="broker.e2e"),
        "broker2": make.user(Role.broker, station=station, username="broker2.e2e"),
        "researcher": make.user(Role.researcher, username="researcher.e2e"),
        "enterprise": make.user(Role.enterprise, username="enterprise.e2e"),
    }
    people["achievement"] = listings.create(
        listings.ACHIEVEMENT, ACHIEVEMENT, people["researcher"], publish=True, suggest=False
    )
    people["need"] = listings.create(listings.NEED, NEED, people["enterprise"], publish=True, suggest=False)
    db.session.commit()
    SHOTS.mkdir(parents=True, exist_ok=True)
    return people


def test_sign_up_check_in_and_record_a_pair(browser, live_server, world):
    base = live_server
    event = events.create(
        event_form(capacity="30", achievement_ids=str(world["achievement"].id)), world["broker"], world["station"]
    )
    db.session.commit()

    member = _page(browser)
    login(member, base, "enterprise.e2e")
    member.goto(f"{base}/events/?month={event.starts_at:%Y-%m}")
    member.screenshot(path=str(SHOTS / "events-calendar.png"), full_page=True)
    member.click("text=盾构装备专场对接会")
    member.click("[data-testid=signup]")
    assert "报名成功" in member.inner_text(".flash")
    assert "已确认" in member.inner_text("[data-testid=my-status]")
    member.screenshot(path=str(SHOTS / "event-detail.png"), full_page=True)

    event.starts_at = utcnow() - timedelta(minutes=30)  # the day of the event
    db.session.commit()
    organiser = _page(browser)
    login(organiser, base, "broker.e2e")
    organiser.goto(f"{base}/events/{event.id}/manage")
    row = f"tr[data-name='{world['enterprise'].display_name}']"
    organiser.click(f"{row} [data-testid=checkin]")
    assert "已签到" in organiser.inner_text(row)
    organiser.select_option("#p-need", str(world["need"].id))
    organiser.select_option("#p-ach", str(world["achievement"].id))
    organiser.click("[data-testid=record-pair]")
    flash = organiser.inner_text(".flash")
    match_id = int(re.search(r"匹配 #(\d+)", flash).group(1))
    organiser.screenshot(path=str(SHOTS / "event-manage.png"), full_page=True)
    organiser.goto(f"{base}/broker/?status=open")
    organiser.click(f"a[href='/broker/matches/{match_id}']")
    assert organiser.inner_text("[data-testid=status]") == "对接中"
    assert organiser.inner_text("[data-testid=source]") == "来源：活动"
    assert member.csp_errors == [] and organiser.csp_errors == []


def test_challenge_from_application_to_a_match_in_negotiation(browser, live_server, world):
    base = live_server
    need = world["need"]
    need.challenge_reward, need.challenge_deadline = 5000000, date.today() + timedelta(days=20)
    db.session.commit()

    team = _page(browser)
    login(team, base, "researcher.e2e")
    team.goto(f"{base}/needs/{need.id}")
    team.click("[data-testid=challenge-link]")
    team.click("[data-testid=apply]")
    for name in ("team_name", "summary", "solution", "team", "prior_results"):
        team.fill(f"#f-{name}", APPLICATION[name])
    team.click("[data-testid=submit-application]")
    team.wait_for_url(re.compile(r".*/challenges/applications/\d+$"))
    app_url = team.url
    assert team.inner_text("[data-testid=stage]") == "形式审查"

    b1 = _page(browser)
    login(b1, base, "broker.e2e")
    b1.goto(app_url)
    b1.click("[data-testid=move-pass]")
    assert b1.inner_text("[data-testid=stage]") == "专家评审"
    for i, mark in enumerate(("90", "80", "70", "60")):
        b1.fill(f"#m-{i}", mark)
    b1.click("[data-testid=submit-score]")
    assert "加权得分 80.0" in b1.inner_text(".flash")
    assert b1.locator("[data-testid=score-form]").count() == 0  # one score per reviewer

    b2 = _page(browser)
    login(b2, base, "broker2.e2e")
    b2.goto(app_url)
    for i in range(4):
        b2.fill(f"#m-{i}", "90")
    b2.click("[data-testid=submit-score]")
    assert b2.inner_text("aside [data-testid=average]") == "85.0"
    b2.click("[data-testid=move-shortlist]")
    assert b2.inner_text("[data-testid=stage]") == "入围答辩"
    b2.goto(f"{base}/challenges/{need.id}/review")
    b2.screenshot(path=str(SHOTS / "challenge-review.png"), full_page=True)
    b2.goto(app_url)
    b2.screenshot(path=str(SHOTS / "challenge-application.png"), full_page=True)
    b2.click("[data-testid=move-award]")
    assert b2.inner_text("[data-testid=stage]") == "揭榜成功"

    visitor = _page(browser)
    visitor.goto(f"{base}/challenges/{need.id}")
    visitor.click("[data-testid=result-link]")
    assert visitor.inner_text("[data-testid=winner]") == APPLICATION["team_name"]
    assert visitor.locator("[data-testid=object]").is_visible()
    visitor.screenshot(path=str(SHOTS / "challenge-publicity.png"), full_page=True)

    ch = challenges.peek(need)
    ch.objection_until = utcnow() - timedelta(minutes=1)  # the 公示 period has passed
    db.session.commit()
    b2.goto(f"{base}/challenges/{need.id}/review")
    b2.click("[data-testid=finalise]")
    match_id = int(re.search(r"匹配 #(\d+)", b2.inner_text(".flash")).group(1))
    b2.goto(f"{base}/broker/matches/{match_id}")
    assert b2.inner_text("[data-testid=status]") == "洽谈中"
    assert b2.inner_text("[data-testid=source]") == "来源：揭榜挂帅"
    db.session.expire_all()
    assert db.session.get(Match, match_id).need_id == need.id
    assert not (team.csp_errors or b1.csp_errors or b2.csp_errors or visitor.csp_errors)


def test_hall_front_page_fits_the_screen(browser, live_server, world):
    base = live_server
    start = utcnow().replace(hour=23, minute=0) if utcnow().hour < 23 else utcnow() + timedelta(minutes=5)
    events.create(
        event_form(
            title="今日成果路演专场",
            kind="路演",
            starts_at=f"{start:%Y-%m-%dT%H:%M}",
            ends_at=f"{start + timedelta(minutes=50):%Y-%m-%dT%H:%M}",
        ),
        world["broker"],
        world["station"],
    )
    db.session.commit()
    page = _page(browser, 1920, 1080)
    page.goto(f"{base}/hall")
    assert "今日成果路演专场" in page.inner_text("[data-testid=hall-events]")
    assert page.locator("[data-testid=hall-map] polygon").count() == 15
    assert page.locator("[data-testid=hall-map] circle.marker").count() == 1
    assert ACHIEVEMENT["title"] in page.inner_text("[data-testid=hall-achievements]")
    page.screenshot(path=str(SHOTS / "hall-front.png"))
    assert page.csp_errors == []

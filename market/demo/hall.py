"""Demo events (past and upcoming, some with recorded pairs) and two 揭榜挂帅 challenges at
different stages (专家评审; 揭榜成功 in 公示). Idempotent: nothing is added when demo events exist."""

from datetime import timedelta

from sqlalchemy import select

from ..extensions import db
from ..models import Achievement, Event, ListingStatus, Need, Role, Station, User, utcnow
from ..services import challenges, events

# (days from today, hour, kind, title, station, place, capacity, field of the listings presented)
EVENTS = [
    (-40, 14, "路演", "先进制造成果专场路演（第十二期）", "HALL", "交易大厅 2 楼路演厅", 80, "先进制造"),
    (-21, 9, "对接会", "生物医药企业技术需求对接会", "ZZU", "郑州大学主校区 行政楼 201", 60, "生物医药和医疗器械"),
    (-10, 14, "培训", "技术经纪人实务培训：技术合同认定登记", "HALL", "交易大厅 3 楼培训室", 40, None),
    (-3, 15, "对接会", "电子信息产业链供需对接会", "GXQ", "高新区科技服务驿站 会议室", 50, "电子信息"),
    (0, 14, "政策宣讲", "2026 年科技成果转化政策宣讲", "HALL", "交易大厅 1 楼报告厅", 120, None),
    (0, 19, "路演", "新材料成果线上路演", "JSQ", None, 200, "新材料及其应用"),
    (2, 9, "对接会", "航空港区智能终端企业技术需求对接会", "HKG", "航空港区技术转移驿站 多功能厅", 3, "电子信息"),
    (5, 14, "路演", "现代农业与食品科技成果路演", "HNAU", "河南农业大学 文化路校区 科技楼", 60, "农业"),
    (9, 14, "培训", "揭榜挂帅申报辅导", "HALL", "交易大厅 3 楼培训室", 40, None),
    (14, 10, "对接会", "经开区装备制造企业需求发布会", "JKQ", "经开区技术转移驿站 报告厅", 80, "先进制造"),
    (21, 14, "政策宣讲", "技术合同登记与税收优惠政策解读", "ZZU", "郑州大学技术转移驿站", 50, None),
    (35, 9, "路演", "新能源与节能环保成果路演", "HALL", "交易大厅 2 楼路演厅", 80, "新能源与高效节能"),
]
TEAM = {
    "team": "项目负责人（教授）1 名，副教授 2 名，博士后 1 名，在读博士 3 名；合作企业工程师 2 名负责中试",
    "prior_results": "相关发明专利 3 项；国家重点研发计划课题 1 项；小批量样件已通过用户台架测试",
}


def _listings(model, field: str | None, n: int) -> list:
    stmt = select(model).where(model.status == ListingStatus.published.value)
    if field:
        stmt = stmt.where(model.field == field)
    return db.session.scalars(stmt.order_by(model.id).limit(n)).all()


def load(log=print) -> dict[str, int]:
    if db.session.scalar(select(Event.id).limit(1)) is not None:
        return {"events": 0}
    stations = {s.code: s for s in db.session.scalars(select(Station))}
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    members = db.session.scalars(
        select(User).where(User.role.in_((Role.researcher.value, Role.enterprise.value))).order_by(User.id).limit(24)
    ).all()
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    made, pairs = 0, 0
    for i, (days, hour, kind, title, code, place, capacity, field) in enumerate(EVENTS):
        station = stations.get(code) or stations["HALL"]
        start = today + timedelta(days=days, hours=hour)
        achs, needs = (_listings(Achievement, field, 3), _listings(Need, field, 2)) if field else ([], [])
        raw = {
            "title": title,
            "kind": kind,
            "starts_at": f"{start:%Y-%m-%dT%H:%M}",
            "ends_at": f"{start + timedelta(hours=3):%Y-%m-%dT%H:%M}",
            "place": place or "",
            "online_url": "" if place else "https://live.zztm.example/room/2026",
            "capacity": str(capacity),
            "description": f"{title}。主办：{station.name}。欢迎高校院所、企业和投资机构报名参加。",
            "achievement_ids": ",".join(str(a.id) for a in achs),
            "need_ids": ",".join(str(n.id) for n in needs),
        }
        e = events.create(raw, admin, station)
        signed_up_at = min(utcnow(), start - timedelta(days=2))  # past events: before they happened
        for u in members[i % 5 : i % 5 + min(capacity + 2, 9)]:
            events.signup(e, u, now=signed_up_at)
        events.signup(e, None, {"name": "王访客", "phone": f"1380371{i:04d}"}, now=signed_up_at)
        if days < 0:
            for s in events.active_signups(e)[:5]:
                if s.status == "confirmed":
                    events.check_in(s, admin)
            if achs and needs and days > -30:
                for need, ach in zip(needs, achs):
                    if events.record_pair(e, need, ach, admin):
                        pairs += 1
        made += 1
    db.session.flush()
    n = _challenges(admin)
    log(f"demo: {made} events ({pairs} pairs recorded), {n} 揭榜挂帅 challenges under way")
    return {"events": made, "pairs": pairs, "challenges": n}


def _need(ext_id: str) -> Need | None:
    return db.session.scalar(select(Need).where(Need.ext_id == ext_id))


def _applicants(n: int) -> list[User]:
    return db.session.scalars(
        select(User).where(User.role == Role.researcher.value, User.org_id.is_not(None)).order_by(User.id).limit(n)
    ).all()


# 揭榜 applications: need → [(applicant index or None for a fixed team name, team, summary, solution)]
APPLICATIONS = {
    "N-EM-002": [  # 大直径盾构主轴承 — 专家评审 under way
        (
            0,
            "主轴承攻关团队",
            "采用渗碳轴承钢真空冶炼与精密辗环工艺，配合滚道感应淬火与寿命仿真，三年内完成 8 米级主轴承样机并通过台架试验。",
            "一、材料：高纯净渗碳轴承钢，氧含量≤6 ppm；二、工艺：大型环件精密辗扩、滚道感应淬火、超精研；"
            "三、验证：1:1 台架加速寿命试验，目标寿命≥10000 h；四、进度：第一年材料与工艺，第二年样机，第三年工程验证。",
        ),
        (
            1,
            "重载轴承团队",
            "以三排圆柱滚子结构优化和在线状态监测为重点，先做 6 米级样机，再放大到 8 米级，降低国产化风险。",
            "结构方面采用三排滚子优化接触应力分布；制造方面与省内轴承企业联合辗环、热处理；"
            "配套振动与温度在线监测系统，提供全寿命数据；分两期实施，总经费 1800 万元。",
        ),
        (
            2,
            "轴承数字孪生小组",
            "提出基于数字孪生的主轴承健康管理方案，用于现有进口主轴承的寿命预测与维护优化。",
            "建立主轴承多体动力学模型与磨损模型，结合现场振动、温度与油液数据进行寿命预测，指导换装与维护，"
            "降低停机风险；不涉及新轴承的设计与制造。",
        ),
    ],
    "N-IE-001": [  # NDIR 红外敏感元件 — 揭榜成功, 公示 under way
        (
            3,
            "红外传感团队",
            "采用 MEMS 热电堆双通道结构与窄带滤光片国产化，元件响应率与温漂达到进口同类水平，可批量供货。",
            "双通道热电堆芯片：响应率≥150 V/W，通道一致性≤3%；4.26 μm / 3.91 μm 窄带滤光片自研；"
            "TO-39 封装，-40–85 ℃ 温漂≤0.2%/℃；已建 6 英寸 MEMS 中试线。",
        ),
        (
            4,
            "光电器件组",
            "基于热释电材料的双通道探测元件，成本低，适合民用燃气报警器。",
            "采用钽酸锂热释电晶片和自研前置放大电路，双通道差分输出；成本约为进口件的 40%，"
            "响应速度略低于进口件，适合对成本敏感的家用燃气报警器。",
        ),
    ],
}


def _applied(ext_id: str, people: list[User]) -> list:
    need = _need(ext_id)
    if need is None or len(people) < 5:
        return []
    return [
        challenges.apply(
            need,
            people[i],
            {
                "team_name": f"{people[i].org.name}{team}" if i != 2 else team,
                "summary": summary,
                "solution": solution,
                **TEAM,
            },
        )
        for i, team, summary, solution in APPLICATIONS[ext_id]
    ]


def _score(app, reviewer: User, marks: tuple, comment: str = "") -> None:
    challenges.score(app, reviewer, {f"mark_{i}": v for i, v in enumerate(marks)}, comment)


def _challenges(admin: User) -> int:
    brokers = db.session.scalars(select(User).where(User.role == Role.broker.value).order_by(User.id).limit(3)).all()
    people = _applicants(5)
    done = 0
    if apps := _applied("N-EM-002", people):
        a, b, c = apps
        challenges.move(a, "pass", brokers[0])
        challenges.move(b, "pass", brokers[0])
        challenges.move(c, "drop", brokers[0], "方案针对进口主轴承的运维，未涉及榜单要求的国产化研制")
        _score(a, brokers[0], (88, 82, 90, 80), "工艺路线清晰")
        _score(a, brokers[1], (85, 80, 86, 78))
        _score(b, brokers[0], (78, 85, 80, 84))
        done += 1
    if apps := _applied("N-IE-001", people):
        w, other = apps
        challenges.move(w, "pass", brokers[0])
        challenges.move(other, "pass", brokers[0])
        _score(w, brokers[0], (92, 88, 90, 85))
        _score(w, brokers[1], (90, 86, 88, 84))
        _score(w, brokers[2], (89, 90, 85, 86))
        _score(other, brokers[0], (72, 80, 70, 82))
        challenges.move(other, "drop", brokers[0], "专家评审均分未进入前一名，响应速度不满足指标要求")
        challenges.move(w, "shortlist", brokers[0])
        challenges.move(w, "award", brokers[0], now=utcnow() - timedelta(days=2))
        done += 1
    db.session.flush()
    return done

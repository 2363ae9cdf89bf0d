"""Demo: every station's page filled in (address, phone, hours, service area, brokers' 领域), and a
few 申请对接 and service-desk requests in different states. Idempotent: a filled page and existing
requests are left alone."""

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from ..config import DEMO_DIR
from ..extensions import db
from ..models import Achievement, ContactRequest, Need, Organisation, ServiceRequest, Station, User, utcnow
from ..services import contact, desk

VISITORS = [
    (
        "周明",
        "郑州瑞光精密机械有限公司",
        "13938251174",
        "zhouming@example.com",
        "我们是做精密零部件的民营企业，对这项需求有成熟方案，希望与需求方当面交流技术细节和试制计划。",
    ),
    (
        "黄蕾",
        "河南豫信科技服务有限公司",
        "0371-60912233",
        None,
        "受客户委托了解该成果的许可条件和价格区间，客户计划年内建设一条中试线，请经纪人联系。",
    ),
    (
        "冯涛",
        "郑州一家初创团队",
        None,
        "fengtao@example.com",
        "团队有相关算法和样机，想了解需求方对指标的具体要求以及是否接受联合申报项目。",
    ),
]
SERVICE_DEMO = [
    (
        "assessment",
        "我们一项“高比能磷酸锰铁锂正极材料”成果拟作价入股，需要第三方技术评估报告，希望 12 月底前完成。",
        [],
    ),
    ("ip_advice", "企业拟许可使用高校两项发明专利，想咨询许可合同中专利维持费、改进成果归属怎样约定。", ["accept"]),
    (
        "contract_help",
        "与郑州大学签订的技术开发合同需要办理认定登记，想请经纪人辅导填写合同登记材料。",
        ["assign", "start"],
    ),
    (
        "financing",
        "盾构刀具国产化项目需要 2000 万元中试资金，希望对接科技金融机构与投资基金。",
        ["assign", "start", "finish"],
    ),
    ("assessment", "请帮忙评估一下我们公司的全部专利值多少钱。", ["refuse"]),
]


def load(folder: Path = DEMO_DIR, log=print) -> dict[str, int]:
    path = folder / "station_pages.json"
    pages = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    orgs = {o.name: o.id for o in db.session.scalars(select(Organisation))}
    filled = 0
    for station in db.session.scalars(select(Station)):
        page = pages.get(station.code)
        if page is None or station.address:
            continue
        station.address, station.phone, station.hours = page["address"], page["phone"], page["hours"]
        station.description = page["description"]
        station.served_orgs = [orgs[n] for n in page["served_orgs"] if n in orgs]
        for username, b in page["brokers"].items():
            user = db.session.scalar(select(User).where(User.username == username))
            if user is not None:
                user.display_name, user.expertise, user.station_admin = b["display_name"], b["expertise"], b["admin"]
        filled += 1
    db.session.flush()
    counts = {"pages": filled, "contacts": 0, "services": 0}
    if not db.session.scalar(select(func.count()).select_from(ContactRequest)):
        counts["contacts"] = _contacts()
    if not db.session.scalar(select(func.count()).select_from(ServiceRequest)):
        counts["services"] = _services()
    log(f"demo: {filled} station pages, {counts['contacts']} 申请对接, {counts['services']} service requests")
    return counts


def _contacts() -> int:
    needs = db.session.scalars(select(Need).where(Need.status == "published").order_by(Need.id).limit(4)).all()
    achievements = db.session.scalars(
        select(Achievement)
        .where(Achievement.status == "published", Achievement.station_id.is_not(None))
        .order_by(Achievement.id)
        .limit(2)
    ).all()
    member = db.session.scalar(select(User).where(User.username == "enterprise"))
    made = 0
    for i, listing in enumerate([*needs, *achievements]):
        if i < len(VISITORS):
            name, org, phone, email, message = VISITORS[i]
            req, _ = contact.submit(
                listing, {"name": name, "org_name": org, "phone": phone or "", "email": email or "", "message": message}
            )
        elif member is not None and listing.owner_id != member.id:
            req, _ = contact.submit(
                listing,
                {
                    **contact.defaults_for(member),
                    "phone": "13803711234",
                    "message": "我司有类似应用场景，希望了解该成果的中试数据和转让方式。",
                },
                member,
            )
        else:
            continue
        req.created_at = req.events[0].at = utcnow() - timedelta(days=9 - i)
        broker = db.session.scalar(
            select(User).where(User.station_id == req.station_id, User.role == "broker").order_by(User.id)
        )
        if broker is not None and i % 3 == 1:
            contact.reply(req, broker, "您好，已将您的意向转告需求方，对方同意下周二上午在驿站面谈，请携带技术资料。")
        if broker is not None and i % 3 == 2:
            contact.reply(req, broker, "您好，成果方表示可接受普通许可，费用面议，已把您的联系方式转给对方项目负责人。")
            contact.close(req, broker, "双方已建立联系")
        made += 1
    db.session.flush()
    return made


def _services() -> int:
    members = db.session.scalars(
        select(User).where(User.username.in_(["enterprise", "researcher"])).order_by(User.username)
    ).all()
    hall_broker = db.session.scalar(select(User).where(User.username == "broker.hall"))
    worker = db.session.scalar(select(User).where(User.username == "broker"))
    if not members or hall_broker is None or worker is None:
        return 0
    for i, (service, text, steps) in enumerate(SERVICE_DEMO):
        req = desk.submit(members[i % len(members)], {"service": service, "description": text})
        req.created_at = req.events[0].at = utcnow() - timedelta(days=12 - 2 * i)
        for step in steps:
            actor = worker if step in ("start", "finish") else hall_broker
            note = {
                "finish": "已对接两家科技金融机构并完成路演，投资方进入尽调。",
                "refuse": "全部专利的价值评估需委托资产评估机构，大厅可提供机构名录，请按单项技术申请技术评估。",
                "start": "已约申请人面谈，收集合同文本。",
            }.get(step, "")
            desk.act(req, step, actor, note, broker_id=worker.id)
    db.session.flush()
    return len(SERVICE_DEMO)

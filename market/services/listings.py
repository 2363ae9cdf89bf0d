"""Use cases of the two libraries (成果库, 问题库): post, edit, publish, archive, expire, browse.

One parametrised piece serves both: a ListingKind describes what differs.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import or_, select

from matching.text import default_tokenizer, listing_terms

from .. import signals
from ..extensions import db
from ..models import Achievement, ListingStatus, Need, Notification, Organisation, Role, User, utcnow
from ..models.org import ENTERPRISE_KINDS, RESEARCH_KINDS
from ..validation import reference, rules
from ..validation.fields import Field, ValidationError, check_future, check_range, clean
from . import matches

_CONTACT = (
    Field("contact_name", "联系人", required=True, max_len=40, private=True),
    Field("contact_phone", "联系电话", type="phone", required=True, private=True, aliases=("电话", "手机")),
    Field("contact_email", "电子邮箱", type="email", private=True, aliases=("邮箱", "email")),
)

ACHIEVEMENT_FIELDS = (
    Field("title", "成果名称", required=True, min_len=4, max_len=100, aliases=("标题", "名称", "项目名称")),
    Field(
        "summary",
        "成果简介",
        type="longtext",
        required=True,
        min_len=20,
        max_len=3000,
        aliases=("摘要", "简介"),
        help="公开展示，请勿写入保密细节",
    ),
    Field(
        "detail",
        "技术详情（保密）",
        type="longtext",
        max_len=8000,
        private=True,
        aliases=("详情", "技术详情", "保密内容"),
        help="仅对经纪人和对接成功后的需求方可见",
    ),
    Field(
        "keywords", "关键词", type="keywords", required=True, aliases=("关键字",), help="用逗号或顿号分隔，最多 10 个"
    ),
    Field("field", "技术领域", type="choice", vocab="field", required=True, aliases=("领域",)),
    Field("chain", "产业链", type="choice", vocab="chain"),
    Field("maturity", "成熟度", type="choice", vocab="maturity", required=True, aliases=("成熟阶段", "技术成熟度")),
    Field("trl", "技术就绪度", type="int", aliases=("trl",), help="TRL 1–9，可不填"),
    Field("ip", "知识产权", type="ip", help="每行一项，如 发明专利:ZL202110356789.1"),
    Field(
        "transfer_modes",
        "转化方式",
        type="choices",
        vocab="transfer_mode",
        required=True,
        aliases=("交易方式", "转让方式"),
    ),
    Field("price_min", "价格下限", type="money", aliases=("价格下限（元）",), help="元，可写 50万；上下限都不填为面议"),
    Field("price_max", "价格上限", type="money", aliases=("价格上限（元）",)),
    Field("expires_at", "有效期至", type="date", aliases=("有效期",), help="不填则发布后一年"),
    *_CONTACT,
)

NEED_FIELDS = (
    Field("title", "需求名称", required=True, min_len=4, max_len=100, aliases=("标题", "名称")),
    Field(
        "statement",
        "问题描述",
        type="longtext",
        required=True,
        min_len=20,
        max_len=3000,
        aliases=("需求描述", "摘要", "简介"),
        help="公开展示，请勿写入保密细节",
    ),
    Field(
        "detail",
        "保密细节",
        type="longtext",
        max_len=8000,
        private=True,
        aliases=("详情", "保密内容"),
        help="仅对经纪人和对接成功后的成果方可见",
    ),
    Field("indicators", "技术指标", type="longtext", max_len=3000, aliases=("指标",)),
    Field("keywords", "关键词", type="keywords", required=True, aliases=("关键字",)),
    Field("field", "技术领域", type="choice", vocab="field", required=True, aliases=("领域",)),
    Field("chain", "产业链", type="choice", vocab="chain"),
    Field("bottleneck", "卡脖子", type="bool", aliases=("卡脖子技术",)),
    Field("challenge_reward", "揭榜挂帅奖金", type="money", aliases=("揭榜奖金", "悬赏金额")),
    Field("challenge_deadline", "揭榜截止日期", type="date"),
    Field("budget_min", "预算下限", type="money", aliases=("预算下限（元）",)),
    Field("budget_max", "预算上限", type="money", aliases=("预算上限（元）",)),
    Field("coop_modes", "合作方式", type="choices", vocab="coop_mode", required=True),
    Field("wanted_maturity", "期望成熟度", type="choice", vocab="maturity"),
    Field("deadline", "需求截止日期", type="date", aliases=("截止日期",)),
    *_CONTACT,
)


@dataclass(frozen=True)
class ListingKind:
    name: str
    model: type
    label: str
    library: str
    text_field: str
    fields: tuple[Field, ...]
    author_role: Role
    org_kinds: tuple[str, ...]

    def __str__(self):
        return self.name


ACHIEVEMENT = ListingKind(
    "achievement", Achievement, "成果", "成果库", "summary", ACHIEVEMENT_FIELDS, Role.researcher, RESEARCH_KINDS
)
NEED = ListingKind("need", Need, "需求", "问题库", "statement", NEED_FIELDS, Role.enterprise, ENTERPRISE_KINDS)
KINDS = {k.name: k for k in (ACHIEVEMENT, NEED)}


def kind_of(listing) -> ListingKind:
    return KINDS[listing.kind]


def other_kind(kind: ListingKind) -> ListingKind:
    return NEED if kind is ACHIEVEMENT else ACHIEVEMENT


# ---- who may do what ----------------------------------------------------------------------


def can_post(user: User | None, kind: ListingKind) -> bool:
    if user is None or not user.is_authenticated:
        return False
    if user.has_role(kind.author_role):
        return user.member_org_id is not None
    return user.has_role(Role.broker, Role.admin)


def initial_values(user: User, kind: ListingKind) -> dict:
    """A new listing's form, pre-filled: the contact fields from the poster's own profile (a broker or
    admin posting for a client leaves them to fill in)."""
    if not user.has_role(kind.author_role):
        return {}
    return {
        k: v
        for k, v in (("contact_name", user.display_name), ("contact_phone", user.phone), ("contact_email", user.email))
        if v
    }


def can_edit(user: User | None, listing) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return user.is_admin or listing.owner_id == user.id


def can_view(user: User | None, listing) -> bool:
    """Published listings are public; others only to their owner, brokers and admins."""
    if listing.is_published:
        return True
    return can_edit(user, listing) or bool(user and user.is_authenticated and user.is_staff)


def can_see_private(user: User | None, listing) -> bool:
    """Contacts and confidential detail: owner, brokers, admins — and the other party once both
    parties agreed to an introduction (matches.introduced_to)."""
    if user is None or not user.is_authenticated:
        return False
    if listing.owner_id == user.id or user.is_staff:
        return True
    return matches.introduced_to(user, listing)


# ---- validation ---------------------------------------------------------------------------


def validate(
    kind: ListingKind, raw: dict, partial: bool = False, today: date | None = None, check_dates: bool = True
) -> dict:
    """Typed values of a listing, or ValidationError with every problem in Chinese."""
    v = reference.vocab()
    values = clean(kind.fields, raw, v, partial=partial)
    columns = kind.model.__table__.c
    for name, value in values.items():  # a blank optional text is "" where the column is NOT NULL
        if value is None and name in columns and not columns[name].nullable:
            values[name] = ""
    today = today or date.today()
    errors: dict[str, str] = {}
    if kind is ACHIEVEMENT:
        check_range(values, "price_min", "price_max", "价格", errors)
        trl, stage = values.get("trl"), values.get("maturity")
        if trl is not None:
            if not 1 <= trl <= 9:
                errors["trl"] = "技术就绪度应为 1 到 9"
            elif stage and v.trl_stage.get(trl) != stage:
                errors["trl"] = f"TRL {trl} 对应“{v.trl_stage[trl]}”阶段，与所选成熟度“{stage}”不符"
        if check_dates:
            check_future(values, "expires_at", "有效期", errors, today)
    else:
        check_range(values, "budget_min", "budget_max", "预算", errors)
        reward, deadline = values.get("challenge_reward"), values.get("challenge_deadline")
        if (reward is None) != (deadline is None) and not partial:
            errors["challenge_deadline" if reward is not None else "challenge_reward"] = (
                "揭榜挂帅需同时填写奖金和截止日期"
            )
        if reward is not None and reward <= 0:
            errors["challenge_reward"] = "揭榜挂帅奖金应大于 0"
        if check_dates:
            check_future(values, "challenge_deadline", "揭榜截止日期", errors, today)
            check_future(values, "deadline", "需求截止日期", errors, today)
    if errors:
        raise ValidationError(errors)
    return values


def search_text(kind: ListingKind, listing) -> str:
    terms = listing_terms(
        default_tokenizer(),
        listing.title,
        getattr(listing, kind.text_field),
        listing.keywords or [],
        listing.org.name if listing.org else "",
        (listing.indicators or "") if kind is NEED else "",
    )
    return " " + " ".join(terms) + " "


# ---- use cases ----------------------------------------------------------------------------


def resolve_org(kind: ListingKind, actor: User, org_id=None) -> Organisation:
    """Researchers and enterprises post for their own organisation; brokers and admins for a client."""
    if actor.has_role(kind.author_role):
        if actor.org is not None and actor.member_org_id is None:
            raise ValidationError({"": "您的单位成员身份尚未确认（或单位尚未核验），暂不能以单位名义发布"})
        org = actor.org
    else:
        org = db.session.get(Organisation, int(org_id)) if rules.is_ascii_int(org_id) else None
        if org is None:
            raise ValidationError({"org_id": f"请选择{kind.label}所属单位"})
    if org is None:
        raise ValidationError({"": "您的账号尚未关联单位，请联系管理员"})
    if org.kind not in kind.org_kinds:
        raise ValidationError(
            {"org_id": f"{org.name}（{org.kind}）不能发布{kind.label}；{kind.label}应由{'、'.join(kind.org_kinds)}发布"}
        )
    return org


def create(
    kind: ListingKind,
    raw: dict,
    actor: User,
    org_id=None,
    publish: bool = False,
    ext_id: str | None = None,
    station_id: int | None = None,
    suggest: bool = True,
):
    values = validate(kind, raw)
    org = resolve_org(kind, actor, org_id)
    listing = kind.model(
        org=org,
        owner=actor,
        ext_id=ext_id,
        status=ListingStatus.draft.value,
        station_id=station_id or (actor.station_id if actor.has_role(Role.broker) else None),
        **values,
    )
    listing.search_text = search_text(kind, listing)
    db.session.add(listing)
    db.session.flush()
    if publish:
        publish_listing(listing, actor, suggest=suggest)
    return listing


def similar_to_new(kind: ListingKind, raw: dict, actor: User, org_id=None) -> list:
    """Published listings that say nearly what a listing about to be posted says (nothing is saved)."""
    from ..infra import match_engine

    values = validate(kind, raw)
    draft = kind.model(org=resolve_org(kind, actor, org_id), **values)
    return match_engine.near_duplicates(draft)


def update(listing, raw: dict, actor: User):
    if not can_edit(actor, listing):
        raise PermissionError("只有发布者或管理员可以修改")
    kind = kind_of(listing)
    merged = {f.name: getattr(listing, f.name) for f in kind.fields}
    merged.update(raw)
    values = validate(kind, merged, check_dates=False)
    changed_dates = {
        k
        for k in ("expires_at", "deadline", "challenge_deadline")
        if k in values and values[k] != getattr(listing, k, None)
    }
    if changed_dates:
        errors = {}
        for name in changed_dates:
            f = next(f for f in kind.fields if f.name == name)
            check_future(values, name, f.label, errors, date.today())
        if errors:
            raise ValidationError(errors)
    for name, value in values.items():
        setattr(listing, name, value)
    listing.search_text = search_text(kind, listing)
    listing.updated_at = utcnow()
    db.session.flush()
    if listing.is_published:
        signals.listing_published.send(listing, actor=actor)
    return listing


def publish_listing(listing, actor: User, suggest: bool = True):
    if not can_edit(actor, listing) and not actor.is_staff:
        raise PermissionError("只有发布者、经纪人或管理员可以发布")
    if listing.status == ListingStatus.published.value:
        return listing
    today = date.today()
    if listing.expires_at is None or listing.expires_at <= today:
        lifetime = current_app.config["ACHIEVEMENT_LIFETIME_DAYS"]
        due = getattr(listing, "deadline", None)
        listing.expires_at = due if due and due > today else today + timedelta(days=lifetime)
    listing.status = ListingStatus.published.value
    listing.published_at = utcnow()
    db.session.flush()
    if suggest:
        signals.listing_published.send(listing, actor=actor)
    return listing


CLOSE_REASONS = {"solved": "已解决", "partner_found": "已找到合作方", "not_needed": "不再需要", "other": "其他"}
SOLVED_REASONS = ("solved", "partner_found")


def archive_listing(listing, actor: User, reason: str | None = None, note: str = ""):
    """Take a listing down, saying why (已解决 / 已找到合作方 / 不再需要 / 其他). Its open suggestions
    and consent requests are withdrawn."""
    if not can_edit(actor, listing):
        raise PermissionError("只有发布者或管理员可以归档")
    note = (note or "").strip()
    if reason not in CLOSE_REASONS:
        raise ValidationError({"close_reason": "请选择下架原因"})
    if reason == "other" and not note:
        raise ValidationError({"close_note": "选择“其他”时请写明原因"})
    if len(note) > 500:
        raise ValidationError({"close_note": "说明最多 500 字"})
    listing.status = ListingStatus.archived.value
    listing.close_reason, listing.close_note, listing.closed_at = reason, note or None, utcnow()
    db.session.flush()
    signals.listing_withdrawn.send(
        listing, why=f"{kind_of(listing).label}已下架（{CLOSE_REASONS[reason]}）", actor=actor
    )
    return listing


def expire_due(today: date | None = None) -> dict[str, int]:
    """Mark published listings past their expiry date as expired (withdrawing their open
    suggestions) and tell their owners."""
    today = today or date.today()
    counts = {}
    for kind in KINDS.values():
        m = kind.model
        due = db.session.scalars(select(m).where(m.status == ListingStatus.published.value, m.expires_at < today)).all()
        for listing in due:
            listing.status = ListingStatus.expired.value
            signals.listing_withdrawn.send(listing, why=f"{kind.label}已于 {listing.expires_at} 过期下架")
            _notify_owner(
                listing,
                f"expired:{kind.name}:{listing.id}:{listing.expires_at}",
                f"您的{kind.label}“{listing.title}”已过期下架",
                "如仍有效，请在“我的发布”中修改有效期后重新发布。",
            )
        counts[kind.name] = len(due)
    db.session.flush()
    return counts


def notify_expiring(today: date | None = None) -> int:
    """One notice per listing and expiry date when it expires within EXPIRY_NOTICE_DAYS."""
    today = today or date.today()
    horizon = today + timedelta(days=current_app.config["EXPIRY_NOTICE_DAYS"])
    sent = 0
    for kind in KINDS.values():
        m = kind.model
        soon = db.session.scalars(
            select(m).where(m.status == ListingStatus.published.value, m.expires_at >= today, m.expires_at <= horizon)
        ).all()
        for listing in soon:
            sent += _notify_owner(
                listing,
                f"expiring:{kind.name}:{listing.id}:{listing.expires_at}",
                f"您的{kind.label}“{listing.title}”将于 {listing.expires_at} 到期",
                "到期后将自动下架；如需继续展示，请修改有效期。",
            )
    db.session.flush()
    return sent


def _notify_owner(listing, key: str, title: str, body: str) -> int:
    if listing.owner_id is None:
        return 0
    if db.session.scalar(select(Notification.id).where(Notification.key == key)):
        return 0
    db.session.add(
        Notification(user_id=listing.owner_id, key=key, title=title, body=body, link=f"/{listing.kind}s/{listing.id}")
    )
    return 1


def expiring_soon(listing, today: date | None = None) -> bool:
    today = today or date.today()
    return (
        listing.is_published
        and listing.expires_at is not None
        and listing.expires_at <= today + timedelta(days=current_app.config["EXPIRY_NOTICE_DAYS"])
    )


# ---- browsing -----------------------------------------------------------------------------


@dataclass
class Filters:
    q: str = ""
    field: str = ""
    chain: str = ""
    maturity: str = ""
    bottleneck: bool = False
    region: str = ""

    @classmethod
    def from_args(cls, args) -> "Filters":
        return cls(
            q=(args.get("q") or "").strip()[:100],
            field=args.get("field") or "",
            chain=args.get("chain") or "",
            maturity=args.get("maturity") or "",
            bottleneck=args.get("bottleneck") in ("1", "on", "true"),
            region=args.get("region") or "",
        )

    def active(self) -> bool:
        return any((self.q, self.field, self.chain, self.maturity, self.bottleneck, self.region))


def browse_query(kind: ListingKind, f: Filters, statuses=(ListingStatus.published.value,)):
    """A select of listings matching the filters; keyword terms must all occur (jieba-segmented)."""
    m = kind.model
    stmt = select(m).where(m.status.in_(statuses))
    if f.field:
        stmt = stmt.where(m.field == f.field)
    if f.chain:
        stmt = stmt.where(m.chain.in_(reference.vocab().chain_with_children(f.chain)))
    if f.maturity:
        stmt = stmt.where((m.maturity if kind is ACHIEVEMENT else m.wanted_maturity) == f.maturity)
    if f.bottleneck and kind is NEED:
        stmt = stmt.where(m.bottleneck.is_(True))
    if f.region:
        stmt = stmt.join(Organisation, m.org_id == Organisation.id)
        stmt = (
            stmt.where(Organisation.region == f.region)
            if f.region != "other"
            else stmt.where(~Organisation.region.startswith("4101"))
        )
    for term in keyword_terms(f.q):
        stmt = stmt.where(or_(m.search_text.contains(f" {term} "), m.title.contains(term)))
    order = [m.bottleneck.desc()] if kind is NEED else []
    return stmt.order_by(*order, m.published_at.desc(), m.id.desc())


def keyword_terms(q: str) -> list[str]:
    return list(dict.fromkeys(default_tokenizer().tokens(q, for_search=False)))[:8] if q else []


def browse(kind: ListingKind, f: Filters, page: int, per_page: int | None = None):
    per_page = per_page or current_app.config["PAGE_SIZE"]
    return db.paginate(browse_query(kind, f), page=page, per_page=per_page, error_out=False)


class ListPage:
    """A page of an already ranked list, shaped like Flask-SQLAlchemy's Pagination."""

    def __init__(self, items: list, page: int, per_page: int):
        self.total = len(items)
        self.per_page = per_page
        self.pages = max(1, -(-self.total // per_page))
        self.page = min(page, self.pages)
        start = (self.page - 1) * per_page
        self.items = items[start : start + per_page]
        self.has_prev, self.has_next = self.page > 1, self.page < self.pages
        self.prev_num, self.next_num = self.page - 1, self.page + 1

    def iter_pages(self, left_edge=1, right_edge=1, left_current=2, right_current=2):
        last = 0
        for n in range(1, self.pages + 1):
            if (
                n <= left_edge
                or n > self.pages - right_edge
                or self.page - left_current <= n <= self.page + right_current
            ):
                if last + 1 != n:
                    yield None
                yield n
                last = n


def owned_by(user: User, kind: ListingKind):
    m = kind.model
    return db.session.scalars(select(m).where(m.owner_id == user.id).order_by(m.updated_at.desc())).all()


def region_choices() -> list[tuple[str, str]]:
    return [*rules.zhengzhou_districts().items(), ("other", "郑州市外")]

"""What an import file of each kind holds, and how its rows become records.

A kind's columns are the service's Field definitions (their Chinese labels and aliases are the
accepted headers, the English names too) plus the import's own: 外部编号, 单位 and what a new
单位 needs, a combined 价格/预算 column ("50万-200万", "面议") and 状态. Each run gets a Loader that
turns a batch of rows into plans (validation: nothing is written) and stores a plan.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from market.extensions import db
from market.infra import match_engine
from market.models import User
from market.services import listings
from market.validation.fields import Field, ValidationError

from . import records
from .readers import Row


def normalise(header) -> str:
    """Headers compare without case, spaces, width differences or a trailing required-mark *."""
    s = unicodedata.normalize("NFKC", str(header)).replace("\ufeff", "")
    return "".join(s.split()).rstrip("*").lower()


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    help: str = ""
    in_template: bool = True


def columns_of(
    fields: tuple[Field, ...], extra_aliases: dict[str, tuple[str, ...]] | None = None, left_out: tuple[str, ...] = ()
) -> tuple[Column, ...]:
    extra_aliases = extra_aliases or {}
    return tuple(
        Column(f.name, f.label, f.aliases + extra_aliases.get(f.name, ()), f.required, f.help, f.name not in left_out)
        for f in fields
    )


@dataclass
class Problem:
    row: int
    column: str  # the header as written in the file, else the column's label
    value: str
    message: str
    level: str = "error"  # error | warning | duplicate

    @property
    def is_error(self) -> bool:
        return self.level == "error"


@dataclass
class Item:
    """One row on its way in."""

    row: Row
    cells: dict[str, Any]  # column name → value
    headers: dict[str, str]  # column name → header as written
    problems: list[Problem] = field(default_factory=list)
    key: str | None = None  # external id (or organisation name)
    plan: Any = None
    title: str = ""
    skip: bool = False  # a near-duplicate left out

    @property
    def ok(self) -> bool:
        return not any(p.is_error for p in self.problems)

    @property
    def action(self) -> str:
        return self.plan.action if self.plan is not None else "invalid"


class ImportKind:
    name: str
    label: str
    columns: tuple[Column, ...]
    example: dict[str, str]
    indexed = False  # embedded, indexed and checked for near-duplicates
    error_columns: dict[str, str] = {}  # service error key → column

    @cached_property
    def header_map(self) -> dict[str, str]:
        out = {}
        for c in self.columns:
            for h in (c.name, c.label, *c.aliases):
                out.setdefault(normalise(h), c.name)
        return out

    def may_import(self, actor: User) -> bool:
        return actor.is_admin

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def required_columns(self, actor: User | None) -> list[Column]:
        return [c for c in self.columns if c.required]

    def map_headers(self, headers: list[str]) -> tuple[dict[str, str], list[str], list[str]]:
        """(header → column, unknown headers, problems) for a file's header row."""
        mapping, unknown, problems, seen = {}, [], [], {}
        for h in headers:
            if not h:
                continue
            name = self.header_map.get(normalise(h))
            if name is None:
                unknown.append(h)
            elif name in seen:
                problems.append(f"列“{h}”与列“{seen[name]}”是同一项，请只保留一列")
            else:
                mapping[h], seen[name] = name, h
        return mapping, unknown, problems

    def loader(self, actor_id: int, station_id: int | None = None) -> "Loader":
        raise NotImplementedError


class Loader:
    """One run's state: the rows seen so far, organisations resolved, who imports."""

    def __init__(self, kind: ImportKind, actor_id: int, station_id: int | None = None):
        self.kind, self.actor_id, self.station_id = kind, actor_id, station_id
        self.seen: dict[int, int] = {}  # hash of a row's key → row number (duplicates in a file)
        self._mapped: dict[str, str | None] = {}

    @property
    def actor(self) -> User:
        """The importing user, in this thread's session."""
        return db.session.get(User, self.actor_id)

    # ---- rows → items -------------------------------------------------------------------------
    def known_header(self, header: str, name: str | None) -> None:
        """A header of the file, mapped (or found unknown) once for all rows."""
        self._mapped[header] = name

    def item(self, row: Row) -> Item:
        cells, headers, unknown = {}, {}, []
        for h, value in row.cells.items():
            if h not in self._mapped:
                self._mapped[h] = self.kind.header_map.get(normalise(h))
                if self._mapped[h] is None:
                    unknown.append(h)
            name = self._mapped[h]
            if name is not None and name not in cells:
                cells[name], headers[name] = _clean_cell(value), h
        item = Item(row, cells, headers)
        if row.error:
            item.problems.append(Problem(row.number, "", _shorten(row.original), row.error))
        for h in unknown:
            item.problems.append(Problem(row.number, h, "", f"未识别的字段“{h}”，已忽略", "warning"))
        return item

    def fail(self, item: Item, errors: dict[str, str], used: dict[str, str] | None = None) -> None:
        """Problems keyed by field (or error key), put on the columns they came from."""
        for key, message in errors.items():
            name = (used or {}).get(key) or self.kind.error_columns.get(key, key)
            for label in (self._label(key), self._label(name)):  # the column says which field
                if label and message.startswith(f"{label}："):
                    message = message[len(label) + 1 :]
            problem = Problem(item.row.number, self.header(item, name), _shorten(item.cells.get(name, "")), message)
            if not any((p.column, p.message) == (problem.column, problem.message) for p in item.problems):
                item.problems.append(problem)

    def _label(self, name: str) -> str | None:
        return next((c.label for c in self.kind.columns if c.name == name), None)

    def header(self, item: Item, name: str) -> str:
        return item.headers.get(name) or self._label(name) or name

    def remember(self, item: Item) -> int | None:
        """The row that used this row's key before it in the file, if any."""
        if item.key is None:
            return None
        first = self.seen.setdefault(hash(item.key), item.row.number)
        return first if first != item.row.number else None

    def skip(self, row: Row) -> None:
        """A row an earlier run of the job already handled: only remember its key."""
        if not row.error:
            item = self.item(row)
            item.key = self.key_of(item)
            self.remember(item)

    # ---- per kind -----------------------------------------------------------------------------
    def key_of(self, item: Item) -> str | None:
        raise NotImplementedError

    def prepare(self, rows: list[Row]) -> list[Item]:
        raise NotImplementedError

    def store(self, item: Item) -> str:
        raise NotImplementedError

    def doc(self, item: Item):
        return None


def _clean_cell(value):
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _shorten(value, limit: int = 200) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = "、".join(str(v) for v in value)
    s = str(value)
    return s if len(s) <= limit else s[:limit] + "…"


def _text(value) -> str:
    return "" if value is None else str(value).strip()


# ---- 成果 and 需求 ---------------------------------------------------------------------------

_ORG_COLUMNS = (
    Column(
        "ext_id",
        "外部编号",
        ("编号", "外部id", "external_id", "id"),
        help="本单位系统中的编号；不填则按“单位+名称”识别同一条记录。再次导入时据此更新而不重复",
    ),
    Column(
        "org",
        "单位",
        ("单位名称", "所属单位", "完成单位", "企业名称", "organisation", "organization"),
        required=True,
        help="须为平台已有单位；新单位请同时填写单位性质和行政区划代码",
    ),
    Column("org_kind", "单位性质", ("单位类型",), help="仅新单位需要"),
    Column("region", "行政区划代码", ("区划代码", "所在地区代码"), help="仅新单位需要，如 410105"),
    Column("credit_code", "统一社会信用代码", ("信用代码",), help="仅新单位需要，选填"),
)
_STATUS = Column("status", "状态", ("发布状态",), help="发布（默认）或 草稿")
_PUBLISH = {"发布": True, "已发布": True, "published": True, "publish": True, "草稿": False, "draft": False}
_RANGE = re.compile(r"\s*(.+?)\s*(?:-|~|～|—|–|至|到)\s*(.+?)\s*")
_AT_LEAST = re.compile(r"\s*(?:≥|>=|不低于|不少于)?\s*(.+?)\s*(?:以上|起)?\s*")
_AT_MOST = re.compile(r"\s*(?:≤|<=|不超过|不高于)\s*(.+?)\s*|\s*(.+?)\s*(?:以下|以内)\s*")


def parse_range(text) -> tuple[Any, Any]:
    """A combined 价格/预算 cell → (low, high): "50万-200万", "50-200万", "面议", "≤200万", "100万"."""
    if text is None:
        return None, None
    if not isinstance(text, str):
        return text, text
    s = text.strip()
    if s in ("", "面议", "议价", "协商"):
        return None, None
    if m := _AT_MOST.fullmatch(s):
        return None, m.group(1) or m.group(2)
    if m := _RANGE.fullmatch(s):
        low, high = m.groups()
        unit = re.search(r"(万|亿)元?$", high)
        if unit and not re.search(r"(万|亿|元)$", low):
            low += unit.group(1)
        return low, high
    if s.endswith(("以上", "起")) or s.startswith(("≥", ">=", "不低于", "不少于")):
        return _AT_LEAST.fullmatch(s).group(1), None
    return s, s


class ListingImport(ImportKind):
    indexed = True
    error_columns = {"org_id": "org", "org_name": "org"}

    def __init__(
        self,
        name: str,
        kind: listings.ListingKind,
        range_column: Column,
        range_fields: tuple[str, str],
        extra_aliases: dict,
        example: dict,
    ):
        self.name, self.listing_kind, self.label = name, kind, kind.label
        self.range_column, self.range_fields = range_column, range_fields
        fields = columns_of(kind.fields, extra_aliases, left_out=range_fields)
        at = next(i for i, c in enumerate(fields) if c.name == range_fields[0])
        self.columns = _ORG_COLUMNS + fields[:at] + (range_column,) + fields[at:] + (_STATUS,)
        self.example = example

    def may_import(self, actor: User) -> bool:
        return listings.can_post(actor, self.listing_kind)

    def required_columns(self, actor: User | None) -> list[Column]:
        own_org = actor is not None and actor.has_role(self.listing_kind.author_role) and actor.org_id
        return [c for c in self.columns if c.required and not (c.name == "org" and own_org)]

    def loader(self, actor_id: int, station_id: int | None = None) -> "ListingLoader":
        return ListingLoader(self, actor_id, station_id)


class ListingLoader(Loader):
    kind: ListingImport

    def __init__(self, kind: ListingImport, actor_id: int, station_id: int | None = None):
        super().__init__(kind, actor_id, station_id)
        self.orgs = records.OrgResolver()
        self.field_names = {f.name for f in kind.listing_kind.fields}

    def key_of(self, item: Item) -> str | None:
        explicit = _text(item.cells.get("ext_id"))
        if explicit:
            return explicit
        org = _text(item.cells.get("org"))
        if not org and "org" not in item.cells:
            actor = self.actor
            org = actor.org.name if actor.org is not None else ""
        title = _text(item.cells.get("title"))
        return records.derived_ext_id(org, title) if org and title else None

    def _raw(self, item: Item, errors: dict, used: dict) -> tuple[dict, bool]:
        """The service's input from the row's cells, and whether to publish."""
        cells = item.cells
        raw = {k: v for k, v in cells.items() if k in self.field_names}
        if "expires_at" in raw and raw["expires_at"] is None:
            del raw["expires_at"]  # blank: the default lifetime, or unchanged
        col, (low, high) = self.kind.range_column.name, self.kind.range_fields
        if col in cells:
            if cells[col] is not None and (cells.get(low) is not None or cells.get(high) is not None):
                errors[col] = f"“{self.kind.range_column.label}”与上下限两列只能填一种"
            elif cells.get(low) is None and cells.get(high) is None:
                raw[low], raw[high] = parse_range(cells[col])
                used[low] = used[high] = col
        status = _text(cells.get("status"))
        publish = _PUBLISH.get(status.lower()) if status else True
        if publish is None:
            errors["status"] = f"状态“{status}”不对：请填写“发布”或“草稿”"
        return raw, bool(publish)

    def _org(self, item: Item, errors: dict) -> records.OrgRef | None:
        name = _text(item.cells.get("org"))
        actor = self.actor
        try:
            if name:
                return self.orgs.resolve(
                    name,
                    _text(item.cells.get("org_kind")),
                    _text(item.cells.get("region")),
                    _text(item.cells.get("credit_code")),
                )
            if actor.has_role(self.kind.listing_kind.author_role) and actor.org is not None:
                return self.orgs.of_user(actor)
            errors["org"] = "请填写“单位”"
        except ValidationError as e:
            errors.update(e.errors)
        return None

    def prepare(self, rows: list[Row]) -> list[Item]:
        kind = self.kind.listing_kind
        items, pending = [], []
        for row in rows:
            item = self.item(row)
            items.append(item)
            if row.error:
                continue
            errors, used = {}, {}
            raw, publish = self._raw(item, errors, used)
            item.title = _text(raw.get("title"))
            item.key = self.key_of(item)
            if item.key is not None:
                if msg := records.check_ext_id(item.key):
                    errors["ext_id"] = msg
                elif first := self.remember(item):
                    errors["ext_id"] = (
                        f"外部编号“{item.key}”与第 {first} 行重复"
                        if item.cells.get("ext_id")
                        else f"与第 {first} 行的单位和{self.kind.column('title').label}相同；"
                        f"同一单位的同名{self.kind.label}请用“外部编号”区分"
                    )
            org = self._org(item, errors)
            if errors or org is None:
                try:  # report the fields' problems too
                    listings.validate(kind, raw)
                except ValidationError as e:
                    errors.update({k: v for k, v in e.errors.items() if k not in errors})
                self.fail(item, errors, used)
                continue
            pending.append((item, raw, org, publish, used))
        existing = records.listings_by_ext_id(kind, [i.key for i, *_ in pending])
        actor = self.actor
        for item, raw, org, publish, used in pending:
            try:
                item.plan = records.plan_listing(kind, raw, actor, org, item.key, publish, existing.get(item.key))
            except ValidationError as e:
                self.fail(item, e.errors, used)
        return items

    def store(self, item: Item) -> str:
        records.apply_listing(self.kind.listing_kind, item.plan, self.actor, self.orgs, self.station_id)
        return item.plan.action

    def doc(self, item: Item):
        """What the matching engine will embed for this row (an unsaved listing, id < 0)."""
        doc = match_engine.doc_from(self.kind.listing_kind.model(**item.plan.values), parents={})
        doc.id = -item.row.number
        return doc


# ---- organisations ---------------------------------------------------------------------------


class OrgImport(ImportKind):
    name, label = "orgs", "单位"
    columns = (
        Column("name", "单位名称", ("单位", "名称", "单位全称", "org", "organisation", "organization"), True),
        Column(
            "kind",
            "单位性质",
            ("性质", "单位类型", "类型", "org_kind"),
            True,
            help="高校、科研院所、新型研发机构、国有企业、民营企业、外资企业、政府机构、服务机构、个人",
        ),
        Column("credit_code", "统一社会信用代码", ("信用代码",), help="18 位，选填"),
        Column("region", "行政区划代码", ("区划代码", "所在地区代码"), True, help="6 位，如 410105（金水区）"),
    )
    error_columns = {"org_name": "name", "org_kind": "kind"}
    example = {"name": "郑州大学", "kind": "高校", "credit_code": "12410102E4B35B2F4A", "region": "410102"}

    def loader(self, actor_id: int, station_id: int | None = None) -> "OrgLoader":
        return OrgLoader(self, actor_id, station_id)


class OrgLoader(Loader):
    def __init__(self, kind: OrgImport, actor_id: int, station_id: int | None = None):
        super().__init__(kind, actor_id, station_id)
        self.codes: dict[str, int] = {}

    def key_of(self, item: Item) -> str | None:
        return _text(item.cells.get("name")) or None

    def prepare(self, rows: list[Row]) -> list[Item]:
        items = [self.item(row) for row in rows]
        pending = []
        for item in items:
            if item.row.error:
                continue
            item.key = self.key_of(item)
            item.title = item.key or ""
            errors = {}
            if first := self.remember(item):
                errors["name"] = f"与第 {first} 行的单位名称相同"
            code = _text(item.cells.get("credit_code")).upper()
            if code and (first := self.codes.setdefault(code, item.row.number)) != item.row.number:
                errors["credit_code"] = f"统一社会信用代码与第 {first} 行相同"
            if errors:
                self.fail(item, errors)
            else:
                pending.append(item)
        existing = records.orgs_by_name([i.key for i in pending])
        for item in pending:
            data = {k: _text(v) for k, v in item.cells.items()}
            try:
                item.plan = records.plan_org(data, existing.get(item.key))
            except ValidationError as e:
                self.fail(item, e.errors)
        return items

    def store(self, item: Item) -> str:
        records.apply_org(item.plan)
        return item.plan.action


# ---- technology contracts ------------------------------------------------------------------


def _party_columns(side: str, label: str, required: bool) -> tuple[Column, ...]:
    return (
        Column(
            f"{side}_name",
            label,
            (f"{label}名称", f"{label}单位", f"{label}全称"),
            required,
            help="平台已有单位只填名称；其他单位同时填写性质、行政区划代码等",
        ),
        Column(f"{side}_kind", f"{label}性质", (f"{label}单位性质",)),
        Column(f"{side}_credit_code", f"{label}统一社会信用代码", (f"{label}信用代码",)),
        Column(f"{side}_region", f"{label}行政区划代码", (f"{label}区划代码",), help="境内当事人必填"),
        Column(f"{side}_country", f"{label}国家或地区", (f"{label}国别",), help="默认中国"),
    )


class ContractImport(ImportKind):
    """Technology contracts as registration applications (技术合同认定登记), by contracts.submit."""

    name, label = "contracts", "技术合同"
    error_columns = {"seller_org_id": "seller_name", "buyer_org_id": "buyer_name"}

    def __init__(self):
        from market.services import contracts

        fields = columns_of(contracts.FIELDS)
        self.columns = (
            Column(
                "ext_id",
                "外部编号",
                ("编号", "外部id", "external_id", "id"),
                help="不填则按卖方、买方、项目名称和签订日期识别同一份合同",
            ),
            Column("ctype", "合同类型", ("类型",), True, help="技术开发、技术转让、技术许可、技术咨询、技术服务"),
            Column("subtype", "合同子类", ("子类",), help="如 委托开发、合作开发、专利权转让"),
            *fields[:1],
            *_party_columns("seller", "卖方", False),
            *_party_columns("buyer", "买方", True),
            *fields[1:],
        )
        self.example = {
            "ext_id": "HT-2026-001",
            "ctype": "技术开发",
            "subtype": "合作开发",
            "title": "盾构滚刀梯度硬质合金刀圈合作开发",
            "seller_name": "郑州大学",
            "seller_kind": "高校",
            "seller_region": "410102",
            "buyer_name": "郑州中原盾构装备有限公司",
            "buyer_kind": "国有企业",
            "buyer_region": "410171",
            "amount": "200万",
            "tech_amount": "180万",
            "signed_on": "2026-03-01",
            "valid_from": "2026-03-01",
            "valid_until": "2027-02-28",
            "field": "先进制造",
            "ip_type": "发明专利",
        }

    def may_import(self, actor: User) -> bool:
        from market.services import contracts

        return contracts.can_apply(actor)

    def loader(self, actor_id: int, station_id: int | None = None) -> "ContractLoader":
        return ContractLoader(self, actor_id, station_id)


class ContractLoader(Loader):
    def key_of(self, item: Item) -> str | None:
        explicit = _text(item.cells.get("ext_id"))
        if explicit:
            return explicit
        seller = _text(item.cells.get("seller_name"))
        actor = self.actor
        if actor.has_role("researcher", "enterprise") and actor.org is not None:
            seller = actor.org.name
        parts = (
            seller,
            _text(item.cells.get("buyer_name")),
            _text(item.cells.get("title")),
            _text(item.cells.get("signed_on")),
        )
        return records.derived_contract_id(*parts) if all(parts) else None

    def prepare(self, rows: list[Row]) -> list[Item]:
        items, pending = [self.item(row) for row in rows], []
        for item in items:
            if item.row.error:
                continue
            item.key, item.title = self.key_of(item), _text(item.cells.get("title"))
            raw = {k: v for k, v in item.cells.items() if k != "ext_id"}
            if self.station_id:
                raw["station_id"] = str(self.station_id)
            errors = {}
            if item.key is not None and len(item.key) > records.CONTRACT_EXT_ID_MAX:
                errors["ext_id"] = f"外部编号最多 {records.CONTRACT_EXT_ID_MAX} 个字符"
            elif first := self.remember(item):
                errors["ext_id"] = (
                    f"外部编号“{item.key}”与第 {first} 行重复"
                    if item.cells.get("ext_id")
                    else f"与第 {first} 行的卖方、买方、项目名称和签订日期相同"
                )
            if errors:
                self.fail(item, errors)
            else:
                pending.append((item, raw))
        existing = records.contracts_by_ext_id([i.key for i, _ in pending])
        actor = self.actor
        for item, raw in pending:
            try:
                item.plan = records.plan_contract(raw, actor, item.key, existing.get(item.key))
            except ValidationError as e:
                self.fail(item, e.errors)
        return items

    def store(self, item: Item) -> str:
        records.apply_contract(item.plan, self.actor)
        return item.plan.action


# ---- the kinds -------------------------------------------------------------------------------

_CONTACT_EXAMPLE = {"contact_name": "张工", "contact_phone": "0371-67781234", "contact_email": "zhang@example.cn"}

ACHIEVEMENTS = ListingImport(
    "achievements",
    listings.ACHIEVEMENT,
    Column(
        "price",
        "价格",
        ("价格（元）", "转让价格", "价格区间", "参考价格"),
        help="如 50万-200万、100万、面议；也可分填价格下限、价格上限",
    ),
    ("price_min", "price_max"),
    {"transfer_modes": ("合作方式",)},
    {
        "ext_id": "ZZU-2026-001",
        "org": "郑州大学",
        "org_kind": "高校",
        "region": "410102",
        "title": "梯度硬质合金盾构滚刀刀圈",
        "summary": "针对硬岩掘进中滚刀刀圈磨损快、崩刃多的问题，研制成分梯度硬质合金刀圈，表层硬度HRC62，芯部韧性提高40%。",
        "detail": "刀圈采用WC-Co梯度烧结，渗碳温度1380℃，保温45 min。",
        "keywords": "盾构、滚刀、硬质合金",
        "field": "先进制造",
        "chain": "盾构及工程装备",
        "maturity": "中试",
        "trl": "6",
        "ip": "发明专利:ZL202110356789.4",
        "transfer_modes": "转让、许可",
        "price": "50万-200万",
        **_CONTACT_EXAMPLE,
        "status": "发布",
    },
)
NEEDS = ListingImport(
    "needs",
    listings.NEED,
    Column(
        "budget",
        "预算",
        ("预算（元）", "预算区间", "价格", "经费预算"),
        help="如 100万-300万、面议；也可分填预算下限、预算上限",
    ),
    ("budget_min", "budget_max"),
    {"coop_modes": ("转化方式", "合作模式")},
    {
        "ext_id": "QY-2026-001",
        "org": "郑州中原盾构装备有限公司",
        "org_kind": "国有企业",
        "region": "410171",
        "title": "硬岩段盾构滚刀换刀频繁",
        "statement": "在花岗岩地层掘进时，滚刀平均每掘进30米需更换一次，停机换刀占总工期20%，急需耐磨抗冲击刀具。",
        "detail": "目前使用进口刀圈，单价1.2万元，年用量3000把。",
        "indicators": "单刀掘进里程≥150 m；崩刃率≤2%",
        "keywords": "盾构、滚刀、耐磨",
        "field": "先进制造",
        "chain": "盾构及工程装备",
        "bottleneck": "是",
        "budget": "100万-300万",
        "coop_modes": "合作开发",
        "wanted_maturity": "中试",
        "contact_name": "赵经理",
        "contact_phone": "13803711234",
        "status": "发布",
    },
)
ORGS = OrgImport()
CONTRACTS = ContractImport()
KINDS: dict[str, ImportKind] = {k.name: k for k in (ACHIEVEMENTS, NEEDS, ORGS, CONTRACTS)}
ALIASES = {
    "achievement": "achievements",
    "成果": "achievements",
    "need": "needs",
    "需求": "needs",
    "organisations": "orgs",
    "organizations": "orgs",
    "org": "orgs",
    "单位": "orgs",
    "contract": "contracts",
    "合同": "contracts",
    "技术合同": "contracts",
}


def get(name: str) -> ImportKind:
    name = ALIASES.get(name, name)
    if name not in KINDS:
        raise KeyError(f"未知的导入类型“{name}”（可选：{'、'.join(KINDS)}）")
    return KINDS[name]

"""Bulk import of records: each row creates a record, updates the record with its external id, or
changes nothing. The rules are the web forms' (listings.validate, accounts.validate_org); the rest of
ingest/ reads the files and calls these.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from market.extensions import db
from market.models import Contract, ListingStatus, Organisation, User
from market.services import accounts, contracts, listings
from market.services.listings import ListingKind
from market.validation.fields import ValidationError, check_future

EXT_ID_MAX = 80
_DATE_FIELDS = ("expires_at", "deadline", "challenge_deadline")


def derived_ext_id(org_name: str, title: str) -> str:
    """The external id of a row that has none: its organisation and title."""
    return "auto:" + hashlib.sha1(f"{org_name}\n{title}".encode()).hexdigest()[:16]


def check_ext_id(ext_id: str) -> str | None:
    if len(ext_id) > EXT_ID_MAX:
        return f"外部编号最多 {EXT_ID_MAX} 个字符"
    if any(not c.isprintable() for c in ext_id):
        return "外部编号含有不可见字符"
    return None


# ---- organisations named by rows ------------------------------------------------------------


@dataclass
class OrgRef:
    """An organisation a row names: one that exists (``id``), or one the import will create."""

    name: str
    kind: str
    region: str
    credit_code: str | None = None
    id: int | None = None


class OrgResolver:
    """Finds the organisations rows name, once per name, and plans those to create.

    A row may name a new organisation when it also gives its 单位性质 and 行政区划代码 (checked as
    the registration form checks them); later rows may then name it alone.
    """

    def __init__(self):
        self._known: dict[str, OrgRef] = {}

    def resolve(self, name: str, kind: str = "", region: str = "", credit_code: str = "") -> OrgRef:
        ref = self._known.get(name)
        if ref is None:
            org = db.session.scalar(select(Organisation).where(Organisation.name == name))
            if org is not None:
                ref = OrgRef(org.name, org.kind, org.region, org.credit_code, org.id)
            elif kind or region or credit_code:
                ref = OrgRef(
                    **accounts.validate_org({"name": name, "kind": kind, "region": region, "credit_code": credit_code})
                )
            else:
                raise ValidationError({"org_name": f"单位“{name}”不存在；新单位请同时填写“单位性质”和“行政区划代码”"})
            self._known[name] = ref
        if kind and kind != ref.kind:
            raise ValidationError({"org_kind": f"单位“{name}”的性质是“{ref.kind}”，与填写的“{kind}”不符"})
        return ref

    def of_user(self, user: User) -> OrgRef | None:
        return self.resolve(user.org.name) if user.member_org_id is not None else None

    def materialise(self, ref: OrgRef) -> int:
        """The organisation's id, creating it first when the import introduced it."""
        if ref.id is None:
            org = db.session.scalar(select(Organisation).where(Organisation.name == ref.name))
            if org is None:
                org = accounts.create_org(
                    {"name": ref.name, "kind": ref.kind, "region": ref.region, "credit_code": ref.credit_code}
                )
            ref.id = org.id
        return ref.id


# ---- listings -------------------------------------------------------------------------------


@dataclass
class ListingPlan:
    action: str  # "create" | "update" | "unchanged"
    raw: dict  # service input: every given field to create, the changed ones to update
    values: dict  # the listing's validated values after the change
    org: OrgRef
    ext_id: str
    publish: bool
    listing_id: int | None = None
    changes: list[str] = field(default_factory=list)


def listings_by_ext_id(kind: ListingKind, ext_ids) -> dict:
    ext_ids = [e for e in set(ext_ids) if e]
    if not ext_ids:
        return {}
    m = kind.model
    return {x.ext_id: x for x in db.session.scalars(select(m).where(m.ext_id.in_(ext_ids)))}


def check_org(kind: ListingKind, actor: User, org: OrgRef) -> None:
    """Who may post for whom, as listings.resolve_org decides it for the web form."""
    if actor.has_role(kind.author_role) and actor.member_org_id != org.id:
        own = actor.org.name if actor.org else "未关联单位"
        raise ValidationError({"org_id": f"只能导入本单位（{own}）的{kind.label}"})
    if org.kind not in kind.org_kinds:
        raise ValidationError(
            {"org_id": f"{org.name}（{org.kind}）不能发布{kind.label}；{kind.label}应由{'、'.join(kind.org_kinds)}发布"}
        )


def plan_listing(
    kind: ListingKind,
    raw: dict,
    actor: User,
    org: OrgRef,
    ext_id: str,
    publish: bool,
    existing=None,
    today: date | None = None,
) -> ListingPlan:
    """What importing ``raw`` would do, without doing it; ValidationError with every problem."""
    check_org(kind, actor, org)
    if existing is None:
        return ListingPlan("create", raw, listings.validate(kind, raw, today=today), org, ext_id, publish)
    if not listings.can_edit(actor, existing):
        raise ValidationError({"ext_id": f"外部编号“{ext_id}”对应的{kind.label}由其他用户发布，无权修改"})
    merged = {f.name: getattr(existing, f.name) for f in kind.fields}
    merged.update(raw)
    values = listings.validate(kind, merged, check_dates=False, today=today)
    changed = {k: raw[k] for k in raw if values[k] != getattr(existing, k)}
    errors: dict[str, str] = {}
    for f in kind.fields:
        if f.name in changed and f.name in _DATE_FIELDS:
            check_future(values, f.name, f.label, errors, today or date.today())
    if errors:
        raise ValidationError(errors)
    changes = list(changed)
    if org.id != existing.org_id:
        changes.append("org")
    if publish and existing.status == ListingStatus.draft.value:
        changes.append("status")
    return ListingPlan(
        "update" if changes else "unchanged", changed, values, org, ext_id, publish, existing.id, changes
    )


def apply_listing(kind: ListingKind, plan: ListingPlan, actor: User, orgs: OrgResolver, station_id: int | None = None):
    """Carry out a plan (flushes); the listing, or None when nothing changed."""
    if plan.action == "unchanged":
        return None
    org_id = orgs.materialise(plan.org)
    if plan.action == "create":
        return listings.create(
            kind, plan.raw, actor, org_id=org_id, publish=plan.publish, ext_id=plan.ext_id, station_id=station_id
        )
    listing = db.session.get(kind.model, plan.listing_id)
    if listing.org_id != org_id:
        listing.org = db.session.get(Organisation, org_id)
    listings.update(listing, plan.raw, actor)
    if plan.publish and listing.status == ListingStatus.draft.value:
        listings.publish_listing(listing, actor)
    return listing


# ---- organisations as records ---------------------------------------------------------------


@dataclass
class OrgPlan:
    action: str
    values: dict
    org_id: int | None = None
    changes: list[str] = field(default_factory=list)


def orgs_by_name(names) -> dict[str, Organisation]:
    names = [n for n in set(names) if n]
    if not names:
        return {}
    return {o.name: o for o in db.session.scalars(select(Organisation).where(Organisation.name.in_(names)))}


def plan_org(data: dict, existing: Organisation | None = None) -> OrgPlan:
    """An organisation row: create it, or update the one of the same name; columns left out keep
    their value."""
    if existing is not None:
        data = {
            "name": existing.name,
            "kind": existing.kind,
            "region": existing.region,
            "credit_code": existing.credit_code or "",
            **data,
        }
    values = accounts.validate_org(data, existing=existing)
    if existing is None:
        return OrgPlan("create", values)
    changes = [k for k, v in values.items() if getattr(existing, k) != v]
    return OrgPlan("update" if changes else "unchanged", values, existing.id, changes)


def apply_org(plan: OrgPlan) -> Organisation | None:
    if plan.action == "unchanged":
        return None
    if plan.action == "create":
        return accounts.create_org(plan.values)
    org = db.session.get(Organisation, plan.org_id)
    for k in plan.changes:
        setattr(org, k, plan.values[k])
    db.session.flush()
    return org


# ---- technology contracts (登记申请) ----------------------------------------------------------

CONTRACT_EXT_ID_MAX = 40


@dataclass
class ContractPlan:
    action: str  # "create" | "unchanged"
    raw: dict
    ext_id: str
    contract_id: int | None = None


def derived_contract_id(seller: str, buyer: str, title: str, signed_on) -> str:
    """A contract is the same one when its parties, title and signing date are (as contracts.py holds)."""
    key = "\n".join(str(x) for x in (seller, buyer, title, signed_on))
    return "auto:" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def contracts_by_ext_id(ext_ids) -> dict:
    ext_ids = [e for e in set(ext_ids) if e]
    if not ext_ids:
        return {}
    return {c.ext_id: c for c in db.session.scalars(select(Contract).where(Contract.ext_id.in_(ext_ids)))}


def plan_contract(raw: dict, actor: User, ext_id: str, existing=None) -> ContractPlan:
    """A contract row becomes a registration application; one already applied for stays as it
    is: a registration is changed through a change application (变更), never silently."""
    if existing is None:
        contracts.validate(raw, actor)
        return ContractPlan("create", raw, ext_id)
    values = contracts.validate(raw, actor, amends=existing)
    if any(getattr(existing, k) != v for k, v in values.items()):
        raise ValidationError(
            {
                "ext_id": f"外部编号“{ext_id}”的合同已提交登记（{existing.status_label}），"
                f"不能通过导入修改；已登记的合同请在合同页面申请变更"
            }
        )
    return ContractPlan("unchanged", raw, ext_id, existing.id)


def apply_contract(plan: ContractPlan, actor: User):
    if plan.action == "create":
        return contracts.submit(plan.raw, actor, ext_id=plan.ext_id)
    return None

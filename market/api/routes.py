"""JSON API (v1). Reads are public (private fields need rights); writes need a Bearer token."""

import hashlib
from datetime import date, datetime
from decimal import Decimal

from flask import abort, current_app, g, jsonify, request
from flask_login import current_user
from sqlalchemy import select

from ..errors import json_error
from ..extensions import csrf, db
from ..infra import match_engine
from ..models import User
from ..services import listings
from ..validation import reference
from ..validation.fields import ValidationError
from ..web import bounded_arg, semantic_search_limit
from . import bp

csrf.exempt(bp)


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def serialize(listing, private: bool) -> dict:
    kind = listings.kind_of(listing)
    out = {
        "id": listing.id,
        "kind": kind.name,
        "status": listing.status,
        "org": listing.org.name,
        "org_region": listing.org.region,
        "published_at": _jsonable(listing.published_at),
        "expires_at": _jsonable(listing.expires_at),
    }
    for f in kind.fields:
        if f.private and not private:
            continue
        out[f.name] = _jsonable(getattr(listing, f.name))
    return out


@bp.before_request
def authenticate():
    g.api_user = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        digest = hashlib.sha256(header[7:].strip().encode()).hexdigest()
        user = db.session.scalar(select(User).where(User.api_token_hash == digest))
        if user is None or not user.active:
            return json_error(401, "invalid_token", "API 令牌无效或已停用")
        g.api_user = user
    elif current_user.is_authenticated and request.method == "GET":
        g.api_user = current_user._get_current_object()
    if request.method != "GET" and g.api_user is None:
        return json_error(401, "token_required", "写操作需要在 Authorization 头中提供 Bearer 令牌")
    return None


@bp.errorhandler(ValidationError)
def validation_failed(e):
    db.session.rollback()
    return json_error(422, "validation_failed", "提交的数据有误", e.errors)


def _kind(kind_name: str) -> listings.ListingKind:
    kinds = {"achievements": listings.ACHIEVEMENT, "needs": listings.NEED}
    if kind_name not in kinds:
        abort(404)
    return kinds[kind_name]


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(json_error(400, "invalid_json", "请求体应为 JSON 对象"))
    return data


@bp.get("/taxonomies")
def taxonomies():
    v = reference.vocab()
    return jsonify({"names": v.names, "chain_children": v.chain_children})


@bp.get("/<kind_name>")
def list_(kind_name):
    kind = _kind(kind_name)
    f = listings.Filters.from_args(request.args)
    page = listings.browse(kind, f, bounded_arg("page", 1, 1, 10000), bounded_arg("per_page", 20, 1, 100))
    user = g.api_user
    return jsonify(
        {
            "items": [serialize(x, listings.can_see_private(user, x)) for x in page.items],
            "page": page.page,
            "pages": page.pages,
            "total": page.total,
        }
    )


def _get(kind, listing_id):
    listing = db.session.get(kind.model, listing_id)
    if listing is None or not listings.can_view(g.api_user, listing):
        abort(json_error(404, "not_found", f"{kind.label}不存在"))
    return listing


@bp.get("/<kind_name>/<int:listing_id>")
def get(kind_name, listing_id):
    kind = _kind(kind_name)
    listing = _get(kind, listing_id)
    return jsonify(serialize(listing, listings.can_see_private(g.api_user, listing)))


@bp.post("/<kind_name>")
def create(kind_name):
    kind = _kind(kind_name)
    if not listings.can_post(g.api_user, kind):
        return json_error(403, "forbidden", f"您的角色不能发布{kind.label}")
    data = _body()
    if not isinstance(data.get("publish", False), bool):
        raise ValidationError({"publish": "类型不对，应为 true 或 false"})
    if (
        data.get("org_id") is not None
        and not isinstance(data["org_id"], (int, str))
        or isinstance(data.get("org_id"), bool)
    ):
        raise ValidationError({"org_id": "类型不对，应为单位编号"})
    listing = listings.create(kind, data, g.api_user, org_id=data.get("org_id"), publish=data.get("publish", False))
    db.session.commit()
    return jsonify(serialize(listing, True)), 201


@bp.patch("/<kind_name>/<int:listing_id>")
def update(kind_name, listing_id):
    kind = _kind(kind_name)
    listing = _get(kind, listing_id)
    if not listings.can_edit(g.api_user, listing):
        return json_error(403, "forbidden", "只有发布者或管理员可以修改")
    listings.update(listing, _body(), g.api_user)
    db.session.commit()
    return jsonify(serialize(listing, True))


@bp.post("/<kind_name>/<int:listing_id>/<action>")
def act(kind_name, listing_id, action):
    kind = _kind(kind_name)
    listing = _get(kind, listing_id)
    if not listings.can_edit(g.api_user, listing):
        return json_error(403, "forbidden", "只有发布者或管理员可以操作")
    if action == "publish":
        listings.publish_listing(listing, g.api_user)
    elif action == "archive":
        body = request.get_json(silent=True)
        body = body if isinstance(body, dict) else {}
        listings.archive_listing(listing, g.api_user, body.get("close_reason"), str(body.get("close_note") or ""))
    else:
        abort(404)
    db.session.commit()
    return jsonify(serialize(listing, True))


@bp.get("/<kind_name>/<int:listing_id>/matches")
def matches(kind_name, listing_id):
    """The other library's best listings for one listing, with the engine's explanation."""
    kind = _kind(kind_name)
    listing = _get(kind, listing_id)
    if not match_engine.enabled():
        return json_error(503, "matching_disabled", "智能匹配未启用")
    k = bounded_arg("k", 10, 1, 50)
    min_score = request.args.get("min_score", type=float)
    found = match_engine.best_matches(listing, k=k, min_score=min_score if min_score is not None else 0.0)
    if why := match_engine.unavailable():
        return json_error(503, "matching_unavailable", f"智能匹配暂不可用：{why}")
    return jsonify(
        {"items": [{**s.match.as_dict(), "title": s.listing.title, "org": s.listing.org.name} for s in found]}
    )


@bp.get("/search")
@semantic_search_limit()
def semantic_search():
    """Semantic search of one library: ?kind=achievements|needs&q=…, the browse filters apply."""
    kind = _kind(request.args.get("kind", "achievements"))
    q = (request.args.get("q") or "").strip()
    if not q:
        return json_error(400, "query_required", "请提供检索词 q")
    if len(q) > current_app.config["SEARCH_MAX_CHARS"]:
        return json_error(400, "query_too_long", f"检索词最多 {current_app.config['SEARCH_MAX_CHARS']} 个字")
    if not match_engine.enabled():
        return json_error(503, "matching_disabled", "智能匹配未启用")
    f = listings.Filters.from_args(request.args)
    hits = match_engine.semantic_search(
        kind.name, q, match_engine.filter_spec(kind.name, f), k=bounded_arg("k", 20, 1, 100)
    )
    if why := match_engine.unavailable():
        return json_error(503, "matching_unavailable", f"智能匹配暂不可用：{why}")
    return jsonify(
        {"items": [{**h.match.as_dict(), "title": h.listing.title, "org": h.listing.org.name} for h in hits]}
    )

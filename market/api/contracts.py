"""JSON API (v1): technology contracts (with rights) and the public contract statistics."""

from decimal import Decimal

from flask import abort, g, jsonify, request

from ..errors import json_error
from ..extensions import db
from ..models import Contract
from ..services import contracts, stats
from ..services.matches import ConcurrentChange
from ..web import bounded_arg
from . import bp
from .routes import _body, _jsonable

# a contract's fields that may be empty, given as text (dates, amounts, choices); the OpenAPI schema
# describes the same list
OPTIONAL_FIELDS = (
    "signed_on",
    "valid_from",
    "valid_until",
    "field",
    "ip_type",
    "goal",
    "planned_investment",
    "planned_output",
    "submitted_at",
    "due_on",
    "decided_at",
    "registered_on",
    "stat_date",
    "cancel_requested_at",
    "cancelled_at",
    "approved_tech_amount",
    "approved_note",
)


def _party(c: Contract, side: str) -> dict:
    return {k: getattr(c, f"{side}_{k}") for k in ("org_id", "name", "kind", "credit_code", "region", "country")} | {
        "nature": contracts.nature(getattr(c, f"{side}_kind"))
    }


def serialize_contract(c: Contract) -> dict:
    out = {
        "id": c.id,
        "number": c.number,
        "status": c.status,
        "status_label": c.status_label,
        "title": c.title,
        "ctype": c.ctype,
        "subtype": c.subtype,
        "seller": _party(c, "seller"),
        "buyer": _party(c, "buyer"),
        "station": c.station.code if c.station else None,
        "broker_id": c.broker_id,
        "match_id": c.match_id,
        "amends": c.amends.number if c.amends else None,
        "has_file": bool(c.file_key),
        "refusal": {
            "code": c.refusal_code,
            "reason": contracts.REFUSAL_REASONS.get(c.refusal_code),
            "note": c.refusal_note,
        }
        if c.refusal_code
        else None,
        "events": [
            {
                "action": e.action,
                "label": contracts.ACTION_LABELS.get(e.action, e.action),
                "from": e.from_status,
                "to": e.to_status,
                "note": e.note,
                "at": _jsonable(e.at),
            }
            for e in c.events
        ],
    }
    for name in ("amount", "tech_amount", *OPTIONAL_FIELDS):
        out[name] = _jsonable(getattr(c, name))
    return out


def _contract(contract_id: int) -> Contract:
    c = db.session.get(Contract, contract_id)
    if c is None or not contracts.can_view(g.api_user, c):
        abort(json_error(404, "not_found", "合同不存在或无权查看"))
    return c


@bp.get("/contracts")
def contracts_list():
    if g.api_user is None:
        return json_error(401, "token_required", "查看合同需要登录或提供 Bearer 令牌")
    page = db.paginate(
        contracts.visible_query(g.api_user, request.args.get("status", ""), (request.args.get("q") or "").strip()[:50]),
        page=bounded_arg("page", 1, 1, 10000),
        per_page=bounded_arg("per_page", 20, 1, 100),
        error_out=False,
    )
    return jsonify(
        {
            "items": [serialize_contract(c) for c in page.items],
            "page": page.page,
            "pages": page.pages,
            "total": page.total,
        }
    )


@bp.get("/contracts/<int:contract_id>")
def contract_get(contract_id):
    if g.api_user is None:
        return json_error(401, "token_required", "查看合同需要登录或提供 Bearer 令牌")
    return jsonify(serialize_contract(_contract(contract_id)))


@bp.post("/contracts")
def contract_create():
    if not contracts.can_apply(g.api_user):
        return json_error(403, "forbidden", "只有卖方单位的用户、技术经纪人或管理员可以申请技术合同登记")
    c = contracts.submit(_body(), g.api_user)
    db.session.commit()
    return jsonify(serialize_contract(c)), 201


def _action_body() -> dict:
    """The optional body of a contract step: an object whose code and note, when given, are text."""
    if not request.get_data():
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(json_error(400, "invalid_json", "请求体应为 JSON 对象"))
    wrong = {
        k: "应为文本"
        for k in ("code", "note", "approved_tech_amount")
        if k in data and data[k] is not None and not isinstance(data[k], str)
    }
    if wrong:
        abort(json_error(422, "validation_failed", "提交的数据有误", wrong))
    return data


@bp.post("/contracts/<int:contract_id>/<action>")
def contract_act(contract_id, action):
    """register {approved_tech_amount, note} | refuse {code, note} | withdraw | cancel {note} | cancel-request {note}"""
    c = _contract(contract_id)
    data = _action_body()
    steps = {
        "register": lambda: contracts.register(
            c, g.api_user, approved=data.get("approved_tech_amount"), approved_note=data.get("note") or ""
        ),
        "refuse": lambda: contracts.refuse(c, g.api_user, data.get("code"), data.get("note") or ""),
        "withdraw": lambda: contracts.withdraw(c, g.api_user, data.get("note") or ""),
        "cancel": lambda: contracts.cancel(c, g.api_user, data.get("note") or ""),
        "cancel-request": lambda: contracts.request_cancel(c, g.api_user, data.get("note") or ""),
    }
    if action not in steps:
        abort(404)
    try:
        steps[action]()
    except PermissionError as e:
        db.session.rollback()
        return json_error(403, "forbidden", str(e))
    except contracts.NotAllowed as e:
        db.session.rollback()
        return json_error(409, "not_allowed", str(e))
    except (contracts.Conflict, ConcurrentChange) as e:
        db.session.rollback()
        return json_error(409, "conflict", str(e))
    db.session.commit()
    return jsonify(serialize_contract(c))


def _period():
    return stats.Period.from_args(request.args)


def _period_json(p: stats.Period) -> dict:
    return {"label": p.label, "start": p.start.isoformat(), "end": p.end.isoformat()}


@bp.get("/stats/summary")
def stats_summary():
    """Public aggregates: totals, by month, the share from platform matches, progress to the target."""
    p = _period()
    progress = stats.progress(p.start.year)
    return jsonify(
        {
            "period": _period_json(p),
            "total": stats.totals(p).as_dict(),
            "by_month": [r.as_dict() for r in stats.series(p, "month")],
            "match_share": stats.match_share(p).as_dict(),
            "progress": {
                "year": progress.year,
                "target": None if progress.target is None else str(progress.target),
                "amount": str(progress.total.amount),
                "ratio": None if progress.ratio is None else str(progress.ratio.quantize(Decimal("0.000001"))),
                "elapsed": str(progress.elapsed.quantize(Decimal("0.0001"))),
                "previous_amount": str(progress.previous.amount),
                "change": None if progress.change is None else str(progress.change.quantize(Decimal("0.000001"))),
            },
        }
    )


@bp.get("/stats/<dimension>")
def stats_dimension(dimension):
    if dimension not in stats.DIMENSIONS and dimension not in ("month", "quarter", "year"):
        return json_error(
            404,
            "unknown_dimension",
            f"没有“{dimension}”这一统计维度（可选：{'、'.join(['month', 'quarter', 'year', *stats.DIMENSIONS])}）",
        )
    if not stats.may_see_table(g.api_user, dimension):
        return json_error(
            403, "forbidden", "此统计仅对登记员和管理员开放（公开统计：" + "、".join(stats.PUBLIC_TABLES) + "）"
        )
    t = stats.table(dimension, _period())
    return jsonify(
        {
            "period": _period_json(_period()),
            "dimension": dimension,
            "title": t.title,
            "items": [r.as_dict() for r in t.rows],
            "total": t.total.as_dict(),
            "additive": t.additive,
        }
    )

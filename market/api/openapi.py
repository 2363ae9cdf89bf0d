"""The OpenAPI 3.1 description of /api/v1, built from the field definitions and vocabularies the
validation itself uses (``listings.*_FIELDS``, ``contracts.FIELDS``, the taxonomies), served at
``/api/v1/openapi.json``."""

from flask import jsonify

from ..models import ContractStatus
from ..services import contracts, listings, stats
from ..validation import reference
from ..validation.fields import Field, Vocab
from . import bp
from .contracts import OPTIONAL_FIELDS

NULL = {"type": "null"}
ID = {"type": "integer", "minimum": 1}
ERROR = {"$ref": "#/components/schemas/Error"}


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, NULL]}


def field_input(f: Field, vocab: Vocab) -> dict:
    """What a JSON body may carry for a field (the validator also accepts text for most types)."""
    text = {"type": "string", **({"maxLength": f.max_len} if f.max_len else {})}
    if f.type in ("text", "longtext", "phone", "email"):
        schema = text
    elif f.type == "int":
        schema = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    elif f.type == "money":
        schema = {"anyOf": [{"type": "string"}, {"type": "number"}]}
    elif f.type == "date":
        schema = {"type": "string", "examples": ["2027-06-30"]}
    elif f.type == "bool":
        schema = {"anyOf": [{"type": "boolean"}, {"type": "string"}, {"type": "integer"}]}
    elif f.type == "choice":
        schema = {"type": "string", "enum": list(vocab.names.get(f.vocab, []))}
    elif f.type in ("choices", "keywords"):
        item = {"type": "string", "enum": list(vocab.names.get(f.vocab, []))} if f.vocab else {"type": "string"}
        schema = {
            "anyOf": [
                {"type": "array", "items": item, **({"maxItems": 10} if f.type == "keywords" else {})},
                {"type": "string"},
            ]
        }
    elif f.type == "ip":
        entry = {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": list(vocab.names.get("ip_type", []))},
                "number": {"type": "string"},
            },
            "required": ["type"],
        }
        schema = {"anyOf": [{"type": "array", "items": entry}, {"type": "string"}]}
    else:
        raise AssertionError(f"unknown field type {f.type}")
    return {**schema, "title": f.label} if f.required else {**_nullable(schema), "title": f.label}


def field_output(f: Field) -> dict:
    if f.type in ("choices", "keywords"):
        return {"type": "array", "items": {"type": "string"}}
    if f.type == "ip":
        return {"type": "array", "items": {"type": "object"}}
    if f.type == "bool":
        return {"type": "boolean"}
    if f.type == "int":
        return _nullable({"type": "integer"})
    return _nullable({"type": "string"})


def _body(fields, vocab: Vocab, required: bool, extra: dict | None = None) -> dict:
    schema = {"type": "object", "properties": {**{f.name: field_input(f, vocab) for f in fields}, **(extra or {})}}
    if required:
        schema["required"] = [f.name for f in fields if f.required]
    return schema


def _listing(kind: listings.ListingKind) -> dict:
    props = {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": [kind.name]},
        "status": {"type": "string"},
        "org": {"type": "string"},
        "org_region": {"type": "string"},
        "published_at": _nullable({"type": "string"}),
        "expires_at": _nullable({"type": "string"}),
        **{f.name: field_output(f) for f in kind.fields},
    }
    return {"type": "object", "properties": props, "required": ["id", "kind", "status", "org"]}


def _page(item_ref: str) -> dict:
    return {
        "type": "object",
        "required": ["items", "page", "pages", "total"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": item_ref}},
            "page": {"type": "integer"},
            "pages": {"type": "integer"},
            "total": {"type": "integer"},
        },
    }


def _json(schema: dict, description: str = "") -> dict:
    return {"description": description or "OK", "content": {"application/json": {"schema": schema}}}


def _responses(ok: int, schema: dict) -> dict:
    """The success answer and the API's error object for everything it refuses (4xx) or cannot do (503)."""
    return {
        str(ok): _json(schema),
        "4XX": _json(ERROR, "请求有误、未授权、无权限、不存在、冲突、校验失败或过于频繁"),
        "503": _json(ERROR, "智能匹配未启用，或匹配服务暂不可用"),
    }


def _param(name: str, where: str = "query", schema: dict | None = None, required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema or {"type": "string"}}


def _op(summary: str, responses: dict, params=(), body: dict | None = None, secured: bool = False) -> dict:
    op = {
        "summary": summary,
        "parameters": list(params),
        "responses": responses,
        "security": [{"bearer": []}] if secured else [{}, {"bearer": []}],
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _browse_params() -> list:
    return [_param(n) for n in ("q", "field", "chain", "maturity", "region")] + [
        _param("bottleneck"),
        _param("page", schema={"type": "integer"}),
        _param("per_page", schema={"type": "integer"}),
    ]


def _listing_paths(paths: dict, schemas: dict) -> None:
    v, browse = reference.vocab(), _browse_params()
    for kind in listings.KINDS.values():
        plural, ref = f"{kind.name}s", f"#/components/schemas/{kind.name.title()}"
        schemas[kind.name.title()] = _listing(kind)
        schemas[f"{kind.name.title()}Page"] = _page(ref)
        create_extra = {"org_id": _nullable({"anyOf": [ID, {"type": "string"}]}), "publish": {"type": "boolean"}}
        listing_id = _param("listing_id", "path", ID)
        paths[f"/{plural}"] = {
            "get": _op(f"{kind.library}：浏览（公开）", _responses(200, {"$ref": f"{ref}Page"}), browse),
            "post": _op(
                f"发布{kind.label}",
                _responses(201, {"$ref": ref}),
                body=_body(kind.fields, v, True, create_extra),
                secured=True,
            ),
        }
        paths[f"/{plural}/{{listing_id}}"] = {
            "get": _op(f"一条{kind.label}", _responses(200, {"$ref": ref}), [listing_id]),
            "patch": _op(
                f"修改{kind.label}（只改给出的字段）",
                _responses(200, {"$ref": ref}),
                [listing_id],
                body=_body(kind.fields, v, False),
                secured=True,
            ),
        }
        act = _op(
            f"发布或归档{kind.label}（归档须给出下架原因 close_reason）",
            _responses(200, {"$ref": ref}),
            [listing_id, _param("action", "path", {"type": "string", "enum": ["publish", "archive"]})],
            body={
                "type": "object",
                "properties": {
                    "close_reason": {"type": "string", "enum": list(listings.CLOSE_REASONS)},
                    "close_note": {"type": "string", "maxLength": 500},
                },
            },
            secured=True,
        )
        act["requestBody"]["required"] = False
        paths[f"/{plural}/{{listing_id}}/{{action}}"] = {"post": act}
        paths[f"/{plural}/{{listing_id}}/matches"] = {
            "get": _op(
                f"与{kind.label}最匹配的另一库条目",
                _responses(200, {"$ref": "#/components/schemas/Hits"}),
                [listing_id, _param("k", schema={"type": "integer"}), _param("min_score", schema={"type": "number"})],
            )
        }


def _search_paths(paths: dict, schemas: dict) -> None:
    browse = _browse_params()
    hit = {
        "type": "object",
        "required": ["id", "score", "title", "org"],
        "properties": {
            "id": {"type": "integer"},
            "score": {"type": "number"},
            "cosine": {"type": "number"},
            "components": {"type": "object"},
            "features": {"type": "object"},
            "shared_terms": {"type": "array", "items": {"type": "string"}},
            "title": {"type": "string"},
            "org": {"type": "string"},
        },
    }
    schemas["Hits"] = {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": hit}},
    }
    paths["/search"] = {
        "get": _op(
            "语义检索（限频，检索词长度有限）",
            _responses(200, {"$ref": "#/components/schemas/Hits"}),
            [
                _param("kind", schema={"type": "string", "enum": ["achievements", "needs"]}),
                _param("q", required=True),
                _param("k", schema={"type": "integer"}),
                *browse[:5],
            ],
        )
    }
    paths["/taxonomies"] = {"get": _op("分类词表", _responses(200, {"type": "object", "required": ["names"]}))}


def _contract_schema() -> dict:
    text, maybe_text, maybe_id = {"type": "string"}, _nullable({"type": "string"}), _nullable({"type": "integer"})
    side = {
        "type": "object",
        "required": ["name", "kind", "nature"],
        "properties": {
            "org_id": maybe_id,
            "name": text,
            "kind": text,
            "credit_code": maybe_text,
            "region": maybe_text,
            "country": maybe_text,
            "nature": text,
        },
    }
    event = {
        "type": "object",
        "required": ["action", "label", "at"],
        "properties": {"action": text, "label": text, "from": maybe_text, "to": maybe_text, "note": text, "at": text},
    }
    return {
        "type": "object",
        "required": [
            "id",
            "number",
            "status",
            "status_label",
            "title",
            "ctype",
            "subtype",
            "seller",
            "buyer",
            "amount",
            "tech_amount",
            "has_file",
            "events",
        ],
        "properties": {
            "id": {"type": "integer"},
            "number": maybe_text,
            "status": {"type": "string", "enum": [s.value for s in ContractStatus]},
            "status_label": text,
            "title": text,
            "ctype": text,
            "subtype": text,
            "seller": side,
            "buyer": side,
            "station": maybe_text,
            "broker_id": maybe_id,
            "match_id": maybe_id,
            "amends": maybe_text,
            "has_file": {"type": "boolean"},
            "amount": text,
            "tech_amount": text,
            "refusal": _nullable({"type": "object"}),
            "events": {"type": "array", "items": event},
            **dict.fromkeys(OPTIONAL_FIELDS, maybe_text),
        },
    }


def _contract_paths(paths: dict, schemas: dict) -> None:
    cv, browse = contracts.vocab(), _browse_params()
    party = {
        f"{side}_{k}": _nullable({"anyOf": [{"type": "string"}, {"type": "integer"}]})
        for side in contracts.SIDES
        for k in ("org_id", "name", "kind", "credit_code", "region", "country")
    }
    links = {k: _nullable({"anyOf": [{"type": "string"}, ID]}) for k in ("match_id", "broker_id", "station_id")}
    ctype = {
        "ctype": {"type": "string", "enum": list(contracts.TYPES)},
        "subtype": {"type": "string", "enum": sorted({s for subs in contracts.TYPES.values() for s in subs})},
    }
    contract_body = _body(contracts.FIELDS, cv, True, {**ctype, **party, **links})
    contract_body["required"] = [*contract_body["required"], "ctype"]
    schemas["Contract"] = _contract_schema()
    schemas["ContractPage"] = _page("#/components/schemas/Contract")
    contract_id = _param("contract_id", "path", ID)
    paths["/contracts"] = {
        "get": _op(
            "可见的技术合同",
            _responses(200, {"$ref": "#/components/schemas/ContractPage"}),
            [_param("status"), _param("q"), *browse[-2:]],
        ),
        "post": _op(
            "申请技术合同登记",
            _responses(201, {"$ref": "#/components/schemas/Contract"}),
            body=contract_body,
            secured=True,
        ),
    }
    paths["/contracts/{contract_id}"] = {
        "get": _op("一份技术合同", _responses(200, {"$ref": "#/components/schemas/Contract"}), [contract_id])
    }
    step = {
        "type": "object",
        "properties": {
            "code": _nullable({"type": "string", "enum": list(contracts.REFUSAL_REASONS)}),
            "note": _nullable({"type": "string", "maxLength": 1000}),
            "approved_tech_amount": _nullable({"type": "string"}),
        },
    }
    paths["/contracts/{contract_id}/{action}"] = {
        "post": {
            **_op(
                "登记（可给出核定技术交易额 approved_tech_amount，低于申报额时 note 写明理由）、未予登记、撤回、注销、申请注销",
                _responses(200, {"$ref": "#/components/schemas/Contract"}),
                [
                    contract_id,
                    _param(
                        "action",
                        "path",
                        {"type": "string", "enum": ["register", "refuse", "withdraw", "cancel", "cancel-request"]},
                    ),
                ],
                secured=True,
            ),
            "requestBody": {"required": False, "content": {"application/json": {"schema": step}}},
        }
    }


def _stats_paths(paths: dict) -> None:
    period = [
        _param("year", schema={"type": "integer"}),
        _param("quarter"),
        _param("month"),
        _param("range", schema={"type": "string", "enum": ["12m", "24m"]}),
    ]
    row = {"type": "object", "required": ["key", "label", "count", "amount", "tech_amount"]}
    paths["/stats/summary"] = {
        "get": _op(
            "成交统计概况（公开）",
            _responses(
                200,
                {
                    "type": "object",
                    "required": ["period", "total", "by_month", "match_share", "progress"],
                    "properties": {"total": row, "by_month": {"type": "array", "items": row}},
                },
            ),
            period,
        )
    }
    paths["/stats/{dimension}"] = {
        "get": _op(
            f"按维度统计（公开：{'、'.join(stats.PUBLIC_TABLES)}；其余仅登记员和管理员）",
            _responses(
                200,
                {
                    "type": "object",
                    "required": ["dimension", "items", "total"],
                    "properties": {"items": {"type": "array", "items": row}, "total": row},
                },
            ),
            [
                _param(
                    "dimension", "path", {"type": "string", "enum": ["month", "quarter", "year", *stats.DIMENSIONS]}
                ),
                *period,
            ],
        )
    }


def spec() -> dict:
    paths, schemas = {}, {}
    _listing_paths(paths, schemas)
    _search_paths(paths, schemas)
    _contract_paths(paths, schemas)
    _stats_paths(paths)
    schemas["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "fields": {"type": "object"}},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "郑州技术交易市场 API",
            "version": "1",
            "description": "读取公开；写操作需要 Authorization: Bearer <令牌>（在“我的”页面生成）。",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(spec())

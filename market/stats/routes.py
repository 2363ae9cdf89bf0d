"""成交统计: the public summary, a station's view, the admin view, the hall's big screen, exports."""

from datetime import date
from decimal import Decimal
from urllib.parse import quote

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..extensions import db
from ..infra import exports
from ..models import Role, Station
from ..services import stats
from ..validation import rules
from ..validation.fields import ValidationError
from ..web import roles_required
from . import bp, charts

PUBLIC_TABLES = stats.PUBLIC_TABLES
STATION_TABLES = ("month", "type", "field", "buyer_nature")
ADMIN_TABLES = (
    "year",
    "quarter",
    "month",
    "type",
    "subtype",
    "field",
    "district",
    "station",
    "seller_nature",
    "buyer_nature",
    "flow",
    "source",
)
YI, WAN = Decimal("100000000"), Decimal("10000")


@bp.app_template_global()
def money_parts(value: Decimal | None) -> tuple[str, str]:
    """An amount split into a number and its unit, for the big figures: ('2.35', '亿元')."""
    value = value or Decimal(0)
    if value >= YI:
        return f"{value / YI:,.2f}", "亿元"
    if value >= WAN:
        return f"{value / WAN:,.1f}", "万元"
    return f"{value:,.0f}", "元"


def wan(value) -> Decimal:
    return (Decimal(value or 0) / WAN).quantize(Decimal("0.01"))


def percent(value) -> str:
    return "—" if value is None else f"{Decimal(value) * 100:.1f}%"


@bp.app_template_filter("wan")
def wan_text(value) -> str:
    return f"{wan(value):,.2f}"


@bp.app_template_filter("pct")
def pct_filter(value) -> str:
    return percent(value)


def _station_asked() -> Station:
    """The station named by ``?station=`` (or the user's default one); 403 with the reason when the
    user may not see it."""
    try:
        return stats.station_for(current_user, request.args.get("station") or "")
    except LookupError:
        abort(404)


def _charts(period: stats.Period, tables: dict, station_id: int | None) -> dict:
    out = {}
    if "month" in tables:
        months = tables["month"].rows
        overlay = None
        if period.is_year:
            before = stats.series(stats.Period.year(period.start.year - 1), "month", station_id)
            overlay = [wan(r.amount) for r in before] if any(r.count for r in before) else None
        out["month"] = charts.columns(
            [r.key[5:].lstrip("0") + "月" if period.is_year else r.key[2:] for r in months],
            [wan(r.amount) for r in months],
            overlay=overlay,
            overlay_label=f"{period.start.year - 1}年同期",
            label="按月成交额",
        )
    if "type" in tables:
        t = tables["type"]
        out["type"] = charts.donut(
            [(r.label, r.amount, f"{wan(r.amount):,.0f}万") for r in t.rows],
            center=f"{t.total.count}",
            center_sub="项合同",
            label="合同类型",
        )
    for name in ("field", "district", "station", "seller_nature", "buyer_nature"):
        if name in tables:
            out[name] = charts.hbars(
                [(stats.short(r.label), r.amount, f"{wan(r.amount):,.1f}万元") for r in tables[name].rows if r.count][
                    :12
                ],
                label=stats.DIMENSIONS[name],
            )
    if "year" in tables:
        years = tables["year"].rows
        out["year"] = charts.columns([r.key for r in years], [wan(r.amount) for r in years], label="历年成交额")
    if "quarter" in tables:
        quarters = tables["quarter"].rows
        out["quarter"] = charts.columns(
            [r.key[5:] for r in quarters], [wan(r.amount) for r in quarters], width=360, label="按季度成交额"
        )
    return out


def _ctx(period: stats.Period, names, station: Station | None = None, **extra) -> dict:
    station_id = station.id if station else None
    tables = {name: stats.table(name, period, station_id) for name in names}
    years = stats.years_with_data()
    return {
        "period": period,
        "tables": tables,
        "charts": _charts(period, tables, station_id),
        "total": stats.totals(period, station_id),
        "years": years,
        "station": station,
        "share": stats.match_share(period, station_id),
        "solved": stats.solved_needs(period, station_id),
        "export_args": {**period.args, **({"station": station.code} if station else {})},
        **extra,
    }


@bp.route("/")
def public():
    period = stats.Period.from_args(request.args)
    progress = stats.progress(period.start.year)
    return render_template(
        "stats/public.html",
        **_ctx(period, PUBLIC_TABLES),
        progress=progress,
        ring=_ring(progress, sub=f"{progress.year}年目标"),
    )


def _ring(progress: stats.Progress, **kw):
    """The target ring, or None when the year has no target (the page shows the year-on-year change)."""
    if progress.target is None:
        return None
    return charts.ring(progress.ratio, text=percent(progress.ratio), marker=progress.elapsed, **kw)


@bp.route("/station")
@login_required
def station():
    st = _station_asked()
    period = stats.Period.from_args(request.args)
    all_stations = (
        db.session.scalars(select(Station).order_by(Station.id)).all()
        if stats.may_see_all_stations(current_user)
        else []
    )
    return render_template(
        "stats/station.html",
        **_ctx(period, STATION_TABLES, st),
        activity=stats.station_activity(st.id, period),
        contracts=stats.contract_list(period, st.id, limit=50),
        all_stations=all_stations,
    )


@bp.route("/admin", methods=["GET", "POST"])
@roles_required(Role.admin, Role.registrar)
def admin():
    period = stats.Period.from_args(request.args)
    year = period.start.year
    errors = {}
    if request.method == "POST":
        try:
            stats.set_target(request.form.get("year", type=int) or year, request.form.get("target"), current_user)
            db.session.commit()
            flash("年度目标已保存", "success")
            return redirect(url_for(".admin", **period.args))
        except ValidationError as e:
            db.session.rollback()
            errors = e.errors
    progress = stats.progress(year)
    return render_template(
        "stats/admin.html",
        **_ctx(period, ADMIN_TABLES),
        errors=errors,
        progress=progress,
        ring=_ring(progress, sub=f"{year}年目标"),
        health=stats.queue_health(period),
        default_target=stats.default_target(),
    ), (400 if errors else 200)


@bp.route("/screen")
def screen():
    today = date.today()
    year = today.year
    progress = stats.progress(year, today)
    period = stats.Period.year(year)
    months = stats.series(period, "month")
    before = stats.series(stats.Period.year(year - 1), "month")
    this_month = months[today.month - 1]
    fields = stats.breakdown("field", period)
    districts = [r for r in stats.breakdown("district", period) if r.count]
    types = stats.breakdown("type", period)
    share = stats.match_share(period)
    ctx = {
        "year": year,
        "progress": progress,
        "this_month": this_month,
        "share": share,
        "flow": {r.key: r for r in stats.breakdown("flow", period)},
        "latest": stats.latest(12),
        "updated": stats.now_label(),
        "ring": _ring(progress, size=250, sub="目标完成度"),
        "months_chart": charts.columns(
            [f"{i}月" for i in range(1, 13)],
            [wan(r.amount) for r in months],
            overlay=[wan(r.amount) for r in before],
            overlay_label=f"{year - 1}年",
            width=900,
            height=330,
            label="按月成交额",
        ),
        "fields_chart": _screen_bars(fields, "技术领域"),
        "districts_chart": _screen_bars(districts, "区县"),
        "types_chart": charts.donut(
            [(r.label, r.amount, f"{r.count}项") for r in types],
            size=220,
            width=440,
            center=f"{progress.total.count}",
            center_sub="项",
            label="合同类型",
        ),
        "refresh": 60,
    }
    return render_template("stats/screen.html", **ctx)


# ---- exports ------------------------------------------------------------------------------


def _screen_bars(rows, label: str) -> str:
    """The big screen's bar chart of the eight largest rows, in 万元."""
    bars = [(stats.short(r.label), r.amount, f"{wan(r.amount):,.0f}万") for r in rows[:8]]
    return charts.hbars(bars, width=440, row=42, label_width=136, label=label)


def _may_export(name: str, station: Station | None) -> bool:
    """Aggregates of the public page are public; a station's tables go to whoever may see the station
    (checked when it was looked up); everything else, the contract list included, to registrars and admins."""
    if station is not None:
        return True
    if name == "contracts":
        return current_user.is_authenticated and current_user.has_role(Role.admin, Role.registrar)
    return stats.may_see_table(current_user, name)


def _table_rows(t: stats.Table) -> tuple[list[exports.Column], list[list]]:
    columns = [
        exports.Column(t.key_header, width=26),
        exports.Column("合同数（项）", "int"),
        exports.Column("合同成交额（元）", "money", 20),
        exports.Column("技术交易额（元）", "money", 20),
        exports.Column("成交额占比", "percent"),
    ]
    rows = [[r.label, r.count, r.amount, r.tech_amount, r.share] for r in t.rows]
    label = "合计" if t.additive else "全部登记合同（上列各项有重叠）"
    rows.append([label, t.total.count, t.total.amount, t.total.tech_amount, t.total.share])
    return columns, rows


def _contract_rows(period: stats.Period, station_id: int | None) -> tuple[list[exports.Column], list[list]]:
    columns = [
        exports.Column("登记编号", width=20),
        exports.Column("登记日期", "date", 12),
        exports.Column("项目名称", width=40),
        exports.Column("合同类型"),
        exports.Column("子类"),
        exports.Column("卖方", width=30),
        exports.Column("卖方性质"),
        exports.Column("卖方所在地"),
        exports.Column("买方", width=30),
        exports.Column("买方性质"),
        exports.Column("买方所在地"),
        exports.Column("合同成交额（元）", "money", 18),
        exports.Column("技术交易额（元）", "money", 18),
        exports.Column("签订日期", "date", 12),
        exports.Column("技术领域", width=18),
        exports.Column("驿站", width=24),
        exports.Column("平台对接", width=8),
    ]
    rows = []
    for c in stats.contract_list(period, station_id):
        rows.append(
            [
                c.number,
                c.stat_date,
                c.title,
                c.ctype,
                c.subtype,
                c.seller_name,
                c.seller_kind,
                rules.region_name(c.seller_region) or c.seller_country,
                c.buyer_name,
                c.buyer_kind,
                rules.region_name(c.buyer_region) or c.buyer_country,
                c.amount,
                c.counted_tech_amount,
                c.signed_on,
                c.field,
                c.station.name if c.station else "",
                "是" if c.match_id else "",
            ]
        )
    return columns, rows


@bp.route("/export/<name>.<fmt>")
def export(name, fmt):
    if fmt not in ("csv", "xlsx") or (name not in stats.TABLE_TITLES and name != "contracts"):
        abort(404)
    station = None
    if request.args.get("station"):
        if not current_user.is_authenticated:
            abort(403, "驿站统计仅对技术经纪人、登记员和管理员开放")
        station = _station_asked()
    if not _may_export(name, station):
        abort(403, "此表仅对工作人员开放")
    period = stats.Period.from_args(request.args)
    station_id = station.id if station else None
    if name == "contracts":
        title = "登记合同明细"
        columns, rows = _contract_rows(period, station_id)
    else:
        t = stats.table(name, period, station_id)
        title = t.title
        columns, rows = _table_rows(t)
    scope = f"{station.name} · " if station else ""
    filename = f"技术合同{title}-{scope}{period.label}.{fmt}".replace(" · ", "-")
    notes = [
        f"郑州技术交易市场 · 技术合同{title}",
        f"统计范围：{scope}{period.label}（按登记日期）",
        "口径：已登记且未注销的技术合同；变更登记的合同只计最新版本。金额单位：元。",
        f"导出时间：{stats.now_label()}",
    ]
    if fmt == "csv":
        body, mime = exports.csv_bytes(columns, rows), "text/csv; charset=utf-8"
    else:
        body = exports.xlsx_bytes(title, columns, rows, notes)
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return body, 200, {"Content-Type": mime, "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"}

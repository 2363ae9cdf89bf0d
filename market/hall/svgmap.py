"""The stations map of the hall's front page: a schematic of Zhengzhou's districts (simple shapes
placed roughly where the districts lie, drawn by the app — no map tiles) with a marker per station."""

from dataclasses import dataclass

from ..validation import rules

# region code → polygon points in a 640 × 420 box (west left, north up); drawn in this order
SHAPES = {
    "410181": "10,70 130,55 140,215 15,230",  # 巩义市
    "410182": "130,55 280,45 280,200 140,215",  # 荥阳市
    "410106": "142,150 182,147 185,192 146,196",  # 上街区
    "410185": "15,230 140,215 150,370 25,385",  # 登封市
    "410183": "140,215 300,205 305,345 150,370",  # 新密市
    "410108": "280,45 445,35 445,110 280,110",  # 惠济区
    "410172": "280,110 335,110 335,165 280,170",  # 高新区
    "410102": "335,110 375,110 375,165 335,165",  # 中原区
    "410105": "375,110 445,110 445,160 375,165",  # 金水区
    "410103": "280,170 335,165 375,165 375,210 300,205",  # 二七区
    "410104": "375,165 445,160 445,210 375,210",  # 管城回族区
    "410171": "445,160 500,155 500,230 445,235",  # 经开区
    "410122": "445,35 625,50 625,245 500,230 500,155 445,160",  # 中牟县
    "410184": "300,205 445,210 445,235 450,370 305,345",  # 新郑市
    "410173": "450,235 500,230 625,245 615,375 450,370",  # 航空港区
}


@dataclass
class Shape:
    code: str
    name: str
    points: str
    cx: float
    cy: float
    served: bool


@dataclass
class Marker:
    id: int
    code: str
    name: str
    x: float
    y: float
    hall: bool


def _centre(points: str) -> tuple[float, float]:
    xy = [tuple(map(float, p.split(","))) for p in points.split()]
    return sum(x for x, _ in xy) / len(xy), sum(y for _, y in xy) / len(xy)


def layout(stations) -> tuple[list[Shape], list[Marker]]:
    """Districts (marked when a station serves or sits in them) and one marker per station, markers
    of one district side by side."""
    served = {d for s in stations for d in (s.districts or [])} | {s.region for s in stations}
    shapes = [
        Shape(
            code,
            rules.region_name(code)
            .replace("郑州", "")
            .replace("经济技术开发区", "经开区")
            .replace("高新技术产业开发区", "高新区")
            .replace("航空港经济综合实验区", "航空港区")
            .replace("回族区", "区"),
            pts,
            *_centre(pts),
            code in served,
        )
        for code, pts in SHAPES.items()
    ]
    by_code = {s.code: s for s in shapes}
    markers, used = [], {}
    for st in stations:
        shape = by_code.get(st.region)
        if shape is None:
            continue
        n = used.get(st.region, 0)
        used[st.region] = n + 1
        markers.append(Marker(st.id, st.code, st.name, shape.cx - 14 + 14 * n, shape.cy + 12, bool(st.is_hall)))
    return shapes, markers

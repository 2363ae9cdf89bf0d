"""指标对照: the quantity parser on hand-written Chinese indicator strings, and the pairing."""

import pytest

from matching.indicators import MET, NOT_MET, UNKNOWN, align, parse, score

# (text, [(op, lo, hi, dim), …]) — values in the dimension's base unit (m, s, Pa, g, 次, %, ℃, 元)
CASES = [
    ("寿命≥2万次", [(">=", 2e4, 2e4, "times")]),
    ("循环寿命不低于3000次", [(">=", 3000, 3000, "times")]),
    ("缺陷密度≤10⁴ cm⁻²", [("<=", 1e4, 1e4, "area_density")]),
    ("位错密度低于5×10⁵ cm⁻²", [("<", 5e5, 5e5, "area_density")]),
    ("厚度偏差3%–5%", [("range", 3, 5, "ratio")]),
    ("粒径1.2–1.6 μm", [("range", 1.2e-6, 1.6e-6, "length")]),
    ("粒度D50为1.2~1.6μm", [("range", 1.2e-6, 1.6e-6, "length")]),
    ("识别准确率不低于98%", [(">=", 98, 98, "ratio")]),
    ("成本增加不超过5%", [("<=", 5, 5, "ratio")]),
    ("工作温度-40℃~85℃", [("range", -40, 85, "temperature")]),
    ("工作温度范围-40℃至85℃", [("range", -40, 85, "temperature")]),
    ("耐温300℃以上", [(">=", 300, 300, "temperature")]),
    ("使用温度在1600℃及以上", [(">=", 1600, 1600, "temperature")]),
    ("表面粗糙度Ra小于0.5 μm", [("<", 5e-7, 5e-7, "length")]),
    ("杂质含量≤0.1%", [("<=", 0.1, 0.1, "ratio")]),
    ("定位精度±0.01 mm", [("±", -1e-5, 1e-5, "length")]),
    ("定位精度优于±2 cm", [("±", -0.02, 0.02, "length")]),
    ("抗压强度不低于45 MPa", [(">=", 4.5e7, 4.5e7, "pressure")]),
    ("抗折强度≥12MPa", [(">=", 1.2e7, 1.2e7, "pressure")]),
    ("硬度达到1.2 GPa", [("=", 1.2e9, 1.2e9, "pressure")]),
    ("响应时间<200 ms", [("<", 0.2, 0.2, "time")]),
    ("响应时间小于0.5秒", [("<", 0.5, 0.5, "time")]),
    ("连续运行不少于72小时", [(">=", 72 * 3600, 72 * 3600, "time")]),
    ("换刀时间缩短至30 min以内", [("<=", 1800, 1800, "time")]),
    ("续航提高30%以上", [(">=", 30, 30, "ratio")]),
    ("吨产品成本增加≤150元", [("<=", 150, 150, "money")]),
    ("单价不超过2万元", [("<=", 2e4, 2e4, "money")]),
    ("功率200 kW", [("=", 2e5, 2e5, "power")]),
    ("额定功率不小于1.5 MW", [(">=", 1.5e6, 1.5e6, "power")]),
    ("输出电压0.8~1.2 V", [("range", 0.8, 1.2, "voltage")]),
    ("耐压≥10 kV", [(">=", 1e4, 1e4, "voltage")]),
    ("漏电流小于10 μA", [("<", 1e-5, 1e-5, "current")]),
    ("工作频率2.4 GHz", [("=", 2.4e9, 2.4e9, "frequency")]),
    ("采样频率不低于10 kHz", [(">=", 1e4, 1e4, "frequency")]),
    ("接触电阻≤5 mΩ", [("<=", 5e-3, 5e-3, "resistance")]),
    ("能量密度≥300 Wh/kg", [(">=", 300, 300, "energy_density")]),
    ("比容量大于160 mAh/g", [(">", 160, 160, "capacity")]),
    ("含水率控制在0.5%以下", [("<=", 0.5, 0.5, "ratio")]),
    ("VOC排放浓度≤20 mg/L", [("<=", 20, 20, "concentration")]),
    ("菌落总数≤1×10⁴ CFU/g", [("<=", 1e4, 1e4, "particle")]),
    ("噪声不高于65 dB", [("<=", 65, 65, "level")]),
    ("亮度不低于1000 nit", [(">=", 1000, 1000, "luminance")]),
    ("刷新率达到120 fps", [("=", 120, 120, "rate")]),
    ("传输速率≥10 Gbps", [(">=", 1e10, 1e10, "bitrate")]),
    ("运行速度不低于2 m/s", [(">=", 2, 2, "speed")]),
    ("最高时速160 km/h", [("=", 160 / 3.6, 160 / 3.6, "speed")]),
    ("亩产不低于600 kg/亩", [(">=", 600, 600, "yield")]),
    ("抗倒伏性提高2倍", [("=", 2, 2, "fold")]),
    ("误报率1e-3以下", [("<=", 1e-3, 1e-3, "")]),
    ("残留量低于0.01 ppm", [("<", 1e-8, 1e-8, "ratio")]),
    ("晶圆翘曲≤50 μm", [("<=", 5e-5, 5e-5, "length")]),
    ("线宽5 nm~7 nm", [("range", 5e-9, 7e-9, "length")]),
    ("掘进速度达每天20 m", [("=", 20, 20, "length")]),
    ("刀盘直径6.5 m", [("=", 6.5, 6.5, "length")]),
    ("重量不超过3吨", [("<=", 3e6, 3e6, "mass")]),
    ("单机重量小于500 kg", [("<", 5e5, 5e5, "mass")]),
    ("保质期延长至12个月", [("=", 86400 * 30 * 12, 86400 * 30 * 12, "time")]),
    ("维护周期不少于2年", [(">=", 2 * 86400 * 365, 2 * 86400 * 365, "time")]),
    ("硬度≥60 HRC", [(">=", 60, 60, "hardness_rc")]),
    ("刀圈硬度HRC58–62", [("range", 58, 62, "hardness_rc")]),
    ("表层硬度HRC62", [("=", 62, 62, "hardness_rc")]),
    ("显微硬度大于3000 HV", [(">", 3000, 3000, "hardness")]),
    ("检测通道不少于8路", [(">=", 8, 8, "count")]),
    ("耐磨性提高到原来的1.5倍", [("=", 1.5, 1.5, "fold")]),
    ("模拟冷链波动5个循环后裂纹率≤1%；煮破率≤2%", [("=", 5, 5, "count"), ("<=", 1, 1, "ratio"), ("<=", 2, 2, "ratio")]),
    ("拉伸强度≥350 MPa，延伸率≥12%", [(">=", 3.5e8, 3.5e8, "pressure"), (">=", 12, 12, "ratio")]),
    ("导热系数不低于400 W，热阻低于0.2 Ω", [(">=", 400, 400, "power"), ("<", 0.2, 0.2, "resistance")]),
]


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0] for c in CASES])
def test_parser_reads_each_quantity(text, expected):
    got = parse(text)
    assert [(q.op, q.dim) for q in got] == [(e[0], e[3]) for e in expected]
    for q, (_, lo, hi, _) in zip(got, expected):
        assert q.lo == pytest.approx(lo, rel=1e-9) and q.hi == pytest.approx(hi, rel=1e-9)


def test_at_least_sixty_hand_written_strings():
    assert len(CASES) >= 60


def test_names_are_the_words_before_the_value():
    assert [q.name for q in parse("寿命≥2万次；工作温度-40℃~85℃；识别准确率不低于98%")] == [
        "寿命",
        "工作温度",
        "识别准确率",
    ]


def test_plain_numbers_without_unit_or_comparator_are_not_quantities():
    assert parse("2024年完成3家企业示范，共5条产线") == [q for q in parse("2024年完成3家企业示范，共5条产线") if q.dim]
    assert parse("第2代产品") == []


@pytest.mark.parametrize(
    "need,found,verdict",
    [
        ("寿命≥2万次", "经2.6万次循环后无失效", MET),
        ("寿命≥2万次", "疲劳寿命8000次", NOT_MET),
        ("耐温≥300℃", "长期使用温度180℃", NOT_MET),
        ("耐温≥300℃", "可在350℃下长期使用", MET),
        ("缺陷密度≤10⁴ cm⁻²", "缺陷密度降至3×10³ cm⁻²", MET),
        ("缺陷密度≤10⁴ cm⁻²", "缺陷密度为5×10⁵ cm⁻²", NOT_MET),
        ("粒径1.2–1.6 μm", "产品粒径1.3~1.5 μm", MET),
        ("粒径1.2–1.6 μm", "产品粒径5~8 μm", NOT_MET),
        ("工作温度-40℃~85℃", "工作温度-45℃至90℃", MET),
        ("定位精度±2 cm", "定位精度±1.5 cm", MET),
        ("响应时间<200 ms", "响应时间0.15 s", MET),
        ("识别准确率不低于98%", "识别准确率95.2%", NOT_MET),
        ("识别准确率不低于98%", "孔隙率0.8%", UNKNOWN),
        ("刀圈硬度HRC58–62", "表层硬度HRC62，芯部韧性提高40%", MET),
        ("抗压强度≥45 MPa", "试件尺寸100 mm", UNKNOWN),
        # the same measure named by another word of the same head (准确率 / 正确率, 时间 / 周期)
        ("厂商型号识别准确率≥95%", "对5000个IP完成探测，品牌型号判别正确率为97%", MET),
        ("恶意加密流量识别准确率≥97%", "在公开与实网数据上准确率92.5%", NOT_MET),
        ("单批干燥时间不超过8h", "成品白度值达到83，干燥周期6.5 h", MET),
        ("通道间同步抖动≤10 ps", "实测通道间抖动6 ps(rms)", MET),
        ("运行后回差≤1.5arcmin", "7000 h后空程回差为1.2 arcmin", MET),
        ("相干时间T2≥10μs", "自旋相干时间达18 μs", MET),
        ("识别精度下降不超过1个百分点", "mAP仅降0.7个百分点", MET),
        # heads too general to pair by: a working temperature is not a sintering temperature
        ("工作温度≤120℃", "刀头在780℃烧结温度下热压", UNKNOWN),
    ],
)
def test_alignment_judges_met_not_met_not_reported(need, found, verdict):
    [a] = align(need, found)
    assert a.verdict == verdict


def test_a_needs_conditions_are_not_targets():
    """A need's conditions ("能见度低于200m时…", "每15 min定位一次") say when a target holds; they
    are neither met nor missed by a 成果's figures."""
    al = align("能见度低于200m时行人检测召回率≥95%", "雨雾天行人召回率96%，可视距离150m")
    assert [(a.need.name[-3:], a.verdict) for a in al] == [("召回率", MET)]
    al = align("每15 min定位一次时续航≥90天；冷启动首次定位≤30 s", "以15 min周期定位可续航120天，首次定位时间8 s")
    assert [a.verdict for a in al] == [MET, MET]
    assert [q.condition for q in parse("在-20℃环境下制热COP≥1.8")][:1] == [True]


def test_score_is_met_minus_missed_over_all():
    al = align("寿命≥2万次；耐温≥300℃；识别准确率不低于98%", "经2.6万次循环后无失效，长期使用温度180℃")
    s, met, miss, unknown = score(al)
    assert (met, miss, unknown) == (1, 1, 1) and s == 0.0

"""crmkit.clean.address / region: a table of real-format addresses from every
province-level division (written here, expected parts by hand), ambiguity and
contradiction rules, Latin text, and property tests that parsing never fails."""

from __future__ import annotations

import random

import polars as pl
import pytest

import crmkit
from crmkit import geo

pytest.importorskip("cpca", reason="the division table comes from the cpca package (pip install 'crmkit[address]')")

# (address, province, city, district, detail)  — None: must be null; ... : not checked
CASES = [
    # municipalities: province = city
    ("北京市海淀区中关村大街27号", "北京市", "北京市", "海淀区", "中关村大街27号"),
    ("北京 朝阳 建国路88号SOHO现代城", "北京市", "北京市", "朝阳区", "建国路88号SOHO现代城"),
    ("天津市滨海新区第三大街", "天津市", "天津市", "滨海新区", "第三大街"),
    ("天津南开区卫津路94号", "天津市", "天津市", "南开区", "卫津路94号"),
    ("上海市浦东新区世纪大道100号", "上海市", "上海市", "浦东新区", "世纪大道100号"),
    ("上海市上海市静安区南京西路1266号", "上海市", "上海市", "静安区", "南京西路1266号"),
    ("上海徐汇区漕溪北路", "上海市", "上海市", "徐汇区", "漕溪北路"),
    ("重庆市渝中区解放碑步行街", "重庆市", "重庆市", "渝中区", "解放碑步行街"),
    ("重庆万州区", "重庆市", "重庆市", "万州区", None),
    # provinces
    ("河北省石家庄市裕华区槐安东路", "河北省", "石家庄市", "裕华区", "槐安东路"),
    ("河北省唐山市路北区建设路", "河北省", "唐山市", "路北区", "建设路"),
    ("山西省太原市小店区长风街", "山西省", "太原市", "小店区", "长风街"),
    ("内蒙古自治区呼和浩特市赛罕区大学西街", "内蒙古自治区", "呼和浩特市", "赛罕区", "大学西街"),
    ("内蒙古包头市昆都仑区钢铁大街", "内蒙古自治区", "包头市", "昆都仑区", "钢铁大街"),
    ("辽宁省沈阳市和平区南京北街", "辽宁省", "沈阳市", "和平区", "南京北街"),
    ("大连市中山区人民路", "辽宁省", "大连市", "中山区", "人民路"),
    ("吉林省长春市朝阳区人民大街", "吉林省", "长春市", "朝阳区", "人民大街"),
    ("吉林省吉林市船营区", "吉林省", "吉林市", "船营区", None),
    ("黑龙江省哈尔滨市南岗区西大直街", "黑龙江省", "哈尔滨市", "南岗区", "西大直街"),
    ("哈尔滨市道里区中央大街", "黑龙江省", "哈尔滨市", "道里区", "中央大街"),
    ("江苏省南京市鼓楼区汉口路22号", "江苏省", "南京市", "鼓楼区", "汉口路22号"),
    ("苏州工业园区星湖街328号", "江苏省", "苏州市", None, "工业园区星湖街328号"),
    ("江苏昆山市玉山镇", "江苏省", "苏州市", "昆山市", "玉山镇"),
    ("浙江省杭州市西湖区文三路", "浙江省", "杭州市", "西湖区", "文三路"),
    ("宁波市海曙区中山西路", "浙江省", "宁波市", "海曙区", "中山西路"),
    ("安徽省合肥市蜀山区长江西路", "安徽省", "合肥市", "蜀山区", "长江西路"),
    ("芜湖镜湖区", "安徽省", "芜湖市", "镜湖区", None),
    ("福建省厦门市思明区思明南路", "福建省", "厦门市", "思明区", "思明南路"),
    ("福州市鼓楼区五四路", "福建省", "福州市", "鼓楼区", "五四路"),
    ("江西省南昌市东湖区八一大道", "江西省", "南昌市", "东湖区", "八一大道"),
    ("赣州市章贡区红旗大道", "江西省", "赣州市", "章贡区", "红旗大道"),
    ("山东省济南市历下区泉城路", "山东省", "济南市", "历下区", "泉城路"),
    ("青岛市市南区香港中路", "山东省", "青岛市", "市南区", "香港中路"),
    ("河南省郑州市金水区花园路", "河南省", "郑州市", "金水区", "花园路"),
    ("洛阳西工区", "河南省", "洛阳市", "西工区", None),
    ("湖北省武汉市洪山区珞喻路", "湖北省", "武汉市", "洪山区", "珞喻路"),
    ("湖北省仙桃市钱沟路", "湖北省", "仙桃市", None, "钱沟路"),
    ("湖北恩施州恩施市舞阳大街", "湖北省", "恩施土家族苗族自治州", "恩施市", "舞阳大街"),
    ("湖南省长沙市岳麓区麓山南路", "湖南省", "长沙市", "岳麓区", "麓山南路"),
    ("湘西州吉首市人民路", "湖南省", "湘西土家族苗族自治州", "吉首市", "人民路"),
    ("广东省深圳市南山区科技园", "广东省", "深圳市", "南山区", "科技园"),
    ("广州市天河区天河路385号", "广东省", "广州市", "天河区", "天河路385号"),
    ("东莞市南城街道", "广东省", "东莞市", None, "南城街道"),
    ("广西壮族自治区南宁市青秀区民族大道", "广西壮族自治区", "南宁市", "青秀区", "民族大道"),
    ("广西桂林市七星区", "广西壮族自治区", "桂林市", "七星区", None),
    ("海南省海口市美兰区", "海南省", "海口市", "美兰区", None),
    ("三亚市吉阳区", "海南省", "三亚市", "吉阳区", None),
    ("四川省成都市武侯区人民南路", "四川省", "成都市", "武侯区", "人民南路"),
    ("成都高新区天府大道", "四川省", "成都市", None, "高新区天府大道"),
    ("贵州省贵阳市云岩区", "贵州省", "贵阳市", "云岩区", None),
    ("遵义市红花岗区", "贵州省", "遵义市", "红花岗区", None),
    ("云南省昆明市五华区", "云南省", "昆明市", "五华区", None),
    ("大理州大理市古城", "云南省", "大理白族自治州", "大理市", "古城"),
    ("西藏自治区拉萨市城关区", "西藏自治区", "拉萨市", "城关区", None),
    ("西藏拉萨城关区北京中路", "西藏自治区", "拉萨市", "城关区", "北京中路"),
    ("陕西省西安市雁塔区", "陕西省", "西安市", "雁塔区", None),
    ("西安碑林区", "陕西省", "西安市", "碑林区", None),
    ("甘肃省兰州市城关区", "甘肃省", "兰州市", "城关区", None),
    ("天水市秦州区", "甘肃省", "天水市", "秦州区", None),
    ("青海省西宁市城西区", "青海省", "西宁市", "城西区", None),
    ("海西州格尔木市", "青海省", "海西蒙古族藏族自治州", "格尔木市", None),
    ("宁夏回族自治区银川市兴庆区", "宁夏回族自治区", "银川市", "兴庆区", None),
    ("宁夏银川金凤区", "宁夏回族自治区", "银川市", "金凤区", None),
    ("新疆维吾尔自治区乌鲁木齐市天山区", "新疆维吾尔自治区", "乌鲁木齐市", "天山区", None),
    ("新疆乌鲁木齐沙依巴克区", "新疆维吾尔自治区", "乌鲁木齐市", "沙依巴克区", None),
    ("台湾省台北市", "台湾省", None, None, "台北市"),
    ("香港特别行政区油尖旺区", "香港特别行政区", None, None, "油尖旺区"),
    ("澳门特别行政区", "澳门特别行政区", None, None, None),
    # how people write them: spaces, full-width, postcodes, country, suffixes dropped
    ("浙江省 杭州市 西湖区 文三路", "浙江省", "杭州市", "西湖区", "文三路"),
    ("广东省深圳市福田区ＸＸ路１号", "广东省", "深圳市", "福田区", "XX路1号"),
    ("518000 广东省深圳市南山区", "广东省", "深圳市", "南山区", None),
    ("中国广东省广州市越秀区", "广东省", "广州市", "越秀区", None),
    ("广东深圳宝安", "广东省", "深圳市", "宝安区", None),
    # Latin transcriptions
    ("Room 1203, 88 Century Avenue, Pudong New Area, Shanghai", "上海市", "上海市", "浦东新区", ...),
    ("Nanshan District, Shenzhen, Guangdong Province", "广东省", "深圳市", "南山区", ...),
    ("12 Elm Street, Apt 501, Hangzhou", "浙江省", "杭州市", None, "12 Elm Street, Apt 501, Hangzhou"),
]


def parse(values, **kw) -> list[dict]:
    s = pl.Series("a", values, dtype=pl.String)
    return pl.select(crmkit.clean.address(pl.lit(s), **kw)).to_series().to_list()


def test_every_province_level_division_is_covered():
    parsed = {r["province"] for r in parse([c[0] for c in CASES])}
    provinces = set(geo.divisions().filter(pl.col("level") == "province")["name"])
    assert provinces <= parsed, provinces - parsed


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_real_format_addresses(case):
    text, province, city, district, detail = case
    got = parse([text])[0]
    assert (got["province"], got["city"], got["district"]) == (province, city, district)
    if detail is not ...:
        assert got["detail"] == detail


def test_adcode_is_the_smallest_part_found():
    got = parse(["广东省深圳市南山区科技园", "广东省深圳市", "广东省", "上海市"])
    assert [g["adcode"] for g in got] == ["440305", "440300", "440000", "310000"]


def test_ambiguous_names_are_left_unknown_unless_settled():
    # 朝阳区 is in Beijing and in Changchun: no guess.
    got = parse(["朝阳区建国路88号"])[0]
    assert (got["province"], got["city"], got["district"], got["detail"]) == (None, None, None, "建国路88号")
    got = parse(["朝阳区建国路88号"], default_province="北京")[0]
    assert (got["province"], got["city"], got["district"]) == ("北京市", "北京市", "朝阳区")
    got = parse(["朝阳区人民大街"], default_province="吉林省")[0]
    assert (got["province"], got["city"], got["district"]) == ("吉林省", "长春市", "朝阳区")
    # default_province fills only what the text leaves open; the text wins.
    got = parse(["长沙市岳麓区", "某某小区3栋"], default_province="广东")
    assert got[0]["province"] == "湖南省" and got[1]["province"] == "广东省" and got[1]["city"] is None


def test_contradictory_text_gets_no_guess():
    got = parse(["广东省杭州市西湖区文三路"])[0]
    assert got["province"] is None and got["city"] is None and got["district"] is None


def test_street_names_are_not_places():
    got = parse(["杭州市中山路5号", "上海市黄浦区南京东路"])
    assert (got[0]["city"], got[0]["district"], got[0]["detail"]) == ("杭州市", None, "中山路5号")
    assert (got[1]["district"], got[1]["detail"]) == ("黄浦区", "南京东路")


def test_latin_without_chinese_place_keeps_a_normalised_detail():
    got = parse(["221B  baker st,   LONDON", "1600 AMPHITHEATRE PKWY"])
    assert got[0] == {"province": None, "city": None, "district": None, "detail": "221B Baker Street, London", "adcode": None}
    assert got[1]["province"] is None and got[1]["detail"].startswith("1600 Amphitheatre")


def test_nulls_and_empty_text():
    got = parse([None, "", "   "])
    assert got == [None, None, None]


def test_region_column():
    s = pl.Series("c", ["深圳", "上海市", "Guangzhou", "桂林市", "火星", "吉林", "朝阳区", None])
    got = pl.select(crmkit.clean.region(pl.lit(s))).to_series().to_list()
    assert [(g or {}).get("city") for g in got] == ["深圳市", "上海市", "广州市", "桂林市", None, None, None, None]
    assert got[5]["province"] == "吉林省"  # the province, not the city of the same name
    assert got[6] is None  # ambiguous district alone


def test_namespace_lazy_and_errors():
    lf = pl.LazyFrame({"a": ["广东省深圳市南山区", "北京市海淀区"]})
    out = lf.select(pl.col("a").crm.address().struct.field("city")).collect()
    assert out["city"].to_list() == ["深圳市", "北京市"]
    with pytest.raises(crmkit.CrmError, match="default_province"):
        crmkit.clean.address("a", default_province="火星省")
    with pytest.raises(Exception, match="must be a string column"):
        pl.DataFrame({"a": [1, 2]}).select(crmkit.clean.address("a"))


def _consistent(row: dict, table: dict) -> bool:
    """Parts always form one branch of the division tree."""
    if row is None:
        return True
    p, c, d = row["province"], row["city"], row["district"]
    if p is None:
        return c is None and d is None
    if c is not None and (p, c) not in table["cities"]:
        return False
    if d is not None and (p, c, d) not in table["districts"]:
        return False
    return True


@pytest.fixture(scope="module")
def tree():
    d = geo.divisions()
    cities = set(d.filter(pl.col("city").is_not_null()).select("province", "city").iter_rows())
    districts = set(d.filter(pl.col("level") == "district").select("province", "city", "name").iter_rows())
    return {"cities": cities, "districts": districts}


def test_random_text_never_fails_and_stays_on_the_tree(tree):
    rng = random.Random(15)
    names = geo.divisions()["name"].to_list()
    pieces = names + ["省", "市", "区", "县", "路", "号", "中国", "  ", "，", "Ｘ", "１", "<script>", "\x00", "🙂", "a", "Rd"]
    def char() -> str:
        c = rng.randint(1, 0x2FFFF)
        return chr(c) if not 0xD800 <= c <= 0xDFFF else "?"

    texts = []
    for _ in range(3000):
        k = rng.randint(0, 6)
        texts.append("".join(rng.choice(pieces) if rng.random() < 0.8 else char() for _ in range(k)))
    for row in parse(texts):
        assert _consistent(row, tree)


def test_hypothesis_arbitrary_text(tree):
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    @hypothesis.settings(max_examples=300, deadline=None, derandomize=True)
    @hypothesis.given(st.lists(st.text(max_size=40), min_size=1, max_size=20))
    def check(values):
        for row in parse(values):
            assert _consistent(row, tree)

    check()


def test_parallel_column_matches_serial():
    texts = [c[0] for c in CASES] * 700  # above the parallel slice size
    got = parse(texts)
    one = parse([c[0] for c in CASES])
    assert got == one * 700

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


# A second, independent set: real-format addresses of all 34 province-level divisions as
# they turn up in CRM exports, shop orders and forms (written by hand, expected parts by
# hand against the division table; not produced by any generator): province missing,
# suffixes dropped, 内蒙/广西/新疆 abbreviations, spaces, full-width digits, postcodes,
# county-level cities, county-level cities directly under a province, districts whose
# name recurs in other cities (鼓楼区, 铁东区, 普陀区, 江北区, 城关区, 和平区),
# 市中区 after a city, old suffixes (临安区 for the table's 临安市), Latin text, and
# names the text leaves ambiguous (None: the right answer is null). tests/bench/
# bench_address.py measures crmkit and cpca on it side by side.
# (address, province, city, district)
REAL_FORMAT = [
    # 北京
    ("北京市东城区王府井大街138号", "北京市", "北京市", "东城区"),
    ("北京海淀中关村南大街5号", "北京市", "北京市", "海淀区"),
    ("100871 北京市海淀区颐和园路5号", "北京市", "北京市", "海淀区"),
    ("北京市 昌平区 回龙观东大街", "北京市", "北京市", "昌平区"),
    ("北京密云区鼓楼东大街", "北京市", "北京市", "密云区"),
    ("Chaoyang District, Beijing", "北京市", "北京市", "朝阳区"),
    # 天津
    ("天津市和平区南京路189号", "天津市", "天津市", "和平区"),
    ("天津河西区友谊路", "天津市", "天津市", "河西区"),
    ("天津市滨海新区塘沽洋货市场", "天津市", "天津市", "滨海新区"),
    ("津南区咸水沽镇", "天津市", "天津市", "津南区"),
    ("天津 武清区 杨村镇", "天津市", "天津市", "武清区"),
    # 上海
    ("上海市黄浦区南京东路299号", "上海市", "上海市", "黄浦区"),
    ("上海浦东张江高科碧波路690号", "上海市", "上海市", "浦东新区"),
    ("200120 上海市浦东新区陆家嘴环路1000号", "上海市", "上海市", "浦东新区"),
    ("上海市 闵行区 莘庄镇 都市路", "上海市", "上海市", "闵行区"),
    ("上海普陀区真北路", "上海市", "上海市", "普陀区"),
    ("Xuhui District, Shanghai", "上海市", "上海市", "徐汇区"),
    # 重庆
    ("重庆市渝北区龙溪街道金龙路", "重庆市", "重庆市", "渝北区"),
    ("重庆江北区观音桥步行街", "重庆市", "重庆市", "江北区"),
    ("重庆市巫山县巫峡镇", "重庆市", "重庆市", "巫山县"),
    ("重庆 沙坪坝区 三峡广场", "重庆市", "重庆市", "沙坪坝区"),
    ("４０００５０ 重庆市九龙坡区杨家坪", "重庆市", "重庆市", "九龙坡区"),
    ("重庆市-南岸区-南坪西路", "重庆市", "重庆市", "南岸区"),
    # 河北
    ("河北省保定市莲池区东风中路", "河北省", "保定市", "莲池区"),
    ("石家庄长安区中山东路", "河北省", "石家庄市", "长安区"),
    ("河北廊坊三河市燕郊镇", "河北省", "廊坊市", "三河市"),
    ("邯郸市丛台区", "河北省", "邯郸市", "丛台区"),
    ("河北省 秦皇岛市 北戴河区", "河北省", "秦皇岛市", "北戴河区"),
    # 山西
    ("山西太原迎泽区迎泽大街", "山西省", "太原市", "迎泽区"),
    ("晋中市榆次区", "山西省", "晋中市", "榆次区"),
    ("山西省运城市盐湖区", "山西省", "运城市", "盐湖区"),
    ("030006 山西省太原市小店区", "山西省", "太原市", "小店区"),
    ("长治市英雄中路", "山西省", "长治市", None),
    # 内蒙古
    ("内蒙呼和浩特新城区", "内蒙古自治区", "呼和浩特市", "新城区"),
    ("内蒙古鄂尔多斯市东胜区", "内蒙古自治区", "鄂尔多斯市", "东胜区"),
    ("内蒙古自治区赤峰市红山区", "内蒙古自治区", "赤峰市", "红山区"),
    ("锡林郭勒盟锡林浩特市", "内蒙古自治区", "锡林郭勒盟", "锡林浩特市"),
    ("内蒙 包头 九原区", "内蒙古自治区", "包头市", "九原区"),
    # 辽宁
    ("辽宁省大连市甘井子区", "辽宁省", "大连市", "甘井子区"),
    ("沈阳市沈河区中街路", "辽宁省", "沈阳市", "沈河区"),
    ("辽宁鞍山铁东区", "辽宁省", "鞍山市", "铁东区"),
    ("辽宁省 丹东市 振兴区", "辽宁省", "丹东市", "振兴区"),
    ("大连瓦房店市", "辽宁省", "大连市", "瓦房店市"),
    # 吉林
    ("吉林省长春市南关区人民大街", "吉林省", "长春市", "南关区"),
    ("吉林市昌邑区", "吉林省", "吉林市", "昌邑区"),
    ("延边州延吉市", "吉林省", "延边朝鲜族自治州", "延吉市"),
    ("长春朝阳区", "吉林省", "长春市", "朝阳区"),
    ("吉林四平铁西区", "吉林省", "四平市", "铁西区"),
    # 黑龙江
    ("黑龙江省哈尔滨市香坊区", "黑龙江省", "哈尔滨市", "香坊区"),
    ("齐齐哈尔龙沙区", "黑龙江省", "齐齐哈尔市", "龙沙区"),
    ("黑龙江大庆萨尔图区", "黑龙江省", "大庆市", "萨尔图区"),
    ("牡丹江市爱民区", "黑龙江省", "牡丹江市", "爱民区"),
    ("黑龙江 佳木斯 前进区", "黑龙江省", "佳木斯市", "前进区"),
    # 江苏
    ("江苏省苏州市姑苏区观前街", "江苏省", "苏州市", "姑苏区"),
    ("南京鼓楼区中山北路", "江苏省", "南京市", "鼓楼区"),
    ("江苏鼓楼区", "江苏省", None, None),
    ("无锡市滨湖区", "江苏省", "无锡市", "滨湖区"),
    ("江苏省昆山市", "江苏省", "苏州市", "昆山市"),
    ("扬州市邗江区文昌西路", "江苏省", "扬州市", "邗江区"),
    # 浙江
    ("浙江省杭州市滨江区网商路699号", "浙江省", "杭州市", "滨江区"),
    ("浙江义乌市", "浙江省", "金华市", "义乌市"),
    ("温州鹿城区", "浙江省", "温州市", "鹿城区"),
    ("310000 浙江 杭州 萧山区", "浙江省", "杭州市", "萧山区"),
    ("舟山普陀区", "浙江省", "舟山市", "普陀区"),
    ("杭州市临安区", "浙江省", "杭州市", "临安市"),
    ("Hangzhou, Zhejiang", "浙江省", "杭州市", None),
    # 安徽
    ("安徽省合肥市包河区", "安徽省", "合肥市", "包河区"),
    ("合肥高新区望江西路", "安徽省", "合肥市", None),
    ("安徽芜湖鸠江区", "安徽省", "芜湖市", "鸠江区"),
    ("安庆市大观区", "安徽省", "安庆市", "大观区"),
    ("安徽省 巢湖市", "安徽省", "合肥市", "巢湖市"),
    # 福建
    ("福建省福州市鼓楼区五四路", "福建省", "福州市", "鼓楼区"),
    ("厦门湖里区", "福建省", "厦门市", "湖里区"),
    ("福建泉州晋江市", "福建省", "泉州市", "晋江市"),
    ("漳州市芗城区", "福建省", "漳州市", "芗城区"),
    ("Siming District, Xiamen", "福建省", "厦门市", "思明区"),
    # 江西
    ("江西省南昌市西湖区", "江西省", "南昌市", "西湖区"),
    ("九江市浔阳区", "江西省", "九江市", "浔阳区"),
    ("江西赣州章贡区", "江西省", "赣州市", "章贡区"),
    ("景德镇珠山区", "江西省", "景德镇市", "珠山区"),
    ("江西 上饶 信州区", "江西省", "上饶市", "信州区"),
    # 山东
    ("山东省青岛市崂山区", "山东省", "青岛市", "崂山区"),
    ("济南市市中区经七路", "山东省", "济南市", "市中区"),
    ("山东烟台芝罘区", "山东省", "烟台市", "芝罘区"),
    ("潍坊市寿光市", "山东省", "潍坊市", "寿光市"),
    ("临沂兰山区", "山东省", "临沂市", "兰山区"),
    ("山东省济南市中区经十路", "山东省", "济南市", "市中区"),
    # 河南
    ("河南省郑州市二七区", "河南省", "郑州市", "二七区"),
    ("开封市鼓楼区", "河南省", "开封市", "鼓楼区"),
    ("河南济源市", "河南省", "济源市", None),
    ("洛阳市涧西区", "河南省", "洛阳市", "涧西区"),
    ("河南 南阳 卧龙区", "河南省", "南阳市", "卧龙区"),
    ("河南省焦作市解放西路100号", "河南省", "焦作市", None),
    # 湖北
    ("湖北省武汉市江汉区", "湖北省", "武汉市", "江汉区"),
    ("武汉东湖新技术开发区", "湖北省", "武汉市", None),
    ("湖北宜昌西陵区", "湖北省", "宜昌市", "西陵区"),
    ("襄阳市樊城区", "湖北省", "襄阳市", "樊城区"),
    ("湖北省 潜江市", "湖北省", "潜江市", None),
    ("神农架林区", "湖北省", "神农架林区", None),
    # 湖南
    ("湖南省长沙市芙蓉区", "湖南省", "长沙市", "芙蓉区"),
    ("株洲天元区", "湖南省", "株洲市", "天元区"),
    ("湖南湘潭岳塘区", "湖南省", "湘潭市", "岳塘区"),
    ("衡阳市蒸湘区", "湖南省", "衡阳市", "蒸湘区"),
    ("湖南 张家界 永定区", "湖南省", "张家界市", "永定区"),
    # 广东
    ("广东省广州市番禺区", "广东省", "广州市", "番禺区"),
    ("深圳市宝安区西乡街道", "广东省", "深圳市", "宝安区"),
    ("广东佛山顺德区", "广东省", "佛山市", "顺德区"),
    ("东莞市长安镇", "广东省", "东莞市", None),
    ("广东中山市火炬开发区", "广东省", "中山市", None),
    ("５１８０５７ 广东省深圳市南山区高新南一道", "广东省", "深圳市", "南山区"),
    ("Tianhe District, Guangzhou, Guangdong", "广东省", "广州市", "天河区"),
    ("深圳市龙华区民治街道", "广东省", "深圳市", None),
    ("广东省，广州市，越秀区，北京路", "广东省", "广州市", "越秀区"),
    # 广西
    ("广西南宁市西乡塘区", "广西壮族自治区", "南宁市", "西乡塘区"),
    ("广西壮族自治区柳州市城中区", "广西壮族自治区", "柳州市", "城中区"),
    ("桂林市秀峰区", "广西壮族自治区", "桂林市", "秀峰区"),
    ("广西 北海 海城区", "广西壮族自治区", "北海市", "海城区"),
    ("玉林市玉州区", "广西壮族自治区", "玉林市", "玉州区"),
    # 海南
    ("海南省海口市龙华区", "海南省", "海口市", "龙华区"),
    ("三亚天涯区", "海南省", "三亚市", "天涯区"),
    ("海南琼海市嘉积镇", "海南省", "琼海市", None),
    ("海南省儋州市那大镇", "海南省", "儋州市", None),
    ("海南陵水县", "海南省", "陵水黎族自治县", None),
    # 四川
    ("四川省成都市锦江区", "四川省", "成都市", "锦江区"),
    ("成都双流区", "四川省", "成都市", "双流区"),
    ("四川绵阳涪城区", "四川省", "绵阳市", "涪城区"),
    ("乐山市市中区", "四川省", "乐山市", "市中区"),
    ("四川 阿坝州 九寨沟县", "四川省", "阿坝藏族羌族自治州", "九寨沟县"),
    ("Chengdu, Sichuan", "四川省", "成都市", None),
    # 贵州
    ("贵州省贵阳市南明区", "贵州省", "贵阳市", "南明区"),
    ("遵义市汇川区", "贵州省", "遵义市", "汇川区"),
    ("贵州黔东南州凯里市", "贵州省", "黔东南苗族侗族自治州", "凯里市"),
    ("贵州 安顺 西秀区", "贵州省", "安顺市", "西秀区"),
    ("六盘水钟山区", "贵州省", "六盘水市", "钟山区"),
    # 云南
    ("云南省昆明市盘龙区", "云南省", "昆明市", "盘龙区"),
    ("曲靖市麒麟区", "云南省", "曲靖市", "麒麟区"),
    ("云南丽江古城区", "云南省", "丽江市", "古城区"),
    ("西双版纳州景洪市", "云南省", "西双版纳傣族自治州", "景洪市"),
    ("云南 玉溪 红塔区", "云南省", "玉溪市", "红塔区"),
    # 西藏
    ("西藏日喀则市桑珠孜区", "西藏自治区", "日喀则市", "桑珠孜区"),
    ("拉萨市堆龙德庆区", "西藏自治区", "拉萨市", "堆龙德庆区"),
    ("西藏自治区林芝市巴宜区", "西藏自治区", "林芝市", "巴宜区"),
    ("西藏 山南 乃东区", "西藏自治区", "山南市", "乃东区"),
    ("Lhasa, Tibet", "西藏自治区", "拉萨市", None),
    # 陕西
    ("陕西省西安市未央区", "陕西省", "西安市", "未央区"),
    ("西安雁塔区小寨", "陕西省", "西安市", "雁塔区"),
    ("陕西宝鸡渭滨区", "陕西省", "宝鸡市", "渭滨区"),
    ("咸阳市秦都区", "陕西省", "咸阳市", "秦都区"),
    ("陕西 延安 宝塔区", "陕西省", "延安市", "宝塔区"),
    # 甘肃
    ("甘肃省兰州市七里河区", "甘肃省", "兰州市", "七里河区"),
    ("兰州城关区", "甘肃省", "兰州市", "城关区"),
    ("甘肃天水麦积区", "甘肃省", "天水市", "麦积区"),
    ("嘉峪关市", "甘肃省", "嘉峪关市", None),
    ("甘肃 酒泉 敦煌市", "甘肃省", "酒泉市", "敦煌市"),
    # 青海
    ("青海省西宁市城东区", "青海省", "西宁市", "城东区"),
    ("西宁城北区", "青海省", "西宁市", "城北区"),
    ("青海海东市乐都区", "青海省", "海东市", "乐都区"),
    ("青海 海西州 德令哈市", "青海省", "海西蒙古族藏族自治州", "德令哈市"),
    ("玉树州玉树市", "青海省", "玉树藏族自治州", "玉树市"),
    # 宁夏
    ("宁夏银川市西夏区", "宁夏回族自治区", "银川市", "西夏区"),
    ("宁夏回族自治区石嘴山市大武口区", "宁夏回族自治区", "石嘴山市", "大武口区"),
    ("吴忠市利通区", "宁夏回族自治区", "吴忠市", "利通区"),
    ("宁夏 固原 原州区", "宁夏回族自治区", "固原市", "原州区"),
    ("中卫市沙坡头区", "宁夏回族自治区", "中卫市", "沙坡头区"),
    # 新疆
    ("新疆乌鲁木齐市水磨沟区", "新疆维吾尔自治区", "乌鲁木齐市", "水磨沟区"),
    ("新疆维吾尔自治区喀什地区喀什市", "新疆维吾尔自治区", "喀什地区", "喀什市"),
    ("克拉玛依市克拉玛依区", "新疆维吾尔自治区", "克拉玛依市", "克拉玛依区"),
    ("新疆石河子市", "新疆维吾尔自治区", "石河子市", None),
    ("新疆 伊犁州 伊宁市", "新疆维吾尔自治区", "伊犁哈萨克自治州", "伊宁市"),
    ("Urumqi, Xinjiang", "新疆维吾尔自治区", "乌鲁木齐市", None),
    # 台湾 / 香港 / 澳门 (the table has them at the province level only)
    ("台湾省台北市信义区", "台湾省", None, None),
    ("台湾高雄市前镇区", "台湾省", None, None),
    ("台湾新北市板桥区文化路", "台湾省", None, None),
    ("Taipei, Taiwan", "台湾省", None, None),
    ("台北市大安区忠孝东路", "台湾省", None, None),
    ("香港九龙尖沙咀弥敦道", "香港特别行政区", None, None),
    ("香港特别行政区湾仔区港湾道", "香港特别行政区", None, None),
    ("Central, Queen's Road, HONG KONG", "香港特别行政区", None, None),
    ("香港 铜锣湾 轩尼诗道500号", "香港特别行政区", None, None),
    ("九龙尖沙咀弥敦道100号", "香港特别行政区", None, None),
    ("澳门特别行政区氹仔", "澳门特别行政区", None, None),
    ("澳门新马路", "澳门特别行政区", None, None),
    ("Macau, Avenida da Praia Grande", "澳门特别行政区", None, None),
    ("中国澳门 澳门半岛", "澳门特别行政区", None, None),
    ("澳門氹仔", "澳门特别行政区", None, None),
    # the text leaves it open: no guess
    ("鼓楼区中山路88号", None, None, None),
    ("新城区", None, None, None),
    ("市中区人民路", None, None, None),
    ("长安区", None, None, None),
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


def test_real_format_set_covers_every_division_three_times():
    provinces = geo.divisions().filter(pl.col("level") == "province")["name"].to_list()
    counts = {p: sum(r[1] == p for r in REAL_FORMAT) for p in provinces}
    assert len(counts) == 34 and min(counts.values()) >= 3, counts
    assert len({r[0] for r in REAL_FORMAT}) == len(REAL_FORMAT)


def test_real_format_set_expected_parts_are_on_the_tree(tree):
    for text, p, c, d in REAL_FORMAT:
        assert _consistent({"province": p, "city": c, "district": d}, tree), text


def test_real_format_set():
    got = parse([r[0] for r in REAL_FORMAT])
    wrong, contradictions = [], []
    for (text, *truth), g in zip(REAL_FORMAT, got):
        parts = (g["province"], g["city"], g["district"])
        if parts != tuple(truth):
            wrong.append((text, truth, parts))
        # A part the parser reports must never differ from the truth (a guess, or a
        # place the text contradicts); null where the truth is known only costs accuracy.
        if any(x is not None and x != t for x, t in zip(parts, truth)):
            contradictions.append((text, truth, parts))
    assert contradictions == []
    assert wrong == []


def test_separators_between_division_names():
    got = parse(["广东省,深圳市,南山区,科技园路1号", "浙江省-杭州市-西湖区-文三路", "江苏/南京/鼓楼/中山北路", "四川省，成都市，武侯区"])
    assert [(g["province"], g["city"], g["district"]) for g in got] == [
        ("广东省", "深圳市", "南山区"),
        ("浙江省", "杭州市", "西湖区"),
        ("江苏省", "南京市", "鼓楼区"),
        ("四川省", "成都市", "武侯区"),
    ]
    assert got[0]["detail"] == "科技园路1号" and got[1]["detail"] == "文三路"


def test_compass_street_names_are_not_districts():
    # 解放西路 in 焦作 is a street, not 焦作's 解放区.
    got = parse(["河南省焦作市解放西路100号", "焦作市解放区民主南路"])
    assert (got[0]["city"], got[0]["district"], got[0]["detail"]) == ("焦作市", None, "解放西路100号")
    assert got[1]["district"] == "解放区"

//! Word lists the synthetic CRM world draws from: names (with pinyin), places,
//! email domains, product categories. Frequencies are rough, not census figures.

/// (surname, pinyin, relative frequency)
pub const CN_SURNAMES: &[(&str, &str, f64)] = &[
    ("王", "wang", 7.1), ("李", "li", 7.0), ("张", "zhang", 6.8), ("刘", "liu", 5.4),
    ("陈", "chen", 4.5), ("杨", "yang", 3.1), ("黄", "huang", 2.2), ("赵", "zhao", 2.0),
    ("吴", "wu", 1.9), ("周", "zhou", 1.9), ("徐", "xu", 1.3), ("孙", "sun", 1.2),
    ("马", "ma", 1.2), ("朱", "zhu", 1.1), ("胡", "hu", 1.0), ("郭", "guo", 0.97),
    ("何", "he", 0.9), ("林", "lin", 0.87), ("高", "gao", 0.86), ("罗", "luo", 0.85),
    ("郑", "zheng", 0.8), ("梁", "liang", 0.7), ("谢", "xie", 0.6), ("宋", "song", 0.56),
    ("唐", "tang", 0.54), ("许", "xu", 0.5), ("邓", "deng", 0.47), ("冯", "feng", 0.45),
    ("韩", "han", 0.44), ("曹", "cao", 0.43), ("曾", "zeng", 0.42), ("彭", "peng", 0.41),
    ("萧", "xiao", 0.4), ("蔡", "cai", 0.36), ("潘", "pan", 0.35), ("田", "tian", 0.34),
    ("董", "dong", 0.34), ("袁", "yuan", 0.33), ("于", "yu", 0.32), ("余", "yu", 0.31),
    ("叶", "ye", 0.3), ("蒋", "jiang", 0.3), ("杜", "du", 0.28), ("苏", "su", 0.27),
    ("魏", "wei", 0.27), ("程", "cheng", 0.26), ("吕", "lv", 0.26), ("丁", "ding", 0.25),
    ("沈", "shen", 0.24), ("任", "ren", 0.24), ("姚", "yao", 0.23), ("卢", "lu", 0.23),
    ("傅", "fu", 0.22), ("钟", "zhong", 0.22), ("姜", "jiang", 0.21), ("崔", "cui", 0.2),
    ("谭", "tan", 0.2), ("廖", "liao", 0.19), ("范", "fan", 0.19), ("汪", "wang", 0.18),
    ("欧阳", "ouyang", 0.05), ("司马", "sima", 0.01), ("诸葛", "zhuge", 0.01),
];

/// (given-name character, pinyin)
pub const CN_GIVEN: &[(&str, &str)] = &[
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
    ("丽", "li"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
    ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("娟", "juan"), ("涛", "tao"),
    ("明", "ming"), ("超", "chao"), ("秀", "xiu"), ("霞", "xia"), ("平", "ping"),
    ("刚", "gang"), ("桂", "gui"), ("英", "ying"), ("华", "hua"), ("玉", "yu"),
    ("兰", "lan"), ("文", "wen"), ("建", "jian"), ("国", "guo"), ("志", "zhi"),
    ("海", "hai"), ("红", "hong"), ("林", "lin"), ("鹏", "peng"), ("辉", "hui"),
    ("斌", "bin"), ("宇", "yu"), ("浩", "hao"), ("凯", "kai"), ("婷", "ting"),
    ("雪", "xue"), ("琳", "lin"), ("欣", "xin"), ("怡", "yi"), ("佳", "jia"),
    ("晨", "chen"), ("阳", "yang"), ("博", "bo"), ("子", "zi"), ("涵", "han"),
    ("梓", "zi"), ("轩", "xuan"), ("思", "si"), ("雨", "yu"), ("嘉", "jia"),
    ("晓", "xiao"), ("慧", "hui"), ("颖", "ying"), ("倩", "qian"), ("俊", "jun"),
    ("飞", "fei"), ("鑫", "xin"), ("波", "bo"), ("宁", "ning"), ("亮", "liang"),
    ("成", "cheng"), ("春", "chun"), ("梅", "mei"), ("燕", "yan"), ("萍", "ping"),
];

/// Characters people mistype or mishear for one another (same or near pinyin).
pub const CN_HOMOPHONES: &[(&str, &str)] = &[
    ("伟", "玮"), ("伟", "炜"), ("丽", "莉"), ("静", "婧"), ("敏", "民"), ("军", "君"),
    ("强", "蔷"), ("磊", "垒"), ("艳", "燕"), ("杰", "洁"), ("娟", "鹃"), ("涛", "韬"),
    ("明", "鸣"), ("霞", "侠"), ("平", "萍"), ("刚", "钢"), ("英", "瑛"), ("华", "桦"),
    ("玉", "钰"), ("兰", "岚"), ("文", "雯"), ("海", "凯"), ("红", "虹"), ("林", "琳"),
    ("鹏", "朋"), ("辉", "晖"), ("斌", "彬"), ("宇", "雨"), ("浩", "昊"), ("婷", "庭"),
    ("雪", "学"), ("欣", "新"), ("怡", "仪"), ("佳", "嘉"), ("晨", "辰"), ("阳", "洋"),
    ("博", "波"), ("子", "紫"), ("涵", "含"), ("轩", "萱"), ("思", "斯"), ("晓", "小"),
    ("慧", "惠"), ("颖", "莹"), ("倩", "茜"), ("俊", "骏"), ("飞", "菲"), ("鑫", "欣"),
    ("亮", "靓"), ("成", "诚"), ("春", "纯"), ("梅", "玫"), ("张", "章"), ("陈", "程"),
    ("黄", "王"), ("刘", "柳"), ("徐", "许"), ("吴", "武"), ("周", "邹"),
];

pub const LATIN_FIRST_MALE: &[&str] = &[
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph",
    "Thomas", "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Paul", "Steven",
    "Andrew", "Kevin", "Brian", "George", "Edward", "Peter", "Lukas", "Jonas",
    "Felix", "Pierre", "Luca", "Marco", "Hugo", "Oliver", "Jack", "Noah",
];

pub const LATIN_FIRST_FEMALE: &[&str] = &[
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica",
    "Sarah", "Karen", "Nancy", "Lisa", "Emily", "Anna", "Laura", "Sophie",
    "Emma", "Olivia", "Charlotte", "Julia", "Marie", "Lea", "Chloe", "Giulia",
    "Clara", "Hannah", "Grace", "Amelia", "Isabella", "Lucy", "Alice", "Helen",
];

pub const LATIN_LAST: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
    "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White",
    "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King",
    "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell",
    "Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Dubois", "Martin", "Bernard",
    "Rossi", "Russo", "Ferrari", "Garcia", "Martinez", "Lopez", "O'Brien", "McDonald",
];

/// (city, city in pinyin/English, relative weight, districts, landline area code)
pub struct City {
    pub name: &'static str,
    pub latin: &'static str,
    pub weight: f64,
    pub districts: &'static [&'static str],
    pub area_code: &'static str,
}

pub const CITIES: &[City] = &[
    City { name: "上海", latin: "Shanghai", weight: 14.0, districts: &["浦东新区", "徐汇区", "静安区", "黄浦区", "长宁区", "闵行区"], area_code: "21" },
    City { name: "北京", latin: "Beijing", weight: 13.0, districts: &["朝阳区", "海淀区", "东城区", "西城区", "丰台区"], area_code: "10" },
    City { name: "广州", latin: "Guangzhou", weight: 9.0, districts: &["天河区", "越秀区", "海珠区", "白云区"], area_code: "20" },
    City { name: "深圳", latin: "Shenzhen", weight: 9.0, districts: &["南山区", "福田区", "罗湖区", "宝安区"], area_code: "755" },
    City { name: "杭州", latin: "Hangzhou", weight: 7.0, districts: &["西湖区", "上城区", "滨江区", "拱墅区"], area_code: "571" },
    City { name: "成都", latin: "Chengdu", weight: 7.0, districts: &["锦江区", "武侯区", "青羊区", "高新区"], area_code: "28" },
    City { name: "南京", latin: "Nanjing", weight: 5.0, districts: &["鼓楼区", "玄武区", "秦淮区", "建邺区"], area_code: "25" },
    City { name: "武汉", latin: "Wuhan", weight: 5.0, districts: &["武昌区", "江汉区", "洪山区", "汉阳区"], area_code: "27" },
    City { name: "西安", latin: "Xi'an", weight: 4.0, districts: &["雁塔区", "碑林区", "未央区"], area_code: "29" },
    City { name: "重庆", latin: "Chongqing", weight: 4.0, districts: &["渝中区", "江北区", "南岸区"], area_code: "23" },
];

pub const STREETS: &[&str] = &[
    "人民路", "中山路", "解放路", "建设路", "和平路", "世纪大道", "南京路", "长安街",
    "淮海路", "科技园路", "文化路", "新华路", "滨江大道", "东风路", "学院路", "花园路",
];

pub const LATIN_STREETS: &[&str] = &[
    "High Street", "Station Road", "Church Lane", "Main Street", "Park Avenue",
    "Mill Road", "Victoria Road", "Green Lane", "King Street", "Queen Street",
];

pub const EMAIL_DOMAINS_CN: &[&str] = &["qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "139.com"];
pub const EMAIL_DOMAINS_INTL: &[&str] = &["gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com"];

/// CN mobile prefixes in service (three digits).
pub const CN_MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "176", "177", "178", "180", "181", "182",
    "183", "184", "185", "186", "187", "188", "189", "191", "198", "199",
];

/// (country code, national significant number pattern: first digits, total length)
pub const INTL_PHONES: &[(&str, &str, usize)] = &[
    ("1", "415", 10), ("1", "212", 10), ("1", "646", 10), ("44", "7911", 10),
    ("44", "7700", 10), ("49", "151", 11), ("49", "170", 11), ("33", "6", 9),
    ("65", "9", 8), ("852", "9", 8), ("81", "90", 10), ("61", "4", 9),
];

/// Placeholders real CRM exports use for "no value".
pub const PLACEHOLDERS: &[&str] = &["N/A", "null", "-", "无", "NULL", "n/a", "", "不详", "None", "空"];

pub const SOURCES: &[&str] = &["web", "app", "store", "wechat", "import"];
pub const SOURCE_WEIGHTS: &[f64] = &[0.3, 0.25, 0.2, 0.2, 0.05];

pub const CHANNELS: &[&str] = &["web", "app", "store", "wechat"];

/// (category, mean list price in CNY)
pub const CATEGORIES: &[(&str, f64)] = &[
    ("coffee", 68.0), ("tea", 88.0), ("snacks", 35.0), ("dairy", 25.0),
    ("beauty", 199.0), ("skincare", 259.0), ("baby", 149.0), ("pet", 89.0),
    ("home", 129.0), ("kitchen", 159.0), ("electronics", 699.0), ("sports", 239.0),
];

pub const FUNNEL_EVENTS: &[&str] = &["view", "search", "cart", "checkout", "purchase"];

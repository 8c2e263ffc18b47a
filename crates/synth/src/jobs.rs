//! 职业 — education, occupations, employers and income: civil servants and public institutions
//! (公务员, 事业单位), state-owned giants (国家电网, 中国石化 …), schools, hospitals, tech
//! companies, small shops, and the monthly-income bands banks record.

use rand::Rng;

use crate::places::Region;
use crate::rng::RngExt;

/// 最高学历, lowest first; the index is the rank used by occupations.
#[rustfmt::skip]
pub(crate) const EDUCATION: &[&str] = &[
    "小学", "初中", "高中", "中等专业学校", "大学专科", "大学本科", "硕士研究生", "博士研究生",
];

/// 最高学位 that goes with an education rank.
pub(crate) fn degree(rank: usize) -> &'static str {
    match rank {
        7 => "博士",
        6 => "硕士",
        5 => "学士",
        _ => "无",
    }
}

/// Education rank by birth generation, shifted up by economic standing `z`.
pub(crate) fn education(rng: &mut impl Rng, generation: usize, z: f64) -> usize {
    const BY_GEN: [[f64; 8]; 3] = [
        [0.20, 0.35, 0.20, 0.10, 0.08, 0.06, 0.01, 0.002],
        [0.03, 0.17, 0.17, 0.12, 0.22, 0.24, 0.045, 0.005],
        [0.01, 0.08, 0.12, 0.10, 0.28, 0.35, 0.05, 0.01],
    ];
    let base = rng.weighted_index(&BY_GEN[generation]) as i64;
    (base + (0.7 * z).round() as i64).clamp(0, 7) as usize
}

/// Who pays a person's salary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EmployerKind {
    Government,
    School,
    Hospital,
    Institute,
    StateOwned,
    Financial,
    Tech,
    Private,
    Shop,
    Courier,
    LawFirm,
    Military,
    None,
}

/// An occupation and the industry and employer that go with it.
#[derive(Debug)]
pub(crate) struct Occupation {
    pub name: &'static str,
    pub industry: &'static str,
    pub employer: EmployerKind,
    /// Income relative to the local median.
    pub income: f64,
    edu: (usize, usize),
    weight: u32,
}

macro_rules! occupations {
    ($(($name:literal, $ind:literal, $emp:ident, $inc:literal, $lo:literal, $hi:literal, $w:literal)),* $(,)?) => {
        &[$(Occupation { name: $name, industry: $ind, employer: EmployerKind::$emp, income: $inc, edu: ($lo, $hi), weight: $w }),*]
    };
}

#[rustfmt::skip]
pub(crate) const OCCUPATIONS: &[Occupation] = occupations![
    ("公务员", "公共管理、社会保障和社会组织", Government, 1.25, 4, 7, 6),
    ("教师", "教育", School, 1.1, 4, 7, 7), ("医生", "卫生和社会工作", Hospital, 1.6, 5, 7, 3),
    ("护士", "卫生和社会工作", Hospital, 0.95, 3, 5, 3),
    ("事业单位人员", "科学研究和技术服务业", Institute, 1.05, 4, 7, 5),
    ("国企职员", "电力、热力、燃气及水生产和供应业", StateOwned, 1.25, 3, 7, 8),
    ("工程师", "制造业", Private, 1.4, 4, 7, 6),
    ("软件工程师", "信息传输、软件和信息技术服务业", Tech, 1.9, 4, 7, 5),
    ("金融从业人员", "金融业", Financial, 1.8, 5, 7, 3),
    ("企业管理人员", "租赁和商务服务业", Private, 2.0, 4, 7, 5),
    ("销售人员", "批发和零售业", Private, 0.95, 1, 5, 8), ("会计", "租赁和商务服务业", Private, 1.0, 3, 6, 4),
    ("律师", "租赁和商务服务业", LawFirm, 2.1, 5, 7, 1), ("个体工商户", "批发和零售业", Shop, 1.15, 0, 5, 8),
    ("工人", "制造业", Private, 0.75, 0, 3, 10), ("建筑工人", "建筑业", Private, 0.8, 0, 2, 4),
    ("司机", "交通运输、仓储和邮政业", Private, 0.85, 0, 3, 3),
    ("快递员", "交通运输、仓储和邮政业", Courier, 0.85, 0, 3, 3),
    ("餐饮服务人员", "住宿和餐饮业", Private, 0.65, 0, 3, 5), ("农民", "农、林、牧、渔业", None, 0.45, 0, 3, 4),
    ("军人", "公共管理、社会保障和社会组织", Military, 1.1, 2, 7, 1),
    ("自由职业者", "文化、体育和娱乐业", None, 0.9, 2, 7, 3),
];

/// An occupation fitting an education rank.
pub(crate) fn occupation(rng: &mut impl Rng, edu: usize) -> &'static Occupation {
    let weights: Vec<f64> = OCCUPATIONS
        .iter()
        .map(|o| {
            if (o.edu.0..=o.edu.1).contains(&edu) {
                f64::from(o.weight)
            } else {
                0.0
            }
        })
        .collect();
    &OCCUPATIONS[rng.weighted_index(&weights)]
}

/// An industry of private companies: 行业 name, GB/T 4754 code and words used in names.
#[derive(Debug)]
pub(crate) struct Industry {
    pub name: &'static str,
    pub code: &'static str,
    pub words: &'static [&'static str],
}

#[rustfmt::skip]
pub(crate) const INDUSTRIES: &[Industry] = &[
    Industry {name: "制造业", code: "C3484", words: &["机械制造", "精密机械", "机电设备"] },
    Industry {name: "制造业", code: "C3982", words: &["电子科技", "电子"] },
    Industry {name: "制造业", code: "C2720", words: &["医药", "制药"] },
    Industry {name: "制造业", code: "C1810", words: &["服饰", "服装"] },
    Industry {name: "制造业", code: "C1499", words: &["食品"] },
    Industry {name: "制造业", code: "C3670", words: &["汽车零部件"] },
    Industry {name: "批发和零售业", code: "F5191", words: &["贸易", "商贸", "进出口"] },
    Industry {name: "批发和零售业", code: "F5212", words: &["超市", "商业连锁"] },
    Industry {name: "信息传输、软件和信息技术服务业", code: "I6513", words: &["软件", "网络科技", "信息技术"] },
    Industry {name: "建筑业", code: "E4710", words: &["建设工程", "建筑工程"] },
    Industry {name: "房地产业", code: "K7010", words: &["房地产开发", "置业"] },
    Industry {name: "交通运输、仓储和邮政业", code: "G5821", words: &["物流", "供应链管理"] },
    Industry {name: "住宿和餐饮业", code: "H6210", words: &["餐饮管理"] },
    Industry {name: "租赁和商务服务业", code: "L7243", words: &["企业管理咨询", "商务咨询"] },
    Industry {name: "科学研究和技术服务业", code: "M7340", words: &["生物科技", "医药科技"] },
    Industry {name: "农、林、牧、渔业", code: "A0141", words: &["农业开发", "农业科技"] },
    Industry {name: "文化、体育和娱乐业", code: "R8610", words: &["文化传媒", "影视传媒"] },
    Industry {name: "电力、热力、燃气及水生产和供应业", code: "D4416", words: &["新能源", "能源科技"] },
    Industry {name: "教育", code: "P8399", words: &["教育科技", "教育咨询"] },
    Industry {name: "卫生和社会工作", code: "Q8415", words: &["医疗管理", "健康管理"] },
    Industry {name: "金融业", code: "J6760", words: &["投资管理", "资产管理", "小额贷款", "融资担保"] },
];

/// An industry whose name matches an occupation's, or any.
pub(crate) fn industry_for(rng: &mut impl Rng, name: &str) -> &'static Industry {
    let matching: Vec<&'static Industry> = INDUSTRIES.iter().filter(|i| i.name == name).collect();
    if matching.is_empty() {
        rng.pick_ref(INDUSTRIES)
    } else {
        rng.pick(&matching)
    }
}

/// Chinese numerals 1–99 (第一, 第二十三 …).
pub(crate) fn chinese_number(n: u32) -> String {
    const D: [&str; 10] = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        0..=9 => D[n as usize].to_string(),
        10..=19 => format!("十{}", D[(n % 10) as usize]),
        _ => format!("{}十{}", D[(n / 10 % 10) as usize], D[(n % 10) as usize]),
    }
}

/// 字号 characters of company trade names, with pinyin for domain names.
#[rustfmt::skip]
pub(crate) const TRADE_CHARS: &[(&str, &str)] = &[
    ("华", "hua"), ("鑫", "xin"), ("盛", "sheng"), ("达", "da"), ("恒", "heng"), ("泰", "tai"), ("通", "tong"),
    ("宏", "hong"), ("信", "xin"), ("源", "yuan"), ("德", "de"), ("瑞", "rui"), ("丰", "feng"), ("安", "an"),
    ("康", "kang"), ("中", "zhong"), ("联", "lian"), ("创", "chuang"), ("新", "xin"), ("科", "ke"),
    ("博", "bo"), ("远", "yuan"), ("海", "hai"), ("天", "tian"), ("金", "jin"), ("光", "guang"), ("明", "ming"),
    ("荣", "rong"), ("兴", "xing"), ("隆", "long"), ("昌", "chang"), ("宇", "yu"), ("嘉", "jia"),
    ("祥", "xiang"), ("和", "he"), ("润", "run"), ("峰", "feng"), ("利", "li"), ("佳", "jia"), ("凯", "kai"),
    ("鼎", "ding"), ("晟", "sheng"), ("誉", "yu"), ("诚", "cheng"), ("正", "zheng"), ("茂", "mao"),
    ("汇", "hui"), ("邦", "bang"), ("辰", "chen"), ("智", "zhi"), ("腾", "teng"), ("合", "he"), ("富", "fu"),
    ("永", "yong"), ("锦", "jin"), ("星", "xing"),
];

/// 字号 — a two-character trade name and its pinyin.
pub(crate) fn trade_name(rng: &mut impl Rng) -> (String, String) {
    let a = rng.pick(TRADE_CHARS);
    let b = loop {
        let b = rng.pick(TRADE_CHARS);
        if b.0 != a.0 {
            break b;
        }
    };
    (format!("{}{}", a.0, b.0), format!("{}{}", a.1, b.1))
}

/// A private company name `城市 + 字号 + 行业 + 有限公司`.
pub(crate) fn company_name(
    rng: &mut impl Rng,
    region: &Region,
    industry: &Industry,
    trade: &str,
) -> String {
    let city = if rng.chance(0.6) {
        region.city
    } else {
        region.city_short()
    };
    format!("{city}{trade}{}有限公司", rng.pick(industry.words))
}

/// 工作单位 — an employer of the given kind near `region`.
pub(crate) fn employer(
    rng: &mut impl Rng,
    kind: EmployerKind,
    region: &Region,
    industry: &str,
) -> String {
    let city = region.city;
    let cs = region.city_short();
    let prov = region.province();
    let district_level = || {
        if region.district.ends_with('市') {
            region.district.to_string()
        } else {
            format!("{city}{}", region.district)
        }
    };
    match kind {
        EmployerKind::Government => {
            #[rustfmt::skip]
            const CITY: &[&str] = &[
                "税务局", "公安局", "财政局", "教育局", "市场监督管理局", "人力资源和社会保障局",
                "自然资源和规划局", "住房和城乡建设局", "交通运输局", "卫生健康委员会", "生态环境局",
                "人民法院", "人民检察院",
            ];
            const DISTRICT: &[&str] = &["人民政府", "税务局", "公安分局", "街道办事处", "人民法院"];
            if rng.chance(0.5) {
                format!("{city}{}", rng.pick(CITY))
            } else {
                format!("{}{}", district_level(), rng.pick(DISTRICT))
            }
        }
        EmployerKind::School => match rng.random_range(0..5) {
            0 | 1 => format!("{city}第{}中学", chinese_number(rng.random_range(1..=40))),
            2 => format!("{}实验小学", district_level()),
            3 => format!("{city}外国语学校"),
            _ => format!("{cs}职业技术学院"),
        },
        EmployerKind::Hospital => match rng.random_range(0..4) {
            0 | 1 => format!(
                "{city}第{}人民医院",
                chinese_number(rng.random_range(1..=9))
            ),
            2 => format!("{city}中医院"),
            _ => format!("{city}妇幼保健院"),
        },
        EmployerKind::Institute => {
            #[rustfmt::skip]
            const UNITS: &[&str] = &[
                "疾病预防控制中心", "城市规划设计研究院", "图书馆", "公共资源交易中心", "农业科学院", "气象局",
                "不动产登记中心", "广播电视台",
            ];
            format!("{city}{}", rng.pick(UNITS))
        }
        EmployerKind::StateOwned => match rng.random_range(0..12) {
            0 | 1 => format!("国网{}电力有限公司", prov.name),
            2 => format!("中国石化销售股份有限公司{}石油分公司", prov.short),
            3 => format!("中国移动通信集团{}有限公司", prov.short),
            4 => format!("中国电信股份有限公司{cs}分公司"),
            5 => format!(
                "中国建筑第{}工程局有限公司",
                chinese_number(rng.random_range(1..=8))
            ),
            6 => format!("中国邮政集团有限公司{cs}市分公司"),
            7 => format!("{city}地铁集团有限公司"),
            8 => format!("{city}燃气集团有限公司"),
            9 => format!("中国石油天然气股份有限公司{}销售分公司", prov.short),
            10 => format!("中国烟草总公司{}公司", prov.name),
            _ => format!(
                "中铁{}局集团有限公司",
                chinese_number(rng.random_range(1..=25))
            ),
        },
        EmployerKind::Financial => match rng.random_range(0..5) {
            0 => format!("中国平安人寿保险股份有限公司{}分公司", prov.short),
            1 => format!("中国人寿保险股份有限公司{cs}分公司"),
            2 => format!("中信证券股份有限公司{}分公司", prov.short),
            3 => format!("{cs}农村商业银行股份有限公司"),
            _ => format!("中国人民财产保险股份有限公司{cs}市分公司"),
        },
        EmployerKind::Tech => {
            let local: &[&str] = match cs {
                "深圳" => &[
                    "腾讯科技（深圳）有限公司",
                    "华为技术有限公司",
                    "深圳市大疆创新科技有限公司",
                ],
                "杭州" => &[
                    "阿里巴巴（中国）有限公司",
                    "网易（杭州）网络有限公司",
                    "浙江大华技术股份有限公司",
                ],
                "北京" => &[
                    "北京字节跳动科技有限公司",
                    "百度在线网络技术（北京）有限公司",
                    "北京三快在线科技有限公司",
                    "小米科技有限责任公司",
                    "北京京东世纪贸易有限公司",
                ],
                "上海" => &[
                    "上海拉扎斯信息科技有限公司",
                    "上海米哈游网络科技股份有限公司",
                    "携程计算机技术（上海）有限公司",
                ],
                "广州" => &["广州虎牙信息科技有限公司", "广州市动景计算机科技有限公司"],
                _ => &[],
            };
            if !local.is_empty() && rng.chance(0.4) {
                rng.pick(local).to_string()
            } else {
                let (trade, _) = trade_name(rng);
                let industry = industry_for(rng, "信息传输、软件和信息技术服务业");
                company_name(rng, region, industry, &trade)
            }
        }
        EmployerKind::Private => {
            let (trade, _) = trade_name(rng);
            let industry = industry_for(rng, industry);
            company_name(rng, region, industry, &trade)
        }
        EmployerKind::Shop => {
            #[rustfmt::skip]
            const SHOPS: &[&str] = &[
                "便利店", "五金店", "服装店", "餐馆", "水果店", "建材经营部", "烟酒商行", "手机维修店",
                "美发店", "超市",
            ];
            let (trade, _) = trade_name(rng);
            format!("{}{trade}{}", region.district_short(), rng.pick(SHOPS))
        }
        EmployerKind::Courier => rng
            .pick(&[
                "顺丰速运有限公司",
                "中通快递股份有限公司",
                "圆通速递有限公司",
                "韵达控股股份有限公司",
                "京东物流股份有限公司",
            ])
            .to_string(),
        EmployerKind::LawFirm => {
            let (trade, _) = trade_name(rng);
            format!("{city}{trade}律师事务所")
        }
        EmployerKind::Military => {
            format!("中国人民解放军{}部队", rng.random_range(31_001..=96_999))
        }
        EmployerKind::None => String::new(),
    }
}

/// 月收入 — the band a monthly income (CNY) falls into.
pub(crate) fn income_band(monthly: f64) -> &'static str {
    match monthly {
        m if m <= 0.0 => "无收入",
        m if m < 3_000.0 => "3000元以下",
        m if m < 5_000.0 => "3000-5000元",
        m if m < 8_000.0 => "5000-8000元",
        m if m < 15_000.0 => "8000-15000元",
        m if m < 30_000.0 => "15000-30000元",
        m if m < 50_000.0 => "30000-50000元",
        _ => "50000元以上",
    }
}

/// 民族 — ethnic group, by the province of origin.
pub(crate) fn ethnicity(rng: &mut impl Rng, province_code: &str) -> &'static str {
    let local = match province_code {
        "65" => Some(("维吾尔族", 0.40)),
        "54" => Some(("藏族", 0.80)),
        "45" => Some(("壮族", 0.30)),
        "64" => Some(("回族", 0.35)),
        "15" => Some(("蒙古族", 0.17)),
        "52" => Some(("苗族", 0.12)),
        "53" => Some(("彝族", 0.10)),
        "22" => Some(("朝鲜族", 0.04)),
        "21" => Some(("满族", 0.12)),
        _ => None,
    };
    if let Some((name, p)) = local
        && rng.chance(p)
    {
        return name;
    }
    #[rustfmt::skip]
    const ALL: &[(&str, u32)] = &[
        ("汉族", 9400), ("壮族", 60), ("回族", 80), ("满族", 80), ("苗族", 40), ("土家族", 60), ("彝族", 20),
        ("蒙古族", 30), ("侗族", 20), ("布依族", 10), ("瑶族", 10), ("白族", 10), ("朝鲜族", 15),
    ];
    rng.weighted(ALL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::places::REGIONS;
    use crate::rng::{Stream, rng_for};

    #[test]
    fn chinese_numbers() {
        assert_eq!(chinese_number(1), "一");
        assert_eq!(chinese_number(10), "十");
        assert_eq!(chinese_number(13), "十三");
        assert_eq!(chinese_number(20), "二十");
        assert_eq!(chinese_number(38), "三十八");
    }

    #[test]
    fn every_education_rank_has_an_occupation() {
        let mut rng = rng_for(1, Stream::Unit, 0);
        for edu in 0..EDUCATION.len() {
            let o = occupation(&mut rng, edu);
            assert!((o.edu.0..=o.edu.1).contains(&edu));
        }
    }

    #[test]
    fn employers_are_named_for_every_kind() {
        let mut rng = rng_for(1, Stream::Unit, 1);
        let sh = REGIONS.iter().find(|r| r.code == "310115").unwrap();
        for o in OCCUPATIONS {
            let name = employer(&mut rng, o.employer, sh, o.industry);
            assert_eq!(
                name.is_empty(),
                o.employer == EmployerKind::None,
                "{}",
                o.name
            );
        }
        assert!(!employer(&mut rng, EmployerKind::Courier, sh, "").is_empty());
    }
}

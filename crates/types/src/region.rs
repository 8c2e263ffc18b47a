//! 行政区划 — province-level divisions of GB/T 2260, by the two-digit prefix of a region code.

/// A province-level division: the 2-digit code, the full name and the short name used in
/// addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Province {
    pub code: &'static str,
    pub name: &'static str,
    pub short: &'static str,
}

macro_rules! provinces {
    ($(($code:literal, $name:literal, $short:literal)),* $(,)?) => {
        /// Every province-level division with an ID-number prefix.
        pub const PROVINCES: &[Province] = &[$(Province { code: $code, name: $name, short: $short }),*];
    };
}

provinces![
    ("11", "北京市", "北京"),
    ("12", "天津市", "天津"),
    ("13", "河北省", "河北"),
    ("14", "山西省", "山西"),
    ("15", "内蒙古自治区", "内蒙古"),
    ("21", "辽宁省", "辽宁"),
    ("22", "吉林省", "吉林"),
    ("23", "黑龙江省", "黑龙江"),
    ("31", "上海市", "上海"),
    ("32", "江苏省", "江苏"),
    ("33", "浙江省", "浙江"),
    ("34", "安徽省", "安徽"),
    ("35", "福建省", "福建"),
    ("36", "江西省", "江西"),
    ("37", "山东省", "山东"),
    ("41", "河南省", "河南"),
    ("42", "湖北省", "湖北"),
    ("43", "湖南省", "湖南"),
    ("44", "广东省", "广东"),
    ("45", "广西壮族自治区", "广西"),
    ("46", "海南省", "海南"),
    ("50", "重庆市", "重庆"),
    ("51", "四川省", "四川"),
    ("52", "贵州省", "贵州"),
    ("53", "云南省", "云南"),
    ("54", "西藏自治区", "西藏"),
    ("61", "陕西省", "陕西"),
    ("62", "甘肃省", "甘肃"),
    ("63", "青海省", "青海"),
    ("64", "宁夏回族自治区", "宁夏"),
    ("65", "新疆维吾尔自治区", "新疆"),
    ("71", "台湾省", "台湾"),
    ("81", "香港特别行政区", "香港"),
    ("82", "澳门特别行政区", "澳门"),
];

/// The province for a 2-digit prefix.
pub fn province_by_code(code: &str) -> Option<&'static Province> {
    PROVINCES.iter().find(|p| p.code == code)
}

/// The province whose full or short name starts the given text (`"广东省深圳市"` → 广东).
pub fn province_by_name(text: &str) -> Option<&'static Province> {
    PROVINCES.iter().find(|p| text.starts_with(p.short))
}

//! 消费类别 — what money is spent on. The fourteen consumption categories double as the
//! interests (兴趣偏好) a person's spending follows; merchants and typical amounts per category.

use crate::calendar::{Hours, Season};

/// A consumption interest; its code is the transaction `category` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    Wine,
    Travel,
    Sports,
    Luxury,
    Education,
    Dining,
    Groceries,
    Entertainment,
    Health,
    Auto,
    Home,
    Kids,
    Beauty,
    Electronics,
}

impl Interest {
    #[rustfmt::skip]
    pub(crate) const ALL: [Interest; 14] = [
        Interest::Wine, Interest::Travel, Interest::Sports, Interest::Luxury, Interest::Education,
        Interest::Dining, Interest::Groceries, Interest::Entertainment, Interest::Health, Interest::Auto,
        Interest::Home, Interest::Kids, Interest::Beauty, Interest::Electronics,
    ];
}

/// How spending in a category looks.
#[derive(Debug)]
pub(crate) struct Profile {
    pub code: &'static str,
    /// Median amount in CNY for a person of median means.
    pub median: f64,
    pub sigma: f64,
    pub season: Season,
    pub hours: Hours,
    /// Share paid online (third-party or mobile) rather than at a terminal.
    pub online: f64,
    pub merchants: &'static [&'static str],
}

const fn p(
    code: &'static str,
    median: f64,
    sigma: f64,
    season: Season,
    hours: Hours,
    online: f64,
    merchants: &'static [&'static str],
) -> Profile {
    Profile {
        code,
        median,
        sigma,
        season,
        hours,
        online,
        merchants,
    }
}

#[rustfmt::skip]
const SPEND: [Profile; 14] = [
    p("wine", 680.0, 0.8, Season::Offline, Hours::Shopping, 0.35, &["贵州茅台专卖店", "五粮液专卖店", "酒仙网", "1919酒类直供", "华致酒行", "名酒汇"]),
    p("travel", 1_600.0, 0.9, Season::Travel, Hours::Evening, 0.8, &["携程旅行", "去哪儿网", "飞猪旅行", "中国国际航空", "东方航空", "南方航空", "铁路12306", "华住酒店", "锦江酒店", "希尔顿酒店"]),
    p("sports", 320.0, 0.8, Season::Offline, Hours::Shopping, 0.45, &["迪卡侬", "耐克", "安踏体育", "李宁", "威尔仕健身", "乐刻运动", "Keep"]),
    p("luxury", 12_000.0, 0.9, Season::Offline, Hours::Shopping, 0.25, &["路易威登", "古驰", "香奈儿", "爱马仕", "卡地亚", "周大福", "老凤祥", "蒂芙尼"]),
    p("education", 3_200.0, 0.9, Season::General, Hours::Evening, 0.6, &["新东方", "学而思", "猿辅导", "中公教育", "华图教育", "英孚教育", "得到"]),
    p("dining", 120.0, 0.7, Season::Offline, Hours::Shopping, 0.55, &["海底捞", "西贝莜面村", "肯德基", "麦当劳", "星巴克", "喜茶", "瑞幸咖啡", "美团外卖", "饿了么", "外婆家"]),
    p("groceries", 180.0, 0.7, Season::Offline, Hours::Shopping, 0.45, &["盒马鲜生", "永辉超市", "沃尔玛", "家乐福", "大润发", "物美超市", "华润万家", "叮咚买菜", "朴朴超市"]),
    p("entertainment", 110.0, 0.8, Season::Offline, Hours::Evening, 0.6, &["万达影城", "猫眼电影", "大麦网", "腾讯视频", "爱奇艺", "网易云音乐", "好乐迪KTV", "欢乐谷"]),
    p("health", 220.0, 0.9, Season::General, Hours::Office, 0.35, &["老百姓大药房", "大参林药房", "益丰大药房", "美年大健康", "爱康国宾", "平安好医生", "京东健康"]),
    p("auto", 420.0, 0.8, Season::General, Hours::Anytime, 0.3, &["中国石化加油站", "中国石油加油站", "途虎养车", "特斯拉", "比亚迪汽车", "上汽大众4S店", "ETC通行费"]),
    p("home", 1_500.0, 1.0, Season::Online, Hours::Evening, 0.55, &["宜家家居", "红星美凯龙", "居然之家", "林氏家居", "顾家家居", "欧派家居"]),
    p("kids", 320.0, 0.8, Season::Online, Hours::Evening, 0.6, &["孩子王", "乐高", "爱婴室", "好孩子", "巴拉巴拉", "上海迪士尼度假区"]),
    p("beauty", 420.0, 0.8, Season::Online, Hours::Evening, 0.65, &["丝芙兰", "屈臣氏", "雅诗兰黛", "兰蔻", "完美日记", "欧莱雅", "美团丽人"]),
    p("electronics", 2_600.0, 0.9, Season::Online, Hours::Evening, 0.75, &["京东商城", "苏宁易购", "天猫", "Apple Store", "华为终端", "小米之家", "国美电器"]),
];

/// Household bills: electricity, water, gas, phone, property management.
pub(crate) const UTILITIES: Profile = p(
    "utilities",
    160.0,
    0.6,
    Season::General,
    Hours::Anytime,
    0.9,
    &[
        "国家电网电费",
        "自来水公司水费",
        "燃气费",
        "中国移动话费",
        "中国联通话费",
        "中国电信话费",
        "物业管理费",
    ],
);

impl Interest {
    /// How spending on this interest looks.
    pub(crate) fn profile(self) -> &'static Profile {
        &SPEND[self as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interest_order_matches_the_profiles() {
        let codes: Vec<&str> = Interest::ALL.iter().map(|&i| i.profile().code).collect();
        assert_eq!(
            codes,
            [
                "wine",
                "travel",
                "sports",
                "luxury",
                "education",
                "dining",
                "groceries",
                "entertainment",
                "health",
                "auto",
                "home",
                "kids",
                "beauty",
                "electronics"
            ]
        );
        assert!(SPEND.iter().all(|p| !p.merchants.is_empty()));
    }
}

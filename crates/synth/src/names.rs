//! 姓名 — Chinese personal names: surnames with their real shares, given-name characters by
//! gender and generation, pinyin for e-mail handles, and the typos that creep into a second
//! customer record (homophones and look-alike characters).

use std::sync::OnceLock;

use portrait_types::Gender;
use rand::Rng;

use crate::rng::{Cdf, RngExt};

/// A surname, its pinyin and its share in basis points of 1/100,000 of the population.
pub(crate) type Surname = (&'static str, &'static str, u32);

/// 姓氏 — the most common surnames with approximate census shares (×1/100,000), plus the
/// compound surnames 欧阳, 上官, 司马, 诸葛, 皇甫.
#[rustfmt::skip]
pub(crate) const SURNAMES: &[Surname] = &[
    ("王", "wang", 7120), ("李", "li", 7060), ("张", "zhang", 6650), ("刘", "liu", 5330), ("陈", "chen", 4530),
    ("杨", "yang", 3080), ("黄", "huang", 2230), ("赵", "zhao", 2290), ("吴", "wu", 2000), ("周", "zhou", 1950),
    ("徐", "xu", 1650), ("孙", "sun", 1540), ("马", "ma", 1480), ("朱", "zhu", 1380), ("胡", "hu", 1340),
    ("郭", "guo", 1190), ("何", "he", 1180), ("林", "lin", 1130), ("高", "gao", 1100), ("罗", "luo", 950),
    ("郑", "zheng", 840), ("梁", "liang", 840), ("谢", "xie", 730), ("宋", "song", 680), ("唐", "tang", 660),
    ("许", "xu", 640), ("韩", "han", 620), ("冯", "feng", 600), ("邓", "deng", 600), ("曹", "cao", 590),
    ("彭", "peng", 580), ("曾", "zeng", 570), ("肖", "xiao", 560), ("田", "tian", 550), ("董", "dong", 540),
    ("袁", "yuan", 530), ("潘", "pan", 520), ("于", "yu", 510), ("蒋", "jiang", 500), ("蔡", "cai", 490),
    ("余", "yu", 480), ("杜", "du", 470), ("叶", "ye", 460), ("程", "cheng", 450), ("苏", "su", 440),
    ("魏", "wei", 430), ("吕", "lv", 420), ("丁", "ding", 410), ("任", "ren", 400), ("沈", "shen", 390),
    ("姚", "yao", 380), ("卢", "lu", 370), ("姜", "jiang", 360), ("崔", "cui", 350), ("钟", "zhong", 340),
    ("谭", "tan", 330), ("陆", "lu", 320), ("汪", "wang", 310), ("范", "fan", 300), ("金", "jin", 300),
    ("石", "shi", 290), ("廖", "liao", 280), ("贾", "jia", 280), ("夏", "xia", 270), ("韦", "wei", 260),
    ("付", "fu", 260), ("方", "fang", 250), ("白", "bai", 250), ("邹", "zou", 240), ("孟", "meng", 240),
    ("熊", "xiong", 230), ("秦", "qin", 230), ("邱", "qiu", 220), ("江", "jiang", 220), ("尹", "yin", 210),
    ("薛", "xue", 210), ("闫", "yan", 200), ("段", "duan", 200), ("雷", "lei", 190), ("侯", "hou", 190),
    ("龙", "long", 180), ("史", "shi", 180), ("陶", "tao", 170), ("黎", "li", 170), ("贺", "he", 160),
    ("顾", "gu", 160), ("毛", "mao", 160), ("郝", "hao", 150), ("龚", "gong", 150), ("邵", "shao", 140),
    ("万", "wan", 140), ("钱", "qian", 140), ("严", "yan", 130), ("覃", "qin", 130), ("武", "wu", 130),
    ("戴", "dai", 120), ("莫", "mo", 120), ("孔", "kong", 120), ("向", "xiang", 110), ("汤", "tang", 110),
    ("常", "chang", 110), ("温", "wen", 100), ("康", "kang", 100), ("施", "shi", 100), ("文", "wen", 100),
    ("牛", "niu", 90), ("樊", "fan", 90), ("葛", "ge", 90), ("邢", "xing", 90), ("安", "an", 80),
    ("齐", "qi", 80), ("易", "yi", 80), ("乔", "qiao", 80), ("伍", "wu", 80), ("庞", "pang", 70),
    ("颜", "yan", 70), ("倪", "ni", 70), ("庄", "zhuang", 70), ("聂", "nie", 70), ("章", "zhang", 70),
    ("鲁", "lu", 60), ("岳", "yue", 60), ("翟", "zhai", 60), ("殷", "yin", 60), ("詹", "zhan", 60),
    ("申", "shen", 60), ("欧", "ou", 60), ("耿", "geng", 60), ("关", "guan", 50), ("兰", "lan", 50),
    ("焦", "jiao", 50), ("俞", "yu", 50), ("左", "zuo", 50), ("柳", "liu", 50), ("甘", "gan", 50),
    ("祝", "zhu", 50), ("包", "bao", 40), ("宁", "ning", 40), ("尚", "shang", 40), ("符", "fu", 40),
    ("舒", "shu", 40), ("阮", "ruan", 40), ("柯", "ke", 40), ("纪", "ji", 40), ("梅", "mei", 40),
    ("童", "tong", 40), ("凌", "ling", 40), ("毕", "bi", 40), ("单", "shan", 30), ("季", "ji", 30),
    ("裴", "pei", 30), ("霍", "huo", 30), ("涂", "tu", 30), ("成", "cheng", 30), ("苗", "miao", 30),
    ("谷", "gu", 30), ("盛", "sheng", 30), ("曲", "qu", 30), ("翁", "weng", 30), ("冉", "ran", 30),
    ("骆", "luo", 30), ("蓝", "lan", 30), ("路", "lu", 30), ("游", "you", 30), ("辛", "xin", 30),
    ("靳", "jin", 30), ("管", "guan", 30), ("柴", "chai", 30), ("蒙", "meng", 30), ("鲍", "bao", 30),
    ("华", "hua", 30), ("喻", "yu", 30), ("祁", "qi", 30), ("蒲", "pu", 30), ("房", "fang", 30),
    ("滕", "teng", 30), ("屈", "qu", 30), ("饶", "rao", 30), ("解", "xie", 30), ("牟", "mou", 30),
    ("艾", "ai", 30), ("尤", "you", 30), ("阳", "yang", 30), ("时", "shi", 30), ("穆", "mu", 30),
    ("欧阳", "ouyang", 80), ("上官", "shangguan", 5), ("司马", "sima", 5), ("诸葛", "zhuge", 5),
    ("皇甫", "huangfu", 5),
];

/// A given-name character: text, pinyin, gender it is used for, and weights by birth
/// generation (before 1970, 1970–1994, from 1995).
#[derive(Debug)]
pub(crate) struct GivenChar {
    pub text: &'static str,
    pub pinyin: &'static str,
    pub weights: [u32; 3],
}

macro_rules! given {
    ($(($t:literal, $p:literal, $a:literal, $b:literal, $c:literal)),* $(,)?) => {
        &[$(GivenChar { text: $t, pinyin: $p, weights: [$a, $b, $c] }),*]
    };
}

/// Characters of men's given names.
#[rustfmt::skip]
const MALE: &[GivenChar] = given![
    ("伟", "wei", 3, 8, 3), ("强", "qiang", 5, 6, 1), ("磊", "lei", 1, 6, 2), ("军", "jun", 6, 6, 1),
    ("勇", "yong", 5, 5, 1), ("杰", "jie", 2, 6, 4), ("涛", "tao", 2, 6, 2), ("斌", "bin", 2, 5, 1),
    ("超", "chao", 1, 5, 2), ("明", "ming", 5, 5, 3), ("刚", "gang", 5, 5, 0), ("平", "ping", 5, 3, 0),
    ("辉", "hui", 3, 5, 2), ("鹏", "peng", 1, 5, 3), ("华", "hua", 6, 4, 1), ("飞", "fei", 2, 5, 2),
    ("鑫", "xin", 0, 3, 4), ("波", "bo", 2, 5, 1), ("宇", "yu", 0, 4, 8), ("浩", "hao", 1, 4, 8),
    ("凯", "kai", 1, 4, 5), ("健", "jian", 2, 4, 2), ("俊", "jun", 2, 4, 4), ("帆", "fan", 0, 2, 4),
    ("旭", "xu", 1, 3, 3), ("龙", "long", 3, 4, 2), ("峰", "feng", 2, 5, 2), ("建", "jian", 6, 3, 0),
    ("国", "guo", 8, 3, 0), ("志", "zhi", 4, 4, 1), ("东", "dong", 4, 4, 1), ("海", "hai", 4, 4, 1),
    ("亮", "liang", 2, 4, 1), ("成", "cheng", 4, 3, 1), ("晨", "chen", 0, 2, 6), ("博", "bo", 0, 2, 6),
    ("轩", "xuan", 0, 0, 8), ("天", "tian", 1, 2, 5), ("瑞", "rui", 0, 2, 5), ("泽", "ze", 0, 1, 7),
    ("睿", "rui", 0, 1, 6), ("鸿", "hong", 2, 2, 2), ("振", "zhen", 3, 2, 0), ("德", "de", 5, 1, 0),
    ("忠", "zhong", 5, 1, 0), ("兵", "bing", 4, 3, 0), ("锋", "feng", 1, 4, 1), ("毅", "yi", 1, 3, 2),
    ("昊", "hao", 0, 1, 5), ("然", "ran", 0, 1, 6), ("航", "hang", 0, 2, 5), ("诚", "cheng", 1, 2, 2),
    ("铭", "ming", 0, 1, 5), ("哲", "zhe", 0, 2, 4), ("翔", "xiang", 1, 3, 3), ("立", "li", 3, 3, 1),
    ("春", "chun", 4, 1, 0), ("光", "guang", 4, 2, 0), ("庆", "qing", 4, 2, 0), ("荣", "rong", 4, 1, 0),
    ("生", "sheng", 4, 1, 0), ("祥", "xiang", 4, 1, 0), ("洪", "hong", 3, 2, 0), ("彬", "bin", 0, 3, 2),
    ("宏", "hong", 3, 3, 1), ("学", "xue", 4, 2, 0), ("家", "jia", 2, 2, 3), ("子", "zi", 0, 0, 7),
    ("宁", "ning", 1, 2, 2), ("林", "lin", 2, 2, 2), ("文", "wen", 4, 3, 2), ("金", "jin", 4, 2, 0),
    ("永", "yong", 5, 2, 0), ("新", "xin", 3, 2, 1), ("晓", "xiao", 1, 3, 1), ("嘉", "jia", 0, 2, 4),
    ("一", "yi", 0, 1, 4), ("思", "si", 0, 1, 3), ("云", "yun", 3, 2, 1), ("阳", "yang", 1, 3, 3),
    ("帅", "shuai", 0, 3, 2),
];

/// Characters of women's given names.
#[rustfmt::skip]
const FEMALE: &[GivenChar] = given![
    ("芳", "fang", 4, 7, 1), ("娜", "na", 0, 6, 2), ("敏", "min", 3, 6, 2), ("静", "jing", 2, 7, 3),
    ("丽", "li", 5, 7, 1), ("艳", "yan", 3, 6, 0), ("娟", "juan", 2, 6, 0), ("霞", "xia", 4, 5, 0),
    ("秀", "xiu", 7, 2, 0), ("英", "ying", 7, 2, 0), ("玲", "ling", 3, 5, 1), ("婷", "ting", 0, 6, 4),
    ("燕", "yan", 3, 5, 1), ("红", "hong", 5, 4, 0), ("琳", "lin", 0, 4, 4), ("雪", "xue", 1, 4, 4),
    ("梅", "mei", 5, 3, 0), ("莉", "li", 1, 4, 2), ("倩", "qian", 0, 5, 3), ("慧", "hui", 2, 4, 3),
    ("颖", "ying", 0, 4, 4), ("洁", "jie", 1, 5, 2), ("佳", "jia", 0, 3, 6), ("欣", "xin", 0, 3, 7),
    ("悦", "yue", 0, 2, 6), ("萍", "ping", 4, 4, 0), ("琴", "qin", 4, 3, 0), ("兰", "lan", 6, 2, 0),
    ("璐", "lu", 0, 2, 4), ("晶", "jing", 1, 4, 2), ("雯", "wen", 0, 3, 5), ("蕾", "lei", 0, 4, 2),
    ("露", "lu", 1, 3, 2), ("丹", "dan", 1, 5, 2), ("妍", "yan", 0, 2, 6), ("怡", "yi", 0, 2, 7),
    ("瑶", "yao", 0, 2, 6), ("雅", "ya", 0, 2, 6), ("婉", "wan", 0, 1, 3), ("馨", "xin", 0, 1, 6),
    ("诗", "shi", 0, 0, 7), ("涵", "han", 0, 1, 8), ("梓", "zi", 0, 0, 6), ("萱", "xuan", 0, 1, 7),
    ("可", "ke", 0, 1, 6), ("琪", "qi", 0, 2, 5), ("晓", "xiao", 1, 5, 1), ("春", "chun", 4, 2, 0),
    ("凤", "feng", 6, 2, 0), ("华", "hua", 5, 3, 0), ("桂", "gui", 6, 1, 0), ("淑", "shu", 6, 1, 0),
    ("珍", "zhen", 6, 1, 0), ("玉", "yu", 6, 2, 0), ("美", "mei", 3, 3, 2), ("月", "yue", 3, 2, 2),
    ("彤", "tong", 0, 1, 5), ("思", "si", 0, 2, 5), ("文", "wen", 2, 3, 2), ("楠", "nan", 0, 3, 3),
    ("蓉", "rong", 3, 3, 0), ("婧", "jing", 0, 3, 3), ("薇", "wei", 0, 3, 3), ("菲", "fei", 0, 3, 3),
    ("媛", "yuan", 0, 3, 2), ("茜", "qian", 0, 2, 3), ("嘉", "jia", 0, 2, 4), ("欢", "huan", 1, 3, 1),
    ("若", "ruo", 0, 0, 5), ("依", "yi", 0, 1, 5), ("一", "yi", 0, 0, 5), ("心", "xin", 0, 1, 4),
    ("语", "yu", 0, 0, 6), ("紫", "zi", 0, 1, 4),
];

/// Look-alike and sound-alike characters that data-entry clerks confuse (形近字, 同音字),
/// beyond the same-pinyin characters of the pools.
#[rustfmt::skip]
const CONFUSABLE: &[(&str, &str)] = &[
    ("王", "玉"), ("王", "汪"), ("张", "章"), ("李", "黎"), ("刘", "柳"), ("陈", "程"), ("杨", "扬"),
    ("杨", "阳"), ("黄", "王"), ("周", "邹"), ("吴", "武"), ("徐", "许"), ("徐", "涂"), ("于", "余"),
    ("于", "俞"), ("蒋", "姜"), ("江", "姜"), ("侯", "候"), ("梁", "粱"), ("肖", "萧"), ("闫", "阎"),
    ("付", "傅"), ("晴", "睛"), ("娟", "涓"), ("鹏", "朋"), ("萍", "苹"), ("婷", "亭"), ("芳", "方"),
    ("伟", "玮"), ("静", "靖"), ("军", "君"), ("峰", "锋"), ("燕", "艳"), ("斌", "彬"), ("涛", "韬"),
    ("辉", "晖"), ("玲", "铃"), ("红", "宏"), ("红", "鸿"), ("华", "桦"), ("晨", "辰"), ("文", "雯"),
    ("浩", "皓"), ("宇", "雨"), ("俊", "骏"), ("欣", "昕"), ("佳", "家"), ("颖", "影"), ("凯", "恺"),
    ("慧", "惠"), ("倩", "茜"), ("丽", "莉"), ("明", "鸣"), ("杰", "洁"), ("敏", "民"), ("霞", "夏"),
    ("娜", "那"), ("刚", "钢"), ("英", "瑛"), ("琳", "林"), ("雪", "薛"), ("秀", "绣"), ("兰", "岚"),
];

/// Name generations by birth year, the index into [`GivenChar::weights`].
pub(crate) fn generation(birth_year: i32) -> usize {
    match birth_year {
        ..1970 => 0,
        1970..1995 => 1,
        _ => 2,
    }
}

fn surname_cdf() -> &'static Cdf {
    static CDF: OnceLock<Cdf> = OnceLock::new();
    CDF.get_or_init(|| Cdf::new(SURNAMES.iter().map(|s| f64::from(s.2))))
}

fn given_cdfs() -> &'static [[Cdf; 3]; 2] {
    static CDFS: OnceLock<[[Cdf; 3]; 2]> = OnceLock::new();
    CDFS.get_or_init(|| {
        let make = |pool: &[GivenChar]| {
            [0, 1, 2].map(|g| Cdf::new(pool.iter().map(|c| f64::from(c.weights[g]))))
        };
        [make(MALE), make(FEMALE)]
    })
}

pub(crate) fn surname(rng: &mut impl Rng) -> &'static Surname {
    &SURNAMES[surname_cdf().sample(rng)]
}

/// 名 — one or two characters fitting the gender and the birth year.
pub(crate) fn given_name(
    rng: &mut impl Rng,
    gender: Gender,
    birth_year: i32,
) -> Vec<&'static GivenChar> {
    let (pool, cdfs) = match gender {
        Gender::Male => (MALE, &given_cdfs()[0]),
        Gender::Female => (FEMALE, &given_cdfs()[1]),
    };
    let era = generation(birth_year);
    // Single-character names peaked among people born in the 1980s and 1990s.
    let single = if era == 1 { 0.28 } else { 0.12 };
    let first = &pool[cdfs[era].sample(rng)];
    if rng.chance(single) {
        return vec![first];
    }
    loop {
        let second = &pool[cdfs[era].sample(rng)];
        if second.text != first.text {
            return vec![first, second];
        }
    }
}

/// Pinyin of a name character when it is in one of the tables.
pub(crate) fn pinyin_of(text: &str) -> Option<&'static str> {
    SURNAMES
        .iter()
        .find(|s| s.0 == text)
        .map(|s| s.1)
        .or_else(|| {
            MALE.iter()
                .chain(FEMALE)
                .find(|c| c.text == text)
                .map(|c| c.pinyin)
        })
}

/// A character a clerk might write instead of `c`: a listed confusable or a same-pinyin
/// character of the name pools.
pub(crate) fn confusable(rng: &mut impl Rng, c: &str) -> Option<&'static str> {
    let mut options: Vec<&'static str> = CONFUSABLE
        .iter()
        .filter_map(|&(a, b)| {
            if a == c {
                Some(b)
            } else if b == c {
                Some(a)
            } else {
                None
            }
        })
        .collect();
    if let Some(py) = pinyin_of(c) {
        options.extend(
            MALE.iter()
                .chain(FEMALE)
                .filter(|g| g.pinyin == py && g.text != c)
                .map(|g| g.text),
        );
    }
    options.sort_unstable();
    options.dedup();
    (!options.is_empty()).then(|| rng.pick(&options))
}

/// 电子邮箱 — a mailbox as Chinese customers have them: QQ numbers, pinyin handles at the
/// big domestic providers.
pub(crate) fn email(
    rng: &mut impl Rng,
    surname_py: &str,
    given_py: &[&str],
    birth_year: i32,
) -> String {
    #[rustfmt::skip]
    const DOMAINS: &[(&str, u32)] = &[
        ("163.com", 30), ("126.com", 12), ("sina.com", 6), ("139.com", 6), ("foxmail.com", 5), ("gmail.com", 3),
        ("hotmail.com", 3), ("sohu.com", 3), ("yeah.net", 2), ("aliyun.com", 2),
    ];
    if rng.chance(0.38) {
        let digits = rng.random_range(5..=10);
        let mut n = rng.random_range(1..=9).to_string();
        for _ in 1..digits {
            n.push(char::from(b'0' + rng.random_range(0..10u8)));
        }
        return format!("{n}@qq.com");
    }
    let domain = rng.weighted(DOMAINS);
    let full: String = given_py.concat();
    let initials: String = given_py.iter().filter_map(|p| p.chars().next()).collect();
    let handle = match rng.random_range(0..5) {
        0 => format!("{surname_py}{full}"),
        1 => format!("{surname_py}{full}{}", birth_year % 100),
        2 => format!("{surname_py}{initials}{}", rng.random_range(1..1000)),
        3 => format!("{full}.{surname_py}"),
        _ => format!("{}{initials}{birth_year}", &surname_py[..1]),
    };
    format!("{handle}@{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, rng_for};

    #[test]
    fn common_surnames_dominate() {
        let mut rng = rng_for(1, Stream::Unit, 0);
        let n = 20_000;
        let top5 = (0..n)
            .filter(|_| ["王", "李", "张", "刘", "陈"].contains(&surname(&mut rng).0))
            .count();
        let share = top5 as f64 / n as f64;
        assert!((0.25..0.36).contains(&share), "{share}");
    }

    #[test]
    fn every_name_character_has_pinyin_and_pools_are_consistent() {
        for c in MALE.iter().chain(FEMALE) {
            assert_eq!(c.text.chars().count(), 1);
            assert!(c.weights.iter().sum::<u32>() > 0, "{}", c.text);
        }
        let mut rng = rng_for(1, Stream::Unit, 1);
        for year in [1950, 1985, 2005] {
            for g in [Gender::Male, Gender::Female] {
                let name = given_name(&mut rng, g, year);
                assert!((1..=2).contains(&name.len()));
            }
        }
        assert_eq!(pinyin_of("欧阳"), Some("ouyang"));
        assert!(confusable(&mut rng, "王").is_some());
    }
}

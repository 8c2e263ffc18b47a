//! 地址 — where customers live and come from: real GB/T 2260 district codes with their
//! province, city, postcode and telephone area code; roads, residential compounds and the
//! branches of the bank.

use std::sync::OnceLock;

use portrait_types::region::{Province, province_by_code};
use rand::Rng;

use crate::rng::{Cdf, RngExt};

/// A county-level division (区/县/县级市).
#[derive(Debug)]
pub(crate) struct Region {
    /// 行政区划代码 — 6 digits, the prefix of local ID numbers.
    pub code: &'static str,
    pub city: &'static str,
    pub district: &'static str,
    pub postcode: &'static str,
    /// 长途区号 of landlines.
    pub area_code: &'static str,
    /// Weight among the bank's customers' places of residence.
    residence: u32,
    /// Weight among the places of origin (户籍) of people who moved.
    origin: u32,
}

macro_rules! regions {
    ($(($code:literal, $city:literal, $district:literal, $post:literal, $area:literal, $res:literal, $orig:literal)),* $(,)?) => {
        &[$(Region { code: $code, city: $city, district: $district, postcode: $post, area_code: $area, residence: $res, origin: $orig }),*]
    };
}

/// The districts the synthetic bank knows, weighted towards the east and south where it has
/// most branches; origins weighted towards the provinces people migrate from.
#[rustfmt::skip]
pub(crate) const REGIONS: &[Region] = regions![
    ("110101", "北京市", "东城区", "100010", "010", 12, 3),
    ("110102", "北京市", "西城区", "100032", "010", 14, 3),
    ("110105", "北京市", "朝阳区", "100020", "010", 30, 5),
    ("110106", "北京市", "丰台区", "100071", "010", 14, 3),
    ("110108", "北京市", "海淀区", "100080", "010", 26, 5),
    ("110114", "北京市", "昌平区", "102200", "010", 10, 2),
    ("120101", "天津市", "和平区", "300041", "022", 6, 2),
    ("120104", "天津市", "南开区", "300100", "022", 8, 3),
    ("120116", "天津市", "滨海新区", "300450", "022", 8, 3),
    ("130102", "石家庄市", "长安区", "050011", "0311", 6, 8),
    ("130203", "唐山市", "路北区", "063000", "0315", 4, 6),
    ("130602", "保定市", "竞秀区", "071000", "0312", 4, 8),
    ("140105", "太原市", "小店区", "030032", "0351", 5, 8),
    ("150102", "呼和浩特市", "新城区", "010050", "0471", 3, 5),
    ("210102", "沈阳市", "和平区", "110001", "024", 6, 7),
    ("210202", "大连市", "中山区", "116001", "0411", 6, 5),
    ("220102", "长春市", "南关区", "130022", "0431", 4, 6),
    ("230102", "哈尔滨市", "道里区", "150010", "0451", 5, 8),
    ("310101", "上海市", "黄浦区", "200001", "021", 12, 3),
    ("310104", "上海市", "徐汇区", "200030", "021", 20, 3),
    ("310105", "上海市", "长宁区", "200050", "021", 12, 2),
    ("310110", "上海市", "杨浦区", "200082", "021", 14, 3),
    ("310112", "上海市", "闵行区", "201100", "021", 22, 3),
    ("310115", "上海市", "浦东新区", "200120", "021", 45, 5),
    ("320102", "南京市", "玄武区", "210018", "025", 10, 4),
    ("320106", "南京市", "鼓楼区", "210009", "025", 10, 4),
    ("320211", "无锡市", "滨湖区", "214071", "0510", 8, 3),
    ("320505", "苏州市", "虎丘区", "215011", "0512", 10, 3),
    ("320508", "苏州市", "姑苏区", "215008", "0512", 10, 4),
    ("320602", "南通市", "崇川区", "226001", "0513", 6, 5),
    ("330106", "杭州市", "西湖区", "310013", "0571", 14, 4),
    ("330108", "杭州市", "滨江区", "310051", "0571", 10, 2),
    ("330203", "宁波市", "海曙区", "315000", "0574", 8, 3),
    ("330302", "温州市", "鹿城区", "325000", "0577", 8, 5),
    ("330782", "金华市", "义乌市", "322000", "0579", 6, 3),
    ("340104", "合肥市", "蜀山区", "230031", "0551", 8, 8),
    ("341202", "阜阳市", "颍州区", "236000", "0558", 2, 14),
    ("350102", "福州市", "鼓楼区", "350001", "0591", 7, 4),
    ("350203", "厦门市", "思明区", "361001", "0592", 8, 3),
    ("350503", "泉州市", "丰泽区", "362000", "0595", 6, 4),
    ("360102", "南昌市", "东湖区", "330006", "0791", 5, 7),
    ("360702", "赣州市", "章贡区", "341000", "0797", 2, 10),
    ("370102", "济南市", "历下区", "250011", "0531", 8, 7),
    ("370202", "青岛市", "市南区", "266001", "0532", 8, 5),
    ("370212", "青岛市", "崂山区", "266100", "0532", 5, 2),
    ("370602", "烟台市", "芝罘区", "264000", "0535", 4, 6),
    ("410105", "郑州市", "金水区", "450008", "0371", 9, 10),
    ("410305", "洛阳市", "涧西区", "471003", "0379", 3, 8),
    ("411302", "南阳市", "宛城区", "473000", "0377", 2, 14),
    ("411402", "商丘市", "梁园区", "476000", "0370", 2, 12),
    ("420102", "武汉市", "江岸区", "430014", "027", 8, 6),
    ("420106", "武汉市", "武昌区", "430061", "027", 8, 6),
    ("420111", "武汉市", "洪山区", "430070", "027", 8, 6),
    ("430102", "长沙市", "芙蓉区", "410011", "0731", 7, 6),
    ("430104", "长沙市", "岳麓区", "410006", "0731", 7, 6),
    ("431002", "郴州市", "北湖区", "423000", "0735", 2, 10),
    ("440103", "广州市", "荔湾区", "510140", "020", 10, 4),
    ("440104", "广州市", "越秀区", "510030", "020", 12, 4),
    ("440106", "广州市", "天河区", "510630", "020", 24, 4),
    ("440303", "深圳市", "罗湖区", "518001", "0755", 12, 2),
    ("440304", "深圳市", "福田区", "518033", "0755", 22, 2),
    ("440305", "深圳市", "南山区", "518052", "0755", 26, 2),
    ("440306", "深圳市", "宝安区", "518101", "0755", 16, 2),
    ("440402", "珠海市", "香洲区", "519000", "0756", 5, 2),
    ("440604", "佛山市", "禅城区", "528000", "0757", 8, 4),
    ("450103", "南宁市", "青秀区", "530022", "0771", 5, 8),
    ("460108", "海口市", "美兰区", "570203", "0898", 3, 3),
    ("500103", "重庆市", "渝中区", "400010", "023", 8, 8),
    ("500105", "重庆市", "江北区", "400020", "023", 6, 8),
    ("500112", "重庆市", "渝北区", "401120", "023", 7, 8),
    ("510104", "成都市", "锦江区", "610021", "028", 8, 8),
    ("510107", "成都市", "武侯区", "610041", "028", 10, 8),
    ("510108", "成都市", "成华区", "610066", "028", 6, 8),
    ("511302", "南充市", "顺庆区", "637000", "0817", 2, 14),
    ("520102", "贵阳市", "南明区", "550001", "0851", 4, 8),
    ("530102", "昆明市", "五华区", "650021", "0871", 5, 6),
    ("540102", "拉萨市", "城关区", "850000", "0891", 1, 1),
    ("610103", "西安市", "碑林区", "710001", "029", 7, 6),
    ("610113", "西安市", "雁塔区", "710061", "029", 9, 6),
    ("620102", "兰州市", "城关区", "730030", "0931", 3, 6),
    ("630102", "西宁市", "城东区", "810007", "0971", 1, 2),
    ("640104", "银川市", "兴庆区", "750001", "0951", 2, 2),
    ("650102", "乌鲁木齐市", "天山区", "830002", "0991", 3, 3),
];

/// Index into [`REGIONS`].
pub(crate) type RegionId = u16;

impl Region {
    pub(crate) fn province(&self) -> &'static Province {
        province_by_code(&self.code[..2]).expect("region codes use real province prefixes")
    }

    /// 直辖市 — Beijing, Tianjin, Shanghai, Chongqing: the city is the province.
    pub(crate) fn is_municipality(&self) -> bool {
        matches!(&self.code[..2], "11" | "12" | "31" | "50")
    }

    /// The city without its 市 suffix (上海, 乌鲁木齐).
    pub(crate) fn city_short(&self) -> &'static str {
        self.city.strip_suffix('市').unwrap_or(self.city)
    }

    /// The district without its suffix (浦东, 南山, 义乌).
    pub(crate) fn district_short(&self) -> &'static str {
        ["新区", "区", "市", "县"]
            .iter()
            .find_map(|s| self.district.strip_suffix(s))
            .unwrap_or(self.district)
    }

    /// First-tier and strong second-tier cities, where incomes and prices are higher.
    pub(crate) fn tier(&self) -> u8 {
        match self.city_short() {
            "北京" | "上海" | "深圳" | "广州" => 1,
            "杭州" | "南京" | "苏州" | "成都" | "武汉" | "天津" | "重庆" | "西安" | "宁波"
            | "厦门" | "青岛" | "长沙" | "无锡" | "郑州" | "济南" | "合肥" | "福州" | "佛山"
            | "东莞" | "珠海" | "大连" | "沈阳" => 2,
            _ => 3,
        }
    }

    /// 开户网点 — the branch in this district.
    pub(crate) fn branch(&self) -> String {
        format!("{}{}支行", self.city_short(), self.district_short())
    }
}

pub(crate) fn region(id: RegionId) -> &'static Region {
    &REGIONS[usize::from(id)]
}

fn residence_cdf() -> &'static Cdf {
    static CDF: OnceLock<Cdf> = OnceLock::new();
    CDF.get_or_init(|| Cdf::new(REGIONS.iter().map(|r| f64::from(r.residence))))
}

fn origin_cdf() -> &'static Cdf {
    static CDF: OnceLock<Cdf> = OnceLock::new();
    CDF.get_or_init(|| Cdf::new(REGIONS.iter().map(|r| f64::from(r.origin))))
}

/// A place of residence among the bank's customers.
pub(crate) fn residence(rng: &mut impl Rng) -> RegionId {
    residence_cdf().sample(rng) as RegionId
}

/// A place of origin of someone who moved (usually another province).
pub(crate) fn origin(rng: &mut impl Rng, home: RegionId) -> RegionId {
    for _ in 0..4 {
        let r = origin_cdf().sample(rng) as RegionId;
        if region(r).code[..2] != region(home).code[..2] {
            return r;
        }
    }
    home
}

/// Another district of the same city, if the table has one.
pub(crate) fn same_city(rng: &mut impl Rng, home: RegionId) -> RegionId {
    let city = region(home).city;
    let options: Vec<RegionId> = (0..REGIONS.len() as RegionId)
        .filter(|&r| region(r).city == city)
        .collect();
    rng.pick(&options)
}

const ROADS: &[&str] = &[
    "人民", "解放", "中山", "建设", "和平", "新华", "胜利", "朝阳", "文化", "长江", "黄河", "延安",
    "健康", "青年", "光明", "友谊", "东风", "幸福", "学府", "科技", "工业", "滨江", "湖滨", "花园",
    "北京", "上海", "淮海", "南京", "金融", "世纪", "迎宾", "体育", "振兴", "复兴", "环城", "锦绣",
    "丰收", "团结", "新民", "建国", "红旗", "东湖", "西湖", "南湖", "望江", "翠微", "长安", "民生",
    "海景", "创业",
];
const ROAD_KINDS: &[(&str, u32)] = &[
    ("路", 70),
    ("大道", 12),
    ("街", 12),
    ("东路", 3),
    ("西路", 3),
];
#[rustfmt::skip]
const COMPOUNDS: &[&str] = &[
    "阳光花园", "碧桂园", "万科城", "金色家园", "翠湖苑", "锦绣江南", "幸福里", "东方名城", "世纪花园",
    "保利花园", "恒大名都", "绿地新都会", "华润城", "中海国际社区", "滨江花园", "紫薇花园", "丽景湾",
    "御景华庭", "书香门第", "金地格林小镇", "融创壹号院", "名仕苑", "怡景新村", "工人新村", "教师公寓",
    "供电小区", "和谐家园", "春晓苑", "桃源居", "龙湖春江郦城", "招商雍景湾", "天鹅湖花园", "海悦花园",
    "新城国际", "香榭丽舍", "清华园", "水岸华庭", "嘉园小区", "金桥新村", "凤凰城",
];
#[rustfmt::skip]
const BUILDINGS: &[&str] = &[
    "国际大厦", "商务中心", "金融大厦", "科技园", "创业大厦", "中心广场", "财富中心", "贸易大厦",
];

/// 详细地址 — a street address `城市 + 区 + 路名 + 号 + 小区 + 栋 + 室`.
#[derive(Debug, Clone)]
pub(crate) struct Address {
    pub region: RegionId,
    road: String,
    number: u16,
    place: &'static str,
    building: u8,
    unit: Option<u8>,
    room: u16,
    /// An office address (…大厦12层1203室) rather than a home.
    office: bool,
}

/// How a second customer record writes the same address.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AddressVariant {
    /// 上海市 → 上海.
    pub abbreviate_city: bool,
    /// 号 → #.
    pub hash_sign: bool,
    pub drop_district: bool,
    /// Another room (moved within the building, or a typo).
    pub other_room: Option<u16>,
}

impl Address {
    pub(crate) fn home(rng: &mut impl Rng, region: RegionId) -> Self {
        let road = format!("{}{}", rng.pick(ROADS), rng.weighted(ROAD_KINDS));
        let floor = rng.random_range(1..=33u16);
        Self {
            region,
            road,
            number: rng.random_range(1..=1888),
            place: rng.pick(COMPOUNDS),
            building: rng.random_range(1..=36),
            unit: rng.chance(0.4).then(|| rng.random_range(1..=4)),
            room: floor * 100 + rng.random_range(1..=6),
            office: false,
        }
    }

    pub(crate) fn office(rng: &mut impl Rng, region: RegionId) -> Self {
        let mut a = Self::home(rng, region);
        a.place = rng.pick(BUILDINGS);
        a.office = true;
        a
    }

    pub(crate) fn region(&self) -> &'static Region {
        region(self.region)
    }

    /// A different room in the same building.
    pub(crate) fn other_room(&self, rng: &mut impl Rng) -> u16 {
        loop {
            let r = rng.random_range(1..=33u16) * 100 + rng.random_range(1..=6);
            if r != self.room {
                return r;
            }
        }
    }

    pub(crate) fn render(&self, v: AddressVariant) -> String {
        let reg = self.region();
        let city = if v.abbreviate_city {
            reg.city_short()
        } else {
            reg.city
        };
        let district = if v.drop_district { "" } else { reg.district };
        let sign = if v.hash_sign { "#" } else { "号" };
        let room = v.other_room.unwrap_or(self.room);
        if self.office {
            let floor = room / 100;
            return format!(
                "{city}{district}{}{}{sign}{}{floor}层{room}室",
                self.road, self.number, self.place
            );
        }
        let unit = self.unit.map(|u| format!("{u}单元")).unwrap_or_default();
        format!(
            "{city}{district}{}{}{sign}{}{}栋{unit}{room}室",
            self.road, self.number, self.place, self.building
        )
    }
}

/// 固定电话 — a landline in the region: area code and a 7- or 8-digit local number.
pub(crate) fn landline(rng: &mut impl Rng, region: &Region) -> String {
    let digits = if region.area_code.len() == 3 || region.tier() <= 2 {
        8
    } else {
        7
    };
    let mut local = rng.random_range(2..=8u8).to_string();
    for _ in 1..digits {
        local.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    format!("{}-{local}", region.area_code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn region_table_is_well_formed() {
        let mut codes = HashSet::new();
        for r in REGIONS {
            assert!(codes.insert(r.code), "duplicate {}", r.code);
            assert_eq!(r.code.len(), 6);
            assert_eq!(r.postcode.len(), 6);
            let _ = r.province();
            assert!(r.city.ends_with('市'));
        }
        assert!(REGIONS.len() >= 60);
    }

    #[test]
    fn addresses_render_with_their_variants() {
        let mut rng = crate::rng::rng_for(1, crate::rng::Stream::Unit, 0);
        let pudong = REGIONS.iter().position(|r| r.code == "310115").unwrap() as RegionId;
        let a = Address::home(&mut rng, pudong);
        let full = a.render(AddressVariant::default());
        assert!(full.starts_with("上海市浦东新区"), "{full}");
        let v = a.render(AddressVariant {
            abbreviate_city: true,
            hash_sign: true,
            drop_district: true,
            other_room: None,
        });
        assert!(
            v.starts_with("上海") && !v.contains("浦东") && v.contains('#'),
            "{v}"
        );
        assert_eq!(region(pudong).branch(), "上海浦东支行");
    }
}

/// A generated address written in full, and in every variant a second customer record of the
/// same person may carry: what address normalisation elsewhere must see through.
#[derive(Debug, Clone)]
pub struct AddressSample {
    pub province: &'static str,
    pub city: &'static str,
    pub district: &'static str,
    pub full: String,
    pub variants: Vec<AddressVariantText>,
    /// The same building, another room: a different address.
    pub other_room: String,
}

/// One way a duplicate record writes an address.
#[derive(Debug, Clone)]
pub struct AddressVariantText {
    pub text: String,
    /// The district field that comes with it (empty when the variant drops it).
    pub district: &'static str,
    /// `上海市` written `上海`.
    pub abbreviated_city: bool,
}

/// `per_region` homes and offices in every region, seeded.
pub fn address_samples(per_region: usize, seed: u64) -> Vec<AddressSample> {
    let mut rng = crate::rng::rng_for(seed, crate::rng::Stream::Unit, u64::MAX);
    let mut out = Vec::new();
    for id in 0..REGIONS.len() as RegionId {
        let reg = region(id);
        for k in 0..per_region {
            let a = if k % 6 == 5 {
                Address::office(&mut rng, id)
            } else {
                Address::home(&mut rng, id)
            };
            let variants = [
                (true, false, false),
                (false, true, false),
                (false, false, true),
                (true, true, false),
                (false, true, true),
            ]
            .into_iter()
            .map(
                |(abbreviate_city, hash_sign, drop_district)| AddressVariantText {
                    text: a.render(AddressVariant {
                        abbreviate_city,
                        hash_sign,
                        drop_district,
                        other_room: None,
                    }),
                    district: if drop_district { "" } else { reg.district },
                    abbreviated_city: abbreviate_city,
                },
            )
            .collect();
            let other_room = a.render(AddressVariant {
                other_room: Some(a.other_room(&mut rng)),
                ..AddressVariant::default()
            });
            out.push(AddressSample {
                province: reg.province().name,
                city: reg.city,
                district: reg.district,
                full: a.render(AddressVariant::default()),
                variants,
                other_room,
            });
        }
    }
    out
}

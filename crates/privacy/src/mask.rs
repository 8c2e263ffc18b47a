//! 脱敏 — the masking policy: which characters of each personal field each role sees.
//!
//! Every response of the API that may carry personal data passes through [`mask_json`], and
//! every file that leaves the store (audience exports, `sql --out`) through [`mask_batch`]. Both
//! go by the meaning of a column ([`Field::of_column`]): one table names the personal columns of
//! the canonical model (SPEC §2) and of the tables derived from it (`party`), and a test checks
//! that every column of the model is either in it or declared not personal
//! ([`NOT_PERSONAL`]), so a new column cannot leave unmasked by oversight. As a second line of
//! defence, every other string is scanned by [`mask_text`] for digit runs shaped like an
//! 18-digit resident ID number, an 11-digit mobile number or a 16–19 digit card number, which are
//! masked wherever they appear (free text, evidence, audit parameters).
//!
//! The policy (also in `docs/security.md`):
//!
//! | field | admin | analyst | marketer | auditor |
//! |---|---|---|---|---|
//! | ID number (证件号码), USCC (统一社会信用代码) | full | first 3 + last 4 | first 3 + last 4 | first 3 + last 4 |
//! | mobile, phone (手机号, 电话) | full | first 3 + last 4 | first 3 + last 4 | first 3 + last 4 |
//! | card / account number (卡号, 账号) | full | first 6 + last 4 | first 6 + last 4 | first 6 + last 4 |
//! | name (姓名), employer, legal representative | full | first character | first character | first character |
//! | given name (名) | full | hidden | hidden | hidden |
//! | address (地址) | full | down to the district | down to the district | down to the district |
//! | e-mail (电子邮箱) | full | first character + domain | first character + domain | first character + domain |
//! | birth date (出生日期) | full | year only | year only | year only |
//! | notes (备注: free text typed by staff) | full | hidden | hidden | hidden |
//! | free text (evidence, parameters) | full | digits of ID, mobile and card shapes masked | same | same |

use portrait_types::mask_keep;
use serde_json::Value;

use crate::Role;

/// A kind of personal field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// 证件号码 — resident ID, passport or other ID number, and the unified social credit code of
    /// a company (JR/T 0171-2020: C2).
    IdNo,
    /// 手机号码, 固定电话 — mobile and phone numbers (C2).
    Mobile,
    /// 银行卡号, 账号 — card and account numbers (C2).
    Card,
    /// 姓名 — a person's or a company's name (C2): employers, legal representatives.
    Name,
    /// 名 — the given name alone (the surname is shown as part of [`Field::Name`]).
    GivenName,
    /// 地址 — postal address (C2).
    Address,
    /// 电子邮箱 — e-mail address (C2).
    Email,
    /// 出生日期 — birth date (C2).
    BirthDate,
    /// Free text that may quote personal data (link evidence).
    Text,
    /// Free text typed by staff about a customer (interaction notes): anything may be in it.
    Note,
}

impl Field {
    /// The meaning of a column (or JSON key) by its name, if it is personal: the one masking
    /// table of the product. Canonical column names first (SPEC §2, `party`), then the spellings
    /// other interfaces use for the same values.
    pub fn of_column(name: &str) -> Option<Field> {
        Some(match name {
            "id_no"
            | "uscc"
            | "legal_rep_id_no"
            | "id_number"
            | "idcard"
            | "id_card"
            | "证件号码"
            | "统一社会信用代码" => Field::IdNo,
            "mobile" | "phone" | "tel" | "telephone" | "contact_phone" | "手机号" | "电话" => {
                Field::Mobile
            }
            "card_no" | "card_number" | "account_no" | "acct_no" | "counterparty" | "卡号"
            | "账号" => Field::Card,
            "name" | "employer" | "legal_rep" | "cust_name" | "full_name" | "other_name"
            | "姓名" => Field::Name,
            "given_name" => Field::GivenName,
            "address" | "addr" | "home_address" | "地址" => Field::Address,
            "email" | "e_mail" | "电子邮箱" => Field::Email,
            "birth_date" | "birthday" | "出生日期" => Field::BirthDate,
            "note" | "备注" => Field::Note,
            "evidence" => Field::Text,
            _ => return None,
        })
    }
}

/// Columns of the canonical model that hold no personal data on their own: codes, amounts,
/// dates of events, places no finer than a district, and the customer number (the key every
/// interface shows). With [`Field::of_column`] this covers every column of every table, which a
/// test checks.
pub const NOT_PERSONAL: &[&str] = &[
    "cust_no",
    "cust_type",
    "surname",
    "gender",
    "ethnicity",
    "hukou",
    "education",
    "degree",
    "occupation",
    "industry",
    "income_band",
    "dependents",
    "marital_status",
    "is_employee",
    "has_property",
    "has_car",
    "province",
    "city",
    "district",
    "postcode",
    "id_type",
    "enterprise_type",
    "registration_type",
    "industry_code",
    "group_id",
    "is_supply_chain",
    "is_interbank",
    "registered_capital",
    "open_date",
    "open_branch",
    "open_channel",
    "manager",
    "status",
    "credit_rating",
    "mobile_banking",
    "online_banking",
    "phone_banking",
    "marketing_consent",
    "financial_assets",
    "product_type",
    "snapshot_date",
    "balance",
    "txn_id",
    "ts",
    "amount",
    "direction",
    "category",
    "product_id",
    "merchant",
    "close_date",
    "revenue",
    "cost",
    "days_overdue",
    "event_id",
    "platform",
    "source_channel",
    "event_type",
    "page",
    "campaign_id",
    "channel",
    "contact_date",
    "responded",
    "converted",
    "related_cust_no",
    "relation_type",
    "interaction_id",
    "kind",
    "satisfaction",
    "product_name",
    "risk_level",
];

/// What a role sees of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskRule {
    /// The value as stored.
    Plain,
    /// The first `head` and last `tail` characters; the rest as `*`.
    Keep { head: usize, tail: usize },
    /// The first character (the surname of a Chinese name), then `*`.
    Surname,
    /// Nothing: `*` for every character, at least one.
    Hidden,
    /// The address up to its district (区/县/旗), then `****`.
    District,
    /// The first character of the local part and the domain.
    EmailDomain,
    /// The year only.
    Year,
    /// Digit runs shaped like ID, mobile or card numbers masked.
    Scan,
}

/// The masking policy: what `role` sees of `field`. Only admins see plain values.
pub fn rule(role: Role, field: Field) -> MaskRule {
    if role == Role::Admin {
        return MaskRule::Plain;
    }
    match field {
        Field::IdNo => MaskRule::Keep { head: 3, tail: 4 },
        Field::Mobile => MaskRule::Keep { head: 3, tail: 4 },
        Field::Card => MaskRule::Keep { head: 6, tail: 4 },
        Field::Name => MaskRule::Surname,
        Field::GivenName | Field::Note => MaskRule::Hidden,
        Field::Address => MaskRule::District,
        Field::Email => MaskRule::EmailDomain,
        Field::BirthDate => MaskRule::Year,
        Field::Text => MaskRule::Scan,
    }
}

/// What a caller under `rule` sees of a value: the rule, then what it leaves scanned for ID-,
/// mobile- and card-shaped numbers (a masked address can still hold a phone number).
pub fn mask_value(rule: MaskRule, s: &str) -> String {
    match rule {
        MaskRule::Plain => s.to_string(),
        MaskRule::Scan => mask_text(s),
        r => mask_text(&apply(r, s)),
    }
}

/// Applies one rule to one string.
pub fn apply(rule: MaskRule, s: &str) -> String {
    match rule {
        MaskRule::Plain => s.to_string(),
        MaskRule::Keep { head, tail } => mask_keep(s, head, tail),
        MaskRule::Surname => {
            let mut chars = s.chars();
            match chars.next() {
                Some(first) => format!("{first}{}", "*".repeat(chars.count().max(1))),
                None => String::new(),
            }
        }
        MaskRule::Hidden => "*".repeat(s.chars().count().min(8)),
        MaskRule::District => mask_address(s),
        MaskRule::EmailDomain => match s.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => mask_keep(s, 1, 0),
        },
        MaskRule::Year => s.chars().take(4).chain("-**-**".chars()).collect(),
        MaskRule::Scan => mask_text(s),
    }
}

/// An address down to its district: `上海市闵行区解放大道1039号…` → `上海市闵行区****`. The
/// district is the first 区, 县 or 旗 that does not close an autonomous region (自治区); an
/// address without one keeps its city (市), and one without either its first three characters.
pub fn mask_address(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let district = chars.iter().enumerate().position(|(i, c)| {
        matches!(c, '区' | '县' | '旗')
            && !(*c == '区' && i >= 2 && chars[i - 2..i] == ['自', '治'])
    });
    let cut = district
        .or_else(|| chars.iter().position(|c| *c == '市'))
        .map(|i| i + 1)
        .unwrap_or(3.min(chars.len()));
    if cut >= chars.len() {
        return s.to_string();
    }
    let mut out: String = chars[..cut].iter().collect();
    out.push_str("****");
    out
}

/// Masks digit runs that look like personal numbers anywhere in a text: 18 characters (17
/// digits and a digit or `X`) as an ID number (first 3 + last 4), 11 digits starting with 1 as
/// a mobile (first 3 + last 4), 16 to 19 digits as a card number (first 6 + last 4).
pub fn mask_text(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        // An ID number may end in X.
        if i - start == 17 && i < chars.len() && matches!(chars[i], 'X' | 'x') {
            i += 1;
        }
        let run: String = chars[start..i].iter().collect();
        let n = i - start;
        let masked = match n {
            18 => mask_keep(&run, 3, 4),
            11 if chars[start] == '1' => mask_keep(&run, 3, 4),
            16..=19 => mask_keep(&run, 6, 4),
            _ => run,
        };
        out.push_str(&masked);
    }
    out
}

/// Masks the personal fields of a JSON value in place, for `role`: keys named in
/// [`Field::of_column`] by their rule, every other string by [`mask_text`] (roles other than
/// admin). Arrays and nested objects are walked; numbers and booleans are left alone.
pub fn mask_json(role: Role, value: &mut Value) {
    if role == Role::Admin {
        return;
    }
    walk(role, None, value);
}

fn walk(role: Role, field: Option<Field>, value: &mut Value) {
    match value {
        Value::String(s) => {
            let r = field.map(|f| rule(role, f)).unwrap_or(MaskRule::Scan);
            let masked = apply(r, s);
            // Whatever the field rule kept is still scanned for numbers it should not show.
            *s = if r == MaskRule::Scan {
                masked
            } else {
                mask_text(&masked)
            };
        }
        Value::Array(items) => {
            for v in items {
                walk(role, field, v);
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                walk(role, Field::of_column(k), v);
            }
        }
        Value::Number(_) | Value::Bool(_) | Value::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_for_analysts_and_marketers() {
        for role in [Role::Analyst, Role::Marketer, Role::Auditor] {
            let mut v = json!({
                "id_no": "110114194903160695",
                "mobile": "18954748025",
                "card_no": "6222021234567890123",
                "name": "胡俊强",
                "address": "西安市雁塔区复兴路1397号保利花园10栋705室",
                "email": "hu@example.com",
                "birth_date": "1949-03-16",
                "cust_no": "1000001635",
                "members": [{"name": "林龙明"}],
                "evidence": "same mobile 15842764695",
                "financial_assets": 14988.37
            });
            mask_json(role, &mut v);
            assert_eq!(v["id_no"], "110***********0695");
            assert_eq!(v["mobile"], "189****8025");
            assert_eq!(v["card_no"], "622202*********0123");
            assert_eq!(v["name"], "胡**");
            assert_eq!(v["address"], "西安市雁塔区****");
            assert_eq!(v["email"], "h***@example.com");
            assert_eq!(v["birth_date"], "1949-**-**");
            assert_eq!(v["cust_no"], "1000001635");
            assert_eq!(v["members"][0]["name"], "林**");
            assert_eq!(v["evidence"], "same mobile 158****4695");
            assert_eq!(v["financial_assets"], 14988.37);
        }
    }

    #[test]
    fn every_column_of_the_model_is_classified() {
        for t in portrait_types::model::TABLES {
            for c in t.columns {
                let personal = Field::of_column(c.name).is_some();
                let not = NOT_PERSONAL.contains(&c.name);
                assert!(
                    personal != not,
                    "`{}.{}` must be either personal (Field::of_column) or in NOT_PERSONAL",
                    t.name,
                    c.name
                );
            }
        }
        // Columns typed as personal where they enter are masked.
        use portrait_types::model::Domain;
        for t in portrait_types::model::TABLES {
            for c in t.columns {
                if matches!(
                    c.domain,
                    Domain::IdNo | Domain::Uscc | Domain::Mobile | Domain::Email
                ) {
                    assert!(Field::of_column(c.name).is_some(), "{}.{}", t.name, c.name);
                }
            }
        }
    }

    #[test]
    fn companies_codes_given_names_and_notes_are_masked() {
        let mut v = json!({
            "employer": "石家庄光荣贸易有限责任公司",
            "uscc": "91130100MA0CXXXX1A",
            "given_name": "俊强",
            "legal_rep": "胡俊强",
            "note": "客户说他住在胜利街1263号",
            "surname": "胡",
        });
        mask_json(Role::Marketer, &mut v);
        assert_eq!(v["employer"], format!("石{}", "*".repeat(12)));
        assert_eq!(v["uscc"], format!("911{}XX1A", "*".repeat(11)));
        assert_eq!(v["given_name"], "**");
        assert_eq!(v["legal_rep"], "胡**");
        assert_eq!(v["note"], "********");
        assert_eq!(v["surname"], "胡");
    }

    #[test]
    fn admins_see_plain_values() {
        let mut v = json!({"id_no": "110114194903160695", "name": "胡俊强"});
        let before = v.clone();
        mask_json(Role::Admin, &mut v);
        assert_eq!(v, before);
    }

    #[test]
    fn addresses_stop_at_the_district() {
        assert_eq!(
            mask_address("广西壮族自治区南宁市青秀区迎宾路331号"),
            "广西壮族自治区南宁市青秀区****"
        );
        assert_eq!(mask_address("苏州市某路1号"), "苏州市****");
        assert_eq!(mask_address("某路1号"), "某路1****");
        assert_eq!(mask_address("江北区"), "江北区");
    }

    #[test]
    fn text_scan_finds_numbers_anywhere() {
        assert_eq!(
            mask_text("id 11011419490316069X, tel 13800138000; cust 1000001635"),
            "id 110***********069X, tel 138****8000; cust 1000001635"
        );
        // Not a mobile: 11 digits not starting with 1.
        assert_eq!(mask_text("23800138000"), "23800138000");
        assert_eq!(mask_text("卡号6222021234567890"), "卡号622202******7890");
    }
}

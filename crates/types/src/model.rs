//! The canonical data model (SPEC §2): every input table, its columns, their types, domains,
//! Chinese labels and the header aliases that bank exports use for them.
//!
//! Ingest maps a file's headers onto these columns; the generator writes them; later stages read
//! them from the store by these names. Names here are part of the product (SPEC §5).

/// The logical type a column is stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    /// Calendar date (`Date32`); accepts `YYYY-MM-DD`, `YYYYMMDD`, `YYYY/MM/DD`.
    Date,
    /// Local date-time (`Timestamp(µs)`); a separate time-of-day column may complete it.
    Timestamp,
    /// Money, `Decimal128(18, 2)`.
    Amount,
    Int,
    Float,
    Bool,
}

/// The domain a value must belong to, beyond its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    Any,
    /// A resident ID number when the row's `id_type` is `resident_id` (or absent); other ID types
    /// are kept as given.
    IdNo,
    Uscc,
    Mobile,
    Email,
    /// One of a fixed list of canonical codes, each with the spellings that map to it.
    Codes(&'static [Code]),
    /// Integer or amount that must be ≥ 0.
    NonNegative,
    /// Integer within an inclusive range.
    Range(i64, i64),
}

/// A canonical code and its accepted spellings (matched case-insensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub code: &'static str,
    pub spellings: &'static [&'static str],
}

/// One column of a canonical table.
#[derive(Debug, Clone, Copy)]
pub struct ColumnDef {
    pub name: &'static str,
    /// The Chinese header the generator writes with `--headers zh`.
    pub zh: &'static str,
    /// Further header spellings, Chinese and English, matched after normalisation.
    pub aliases: &'static [&'static str],
    pub ty: ColumnType,
    pub domain: Domain,
    pub required: bool,
    pub doc: &'static str,
}

/// A column that carries only the time of day of a [`ColumnType::Timestamp`] column, as in
/// exports with separate 交易日期 and 交易时间 columns.
#[derive(Debug, Clone, Copy)]
pub struct TimePart {
    pub of: &'static str,
    pub aliases: &'static [&'static str],
}

/// One canonical input table.
#[derive(Debug, Clone, Copy)]
pub struct TableDef {
    pub name: &'static str,
    pub zh: &'static str,
    pub doc: &'static str,
    pub columns: &'static [ColumnDef],
    /// Columns that identify a row; duplicates are rejected and `--append` replaces by them.
    /// When a key column is absent from a file the whole row is the key.
    pub key: &'static [&'static str],
    pub time_parts: &'static [TimePart],
}

impl TableDef {
    pub fn column(&self, name: &str) -> Option<&'static ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn required(&self) -> impl Iterator<Item = &'static ColumnDef> {
        self.columns.iter().filter(|c| c.required)
    }
}

/// The table with this canonical name.
pub fn table(name: &str) -> Option<&'static TableDef> {
    TABLES.iter().find(|t| t.name == name)
}

/// Normalises a header for alias matching: trims, drops a BOM, full-width parentheses and
/// spaces, underscores and dashes, and lower-cases ASCII.
pub fn normalise_header(h: &str) -> String {
    h.trim_start_matches('\u{feff}')
        .trim()
        .chars()
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            c => c.to_ascii_lowercase(),
        })
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '\u{3000}' | '"'))
        .collect()
}

macro_rules! codes {
    ($($code:literal => [$($s:literal),*]),* $(,)?) => {
        &[$(Code { code: $code, spellings: &[$code, $($s),*] }),*]
    };
}

pub const GENDER: &[Code] = codes!["M" => ["男", "1", "male", "m"], "F" => ["女", "2", "female", "f"], "U" => ["未知", "0", "9", "unknown"]];
pub const CUST_TYPE: &[Code] = codes![
    "individual" => ["个人", "对私", "I", "P", "1", "person"],
    "corporate" => ["对公", "企业", "公司", "C", "E", "2", "company"],
];
pub const ID_TYPE: &[Code] = codes![
    "resident_id" => ["居民身份证", "身份证", "01", "1", "ID", "id_card"],
    "passport" => ["护照", "02", "3"],
    "hk_macau_permit" => ["港澳居民来往内地通行证", "港澳通行证", "04"],
    "taiwan_permit" => ["台湾居民来往大陆通行证", "台胞证", "05"],
    "foreign_permanent" => ["外国人永久居留身份证", "06"],
    "uscc" => ["统一社会信用代码", "营业执照", "10"],
    "other" => ["其他", "99"],
];
pub const DIRECTION: &[Code] = codes![
    "debit" => ["借", "D", "DR", "支出", "出", "out", "-"],
    "credit" => ["贷", "C", "CR", "收入", "入", "in", "+"],
];
pub const PRODUCT_TYPE: &[Code] = codes![
    "deposit" => ["存款", "储蓄"], "wealth" => ["理财"], "fund" => ["基金"], "insurance" => ["保险"],
    "gold" => ["贵金属", "黄金"], "trust" => ["信托"], "loan" => ["贷款"], "credit_card" => ["信用卡"],
];
pub const RISK_LEVEL: &[Code] = codes!["R1" => ["1", "低"], "R2" => ["2", "中低"], "R3" => ["3", "中"], "R4" => ["4", "中高"], "R5" => ["5", "高"]];
pub const RELATION_TYPE: &[Code] = codes![
    "spouse" => ["配偶", "夫妻"], "parent" => ["父母", "父亲", "母亲"], "child" => ["子女", "儿子", "女儿"],
    "guarantor" => ["担保", "担保人"], "legal_rep" => ["法定代表人", "法人"], "shareholder" => ["股东"],
    "group_member" => ["集团成员", "集团"], "employee_of" => ["雇员", "员工", "任职"],
];
pub const PLATFORM: &[Code] =
    codes!["mobile" => ["手机", "移动端", "app"], "pc" => ["电脑", "PC端", "web", "网页"]];
pub const EVENT_TYPE: &[Code] = codes![
    "view" => ["浏览"], "search" => ["搜索"], "click" => ["点击"], "apply" => ["申请"], "buy" => ["购买"],
];
pub const INTERACTION_KIND: &[Code] = codes![
    "complaint" => ["投诉"], "survey" => ["调查", "满意度调查", "问卷"], "call" => ["来电", "服务电话", "电话"],
    "visit" => ["拜访", "到访", "面访"],
];

use ColumnType::*;
use Domain::*;

macro_rules! col {
    ($name:literal, $zh:literal, $ty:expr, $domain:expr, $req:literal, [$($alias:literal),*], $doc:literal) => {
        ColumnDef { name: $name, zh: $zh, aliases: &[$($alias),*], ty: $ty, domain: $domain, required: $req, doc: $doc }
    };
}

const CUSTOMER: &[ColumnDef] = &[
    col!(
        "cust_no",
        "客户号",
        Text,
        Any,
        true,
        [
            "客户编号",
            "客户代码",
            "cust_id",
            "customer_no",
            "customer_id",
            "custno"
        ],
        "source customer number"
    ),
    col!(
        "cust_type",
        "客户类型",
        Text,
        Codes(CUST_TYPE),
        false,
        ["客户类别", "customer_type"],
        "individual or corporate"
    ),
    col!(
        "name",
        "客户名称",
        Text,
        Any,
        false,
        [
            "客户名称(中文)",
            "客户姓名",
            "姓名",
            "户名",
            "customer_name",
            "full_name"
        ],
        "full name (person or company)"
    ),
    col!(
        "surname",
        "姓",
        Text,
        Any,
        false,
        ["姓氏", "last_name", "family_name"],
        "surname when the source splits names"
    ),
    col!(
        "given_name",
        "名",
        Text,
        Any,
        false,
        ["名字", "first_name"],
        "given name when the source splits names"
    ),
    col!(
        "gender",
        "性别",
        Text,
        Codes(GENDER),
        false,
        ["sex"],
        "M, F or U"
    ),
    col!(
        "birth_date",
        "出生日期",
        Date,
        Any,
        false,
        ["生日", "birthday", "dob", "date_of_birth"],
        "date of birth"
    ),
    col!(
        "ethnicity",
        "民族",
        Text,
        Any,
        false,
        ["nation"],
        "ethnic group"
    ),
    col!(
        "hukou",
        "户籍",
        Text,
        Any,
        false,
        ["户籍所在地", "户口所在地", "household_registration"],
        "household registration (户籍)"
    ),
    col!(
        "education",
        "最高学历",
        Text,
        Any,
        false,
        ["学历", "edu"],
        "highest education"
    ),
    col!(
        "degree",
        "最高学位",
        Text,
        Any,
        false,
        ["学位"],
        "highest degree"
    ),
    col!(
        "occupation",
        "职业",
        Text,
        Any,
        false,
        ["职业类别", "job"],
        "occupation"
    ),
    col!(
        "industry",
        "行业",
        Text,
        Any,
        false,
        ["所属行业", "单位所属行业"],
        "industry of the employer or company"
    ),
    col!(
        "employer",
        "工作单位",
        Text,
        Any,
        false,
        ["单位名称", "工作单位名称", "employer_name"],
        "employer"
    ),
    col!(
        "income_band",
        "月收入",
        Text,
        Any,
        false,
        ["月收入区间", "收入区间", "monthly_income"],
        "monthly income band"
    ),
    col!(
        "dependents",
        "供养人口",
        Int,
        Range(0, 30),
        false,
        ["供养人数", "num_dependents"],
        "number of dependents"
    ),
    col!(
        "marital_status",
        "婚姻状况",
        Text,
        Any,
        false,
        ["婚姻状态", "marital"],
        "marital status"
    ),
    col!(
        "is_employee",
        "是否本行员工",
        Bool,
        Any,
        false,
        ["本行员工标志", "employee_flag"],
        "internal employee"
    ),
    col!(
        "has_property",
        "是否有房产",
        Bool,
        Any,
        false,
        ["房产标志", "owns_property"],
        "owns property"
    ),
    col!(
        "has_car",
        "是否有车",
        Bool,
        Any,
        false,
        ["车辆标志", "owns_car"],
        "owns a car"
    ),
    col!(
        "mobile",
        "手机号码",
        Text,
        Mobile,
        false,
        ["手机号", "移动电话", "手机", "mobile_no", "cellphone"],
        "mainland mobile number"
    ),
    col!(
        "phone",
        "固定电话",
        Text,
        Any,
        false,
        ["联系电话", "电话", "telephone", "tel"],
        "landline"
    ),
    col!(
        "email",
        "电子邮箱",
        Text,
        Email,
        false,
        ["邮箱", "电子邮件", "e_mail"],
        "email address"
    ),
    col!(
        "province",
        "省",
        Text,
        Any,
        false,
        ["省份", "所在省"],
        "province"
    ),
    col!("city", "市", Text, Any, false, ["城市", "所在市"], "city"),
    col!(
        "district",
        "区县",
        Text,
        Any,
        false,
        ["区", "县", "区/县"],
        "district or county"
    ),
    col!(
        "address",
        "详细地址",
        Text,
        Any,
        false,
        ["地址", "联系地址", "居住地址", "addr"],
        "street address"
    ),
    col!(
        "postcode",
        "邮政编码",
        Text,
        Any,
        false,
        ["邮编", "zip", "zipcode", "postal_code"],
        "postcode"
    ),
    col!(
        "id_type",
        "证件类型",
        Text,
        Codes(ID_TYPE),
        false,
        ["证件种类", "id_kind"],
        "type of ID document"
    ),
    col!(
        "id_no",
        "证件号码",
        Text,
        IdNo,
        false,
        ["证件号", "身份证号", "身份证号码", "id_number", "id_card"],
        "ID number"
    ),
    col!(
        "enterprise_type",
        "企业类型",
        Text,
        Any,
        false,
        ["企业性质", "企业规模"],
        "enterprise type or size"
    ),
    col!(
        "registration_type",
        "登记注册类型",
        Text,
        Any,
        false,
        ["注册类型"],
        "registration type"
    ),
    col!(
        "industry_code",
        "行业代码",
        Text,
        Any,
        false,
        ["国民经济行业代码", "行业分类代码"],
        "industry classification code"
    ),
    col!(
        "uscc",
        "统一社会信用代码",
        Text,
        Uscc,
        false,
        ["信用代码", "社会信用代码", "credit_code"],
        "unified social credit code"
    ),
    col!(
        "group_id",
        "集团客户号",
        Text,
        Any,
        false,
        ["所属集团", "集团编号", "group_customer_id"],
        "corporate group customer id"
    ),
    col!(
        "is_supply_chain",
        "是否供应链客户",
        Bool,
        Any,
        false,
        ["供应链客户标志", "supply_chain"],
        "supply-chain customer"
    ),
    col!(
        "is_interbank",
        "是否同业客户",
        Bool,
        Any,
        false,
        ["同业客户标志", "interbank"],
        "interbank customer"
    ),
    col!(
        "legal_rep",
        "法定代表人",
        Text,
        Any,
        false,
        ["法人代表", "legal_representative"],
        "legal representative"
    ),
    col!(
        "registered_capital",
        "注册资本",
        Amount,
        NonNegative,
        false,
        ["注册资金"],
        "registered capital, CNY"
    ),
    col!(
        "open_date",
        "开户日期",
        Date,
        Any,
        false,
        ["建档日期", "开户时间"],
        "date the customer number was opened"
    ),
    col!(
        "open_branch",
        "开户网点",
        Text,
        Any,
        false,
        ["开户机构", "开户行", "branch"],
        "branch that opened it"
    ),
    col!(
        "open_channel",
        "开户渠道",
        Text,
        Any,
        false,
        ["获客渠道", "channel"],
        "channel that opened it"
    ),
    col!(
        "manager",
        "客户经理",
        Text,
        Any,
        false,
        ["客户经理编号", "relationship_manager", "rm"],
        "relationship manager"
    ),
    col!(
        "status",
        "客户状态",
        Text,
        Any,
        false,
        ["状态"],
        "customer status"
    ),
    col!(
        "credit_rating",
        "信用等级",
        Text,
        Any,
        false,
        ["信用评级", "rating"],
        "credit rating"
    ),
    col!(
        "mobile_banking",
        "是否开通手机银行",
        Bool,
        Any,
        false,
        ["手机银行签约标志", "手机银行"],
        "mobile banking enabled"
    ),
    col!(
        "online_banking",
        "是否开通网上银行",
        Bool,
        Any,
        false,
        ["网银签约标志", "网上银行", "网银"],
        "online banking enabled"
    ),
    col!(
        "phone_banking",
        "是否开通电话银行",
        Bool,
        Any,
        false,
        ["电话银行签约标志", "电话银行"],
        "phone banking enabled"
    ),
    col!(
        "marketing_consent",
        "是否同意营销",
        Bool,
        Any,
        false,
        ["营销许可", "营销授权", "consent"],
        "marketing consent"
    ),
    col!(
        "financial_assets",
        "金融资产余额",
        Amount,
        Any,
        false,
        ["金融资产", "aum"],
        "financial assets balance as exported"
    ),
];

const ASSET_SNAPSHOT: &[ColumnDef] = &[
    col!(
        "cust_no",
        "客户号",
        Text,
        Any,
        true,
        ["客户编号", "cust_id", "customer_id"],
        "source customer number"
    ),
    col!(
        "product_type",
        "产品类型",
        Text,
        Codes(PRODUCT_TYPE),
        true,
        ["资产类型", "asset_type"],
        "deposit, wealth, fund, insurance, gold, trust"
    ),
    col!(
        "snapshot_date",
        "数据日期",
        Date,
        Any,
        true,
        ["日期", "余额日期", "date", "as_of"],
        "balance date"
    ),
    col!(
        "balance",
        "余额",
        Amount,
        Any,
        true,
        ["资产余额", "金额", "amount"],
        "balance, CNY"
    ),
];

const TRANSACTION: &[ColumnDef] = &[
    col!(
        "txn_id",
        "交易流水号",
        Text,
        Any,
        false,
        ["流水号", "交易编号", "transaction_id", "txn_no"],
        "transaction id"
    ),
    col!(
        "cust_no",
        "客户号",
        Text,
        Any,
        true,
        ["客户编号", "cust_id", "customer_id"],
        "source customer number"
    ),
    col!(
        "ts",
        "交易日期",
        Timestamp,
        Any,
        true,
        [
            "交易日期时间",
            "交易时间戳",
            "timestamp",
            "date",
            "txn_date",
            "datetime"
        ],
        "transaction date and time"
    ),
    col!(
        "amount",
        "交易金额",
        Amount,
        Any,
        true,
        ["金额", "发生额", "txn_amount", "price"],
        "amount, CNY"
    ),
    col!(
        "direction",
        "借贷标志",
        Text,
        Codes(DIRECTION),
        false,
        ["借贷方向", "收支标志", "dc_flag"],
        "debit or credit"
    ),
    col!("channel", "交易渠道", Text, Any, false, ["渠道"], "channel"),
    col!(
        "category",
        "交易类型",
        Text,
        Any,
        false,
        ["消费类别", "交易类别", "type", "txn_type"],
        "category or product class"
    ),
    col!(
        "product_id",
        "产品编号",
        Text,
        Any,
        false,
        ["产品代码", "product"],
        "product"
    ),
    col!(
        "merchant",
        "商户名称",
        Text,
        Any,
        false,
        ["商户", "merchant_name"],
        "merchant"
    ),
    col!(
        "counterparty",
        "对方客户号",
        Text,
        Any,
        false,
        ["对手方客户号", "对方账号", "对手账号", "counterparty_no"],
        "counterparty customer number or account"
    ),
];

const HOLDING: &[ColumnDef] = &[
    col!(
        "cust_no",
        "客户号",
        Text,
        Any,
        true,
        ["客户编号", "cust_id", "customer_id"],
        "source customer number"
    ),
    col!(
        "product_id",
        "产品编号",
        Text,
        Any,
        true,
        ["产品代码", "product", "item"],
        "product"
    ),
    col!(
        "product_type",
        "产品类型",
        Text,
        Codes(PRODUCT_TYPE),
        false,
        ["产品类别"],
        "product type"
    ),
    col!(
        "open_date",
        "开立日期",
        Date,
        Any,
        false,
        ["起始日期", "购买日期", "start_date"],
        "opened"
    ),
    col!(
        "close_date",
        "结清日期",
        Date,
        Any,
        false,
        ["到期日期", "销户日期", "end_date"],
        "closed"
    ),
    col!(
        "amount",
        "持有金额",
        Amount,
        Any,
        false,
        ["金额", "本金", "balance"],
        "amount held, CNY"
    ),
    col!(
        "revenue",
        "收入",
        Amount,
        Any,
        false,
        ["手续费收入", "中间业务收入", "利息收入"],
        "revenue to the bank, CNY"
    ),
    col!(
        "cost",
        "成本",
        Amount,
        Any,
        false,
        ["费用"],
        "cost to the bank, CNY"
    ),
    col!(
        "days_overdue",
        "逾期天数",
        Int,
        NonNegative,
        false,
        ["逾期天", "dpd"],
        "days past due (loans)"
    ),
];

const EVENT: &[ColumnDef] = &[
    col!(
        "event_id",
        "事件编号",
        Text,
        Any,
        false,
        ["事件ID"],
        "event id"
    ),
    col!(
        "cust_no",
        "客户号",
        Text,
        Any,
        true,
        ["客户编号", "cust_id", "customer_id", "user_id"],
        "source customer number"
    ),
    col!(
        "ts",
        "事件时间",
        Timestamp,
        Any,
        true,
        ["时间", "发生时间", "timestamp", "time"],
        "when"
    ),
    col!(
        "platform",
        "平台",
        Text,
        Codes(PLATFORM),
        false,
        ["终端"],
        "mobile or pc"
    ),
    col!(
        "source_channel",
        "来源渠道",
        Text,
        Any,
        false,
        ["来源", "source"],
        "where the visit came from"
    ),
    col!(
        "event_type",
        "事件类型",
        Text,
        Codes(EVENT_TYPE),
        true,
        ["行为类型", "action"],
        "view, search, click, apply, buy"
    ),
    col!(
        "page",
        "页面",
        Text,
        Any,
        false,
        ["页面名称", "url"],
        "page"
    ),
    col!(
        "product_id",
        "产品编号",
        Text,
        Any,
        false,
        ["产品代码", "product"],
        "product"
    ),
];

const CAMPAIGN_RESPONSE: &[ColumnDef] = &[
    col!(
        "campaign_id",
        "活动编号",
        Text,
        Any,
        true,
        ["营销活动编号", "campaign"],
        "campaign"
    ),
    col!(
        "cust_no",
        "客户号",
        Text,
        Any,
        true,
        ["客户编号", "cust_id", "customer_id"],
        "source customer number"
    ),
    col!(
        "channel",
        "触达渠道",
        Text,
        Any,
        false,
        ["渠道", "营销渠道"],
        "channel that reached the customer"
    ),
    col!(
        "contact_date",
        "触达日期",
        Date,
        Any,
        false,
        ["营销日期", "date"],
        "date reached"
    ),
    col!(
        "responded",
        "是否响应",
        Bool,
        Any,
        false,
        ["响应标志", "response"],
        "responded"
    ),
    col!(
        "converted",
        "是否转化",
        Bool,
        Any,
        false,
        ["转化标志", "conversion"],
        "converted"
    ),
];

const RELATION: &[ColumnDef] = &[
    col!(
        "cust_no",
        "客户号",
        Text,
        Any,
        true,
        ["客户编号", "cust_id"],
        "source customer number"
    ),
    col!(
        "related_cust_no",
        "关联客户号",
        Text,
        Any,
        true,
        ["关系人客户号", "related_cust_id"],
        "related customer number"
    ),
    col!(
        "relation_type",
        "关系类型",
        Text,
        Codes(RELATION_TYPE),
        true,
        ["关系", "relation"],
        "declared relation"
    ),
];

const INTERACTION: &[ColumnDef] = &[
    col!(
        "interaction_id",
        "服务编号",
        Text,
        Any,
        false,
        ["工单号", "interaction_no"],
        "interaction id"
    ),
    col!(
        "cust_no",
        "客户号",
        Text,
        Any,
        true,
        ["客户编号", "cust_id"],
        "source customer number"
    ),
    col!(
        "ts",
        "发生时间",
        Timestamp,
        Any,
        true,
        ["日期", "时间", "date"],
        "when"
    ),
    col!(
        "kind",
        "服务类型",
        Text,
        Codes(INTERACTION_KIND),
        true,
        ["类型", "type"],
        "complaint, survey, call, visit"
    ),
    col!(
        "satisfaction",
        "满意度",
        Int,
        Range(1, 5),
        false,
        ["满意度评分", "score"],
        "satisfaction 1–5"
    ),
    col!("channel", "渠道", Text, Any, false, ["服务渠道"], "channel"),
    col!(
        "note",
        "内容",
        Text,
        Any,
        false,
        ["备注", "描述"],
        "free text"
    ),
];

const PRODUCT: &[ColumnDef] = &[
    col!(
        "product_id",
        "产品编号",
        Text,
        Any,
        true,
        ["产品代码", "product"],
        "product"
    ),
    col!(
        "product_name",
        "产品名称",
        Text,
        Any,
        false,
        ["名称", "name"],
        "name"
    ),
    col!(
        "product_type",
        "产品类型",
        Text,
        Codes(PRODUCT_TYPE),
        false,
        ["产品类别", "type"],
        "type"
    ),
    col!(
        "risk_level",
        "风险等级",
        Text,
        Codes(RISK_LEVEL),
        false,
        ["产品风险等级", "risk"],
        "R1–R5"
    ),
];

/// Every canonical input table, in load order.
pub const TABLES: &[TableDef] = &[
    TableDef {
        name: "customer",
        zh: "客户",
        doc: "one row per source customer number",
        columns: CUSTOMER,
        key: &["cust_no"],
        time_parts: &[],
    },
    TableDef {
        name: "asset_snapshot",
        zh: "资产快照",
        doc: "balance per customer, product type and date",
        columns: ASSET_SNAPSHOT,
        key: &["cust_no", "product_type", "snapshot_date"],
        time_parts: &[],
    },
    TableDef {
        name: "transaction",
        zh: "交易",
        doc: "transactions",
        columns: TRANSACTION,
        key: &["txn_id"],
        time_parts: &[TimePart {
            of: "ts",
            aliases: &["交易时间", "txn_time", "time"],
        }],
    },
    TableDef {
        name: "holding",
        zh: "持有产品",
        doc: "product holdings",
        columns: HOLDING,
        key: &["cust_no", "product_id", "open_date"],
        time_parts: &[],
    },
    TableDef {
        name: "event",
        zh: "行为事件",
        doc: "digital behaviour",
        columns: EVENT,
        key: &["event_id"],
        time_parts: &[],
    },
    TableDef {
        name: "campaign_response",
        zh: "营销响应",
        doc: "campaign reach and response",
        columns: CAMPAIGN_RESPONSE,
        key: &["campaign_id", "cust_no"],
        time_parts: &[],
    },
    TableDef {
        name: "relation",
        zh: "关系",
        doc: "declared relations",
        columns: RELATION,
        key: &["cust_no", "related_cust_no", "relation_type"],
        time_parts: &[],
    },
    TableDef {
        name: "interaction",
        zh: "服务交互",
        doc: "complaints, surveys, calls, visits",
        columns: INTERACTION,
        key: &["interaction_id"],
        time_parts: &[],
    },
    TableDef {
        name: "product",
        zh: "产品",
        doc: "product catalogue",
        columns: PRODUCT,
        key: &["product_id"],
        time_parts: &[],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn aliases_are_unambiguous_within_a_table() {
        for t in TABLES {
            let mut seen: HashMap<String, &str> = HashMap::new();
            let tp = t
                .time_parts
                .iter()
                .flat_map(|p| p.aliases.iter().map(move |a| (*a, p.of)));
            let cols = t.columns.iter().flat_map(|c| {
                [c.name, c.zh]
                    .into_iter()
                    .chain(c.aliases.iter().copied())
                    .map(move |a| (a, c.name))
            });
            for (alias, owner) in cols.chain(tp) {
                if let Some(prev) = seen.insert(normalise_header(alias), owner) {
                    assert_eq!(
                        prev, owner,
                        "table {}: alias `{alias}` maps to two columns",
                        t.name
                    );
                }
            }
            for k in t.key {
                assert!(
                    t.column(k).is_some(),
                    "table {}: key column {k} missing",
                    t.name
                );
            }
        }
    }
}

//! 产品 — the bank's catalogue: deposits, wealth management (理财), funds, insurance, gold,
//! trusts, loans and credit cards with their risk levels (R1–R5) and economics.

use portrait_types::model::{Code, PRODUCT_TYPE, RISK_LEVEL};

use crate::categories::Interest;

/// 产品类型 — in the order of [`PRODUCT_TYPE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ProductType {
    Deposit = 0,
    Wealth = 1,
    Fund = 2,
    Insurance = 3,
    Gold = 4,
    Trust = 5,
    Loan = 6,
    CreditCard = 7,
}

impl ProductType {
    /// The types that make up financial assets (and asset snapshots).
    pub(crate) const ASSETS: [ProductType; 6] = [
        ProductType::Deposit,
        ProductType::Wealth,
        ProductType::Fund,
        ProductType::Insurance,
        ProductType::Gold,
        ProductType::Trust,
    ];

    pub(crate) fn code(self) -> &'static Code {
        &PRODUCT_TYPE[self as usize]
    }
}

/// One product of the catalogue.
#[derive(Debug)]
pub(crate) struct Product {
    pub id: &'static str,
    pub name: &'static str,
    pub kind: ProductType,
    /// 1–5 for R1–R5.
    pub risk: u8,
    pub corporate: bool,
    /// Yearly revenue to the bank per CNY held (interest margin or management fee).
    pub revenue_rate: f64,
    /// Yearly cost per CNY held.
    pub cost_rate: f64,
    /// One-off fee or commission per CNY at purchase.
    pub upfront: f64,
    pub min_amount: f64,
    /// Interests the product appeals to (campaign and browsing fit).
    pub fits: &'static [Interest],
}

impl Product {
    pub(crate) fn risk_code(&self) -> &'static Code {
        &RISK_LEVEL[usize::from(self.risk - 1)]
    }
}

macro_rules! products {
    ($(($id:literal, $name:literal, $kind:ident, $risk:literal, $corp:literal, $rev:literal, $cost:literal, $up:literal, $min:literal, [$($fit:ident),*])),* $(,)?) => {
        &[$(Product {
            id: $id, name: $name, kind: ProductType::$kind, risk: $risk, corporate: $corp, revenue_rate: $rev,
            cost_rate: $cost, upfront: $up, min_amount: $min, fits: &[$(Interest::$fit),*],
        }),*]
    };
}

/// The catalogue, in `product_id` order.
#[rustfmt::skip]
pub(crate) const PRODUCTS: &[Product] = products![
    ("P001", "活期储蓄", Deposit, 1, false, 0.018, 0.003, 0.0, 0.0, []),
    ("P002", "整存整取定期存款（3个月）", Deposit, 1, false, 0.008, 0.002, 0.0, 50.0, []),
    ("P003", "整存整取定期存款（1年）", Deposit, 1, false, 0.007, 0.002, 0.0, 50.0, []),
    ("P004", "整存整取定期存款（3年）", Deposit, 1, false, 0.006, 0.002, 0.0, 50.0, []),
    ("P005", "大额存单（20万元起存）", Deposit, 1, false, 0.005, 0.001, 0.0, 200000.0, []),
    ("P006", "七天通知存款", Deposit, 1, false, 0.009, 0.002, 0.0, 50000.0, []),
    ("P007", "单位活期存款", Deposit, 1, true, 0.016, 0.002, 0.0, 0.0, []),
    ("P008", "单位定期存款", Deposit, 1, true, 0.007, 0.001, 0.0, 10000.0, []),
    ("P009", "天天盈现金管理类理财", Wealth, 1, false, 0.003, 0.0005, 0.0, 1.0, []),
    ("P010", "稳享固收180天持有期理财", Wealth, 2, false, 0.005, 0.0008, 0.0, 10000.0, []),
    ("P011", "季季盈固收+理财", Wealth, 2, false, 0.006, 0.0008, 0.0, 10000.0, []),
    ("P012", "睿远混合类理财", Wealth, 3, false, 0.008, 0.001, 0.0, 10000.0, []),
    ("P013", "权益精选理财", Wealth, 4, false, 0.010, 0.001, 0.0, 10000.0, [Electronics]),
    ("P014", "对公结构性存款", Wealth, 2, true, 0.004, 0.0005, 0.0, 500000.0, []),
    ("P015", "对公理财日日金", Wealth, 1, true, 0.003, 0.0005, 0.0, 10000.0, []),
    ("P016", "货币市场基金A", Fund, 1, false, 0.0025, 0.0003, 0.0, 1.0, []),
    ("P017", "纯债债券基金", Fund, 2, false, 0.004, 0.0005, 0.008, 10.0, []),
    ("P018", "沪深300指数基金", Fund, 4, false, 0.005, 0.0005, 0.012, 10.0, []),
    ("P019", "科技成长混合基金", Fund, 4, false, 0.012, 0.001, 0.015, 10.0, [Electronics]),
    ("P020", "医药健康股票基金", Fund, 5, false, 0.012, 0.001, 0.015, 10.0, [Health]),
    ("P021", "全球互联网QDII基金", Fund, 5, false, 0.013, 0.001, 0.015, 10.0, [Travel]),
    ("P022", "养老目标2040三年持有FOF", Fund, 3, false, 0.008, 0.001, 0.01, 10.0, [Health]),
    ("P023", "终身寿险", Insurance, 1, false, 0.004, 0.001, 0.06, 5000.0, []),
    ("P024", "重大疾病保险", Insurance, 1, false, 0.004, 0.001, 0.08, 3000.0, [Health, Sports]),
    ("P025", "个人养老年金保险", Insurance, 1, false, 0.004, 0.001, 0.05, 10000.0, [Health]),
    ("P026", "少儿教育金保险", Insurance, 1, false, 0.004, 0.001, 0.06, 5000.0, [Kids, Education]),
    ("P027", "万能险", Insurance, 2, false, 0.006, 0.001, 0.03, 10000.0, []),
    ("P028", "投资连结保险", Insurance, 4, false, 0.012, 0.001, 0.04, 10000.0, []),
    ("P029", "积存金", Gold, 3, false, 0.005, 0.0005, 0.005, 1.0, [Luxury]),
    ("P030", "实物投资金条", Gold, 3, false, 0.002, 0.0005, 0.02, 1000.0, [Luxury]),
    ("P031", "黄金延期交收（Au T+D）", Gold, 5, false, 0.006, 0.0005, 0.002, 10000.0, []),
    ("P032", "集合资金信托稳盈1号", Trust, 3, false, 0.010, 0.001, 0.01, 1000000.0, []),
    ("P033", "家族信托", Trust, 4, false, 0.008, 0.001, 0.005, 10000000.0, [Kids]),
    ("P034", "证券投资集合信托", Trust, 5, false, 0.015, 0.001, 0.01, 1000000.0, []),
    ("P035", "个人住房贷款", Loan, 2, false, 0.012, 0.004, 0.0, 100000.0, [Home]),
    ("P036", "个人消费贷款", Loan, 3, false, 0.030, 0.012, 0.0, 5000.0, [Electronics, Travel]),
    ("P037", "个人经营贷款", Loan, 3, false, 0.025, 0.010, 0.0, 50000.0, []),
    ("P038", "个人汽车贷款", Loan, 2, false, 0.020, 0.006, 0.0, 30000.0, [Auto]),
    ("P039", "流动资金贷款", Loan, 3, true, 0.015, 0.006, 0.0, 500000.0, []),
    ("P040", "固定资产贷款", Loan, 3, true, 0.013, 0.005, 0.0, 2000000.0, []),
    ("P041", "标准信用卡", CreditCard, 2, false, 0.030, 0.010, 0.0, 0.0, [Dining, Groceries]),
    ("P042", "白金信用卡", CreditCard, 2, false, 0.030, 0.012, 0.0, 0.0, [Luxury, Wine]),
    ("P043", "旅行联名信用卡", CreditCard, 2, false, 0.030, 0.010, 0.0, 0.0, [Travel]),
    ("P044", "汽车联名信用卡", CreditCard, 2, false, 0.030, 0.010, 0.0, 0.0, [Auto]),
];

/// The product with this id.
pub(crate) fn product(id: &str) -> &'static Product {
    PRODUCTS
        .iter()
        .find(|p| p.id == id)
        .expect("known product id")
}

/// Retail or corporate products of a type.
pub(crate) fn of_kind(
    kind: ProductType,
    corporate: bool,
) -> impl Iterator<Item = &'static Product> {
    PRODUCTS
        .iter()
        .filter(move |p| p.kind == kind && p.corporate == corporate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_consistent() {
        let codes: Vec<&str> = [
            ProductType::Deposit,
            ProductType::Wealth,
            ProductType::Fund,
            ProductType::Insurance,
            ProductType::Gold,
            ProductType::Trust,
            ProductType::Loan,
            ProductType::CreditCard,
        ]
        .iter()
        .map(|t| t.code().code)
        .collect();
        assert_eq!(
            codes,
            [
                "deposit",
                "wealth",
                "fund",
                "insurance",
                "gold",
                "trust",
                "loan",
                "credit_card"
            ]
        );
        for (i, p) in PRODUCTS.iter().enumerate() {
            assert_eq!(p.id, format!("P{:03}", i + 1));
            assert!((1..=5).contains(&p.risk));
            assert_eq!(p.risk_code().code, format!("R{}", p.risk));
        }
        for kind in ProductType::ASSETS {
            assert!(of_kind(kind, false).next().is_some());
        }
        assert!(
            PRODUCTS
                .iter()
                .all(|p| p.kind != ProductType::Deposit || p.risk == 1)
        );
    }
}

//! Which canonical column each header of a file feeds, from the model's aliases plus the user's
//! overrides in `portrait.toml`.

use std::collections::{BTreeMap, HashMap};

use portrait_types::model::{TableDef, normalise_header};

use crate::IngestError;

/// Where one source column goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The column with this index in the table definition.
    Column(usize),
    /// The time of day of the timestamp column with this index.
    TimeOf(usize),
}

/// User overrides for one table: source header → canonical column name.
pub type Overrides = BTreeMap<String, String>;

/// The resolved mapping of one file.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub table: &'static TableDef,
    pub headers: Vec<String>,
    /// One entry per source column; `None` for columns the model does not know (ignored).
    pub targets: Vec<Option<Target>>,
    /// For each table column, the source column that feeds it.
    pub source_of: Vec<Option<usize>>,
    /// For each table column, the source column holding its time of day.
    pub time_source_of: Vec<Option<usize>>,
}

impl Mapping {
    /// Resolves headers against the table. `file` is used in messages only.
    pub fn resolve(
        table: &'static TableDef,
        headers: Vec<String>,
        overrides: Option<&Overrides>,
        file: &str,
    ) -> Result<Self, IngestError> {
        let mut lookup: HashMap<String, Target> = HashMap::new();
        for (i, c) in table.columns.iter().enumerate() {
            for a in [c.name, c.zh].iter().chain(c.aliases) {
                lookup.insert(normalise_header(a), Target::Column(i));
            }
        }
        for tp in table.time_parts {
            let i = table
                .columns
                .iter()
                .position(|c| c.name == tp.of)
                .expect("time part of a model column");
            for a in tp.aliases {
                lookup.insert(normalise_header(a), Target::TimeOf(i));
            }
        }
        let mut user: HashMap<String, Target> = HashMap::new();
        if let Some(o) = overrides {
            for (from, to) in o {
                let i = table.columns.iter().position(|c| c.name == to).ok_or_else(|| IngestError::Config(format!(
                    "mapping for table `{}`: `{from}` = `{to}` names no column of `{}`; valid columns: {}",
                    table.name,
                    table.name,
                    table.columns.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
                )))?;
                user.insert(normalise_header(from), Target::Column(i));
            }
        }
        let mut targets = Vec::with_capacity(headers.len());
        let mut source_of = vec![None; table.columns.len()];
        let mut time_source_of = vec![None; table.columns.len()];
        for (s, h) in headers.iter().enumerate() {
            let key = normalise_header(h);
            let t = user.get(&key).or_else(|| lookup.get(&key)).copied();
            if let Some(t) = t {
                let (slot, i) = match t {
                    Target::Column(i) => (&mut source_of[i], i),
                    Target::TimeOf(i) => (&mut time_source_of[i], i),
                };
                if let Some(prev) = *slot {
                    return Err(IngestError::Structure {
                        file: file.to_string(),
                        line: 1,
                        reason: format!(
                            "columns {} (`{}`) and {} (`{h}`) both map to `{}`",
                            prev + 1,
                            headers[prev],
                            s + 1,
                            table.columns[i].name
                        ),
                        hint: Some("rename one of them or map it elsewhere in `portrait.toml` under `[mapping.<table>]`".into()),
                    });
                }
                *slot = Some(s);
            }
            targets.push(t);
        }
        // A lone time-of-day column holds the whole timestamp (`交易时间` = `2024-01-01 10:00:00`).
        for i in 0..table.columns.len() {
            if source_of[i].is_none() {
                if let Some(s) = time_source_of[i].take() {
                    source_of[i] = Some(s);
                    targets[s] = Some(Target::Column(i));
                }
            }
        }
        let missing: Vec<_> = table
            .required()
            .filter(|c| {
                source_of[table.columns.iter().position(|x| x.name == c.name).unwrap()].is_none()
            })
            .collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing
                .iter()
                .map(|c| format!("`{}` ({})", c.name, c.zh))
                .collect();
            return Err(IngestError::Structure {
                file: file.to_string(),
                line: 1,
                reason: format!(
                    "missing required column{} {} for table `{}`",
                    if names.len() > 1 { "s" } else { "" },
                    names.join(", "),
                    table.name
                ),
                hint: Some(format!(
                    "the header has: {}; map a column with `[mapping.{}]` in `portrait.toml`",
                    headers
                        .iter()
                        .map(|h| format!("`{h}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    table.name
                )),
            });
        }
        Ok(Self {
            table,
            headers,
            targets,
            source_of,
            time_source_of,
        })
    }

    /// Source headers that feed no column.
    pub fn ignored(&self) -> Vec<&str> {
        self.headers
            .iter()
            .zip(&self.targets)
            .filter(|(_, t)| t.is_none())
            .map(|(h, _)| h.as_str())
            .collect()
    }

    /// Whether every key column of the table is present.
    pub fn has_key(&self) -> bool {
        self.table.key.iter().all(|k| {
            let i = self
                .table
                .columns
                .iter()
                .position(|c| c.name == *k)
                .expect("key is a column");
            self.source_of[i].is_some()
        })
    }
}

/// Guesses the table a file holds from its name (`customer.csv`, `交易流水_202401.csv`, …).
pub fn table_for_file_name(stem: &str) -> Option<&'static TableDef> {
    const EXTRA: &[(&str, &[&str])] = &[
        (
            "customer",
            &["customers", "cust", "客户信息", "客户基本信息", "客户表"],
        ),
        (
            "asset_snapshot",
            &[
                "assets",
                "asset",
                "balance",
                "balances",
                "资产",
                "余额",
                "资产余额",
            ],
        ),
        (
            "transaction",
            &[
                "transactions",
                "txn",
                "txns",
                "trans",
                "交易流水",
                "交易明细",
                "流水",
            ],
        ),
        (
            "holding",
            &[
                "holdings",
                "products_held",
                "basket",
                "baskets",
                "持仓",
                "产品持有",
            ],
        ),
        (
            "event",
            &["events", "behaviour", "behavior", "埋点", "行为"],
        ),
        (
            "campaign_response",
            &[
                "campaign_responses",
                "campaign",
                "campaigns",
                "营销活动",
                "活动响应",
            ],
        ),
        (
            "relation",
            &[
                "relations",
                "relationship",
                "relationships",
                "关系人",
                "关联关系",
            ],
        ),
        (
            "interaction",
            &["interactions", "service", "complaints", "服务记录", "投诉"],
        ),
        (
            "product",
            &["products", "catalogue", "catalog", "产品目录", "产品信息"],
        ),
    ];
    let s = normalise_header(stem);
    // Exact names first, then a prefix (`transaction_2024`, `交易流水202401`).
    let names = |t: &'static TableDef| {
        let extra = EXTRA
            .iter()
            .find(|(n, _)| *n == t.name)
            .map(|(_, a)| *a)
            .unwrap_or(&[]);
        std::iter::once(t.name)
            .chain(std::iter::once(t.zh))
            .chain(extra.iter().copied())
            .map(normalise_header)
    };
    let tables = portrait_types::model::TABLES;
    if let Some(t) = tables.iter().find(|t| names(t).any(|n| n == s)) {
        return Some(t);
    }
    tables
        .iter()
        .flat_map(|t| names(t).map(move |n| (t, n)))
        .filter(|(_, n)| s.starts_with(n.as_str()))
        .max_by_key(|(_, n)| n.len())
        .map(|(t, _)| t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portrait_types::model::table;

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn chinese_bank_headers_map_without_config() {
        let t = table("transaction").unwrap();
        let m = Mapping::resolve(
            t,
            h(&[
                "交易流水号",
                "客户号",
                "交易日期",
                "交易时间",
                "交易金额",
                "借贷标志",
                "交易渠道",
                "交易类型",
                "备注",
            ]),
            None,
            "t.csv",
        )
        .unwrap();
        let ts = t.columns.iter().position(|c| c.name == "ts").unwrap();
        assert_eq!(m.source_of[ts], Some(2));
        assert_eq!(m.time_source_of[ts], Some(3));
        assert_eq!(m.ignored(), vec!["备注"]);
        assert!(m.has_key());
        let c = table("customer").unwrap();
        let m = Mapping::resolve(
            c,
            h(&[
                "客户号",
                "客户名称（中文）",
                "证件类型",
                "证件号码",
                "出生日期",
                "手机号码",
                "省",
                "市",
                "详细地址",
                "开户日期",
                "开户渠道",
                "最高学历",
                "金融资产余额",
            ]),
            None,
            "c.csv",
        )
        .unwrap();
        assert!(m.ignored().is_empty(), "{:?}", m.ignored());
    }

    #[test]
    fn lone_time_column_carries_the_timestamp() {
        let t = table("transaction").unwrap();
        let m = Mapping::resolve(t, h(&["客户号", "交易时间", "金额"]), None, "t.csv").unwrap();
        let ts = t.columns.iter().position(|c| c.name == "ts").unwrap();
        assert_eq!(m.source_of[ts], Some(1));
        assert!(!m.has_key());
    }

    #[test]
    fn missing_required_and_bad_override_are_explained() {
        let t = table("transaction").unwrap();
        let e = Mapping::resolve(t, h(&["客户号", "金额"]), None, "t.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing required column `ts`"), "{e}");
        let mut o = Overrides::new();
        o.insert("X".into(), "nope".into());
        let e = Mapping::resolve(t, h(&["X"]), Some(&o), "t.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("names no column"), "{e}");
    }

    #[test]
    fn file_names_find_tables() {
        assert_eq!(table_for_file_name("customer").unwrap().name, "customer");
        assert_eq!(
            table_for_file_name("交易流水_202401").unwrap().name,
            "transaction"
        );
        assert_eq!(
            table_for_file_name("asset_snapshot").unwrap().name,
            "asset_snapshot"
        );
        assert!(table_for_file_name("readme").is_none());
    }
}

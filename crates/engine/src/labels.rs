//! Labels of columns and coded values in Chinese and English. One dictionary per language,
//! `web/i18n/zh.json` and `web/i18n/en.json`, with the same keys; a column missing there takes
//! the Chinese header of the input model, then its own name.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The language of headers and labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "en" => Ok(Lang::En),
            "zh" => Ok(Lang::Zh),
            _ => Err(format!("unknown language `{s}`; expected en or zh")),
        }
    }
}

pub const ZH_JSON: &str = include_str!("../../../web/i18n/zh.json");
pub const EN_JSON: &str = include_str!("../../../web/i18n/en.json");

/// One language's dictionary.
#[derive(Debug, serde::Deserialize)]
pub struct Dict {
    /// Column name → header.
    pub fields: HashMap<String, String>,
    /// Column-name prefix → header template, `{x}` standing for the label of the rest of the
    /// name as a value (`share_wine` → the template of `share_` with the label of `wine`).
    pub prefixes: HashMap<String, String>,
    /// Coded value → label.
    pub values: HashMap<String, String>,
}

/// The dictionary of `lang`.
pub fn dict(lang: Lang) -> &'static Dict {
    static ZH: OnceLock<Dict> = OnceLock::new();
    static EN: OnceLock<Dict> = OnceLock::new();
    let (cell, text) = match lang {
        Lang::Zh => (&ZH, ZH_JSON),
        Lang::En => (&EN, EN_JSON),
    };
    cell.get_or_init(|| {
        serde_json::from_str(text).expect("web/i18n dictionaries are checked by the tests")
    })
}

/// The header of column `name` in `lang`.
pub fn field(name: &str, lang: Lang) -> String {
    let d = dict(lang);
    if let Some(l) = d.fields.get(name) {
        return l.clone();
    }
    let mut prefixes: Vec<(&String, &String)> = d.prefixes.iter().collect();
    prefixes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    for (p, template) in prefixes {
        if let Some(rest) = name.strip_prefix(p.as_str()).filter(|r| !r.is_empty()) {
            let x = d.values.get(rest).map_or(rest, String::as_str);
            return template.replace("{x}", x);
        }
    }
    if lang == Lang::Zh
        && let Some(c) = input_column(name)
    {
        return c.zh.to_string();
    }
    name.to_string()
}

/// The label of a coded value in `lang`, if it has one.
pub fn value(code: &str, lang: Lang) -> Option<&'static str> {
    dict(lang).values.get(code).map(String::as_str)
}

/// What the input model says of column `name` (the first table that has it).
pub fn input_column(name: &str) -> Option<&'static portrait_types::model::ColumnDef> {
    portrait_types::model::TABLES
        .iter()
        .find_map(|t| t.column(name))
}

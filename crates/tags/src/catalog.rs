//! 标签目录 — the declarative tag catalogue (TOML).
//!
//! ```toml
//! [[tag]]
//! name = "private_banking"
//! label_zh = "私人银行客户"
//! label_en = "Private banking"
//! category = "value"
//! kind = "rule"
//! when = "adb_year >= 8_000_000"
//! description = "average daily financial assets over the year of at least 8,000,000 CNY"
//! ```
//!
//! Kinds:
//! - `rule`: `when = "EXPR"` gives the value `yes`; or `values = [{ value, when }, …]`, the first
//!   that holds wins (`multiple = true`: every one that holds, e.g. interests).
//! - `category`: the value of `feature` itself (text, boolean or whole numbers), renamed by
//!   `map = { F = "female" }` where it has an entry.
//! - `bucket`: `feature` cut by `buckets = [{ value, min, max }, …]`, `min` inclusive, `max`
//!   exclusive, either may be left out; buckets may not overlap.
//! - `quantile`: `feature` cut into as many equal-count groups as `labels` has entries, lowest
//!   first; ties at a cut go to the higher group; `skip_zero = true` leaves zeros untagged.
//! - `model`: like `category`, for a feature a model writes (retention group, churn risk).
//! - `segment`: the segment of each party in the segmentation model `model`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::Deserialize;
use toml::Spanned;

use crate::expr::{CmpOp, Expr, ExprError, Literal};

/// The catalogue shipped with portrait.
pub const DEFAULT_CATALOG: &str = include_str!("../catalog/default.toml");

/// The portrait categories a tag belongs to.
pub const CATEGORIES: [(&str, &str); 6] = [
    ("demographic", "人口属性"),
    ("consumption", "消费行为"),
    ("interest", "兴趣偏好"),
    ("social", "社会关系"),
    ("value", "价值"),
    ("risk", "风险"),
];

/// The type of a feature column, as far as tags care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureType {
    Number,
    Text,
    Bool,
}

impl fmt::Display for FeatureType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FeatureType::Number => "numeric",
            FeatureType::Text => "text",
            FeatureType::Bool => "boolean",
        })
    }
}

/// The features a catalogue may refer to.
pub type FeatureSchema = BTreeMap<String, FeatureType>;

/// An error in a catalogue file, at a line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for CatalogError {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    tag: Vec<RawTag>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTag {
    name: Spanned<String>,
    label_zh: String,
    label_en: String,
    category: Spanned<String>,
    kind: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    source: Option<String>,
    feature: Option<Spanned<String>>,
    when: Option<Spanned<String>>,
    #[serde(default)]
    values: Vec<RawValue>,
    #[serde(default)]
    multiple: bool,
    #[serde(default)]
    buckets: Vec<Spanned<RawBucket>>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    skip_zero: bool,
    model: Option<String>,
    #[serde(default)]
    map: BTreeMap<String, String>,
    #[serde(default)]
    order: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValue {
    value: String,
    when: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBucket {
    value: String,
    min: Option<f64>,
    max: Option<f64>,
}

/// How a tag's values are computed.
#[derive(Debug, Clone, PartialEq)]
pub enum TagRule {
    /// Ordered `(value, condition)`; the first that holds, or all when `multiple`.
    Rule {
        values: Vec<(String, Expr)>,
        multiple: bool,
    },
    /// The feature's own value, renamed by `map` where it has an entry; values listed in
    /// `order` come first, in that order (age groups, tiers), the rest by value.
    Category {
        feature: String,
        map: BTreeMap<String, String>,
        order: Vec<String>,
    },
    /// `[min, max)` ranges of a numeric feature.
    Bucket {
        feature: String,
        buckets: Vec<Bucket>,
    },
    /// Equal-count groups of a numeric feature.
    Quantile {
        feature: String,
        labels: Vec<String>,
        skip_zero: bool,
    },
    /// A segmentation model's segments.
    Segment { model: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub value: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Bucket {
    pub fn contains(&self, v: f64) -> bool {
        self.min.is_none_or(|m| v >= m) && self.max.is_none_or(|m| v < m)
    }
}

/// One tag of the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct TagDef {
    pub name: String,
    pub label_zh: String,
    pub label_en: String,
    pub category: String,
    pub description: String,
    /// Where the values come from: `features`, `score`, `segment:<model>`, … (`source` in the
    /// file, else derived from the kind).
    pub source: String,
    pub kind: &'static str,
    pub rule: TagRule,
}

impl TagDef {
    /// The features the tag reads.
    pub fn features(&self) -> Vec<String> {
        match &self.rule {
            TagRule::Rule { values, .. } => {
                let mut out: Vec<String> = Vec::new();
                for (_, e) in values {
                    for leaf in e.leaves() {
                        if let Some((n, _)) = leaf.leaf_name()
                            && !out.iter().any(|o| o == n)
                        {
                            out.push(n.to_string());
                        }
                    }
                }
                out
            }
            TagRule::Category { feature, .. }
            | TagRule::Bucket { feature, .. }
            | TagRule::Quantile { feature, .. } => vec![feature.clone()],
            TagRule::Segment { .. } => Vec::new(),
        }
    }
}

/// A validated catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    pub tags: Vec<TagDef>,
}

/// Byte offset → 1-based line and column (in characters).
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

impl Catalog {
    /// Parses and validates a catalogue against the features it may use. `file` names it in
    /// errors.
    pub fn parse(file: &str, text: &str, schema: &FeatureSchema) -> Result<Catalog, CatalogError> {
        let at = |offset: usize, message: String| {
            let (line, column) = line_col(text, offset);
            CatalogError {
                file: file.to_string(),
                line,
                column,
                message,
            }
        };
        let raw: RawCatalog = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            at(offset, e.message().trim().to_string())
        })?;
        if raw.tag.is_empty() {
            return Err(at(0, "the catalogue defines no `[[tag]]`".into()));
        }
        // An expression inside a basic string starts one character after the quote.
        let expr_at = |s: &Spanned<String>, e: ExprError| {
            let (line, column) = line_col(text, s.span().start);
            CatalogError {
                file: file.to_string(),
                line,
                column: column + e.column,
                message: format!("in `{}`: {}", s.get_ref(), e.message),
            }
        };
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut tags = Vec::new();
        for t in raw.tag {
            let name = t.name.get_ref().clone();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            {
                return Err(at(
                    t.name.span().start,
                    format!("tag name `{name}` may hold only letters, digits, `_` and `-`"),
                ));
            }
            if let Some(line) = seen.insert(name.clone(), t.name.span().start) {
                let (l, _) = line_col(text, line);
                return Err(at(
                    t.name.span().start,
                    format!("tag `{name}` is defined twice (first on line {l})"),
                ));
            }
            let category = t.category.get_ref();
            if !CATEGORIES.iter().any(|(c, _)| c == category) {
                return Err(at(
                    t.category.span().start,
                    format!(
                        "unknown category `{category}`; expected one of {}",
                        CATEGORIES.map(|(c, _)| c).join(", ")
                    ),
                ));
            }
            let feature = |kind: &str, want_number: bool| -> Result<String, CatalogError> {
                let Some(f) = &t.feature else {
                    return Err(at(
                        t.kind.span().start,
                        format!("a `{kind}` tag needs `feature`"),
                    ));
                };
                let ty = check_feature(f.get_ref(), schema).map_err(|m| at(f.span().start, m))?;
                if want_number && ty != FeatureType::Number {
                    return Err(at(
                        f.span().start,
                        format!(
                            "type mismatch: a `{kind}` tag needs a numeric feature, and `{}` is {ty}",
                            f.get_ref()
                        ),
                    ));
                }
                Ok(f.get_ref().clone())
            };
            let (kind, rule, default_source): (&'static str, TagRule, String) = match t
                .kind
                .get_ref()
                .as_str()
            {
                "rule" => {
                    let mut values = Vec::new();
                    if let Some(w) = &t.when {
                        if !t.values.is_empty() {
                            return Err(at(
                                w.span().start,
                                "give either `when` or `values`, not both".into(),
                            ));
                        }
                        let e = Expr::parse(w.get_ref()).map_err(|e| expr_at(w, e))?;
                        check_rule(&e, schema).map_err(|e| expr_at(w, e))?;
                        values.push(("yes".to_string(), e));
                    }
                    let mut names = HashSet::new();
                    for v in &t.values {
                        if !names.insert(v.value.clone()) {
                            return Err(at(
                                v.when.span().start,
                                format!("value `{}` is listed twice", v.value),
                            ));
                        }
                        let e = Expr::parse(v.when.get_ref()).map_err(|e| expr_at(&v.when, e))?;
                        check_rule(&e, schema).map_err(|e| expr_at(&v.when, e))?;
                        values.push((v.value.clone(), e));
                    }
                    if values.is_empty() {
                        return Err(at(
                            t.kind.span().start,
                            "a `rule` tag needs `when` or `values`".into(),
                        ));
                    }
                    (
                        "rule",
                        TagRule::Rule {
                            values,
                            multiple: t.multiple,
                        },
                        "features".into(),
                    )
                }
                "category" | "model"
                    if {
                        let mut seen = std::collections::BTreeSet::new();
                        t.order.iter().any(|v| !seen.insert(v))
                    } =>
                {
                    return Err(at(
                        t.kind.span().start,
                        format!("tag `{name}`: a value is listed twice in `order`"),
                    ));
                }
                "category" => (
                    "category",
                    TagRule::Category {
                        feature: feature("category", false)?,
                        map: t.map.clone(),
                        order: t.order.clone(),
                    },
                    "features".into(),
                ),
                "model" => (
                    "model",
                    TagRule::Category {
                        feature: feature("model", false)?,
                        map: t.map.clone(),
                        order: t.order.clone(),
                    },
                    "score".into(),
                ),
                "bucket" => {
                    let feature = feature("bucket", true)?;
                    if t.buckets.is_empty() {
                        return Err(at(
                            t.kind.span().start,
                            "a `bucket` tag needs `buckets`".into(),
                        ));
                    }
                    let mut buckets: Vec<(usize, Bucket)> = Vec::new();
                    for b in &t.buckets {
                        let r = b.get_ref();
                        if let (Some(lo), Some(hi)) = (r.min, r.max)
                            && hi <= lo
                        {
                            return Err(at(
                                b.span().start,
                                format!(
                                    "bucket `{}` is empty: max {hi} is not above min {lo}",
                                    r.value
                                ),
                            ));
                        }
                        buckets.push((
                            b.span().start,
                            Bucket {
                                value: r.value.clone(),
                                min: r.min,
                                max: r.max,
                            },
                        ));
                    }
                    let mut sorted: Vec<&(usize, Bucket)> = buckets.iter().collect();
                    sorted.sort_by(|a, b| {
                        a.1.min
                            .unwrap_or(f64::NEG_INFINITY)
                            .total_cmp(&b.1.min.unwrap_or(f64::NEG_INFINITY))
                    });
                    for w in sorted.windows(2) {
                        let hi = w[0].1.max.unwrap_or(f64::INFINITY);
                        let lo = w[1].1.min.unwrap_or(f64::NEG_INFINITY);
                        if lo < hi {
                            return Err(at(
                                w[1].0,
                                format!(
                                    "overlapping buckets: `{}` starts at {} before `{}` ends at {}",
                                    w[1].1.value,
                                    fmt_bound(w[1].1.min),
                                    w[0].1.value,
                                    fmt_bound(w[0].1.max)
                                ),
                            ));
                        }
                    }
                    (
                        "bucket",
                        TagRule::Bucket {
                            feature,
                            buckets: buckets.into_iter().map(|(_, b)| b).collect(),
                        },
                        "features".into(),
                    )
                }
                "quantile" => {
                    let feature = feature("quantile", true)?;
                    if t.labels.len() < 2 {
                        return Err(at(
                            t.kind.span().start,
                            "a `quantile` tag needs at least two `labels`".into(),
                        ));
                    }
                    (
                        "quantile",
                        TagRule::Quantile {
                            feature,
                            labels: t.labels.clone(),
                            skip_zero: t.skip_zero,
                        },
                        "features".into(),
                    )
                }
                "segment" => {
                    let Some(model) = t.model.clone() else {
                        return Err(at(
                            t.kind.span().start,
                            "a `segment` tag needs `model`".into(),
                        ));
                    };
                    let source = format!("segment:{model}");
                    ("segment", TagRule::Segment { model }, source)
                }
                other => {
                    return Err(at(
                        t.kind.span().start,
                        format!(
                            "unknown kind `{other}`; expected rule, category, bucket, quantile, model or segment"
                        ),
                    ));
                }
            };
            tags.push(TagDef {
                name,
                label_zh: t.label_zh,
                label_en: t.label_en,
                category: category.clone(),
                description: t.description,
                source: t.source.unwrap_or(default_source),
                kind,
                rule,
            });
        }
        Ok(Catalog { tags })
    }

    pub fn get(&self, name: &str) -> Option<&TagDef> {
        self.tags.iter().find(|t| t.name == name)
    }

    /// Every feature the catalogue reads.
    pub fn features(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.tags {
            for f in t.features() {
                if !out.contains(&f) {
                    out.push(f);
                }
            }
        }
        out
    }

    /// Segmentation models whose segments the catalogue publishes.
    pub fn segment_models(&self) -> Vec<&str> {
        self.tags
            .iter()
            .filter_map(|t| match &t.rule {
                TagRule::Segment { model } => Some(model.as_str()),
                _ => None,
            })
            .collect()
    }
}

fn fmt_bound(b: Option<f64>) -> String {
    b.map_or("unbounded".into(), |v| v.to_string())
}

/// The closest name in `names` to `name`, when close enough to be a likely typo.
pub fn suggest<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for n in names {
        let d = edit_distance(name, n);
        if d <= 2.max(name.chars().count() / 4) && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, n));
        }
    }
    best.map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn check_feature(name: &str, schema: &FeatureSchema) -> Result<FeatureType, String> {
    schema.get(name).copied().ok_or_else(|| {
        let hint = suggest(name, schema.keys().map(String::as_str))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        format!("unknown feature `{name}`{hint}")
    })
}

/// Checks a feature comparison against the feature's type (used by rules and audiences).
pub fn check_leaf_types(leaf: &Expr, ty: FeatureType) -> Result<(), ExprError> {
    let (name, column) = leaf.leaf_name().expect("a leaf");
    let mismatch = |what: &str| {
        Err(ExprError::new(
            column,
            format!("type mismatch: `{name}` is {ty}, {what}"),
        ))
    };
    match leaf {
        Expr::Cmp { op, value, .. } => match (ty, value) {
            (FeatureType::Number, Literal::Number(_)) => Ok(()),
            (FeatureType::Text, Literal::Text(_)) if matches!(op, CmpOp::Eq | CmpOp::Ne) => Ok(()),
            (FeatureType::Text, Literal::Text(_)) => Ok(()),
            (FeatureType::Bool, Literal::Bool(_)) => Ok(()),
            (FeatureType::Number, _) => mismatch("so compare it with a number"),
            (FeatureType::Text, _) => mismatch("so compare it with a string in quotes"),
            (FeatureType::Bool, _) => mismatch("so compare it with true or false"),
        },
        Expr::Between { .. } if ty != FeatureType::Number => {
            mismatch("and BETWEEN needs a numeric feature")
        }
        Expr::In { values, .. } => {
            let ok = values.iter().all(|v| {
                matches!(
                    (ty, v),
                    (FeatureType::Number, Literal::Number(_))
                        | (FeatureType::Text, Literal::Text(_))
                        | (FeatureType::Bool, Literal::Bool(_))
                )
            });
            if ok {
                Ok(())
            } else {
                mismatch("and the IN list holds values of another type")
            }
        }
        Expr::Name { .. } if ty != FeatureType::Bool => {
            mismatch("so it needs a comparison (a bare name stands for a boolean feature or a tag)")
        }
        _ => Ok(()),
    }
}

fn check_rule(e: &Expr, schema: &FeatureSchema) -> Result<(), ExprError> {
    for leaf in e.leaves() {
        let (name, column) = leaf.leaf_name().expect("a leaf");
        if let Expr::Tag { .. } = leaf {
            return Err(ExprError::new(
                column,
                format!("a rule tag reads features, not tags (`{name}:…`)"),
            ));
        }
        let ty = check_feature(name, schema).map_err(|m| ExprError::new(column, m))?;
        check_leaf_types(leaf, ty)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> FeatureSchema {
        [
            ("age", FeatureType::Number),
            ("adb_year", FeatureType::Number),
            ("gender", FeatureType::Text),
            ("private_banking", FeatureType::Bool),
        ]
        .into_iter()
        .map(|(n, t)| (n.to_string(), t))
        .collect()
    }

    fn err(text: &str) -> CatalogError {
        Catalog::parse("tags.toml", text, &schema()).expect_err(text)
    }

    const HEAD: &str =
        "[[tag]]\nname = \"t\"\nlabel_zh = \"标签\"\nlabel_en = \"T\"\ncategory = \"value\"\n";

    #[test]
    fn the_default_catalogue_parses_against_its_own_features() {
        // The full check against the real features schema is in the engine's tests.
        assert!(DEFAULT_CATALOG.contains("[[tag]]"));
    }

    #[test]
    fn rule_tags_parse_with_positions_in_errors() {
        let ok = Catalog::parse(
            "tags.toml",
            &format!("{HEAD}kind = \"rule\"\nwhen = \"adb_year >= 8_000_000\"\n"),
            &schema(),
        )
        .unwrap();
        assert_eq!(ok.tags[0].source, "features");
        let e = err(&format!(
            "{HEAD}kind = \"rule\"\nwhen = \"adb_yaer >= 8\"\n"
        ));
        assert_eq!((e.line, e.column), (7, 9));
        assert!(
            e.message
                .contains("unknown feature `adb_yaer`; did you mean `adb_year`?"),
            "{e}"
        );
        let e = err(&format!("{HEAD}kind = \"rule\"\nwhen = \"gender > 3\"\n"));
        assert!(e.message.contains("type mismatch: `gender` is text"), "{e}");
        assert_eq!((e.line, e.column), (7, 9));
        let e = err(&format!("{HEAD}kind = \"rule\"\nwhen = \"age > 3 AND\"\n"));
        assert_eq!((e.line, e.column), (7, 20));
    }

    #[test]
    fn buckets_may_not_overlap() {
        let e = err(&format!(
            "{HEAD}kind = \"bucket\"\nfeature = \"age\"\nbuckets = [\n  {{ value = \"a\", min = 18, max = 30 }},\n  {{ value = \"b\", min = 25, max = 40 }},\n]\n"
        ));
        assert_eq!(e.line, 10, "{e}");
        assert!(
            e.message
                .contains("overlapping buckets: `b` starts at 25 before `a` ends at 30"),
            "{e}"
        );
        let e = err(&format!(
            "{HEAD}kind = \"bucket\"\nfeature = \"gender\"\nbuckets = [{{ value = \"a\" }}]\n"
        ));
        assert!(e.message.contains("needs a numeric feature"), "{e}");
        assert_eq!((e.line, e.column), (7, 11));
    }

    #[test]
    fn unknown_keys_kinds_categories_and_duplicates_are_refused() {
        let e = err(&format!(
            "{HEAD}kind = \"rule\"\nwhen = \"age > 1\"\ncolour = 1\n"
        ));
        assert!(e.message.contains("unknown field `colour`"), "{e}");
        assert_eq!(e.line, 8);
        let e = err(&format!("{HEAD}kind = \"magic\"\n"));
        assert!(e.message.contains("unknown kind `magic`"), "{e}");
        let e = err(&HEAD
            .replace("value", "wealth")
            .replace("kind", "")
            .to_string());
        assert!(
            e.message.contains("unknown category `wealth`") || e.message.contains("missing field"),
            "{e}"
        );
        let two = format!("{HEAD}kind = \"rule\"\nwhen = \"age > 1\"\n");
        let e = err(&format!("{two}{two}"));
        assert!(e.message.contains("defined twice (first on line 2)"), "{e}");
        assert_eq!(e.line, 9);
    }
}

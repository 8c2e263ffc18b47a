//! 标签位图索引 — one compressed bitmap (roaring) per tag value over a dense party numbering,
//! and the audience arithmetic on it: counts, breakdowns, affinity and the audience portrait.
//!
//! Parties are numbered 0..n in `party_id` order when the index is built; every count is exact.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema};
use roaring::RoaringBitmap;

use crate::TagsError;
use crate::catalog::{
    Catalog, FeatureSchema, FeatureType, TagDef, TagRule, check_leaf_types, suggest,
};
use crate::eval::{Col, column, eval_rows};
use crate::expr::{Expr, ExprError, Literal};

/// Reserved rows of the stored index.
const ALL: &str = "_parties";
const CONSENT: &str = "_consent";

/// What a tag is, as the index and its readers know it.
#[derive(Debug, Clone, PartialEq)]
pub struct TagInfo {
    pub name: String,
    pub label_zh: String,
    pub label_en: String,
    pub category: String,
    pub kind: String,
    pub source: String,
    pub description: String,
    /// The features the tag's rules read (empty for tags of a model, such as segments).
    pub features: Vec<String>,
}

impl From<&TagDef> for TagInfo {
    fn from(t: &TagDef) -> Self {
        TagInfo {
            name: t.name.clone(),
            label_zh: t.label_zh.clone(),
            label_en: t.label_en.clone(),
            category: t.category.clone(),
            kind: t.kind.to_string(),
            source: t.source.clone(),
            description: t.description.clone(),
            features: t.features(),
        }
    }
}

/// A tag and the bitmap of each of its values.
#[derive(Debug, Clone)]
pub struct IndexedTag {
    pub info: TagInfo,
    pub values: Vec<(String, RoaringBitmap)>,
}

impl IndexedTag {
    /// Parties holding any value.
    pub fn any(&self) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        for (_, b) in &self.values {
            out |= b;
        }
        out
    }
}

/// The numeric (and boolean, as 0/1) feature columns in dense party order, by name.
pub type NumericColumns = HashMap<String, Arc<Vec<f64>>>;

/// The tag index of a store.
#[derive(Debug, Clone)]
pub struct TagIndex {
    parties: u32,
    tags: Vec<IndexedTag>,
    by_name: HashMap<String, usize>,
    /// Parties holding any value of each tag (the length of the union of its bitmaps).
    holders: Vec<u64>,
    consent: RoaringBitmap,
    /// Features the index can compare numerically (numbers and booleans).
    pub features: FeatureSchema,
}

/// One conjunct of an AND chain: the bitmaps whose union it is (a tag leaf), or a bitmap
/// computed from a sub-expression.
enum Term<'a> {
    Union(Vec<&'a RoaringBitmap>),
    Owned(RoaringBitmap),
}

impl Term<'_> {
    /// An upper bound of its size, to intersect smallest-first.
    fn estimate(&self) -> u64 {
        match self {
            Term::Union(parts) => parts.iter().map(|b| b.len()).sum(),
            Term::Owned(b) => b.len(),
        }
    }

    /// `set ∩ self`. A union of several bitmaps is distributed over a much smaller `set`
    /// (∪ (set ∩ part)) rather than materialised.
    fn and(&self, mut set: RoaringBitmap) -> RoaringBitmap {
        match self {
            Term::Owned(b) => {
                set &= b;
                set
            }
            Term::Union(parts) if parts.len() == 1 => {
                set &= parts[0];
                set
            }
            Term::Union(parts) if set.len().saturating_mul(4) < self.estimate() => {
                let mut out = RoaringBitmap::new();
                for b in parts {
                    out |= &set & *b;
                }
                out
            }
            Term::Union(parts) => {
                let mut union = RoaringBitmap::new();
                for b in parts {
                    union |= *b;
                }
                set &= &union;
                set
            }
        }
    }

    fn into_bitmap(self) -> RoaringBitmap {
        match self {
            Term::Owned(b) => b,
            Term::Union(parts) => {
                let mut out = RoaringBitmap::new();
                for b in parts {
                    out |= b;
                }
                out
            }
        }
    }
}

fn holders(tags: &[IndexedTag]) -> Vec<u64> {
    tags.iter().map(|t| t.any().len()).collect()
}

/// One row of a breakdown or of an audience portrait.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueShare {
    pub tag: String,
    /// `None` for the parties without a value of the tag.
    pub value: Option<String>,
    pub count: u64,
    /// Share of the audience.
    pub share: f64,
    pub population: u64,
    pub population_share: f64,
    /// share ÷ population_share.
    pub lift: f64,
    /// Pearson's chi-square of the 2×2 table audience × value, and its p-value (1 df).
    pub chi2: f64,
    pub p_value: f64,
}

/// A tag value over-represented among the holders of another.
#[derive(Debug, Clone, PartialEq)]
pub struct Affinity {
    pub tag: String,
    pub value: String,
    /// Parties holding both.
    pub both: u64,
    /// both ÷ all parties.
    pub support: f64,
    /// both ÷ holders of the first.
    pub confidence: f64,
    pub lift: f64,
}

/// Sum and mean of a numeric feature inside an audience and over everyone.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericSummary {
    pub feature: String,
    pub count: u64,
    pub sum: f64,
    pub mean: f64,
    pub population_mean: f64,
}

impl TagIndex {
    pub fn parties(&self) -> u32 {
        self.parties
    }

    pub fn tags(&self) -> &[IndexedTag] {
        &self.tags
    }

    pub fn tag(&self, name: &str) -> Option<&IndexedTag> {
        self.by_name.get(name).map(|&i| &self.tags[i])
    }

    /// Parties with marketing consent.
    pub fn consent(&self) -> &RoaringBitmap {
        &self.consent
    }

    pub fn all(&self) -> RoaringBitmap {
        let mut b = RoaringBitmap::new();
        b.insert_range(0..self.parties);
        b
    }

    fn unknown_name(&self, name: &str, column: usize) -> ExprError {
        let names = self
            .tags
            .iter()
            .map(|t| t.info.name.as_str())
            .chain(self.features.keys().map(String::as_str));
        let hint = suggest(name, names)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        ExprError::new(column, format!("unknown tag or feature `{name}`{hint}"))
    }

    /// Checks every name and value of an expression and returns the numeric features it needs.
    pub fn check(&self, e: &Expr) -> Result<Vec<String>, ExprError> {
        let mut needed: Vec<String> = Vec::new();
        for leaf in e.leaves() {
            let (name, column) = leaf.leaf_name().expect("a leaf");
            match leaf {
                Expr::Tag { values, .. } => {
                    let Some(t) = self.tag(name) else {
                        let hint = match self.features.get(name) {
                            Some(_) => {
                                format!("; `{name}` is a feature: compare it, e.g. `{name} > 0`")
                            }
                            None => suggest(name, self.tags.iter().map(|t| t.info.name.as_str()))
                                .map(|s| format!("; did you mean `{s}`?"))
                                .unwrap_or_default(),
                        };
                        return Err(ExprError::new(
                            column,
                            format!("unknown tag `{name}`{hint}"),
                        ));
                    };
                    for v in values {
                        if !t.values.iter().any(|(x, _)| x == v) {
                            let known: Vec<&str> =
                                t.values.iter().map(|(x, _)| x.as_str()).collect();
                            let hint = suggest(v, known.iter().copied())
                                .map(|s| format!("did you mean `{s}`? "))
                                .unwrap_or_default();
                            let list = if known.len() > 12 {
                                format!("{} … ({} values)", known[..12].join(", "), known.len())
                            } else {
                                known.join(", ")
                            };
                            return Err(ExprError::new(
                                column,
                                format!(
                                    "no party holds `{name}:{v}`; {hint}values of `{name}`: {list}"
                                ),
                            ));
                        }
                    }
                }
                Expr::Name { .. } if self.tag(name).is_some() => {}
                _ => {
                    let Some(&ty) = self.features.get(name) else {
                        if self.tag(name).is_some() {
                            return Err(ExprError::new(
                                column,
                                format!("`{name}` is a tag: select its values with `{name}:value`"),
                            ));
                        }
                        return Err(self.unknown_name(name, column));
                    };
                    check_leaf_types(leaf, ty)?;
                    if !needed.iter().any(|n| n == name) {
                        needed.push(name.to_string());
                    }
                }
            }
        }
        Ok(needed)
    }

    /// The parties an expression selects. Call [`TagIndex::check`] first and pass the
    /// columns it names.
    pub fn evaluate(&self, e: &Expr, columns: &NumericColumns) -> Result<RoaringBitmap, ExprError> {
        Ok(match e {
            Expr::And(..) => self.conjunction(e, columns)?,
            Expr::Or(a, b) => self.evaluate(a, columns)? | self.evaluate(b, columns)?,
            Expr::Not(a) => self.all() - self.evaluate(a, columns)?,
            Expr::Tag {
                tag,
                values,
                column,
            } => {
                let t = self
                    .tag(tag)
                    .ok_or_else(|| self.unknown_name(tag, *column))?;
                let mut out = RoaringBitmap::new();
                for (v, b) in &t.values {
                    if values.contains(v) {
                        out |= b;
                    }
                }
                out
            }
            Expr::Name { name, .. } if self.tag(name).is_some() => {
                self.tag(name).expect("checked").any()
            }
            leaf => {
                let (name, column) = leaf.leaf_name().expect("a leaf");
                let col = columns.get(name).ok_or_else(|| {
                    ExprError::new(
                        column,
                        format!("feature `{name}` was not loaded (this is a bug)"),
                    )
                })?;
                let ty = self
                    .features
                    .get(name)
                    .copied()
                    .unwrap_or(FeatureType::Number);
                numeric_leaf(leaf, ty, col)
            }
        })
    }

    /// A conjunct as the bitmaps of a tag leaf (borrowed) or as an evaluated sub-expression.
    fn term(&self, e: &Expr, columns: &NumericColumns) -> Result<Term<'_>, ExprError> {
        Ok(match e {
            Expr::Tag {
                tag,
                values,
                column,
            } => {
                let t = self
                    .tag(tag)
                    .ok_or_else(|| self.unknown_name(tag, *column))?;
                Term::Union(
                    t.values
                        .iter()
                        .filter(|(v, _)| values.contains(v))
                        .map(|(_, b)| b)
                        .collect(),
                )
            }
            Expr::Name { name, .. } if self.tag(name).is_some() => Term::Union(
                self.tag(name)
                    .expect("checked")
                    .values
                    .iter()
                    .map(|(_, b)| b)
                    .collect(),
            ),
            _ => Term::Owned(self.evaluate(e, columns)?),
        })
    }

    /// An AND chain, flattened: the positive conjuncts intersected smallest-first (a tag's
    /// values distributed over the running result instead of united first), then every negated
    /// conjunct subtracted, without the complement.
    fn conjunction(&self, e: &Expr, columns: &NumericColumns) -> Result<RoaringBitmap, ExprError> {
        fn flatten<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
            match e {
                Expr::And(a, b) => {
                    flatten(a, out);
                    flatten(b, out);
                }
                _ => out.push(e),
            }
        }
        let mut conjuncts = Vec::new();
        flatten(e, &mut conjuncts);
        let (mut pos, mut neg) = (Vec::new(), Vec::new());
        for c in conjuncts {
            match c {
                Expr::Not(x) => neg.push(self.term(x, columns)?),
                _ => pos.push(self.term(c, columns)?),
            }
        }
        pos.sort_by_key(Term::estimate);
        let mut pos = pos.into_iter();
        let mut acc = match pos.next() {
            None => self.all(),
            Some(t) => t.into_bitmap(),
        };
        for t in pos {
            if acc.is_empty() {
                break;
            }
            acc = t.and(acc);
        }
        for t in &neg {
            match t {
                Term::Union(parts) => {
                    for b in parts {
                        acc -= *b;
                    }
                }
                Term::Owned(b) => acc -= b,
            }
        }
        Ok(acc)
    }

    /// How an audience splits by the values of a tag, with the population beside it.
    pub fn breakdown(&self, set: &RoaringBitmap, tag: &str) -> Result<Vec<ValueShare>, TagsError> {
        let t = self.tag(tag).ok_or_else(|| {
            let hint = suggest(tag, self.tags.iter().map(|t| t.info.name.as_str()))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            TagsError::NotFound(format!("no tag `{tag}`{hint}"))
        })?;
        let n = set.len();
        let total = u64::from(self.parties);
        let mut rows: Vec<ValueShare> = t
            .values
            .iter()
            .map(|(v, b)| {
                share_row(
                    tag,
                    Some(v.clone()),
                    set.intersection_len(b),
                    n,
                    b.len(),
                    total,
                )
            })
            .collect();
        let holders = self.holders[self.by_name[tag]];
        let pop_without = total - holders;
        if pop_without > 0 {
            // Audience members without a value. When the values do not overlap (their sizes
            // add up to the holders), the counts add up too; else take every value out.
            let without = if t.values.iter().map(|(_, b)| b.len()).sum::<u64>() == holders {
                n - rows.iter().map(|r| r.count).sum::<u64>()
            } else {
                let mut rest = set.clone();
                for (_, b) in &t.values {
                    if rest.is_empty() {
                        break;
                    }
                    rest -= b;
                }
                rest.len()
            };
            rows.push(share_row(tag, None, without, n, pop_without, total));
        }
        Ok(rows)
    }

    /// Every tag value against the population: the audience portrait, most over-represented
    /// first.
    pub fn portrait(&self, set: &RoaringBitmap) -> Vec<ValueShare> {
        let n = set.len();
        let total = u64::from(self.parties);
        let mut rows: Vec<ValueShare> = self
            .tags
            .iter()
            .flat_map(|t| {
                t.values.iter().map(move |(v, b)| {
                    share_row(
                        &t.info.name,
                        Some(v.clone()),
                        set.intersection_len(b),
                        n,
                        b.len(),
                        total,
                    )
                })
            })
            .collect();
        rows.sort_by(|a, b| b.lift.total_cmp(&a.lift).then(b.count.cmp(&a.count)));
        rows
    }

    /// The tag values most over-represented among the parties of `set` (by lift), leaving out
    /// the values of `skip` and those held by fewer than `min_support` of all parties together
    /// with `set`.
    pub fn affinity(&self, set: &RoaringBitmap, skip: &[&str], min_support: f64) -> Vec<Affinity> {
        let total = f64::from(self.parties.max(1));
        let n = set.len() as f64;
        let mut out = Vec::new();
        for t in &self.tags {
            if skip.contains(&t.info.name.as_str()) {
                continue;
            }
            for (v, b) in &t.values {
                let both = set.intersection_len(b);
                let support = both as f64 / total;
                if both == 0 || support < min_support {
                    continue;
                }
                let confidence = both as f64 / n;
                let lift = confidence / (b.len() as f64 / total);
                out.push(Affinity {
                    tag: t.info.name.clone(),
                    value: v.clone(),
                    both,
                    support,
                    confidence,
                    lift,
                });
            }
        }
        out.sort_by(|a, b| b.lift.total_cmp(&a.lift).then(b.both.cmp(&a.both)));
        out
    }

    /// Count, sum and mean of a numeric feature inside `set`, and its mean over everyone.
    pub fn summarise(&self, set: &RoaringBitmap, feature: &str, col: &[f64]) -> NumericSummary {
        let (mut count, mut sum) = (0u64, 0.0);
        for i in set {
            let v = col[i as usize];
            if !v.is_nan() {
                count += 1;
                sum += v;
            }
        }
        let (mut pc, mut ps) = (0u64, 0.0);
        for &v in col {
            if !v.is_nan() {
                pc += 1;
                ps += v;
            }
        }
        NumericSummary {
            feature: feature.to_string(),
            count,
            sum,
            mean: if count > 0 {
                sum / count as f64
            } else {
                f64::NAN
            },
            population_mean: if pc > 0 { ps / pc as f64 } else { f64::NAN },
        }
    }

    /// The stored form: `tag_index(tag, value, parties, bitmap)` and
    /// `tag_catalog(ord, tag, label_zh, label_en, category, kind, source, description, features)`
    /// (`features` comma-separated).
    pub fn to_batches(&self) -> Result<(RecordBatch, RecordBatch), TagsError> {
        let mut tags = Vec::new();
        let mut values = Vec::new();
        let mut counts = Vec::new();
        let mut blobs: Vec<Vec<u8>> = Vec::new();
        let mut push = |t: &str, v: &str, b: &RoaringBitmap| -> Result<(), TagsError> {
            let mut bytes = Vec::with_capacity(b.serialized_size());
            b.serialize_into(&mut bytes)
                .map_err(|e| TagsError::Internal(format!("serialising a bitmap: {e}")))?;
            tags.push(t.to_string());
            values.push(v.to_string());
            counts.push(b.len());
            blobs.push(bytes);
            Ok(())
        };
        push(ALL, "", &self.all())?;
        push(CONSENT, "yes", &self.consent)?;
        for t in &self.tags {
            for (v, b) in &t.values {
                push(&t.info.name, v, b)?;
            }
        }
        let index = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("tag", DataType::Utf8, false),
                Field::new("value", DataType::Utf8, false),
                Field::new("parties", DataType::UInt64, false),
                Field::new("bitmap", DataType::Binary, false),
            ])),
            vec![
                Arc::new(StringArray::from(tags)),
                Arc::new(StringArray::from(values)),
                Arc::new(UInt64Array::from(counts)),
                Arc::new(BinaryArray::from_iter_values(blobs.iter())),
            ],
        )
        .map_err(|e| TagsError::Internal(e.to_string()))?;
        let s = |f: fn(&TagInfo) -> &str| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(
                self.tags.iter().map(|t| f(&t.info)),
            ))
        };
        let catalog = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("ord", DataType::UInt32, false),
                Field::new("tag", DataType::Utf8, false),
                Field::new("label_zh", DataType::Utf8, false),
                Field::new("label_en", DataType::Utf8, false),
                Field::new("category", DataType::Utf8, false),
                Field::new("kind", DataType::Utf8, false),
                Field::new("source", DataType::Utf8, false),
                Field::new("description", DataType::Utf8, false),
                Field::new("features", DataType::Utf8, false),
            ])),
            vec![
                Arc::new(UInt32Array::from_iter_values(0..self.tags.len() as u32)),
                s(|t| &t.name),
                s(|t| &t.label_zh),
                s(|t| &t.label_en),
                s(|t| &t.category),
                s(|t| &t.kind),
                s(|t| &t.source),
                s(|t| &t.description),
                Arc::new(StringArray::from_iter_values(
                    self.tags.iter().map(|t| t.info.features.join(",")),
                )),
            ],
        )
        .map_err(|e| TagsError::Internal(e.to_string()))?;
        Ok((index, catalog))
    }

    /// Reads the stored form back.
    pub fn from_batches(
        index: &[RecordBatch],
        catalog: &[RecordBatch],
        features: FeatureSchema,
    ) -> Result<TagIndex, TagsError> {
        let bad = |m: &str| TagsError::Internal(format!("the stored tag index is damaged: {m}"));
        let mut infos: Vec<(u32, TagInfo)> = Vec::new();
        for b in catalog {
            let s = |name: &str| stored_column::<StringArray>(b, name, &DataType::Utf8);
            let ord = stored_column::<UInt32Array>(b, "ord", &DataType::UInt32)?;
            let (tag, zh, en, cat, kind, source, desc) = (
                s("tag")?,
                s("label_zh")?,
                s("label_en")?,
                s("category")?,
                s("kind")?,
                s("source")?,
                s("description")?,
            );
            // Indexes built before the column existed read as naming no feature.
            let feats = b
                .column_by_name("features")
                .map(|_| s("features"))
                .transpose()?;
            for i in 0..b.num_rows() {
                infos.push((
                    ord.value(i),
                    TagInfo {
                        name: tag.value(i).into(),
                        label_zh: zh.value(i).into(),
                        label_en: en.value(i).into(),
                        category: cat.value(i).into(),
                        kind: kind.value(i).into(),
                        source: source.value(i).into(),
                        description: desc.value(i).into(),
                        features: feats
                            .as_ref()
                            .map(|f| f.value(i))
                            .filter(|f| !f.is_empty())
                            .map(|f| f.split(',').map(str::to_string).collect())
                            .unwrap_or_default(),
                    },
                ));
            }
        }
        infos.sort_by_key(|(o, _)| *o);
        let mut tags: Vec<IndexedTag> = infos
            .into_iter()
            .map(|(_, info)| IndexedTag {
                info,
                values: Vec::new(),
            })
            .collect();
        let by_name: HashMap<String, usize> = tags
            .iter()
            .enumerate()
            .map(|(i, t)| (t.info.name.clone(), i))
            .collect();
        let mut parties = None;
        let mut consent = RoaringBitmap::new();
        for b in index {
            let tag = stored_column::<StringArray>(b, "tag", &DataType::Utf8)?;
            let value = stored_column::<StringArray>(b, "value", &DataType::Utf8)?;
            let bits = stored_column::<BinaryArray>(b, "bitmap", &DataType::Binary)?;
            for i in 0..b.num_rows() {
                let bitmap = RoaringBitmap::deserialize_unchecked_from(bits.value(i))
                    .map_err(|e| bad(&e.to_string()))?;
                match tag.value(i) {
                    ALL => parties = Some(bitmap.len() as u32),
                    CONSENT => consent = bitmap,
                    t => {
                        let &ti = by_name
                            .get(t)
                            .ok_or_else(|| bad(&format!("tag `{t}` not in the catalogue")))?;
                        tags[ti].values.push((value.value(i).to_string(), bitmap));
                    }
                }
            }
        }
        Ok(TagIndex {
            parties: parties.ok_or_else(|| bad("no party count"))?,
            holders: holders(&tags),
            tags,
            by_name,
            consent,
            features,
        })
    }
}

/// A column of a stored index batch, cast to the type the reader expects.
fn stored_column<A: Array + Clone + 'static>(
    b: &RecordBatch,
    name: &str,
    to: &DataType,
) -> Result<A, TagsError> {
    let bad = |m: &str| TagsError::Internal(format!("the stored tag index is damaged: {m}"));
    let c = b.column_by_name(name).ok_or_else(|| bad(name))?;
    let c = arrow::compute::cast(c, to).map_err(|e| bad(&e.to_string()))?;
    c.as_any()
        .downcast_ref::<A>()
        .cloned()
        .ok_or_else(|| bad(name))
}

fn share_row(
    tag: &str,
    value: Option<String>,
    count: u64,
    n: u64,
    population: u64,
    total: u64,
) -> ValueShare {
    let share = if n > 0 { count as f64 / n as f64 } else { 0.0 };
    let population_share = if total > 0 {
        population as f64 / total as f64
    } else {
        0.0
    };
    let lift = if population_share > 0.0 {
        share / population_share
    } else {
        0.0
    };
    let (chi2, p_value) = chi_square_2x2(
        count,
        n - count,
        population - count,
        (total - n) - (population - count),
    );
    ValueShare {
        tag: tag.to_string(),
        value,
        count,
        share,
        population,
        population_share,
        lift,
        chi2,
        p_value,
    }
}

/// Pearson's chi-square of a 2×2 table (a b / c d) and its p-value with one degree of freedom.
pub fn chi_square_2x2(a: u64, b: u64, c: u64, d: u64) -> (f64, f64) {
    let (a, b, c, d) = (a as f64, b as f64, c as f64, d as f64);
    let n = a + b + c + d;
    let denom = (a + b) * (c + d) * (a + c) * (b + d);
    if denom == 0.0 {
        return (0.0, 1.0);
    }
    let chi2 = n * (a * d - b * c).powi(2) / denom;
    (chi2, erfc((chi2 / 2.0).sqrt()))
}

/// The complementary error function (W. J. Cody's rational approximations, relative error
/// below 1e-15 over the whole line).
pub fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 0.5 {
        return 1.0 - erf_small(x);
    }
    let (p, q): (&[f64], &[f64]) = if x < 4.0 {
        (
            &[
                5.641_884_969_886_701e-1,
                8.883_149_794_388_376e0,
                6.611_919_063_714_163e1,
                2.986_351_381_974_001e2,
                8.819_522_212_417_69e2,
                1.712_047_612_634_070_6e3,
                2.051_078_377_826_071_6e3,
                1.230_339_354_797_997_2e3,
                2.153_115_354_744_038_4e-8,
            ],
            &[
                1.574_492_611_070_983_5e1,
                1.176_939_508_913_125e2,
                5.371_811_018_620_099e2,
                1.621_389_574_566_690_3e3,
                3.290_799_235_733_459_7e3,
                4.362_619_090_143_247e3,
                3.439_367_674_143_721_6e3,
                1.230_339_354_803_749_5e3,
            ],
        )
    } else {
        let z = 1.0 / (x * x);
        let p = [
            3.053_266_349_612_323_4e-1,
            3.603_448_999_498_044_4e-1,
            1.257_817_261_112_292_6e-1,
            1.608_378_514_874_227_5e-2,
            6.587_491_615_298_378e-4,
            1.631_538_713_730_709_6e-2,
        ];
        let q = [
            2.568_520_192_289_822,
            1.872_952_849_923_460_4e0,
            5.279_051_029_514_284e-1,
            6.051_834_131_244_132e-2,
            2.335_204_976_268_691_8e-3,
        ];
        let mut num = p[5] * z;
        let mut den = z;
        for i in 0..4 {
            num = (num + p[i]) * z;
            den = (den + q[i]) * z;
        }
        let r = z * (num + p[4]) / (den + q[4]);
        let r = (1.0 / std::f64::consts::PI.sqrt() - r) / x;
        return (-x * x).exp() * r;
    };
    let mut num = p[8] * x;
    let mut den = x;
    for i in 0..7 {
        num = (num + p[i]) * x;
        den = (den + q[i]) * x;
    }
    (-x * x).exp() * (num + p[7]) / (den + q[7])
}

fn erf_small(x: f64) -> f64 {
    let a = [
        3.161_123_743_870_565_6e0,
        1.138_641_541_510_501_6e2,
        3.774_852_376_853_02e2,
        3.209_377_589_138_469_5e3,
        1.857_777_061_846_031_5e-1,
    ];
    let b = [
        2.360_129_095_234_412_2e1,
        2.440_246_379_344_441_7e2,
        1.282_616_526_077_372_3e3,
        2.844_236_833_439_171e3,
    ];
    let z = x * x;
    let mut num = a[4] * z;
    let mut den = z;
    for i in 0..3 {
        num = (num + a[i]) * z;
        den = (den + b[i]) * z;
    }
    x * (num + a[3]) / (den + b[3])
}

fn numeric_leaf(leaf: &Expr, ty: FeatureType, col: &[f64]) -> RoaringBitmap {
    let lit = |l: &Literal| match l {
        Literal::Number(n) => *n,
        Literal::Bool(b) => f64::from(u8::from(*b)),
        Literal::Text(_) => f64::NAN,
    };
    let pred: Box<dyn Fn(f64) -> bool> = match leaf {
        Expr::Cmp { op, value, .. } => {
            let x = lit(value);
            let op = *op;
            Box::new(move |v: f64| v.partial_cmp(&x).is_some_and(|o| op.holds(o)))
        }
        Expr::Between {
            low, high, negated, ..
        } => {
            let (lo, hi, neg) = (*low, *high, *negated);
            Box::new(move |v: f64| !v.is_nan() && ((v >= lo && v <= hi) != neg))
        }
        Expr::In {
            values, negated, ..
        } => {
            let xs: Vec<f64> = values.iter().map(lit).collect();
            let neg = *negated;
            Box::new(move |v: f64| !v.is_nan() && (xs.contains(&v) != neg))
        }
        Expr::IsNull { negated, .. } => {
            let neg = *negated;
            Box::new(move |v: f64| v.is_nan() != neg)
        }
        Expr::Name { .. } if ty == FeatureType::Bool => Box::new(|v: f64| v == 1.0),
        _ => Box::new(|_| false),
    };
    RoaringBitmap::from_sorted_iter(
        col.iter()
            .enumerate()
            .filter(|(_, v)| pred(**v))
            .map(|(i, _)| i as u32),
    )
    .expect("indices ascend")
}

/// Builds an index from feature batches that arrive in party order.
pub struct IndexBuilder<'c> {
    catalog: &'c Catalog,
    /// Quantile cuts per quantile tag, ascending.
    cuts: HashMap<String, Vec<f64>>,
    values: Vec<Vec<(String, RoaringBitmap)>>,
    lookup: Vec<HashMap<String, usize>>,
    consent: RoaringBitmap,
    rows: u32,
}

/// The column a `segment` tag reads from the feature batches.
pub fn segment_column(model: &str) -> String {
    format!("segment:{model}")
}

impl<'c> IndexBuilder<'c> {
    /// `cuts`: for every quantile tag, the cut points from [`quantile_cuts`].
    pub fn new(catalog: &'c Catalog, cuts: HashMap<String, Vec<f64>>) -> Self {
        let n = catalog.tags.len();
        IndexBuilder {
            catalog,
            cuts,
            values: vec![Vec::new(); n],
            lookup: vec![HashMap::new(); n],
            consent: RoaringBitmap::new(),
            rows: 0,
        }
    }

    fn mark(&mut self, tag: usize, value: &str, row: u32) {
        let slot = match self.lookup[tag].get(value) {
            Some(&s) => s,
            None => {
                let s = self.values[tag].len();
                self.values[tag].push((value.to_string(), RoaringBitmap::new()));
                self.lookup[tag].insert(value.to_string(), s);
                s
            }
        };
        let _ = self.values[tag][slot].1.try_push(row);
    }

    /// Adds the next batch of parties. `consent` marks those with marketing consent.
    pub fn add(&mut self, batch: &RecordBatch, consent: &[bool]) -> Result<(), TagsError> {
        let base = self.rows;
        let n = batch.num_rows();
        for (i, &c) in consent.iter().enumerate().take(n) {
            if c {
                let _ = self.consent.try_push(base + i as u32);
            }
        }
        for (ti, t) in self.catalog.tags.iter().enumerate() {
            let rule_err = |e: ExprError| TagsError::BadInput(format!("tag `{}`: {e}", t.name));
            match &t.rule {
                TagRule::Rule { values, multiple } => {
                    let mut taken = vec![false; n];
                    for (v, e) in values {
                        let hits = eval_rows(e, batch).map_err(rule_err)?;
                        for (i, h) in hits.into_iter().enumerate() {
                            if h && (*multiple || !taken[i]) {
                                taken[i] = true;
                                self.mark(ti, v, base + i as u32);
                            }
                        }
                    }
                }
                TagRule::Category { feature, map, .. } => {
                    let c = column(batch, feature).ok_or_else(|| {
                        TagsError::BadInput(format!("tag `{}`: no feature `{feature}`", t.name))
                    })?;
                    for i in 0..n {
                        let v = match &c {
                            Col::Text(a) if a.is_valid(i) && !a.value(i).is_empty() => {
                                Some(a.value(i).to_string())
                            }
                            Col::Bool(a) if a.is_valid(i) => {
                                Some(if a.value(i) { "yes" } else { "no" }.to_string())
                            }
                            Col::Num(a) if a.is_valid(i) && a.value(i).is_finite() => {
                                let x = a.value(i);
                                Some(if x.fract() == 0.0 {
                                    format!("{}", x as i64)
                                } else {
                                    format!("{x}")
                                })
                            }
                            _ => None,
                        };
                        if let Some(v) = v {
                            let v = map.get(&v).cloned().unwrap_or(v);
                            self.mark(ti, &v, base + i as u32);
                        }
                    }
                }
                TagRule::Segment { model } => {
                    let name = segment_column(model);
                    if let Some(Col::Text(a)) = column(batch, &name) {
                        for i in 0..n {
                            if a.is_valid(i) {
                                let v = a.value(i).to_string();
                                self.mark(ti, &v, base + i as u32);
                            }
                        }
                    }
                }
                TagRule::Bucket { feature, buckets } => {
                    let Some(Col::Num(a)) = column(batch, feature) else {
                        return Err(TagsError::BadInput(format!(
                            "tag `{}`: no numeric feature `{feature}`",
                            t.name
                        )));
                    };
                    for i in 0..n {
                        if a.is_valid(i)
                            && !a.value(i).is_nan()
                            && let Some(b) = buckets.iter().find(|b| b.contains(a.value(i)))
                        {
                            let v = b.value.clone();
                            self.mark(ti, &v, base + i as u32);
                        }
                    }
                }
                TagRule::Quantile {
                    feature,
                    labels,
                    skip_zero,
                } => {
                    let Some(Col::Num(a)) = column(batch, feature) else {
                        return Err(TagsError::BadInput(format!(
                            "tag `{}`: no numeric feature `{feature}`",
                            t.name
                        )));
                    };
                    let cuts = self.cuts.get(&t.name).cloned().unwrap_or_default();
                    for i in 0..n {
                        if !a.is_valid(i)
                            || a.value(i).is_nan()
                            || (*skip_zero && a.value(i) == 0.0)
                        {
                            continue;
                        }
                        let g = cuts
                            .iter()
                            .filter(|&&c| a.value(i) >= c)
                            .count()
                            .min(labels.len() - 1);
                        let v = labels[g].clone();
                        self.mark(ti, &v, base + i as u32);
                    }
                }
            }
        }
        self.rows += n as u32;
        Ok(())
    }

    pub fn finish(self, features: FeatureSchema) -> TagIndex {
        let mut tags = Vec::with_capacity(self.values.len());
        for (t, mut values) in self.catalog.tags.iter().zip(self.values) {
            // Rule, bucket and ordered category values in catalogue order, the rest by value.
            let order: Vec<String> = match &t.rule {
                TagRule::Category { order, .. } => order.clone(),
                TagRule::Rule { values, .. } => values.iter().map(|(v, _)| v.clone()).collect(),
                TagRule::Bucket { buckets, .. } => {
                    buckets.iter().map(|b| b.value.clone()).collect()
                }
                TagRule::Quantile { labels, .. } => labels.clone(),
                _ => Vec::new(),
            };
            values.sort_by(|a, b| {
                let pa = order.iter().position(|o| *o == a.0);
                let pb = order.iter().position(|o| *o == b.0);
                match (pa, pb) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    _ => a.0.cmp(&b.0),
                }
            });
            for (_, b) in &mut values {
                b.optimize();
            }
            tags.push(IndexedTag {
                info: TagInfo::from(t),
                values,
            });
        }
        let by_name = tags
            .iter()
            .enumerate()
            .map(|(i, t)| (t.info.name.clone(), i))
            .collect();
        TagIndex {
            parties: self.rows,
            holders: holders(&tags),
            tags,
            by_name,
            consent: self.consent,
            features,
        }
    }
}

/// Cut points for `groups` equal-count groups of the values (NaN left out, and zeros when
/// `skip_zero`): the value at each rank i·n/groups of the sorted values.
pub fn quantile_cuts(mut values: Vec<f64>, groups: usize, skip_zero: bool) -> Vec<f64> {
    values.retain(|v| !v.is_nan() && (!skip_zero || *v != 0.0));
    if values.is_empty() || groups < 2 {
        return Vec::new();
    }
    values.sort_by(f64::total_cmp);
    (1..groups)
        .map(|i| values[i * values.len() / groups])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_known_values() {
        for (x, want) in [
            (0.0, 1.0),
            (0.3, 0.671_373_240_540_872_9),
            (1.0, 0.157_299_207_050_285_13),
            (2.5, 4.069_520_174_449_59e-4),
            (5.0, 1.537_459_794_428_034_8e-12),
            (-1.0, 1.842_700_792_949_715),
        ] {
            let got = erfc(x);
            assert!(
                (got - want).abs() <= 1e-13 * want.max(1e-300) + 1e-16,
                "erfc({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn chi_square_of_a_known_table() {
        // 2×2 table (10 20 / 30 40): chi2 = 100·(400 − 600)² / (30·70·40·60) = 0.79365…
        let (chi2, p) = chi_square_2x2(10, 20, 30, 40);
        assert!((chi2 - 0.793_650_793_650_793_6).abs() < 1e-12);
        assert!((p - 0.372_998_483_613_487).abs() < 1e-12, "{p}");
    }

    /// The plain set algebra of an expression over tag leaves, for comparison.
    fn naive(index: &TagIndex, e: &Expr) -> RoaringBitmap {
        match e {
            Expr::And(a, b) => naive(index, a) & naive(index, b),
            Expr::Or(a, b) => naive(index, a) | naive(index, b),
            Expr::Not(a) => index.all() - naive(index, a),
            Expr::Tag { tag, values, .. } => {
                let mut out = RoaringBitmap::new();
                for (v, b) in &index.tag(tag).expect("a tag").values {
                    if values.contains(v) {
                        out |= b;
                    }
                }
                out
            }
            Expr::Name { name, .. } => index.tag(name).expect("a tag").any(),
            _ => unreachable!("tag leaves only"),
        }
    }

    #[test]
    fn conjunctions_and_breakdowns_equal_the_plain_set_algebra() {
        // Four tags over 200,000 parties: `a` single-valued, held by everyone; `b` and `c`
        // multi-valued; `d` single-valued, held by 60 %.
        let n = 200_000u32;
        let mut state = 7u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut tags = Vec::new();
        for (name, k, p) in [("a", 4, 100u64), ("b", 5, 15), ("c", 3, 30), ("d", 3, 60)] {
            let mut values: Vec<(String, RoaringBitmap)> = (0..k)
                .map(|i| (format!("v{i}"), RoaringBitmap::new()))
                .collect();
            for party in 0..n {
                if name == "a" || name == "d" {
                    if next() % 100 < p {
                        let _ = values[(next() % k as u64) as usize].1.try_push(party);
                    }
                } else {
                    for (_, b) in values.iter_mut() {
                        if next() % 100 < p {
                            let _ = b.try_push(party);
                        }
                    }
                }
            }
            tags.push(IndexedTag {
                info: TagInfo {
                    name: name.into(),
                    label_zh: String::new(),
                    label_en: String::new(),
                    category: "value".into(),
                    kind: "rule".into(),
                    source: String::new(),
                    description: String::new(),
                    features: vec![name.to_string()],
                },
                values,
            });
        }
        let index = TagIndex {
            parties: n,
            holders: holders(&tags),
            by_name: tags
                .iter()
                .enumerate()
                .map(|(i, t)| (t.info.name.clone(), i))
                .collect(),
            tags,
            consent: RoaringBitmap::new(),
            features: FeatureSchema::new(),
        };
        let none = NumericColumns::new();
        for text in [
            "a:v1 AND b:v2",
            "a:(v0|v1) AND b:(v1|v2|v3) AND NOT c:v0 AND c:(v1|v2)",
            "NOT a:v0 AND NOT b:v1",
            "b AND NOT c AND a:v3",
            "(a:v0 OR b:v4) AND NOT (c:v1 AND b:v0) AND c",
            "a:v2 AND NOT NOT b:v1 AND (NOT c:v2)",
            "a:v0 AND a:v1",
        ] {
            let e = Expr::parse(text).expect("parses");
            let got = index.evaluate(&e, &none).expect("evaluates");
            assert_eq!(got, naive(&index, &e), "{text}");
            for by in ["a", "b", "c", "d"] {
                let rows = index.breakdown(&got, by).expect("a tag");
                let t = index.tag(by).expect("a tag");
                let any = t.any();
                for r in &rows {
                    match &r.value {
                        Some(v) => {
                            let b = &t.values.iter().find(|(x, _)| x == v).expect("value").1;
                            assert_eq!(r.count, got.intersection_len(b), "{text} by {by}");
                        }
                        None => {
                            assert_eq!(r.count, got.len() - got.intersection_len(&any));
                            assert_eq!(r.population, u64::from(n) - any.len());
                        }
                    }
                }
                assert_eq!(
                    rows.len(),
                    t.values.len() + usize::from(any.len() < u64::from(n))
                );
            }
        }
    }

    #[test]
    fn quantile_cuts_give_equal_groups() {
        let cuts = quantile_cuts((1..=100).map(f64::from).collect(), 4, false);
        assert_eq!(cuts, vec![26.0, 51.0, 76.0]);
        let cuts = quantile_cuts(vec![0.0, 0.0, 0.0, 5.0, 6.0, f64::NAN], 2, true);
        assert_eq!(cuts, vec![6.0]);
    }
}

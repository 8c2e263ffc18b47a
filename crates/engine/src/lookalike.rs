//! 相似人群扩展 — `portrait audience lookalike`: the parties most like a seed audience, over the
//! numeric and boolean features of the tag index (`tag_party`), by the methods of
//! [`portrait_model::lookalike`].
//!
//! With `auto` each method is judged on a random half of the seed hidden from it (the other
//! half expanded to as many parties as were hidden) and the one that finds more is used on the
//! whole seed. A saved lookalike keeps its request as its expression (`lookalike {json}`), so
//! `audience diff` can run it again on newer tags; the method `auto` chose is saved with it, so
//! a re-run differs only by what the tags say.

use portrait_model::lookalike::{Features, Holdout, LookalikeParams, Method, Scorer};
use portrait_store::Store;
use portrait_tags::catalog::FeatureType;
use portrait_tags::{RoaringBitmap, TagIndex};
use serde::{Deserialize, Serialize};

use crate::tags::{load_columns, party_ids, select};
use crate::{EngineError, Result};

/// The expression of a saved lookalike starts with this (`@` starts no audience expression).
pub const SAVED_PREFIX: &str = "@lookalike ";

/// Errors of the data the caller chose (a seed too small, too alike the population) are the
/// caller's; the rest are faults.
fn model_error(e: portrait_model::ModelError) -> EngineError {
    use portrait_model::ModelError as M;
    match e {
        M::InsufficientData(m) => EngineError::Usage(m),
        M::InvalidParameter { .. } => EngineError::Usage(e.to_string()),
        other => EngineError::Query(format!("lookalike: {other}")),
    }
}

/// Which method finds the parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Choice {
    /// The method that finds more of a hidden half of the seed.
    #[default]
    Auto,
    Centroid,
    Classifier,
}

impl std::str::FromStr for Choice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Choice::Auto),
            "centroid" => Ok(Choice::Centroid),
            "classifier" => Ok(Choice::Classifier),
            _ => Err(format!(
                "`{s}` is not a lookalike method: auto, centroid or classifier"
            )),
        }
    }
}

/// A lookalike request: what a saved lookalike keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// The seed audience's expression.
    pub seed: String,
    /// Parties wanted.
    pub size: usize,
    #[serde(default)]
    pub method: Choice,
    /// Parties never returned (besides the seed), as an expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
}

impl Spec {
    /// The expression a saved lookalike is kept under.
    pub fn to_saved(&self) -> String {
        format!(
            "{SAVED_PREFIX}{}",
            serde_json::to_string(self).expect("a spec serialises")
        )
    }

    /// The request as it is saved: with the method `auto` chose, so that a re-run does not
    /// hold the contest again.
    pub fn resolved(&self, method: Method) -> Spec {
        Spec {
            method: match method {
                Method::Centroid => Choice::Centroid,
                Method::Classifier => Choice::Classifier,
            },
            ..self.clone()
        }
    }

    /// The request inside a saved expression, if it is a lookalike.
    pub fn from_saved(expr: &str) -> Option<Result<Spec>> {
        let json = expr.strip_prefix(SAVED_PREFIX)?;
        Some(serde_json::from_str(json).map_err(|e| {
            EngineError::Usage(format!("the saved lookalike `{expr}` cannot be read: {e}"))
        }))
    }
}

/// One party found.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    /// Dense index in the tag index.
    #[serde(skip)]
    pub index: u32,
    pub party_id: String,
    /// Centroid: projection on the seed's mean (standard deviations); classifier: probability of looking like the seed.
    pub score: f64,
    /// Features adding most to the score (codes), with what each adds.
    pub why: Vec<(String, f64)>,
}

/// A lookalike and how its method was chosen.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub spec: Spec,
    pub seed_parties: u64,
    pub excluded: u64,
    /// Parties that could be returned: not in the seed, not excluded.
    pub candidates: u64,
    pub method: Method,
    /// The held-out check of each method that could be judged.
    pub checks: Vec<Holdout>,
    /// Features used (the ones that vary).
    pub features: Vec<String>,
    /// Features left out because the seed is defined by them.
    pub dropped: Vec<String>,
    pub converged: bool,
    pub members: Vec<Member>,
    #[serde(skip)]
    pub parties: RoaringBitmap,
}

/// Every party's numeric and boolean features, ranked and standardised, and the codes of the
/// ones that vary.
fn behaviour(store: &Store, index: &TagIndex, drop: &[String]) -> Result<(Features, Vec<String>)> {
    let names: Vec<String> = index
        .features
        .iter()
        .filter(|(n, t)| matches!(t, FeatureType::Number | FeatureType::Bool) && !drop.contains(*n))
        .map(|(n, _)| n.clone())
        .collect();
    if names.is_empty() {
        return Err(EngineError::Usage(
            "the tag index has no numeric features to compare parties by\nhint: run `portrait features` and `portrait tags build`".into(),
        ));
    }
    let columns = load_columns(store, &names)?;
    let refs: Vec<&[f64]> = names.iter().map(|n| columns[n].as_slice()).collect();
    let features = Features::new(&refs).map_err(model_error)?;
    let used = features.kept().iter().map(|&j| names[j].clone()).collect();
    Ok((features, used))
}

/// The features an expression is defined by: those it compares, and those its tags' rules
/// read. Comparing parties by them would find the seed by its own definition, and the
/// held-out check would judge that instead of likeness.
fn defining(index: &TagIndex, expr: &portrait_tags::Expr) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for leaf in expr.leaves() {
        let Some((name, _)) = leaf.leaf_name() else {
            continue;
        };
        let names = match index.tag(name) {
            Some(t) => t.info.features.clone(),
            None => vec![name.to_string()],
        };
        for n in names {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// Finds the parties of `spec`.
pub fn run(store: &Store, index: &TagIndex, spec: &Spec) -> Result<Found> {
    if spec.size == 0 {
        return Err(EngineError::Usage("--size must be at least 1".into()));
    }
    let seed_audience = select(store, index, &spec.seed)?;
    let dropped = defining(index, &seed_audience.expr);
    let seed = seed_audience.parties;
    if seed.is_empty() {
        return Err(EngineError::Usage(format!(
            "the seed `{}` selects no party",
            spec.seed
        )));
    }
    let exclude = match &spec.exclude {
        Some(e) => select(store, index, e)?.parties,
        None => RoaringBitmap::new(),
    };
    let everyone = u64::from(index.parties());
    // A lookalike expands a minority: past half of everyone it would mostly return the rest.
    if seed.len() * 2 > everyone {
        return Err(EngineError::Usage(format!(
            "the seed `{}` holds {} of {} parties; a lookalike expands a seed of at most half of them",
            spec.seed,
            seed.len(),
            everyone
        )));
    }
    let candidates = everyone - (seed.clone() | &exclude).len();
    if candidates == 0 {
        return Err(EngineError::Usage(
            "the seed and the exclusion hold every party: nobody is left to find".into(),
        ));
    }
    if spec.method == Choice::Classifier && seed.len() < 10 {
        return Err(EngineError::Usage(format!(
            "the classifier needs a seed of at least 10 parties, `{}` holds {}",
            spec.seed,
            seed.len()
        )));
    }
    let (features, used) = behaviour(store, index, &dropped)?;
    let seed_list: Vec<u32> = seed.iter().collect();
    let params = LookalikeParams::default();
    let allowed = |i: u32| !exclude.contains(i);
    // Each half needs 10 parties for the classifier to be judged.
    let mut checks = Vec::new();
    // `auto` judges both methods; a method asked for is judged alone, so its quality shows.
    let judged: &[Method] = match spec.method {
        Choice::Auto => &Method::ALL,
        Choice::Centroid => &[Method::Centroid],
        Choice::Classifier => &[Method::Classifier],
    };
    if seed_list.len() >= 20 {
        for &m in judged {
            match portrait_model::lookalike::holdout(&features, &seed_list, allowed, m, &params) {
                Ok(h) => checks.push(h),
                // A half that does not depart from the population leaves that method unjudged.
                Err(portrait_model::ModelError::InsufficientData(_)) => {}
                Err(e) => return Err(model_error(e)),
            }
        }
    }
    let method = match spec.method {
        Choice::Centroid => Method::Centroid,
        Choice::Classifier => Method::Classifier,
        // The better finder; the simpler one on a tie or when neither could be judged.
        Choice::Auto => checks
            .iter()
            .fold(None::<&Holdout>, |best, h| match best {
                Some(b) if b.recall >= h.recall => Some(b),
                _ => Some(h),
            })
            .map_or(Method::Centroid, |h| h.method),
    };
    let scorer = Scorer::fit(&features, &seed_list, method, &params).map_err(model_error)?;
    let candidate = |i: u32| !seed.contains(i) && !exclude.contains(i);
    let top = scorer.top(&features, candidate, spec.size, &params);
    let ids = party_ids(store)?;
    let mut parties = RoaringBitmap::new();
    let members = top
        .into_iter()
        .map(|s| {
            parties.insert(s.index);
            Member {
                index: s.index,
                party_id: ids[s.index as usize].clone(),
                score: s.score,
                why: s.why.iter().map(|&(j, c)| (used[j].clone(), c)).collect(),
            }
        })
        .collect();
    Ok(Found {
        spec: spec.clone(),
        seed_parties: seed.len(),
        excluded: (&exclude - &seed).len(),
        candidates,
        method,
        checks,
        features: used,
        dropped,
        converged: scorer.converged,
        members,
        parties,
    })
}

/// How each method finds the hidden half of the parties holding a known trait.
#[derive(Debug, Clone, Serialize)]
pub struct TraitCheck {
    /// The trait, as the truth file names it.
    pub value: String,
    /// Parties holding it (any of their customer numbers does).
    pub parties: u64,
    pub checks: Vec<Holdout>,
}

/// The held-out check of every method on the parties of each trait of a truth file: a CSV
/// with a header naming `cust_no` and a trait column (`column`), one line per customer number
/// and trait held (the generator's `truth/interest.csv`). Traits held by fewer than 20 parties
/// are left out.
pub async fn eval_truth(
    store: &Store,
    index: &TagIndex,
    truth: &std::path::Path,
    column: &str,
    only: Option<&str>,
) -> Result<Vec<TraitCheck>> {
    use arrow::array::AsArray;
    use std::collections::{BTreeMap, HashMap};
    let bad =
        |line: u64, what: String| EngineError::Usage(format!("{}:{line}: {what}", truth.display()));
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(truth)
        .map_err(|e| bad(1, e.to_string()))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad(1, e.to_string()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let find = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            bad(
                1,
                format!(
                    "the header must name the columns cust_no and {column}; found {}",
                    header.join(", ")
                ),
            )
        })
    };
    let (c_cust, c_value) = (find("cust_no")?, find(column)?);
    let mut held: HashMap<String, Vec<String>> = HashMap::new();
    for record in reader.records() {
        let record =
            record.map_err(|e| bad(e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let (cust, value) = (
            record.get(c_cust).unwrap_or(""),
            record.get(c_value).unwrap_or(""),
        );
        if cust.is_empty() {
            return Err(bad(
                line,
                format!("column {} (`cust_no`) is empty", c_cust + 1),
            ));
        }
        if value.is_empty() || only.is_some_and(|o| o != value) {
            continue;
        }
        held.entry(cust.to_string())
            .or_default()
            .push(value.to_string());
    }
    if held.is_empty() {
        return Err(bad(
            1,
            match only {
                Some(o) => format!("no customer number holds `{o}`"),
                None => "no customer number holds a trait".into(),
            },
        ));
    }
    // customer number → party → dense index of the tag index
    let dense: HashMap<String, u32> = party_ids(store)?
        .into_iter()
        .enumerate()
        .map(|(i, id)| (id, i as u32))
        .collect();
    let ctx = crate::open_session(store).await?;
    crate::features::register_missing_inputs(&ctx, store)?;
    let mapping = crate::features::parties(store).mapping_sql();
    let batches = ctx
        .sql(&format!(
            "SELECT CAST(cust_no AS VARCHAR), CAST(party_id AS VARCHAR) FROM ({mapping}) m"
        ))
        .await?
        .collect()
        .await?;
    let mut seeds: BTreeMap<String, RoaringBitmap> = BTreeMap::new();
    for b in &batches {
        let cust = crate::utf8(b.column(0))?;
        let party = crate::utf8(b.column(1))?;
        let (cust, party) = (cust.as_string::<i32>(), party.as_string::<i32>());
        for i in 0..b.num_rows() {
            let (Some(values), Some(&d)) = (held.get(cust.value(i)), dense.get(party.value(i)))
            else {
                continue;
            };
            for v in values {
                seeds.entry(v.clone()).or_default().insert(d);
            }
        }
    }
    let (features, _) = behaviour(store, index, &[])?;
    let params = LookalikeParams::default();
    let mut out = Vec::new();
    for (value, seed) in seeds {
        if seed.len() < 20 {
            continue;
        }
        let list: Vec<u32> = seed.iter().collect();
        let mut checks = Vec::new();
        for m in Method::ALL {
            match portrait_model::lookalike::holdout(&features, &list, |_| true, m, &params) {
                Ok(h) => checks.push(h),
                Err(portrait_model::ModelError::InsufficientData(_)) => {}
                Err(e) => return Err(model_error(e)),
            }
        }
        out.push(TraitCheck {
            value,
            parties: seed.len(),
            checks,
        });
    }
    if out.is_empty() {
        return Err(EngineError::Usage(
            "no trait of the truth file is held by 20 parties of the store, too few to hide half of".into(),
        ));
    }
    Ok(out)
}

//! `[resolve]` in `portrait.toml`: blocking rules, compared fields, thresholds and guards.

use serde::{Deserialize, Serialize};

use crate::compare::{Cutoffs, Field};
use crate::record::KeyField;

/// Where the u probabilities (agreement among non-matches) come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum USource {
    /// Estimated by EM together with m, on the blocked candidate pairs.
    Em,
    /// Measured on random record pairs (almost all non-matches) and held fixed.
    Random,
}

/// A blocking rule: records are compared only when they agree on every key of some rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockingRule {
    pub name: String,
    pub keys: Vec<String>,
}

/// A deterministic rule: records that agree exactly on every field are the same party.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExactRule {
    pub name: String,
    pub fields: Vec<String>,
}

/// Compared by default. `surname` and `given_name` are the alternative to `name` for data
/// whose name parts err independently (Latin-script records).
pub const DEFAULT_FIELDS: &[&str] = &[
    "name",
    "birth_date",
    "mobile",
    "id_no",
    "address",
    "postcode",
    "email",
    "gender",
];

/// Identity resolution settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResolveConfig {
    /// Match probability at or above which a compared pair is merged.
    pub threshold: f64,
    /// Fields compared in the Fellegi–Sunter model.
    pub fields: Vec<String>,
    /// Candidate pairs come from these rules; a pair is compared once.
    pub blocking: Vec<BlockingRule>,
    /// Extra deterministic rules, after "same valid resident ID" and "same valid USCC".
    pub rules: Vec<ExactRule>,
    /// Blocks with more records than this are skipped (with a warning): a key shared by
    /// that many records is a placeholder or too common to say anything.
    pub max_block_size: usize,
    /// Merges that would make a party larger than this are refused (with a warning).
    pub max_party_size: usize,
    /// Values that never link (besides the built-in placeholder phones, IDs and names).
    pub placeholders: Vec<String>,
    pub u_source: USource,
    /// Weigh exact name agreements by how rare the name is.
    pub term_frequencies: bool,
    /// Random pairs sampled to measure u.
    pub random_pairs: usize,
    pub em_max_iterations: usize,
    /// Seed of the random pair sample.
    pub seed: u64,
    pub cutoffs: Cutoffs,
}

impl Default for ResolveConfig {
    fn default() -> Self {
        let rule = |name: &str, keys: &[&str]| BlockingRule {
            name: name.to_string(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
        };
        Self {
            threshold: 0.9,
            fields: DEFAULT_FIELDS.iter().map(|f| f.to_string()).collect(),
            blocking: vec![
                rule("surname_birth_date", &["surname", "birth_date"]),
                rule("given_name_birth_date", &["given_name", "birth_date"]),
                rule("pinyin_birth_year", &["name_pinyin", "birth_year"]),
                rule("mobile", &["mobile"]),
                rule("id_no", &["id_no"]),
                rule("address", &["address"]),
                rule("email", &["email"]),
                rule("postcode_birth_date", &["postcode", "birth_date"]),
            ],
            rules: Vec::new(),
            max_block_size: 1000,
            max_party_size: 20,
            placeholders: Vec::new(),
            u_source: USource::Random,
            term_frequencies: true,
            random_pairs: 1_000_000,
            em_max_iterations: 100,
            seed: 20_240_601,
            cutoffs: Cutoffs::default(),
        }
    }
}

/// A configuration mistake, naming the setting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("resolve.{path}: {reason}")]
pub struct ConfigError {
    pub path: String,
    pub reason: String,
}

/// The configuration checked and resolved into typed rules.
#[derive(Debug, Clone)]
pub struct Plan {
    pub fields: Vec<Field>,
    pub blocking: Vec<(String, Vec<KeyField>)>,
    pub rules: Vec<(String, Vec<KeyField>)>,
}

impl ResolveConfig {
    /// Checks every setting and resolves names into fields and keys.
    pub fn plan(&self) -> Result<Plan, ConfigError> {
        let err = |path: String, reason: String| ConfigError { path, reason };
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(err(
                "threshold".into(),
                format!(
                    "{} is out of range: a match probability lies strictly between 0 and 1",
                    self.threshold
                ),
            ));
        }
        let known_keys = || {
            KeyField::ALL
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut fields = Vec::new();
        for (i, f) in self.fields.iter().enumerate() {
            let field = Field::parse(f).ok_or_else(|| {
                let known: Vec<_> = Field::ALL.iter().map(|f| f.name()).collect();
                err(
                    format!("fields[{i}]"),
                    format!("unknown field `{f}`; known: {}", known.join(", ")),
                )
            })?;
            if fields.contains(&field) {
                return Err(err(
                    format!("fields[{i}]"),
                    format!("`{f}` is listed twice"),
                ));
            }
            let name_parts = |f: &Field| matches!(f, Field::Surname | Field::GivenName);
            if (field == Field::Name && fields.iter().any(name_parts))
                || (name_parts(&field) && fields.contains(&Field::Name))
            {
                return Err(err(
                    format!("fields[{i}]"),
                    "`name` and `surname`/`given_name` count the same evidence twice; compare one or the other".into(),
                ));
            }
            fields.push(field);
        }
        if fields.is_empty() {
            return Err(err(
                "fields".into(),
                "at least one field must be compared".into(),
            ));
        }
        let keys = |section: &str, i: usize, names: &[String]| {
            if names.is_empty() {
                return Err(err(
                    format!("{section}[{i}]"),
                    "a rule needs at least one key".into(),
                ));
            }
            names
                .iter()
                .enumerate()
                .map(|(j, k)| {
                    KeyField::parse(k).ok_or_else(|| {
                        err(
                            format!("{section}[{i}].keys[{j}]"),
                            format!("unknown field `{k}`; known: {}", known_keys()),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let blocking = self
            .blocking
            .iter()
            .enumerate()
            .map(|(i, r)| Ok((r.name.clone(), keys("blocking", i, &r.keys)?)))
            .collect::<Result<Vec<_>, ConfigError>>()?;
        if blocking.is_empty() {
            return Err(err(
                "blocking".into(),
                "at least one blocking rule is needed".into(),
            ));
        }
        let rules = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| Ok((r.name.clone(), keys("rules", i, &r.fields)?)))
            .collect::<Result<Vec<_>, ConfigError>>()?;
        if self.max_block_size < 2 {
            return Err(err("max_block_size".into(), "must be at least 2".into()));
        }
        if self.max_party_size < 2 {
            return Err(err("max_party_size".into(), "must be at least 2".into()));
        }
        let c = &self.cutoffs;
        for (name, v) in [
            ("name_jw_high", c.name_jw_high),
            ("name_jw_low", c.name_jw_low),
            ("address_high", c.address_high),
            ("address_low", c.address_low),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(err(
                    format!("cutoffs.{name}"),
                    format!("{v} is out of range 0..=1"),
                ));
            }
        }
        if c.name_jw_low > c.name_jw_high || c.address_low > c.address_high {
            return Err(err(
                "cutoffs".into(),
                "a low cut-off exceeds its high one".into(),
            ));
        }
        Ok(Plan {
            fields,
            blocking,
            rules,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        ResolveConfig::default().plan().unwrap();
    }

    #[test]
    fn bad_settings_are_named() {
        let mut c = ResolveConfig::default();
        c.blocking[1].keys[0] = "surnme".into();
        let e = c.plan().unwrap_err();
        assert_eq!(e.path, "blocking[1].keys[0]");
        assert!(e.reason.contains("unknown field `surnme`"), "{e}");
        let c = ResolveConfig {
            threshold: 1.5,
            ..ResolveConfig::default()
        };
        assert!(
            c.plan()
                .unwrap_err()
                .to_string()
                .starts_with("resolve.threshold: 1.5 is out of range")
        );
    }
}

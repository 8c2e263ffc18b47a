//! `portrait.toml`: the configuration file every command reads, parsed and checked as a whole.
//! The command line applies its environment (`PORTRAIT_*`) and flags on top.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `portrait.toml`. Unknown keys are an error that names the valid ones.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `[engine]`: how the engine runs (the memory budget).
    #[serde(default)]
    pub engine: EngineSection,
    #[serde(default)]
    pub ingest: IngestSection,
    /// `[mapping.<table>]`: source header = canonical column.
    #[serde(default)]
    pub mapping: BTreeMap<String, BTreeMap<String, String>>,
    /// `[features]`: definitions and cut-offs of the portrait.
    #[serde(default)]
    pub features: crate::features::FeatureConfig,
    /// `[score]`: parameters of CLV, BG/NBD, churn and retention groups.
    #[serde(default)]
    pub score: crate::score::ScoreConfig,
    /// `[resolve]`: blocking rules, compared fields, threshold and guards of identity resolution.
    #[serde(default)]
    pub resolve: portrait_resolve::ResolveConfig,
    /// `[links]`: guards and thresholds of related-party links.
    #[serde(default)]
    pub links: crate::links::LinkConfig,
    /// `[survivorship]`: which member's values a party's golden record keeps.
    #[serde(default)]
    pub survivorship: crate::identity::Survivorship,
    /// `[tags]`: the tag catalogue.
    #[serde(default)]
    pub tags: TagsSection,
    /// `[segment]`: segmentation models.
    #[serde(default)]
    pub segment: crate::segment::SegmentConfig,
    /// `[rules]`: association rules and recommendations.
    #[serde(default)]
    pub rules: crate::rules::RulesConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSection {
    /// Memory a portrait process may use (`8G`, `512M`, `none`); see [`crate::memory`].
    pub memory_limit: Option<String>,
    /// Memory DataFusion's plans share before they spill (default: no pool; see [`crate::memory`]).
    pub query_memory: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsSection {
    /// A catalogue file replacing the default one (`portrait tags catalog` prints the default).
    pub catalog: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSection {
    pub encoding: Option<String>,
    pub max_errors: Option<String>,
    pub threads: Option<usize>,
}

impl ConfigFile {
    /// The stages' settings from the file; commands then apply their flags.
    pub fn pipeline(&self) -> crate::pipeline::Settings {
        crate::pipeline::Settings {
            resolve: self.resolve.clone(),
            survivorship: self.survivorship.clone(),
            links: self.links.clone(),
            features: self.features.clone(),
            score: self.score.clone(),
            segment: self.segment.clone(),
            segment_model: None,
            segment_override: None,
            rules: self.rules.clone(),
            tags_catalog: self.tags.catalog.clone(),
            churn_rows: None,
            as_of: None,
            new_override: None,
        }
    }

    /// Reads a configuration from its text; `origin` names it in messages. Unknown keys and
    /// mappings of tables that do not exist are errors naming what is valid.
    pub fn parse(origin: &str, text: &str) -> Result<Self, String> {
        let cfg: ConfigFile =
            toml::from_str(text).map_err(|e| format!("config `{origin}`: {e}"))?;
        for table in cfg.mapping.keys() {
            if portrait_types::model::table(table).is_none() {
                return Err(format!(
                    "config `{origin}`: `[mapping.{table}]` names no table; tables are {}",
                    portrait_types::model::TABLES
                        .iter()
                        .map(|t| t.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Ok(cfg)
    }

    /// Checks every section's values together (each stage checks its own again when it runs).
    pub fn validate(&self) -> Result<(), String> {
        self.resolve.plan().map_err(|e| format!("[resolve]: {e}"))?;
        self.links.validate().map_err(|e| format!("[links]: {e}"))?;
        self.features
            .validate()
            .map_err(|e| format!("[features]: {e}"))?;
        self.score.validate().map_err(|e| format!("[score]: {e}"))?;
        for (name, m) in &self.segment.models {
            m.validate()
                .map_err(|e| format!("[segment.models.{name}]: {e}"))?;
        }
        self.rules.validate().map_err(|e| format!("[rules]: {e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_config_keys_name_the_valid_ones() {
        let e = ConfigFile::parse("p.toml", "[ingest]\nencodng = \"gbk\"").unwrap_err();
        assert!(
            e.contains("p.toml") && e.contains("unknown field `encodng`") && e.contains("encoding"),
            "{e}"
        );
        let e = ConfigFile::parse("p.toml", "[mapping.customers]\n\"x\" = \"name\"").unwrap_err();
        assert!(e.contains("names no table"), "{e}");
    }

    #[test]
    fn the_default_configuration_is_valid() {
        ConfigFile::default().validate().unwrap();
        ConfigFile::parse("empty", "").unwrap().validate().unwrap();
    }
}

//! The golden record of a party: which member's values survive.
//!
//! Survivorship rules, in order:
//! 1. The primary record is the member with a valid ID number over those without, then an
//!    active status (`正常`/`active`) over others, then the source that comes first in
//!    `source_priority` (matched against `open_channel`), then the most recently opened, then
//!    the smallest customer number. Every field not listed below comes from it.
//! 2. Name (surname and given name together), mobile and email: the most frequent valid value
//!    among the members; ties go to the primary record's value, then the most recent record.
//! 3. ID type and number: the valid ID number (a party never holds two), upper-cased;
//!    otherwise the primary record's.
//! 4. Channel flags and property and car ownership are true when any member's is; marketing
//!    consent only when every member's is (one refusal stands for the party); stated financial
//!    assets add up; these are computed where the party table is written.

use ahash::AHashMap;
use rayon::prelude::*;

use crate::record::{Input, Record};

/// The surviving values of one party.
#[derive(Debug, Clone, PartialEq)]
pub struct Golden {
    pub party_id: String,
    /// Index of the primary record in the input.
    pub primary: usize,
    pub members: u32,
    pub name: Option<String>,
    pub surname: Option<String>,
    pub given_name: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub id_type: Option<String>,
    pub id_no: Option<String>,
}

fn active(status: Option<&str>) -> bool {
    matches!(
        status.map(str::trim),
        Some("正常" | "active" | "Active" | "ACTIVE" | "normal")
    )
}

/// The golden record of every party, ordered by party id.
pub fn golden(
    inputs: &[Input],
    records: &[Record],
    party_id: &[String],
    source_priority: &[String],
) -> Vec<Golden> {
    let mut parties: AHashMap<&str, Vec<usize>> = AHashMap::new();
    for (i, p) in party_id.iter().enumerate() {
        parties.entry(p.as_str()).or_default().push(i);
    }
    let source_rank = |i: usize| {
        inputs[i]
            .open_channel
            .as_deref()
            .and_then(|c| source_priority.iter().position(|s| s == c))
            .unwrap_or(source_priority.len())
    };
    let parties: Vec<(&str, Vec<usize>)> = parties.into_iter().collect();
    let mut out: Vec<Golden> = parties
        .into_par_iter()
        .map(|(pid, mut m)| {
            if let [only] = m[..] {
                // One member: its own values, but the ID number normalised when valid.
                let r = &records[only];
                return Golden {
                    party_id: pid.to_string(),
                    primary: only,
                    members: 1,
                    name: inputs[only].name.clone(),
                    surname: inputs[only].surname.clone(),
                    given_name: inputs[only].given_name.clone(),
                    mobile: r.mobile.clone().or_else(|| inputs[only].mobile.clone()),
                    email: r.email.clone().or_else(|| inputs[only].email.clone()),
                    id_type: inputs[only].id_type.clone(),
                    id_no: r
                        .valid_id()
                        .map(str::to_string)
                        .or_else(|| inputs[only].id_no.clone()),
                };
            }
            // Best first.
            m.sort_by(|&a, &b| {
                let key = |i: usize| {
                    (
                        records[i].valid_id().is_none(),
                        !active(inputs[i].status.as_deref()),
                        source_rank(i),
                    )
                };
                key(a)
                    .cmp(&key(b))
                    .then(inputs[b].open_date.cmp(&inputs[a].open_date))
                    .then(inputs[a].cust_no.cmp(&inputs[b].cust_no))
            });
            let primary = m[0];
            // The most frequent value; ties to the earliest in best-first order.
            let vote = |value: &dyn Fn(usize) -> Option<String>| -> Option<usize> {
                let mut tally: AHashMap<String, (u32, usize)> = AHashMap::new();
                for (rank, &i) in m.iter().enumerate() {
                    if let Some(v) = value(i) {
                        let e = tally.entry(v).or_insert((0, rank));
                        e.0 += 1;
                    }
                }
                tally
                    .into_values()
                    .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
                    .map(|(_, rank)| m[rank])
            };
            let name_from = vote(&|i| {
                let r = &records[i];
                (!r.full.is_empty()).then(|| r.full.clone())
            })
            .unwrap_or(primary);
            let mobile_from = vote(&|i| records[i].mobile.clone());
            let email_from = vote(&|i| records[i].email.clone());
            let id_from = m.iter().copied().find(|&i| records[i].valid_id().is_some());
            Golden {
                party_id: pid.to_string(),
                primary,
                members: m.len() as u32,
                name: inputs[name_from].name.clone(),
                surname: inputs[name_from].surname.clone(),
                given_name: inputs[name_from].given_name.clone(),
                mobile: mobile_from.map_or_else(
                    || inputs[primary].mobile.clone(),
                    |i| records[i].mobile.clone(),
                ),
                email: email_from.map_or_else(
                    || inputs[primary].email.clone(),
                    |i| records[i].email.clone(),
                ),
                id_type: inputs[id_from.unwrap_or(primary)].id_type.clone(),
                id_no: id_from.map_or_else(
                    || inputs[primary].id_no.clone(),
                    |i| records[i].valid_id().map(str::to_string),
                ),
            }
        })
        .collect();
    out.par_sort_unstable_by(|a, b| a.party_id.cmp(&b.party_id));
    out
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    #[test]
    fn survivorship() {
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let base = Input {
            name: Some("张静芳".into()),
            status: Some("正常".into()),
            mobile: Some("13957114382".into()),
            ..Input::default()
        };
        let inputs = vec![
            Input {
                cust_no: "1".into(),
                open_date: NaiveDate::from_ymd_opt(2010, 1, 1),
                id_no: Some("11010519491231002x".into()),
                ..base.clone()
            },
            Input {
                cust_no: "2".into(),
                open_date: NaiveDate::from_ymd_opt(2020, 1, 1),
                name: Some("章静芳".into()),
                mobile: Some("18657114382".into()),
                ..base.clone()
            },
            Input {
                cust_no: "3".into(),
                open_date: NaiveDate::from_ymd_opt(2022, 1, 1),
                mobile: Some("18657114382".into()),
                status: Some("销户".into()),
                ..base.clone()
            },
        ];
        let records: Vec<Record> = inputs.iter().map(|i| Record::new(i, today, &[])).collect();
        let ids = vec!["P1".to_string(); 3];
        let g = golden(&inputs, &records, &ids, &[]);
        assert_eq!(g.len(), 1);
        let g = &g[0];
        // Valid ID wins the primary record; the name and mobile are the most frequent.
        assert_eq!(g.primary, 0);
        assert_eq!(g.members, 3);
        assert_eq!(g.name.as_deref(), Some("张静芳"));
        assert_eq!(g.mobile.as_deref(), Some("18657114382"));
        assert_eq!(g.id_no.as_deref(), Some("11010519491231002X"));
    }
}

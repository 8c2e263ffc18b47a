//! `resolve`, `links`, `party` and `eval` on a generated bank: quality against the
//! generator's truth, the guards, stable party ids, operator overrides, clear config errors.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{generate, ok, run, scalar, snapshot};

fn json(store: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(store, args)).unwrap()
}

fn parties(store: &Path) -> BTreeMap<String, String> {
    ok(
        store,
        &[
            "sql",
            "SELECT cust_no, party_id FROM party_member",
            "--format",
            "csv",
        ],
    )
    .lines()
    .skip(1)
    .filter_map(|l| l.split_once(','))
    .map(|(c, p)| (c.to_string(), p.to_string()))
    .collect()
}

#[test]
fn resolves_and_links_a_generated_bank() {
    let tmp = tempfile::tempdir().unwrap();
    let bank = tmp.path().join("bank");
    generate(&bank, 6000, 5, &[]);
    let store = tmp.path().join("store");
    ok(&store, &["ingest", bank.to_str().unwrap()]);
    let truth = bank.join("truth/identity.csv");

    // Explaining the blocking compares nothing and writes nothing.
    let before = snapshot(&store);
    let rules = json(
        &store,
        &["resolve", "--explain-blocking", "--format", "json"],
    );
    let rules = rules.as_array().unwrap();
    assert_eq!(rules[0]["rule"], "surname_birth_date");
    assert!(
        rules
            .iter()
            .all(|r| r["pairs"].as_u64().unwrap() >= r["new_pairs"].as_u64().unwrap())
    );
    assert!(
        rules
            .iter()
            .map(|r| r["new_pairs"].as_u64().unwrap())
            .sum::<u64>()
            > 1000
    );
    assert_eq!(before, snapshot(&store));

    let report = json(&store, &["resolve", "--format", "json"]);
    assert!(report["model"]["converged"].as_bool().unwrap());
    let e = json(
        &store,
        &[
            "eval",
            "identity",
            "--truth",
            truth.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let f1 = e["pairwise"]["f1"].as_f64().unwrap();
    assert!(f1 >= 0.98, "pairwise F1 {f1}: {e}");
    assert_eq!(e["parties_with_two_valid_ids"], 0, "{e}");
    assert!(
        e["recall_by_noise"]["name_typo"]["recall"]
            .as_f64()
            .unwrap()
            > 0.9,
        "{e}"
    );

    // One golden record per party; members and parties agree.
    assert_eq!(
        scalar(&store, "SELECT count(*) FROM party"),
        scalar(&store, "SELECT count(DISTINCT party_id) FROM party_member")
    );
    assert_eq!(scalar(&store, "SELECT count(*) FROM party_member"), "6000");
    assert_eq!(
        scalar(
            &store,
            "SELECT count(*) FROM party p JOIN party_member m ON m.party_id = p.party_id AND m.cust_no = p.primary_cust_no"
        ),
        scalar(&store, "SELECT count(*) FROM party")
    );
    // Every merge says why.
    assert_eq!(
        scalar(
            &store,
            "SELECT count(*) FROM party_member WHERE rule NOT IN ('single', 'id_no', 'uscc', 'match') \
             OR (rule = 'match' AND (probability < 0.9 OR evidence NOT LIKE 'with %weight%'))"
        ),
        "0"
    );

    let links = json(&store, &["links", "--format", "json"]);
    assert!(links["households"].as_u64().unwrap() > 100, "{links}");
    for kind in ["household_address", "spouse", "transfer", "guarantor"] {
        assert!(
            links["links_by_kind"][kind].as_u64().unwrap_or(0) > 0,
            "no {kind} links: {links}"
        );
    }
    let h = json(
        &store,
        &[
            "eval",
            "households",
            "--truth",
            bank.join("truth/household.csv").to_str().unwrap(),
            "--identity",
            truth.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let recall = h["pairwise"]["recall"].as_f64().unwrap();
    assert!(recall >= 0.95, "household recall {recall}: {h}");
    // Individuals have households, corporates groups.
    assert_eq!(
        scalar(
            &store,
            "SELECT count(*) FROM party_group g JOIN party p ON p.party_id = g.party_id \
             WHERE (CAST(p.cust_type AS VARCHAR) = 'corporate') = (g.household_id IS NOT NULL)"
        ),
        "0"
    );

    // The portrait is computed per party.
    ok(&store, &["features", "--as-of", "2026-11-30"]);
    assert_eq!(
        scalar(&store, "SELECT count(*) FROM features"),
        scalar(&store, "SELECT count(*) FROM party")
    );
}

#[test]
fn party_ids_are_stable_and_operators_decide() {
    let tmp = tempfile::tempdir().unwrap();
    let bank = tmp.path().join("bank");
    generate(&bank, 3000, 8, &[]);
    let all = std::fs::read_to_string(bank.join("customer.csv")).unwrap();
    let lines: Vec<&str> = all.lines().collect();
    // The first load misses every tenth customer number.
    let first = tmp.path().join("customer.csv");
    let kept: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i == 0 || i % 10 != 0)
        .map(|(_, l)| *l)
        .collect();
    let missing = lines.len() - kept.len();
    std::fs::write(&first, kept.join("\n") + "\n").unwrap();
    let store = tmp.path().join("store");
    ok(&store, &["ingest", first.to_str().unwrap()]);
    ok(&store, &["resolve"]);
    let before = parties(&store);

    // The full load: old numbers keep their parties' ids, new ones join or get new ids.
    ok(
        &store,
        &["ingest", bank.join("customer.csv").to_str().unwrap()],
    );
    ok(&store, &["resolve"]);
    let after = parties(&store);
    assert_eq!(after.len(), before.len() + missing);
    let moved: Vec<_> = before.iter().filter(|(c, p)| after[*c] != **p).collect();
    assert!(moved.is_empty(), "renumbered: {moved:?}");
    let old_ids: std::collections::BTreeSet<_> = before.values().collect();
    let joined = after
        .iter()
        .filter(|(c, p)| !before.contains_key(*c) && old_ids.contains(p))
        .count();
    assert!(joined > 0, "no new number joined an existing party");

    // Split a member off a party with several numbers.
    let (party, n): (String, usize) = {
        let mut count: BTreeMap<&String, usize> = BTreeMap::new();
        for p in after.values() {
            *count.entry(p).or_default() += 1;
        }
        count
            .into_iter()
            .find(|(_, n)| *n >= 2)
            .map(|(p, n)| (p.clone(), n))
            .unwrap()
    };
    let member = after.iter().find(|(_, p)| **p == party).unwrap().0.clone();
    ok(
        &store,
        &[
            "party",
            "split",
            &member,
            "--reason",
            "two people, one name",
            "--by",
            "auditor.li",
        ],
    );
    let split = parties(&store);
    assert_ne!(split[&member], party);
    let others: Vec<_> = after
        .iter()
        .filter(|(c, p)| **p == party && **c != member)
        .collect();
    assert_eq!(others.len(), n - 1);
    // The rest of the party keeps its id.
    assert!(others.iter().all(|(c, _)| split[*c] == party));
    assert_eq!(
        scalar(
            &store,
            &format!("SELECT rule FROM party_member WHERE cust_no = '{member}'")
        ),
        "split"
    );

    // Two different valid ID numbers never share a party, not even by an operator's word.
    let pick = |filter: &str| -> Vec<String> {
        ok(
            &store,
            &[
                "sql",
                &format!(
                    "SELECT m.cust_no FROM party_member m JOIN customer c ON c.cust_no = m.cust_no \
                     WHERE m.rule = 'single' AND {filter} ORDER BY m.cust_no LIMIT 2"
                ),
                "--format",
                "csv",
            ],
        )
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
    };
    let with_ids = pick("CAST(c.id_type AS VARCHAR) = 'resident_id'");
    let before = snapshot(&store);
    let out = run(
        &store,
        &[
            "party",
            "merge",
            &with_ids[0],
            &with_ids[1],
            "--reason",
            "x",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("different valid ID numbers"));
    assert_eq!(before, snapshot(&store));

    // Merge two single-number parties; the decision outlives another run.
    let singles = pick("CAST(c.id_type AS VARCHAR) = 'passport' AND c.uscc IS NULL");
    ok(
        &store,
        &[
            "party",
            "merge",
            &singles[0],
            &singles[1],
            "--reason",
            "confirmed at branch",
            "--by",
            "ops.wang",
        ],
    );
    ok(&store, &["resolve"]);
    let last = parties(&store);
    assert_eq!(last[&singles[0]], last[&singles[1]]);
    assert_ne!(last[&member], party);
    assert_eq!(
        scalar(
            &store,
            "SELECT count(*) FROM party_override WHERE decided_by IN ('auditor.li', 'ops.wang')"
        ),
        "2"
    );
    assert!(
        scalar(
            &store,
            &format!(
                "SELECT evidence FROM party_member WHERE cust_no = '{}'",
                singles[1]
            )
        )
        .contains("confirmed at branch")
            || scalar(
                &store,
                &format!(
                    "SELECT evidence FROM party_member WHERE cust_no = '{}'",
                    singles[0]
                )
            )
            .contains("confirmed at branch")
    );

    // Unknown numbers are refused and change nothing.
    let before = snapshot(&store);
    let out = run(&store, &["party", "split", "0000000000", "--reason", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no customer number `0000000000`"));
    assert_eq!(before, snapshot(&store));
}

#[test]
fn bad_settings_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let cfg = tmp.path().join("portrait.toml");
    for (toml, expected) in [
        (
            "[resolve]\n[[resolve.blocking]]\nname = \"x\"\nkeys = [\"surnme\"]\n",
            "resolve.blocking[0].keys[0]: unknown field `surnme`",
        ),
        (
            "[resolve]\nthreshold = 1.5\n",
            "resolve.threshold: 1.5 is out of range",
        ),
        (
            "[resolve]\nfields = [\"name\", \"surname\"]\n",
            "count the same evidence twice",
        ),
    ] {
        std::fs::write(&cfg, toml).unwrap();
        let out = crate::common::bin()
            .args([
                "--store",
                store.to_str().unwrap(),
                "--config",
                cfg.to_str().unwrap(),
                "resolve",
            ])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{toml}: {err}");
    }

    // A bad truth file is named with its line and column, and changes nothing.
    let bank = tmp.path().join("bank");
    generate(&bank, 500, 2, &[]);
    ok(
        &store,
        &["ingest", bank.join("customer.csv").to_str().unwrap()],
    );
    let truth = tmp.path().join("truth.csv");
    for (text, expected) in [
        (
            "cust_no,true\n1,a\n",
            "truth.csv:1: the header must name the columns cust_no, true_id",
        ),
        (
            "cust_no,true_id\n1,a\n2,\n",
            "truth.csv:3: column 2 (`true_id`) is empty",
        ),
    ] {
        std::fs::write(&truth, text).unwrap();
        let before = snapshot(&store);
        let out = run(
            &store,
            &["eval", "identity", "--truth", truth.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{text}: {err}");
        assert_eq!(before, snapshot(&store));
    }
}

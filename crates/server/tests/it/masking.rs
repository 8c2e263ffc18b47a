//! Every personal value of the input stays invisible to masked roles on every route.

use aho_corasick::AhoCorasick;
use axum::http::StatusCode;
use portrait_privacy::{Field, Role};
use portrait_server::routes::ROUTES;
use serde_json::json;

use crate::Fixture;
use crate::api::{send, urlencode};

/// The values of every personal column of the generated bank's `customer.csv` (by the masking
/// table's meaning of each header), [`long_enough`] that finding one in a response is not
/// chance. Birth dates are left out: a date
/// is also an opening date, a snapshot date or an as-of date.
fn personal_values() -> Vec<String> {
    let bank = crate::base_store().parent().unwrap().join("bank");
    let mut r = csv::Reader::from_path(bank.join("customer.csv")).unwrap();
    let headers = r.headers().unwrap().clone();
    let personal: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| Field::of_column(h).is_some_and(|f| f != Field::BirthDate))
        .map(|(i, _)| i)
        .collect();
    for must in [
        "name",
        "given_name",
        "employer",
        "address",
        "email",
        "mobile",
        "phone",
        "id_no",
        "uscc",
        "legal_rep",
    ] {
        assert!(
            personal.iter().any(|&i| &headers[i] == must),
            "`{must}` is not masked by meaning"
        );
    }
    let mut values: Vec<String> = Vec::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        for &i in &personal {
            let v = rec[i].trim();
            // What a quote of part of the value would show: an address after its district
            // (`胜利街1263号和谐家园22栋504室`), the local part of an e-mail.
            let part = match Field::of_column(&headers[i]) {
                Some(Field::Address) => portrait_privacy::mask::mask_address(v)
                    .strip_suffix("****")
                    .and_then(|kept| v.strip_prefix(kept))
                    .filter(|rest| rest.chars().count() >= 4)
                    .map(str::to_string),
                // A local part of letters alone may be a word (`contact@…`); one with digits
                // or separators is the person's.
                Some(Field::Email) => v
                    .split_once('@')
                    .map(|(local, _)| local)
                    .filter(|l| !l.bytes().all(|b| b.is_ascii_alphabetic()))
                    .map(str::to_string),
                _ => None,
            };
            if let Some(p) = part.filter(|p| long_enough(p)) {
                values.push(p);
            }
            if long_enough(v) {
                values.push(v.to_string());
            }
        }
    }
    values.sort();
    values.dedup();
    values
}

/// Long enough that finding it in a response is not chance: two characters or more of Chinese,
/// five or more of ASCII, eleven or more of digits alone (shorter runs turn up in the digits of
/// decimals).
fn long_enough(v: &str) -> bool {
    if v.bytes().all(|b| b.is_ascii_digit()) {
        v.len() >= 11
    } else if v.is_ascii() {
        v.len() >= 5
    } else {
        v.chars().count() >= 2
    }
}

async fn party_ids(f: &Fixture) -> Vec<String> {
    let store = portrait_store::Store::open(&f.store).unwrap();
    let ctx = portrait_engine::open_session(&store).await.unwrap();
    let batches = ctx
        .sql("SELECT party_id FROM party ORDER BY party_id")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for b in batches {
        let c = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
        let c = c
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .unwrap();
        ids.extend(c.iter().flatten().map(str::to_string));
    }
    ids
}

#[tokio::test]
async fn masked_roles_see_no_personal_value_on_any_route() {
    let f = Fixture::new();
    // A value that is also a word of the API's own documents (an e-mail `admin@…`) is no
    // sign of a leak where those words appear.
    let public = f.get("/openapi.json", Role::Admin).await.text();
    let values: Vec<String> = personal_values()
        .into_iter()
        .filter(|v| !public.contains(v.as_str()))
        .collect();
    assert!(values.len() > 10_000, "{} values", values.len());
    let find = AhoCorasick::new(&values).unwrap();
    let parties = party_ids(&f).await;
    assert!(parties.len() > 2_000);

    // The admin's views hold the values in the clear: the scan has something to find.
    let mut admin_hits = 0;
    for p in parties.iter().take(50) {
        let res = f.get(&format!("/api/customers/{p}"), Role::Admin).await;
        admin_hits += find.find_iter(&res.text()).count();
    }
    assert!(admin_hits > 200, "{admin_hits}");

    let mut bodies: Vec<(String, crate::Res)> = Vec::new();
    for role in [Role::Analyst, Role::Marketer, Role::Auditor] {
        for r in ROUTES {
            bodies.push((
                format!("{role} {} {}", r.method, r.path),
                send(&f, r, Some(role), &parties[0], role.as_str()).await,
            ));
        }
    }
    // Every customer-360 as a marketer, every seventh as an analyst (the same rules).
    for (i, p) in parties.iter().enumerate() {
        let uri = format!("/api/customers/{p}");
        bodies.push((format!("marketer {uri}"), f.get(&uri, Role::Marketer).await));
        if i % 7 == 0 {
            bodies.push((format!("analyst {uri}"), f.get(&uri, Role::Analyst).await));
        }
    }
    // Searches by surname, by full name and by number.
    let mut terms: Vec<String> = ["王", "李", "张", "刘", "陈", "1", "P0"]
        .into_iter()
        .map(String::from)
        .collect();
    terms.extend(values.iter().step_by(values.len() / 40).cloned());
    for t in &terms {
        for role in [Role::Analyst, Role::Marketer] {
            let uri = format!("/api/customers?q={}&limit=100", urlencode(t));
            bodies.push((format!("{role} {uri}"), f.get(&uri, role).await));
        }
    }
    // Exports are masked for every role, admins included.
    for role in [Role::Marketer, Role::Admin] {
        let res = f
            .post_json(
                "/api/audience/export",
                role,
                json!({"expr": "gender:female OR gender:male"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK);
        assert!(res.text().lines().count() > 1_000);
        bodies.push((format!("{role} export"), res));
    }
    // Last, the audit log of all of the above.
    let audit = f.get("/api/audit?limit=1000", Role::Auditor).await;
    assert_eq!(audit.status, StatusCode::OK);
    bodies.push(("auditor /api/audit".into(), audit));

    let mut scanned = 0usize;
    for (what, res) in &bodies {
        assert!(
            res.status.is_success() || res.status == StatusCode::FORBIDDEN,
            "{what}: {}",
            res.status
        );
        let text = res.text();
        scanned += text.len();
        if let Some(m) = find.find(&text) {
            let at = m.start();
            let from = text[..at]
                .char_indices()
                .rev()
                .nth(40)
                .map_or(0, |(i, _)| i);
            let to = text[at..]
                .char_indices()
                .nth(60)
                .map_or(text.len(), |(i, _)| at + i);
            panic!(
                "{what} shows `{}`: …{}…",
                &values[m.pattern().as_usize()],
                &text[from..to]
            );
        }
    }
    assert!(scanned > 5_000_000, "{scanned} bytes");
}

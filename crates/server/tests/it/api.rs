use axum::http::StatusCode;
use portrait_privacy::Role;
use portrait_server::Limits;
use portrait_server::routes::{In, ROUTES, RouteSpec};
use serde_json::json;

use crate::Fixture;

/// A party with an 18-digit resident ID number and a mobile, found as an admin (who sees them
/// unmasked, which also shows the data holds what the masking must hide).
async fn sample_party(f: &Fixture) -> (String, String, String) {
    for surname in ["王", "李", "张", "刘", "陈"] {
        let r = f
            .get(
                &format!("/api/customers?q={}&limit=100", urlencode(surname)),
                Role::Admin,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        for c in r.json()["customers"].as_array().unwrap() {
            let id = c["id_no"].as_str().unwrap_or_default();
            let mobile = c["mobile"].as_str().unwrap_or_default();
            if id.len() == 18 && id.bytes().all(|b| b.is_ascii_digit()) && mobile.len() == 11 {
                return (
                    c["party_id"].as_str().unwrap().to_string(),
                    id.to_string(),
                    mobile.to_string(),
                );
            }
        }
    }
    panic!("no party with a resident ID number and a mobile");
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A valid request for a route: URI and JSON body.
pub(crate) fn sample(r: &RouteSpec, party: &str, tag: &str) -> (String, Option<serde_json::Value>) {
    let path = r.path.replace("{party_id}", party);
    let mut query: Vec<String> = Vec::new();
    for p in r.params.iter().filter(|p| p.at == In::Query && p.required) {
        let v = match p.name {
            "expr" => urlencode("gender:female AND NOT recency_class:churned"),
            "by" => "age_group".to_string(),
            "q" => party.to_string(),
            other => panic!("no sample for `{other}`"),
        };
        query.push(format!("{}={v}", p.name));
    }
    let uri = if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.join("&"))
    };
    let body = r.body.as_ref().map(|_| match r.path {
        "/api/audience/save" => json!({"name": format!("aud_{tag}"), "expr": "gender:female"}),
        "/api/audience/export" => json!({"expr": "gender:female AND asset_tier:gold"}),
        "/api/audience/lookalike" => json!({"seed": "asset_tier:gold", "size": 20}),
        "/api/users/revoke" | "/api/users/rotate" => json!({"name": "u_spare"}),
        // A number no table holds: the route runs through to `404`, and the store stays whole
        // for the requests after it.
        "/api/erase" => json!({"cust_no": "NO_SUCH_CUSTOMER", "reason": "test"}),
        other => panic!("no sample body for `{other}`"),
    });
    (uri, body)
}

pub(crate) async fn send(
    f: &Fixture,
    r: &RouteSpec,
    role: Option<Role>,
    party: &str,
    tag: &str,
) -> crate::Res {
    let (uri, body) = sample(r, party, tag);
    let token = role.map(|x| f.token(x).to_string());
    f.call(
        r.method,
        &uri,
        token.as_deref(),
        body.map(|b| ("application/json", b.to_string().into_bytes())),
    )
    .await
}

#[tokio::test]
async fn every_route_needs_a_token() {
    let f = Fixture::new();
    let health = f.call("GET", "/health", None, None).await;
    assert_eq!(health.status, StatusCode::OK);
    let bogus = format!("pt_deadbeef_{}", "0".repeat(64));
    for r in ROUTES {
        let (uri, body) = sample(r, "P0000000001", "x");
        let body = || {
            body.as_ref()
                .map(|b| ("application/json", b.to_string().into_bytes()))
        };
        for token in [None, Some("garbage"), Some(bogus.as_str())] {
            let res = f.call(r.method, &uri, token, body()).await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{} {uri}", r.method);
            assert_eq!(res.json()["error"]["code"], "unauthorized");
        }
        // Malformed JSON without a token is still a 401: authentication comes first.
        if r.body.is_some() {
            let res = f
                .call(
                    r.method,
                    &uri,
                    None,
                    Some(("application/json", b"{nope".to_vec())),
                )
                .await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        }
    }
}

#[tokio::test]
async fn roles_match_the_permission_matrix() {
    let f = Fixture::new();
    let (party, _, _) = sample_party(&f).await;
    for role in Role::ALL {
        for r in ROUTES {
            let res = send(&f, r, Some(role), &party, role.as_str()).await;
            if r.roles.contains(&role) {
                let expected = if r.path == "/api/erase" {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::OK
                };
                assert_eq!(
                    res.status,
                    expected,
                    "{role} {} {}: {}",
                    r.method,
                    r.path,
                    res.text()
                );
            } else {
                assert_eq!(
                    res.status,
                    StatusCode::FORBIDDEN,
                    "{role} {} {}",
                    r.method,
                    r.path
                );
                assert_eq!(res.json()["error"]["code"], "forbidden");
            }
        }
    }
}

#[tokio::test]
async fn a_marketer_never_sees_an_id_or_mobile_number() {
    let f = Fixture::new();
    let (party, id_no, mobile) = sample_party(&f).await;
    // The admin's 360 view holds them in the clear: the scan below has something to find.
    let admin = f
        .get(&format!("/api/customers/{party}"), Role::Admin)
        .await
        .text();
    assert!(admin.contains(&id_no) && admin.contains(&mobile));

    // Digit runs in decimals (`.13927083334`, `12345678901.5`) are amounts, not numbers of people.
    let pattern =
        regex::Regex::new(r"(^|[^0-9.])([0-9]{17}[0-9Xx]|1[0-9]{10})([^0-9.]|$)").unwrap();
    let mut bodies = Vec::new();
    for r in ROUTES {
        bodies.push((
            r.path.to_string(),
            send(&f, r, Some(Role::Marketer), &party, "m").await,
        ));
    }
    for q in [
        party.clone(),
        urlencode("王"),
        urlencode(&mobile),
        urlencode(&id_no),
    ] {
        let uri = format!("/api/customers?q={q}&limit=100");
        bodies.push((uri.clone(), f.get(&uri, Role::Marketer).await));
    }
    let export = f
        .post_json(
            "/api/audience/export",
            Role::Marketer,
            json!({"expr": "gender:female"}),
        )
        .await;
    assert!(export.text().lines().count() > 100);
    bodies.push(("export".into(), export));
    let mut seen = 0;
    for (what, res) in &bodies {
        assert!(
            res.status.is_success() || res.status == StatusCode::FORBIDDEN,
            "{what}: {}",
            res.status
        );
        let text = res.text();
        seen += text.len();
        if let Some(m) = pattern.find(&text) {
            panic!("{what} shows `{}` to a marketer", m.as_str());
        }
        assert!(!text.contains(&id_no) && !text.contains(&mobile), "{what}");
    }
    assert!(seen > 10_000);
    // The 360 view masks by the policy's defaults.
    let v = f
        .get(&format!("/api/customers/{party}"), Role::Marketer)
        .await
        .json();
    let p = &v["party"];
    assert_eq!(
        p["id_no"],
        format!("{}***********{}", &id_no[..3], &id_no[14..])
    );
    assert_eq!(p["mobile"], format!("{}****{}", &mobile[..3], &mobile[7..]));
    assert!(
        p["name"]
            .as_str()
            .unwrap()
            .chars()
            .skip(1)
            .all(|c| c == '*')
    );
    assert!(p["address"].as_str().unwrap().ends_with("****"));
}

#[tokio::test]
async fn bad_requests_are_4xx_never_5xx() {
    let f = Fixture::new();
    let m = Role::Marketer;
    let huge = vec![b' '; 100 * 1024];
    type Case<'a> = (&'a str, &'a str, Option<(&'a str, Vec<u8>)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/audience/save",
            Some(("application/json", b"{\"name\": ".to_vec())),
            400,
            "invalid_json",
        ),
        (
            "POST",
            "/api/audience/save",
            Some(("application/json", b"[1, 2]".to_vec())),
            400,
            "invalid_json",
        ),
        (
            "POST",
            "/api/audience/save",
            Some((
                "application/json",
                b"{\"name\": \"a\", \"expr\": \"gender:female\", \"x\": 1}".to_vec(),
            )),
            400,
            "invalid_json",
        ),
        (
            "POST",
            "/api/audience/save",
            Some((
                "application/json",
                b"{\"name\": \"\", \"expr\": \"gender:female\"}".to_vec(),
            )),
            400,
            "missing_parameter",
        ),
        (
            "POST",
            "/api/audience/export",
            Some(("application/json", b"{\"expr\": \"gender:\"}".to_vec())),
            400,
            "invalid_expression",
        ),
        (
            "POST",
            "/api/audience/export",
            Some(("text/plain", b"{\"expr\": \"gender:female\"}".to_vec())),
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/api/audience/export",
            Some(("application/json", huge.clone())),
            413,
            "payload_too_large",
        ),
        (
            "POST",
            "/api/audience/save",
            None,
            415,
            "unsupported_media_type",
        ),
        ("GET", "/api/audience/count", None, 400, "missing_parameter"),
        (
            "GET",
            "/api/audience/count?expr=",
            None,
            400,
            "missing_parameter",
        ),
        (
            "GET",
            "/api/audience/count?expr=gender%3Afemal",
            None,
            400,
            "invalid_expression",
        ),
        (
            "GET",
            "/api/audience/count?expr=((((",
            None,
            400,
            "invalid_expression",
        ),
        (
            "GET",
            "/api/audience/count?expr=clv%20%3E%20%27x%27",
            None,
            400,
            "invalid_expression",
        ),
        (
            "GET",
            "/api/audience/breakdown?expr=gender%3Afemale&by=nonsense",
            None,
            400,
            "unknown_tag",
        ),
        (
            "GET",
            "/api/audience/breakdown?expr=gender%3Afemale",
            None,
            400,
            "missing_parameter",
        ),
        (
            "GET",
            "/api/customers?q=x&limit=0",
            None,
            400,
            "invalid_parameter",
        ),
        (
            "GET",
            "/api/customers?q=x&limit=abc",
            None,
            400,
            "invalid_parameter",
        ),
        ("GET", "/api/customers", None, 400, "missing_parameter"),
        (
            "GET",
            "/api/customers/P%27%20OR%201%3D1",
            None,
            400,
            "invalid_parameter",
        ),
        ("GET", "/api/customers/P9999999999", None, 404, "not_found"),
        ("GET", "/api/nothing", None, 404, "not_found"),
    ];
    let long = format!("/api/audience/count?expr={}", "a".repeat(5000));
    let mut all = cases;
    all.push(("GET", &long, None, 400, "invalid_parameter"));
    for (method, uri, body, status, code) in all {
        let res = f.call(method, uri, Some(f.token(m)), body).await;
        assert_eq!(
            res.status.as_u16(),
            status,
            "{method} {uri}: {}",
            res.text()
        );
        assert_eq!(res.json()["error"]["code"], code, "{method} {uri}");
    }
    // The quote never reached SQL: a party id with one is refused before it.
    let res = f.get("/api/customers/P'x", m).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    // Huge bodies on routes that take none are ignored, not failures.
    let res = f
        .call(
            "GET",
            "/api/overview",
            Some(f.token(m)),
            Some(("application/json", huge)),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn audit_records_every_data_request_and_refuses_changes() {
    let f = Fixture::new();
    let m = Role::Marketer;
    assert_eq!(f.get("/api/overview", m).await.status, StatusCode::OK);
    assert_eq!(
        f.get("/api/audience/count?expr=gender%3Afemale", m)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(f.get("/api/audit", m).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        f.get("/api/audience/count?expr=gender%3Afema", m)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let export = f
        .post_json(
            "/api/audience/export",
            m,
            json!({"expr": "asset_tier:gold"}),
        )
        .await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text());
    let export_id = export.headers["x-export-id"].to_str().unwrap().to_string();
    let csv = export.text();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().ends_with(",watermark"));
    let rows: Vec<&str> = lines.collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|l| l.ends_with(&format!(",{export_id}"))));

    let log = f.get("/api/audit?limit=1000", Role::Auditor).await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text());
    let entries = log.json()["entries"].as_array().unwrap().clone();
    let find = |action: &str, status: u64| {
        entries
            .iter()
            .find(|e| e["action"] == action && e["status"] == status && e["user"] == "u_marketer")
            .unwrap_or_else(|| panic!("no audit record of {action} {status}: {entries:#?}"))
            .clone()
    };
    find("overview", 200);
    assert_eq!(
        find("audience.count", 200)["params"]["expr"],
        "gender:female"
    );
    find("audit.read", 403);
    find("audience.count", 400);
    let e = find("audience.export", 200);
    assert_eq!(e["export_id"], export_id.as_str());
    assert_eq!(e["rows"], rows.len() as u64);
    assert_eq!(e["params"]["expr"], "asset_tier:gold");
    // The watermark finds its record.
    let one = f
        .get(&format!("/api/audit?export_id={export_id}"), Role::Auditor)
        .await
        .json();
    assert_eq!(one["entries"].as_array().unwrap().len(), 1);

    // Append-only: SQLite refuses to change or remove a record.
    let before = f
        .privacy
        .audit_log(&portrait_privacy::AuditQuery {
            limit: 10_000,
            ..Default::default()
        })
        .unwrap();
    for sql in [
        "UPDATE audit SET user = 'nobody'",
        "DELETE FROM audit",
        "DELETE FROM audit WHERE seq = 1",
    ] {
        let err = f.privacy.execute_raw(sql).unwrap_err().to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    let after = f
        .privacy
        .audit_log(&portrait_privacy::AuditQuery {
            limit: 10_000,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn audiences_save_and_list() {
    let f = Fixture::new();
    let res = f
        .post_json(
            "/api/audience/save",
            Role::Marketer,
            json!({"name": "wine", "expr": "interest:red_wine"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let n = res.json()["parties"].as_u64().unwrap();
    let count = f
        .get(
            "/api/audience/count?expr=interest%3Ared_wine",
            Role::Analyst,
        )
        .await
        .json();
    assert_eq!(count["parties"].as_u64().unwrap(), n);
    let list = f.get("/api/audiences", Role::Analyst).await.json();
    assert_eq!(list["audiences"][0]["audience"], "wine");
    assert_eq!(list["audiences"][0]["parties"].as_u64().unwrap(), n);
}

#[tokio::test]
async fn the_rate_limit_answers_429() {
    let f = Fixture::with_limits(Limits {
        burst: 3.0,
        rate_per_sec: 0.001,
        ..Limits::default()
    });
    for _ in 0..3 {
        assert_eq!(f.get("/api/me", Role::Analyst).await.status, StatusCode::OK);
    }
    let res = f.get("/api/me", Role::Analyst).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.json()["error"]["code"], "rate_limited");
    // Another token has its own bucket.
    assert_eq!(
        f.get("/api/me", Role::Marketer).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn openapi_lists_every_route_and_its_roles() {
    let f = Fixture::new();
    let doc = f.get("/openapi.json", Role::Auditor).await.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for r in ROUTES {
        let op = &doc["paths"][r.path][r.method.to_ascii_lowercase()];
        assert_eq!(op["operationId"], r.action, "{}", r.path);
        let roles: Vec<&str> = r.roles.iter().map(|x| x.as_str()).collect();
        assert_eq!(op["x-roles"], json!(roles));
        for p in r.params {
            assert!(
                op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x["name"] == p.name),
                "{} {}",
                r.path,
                p.name
            );
        }
    }
}

#[tokio::test]
async fn figures_add_up() {
    let f = Fixture::new();
    let o = f.get("/api/overview", Role::Analyst).await.json();
    let parties = o["parties"].as_u64().unwrap();
    assert!(parties > 1000 && o["customers"].as_u64().unwrap() >= parties);
    let sum = |v: &serde_json::Value| -> u64 {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["parties"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum(&o["recency_classes"]), parties);
    assert_eq!(sum(&o["asset_tiers"]), parties);
    let d = f.get("/api/distributions", Role::Marketer).await.json();
    for k in [
        "age_group",
        "province",
        "gender",
        "channel",
        "recency_class",
        "asset_tier",
    ] {
        assert_eq!(sum(&d[k]), parties, "{k}");
    }
    let rfm = f.get("/api/rfm", Role::Marketer).await.json();
    assert!(sum(&rfm["cells"]) <= parties && !rfm["cells"].as_array().unwrap().is_empty());
    let seg = f.get("/api/segments", Role::Marketer).await.json();
    assert!(seg["segments"][0]["persona"].as_str().unwrap().len() > 10);
    assert!(seg["segments"][0]["features"].is_array());
    let tags = f.get("/api/tags", Role::Marketer).await.json();
    assert!(tags["tags"].as_array().unwrap().len() > 10);
    let b = f
        .get(
            "/api/audience/breakdown?expr=asset_tier%3Agold&by=gender",
            Role::Marketer,
        )
        .await
        .json();
    let n = b["parties"].as_u64().unwrap();
    assert_eq!(sum(&b["rows"]), n);
}

/// 人群画像: the values that define an audience lead its portrait, each against the
/// population the catalogue counts; an audience too small to describe without describing its
/// people gets no rows.
#[tokio::test]
async fn the_audience_portrait_leads_with_what_defines_the_audience() {
    let f = Fixture::new();
    let p = f
        .get(
            "/api/audience/portrait?expr=asset_tier%3Agold",
            Role::Marketer,
        )
        .await
        .json();
    let n = p["parties"].as_u64().unwrap();
    assert!(n >= 10, "{p}");
    assert_eq!(p["suppressed"], false);
    let rows = p["rows"].as_array().unwrap();
    let gold = rows
        .iter()
        .find(|r| r["tag"] == "asset_tier" && r["value"] == "gold")
        .unwrap_or_else(|| panic!("asset_tier:gold is not in {p}"));
    assert_eq!(gold["parties"].as_u64(), Some(n));
    assert!((gold["share"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    let population = f
        .get("/api/audience/count?expr=asset_tier%3Agold", Role::Marketer)
        .await
        .json();
    let everyone = population["population"].as_f64().unwrap();
    let lift = 1.0 / (n as f64 / everyone);
    assert!((gold["lift"].as_f64().unwrap() - lift).abs() < 1e-6 * lift);
    for r in rows {
        assert!(r["lift"].as_f64().unwrap() > 1.0 && r["p_value"].as_f64().unwrap() < 0.05);
    }
    let lifts: Vec<f64> = rows.iter().map(|r| r["lift"].as_f64().unwrap()).collect();
    assert!(lifts.windows(2).all(|w| w[0] >= w[1]), "{lifts:?}");
    let none = f
        .get(
            "/api/audience/portrait?expr=gender%3Afemale%20AND%20gender%3Amale",
            Role::Marketer,
        )
        .await
        .json();
    assert_eq!(none["suppressed"], true);
    assert_eq!(none["rows"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_lookalike_answers_parties_outside_the_seed_and_only_campaigners_save_it() {
    let f = Fixture::new();
    let seed = f
        .post_json(
            "/api/audience/export",
            Role::Admin,
            json!({"expr": "asset_tier:gold", "include_no_consent": true}),
        )
        .await
        .text();
    let mut r = csv::Reader::from_reader(seed.as_bytes());
    let col = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "party_id")
        .unwrap();
    let seed: std::collections::HashSet<String> =
        r.records().map(|x| x.unwrap()[col].to_string()).collect();
    assert!(seed.len() >= 20, "{}", seed.len());
    let body = json!({"seed": "asset_tier:gold", "size": 40, "exclude": "gender:male"});
    let res = f
        .post_json("/api/audience/lookalike", Role::Analyst, body.clone())
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let l = res.json();
    assert_eq!(l["parties"], 40, "{l}");
    let checks = l["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2, "{l}");
    let scores: Vec<f64> = l["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert!(
                !seed.contains(m["party_id"].as_str().unwrap()),
                "{m} is in the seed"
            );
            assert!(!m["why"].as_array().unwrap().is_empty(), "{m}");
            m["score"].as_f64().unwrap()
        })
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    // Saving is a campaign write: an analyst may not, a marketer may.
    let mut save = body.clone();
    save["save"] = json!("gold_like");
    let res = f
        .post_json("/api/audience/lookalike", Role::Analyst, save.clone())
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = f
        .post_json("/api/audience/lookalike", Role::Marketer, save)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let list = f.get("/api/audiences", Role::Marketer).await.json();
    let saved = list["audiences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["audience"] == "gold_like")
        .unwrap_or_else(|| panic!("{list}"))
        .clone();
    assert_eq!(saved["parties"], 40);
    // Kept with the method the held-out checks chose, so a re-run does not choose again.
    let expr = saved["expr"].as_str().unwrap();
    assert!(expr.starts_with("@lookalike "), "{expr}");
    let spec: serde_json::Value = serde_json::from_str(&expr["@lookalike ".len()..]).unwrap();
    assert_eq!(spec["method"], l["method"], "{spec}");
    assert_eq!(spec["exclude"], "gender:male", "{spec}");
    // Sizes past the cap and seeds that select nobody are the caller's error.
    for bad in [
        json!({"seed": "asset_tier:gold", "size": 100_001}),
        json!({"seed": "asset_tier:gold", "size": 0}),
        json!({"seed": "gender:female AND gender:male", "size": 5}),
        json!({"seed": "asset_tier:gold", "size": 5, "method": "magic"}),
        // A seed of everyone, and a seed and exclusion that leave nobody to find.
        json!({"seed": "NOT (gender:female AND gender:male)", "size": 5}),
        json!({"seed": "asset_tier:gold", "size": 5, "exclude": "NOT asset_tier:gold"}),
    ] {
        let res = f
            .post_json("/api/audience/lookalike", Role::Marketer, bad.clone())
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {}", res.text());
    }
}

#[tokio::test]
async fn tag_affinity_leaves_out_the_expression_s_tags_and_counts_like_audience_count() {
    let f = Fixture::new();
    let a = f
        .get("/api/tags/affinity?expr=asset_tier%3Agold", Role::Marketer)
        .await
        .json();
    let n = a["parties"].as_u64().unwrap();
    assert!(n >= 10 && a["suppressed"] == false, "{a}");
    let rows = a["rows"].as_array().unwrap();
    assert!(!rows.is_empty() && rows.len() <= 30, "{a}");
    let lifts: Vec<f64> = rows.iter().map(|r| r["lift"].as_f64().unwrap()).collect();
    assert!(lifts.windows(2).all(|w| w[0] >= w[1]), "{lifts:?}");
    for r in rows {
        assert_ne!(r["tag"], "asset_tier", "{r}");
        assert!(r["both"].as_u64().unwrap() >= 10, "{r}");
    }
    // The first row's figures, from two counts of the same index.
    let r = &rows[0];
    let term = format!(
        "{}:\"{}\"",
        r["tag"].as_str().unwrap(),
        r["value"].as_str().unwrap()
    );
    let both = f
        .get(
            &format!(
                "/api/audience/count?expr={}",
                crate::api::urlencode(&format!("asset_tier:gold AND {term}"))
            ),
            Role::Marketer,
        )
        .await
        .json();
    let holders = f
        .get(
            &format!("/api/audience/count?expr={}", crate::api::urlencode(&term)),
            Role::Marketer,
        )
        .await
        .json();
    assert_eq!(both["parties"], r["both"], "{both} {r}");
    let everyone = holders["population"].as_f64().unwrap();
    let lift = (both["parties"].as_f64().unwrap() / n as f64)
        / (holders["parties"].as_f64().unwrap() / everyone);
    assert!(
        (r["lift"].as_f64().unwrap() - lift).abs() < 1e-9 * lift,
        "{r}: {lift}"
    );
    let small = f
        .get(
            "/api/tags/affinity?expr=gender%3Afemale%20AND%20gender%3Amale",
            Role::Analyst,
        )
        .await
        .json();
    assert_eq!(small["suppressed"], true);
    let bad = f
        .get(
            "/api/tags/affinity?expr=gender%3Afemale&min_support=2",
            Role::Marketer,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

/// Regression (security review, point 5): a marketer's export with `include_no_consent` exported
/// the parties who refused marketing. Only an admin may ask for them.
#[tokio::test]
async fn only_an_admin_exports_parties_without_consent() {
    let f = Fixture::new();
    let body = json!({"expr": "gender:female", "include_no_consent": true});
    for role in [Role::Marketer, Role::Analyst, Role::Auditor] {
        let r = f
            .post_json("/api/audience/export", role, body.clone())
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{role}");
    }
    let with_consent = f
        .post_json(
            "/api/audience/export",
            Role::Marketer,
            json!({"expr": "gender:female"}),
        )
        .await;
    let all = f.post_json("/api/audience/export", Role::Admin, body).await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(
        all.text().lines().count() > with_consent.text().lines().count(),
        "the admin's export should hold the parties without consent too"
    );
}

/// Regression (security review, point 6): responses with personal data carried no
/// `Cache-Control: no-store`.
#[tokio::test]
async fn api_responses_are_not_cached() {
    let f = Fixture::new();
    let (party, _, _) = sample_party(&f).await;
    for uri in [
        "/api/overview".to_string(),
        format!("/api/customers/{party}"),
        "/api/customers?q=a".to_string(),
    ] {
        let r = f.get(&uri, Role::Analyst).await;
        assert_eq!(
            r.headers.get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{uri}: {}",
            r.status
        );
    }
}

#[tokio::test]
async fn a_revoked_token_is_refused() {
    let f = Fixture::new();
    assert_eq!(
        f.get("/api/overview", Role::Marketer).await.status,
        StatusCode::OK
    );
    f.privacy.revoke_user("u_marketer", "test").unwrap();
    // Verified tokens are trusted for five seconds; give a loaded machine ample time.
    let start = std::time::Instant::now();
    loop {
        let s = f.get("/api/overview", Role::Marketer).await.status;
        if s == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(s, StatusCode::OK);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the revoked token still works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    // The other users are unaffected, and a rotated token works at once.
    assert_eq!(
        f.get("/api/overview", Role::Analyst).await.status,
        StatusCode::OK
    );
    let fresh = f.privacy.rotate_user("u_marketer", None, "test").unwrap();
    let r = f.call("GET", "/api/overview", Some(&fresh), None).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn failed_logins_are_throttled_and_audited() {
    let f = Fixture::new();
    let good = f.token(Role::Marketer).to_string();
    let id = good.split('_').nth(1).unwrap().to_string();
    let mut wrong = good.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == '0' { '1' } else { '0' });
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(
            f.call("GET", "/api/overview", Some(&wrong), None)
                .await
                .status,
        );
    }
    // Five wrong secrets are checked and refused; after them the id is refused unchecked.
    assert!(
        statuses[..5].iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert!(
        statuses[5..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // No token at all is refused and audited as well.
    let none = f.call("GET", "/api/overview", None, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let log = f
        .privacy
        .audit_log(&portrait_privacy::db::AuditQuery {
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    let refused = |status: u16| {
        log.iter()
            .filter(|e| e.user == id && e.status == status && e.action == "overview")
            .count()
    };
    assert_eq!(refused(401), 5);
    assert_eq!(refused(429), 3);
    assert!(log.iter().any(|e| e.user == "-" && e.status == 401));
    // The log never holds the secret.
    let secret = good.rsplit('_').next().unwrap();
    assert!(log.iter().all(|e| !e.params.to_string().contains(secret)));
}

#[tokio::test]
async fn search_terms_are_hashed_in_the_audit_log() {
    let f = Fixture::new();
    let r = f
        .get("/api/customers?q=%E7%8E%8B&limit=5", Role::Admin)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let name = r.json()["customers"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    for role in [Role::Analyst, Role::Marketer] {
        let uri = format!("/api/customers?q={}", urlencode(&name));
        assert_eq!(f.get(&uri, role).await.status, StatusCode::OK);
    }
    // Refused searches keep their parameters too, hashed alike.
    let refused = f
        .get(
            &format!("/api/customers?q={}", urlencode(&name)),
            Role::Auditor,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let log = f
        .privacy
        .audit_log(&portrait_privacy::db::AuditQuery {
            action: Some("customer.search".into()),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    let stand_in = f.privacy.search_term(&name);
    let hits = log.iter().filter(|e| e.params["q"] == stand_in).count();
    assert_eq!(hits, 3, "{log:?}");
    for e in &log {
        let text = e.params.to_string();
        assert!(!text.contains(&name) && !text.contains('王'), "{text}");
    }
    // The stand-in is the store's own: another store gives another one.
    let other = tempfile::tempdir().unwrap();
    let p = portrait_privacy::Privacy::open(other.path()).unwrap();
    assert_ne!(p.search_term(&name), stand_in);
    assert_eq!(
        portrait_privacy::Privacy::open(&f.store)
            .unwrap()
            .search_term(&name),
        stand_in,
        "the key persists"
    );
}

#[tokio::test]
async fn an_admin_revokes_and_rotates_over_the_api() {
    let f = Fixture::new();
    let m = Role::Marketer;
    assert_eq!(f.get("/api/overview", m).await.status, StatusCode::OK);
    let users = f.get("/api/users", Role::Admin).await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.text());
    assert!(
        users.json()["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["user"] == "u_marketer" && u["tokens"] == 1)
    );
    // Only an admin may.
    for role in [Role::Analyst, Role::Marketer, Role::Auditor] {
        let r = f
            .post_json("/api/users/revoke", role, json!({"name": "u_marketer"}))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = f
        .post_json("/api/users/revoke", Role::Admin, json!({"name": "nobody"}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    let r = f
        .post_json(
            "/api/users/revoke",
            Role::Admin,
            json!({"name": "u_marketer"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["revoked"], 1);
    // At once on this server, not after the five seconds of the token cache.
    assert_eq!(
        f.get("/api/overview", m).await.status,
        StatusCode::UNAUTHORIZED
    );

    let bad = f
        .post_json(
            "/api/users/rotate",
            Role::Admin,
            json!({"name": "u_marketer", "expires": "yesterday"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());
    let r = f
        .post_json(
            "/api/users/rotate",
            Role::Admin,
            json!({"name": "u_marketer", "expires": "30d"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_string();
    assert!(r.json()["expires_at"].is_string());
    let ok = f.call("GET", "/api/overview", Some(&token), None).await;
    assert_eq!(ok.status, StatusCode::OK);

    let log = f.get("/api/audit?limit=1000", Role::Auditor).await.json();
    let entries = log["entries"].as_array().unwrap();
    for action in ["users.revoke", "user.revoke", "users.rotate", "user.rotate"] {
        assert!(
            entries
                .iter()
                .any(|e| e["action"] == action && e["user"] == "u_admin" && e["status"] == 200),
            "no {action}"
        );
    }
    // The new token is never in the log.
    assert!(!log.to_string().contains(&token[12..]));
}

#[tokio::test]
async fn an_admin_erases_over_the_api_and_it_is_on_record_first() {
    let f = Fixture::new();
    let (party, _, _) = sample_party(&f).await;
    let v = f
        .get(&format!("/api/customers/{party}"), Role::Admin)
        .await
        .json();
    let cust_no = v["members"][0]["cust_no"].as_str().unwrap().to_string();
    let r = f
        .post_json(
            "/api/erase",
            Role::Marketer,
            json!({"cust_no": cust_no, "reason": "request 1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = f
        .post_json("/api/erase", Role::Admin, json!({"cust_no": cust_no}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = f
        .post_json(
            "/api/erase",
            Role::Admin,
            json!({"cust_no": "NO_SUCH_1", "reason": "request 1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    let r = f
        .post_json(
            "/api/erase",
            Role::Admin,
            json!({"cust_no": cust_no, "reason": "request 2026-118"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let body = r.json();
    assert!(body["rows"].as_u64().unwrap() > 1);
    assert!(!body.to_string().contains(&cust_no));
    // Gone from the store: the search finds no party for it.
    let s = f
        .get(&format!("/api/customers?q={cust_no}"), Role::Admin)
        .await
        .json();
    assert!(
        s["customers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["primary_cust_no"] != cust_no.as_str()),
        "{s}"
    );
    let log = f.get("/api/audit?limit=1000", Role::Auditor).await.json();
    let entries = log["entries"].as_array().unwrap();
    // Newest first: the outcome, then the request recorded before it.
    let at = |action: &str, status: u64| {
        entries
            .iter()
            .position(|e| {
                e["action"] == action
                    && e["status"] == status
                    && e["params"]["reason"] == "request 2026-118"
            })
            .unwrap_or_else(|| panic!("no {action} {status}"))
    };
    assert!(at("erase", 200) < at("erase.request", 202));
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "erase" && e["status"] == 404)
    );
    assert!(!log.to_string().contains(&cust_no));
}

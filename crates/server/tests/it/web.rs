use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;

use tower::ServiceExt;

use crate::Fixture;

/// The dashboard's page and assets answer without a token, with their content types, and the
/// page references the assets it needs; the API behind them still wants a token.
#[tokio::test]
async fn dashboard_is_served_without_a_token() {
    let f = Fixture::new();
    let ct = |r: &crate::Res| {
        r.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };

    let page = f.call("GET", "/", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(ct(&page).starts_with("text/html"), "{}", ct(&page));
    let html = page.text();
    for asset in [
        "/assets/app.js",
        "/assets/style.css",
        "/assets/vendor/echarts.min.js",
    ] {
        assert!(html.contains(asset), "the page does not reference {asset}");
        let r = f.call("GET", asset, None, None).await;
        assert_eq!(r.status, StatusCode::OK, "{asset}");
        let want = if asset.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(ct(&r).starts_with(want), "{asset}: {}", ct(&r));
        assert!(!r.body.is_empty(), "{asset} is empty");
    }
    assert!(
        page.headers.contains_key("content-security-policy"),
        "no CSP on the page"
    );

    // Revalidation with the entity tag answers 304 without the body.
    let chart = f
        .call("GET", "/assets/vendor/echarts.min.js", None, None)
        .await;
    let tag = chart
        .headers
        .get("etag")
        .expect("an etag")
        .to_str()
        .unwrap()
        .to_string();
    let again = f
        .app
        .clone()
        .oneshot(
            axum::http::Request::builder()
                .uri("/assets/vendor/echarts.min.js")
                .header("if-none-match", &tag)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers().get("etag").unwrap().to_str().unwrap(), tag);
    let body = axum::body::to_bytes(again.into_body(), usize::MAX)
        .await
        .unwrap();
    assert!(body.is_empty());
    let other = f
        .app
        .clone()
        .oneshot(
            axum::http::Request::builder()
                .uri("/assets/vendor/echarts.min.js")
                .header("if-none-match", "\"0000000000000000\"")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);

    let missing = f.call("GET", "/assets/nothing.js", None, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let api = f.call("GET", "/api/overview", None, None).await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
}

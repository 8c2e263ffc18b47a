#![allow(clippy::print_stdout)]

//! `portrait serve` and `portrait user`: the HTTP API and its users.

use std::path::Path;

use anyhow::{Context, Result};
use portrait_privacy::{Privacy, Role};

use crate::args::{ServeArgs, UserAction};

pub async fn serve(
    store_dir: &Path,
    config: &crate::settings::ConfigFile,
    a: &ServeArgs,
) -> Result<()> {
    if !(a.rate_limit > 0.0 && a.burst >= 1.0) {
        anyhow::bail!("`--rate-limit` must be above 0 and `--burst` at least 1");
    }
    let limits = portrait_server::Limits {
        rate_per_sec: a.rate_limit,
        burst: a.burst,
        ..portrait_server::Limits::default()
    };
    let state = portrait_server::AppState::open(store_dir, limits)?;
    // An erasure over the API rebuilds the derived tables with this server's settings, on a
    // thread and runtime of its own.
    let config = std::sync::Arc::new(config.clone());
    state.set_rebuild(std::sync::Arc::new(move |dir: &Path| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let run = crate::args::RunArgs {
            as_of: None,
            format: crate::args::ReportFormat::Table,
        };
        rt.block_on(super::run_stages(dir, &config, run, true))
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
    }));
    if state.privacy().users()?.is_empty() {
        eprintln!(
            "warning: no users yet, so every route but `/health` answers 401\n\
             hint: create one with `portrait --store {} user add NAME --role analyst`",
            store_dir.display()
        );
    }
    eprintln!(
        "serving the store `{}` on http://{} (OpenAPI at /openapi.json); stop with Ctrl-C",
        store_dir.display(),
        a.addr
    );
    let http = portrait_server::serve(state.clone(), a.addr);
    let Some(pg) = a.pg else {
        return http
            .await
            .with_context(|| format!("cannot serve on `{}`", a.addr));
    };
    if !pg.ip().is_loopback() && !a.pg_plaintext {
        anyhow::bail!(
            "`--pg {pg}` would take tokens in clear from the network: the PostgreSQL server has no TLS\n\
             hint: listen on loopback (`--pg 127.0.0.1:{}`) behind a TLS proxy (docs/bi.md), or add `--pg-plaintext` on a network you trust",
            pg.port()
        );
    }
    // Bound before the message, so a taken port is an error, not a silent half server.
    let listener = tokio::net::TcpListener::bind(pg)
        .await
        .with_context(|| format!("cannot serve the PostgreSQL protocol on `{pg}`"))?;
    eprintln!(
        "serving the store over the PostgreSQL protocol on {pg} (read-only; user name and API token as the password): psql \"host={} port={} user=NAME dbname=portrait\"",
        pg.ip(),
        pg.port()
    );
    tokio::select! {
        r = http => r.with_context(|| format!("cannot serve on `{}`", a.addr)),
        r = portrait_server::pg::serve_pg_on(state, listener) => {
            r.with_context(|| format!("cannot serve the PostgreSQL protocol on `{pg}`"))
        }
    }
}

/// `--expires`: `90d` (days from now) or a date (the start of that day in UTC), in the future.
fn expiry(s: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    portrait_privacy::db::expiry(s).map_err(|e| anyhow::anyhow!("--expires {e}"))
}

pub fn user(store_dir: &Path, action: UserAction) -> Result<()> {
    let privacy = Privacy::open(store_dir)?;
    match action {
        UserAction::Add {
            name,
            role,
            expires,
        } => {
            let role: Role = role.parse()?;
            let until = expires.as_deref().map(expiry).transpose()?;
            let token = privacy.add_user_until(&name, role, until)?;
            eprintln!(
                "added `{name}` ({role}){}; the token is shown once, keep it safe:",
                until
                    .map(|t| format!(", token valid until {t}"))
                    .unwrap_or_default()
            );
            println!("{token}");
        }
        UserAction::Revoke { name, by } => {
            let n = privacy.revoke_user(&name, &by)?;
            eprintln!(
                "revoked {n} token{} of `{name}`; a running server refuses them within 5 s",
                if n == 1 { "" } else { "s" }
            );
        }
        UserAction::Rotate { name, expires, by } => {
            let until = expires.as_deref().map(expiry).transpose()?;
            let token = privacy.rotate_user(&name, until, &by)?;
            eprintln!(
                "`{name}` has a new token{} (the old ones are revoked); it is shown once, keep it safe:",
                until
                    .map(|t| format!(" valid until {t}"))
                    .unwrap_or_default()
            );
            println!("{token}");
        }
        UserAction::List => {
            let rows: Vec<Vec<String>> = privacy
                .users()?
                .into_iter()
                .map(|u| {
                    vec![
                        u.name,
                        u.role.to_string(),
                        u.tokens.to_string(),
                        u.created_at,
                    ]
                })
                .collect();
            print!(
                "{}",
                crate::text::table(&["user", "role", "tokens", "created_at"], &rows)
            );
        }
    }
    Ok(())
}

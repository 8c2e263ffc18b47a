#![allow(clippy::print_stdout)]

//! `portrait serve` and `portrait user`: the HTTP API and its users.

use std::path::Path;

use anyhow::{Context, Result};
use portrait_privacy::{Privacy, Role};

use crate::args::{ServeArgs, UserAction};

pub async fn serve(store_dir: &Path, a: &ServeArgs) -> Result<()> {
    if !(a.rate_limit > 0.0 && a.burst >= 1.0) {
        anyhow::bail!("`--rate-limit` must be above 0 and `--burst` at least 1");
    }
    let limits = portrait_server::Limits {
        rate_per_sec: a.rate_limit,
        burst: a.burst,
        ..portrait_server::Limits::default()
    };
    let state = portrait_server::AppState::open(store_dir, limits)?;
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
    portrait_server::serve(state, a.addr)
        .await
        .with_context(|| format!("cannot serve on `{}`", a.addr))
}

/// `--expires`: `90d` (days from now) or a date (the start of that day in UTC), in the future.
fn expiry(s: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    let now = chrono::Utc::now();
    let t = if let Some(days) = s.strip_suffix('d') {
        let days: i64 = days
            .parse()
            .ok()
            .filter(|d| (1..=36_500).contains(d))
            .with_context(|| {
                format!("--expires `{s}`: the days must be a number from 1 to 36500, e.g. `90d`")
            })?;
        now + chrono::Duration::days(days)
    } else {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .with_context(|| {
                format!("--expires `{s}`: expected days (`90d`) or a date (`2027-03-31`)")
            })?
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
    };
    anyhow::ensure!(t > now, "--expires `{s}` is in the past");
    Ok(t)
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

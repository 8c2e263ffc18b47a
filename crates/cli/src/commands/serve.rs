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

pub fn user(store_dir: &Path, action: UserAction) -> Result<()> {
    let privacy = Privacy::open(store_dir)?;
    match action {
        UserAction::Add { name, role } => {
            let role: Role = role.parse()?;
            let token = privacy.add_user(&name, role)?;
            eprintln!("added `{name}` ({role}); the token is shown once, keep it safe:");
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

#!/usr/bin/env bash
# Tests of `portrait serve --pg` with the clients analysts use: Debian's psql and pgjdbc (with
# Java; installed when missing), Python's psycopg 3, SQLAlchemy and pandas (pinned, in a virtual environment under
# the target directory). Runs against target/debug/portrait (build it first: `cargo test
# --workspace` does). Prints `# pass N` / `# fail N` like the other suites.
set -euo pipefail
cd "$(dirname "$0")/.."
# psql, and Java with Debian's pgjdbc for what JDBC tools (DBeaver) send.
need=()
command -v psql > /dev/null || need+=(postgresql-client)
command -v java > /dev/null || need+=(default-jre-headless)
[ -f /usr/share/java/postgresql.jar ] || need+=(libpostgresql-jdbc-java)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (Debian) for the PostgreSQL protocol tests"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq > /dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" > /dev/null
fi
target=${CARGO_TARGET_DIR:-target}
venv="$target/pg-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import psycopg, sqlalchemy, pandas' 2> /dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    'psycopg[binary]==3.3.9' 'SQLAlchemy==2.0.58' 'pandas==2.3.3'
fi
bin=${PORTRAIT_BIN:-$target/debug/portrait}
if [ ! -x "$bin" ]; then
  cargo build --quiet
fi
PORTRAIT_BIN=$(realpath "$bin") "$venv/bin/python" tests/pg/clients.py

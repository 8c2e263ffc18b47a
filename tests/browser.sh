#!/usr/bin/env bash
# Browser tests of the dashboard: installs Debian's Chromium (and CJK fonts for the screenshots)
# when missing, then runs tests/browser/*.test.mjs with node's test runner against
# target/debug/portrait (build it first: `cargo test --workspace` does). Screenshots go to
# target/browser-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium > /dev/null; then
  echo "installing chromium (Debian) for the browser tests"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq > /dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-noto-cjk > /dev/null
fi
bin=${PORTRAIT_BIN:-${CARGO_TARGET_DIR:-target}/debug/portrait}
if [ ! -x "$bin" ]; then
  cargo build --quiet
fi
PORTRAIT_BIN=$(realpath "$bin") node --experimental-websocket --test tests/browser/dashboard.test.mjs

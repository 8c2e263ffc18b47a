#!/usr/bin/env bash
# The checks of bench/lib.sh on small files: each passes on equal inputs and fails (exit 1, a
# message naming the difference) on a wrong result; the timing summary has its fixed format.
# Needs bash, coreutils, awk and python3 only. Prints `ok`/`not ok` per expectation, then
# `# pass N` and `# fail N`; exits 1 when an expectation is not met.
#
#   bench/selftest.sh
set -euo pipefail
RUNS=3 THREADS=$(nproc)
source "$(dirname "$0")/lib.sh"

pass=0 fail=0
t=$BENCH_TMP/selftest
mkdir -p "$t"

# expect pass|fail WHAT CHECK ARGS...: the check, in a subshell, must pass or fail; a failure
# must say MISMATCH and name the difference (PATTERN, a grep -E expression).
expect() {
  local want=$1 what=$2 pattern=$3 status=0
  shift 3
  ("$@") > "$t/out" 2>&1 || status=$?
  if [ "$want" = pass ] && [ "$status" -eq 0 ]; then
    pass=$((pass + 1))
    echo "ok - $what"
  elif [ "$want" = fail ] && [ "$status" -eq 1 ] && grep -q MISMATCH "$t/out" && grep -Eq -- "$pattern" "$t/out"; then
    pass=$((pass + 1))
    echo "ok - $what: $(grep MISMATCH "$t/out" | head -1 | cut -c1-150)"
  else
    fail=$((fail + 1))
    echo "not ok - $what (exit $status, expected to $want)"
    sed 's/^/#   /' "$t/out"
  fi
}

printf 'party_id,name,monetary,classes\nP1,ann,100.5,3\nP2,bob,20,1\nP3,"c, d",7.25,2\n' > "$t/a.csv"
printf 'party_id,name,monetary,classes\nP3,"c, d",7.25,2\nP1,ann,100.50,3.0\nP2,bob,20,1\n' > "$t/same.csv"
printf 'party_id,name,monetary,classes\nP1,ann,100.5,3\nP2,bob,21,1\nP3,"c, d",7.25,2\n' > "$t/cell.csv"
printf 'party_id,name,monetary,classes\nP1,ann,100.5,3\nP3,"c, d",7.25,2\n' > "$t/missing.csv"
printf 'party_id,name,monetary,classes\nP1,ann,100.5000001,3\nP2,bob,20,1\nP3,"c, d",7.25,2\n' > "$t/near.csv"
printf 'party_id,name,monetary,class\nP1,ann,100.5,3\nP2,bob,20,1\nP3,"c, d",7.25,2\n' > "$t/header.csv"
printf 'party_id,name,monetary,classes\nP1,ann,100.5,3\nP2,Bob,20,1\nP3,"c, d",7.25,2\n' > "$t/text.csv"

expect pass "csv: same rows in another order, 100.50 = 100.5" "" bench_same_csv "$t/a.csv" "$t/same.csv"
expect fail "csv: a changed cell" 'column `monetary`: `20` .*`21`' bench_same_csv "$t/a.csv" "$t/cell.csv"
expect fail "csv: a changed text cell" 'column `name`' bench_same_csv "$t/a.csv" "$t/text.csv"
expect fail "csv: a missing row" 'row only in .*a\.csv: P2,bob,20,1' bench_same_csv "$t/a.csv" "$t/missing.csv"
expect fail "csv: an extra row" 'row only in .*a\.csv: P2,bob,20,1' bench_same_csv "$t/missing.csv" "$t/a.csv"
expect fail "csv: another header" 'headers differ at column 4' bench_same_csv "$t/a.csv" "$t/header.csv"
expect fail "csv: 1e-9 apart (relative), no tolerance" 'column `monetary`' bench_same_csv "$t/a.csv" "$t/near.csv"
expect pass "csv: 1e-9 apart (relative), rel 1e-6" "" bench_same_csv "$t/a.csv" "$t/near.csv" 1e-6
expect pass "csv: 1e-7 apart (absolute), abs 1e-6" "" bench_same_csv "$t/a.csv" "$t/near.csv" 0 1e-6

expect pass "numbers: equal" "" bench_same_numbers r 0.24259 0.24259 0
expect pass "numbers: within rel 1e-3" "" bench_same_numbers r 0.24259 0.24270 1e-3
expect fail "numbers: outside rel 1e-4" 'r: ours 0.24259, peer 0.24270' bench_same_numbers r 0.24259 0.24270 1e-4
expect pass "numbers: within abs 0.01" "" bench_same_numbers auc 0.9014 0.9015 0 0.01
expect fail "numbers: outside abs 1e-5" 'auc: .*over the tolerance' bench_same_numbers auc 0.9014 0.9015 0 1e-5
expect fail "numbers: not a number" 'not numbers' bench_same_numbers n 12 "" 0

printf '1 2\n3\n1 2 5\n' > "$t/s1"
printf '3\n1 2 5\n1 2\n3\n' > "$t/s2"
printf '3\n1 2 5\n1 2\n7 9\n' > "$t/s3"
printf '3\n1 2\n' > "$t/s4"
expect pass "sets: same members in another order, repeated" "" bench_same_sets "$t/s1" "$t/s2"
expect fail "sets: an extra member" '1 only in .*s3 \(first: `7 9`\)' bench_same_sets "$t/s1" "$t/s3"
expect fail "sets: a missing member" '1 only in .*s1 \(first: `1 2 5`\)' bench_same_sets "$t/s1" "$t/s4"

# bench/lookalike.sh's checks (bench/lookalike.py, standard library only).
la() { python3 bench/lookalike.py "$@"; }
printf 'party_id,score\nP1,2.5\nP2,2.25\nP3,2.0\n' > "$t/top.csv"
printf 'party_id,score\nP1,2.50004\nP2,2.25\nP3,2.0\n' > "$t/top-near.csv"
printf 'party_id,score\nP1,2.5\nP2,2.25\nP4,2.0\n' > "$t/top-other.csv"
printf 'party_id,score\nP1,2.5\nP2,2.3\nP3,2.0\n' > "$t/top-score.csv"
expect pass "lookalike: the same parties, scores 4e-5 apart" "" la same-top "$t/top.csv" "$t/top-near.csv"
expect fail "lookalike: another party" 'jaccard 0\.5' la same-top "$t/top.csv" "$t/top-other.csv"
expect fail "lookalike: a score 0.05 apart" 'largest score difference 0\.05' la same-top "$t/top.csv" "$t/top-score.csv"
ours='[{"value":"wine","parties":1200,"checks":[{"method":"centroid","recall":0.596},{"method":"classifier","recall":0.659}]}]'
echo "$ours" > "$t/ours.json"
echo '{"traits":{"wine":{"parties":1200,"centroid":0.596,"classifier":0.66}}}' > "$t/peer.json"
echo '{"traits":{"wine":{"parties":1200,"centroid":0.590,"classifier":0.66}}}' > "$t/peer-centroid.json"
echo '{"traits":{"wine":{"parties":1200,"centroid":0.596,"classifier":0.62}}}' > "$t/peer-classifier.json"
echo '{"traits":{}}' > "$t/peer-none.json"
expect pass "lookalike recall: equal centroid, classifier 0.001 apart" "" la same-recall "$t/ours.json" "$t/peer.json"
expect fail "lookalike recall: centroid 0.006 apart" 'wine centroid: portrait 0\.596, peer 0\.590' la same-recall "$t/ours.json" "$t/peer-centroid.json"
expect fail "lookalike recall: classifier 0.039 apart" 'wine classifier: portrait 0\.659, peer 0\.620' la same-recall "$t/ours.json" "$t/peer-classifier.json"
expect fail "lookalike recall: a trait the peer did not judge" 'wine: not judged' la same-recall "$t/ours.json" "$t/peer-none.json"

# The summary: median and min of alternating runs, in the fixed format.
fake() { :; }
took() { bench_took "0.$1"; }
summary() {
  bench_alternate "fit" peer took fake > /dev/null 2>&1
  bench_row fit peer
  bench_report 2> /dev/null
}
summary > "$t/report"
if grep -Eq '^\| fit \| peer \| 3 \| 0\.2 \| 0\.1 \| [0-9.e-]+ \| [0-9.e-]+ \| [0-9.]+ \|$' "$t/report" &&
  grep -q '^# commit ' "$t/report" && grep -q '^# load .* at start, .* at end$' "$t/report" &&
  grep -q '^# threads portrait ' "$t/report"; then
  pass=$((pass + 1))
  echo "ok - summary row: median 0.2 and min 0.1 of 0.1, 0.2, 0.3"
else
  fail=$((fail + 1))
  echo "not ok - summary row"
  sed 's/^/#   /' "$t/report"
fi

echo "# pass $pass"
echo "# fail $fail"
[ "$fail" -eq 0 ]

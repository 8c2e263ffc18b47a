#!/usr/bin/env bash
# Lookalike audiences (相似人群扩展) on a generated bank of CUSTOMERS customer numbers (default
# 100,000; SEED 29) through `portrait run`, against peers on the same features (`tag_party`
# exported as CSV, bench/lookalike.py):
# - a lookalike of SIZE (default 10,000) of `interest:red_wine` by the centroid method, against
#   a plain numpy reference of the same method: the same parties are chosen, with the same
#   scores. portrait's time is the whole command (reading the store, and its held-out check of
#   the method); the reference's is its arithmetic alone, its CSV parsing left out.
# - the held-out check of `portrait eval lookalike` on the generator's truth/interest.csv
#   against the numpy centroid and scikit-learn's LogisticRegression (L2, C = 1, every other
#   party a negative; portrait's classifier samples up to 50,000), hiding the same halves (the
#   peer replays portrait's shuffle): the centroid's recall per interest within 0.002 (ties at
#   the cut aside, the same parties), the classifier's within 0.02 for interests of at least
#   1,000 parties (two optimisers, and portrait's sample of the others past 50,000). Both times
#   are the whole evaluation.
# Exits non-zero when the chosen parties or the recalls differ.
#
#   bench/lookalike.sh
#   PROFILE=dev CUSTOMERS=20000 SIZE=2000 RUNS=3 bench/lookalike.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_vars CUSTOMERS SEED SIZE
customers=${CUSTOMERS:-100000}
seed=${SEED:-29}
size=${SIZE:-10000}

bench_python_env sklearn "scikit-learn==1.9.1 pandas==3.1.1 numpy==2.4.6 scipy==1.17.1"
py() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$BENCH_PY" "$@"; }
bench_build portrait
bin=$BENCH_BIN
bench_side numpy 1 "numpy 2.4.6: the centroid method written plainly"
bench_side scikit-learn "$BENCH_THREADS" "scikit-learn 1.9.1 LogisticRegression (lbfgs)"

work=$BENCH_TMP
store=$work/store
echo "bench: generating $customers customers and running the pipeline" >&2
"$bin" generate --customers "$customers" --seed "$seed" --out "$work/bank" > /dev/null 2>&1
"$bin" --store "$store" ingest "$work/bank" > /dev/null 2>&1
"$bin" --store "$store" run > /dev/null 2>&1
"$bin" --store "$store" sql "SELECT * FROM tag_party ORDER BY idx" --format csv > "$work/tag_party.csv"
"$bin" --store "$store" sql "SELECT party_id FROM tag WHERE tag = 'interest' AND value = 'red_wine'" \
  --format csv | tail -n +2 > "$work/seed.txt"
# The truth by party: customer numbers mapped through party_member.
"$bin" --store "$store" sql "SELECT cust_no, party_id FROM party_member" --format csv > "$work/members.csv"
awk -F, 'NR == FNR { if (FNR > 1) party[$1] = $2; next }
  FNR == 1 { print "party_id,value"; next }
  ($1 in party) && !seen[party[$1] "," $2]++ { print party[$1] "," $2 }' \
  "$work/members.csv" "$work/bank/truth/interest.csv" > "$work/truth.csv"
bench_note "data: generated bank, $customers customers, seed $seed; $(($(wc -l < "$work/tag_party.csv") - 1)) parties; seed audience interest:red_wine, $(wc -l < "$work/seed.txt") parties"

# The features portrait leaves out for this seed (its definition), left out by the peer too.
"$bin" --store "$store" audience lookalike "interest:red_wine" --size 1 --method centroid \
  --format csv > /dev/null 2> "$work/dropped.err"
dropped=$(sed -n 's/^ *left out, as the seed is defined by them: //p' "$work/dropped.err" | tr -d ' ')
bench_note "features left out as the seed's definition: ${dropped:-none}"

ours_centroid() {
  bench_timed "$bin" --store "$store" audience lookalike "interest:red_wine" --size "$size" \
    --method centroid --format csv > "$work/ours.csv" 2> "$work/ours.err"
}
peer_centroid() {
  py bench/lookalike.py centroid "$work/tag_party.csv" "$work/seed.txt" "$size" "$work/peer.csv" "$dropped" > "$work/peer.json"
  bench_took "$(bench_json "$work/peer.json" seconds)"
}
bench_alternate "lookalike of $size, centroid" numpy ours_centroid peer_centroid
# The same parties with the same scores: features are stored as f32 by both, so scores agree to
# about 1e-6; parties whose scores tie at the cut are chosen by dense index by both.
out=$(py bench/lookalike.py same-top "$work/ours.csv" "$work/peer.csv") || { echo "$out" >&2; exit 1; }
bench_checked "centroid lookalike of $size: the same parties ($out)"

ours_eval() {
  bench_timed "$bin" --store "$store" eval lookalike --truth "$work/bank/truth/interest.csv" \
    --format json > "$work/ours_eval.json"
}
peer_eval() {
  bench_timed py bench/lookalike.py holdout "$work/tag_party.csv" "$work/truth.csv" > "$work/peer_eval.json" 2> "$work/peer_eval.err"
}
bench_alternate "held-out check, every interest" scikit-learn ours_eval peer_eval
out=$(py bench/lookalike.py same-recall "$work/ours_eval.json" "$work/peer_eval.json") || { echo "$out" >&2; exit 1; }
bench_checked "held-out recall per interest and method, same halves (portrait/peer): $out"

bench_row "lookalike of $size, centroid" numpy
bench_row "held-out check, every interest" scikit-learn
bench_report

# shellcheck shell=bash
# Sourced by every bench script: the build, the peers' Python, timing, result checks and the
# summary. Sourcing it changes to the repository root.
#
#   BIN=PATH      the portrait binary to use; portrait is not built
#   EXAMPLES=DIR  prebuilt examples to use; no example is built
#   PROFILE       release (default) or dev (target/debug)
#   RUNS          runs of each side, alternating (default 5)
#   THREADS       threads given to each side (default: the cores this process may use)
#   VENV=DIR      the peers' virtualenv instead of bench/.venv-NAME
#
# A script defines one function per side and hands them to `bench_alternate`; checks
# (`bench_same_csv`, `bench_same_numbers`, `bench_same_sets`) exit 1 naming the first
# difference; `bench_row` adds a measurement's summary row and `bench_report` prints the header
# block (commit, build, threads, load, checks) and the rows. A script with arguments sets
# BENCH_ARGS to them before sourcing, for the command line in the header.
set -euo pipefail
export LC_NUMERIC=C

BENCH_CALLER_DIR=$PWD
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$BENCH_ROOT"
BENCH_SCRIPT=bench/$(basename "$0")
BENCH_TMP=$(mktemp -d)
BENCH_TOOK=$BENCH_TMP/.took
BENCH_LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
BENCH_VARS="BIN EXAMPLES PROFILE RUNS THREADS"
BENCH_CLEANUP=()
: > "$BENCH_TMP/.samples"
: > "$BENCH_TMP/.rows"
: > "$BENCH_TMP/.checks"
: > "$BENCH_TMP/.sides"
: > "$BENCH_TMP/.notes"

bench_die() {
  echo "error: $*" >&2
  exit 2
}

bench_cleanup() {
  local c
  for c in ${BENCH_CLEANUP[@]+"${BENCH_CLEANUP[@]}"}; do eval "$c" || true; done
  rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT

# bench_on_exit CMD: run CMD when the script ends (scripts must not set their own EXIT trap).
bench_on_exit() { BENCH_CLEANUP+=("$1"); }

# bench_vars NAME...: environment variables of the script, shown in the command line.
bench_vars() { BENCH_VARS="$BENCH_VARS $*"; }

# bench_note TEXT: a line of the header block (the data, a setting).
bench_note() { echo "$*" >> "$BENCH_TMP/.notes"; }

bench_abs() {
  case $1 in
    /*) echo "$1" ;;
    */*) echo "$BENCH_CALLER_DIR/$1" ;;
    *) command -v "$1" || echo "$BENCH_CALLER_DIR/$1" ;;
  esac
}

BENCH_NPROC=$(nproc)
BENCH_PROFILE=${PROFILE:-release}
BENCH_RUNS=${RUNS:-5}
BENCH_THREADS=${THREADS:-$BENCH_NPROC}
BENCH_TARGET=${CARGO_TARGET_DIR:-$BENCH_ROOT/target}
case $BENCH_PROFILE in release | dev) ;; *) bench_die "PROFILE must be \`release\` or \`dev\`, found \`$BENCH_PROFILE\`" ;; esac
[[ $BENCH_RUNS =~ ^[1-9][0-9]*$ ]] || bench_die "RUNS must be a positive integer, found \`$BENCH_RUNS\`"
[[ $BENCH_THREADS =~ ^[1-9][0-9]*$ ]] || bench_die "THREADS must be a positive integer, found \`$BENCH_THREADS\`"

BENCH_COMMIT=$(git rev-parse --short HEAD 2> /dev/null || echo unknown)
if [ "$BENCH_COMMIT" != unknown ] && [ -n "$(git status --porcelain 2> /dev/null)" ]; then
  BENCH_COMMIT=$BENCH_COMMIT-dirty
fi

# Both sides inherit the thread count: thread-pool variables for the libraries that read them,
# and, with fewer threads than cores, this shell pinned to that many cores (DataFusion and
# tokio size themselves from the affinity mask). Tools with their own setting get it passed.
export RAYON_NUM_THREADS=$BENCH_THREADS OMP_NUM_THREADS=$BENCH_THREADS
export OPENBLAS_NUM_THREADS=$BENCH_THREADS MKL_NUM_THREADS=$BENCH_THREADS
if [ "$BENCH_THREADS" -lt "$BENCH_NPROC" ]; then
  command -v taskset > /dev/null || bench_die "THREADS below the core count needs \`taskset\` (util-linux)"
  taskset -cp "$(python3 -c "import os; print(','.join(map(str, sorted(os.sched_getaffinity(0))[:$BENCH_THREADS])))")" $$ > /dev/null
fi

# bench_side NAME THREADS [ABOUT]: a side as the header lists it (portrait is listed by default).
bench_side() {
  awk -F'\t' -v n="$1" '$1 != n' "$BENCH_TMP/.sides" > "$BENCH_TMP/.sides.new"
  printf '%s\t%s\t%s\n' "$1" "$2" "${3:-}" >> "$BENCH_TMP/.sides.new"
  mv "$BENCH_TMP/.sides.new" "$BENCH_TMP/.sides"
}
bench_side portrait "$BENCH_THREADS"

# bench_build [portrait] [CRATE:EXAMPLE]...: builds what the script runs in one cargo call and
# sets BENCH_BIN and BENCH_EXAMPLES; nothing is built for what BIN or EXAMPLES provide.
bench_build() {
  [ -z "${BENCH_BUILT:-}" ] || bench_die "bench_build called twice"
  BENCH_BUILT=1
  local dir=debug args=() what want_bin=
  [ "$BENCH_PROFILE" = release ] && dir=release
  for what in "$@"; do
    case $what in
      portrait)
        want_bin=1
        [ -n "${BIN:-}" ] || args+=(-p portrait-cli --bin portrait)
        ;;
      *:*) [ -n "${EXAMPLES:-}" ] || args+=(-p "${what%%:*}" --example "${what#*:}") ;;
      *) bench_die "bench_build: \`$what\` is neither \`portrait\` nor CRATE:EXAMPLE" ;;
    esac
  done
  BENCH_BIN=$BENCH_TARGET/$dir/portrait
  [ -z "${BIN:-}" ] || BENCH_BIN=$(bench_abs "$BIN")
  BENCH_EXAMPLES=$BENCH_TARGET/$dir/examples
  [ -z "${EXAMPLES:-}" ] || BENCH_EXAMPLES=$(bench_abs "$EXAMPLES")
  if [ ${#args[@]} -gt 0 ]; then
    echo "bench: cargo build ($BENCH_PROFILE) ${args[*]}" >&2
    if [ "$BENCH_PROFILE" = release ]; then
      cargo build --release --quiet "${args[@]}"
    else
      cargo build --quiet "${args[@]}"
    fi
  fi
  BENCH_BUILD_NOTE=$BENCH_PROFILE
  if [ -n "$want_bin" ]; then
    [ -x "$BENCH_BIN" ] || bench_die "no portrait binary at \`$BENCH_BIN\`"
    BENCH_BUILD_NOTE="$BENCH_BUILD_NOTE, portrait $BENCH_BIN"
  fi
  [ "$#" -eq "${want_bin:-0}" ] || BENCH_BUILD_NOTE="$BENCH_BUILD_NOTE, examples $BENCH_EXAMPLES"
}

# bench_python_env NAME "PKG==VERSION...": a virtualenv (bench/.venv-NAME, or VENV) holding
# exactly these pins, made anew when they change; sets BENCH_PY.
bench_python_env() {
  local venv=${VENV:-$BENCH_ROOT/bench/.venv-$1} pins=$2
  [ -z "${VENV:-}" ] || venv=$(bench_abs "$VENV")
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.bench-pins" 2> /dev/null)" != "$pins" ]; then
    echo "bench: installing $pins into $venv" >&2
    rm -f "$venv/.bench-pins"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086 # the pins are words
    "$venv/bin/pip" install --quiet $pins
    echo "$pins" > "$venv/.bench-pins"
  fi
  BENCH_PY=$venv/bin/python
  BENCH_PY_PINS="python $("$BENCH_PY" -c 'import platform; print(platform.python_version())'), $pins"
}

# bench_json FILE KEY[.KEY...]: a value of a JSON file, or of its last JSON line.
bench_json() {
  python3 - "$1" "$2" << 'PY'
import json, sys
text = open(sys.argv[1]).read()
try:
    v = json.loads(text)
except ValueError:
    v = json.loads([l for l in text.splitlines() if l.startswith("{")][-1])
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v) if isinstance(v, (dict, list)) else v)
PY
}

bench_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.6f\n", b - a }'; }

# bench_took SECONDS: inside a side function, the time that counts for this run (added up
# when called more than once) instead of the function's wall time.
bench_took() {
  [[ $1 =~ ^[0-9.eE+-]+$ ]] || bench_die "bench_took: \`$1\` is not a number of seconds"
  echo "$1" >> "$BENCH_TOOK"
}

# bench_timed CMD...: runs CMD, and its wall time is what counts for this run.
bench_timed() {
  local start=$EPOCHREALTIME
  "$@"
  bench_took "$(bench_since "$start")"
}

# bench_record MEASUREMENT SIDE SECONDS: one sample.
bench_record() {
  [[ $3 =~ ^[0-9.eE+-]+$ ]] || bench_die "bench_record: \`$3\` is not a number of seconds"
  printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$BENCH_TMP/.samples"
}

# bench_once MEASUREMENT SIDE FUNCTION RUN: one timed call `FUNCTION RUN`, in this shell.
bench_once() {
  local start took
  : > "$BENCH_TOOK"
  start=$EPOCHREALTIME
  "$3" "$4"
  took=$(bench_since "$start")
  [ ! -s "$BENCH_TOOK" ] || took=$(awk '{ s += $1 } END { printf "%.6f\n", s }' "$BENCH_TOOK")
  bench_record "$1" "$2" "$took"
  printf 'bench: %s, %s, run %s: %s s\n' "$1" "$2" "$4" "$took" >&2
}

# bench_alternate MEASUREMENT PEER OURS PEERS: RUNS runs of each side, alternating, portrait
# first. OURS and PEERS are functions called with the run number (1..RUNS) in this shell:
# their wall time counts unless they call bench_timed or bench_took.
bench_alternate() {
  local run
  for run in $(seq "$BENCH_RUNS"); do
    bench_once "$1" portrait "$3" "$run"
    bench_once "$1" "$2" "$4" "$run"
  done
}

# bench_repeat MEASUREMENT FUNCTION [SIDE]: RUNS runs of one side alone (default portrait).
bench_repeat() {
  local run
  for run in $(seq "$BENCH_RUNS"); do bench_once "$1" "${3:-portrait}" "$2" "$run"; done
}

# bench_samples MEASUREMENT SIDE: the seconds of each run, comma-separated.
bench_samples() {
  awk -F'\t' -v m="$1" -v s="$2" '$1 == m && $2 == s { printf "%s%s", (n++ ? "," : ""), $3 } END { print "" }' \
    "$BENCH_TMP/.samples"
}

# `runs median min` of a side's samples of a measurement, or nothing.
bench_stats() {
  awk -F'\t' -v m="$1" -v s="$2" '$1 == m && $2 == s { print $3 }' "$BENCH_TMP/.samples" |
    sort -g | awk '{ v[NR] = $1 } END {
      if (NR == 0) exit
      med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%d %.6f %.6f\n", NR, med, v[1] }'
}

# bench_row MEASUREMENT [PEER]: the summary row of a measurement (portrait alone without PEER).
bench_row() {
  local ours theirs=""
  ours=$(bench_stats "$1" portrait)
  [ -z "${2:-}" ] || theirs=$(bench_stats "$1" "$2")
  [ -n "$ours$theirs" ] || bench_die "bench_row: no samples of \`$1\`"
  awk -v m="$1" -v p="${2:-–}" -v o="$ours" -v t="$theirs" '
    function cells(s, v) { if (s == "") return "– | –"; split(s, v, " "); return sprintf("%.5g | %.5g", v[2], v[3]) }
    BEGIN {
      split(o, a, " "); split(t, b, " ")
      n = o == "" ? b[1] : (t == "" || a[1] < b[1] ? a[1] : b[1])
      r = (o != "" && t != "" && a[2] > 0) ? sprintf("%.2f", b[2] / a[2]) : "–"
      printf "| %s | %s | %d | %s | %s | %s |\n", m, p, n, cells(o), cells(t), r }' >> "$BENCH_TMP/.rows"
}

# bench_command: the command line as typed, with the settings that were given.
bench_command() {
  local cmd=$BENCH_SCRIPT v
  for v in $BENCH_VARS; do
    case ${!v:-} in
      '') ;;
      *' '*) cmd="$v=\"${!v}\" $cmd" ;;
      *) cmd="$v=${!v} $cmd" ;;
    esac
  done
  echo "$cmd${BENCH_ARGS:+ $BENCH_ARGS}"
}

# bench_report: the header block, the checks that passed and the summary table, on stdout.
bench_report() {
  echo
  echo "# bench $BENCH_SCRIPT"
  echo "# command $(bench_command)"
  echo "# commit $BENCH_COMMIT"
  echo "# build ${BENCH_BUILD_NOTE:-nothing built}"
  [ -z "${BENCH_PY_PINS:-}" ] || echo "# peers $BENCH_PY_PINS"
  echo "# nproc $BENCH_NPROC, runs $BENCH_RUNS per side, alternating"
  awk -F'\t' '{ printf "# threads %s %s%s\n", $1, $2, ($3 == "" ? "" : " (" $3 ")") }' "$BENCH_TMP/.sides"
  echo "# load $BENCH_LOAD_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
  sed 's/^/# /' "$BENCH_TMP/.notes"
  sed 's/^/# checked /' "$BENCH_TMP/.checks"
  echo "| measurement | peer | runs | portrait median s | portrait min s | peer median s | peer min s | peer ÷ portrait |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  cat "$BENCH_TMP/.rows"
}

# bench_checked TEXT: a check the script made itself, listed in the report.
bench_checked() {
  echo "bench: same $*" >&2
  echo "$*" >> "$BENCH_TMP/.checks"
}

bench_mismatch() {
  echo "MISMATCH: $*" >&2
  exit 1
}

# bench_same_numbers NAME OURS PEER REL [ABS]: |OURS − PEER| ≤ max(ABS, REL·max(|OURS|, |PEER|)).
bench_same_numbers() {
  [ $# -ge 4 ] && [ $# -le 5 ] || bench_die "usage: bench_same_numbers NAME OURS PEER REL [ABS]"
  local out
  out=$(python3 - "$@" 2>&1 << 'PY'
import math, sys

name, a, b, rel = sys.argv[1:5]
tol = sys.argv[5] if len(sys.argv) > 5 else "0"
try:
    x, y, r, t = float(a), float(b), float(rel), float(tol)
except ValueError:
    sys.exit(f"{name}: not numbers: ours `{a}`, peer `{b}`")
d, m = abs(x - y), max(abs(x), abs(y))
if not (x == y or (math.isnan(x) and math.isnan(y)) or d <= max(t, r * m)):
    sys.exit(f"{name}: ours {a}, peer {b}: differ by {d:.3g} (relative {d / m if m else math.inf:.3g}), "
             f"over the tolerance rel {rel}, abs {tol}")
print(f"{name}: {a} and {b} (tolerance rel {rel}, abs {tol})")
PY
  ) || bench_mismatch "$out"
  bench_checked "$out"
}

# bench_same_sets A B: the same set of lines in both files (order and repeats do not matter).
bench_same_sets() {
  [ $# -eq 2 ] || bench_die "usage: bench_same_sets A B"
  local a=$BENCH_TMP/.set-a b=$BENCH_TMP/.set-b only_a only_b msg na=${1#"$BENCH_TMP"/} nb=${2#"$BENCH_TMP"/}
  LC_ALL=C sort -u "$1" > "$a"
  LC_ALL=C sort -u "$2" > "$b"
  only_a=$(LC_ALL=C comm -23 "$a" "$b" | wc -l)
  only_b=$(LC_ALL=C comm -13 "$a" "$b" | wc -l)
  if [ "$only_a" -gt 0 ] || [ "$only_b" -gt 0 ]; then
    msg="sets differ: $na has $(wc -l < "$a") members, $nb $(wc -l < "$b")"
    [ "$only_a" -eq 0 ] || msg="$msg; $only_a only in $na (first: \`$(LC_ALL=C comm -23 "$a" "$b" | head -1)\`)"
    [ "$only_b" -eq 0 ] || msg="$msg; $only_b only in $nb (first: \`$(LC_ALL=C comm -13 "$a" "$b" | head -1)\`)"
    bench_mismatch "$msg"
  fi
  bench_checked "set of $(wc -l < "$a") members in $na and $nb"
}

# bench_same_csv A B [REL [ABS]]: the same header and the same rows in any order. Cells equal as
# text, or as numbers within max(ABS, REL·max(|a|, |b|)) (default 0: equal values, so `1.0` is
# `1`); rows are sorted as text, so a key column first keeps nearly equal rows aligned.
bench_same_csv() {
  [ $# -ge 2 ] && [ $# -le 4 ] || bench_die "usage: bench_same_csv A B [REL [ABS]]"
  local out
  out=$(python3 - "$1" "$2" "${3:-0}" "${4:-0}" "$BENCH_TMP" 2>&1 << 'PY'
import csv, math, os, re, subprocess, sys

a_path, b_path, rel, tol, tmp = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
NUM = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity|nan)", re.I)
SEP = "\x1f"
csv.field_size_limit(1 << 30)


def num(s):
    return float(s) if NUM.fullmatch(s.strip()) else None


def same(x, y):
    if x == y:
        return True
    u, v = num(x), num(y)
    if u is None or v is None:
        return False
    if math.isnan(u) or math.isnan(v):
        return math.isnan(u) and math.isnan(v)
    if math.isinf(u) or math.isinf(v):
        return u == v
    return abs(u - v) <= max(tol, rel * max(abs(u), abs(v)))


def sorted_rows(path, tag):
    """Header and the path of the rows, one line each with cells joined by SEP, sorted."""
    flat = os.path.join(tmp, f".csv-{tag}")
    with open(path, newline="") as f, open(flat, "w") as out:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            sys.exit(f"{path} is empty: no header")
        for r in reader:
            out.write(SEP.join(c.replace("\\", "\\\\").replace("\n", "\\n") for c in r) + "\n")
    subprocess.run(["sort", "-o", flat, flat], env=dict(os.environ, LC_ALL="C"), check=True)
    return header, flat


def show(r):
    s = ",".join(r)
    return s if len(s) <= 160 else s[:157] + "..."


ha, fa = sorted_rows(a_path, "a")
hb, fb = sorted_rows(b_path, "b")
# Files of the script's own temporary directory are named relative to it.
a_path, b_path = (os.path.relpath(p, tmp) if p.startswith(tmp + "/") else p for p in (a_path, b_path))
if ha != hb:
    i = next((i for i, (x, y) in enumerate(zip(ha, hb)) if x != y), min(len(ha), len(hb)))
    sys.exit(f"headers differ at column {i + 1}: {a_path}: {show(ha)}; {b_path}: {show(hb)}")
na, nb = (sum(1 for _ in open(p)) for p in (fa, fb))
counts = f"{a_path} has {na} rows, {b_path} {nb}"
tolerance = f"tolerance rel {sys.argv[3]}, abs {sys.argv[4]}"


def rows(p):
    with open(p) as f:
        for line in f:
            yield line.rstrip("\n")


def same_row(x, y):
    if x is None or y is None:
        return False
    if x == y:
        return True
    x, y = x.split(SEP), y.split(SEP)
    return len(x) == len(y) and all(map(same, x, y))


def show_row(line):
    return show(line.split(SEP))


ia, ib = rows(fa), rows(fb)
ra, rb = next(ia, None), next(ib, None)
row = 1
while ra is not None or rb is not None:
    if same_row(ra, rb):
        ra, rb, row = next(ia, None), next(ib, None), row + 1
        continue
    na2, nb2 = next(ia, None), next(ib, None)
    if rb is None or (ra is not None and na != nb and same_row(na2, rb)):
        sys.exit(f"{counts}; row only in {a_path}: {show_row(ra)}")
    if ra is None or (na != nb and same_row(ra, nb2)):
        sys.exit(f"{counts}; row only in {b_path}: {show_row(rb)}")
    xa, xb = ra.split(SEP), rb.split(SEP)
    if len(xa) != len(xb):
        sys.exit(f"sorted row {row}: {len(xa)} cells in {a_path}, {len(xb)} in {b_path}")
    c = next(i for i, (x, y) in enumerate(zip(xa, xb)) if not same(x, y))
    sys.exit(f"{counts}; sorted row {row}, column `{ha[c]}`: `{xa[c]}` in {a_path}, `{xb[c]}` in "
             f"{b_path} ({tolerance})\n  {a_path}: {show(xa)}\n  {b_path}: {show(xb)}")
print(f"{na} rows × {len(ha)} columns in {a_path} and {b_path} ({tolerance})")
PY
  ) || bench_mismatch "$out"
  bench_checked "$out"
}

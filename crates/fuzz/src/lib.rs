//! A small mutation fuzzer that runs on the stable toolchain: it starts from seed inputs (real
//! values, real files), applies random byte- and token-level mutations (flips, deletions,
//! duplications, splices of dictionary tokens, truncations), and hands every mutant to the
//! target, which must not panic. Runs are seeded and reproducible; each is bounded by a number
//! of cases and a wall-clock budget, both settable from the environment (`FUZZ_CASES`,
//! `FUZZ_SECONDS`) for long runs outside CI.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How much fuzzing one target gets.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub cases: u64,
    pub seconds: f64,
}

impl Budget {
    /// `cases` and `seconds`, or `FUZZ_CASES` / `FUZZ_SECONDS` when set.
    pub fn from_env(cases: u64, seconds: f64) -> Self {
        let get = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<f64>().ok());
        Budget {
            cases: get("FUZZ_CASES").map_or(cases, |v| v as u64),
            seconds: get("FUZZ_SECONDS").unwrap_or(seconds),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub cases: u64,
}

/// Mutates `seeds` (and `tokens`, spliced in) and calls `target` on each mutant until the
/// budget is spent. A panic in `target` fails the run with the input that caused it, escaped,
/// so that it can be turned into a regression test.
///
/// # Panics
/// When `target` panics, or `seeds` is empty.
pub fn fuzz(
    name: &str,
    seeds: &[Vec<u8>],
    tokens: &[&[u8]],
    budget: Budget,
    target: impl Fn(&[u8]),
) -> Run {
    assert!(!seeds.is_empty(), "{name}: no seeds");
    let mut rng = StdRng::seed_from_u64(
        0x5eed
            ^ name
                .bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
    );
    let start = Instant::now();
    let limit = Duration::try_from_secs_f64(budget.seconds).unwrap_or(Duration::MAX);
    let mut cases = 0;
    // Every seed as it is first.
    let mut queue: Vec<Vec<u8>> = seeds.to_vec();
    while cases < budget.cases && start.elapsed() < limit {
        let input = if let Some(s) = queue.pop() {
            s
        } else {
            let mut m = seeds[rng.random_range(0..seeds.len())].clone();
            for _ in 0..rng.random_range(1..=4) {
                mutate(&mut m, tokens, &mut rng);
            }
            m
        };
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            panic!(
                "{name}: the target panicked on case {cases}, input {:?}",
                String::from_utf8_lossy(&input)
            );
        }
        cases += 1;
    }
    Run { cases }
}

fn mutate(m: &mut Vec<u8>, tokens: &[&[u8]], rng: &mut StdRng) {
    let at = |rng: &mut StdRng, len: usize| rng.random_range(0..=len);
    match rng.random_range(0..8) {
        // Flip a bit.
        0 if !m.is_empty() => {
            let i = rng.random_range(0..m.len());
            m[i] ^= 1 << rng.random_range(0..8);
        }
        // Replace a byte by an interesting one.
        1 if !m.is_empty() => {
            const BYTES: &[u8] = b"\0\n\r\",;()|:'\\ \x7f\x80\xbf\xc0\xef\xff0-9.";
            let i = rng.random_range(0..m.len());
            m[i] = BYTES[rng.random_range(0..BYTES.len())];
        }
        // Delete a range.
        2 if !m.is_empty() => {
            let i = rng.random_range(0..m.len());
            let n = rng.random_range(1..=(m.len() - i).min(16));
            m.drain(i..i + n);
        }
        // Duplicate a range, sometimes many times (deep nesting, long lines).
        3 if !m.is_empty() => {
            let i = rng.random_range(0..m.len());
            let n = rng.random_range(1..=(m.len() - i).min(32));
            let chunk = m[i..i + n].to_vec();
            let times = if rng.random_bool(0.1) {
                500
            } else {
                rng.random_range(1..4)
            };
            let j = at(rng, m.len());
            for _ in 0..times {
                m.splice(j..j, chunk.iter().copied());
            }
        }
        // Splice in a dictionary token.
        4 | 5 if !tokens.is_empty() => {
            let t = tokens[rng.random_range(0..tokens.len())];
            let j = at(rng, m.len());
            m.splice(j..j, t.iter().copied());
        }
        // Truncate.
        6 if !m.is_empty() => {
            let n = rng.random_range(0..m.len());
            m.truncate(n);
        }
        // Random bytes.
        _ => {
            let j = at(rng, m.len());
            let n = rng.random_range(1..8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            m.splice(j..j, bytes);
        }
    }
}

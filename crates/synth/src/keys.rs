//! Identifiers: keyed permutations make sequential indices look like a bank's numbers while
//! staying unique by construction (no global registry is needed to avoid collisions).

use crate::rng::{Stream, mix, rng_for, splitmix64};
use rand::Rng;

/// A keyed bijection of `0..domain` (a balanced Feistel network with cycle walking).
#[derive(Debug, Clone)]
pub(crate) struct Permutation {
    domain: u64,
    half_bits: u32,
    keys: [u64; 4],
}

impl Permutation {
    pub(crate) fn new(domain: u64, key: u64) -> Self {
        assert!(domain > 0);
        let bits = (64 - (domain - 1).leading_zeros()).max(2);
        let half_bits = bits.div_ceil(2);
        let keys = [0u64, 1, 2, 3].map(|r| mix(key, r));
        Self {
            domain,
            half_bits,
            keys,
        }
    }

    fn round(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let (mut l, mut r) = (x >> self.half_bits, x & mask);
        for k in self.keys {
            let f = splitmix64(r ^ k) & mask;
            (l, r) = (r, l ^ f);
        }
        (l << self.half_bits) | r
    }

    /// The image of `x < domain`, also `< domain`.
    pub(crate) fn apply(&self, x: u64) -> u64 {
        debug_assert!(x < self.domain);
        let mut y = self.round(x);
        while y >= self.domain {
            y = self.round(y);
        }
        y
    }
}

/// Widths and prefixes of the generated identifiers.
pub(crate) const CUST_NO_BASE: u64 = 1_000_000_000;
/// Transactions and events per customer number are capped so their ids stay unique.
pub(crate) const PER_NUMBER_CAP: u64 = 10_000;
/// Interactions per customer number are capped likewise.
pub(crate) const INTERACTIONS_CAP: u64 = 100;

/// The keyed permutations of one run.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    cust: Permutation,
    txn: Permutation,
    event: Permutation,
    interaction: Permutation,
    mobile: Permutation,
    passport: Permutation,
    org: Permutation,
    org_new: Permutation,
}

impl Keys {
    /// Keys for a run of `customers` numbers (at most [`crate::config::MAX_CUSTOMERS`], so the
    /// per-number id blocks fit their 12 and 10 digits).
    pub(crate) fn new(seed: u64, customers: u32) -> Self {
        let mut rng = rng_for(seed, Stream::Keys, 0);
        let mut next = || rng.random::<u64>();
        Self {
            cust: Permutation::new(u64::from(customers), next()),
            txn: Permutation::new(1_000_000_000_000, next()),
            event: Permutation::new(1_000_000_000_000, next()),
            interaction: Permutation::new(10_000_000_000, next()),
            mobile: Permutation::new(100_000_000, next()),
            passport: Permutation::new(100_000_000, next()),
            org: Permutation::new(100_000_000, next()),
            org_new: Permutation::new(31u64.pow(7), next()),
        }
    }

    /// 客户号 — the 10-digit customer number of a number index.
    pub(crate) fn cust_no(&self, number: u32) -> u64 {
        CUST_NO_BASE + self.cust.apply(u64::from(number))
    }

    /// 交易流水号 — digits of the `seq`-th transaction of a number (prefix `T`, 12 digits).
    pub(crate) fn txn_id(&self, number: u32, seq: u64) -> u64 {
        self.txn.apply(u64::from(number) * PER_NUMBER_CAP + seq)
    }

    /// Digits of an event id (prefix `EV`, 12 digits).
    pub(crate) fn event_id(&self, number: u32, seq: u64) -> u64 {
        self.event.apply(u64::from(number) * PER_NUMBER_CAP + seq)
    }

    /// Digits of an interaction id (prefix `SR`, 10 digits).
    pub(crate) fn interaction_id(&self, number: u32, seq: u64) -> u64 {
        self.interaction
            .apply(u64::from(number) * INTERACTIONS_CAP + seq)
    }

    /// The 8 digits after the 3-digit prefix of a mobile number; `version` 0 is a person's
    /// current number, 1 an old one, 2 a company landline's extension block.
    pub(crate) fn mobile_body(&self, person: u32, version: u32) -> u64 {
        self.mobile
            .apply((u64::from(person) * 4 + u64::from(version)) % 100_000_000)
    }

    /// 8 digits of a passport number (`E` + 8 digits).
    pub(crate) fn passport(&self, person: u32) -> u64 {
        self.passport.apply(u64::from(person) % 100_000_000)
    }

    /// 组织机构代码 — the 9-character organisation code of a company (GB 11714: 8 digits and
    /// a check character), for companies registered before the credit-code reform.
    pub(crate) fn org_code(&self, company: u32) -> String {
        let body = format!("{:08}", self.org.apply(u64::from(company) % 100_000_000));
        const W: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = body
            .bytes()
            .zip(W)
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        let c = match 11 - sum % 11 {
            10 => 'X',
            11 => '0',
            d => char::from(b'0' + d as u8),
        };
        format!("{body}{c}")
    }

    /// The 9-character organisation part of a credit code issued after 2015 (`MA` + 7).
    pub(crate) fn org_code_new(&self, company: u32) -> String {
        let mut v = self.org_new.apply(u64::from(company) % 31u64.pow(7));
        let alphabet = portrait_types::uscc::ALPHABET;
        let mut tail = [b'0'; 7];
        for slot in tail.iter_mut().rev() {
            *slot = alphabet[(v % 31) as usize];
            v /= 31;
        }
        format!("MA{}", std::str::from_utf8(&tail).expect("ASCII"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn permutations_are_bijections() {
        for domain in [1u64, 2, 3, 17, 1000, 4096, 5000] {
            let p = Permutation::new(domain, 99);
            let seen: HashSet<u64> = (0..domain).map(|x| p.apply(x)).collect();
            assert_eq!(seen.len() as u64, domain);
            assert!(seen.iter().all(|&y| y < domain));
        }
    }

    #[test]
    fn customer_numbers_have_ten_digits() {
        let k = Keys::new(1, 5000);
        assert!((0..5000).all(|i| k.cust_no(i).to_string().len() == 10));
    }

    #[test]
    fn org_codes_have_nine_characters_from_the_credit_code_alphabet() {
        let k = Keys::new(1, 10);
        for c in 0..50 {
            for code in [k.org_code(c), k.org_code_new(c)] {
                assert_eq!(code.len(), 9);
                assert!(
                    code.bytes()
                        .all(|b| portrait_types::uscc::ALPHABET.contains(&b)),
                    "{code}"
                );
            }
        }
    }
}

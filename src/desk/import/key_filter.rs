//! A Bloom filter of the authentication codes and identifier keys that existed before an import,
//! so that the rows of a large file whose keys are certainly new skip the database look-up.
//! A "maybe" is always confirmed in the database, so a false positive costs one look-up and
//! changes no outcome.

use std::hash::{BuildHasher as _, RandomState};

use crate::storage::{StoreError, Tx};

/// Below this many rows the look-ups are cheaper than reading every existing key.
pub(super) const WORTHWHILE_ROWS: u64 = 20_000;

pub(super) struct KeyFilter {
    bits: Vec<u64>,
    hasher: RandomState,
}

const PROBES: u64 = 4;

impl KeyFilter {
    /// Reads every existing key once (about ten bits per key: ~1 % false positives).
    pub(super) fn of_existing_keys(tx: &Tx<'_>) -> Result<Self, StoreError> {
        let keys = tx.count_all_tokens()?.saturating_mul(2).max(64);
        let words = usize::try_from(keys.saturating_mul(10) / 64 + 1).unwrap_or(usize::MAX);
        let mut filter = Self {
            bits: vec![0; words],
            hasher: RandomState::new(),
        };
        tx.each_token_key(&mut |code, identifier_key| {
            filter.insert(code);
            if let Some(key) = identifier_key {
                filter.insert(key);
            }
        })?;
        Ok(filter)
    }

    fn positions(&self, key: &str) -> impl Iterator<Item = usize> + use<> {
        let first = self.hasher.hash_one((0u8, key));
        let second = self.hasher.hash_one((1u8, key)) | 1;
        let size = (self.bits.len() as u64) * 64;
        (0..PROBES).map(move |i| {
            usize::try_from(first.wrapping_add(i.wrapping_mul(second)) % size).unwrap_or(0)
        })
    }

    fn insert(&mut self, key: &str) {
        for bit in self.positions(key).collect::<Vec<_>>() {
            self.bits[bit / 64] |= 1 << (bit % 64);
        }
    }

    /// `false` only when `key` certainly did not exist before the import.
    pub(super) fn may_contain(&self, key: &str) -> bool {
        self.positions(key)
            .all(|bit| self.bits[bit / 64] & (1 << (bit % 64)) != 0)
    }
}

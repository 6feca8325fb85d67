//! Bloom filters of the keys that exist in the database (authentication codes and identifier
//! keys before an import; participant and account numbers, including those the import creates),
//! so that the rows of a large file whose keys are certainly new skip the database look-up.
//! A "maybe" is always confirmed in the database, so a false positive costs one look-up and
//! changes no outcome.

use std::hash::{BuildHasher as _, RandomState};

use crate::domain::OwnerKind;
use crate::storage::{OwnerFilter, StoreError, Tx};

/// Below this many rows the look-ups are cheaper than reading every existing key.
pub(super) const WORTHWHILE_ROWS: u64 = 20_000;

pub(super) struct KeyFilter {
    bits: Vec<u64>,
    hasher: RandomState,
}

const PROBES: u64 = 4;

impl KeyFilter {
    /// An empty filter for about `keys` keys (ten bits per key: ~1 % false positives).
    fn for_keys(keys: u64) -> Self {
        let words = usize::try_from(keys.max(64).saturating_mul(10) / 64 + 1).unwrap_or(usize::MAX);
        Self {
            bits: vec![0; words],
            hasher: RandomState::new(),
        }
    }

    /// Reads every existing authentication code and identifier key once.
    pub(super) fn of_existing_keys(tx: &Tx<'_>) -> Result<Self, StoreError> {
        let mut filter = Self::for_keys(tx.count_all_tokens()?.saturating_mul(2));
        tx.each_token_key(&mut |code, identifier_key| {
            filter.insert(code);
            if let Some(key) = identifier_key {
                filter.insert(key);
            }
        })?;
        Ok(filter)
    }

    /// The bits of `key`: one keyed 64-bit hash, split into two for double hashing.
    fn positions(&self, key: &str) -> impl Iterator<Item = usize> + use<> {
        let hash = self.hasher.hash_one(key);
        let first = hash;
        let second = hash.rotate_left(32) | 1;
        let size = (self.bits.len() as u64) * 64;
        (0..PROBES).map(move |i| {
            usize::try_from(first.wrapping_add(i.wrapping_mul(second)) % size).unwrap_or(0)
        })
    }

    /// Reads every existing participant or account number once, leaving room for `new` more:
    /// the numbers of the owners the import creates, which [`KeyFilter::insert`] adds.
    pub(super) fn of_owner_numbers(
        tx: &Tx<'_>,
        kind: OwnerKind,
        new: u64,
    ) -> Result<Self, StoreError> {
        let mut filter = Self::for_keys(
            tx.count_owners(kind, &OwnerFilter::default())?
                .saturating_add(new),
        );
        tx.each_owner_number(kind, &mut |number| filter.insert(number))?;
        Ok(filter)
    }

    pub(super) fn insert(&mut self, key: &str) {
        for bit in self.positions(key) {
            self.bits[bit / 64] |= 1 << (bit % 64);
        }
    }

    /// [`KeyFilter::may_contain`] of `filter`; without a filter, every key may be there.
    pub(super) fn may_hold(filter: Option<&Self>, key: &str) -> bool {
        filter.is_none_or(|filter| filter.may_contain(key))
    }

    /// `false` only when `key` is certainly not in the database.
    pub(super) fn may_contain(&self, key: &str) -> bool {
        self.positions(key)
            .all(|bit| self.bits[bit / 64] & (1 << (bit % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_inserted_key_may_be_there_and_few_others_seem_to_be() {
        let mut filter = KeyFilter::for_keys(10_000);
        for n in 0..10_000 {
            filter.insert(&format!("CARD-{n}"));
        }
        assert!((0..10_000).all(|n| filter.may_contain(&format!("CARD-{n}"))));
        let false_positives = (0..10_000)
            .filter(|n| filter.may_contain(&format!("OTHER-{n}")))
            .count();
        assert!(
            false_positives < 300,
            "{false_positives} false positives in 10,000"
        );
    }
}

//! Realistic, deterministic sample data for trying the desk, screenshots and benchmarks.

use sha2::{Digest as _, Sha256};

use super::{Desk, DeskError};
use crate::domain::{Alphabet, Secret, TokenState, identifier_key};
use crate::storage::NewToken;

const FIRST_NAMES: &[&str] = &[
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "John",
    "Hedy",
    "Edsger",
    "Radia",
    "Donald",
    "Katherine",
    "Tim",
    "Joan",
    "Niklaus",
    "Sophie",
    "Bjarne",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "McCarthy",
    "Lamarr",
    "Dijkstra",
    "Perlman",
    "Knuth",
    "Johnson",
    "Berners-Lee",
    "Clarke",
    "Wirth",
    "Wilson",
    "Stroustrup",
];
const COMPANIES: &[&str] = &[
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Wingtip",
    "Litware",
    "Proseware",
    "Adatum",
];

/// What [`Desk::fill_demo_data`] added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub accounts: u64,
    pub participants: u64,
    pub tokens: u64,
}

/// A deterministic code of `length` characters of `alphabet` for sample number `n`.
fn demo_code(n: u64, length: usize) -> String {
    let characters = Alphabet::Unambiguous.characters();
    let digest = Sha256::digest(n.to_le_bytes());
    digest
        .iter()
        .cycle()
        .take(length)
        .map(|byte| characters[usize::from(*byte) % characters.len()])
        .collect()
}

impl Desk {
    /// Adds `participants` participants (two per account) and `tokens` tokens in one transaction:
    /// one token per participant first, then some account tokens, the rest unassigned, in a mix
    /// of states. The same counts always give the same data on an empty database.
    pub fn fill_demo_data(
        &mut self,
        tokens: u64,
        participants: u64,
    ) -> Result<DemoSummary, DeskError> {
        let hasher = self.hasher.clone();
        // One hash of a secret nobody knows: demo identifiers exist, but cannot be used to sign in.
        let mut unknown = [0u8; 24];
        crate::domain::random::fill(&mut unknown).map_err(crate::domain::HashError::from)?;
        let unusable_hash = hasher.hash(&Secret::new(format!("{unknown:?}")))?;
        let accounts = participants.div_ceil(2);
        // Pending codes expire as a real one issued now would.
        let valid_hours = i64::from(
            self.effective_definition()?
                .settings
                .verification
                .valid_hours,
        );
        let expires_at = super::timestamp(self.now() + chrono::Duration::hours(valid_hours));
        self.store.set_cache_kib(256 * 1024)?;
        self.change(|tx, audit| {
            let definition = tx.effective_definition()?.ok_or_else(|| {
                DeskError::refused("there is no Effective definition; activate one first")
            })?;
            let mut account_ids = Vec::with_capacity(usize::try_from(accounts).unwrap_or(0));
            for n in 0..accounts {
                let number = format!("ACR{:010}", tx.next_counter("account")?);
                let name = format!(
                    "{} {}",
                    COMPANIES[(n as usize) % COMPANIES.len()],
                    ["Ltd", "Inc", "GmbH", "SA"][(n as usize / 8) % 4]
                );
                account_ids.push(tx.insert_account(
                    &number,
                    &format!("{name} {}", n + 1),
                    None,
                    audit.at,
                    audit.clerk,
                )?);
            }
            let mut participant_ids =
                Vec::with_capacity(usize::try_from(participants).unwrap_or(0));
            for n in 0..participants {
                let number = format!("RP{:010}", tx.next_counter("participant")?);
                let name = format!(
                    "{} {}",
                    FIRST_NAMES[(n as usize) % FIRST_NAMES.len()],
                    LAST_NAMES[(n as usize / 3) % LAST_NAMES.len()]
                );
                let account = account_ids[(n / 2) as usize];
                participant_ids.push(tx.insert_participant(
                    &number,
                    &name,
                    account,
                    &audit.at[..10],
                    None,
                    audit.at,
                    audit.clerk,
                )?);
            }
            let first_number = tx.advance_counter("token", tokens)?;
            for n in 0..tokens {
                let number = format!("AT{:010}", first_number + n);
                let code = demo_code(n, 12);
                let participant = participant_ids.get(n as usize).copied();
                let account = if participant.is_none() && n % 10 == 3 {
                    account_ids
                        .get((n as usize / 10) % account_ids.len().max(1))
                        .copied()
                } else {
                    None
                };
                let identifier = participant.map(|_| {
                    format!(
                        "{}.{}{}@example.com",
                        FIRST_NAMES[(n as usize) % FIRST_NAMES.len()].to_lowercase(),
                        LAST_NAMES[(n as usize / 3) % LAST_NAMES.len()].to_lowercase(),
                        n + 1
                    )
                });
                let state = match n % 23 {
                    7 if participant.is_none() && account.is_none() => TokenState::NotEffective,
                    11 => TokenState::PendingVerification,
                    _ => TokenState::Effective,
                };
                let key = identifier.as_deref().map(identifier_key);
                tx.insert_token(&NewToken {
                    number: &number,
                    definition_id: definition.id,
                    authentication_code: &code,
                    identifier: identifier.as_deref(),
                    identifier_key: key.as_deref(),
                    pass_code_hash: identifier.as_ref().map(|_| unusable_hash.as_str()),
                    verification_code_hash: (state == TokenState::PendingVerification)
                        .then_some(unusable_hash.as_str()),
                    verification_expires_at: (state == TokenState::PendingVerification)
                        .then_some(expires_at.as_str()),
                    state,
                    participant_id: participant,
                    account_id: account,
                    import_batch_id: None,
                    at: audit.at,
                    by: audit.clerk,
                })?;
            }
            let details = format!(
                "demo data: {accounts} accounts, {participants} participants, {tokens} tokens"
            );
            audit.record(tx, "demo.fill", "database", "", details)?;
            Ok(DemoSummary {
                accounts,
                participants,
                tokens,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_codes_are_deterministic_and_unambiguous() {
        assert_eq!(demo_code(5, 12), demo_code(5, 12));
        assert_ne!(demo_code(5, 12), demo_code(6, 12));
        assert!(demo_code(1, 12).chars().all(|c| !"01OIL".contains(c)));
    }
}

//! Secrets (pass codes, verification codes) and the argon2id hashes stored instead of them.

use std::fmt;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use zeroize::Zeroizing;

use super::random;

/// A pass code or verification code in clear. Never stored, logged or shown: `Debug` and
/// `Display` are redacted, and the memory is wiped when it is dropped.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(text: impl Into<String>) -> Self {
        Self(Zeroizing::new(text.into()))
    }

    /// The secret in clear. Call sites are the few places that must see it: hashing, checking,
    /// and showing a generated secret once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Hashing or checking failed for a reason other than a wrong secret.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("the stored hash is damaged")]
    DamagedHash,
    #[error("the secret could not be hashed: {0}")]
    Hashing(String),
    #[error(transparent)]
    Random(#[from] random::RandomSourceError),
}

/// Hashes and checks secrets with argon2id. Production uses at least the crate's defaults
/// (m=19456 KiB, t=2, p=1; R8); tests pass cheap parameters.
#[derive(Clone, Debug)]
pub struct SecretHasher {
    params: Params,
    /// A fixed hash to verify against when an identifier is unknown, so that a failed
    /// authentication takes as long whether or not the identifier exists. Made on first use:
    /// a hash costs tens of milliseconds that start-up should not pay.
    dummy_hash: std::sync::Arc<std::sync::OnceLock<String>>,
}

impl Default for SecretHasher {
    fn default() -> Self {
        Self::with_params(Params::DEFAULT)
    }
}

impl SecretHasher {
    pub fn with_params(params: Params) -> Self {
        Self {
            params,
            dummy_hash: std::sync::Arc::default(),
        }
    }

    fn dummy_hash(&self) -> &str {
        self.dummy_hash.get_or_init(|| {
            Self::hash_with_salt(
                &self.params,
                b"unknown identifier",
                b"tokendesk-dummy-salt",
                &mut Vec::new(),
            )
            .unwrap_or_default()
        })
    }

    /// The cheapest parameters argon2 accepts. For tests only.
    pub fn cheap_for_tests() -> Self {
        let params = Params::new(Params::MIN_M_COST, 1, 1, None).unwrap_or(Params::DEFAULT);
        Self::with_params(params)
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Memory for [`Self::hash_reusing`], sized for these parameters.
    pub fn memory(&self) -> Vec<Block> {
        vec![Block::default(); self.params.block_count()]
    }

    /// Returns a salted argon2id hash in PHC form (`$argon2id$v=19$…`).
    pub fn hash(&self, secret: &Secret) -> Result<String, HashError> {
        self.hash_reusing(secret, &mut Vec::new())
    }

    /// Like [`Self::hash`], reusing `memory` between calls (bulk imports hash on worker threads).
    pub fn hash_reusing(
        &self,
        secret: &Secret,
        memory: &mut Vec<Block>,
    ) -> Result<String, HashError> {
        let mut salt = [0u8; 16];
        random::fill(&mut salt)?;
        Self::hash_with_salt(&self.params, secret.expose().as_bytes(), &salt, memory)
    }

    fn hash_with_salt(
        params: &Params,
        secret: &[u8],
        salt: &[u8],
        memory: &mut Vec<Block>,
    ) -> Result<String, HashError> {
        let failed = |err: &dyn fmt::Display| HashError::Hashing(err.to_string());
        if memory.len() != params.block_count() {
            *memory = vec![Block::default(); params.block_count()];
        }
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
        argon2
            .hash_password_into_with_memory(secret, salt, &mut output, memory.as_mut_slice())
            .map_err(|e| failed(&e))?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(params).map_err(|e| failed(&e))?,
            salt: Some(Salt::new(salt).map_err(|e| failed(&e))?),
            hash: Some(Output::new(&output).map_err(|e| failed(&e))?),
        };
        Ok(hash.to_string())
    }

    /// Whether `secret` matches `stored`. The parameters inside the stored hash are used, so
    /// old hashes keep verifying after the defaults are raised.
    pub fn matches(&self, secret: &Secret, stored: &str) -> Result<bool, HashError> {
        use argon2::password_hash::PasswordVerifier as _;
        let parsed = PasswordHash::new(stored).map_err(|_| HashError::DamagedHash)?;
        match Argon2::default().verify_password(secret.expose().as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
            Err(_) => Err(HashError::DamagedHash),
        }
    }

    /// Spends the time of one verification without a stored hash (unknown identifiers).
    pub fn waste_one_verification(&self, secret: &Secret) {
        let _ = self.matches(secret, self.dummy_hash());
    }

    /// Whether `stored` was made with weaker parameters than the current ones.
    pub fn is_weaker_than_current(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        let Ok(old) = Params::try_from(&parsed) else {
            return false;
        };
        old.m_cost() < self.params.m_cost()
            || old.t_cost() < self.params.t_cost()
            || old.p_cost() < self.params.p_cost()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_or_display() {
        let secret = Secret::new("4711");
        assert!(!format!("{secret:?} {secret}").contains("4711"));
    }

    #[test]
    fn r8_hash_is_argon2id_and_verifies() {
        let hasher = SecretHasher::cheap_for_tests();
        let hash = hasher.hash(&Secret::new("4711")).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(!hash.contains("4711"));
        assert!(hasher.matches(&Secret::new("4711"), &hash).unwrap());
        assert!(!hasher.matches(&Secret::new("4712"), &hash).unwrap());
        assert!(hasher.matches(&Secret::new("4711"), "not a hash").is_err());
    }

    #[test]
    fn r8_production_parameters_are_at_least_the_minimum() {
        let hasher = SecretHasher::default();
        assert!(
            hasher.params().m_cost() >= 19_456
                && hasher.params().t_cost() >= 2
                && hasher.params().p_cost() >= 1
        );
    }

    #[test]
    fn hashes_are_salted_and_memory_is_reused() {
        let hasher = SecretHasher::cheap_for_tests();
        let mut memory = hasher.memory();
        let first = hasher
            .hash_reusing(&Secret::new("same"), &mut memory)
            .unwrap();
        let second = hasher
            .hash_reusing(&Secret::new("same"), &mut memory)
            .unwrap();
        assert_ne!(first, second);
        assert!(hasher.matches(&Secret::new("same"), &second).unwrap());
    }

    #[test]
    fn unknown_identifiers_cost_a_verification_with_the_current_parameters() {
        // The dummy hash must use the same parameters as real ones, or timing would tell.
        let hasher = SecretHasher::default();
        let real = hasher.hash(&Secret::new("1234")).unwrap();
        let params_of = |phc: &str| phc.split('$').nth(3).map(str::to_owned);
        assert_eq!(params_of(hasher.dummy_hash()), params_of(&real));
        assert!(
            !hasher
                .matches(&Secret::new("unknown identifier"), &real)
                .unwrap()
        );
    }

    #[test]
    fn weaker_hashes_are_recognised() {
        let cheap = SecretHasher::cheap_for_tests();
        let hash = cheap.hash(&Secret::new("1234")).unwrap();
        let stronger = SecretHasher::with_params(Params::new(64, 2, 1, None).unwrap());
        assert!(stronger.is_weaker_than_current(&hash));
        assert!(!cheap.is_weaker_than_current(&hash));
    }
}

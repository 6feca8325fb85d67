//! Errors of the use cases. Each `Display` is one sentence the clerk can act on.

use crate::domain::definition::GenerationError;
use crate::domain::{HashError, LifecycleError, ValidationError};
use crate::storage::StoreError;

/// Why an authentication or verification failed (R50–R52). Audited, never with the secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    UnknownAuthCode,
    UnknownIdentifier,
    WrongPassCode { attempts_left: Option<u32> },
    WrongVerificationCode { attempts_left: Option<u32> },
    VerificationExpired,
    NowLocked,
    Locked,
    NotEffective { state: &'static str },
}

impl std::fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let left = |left: &Option<u32>| match left {
            Some(1) => " (1 attempt left before the token locks)".to_owned(),
            Some(n) => format!(" ({n} attempts left before the token locks)"),
            None => String::new(),
        };
        match self {
            Self::UnknownAuthCode => write!(f, "no token has this authentication code"),
            Self::UnknownIdentifier => write!(f, "no token has this identifier"),
            Self::WrongPassCode { attempts_left } => {
                write!(f, "the pass code is wrong{}", left(attempts_left))
            }
            Self::WrongVerificationCode { attempts_left } => {
                write!(f, "the verification code is wrong{}", left(attempts_left))
            }
            Self::VerificationExpired => {
                write!(f, "the verification code has expired; issue a new one")
            }
            Self::NowLocked => write!(
                f,
                "the code was wrong and the token is now locked; a clerk can unlock it with a reason"
            ),
            Self::Locked => write!(
                f,
                "the token is locked; a clerk can unlock it with a reason"
            ),
            Self::NotEffective { state } => write!(f, "the token is {state}, so it cannot be used"),
        }
    }
}

/// What can go wrong in a use case.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Lifecycle(#[from] LifecycleError),
    #[error("authentication failed: {0}")]
    AuthenticationFailed(AuthFailure),
    #[error("{0}")]
    Generation(#[from] GenerationError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Hash(#[from] HashError),
    #[error("{0}")]
    File(String),
}

impl DeskError {
    pub fn refused(text: impl Into<String>) -> Self {
        Self::Refused(text.into())
    }

    pub fn not_found(what: &str, key: &str) -> Self {
        Self::NotFound(format!("there is no {what} {key}"))
    }

    /// The exit status of the command line (SPEC §9): 1 refused, 3 file or database error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Store(_) | Self::Hash(_) | Self::File(_) => 3,
            _ => 1,
        }
    }

    /// The message as a sentence: capital first letter, final full stop.
    pub fn sentence(&self) -> String {
        sentence(&self.to_string())
    }
}

/// Turns a clause into a sentence: capital first letter, final full stop, one line (control
/// characters echoed from a file, such as line breaks, are shown escaped, e.g. `\n`).
pub fn sentence(text: &str) -> String {
    let text: String = text
        .trim()
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect();
    let text = text.as_str();
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// One sentence for an I/O error, without the operating system's error number.
pub fn describe_io_error(err: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match err.kind() {
        K::NotFound => "the file or folder does not exist".to_owned(),
        K::PermissionDenied => "permission denied; choose a place you may write to".to_owned(),
        K::AlreadyExists => "the file already exists".to_owned(),
        K::StorageFull => "the disk is full; free some space and try again".to_owned(),
        K::IsADirectory => "that is a folder, not a file".to_owned(),
        K::InvalidData => "the file is not valid UTF-8 text".to_owned(),
        _ => {
            let text = err.to_string();
            text.split(" (os error").next().unwrap_or(&text).to_owned()
        }
    }
}

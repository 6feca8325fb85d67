//! The command line (SPEC §9): clap definitions and the glue from arguments to the desk.
//!
//! Standard output is machine-friendly (JSON or CSV); messages go to standard error.
//! Exit status: 0 success; 1 rejected rows, refused action or failed authentication;
//! 2 usage error; 3 file or database error.

use std::io::Write as _;

use crate::desk::DeskError;

/// Exit status of a command (SPEC §9).
pub mod exit {
    pub const SUCCESS: u8 = 0;
    pub const REFUSED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const FILE_OR_DATABASE: u8 = 3;
}

/// A command that failed: its exit status and one sentence for the clerk.
#[derive(Debug)]
pub struct CliError {
    pub exit: u8,
    pub message: String,
}

impl CliError {
    pub fn new(exit: u8, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: crate::desk::error_sentence(&message.into()),
        }
    }

    /// A file that could not be read or written, named in the sentence.
    pub fn file(path: &std::path::Path, err: &std::io::Error) -> Self {
        Self::new(
            exit::FILE_OR_DATABASE,
            format!(
                "{}: {}",
                path.display(),
                crate::desk::describe_io_error(err)
            ),
        )
    }
}

impl From<DeskError> for CliError {
    fn from(err: DeskError) -> Self {
        Self {
            exit: err.exit_code(),
            message: err.sentence(),
        }
    }
}

/// What a command returns: its exit status on success (0, or 1 for e.g. rejected rows).
pub type CliResult = Result<u8, CliError>;

/// Writes `value` as pretty JSON and a newline to standard output.
pub fn print_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|err| CliError::new(exit::FILE_OR_DATABASE, err.to_string()))?;
    write_stdout(&format!("{text}\n"))
}

/// Writes text to standard output; a closed pipe is not an error.
pub fn write_stdout(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::new(
            exit::FILE_OR_DATABASE,
            format!("standard output could not be written: {err}"),
        )),
        _ => Ok(()),
    }
}

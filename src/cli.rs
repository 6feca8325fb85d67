//! The command line (SPEC §9): clap definitions and the glue from arguments to the desk.
//!
//! Standard output is machine-friendly (JSON or CSV); messages go to standard error.
//! Exit status: 0 success; 1 rejected rows, refused action or failed authentication;
//! 2 usage error; 3 file or database error.

mod commands;
pub mod export;
mod import;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::desk::{Desk, DeskError};
pub use commands::{AccountCommand, DefinitionCommand, ParticipantCommand, TokenCommand};
pub use import::{BatchCommand, ImportArgs};

/// Token Desk: manage customer access tokens. With no command, opens the window.
#[derive(Debug, Parser)]
#[command(name = "tokendesk", version, about)]
pub struct Cli {
    /// The database file (default: the platform data directory).
    #[arg(long, global = true, env = "TOKENDESK_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Who is working (default: the operating-system login name).
    #[arg(long, global = true, value_name = "NAME")]
    pub clerk: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The headless commands (SPEC §9).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Token definitions: list, show, add from JSON, activate, export.
    Definition {
        #[command(subcommand)]
        command: DefinitionCommand,
    },
    /// Accounts receivable.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Rewards participants.
    Participant {
        #[command(subcommand)]
        command: ParticipantCommand,
    },
    /// Access tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Checks credentials: an authentication code, or an identifier with the pass code on standard input.
    Authenticate(commands::AuthenticateArgs),
    /// Fills the database with realistic sample data.
    DemoData(commands::DemoDataArgs),
    /// Applies one action to a list of tokens read from standard input (token numbers,
    /// authentication codes or identifiers, one per line), as the Reports panel's bulk actions do.
    Bulk(commands::BulkArgs),
    /// Imports tokens from a CSV file in one transaction (SPEC §7).
    Import(ImportArgs),
    /// Import batches: list, undo.
    Batch {
        #[command(subcommand)]
        command: BatchCommand,
    },
    /// Exports tokens as CSV (SPEC §8).
    Export {
        #[command(subcommand)]
        command: export::ExportCommand,
    },
    /// Reports as CSV (SPEC §8).
    Report {
        #[command(subcommand)]
        command: export::ReportCommand,
    },
}

impl Cli {
    pub fn database_path(&self) -> PathBuf {
        self.db
            .clone()
            .unwrap_or_else(crate::desk::default_database_path)
    }

    pub fn clerk_name(&self) -> String {
        self.clerk
            .clone()
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(crate::desk::default_clerk)
    }
}

/// Parses the arguments and runs the command (or the window); never panics on bad input.
pub fn main_entry() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                exit::USAGE
            } else {
                exit::SUCCESS
            });
        }
    };
    let outcome = match &cli.command {
        None => open_window(&cli),
        Some(command) => run_command(&cli, command),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("tokendesk: {}", err.message);
            ExitCode::from(err.exit)
        }
    }
}

fn open_window(cli: &Cli) -> CliResult {
    crate::app::run_window(cli.database_path(), cli.clerk_name())
        .map(|()| exit::SUCCESS)
        .map_err(|message| CliError::new(exit::FILE_OR_DATABASE, message))
}

fn run_command(cli: &Cli, command: &Command) -> CliResult {
    let mut desk = Desk::open(&cli.database_path(), &cli.clerk_name())?;
    match command {
        Command::Definition { command } => commands::definition(&mut desk, command),
        Command::Account { command } => commands::account(&mut desk, command),
        Command::Participant { command } => commands::participant(&mut desk, command),
        Command::Token { command } => commands::token(&mut desk, command),
        Command::Authenticate(args) => commands::authenticate(&mut desk, args),
        Command::DemoData(args) => commands::demo_data(&mut desk, args),
        Command::Bulk(args) => commands::bulk(&mut desk, args),
        Command::Import(args) => import::run(&mut desk, args),
        Command::Batch { command } => import::run_batch(&mut desk, command),
        Command::Export { command } => export::run_export(&mut desk, command),
        Command::Report { command } => export::run_report(&mut desk, command),
    }
}

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

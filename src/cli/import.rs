//! `tokendesk import FILE …` and `tokendesk batch list | undo ID` (SPEC §7, §9).
//!
//! Standard output gets one JSON object (the summary, or the batch list); the report and the
//! credentials go to the files named by `--report` and `--credentials`; progress and messages
//! go to standard error.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use super::{CliError, CliResult, exit, print_json};
use crate::desk::Desk;
use crate::desk::import::{ImportJob, ImportOptions, ImportProgress, ImportResult, ImportSummary};

/// Arguments of `tokendesk import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file: UTF-8, a header row, delimiter `,` `;` or TAB.
    pub file: PathBuf,
    /// Check everything and report what would happen; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply the valid rows even when others are rejected (they are reported).
    #[arg(long)]
    pub skip_invalid: bool,
    /// Create participants and accounts the file names but the database does not know.
    #[arg(long)]
    pub create_owners: bool,
    /// Import a file that was imported before (same SHA-256).
    #[arg(long)]
    pub allow_repeat: bool,
    /// Write the report (one line per data row) to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write generated pass codes and verification codes to this CSV file (owner-only).
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
}

/// Subcommands of `tokendesk batch`.
#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Lists import batches, newest first, as JSON.
    List,
    /// Removes a batch's tokens and the owners it created, if none changed since (R45).
    Undo { id: i64 },
}

/// How many rejected rows are echoed on standard error when there is no `--report` file.
const REJECTED_SHOWN: usize = 20;

/// A progress line on standard error, redrawn at most a few times a second.
struct ProgressLine {
    started: Instant,
    last_drawn: Option<Instant>,
    is_shown: bool,
}

impl ProgressLine {
    fn draw(&mut self, progress: ImportProgress) {
        if !self.is_shown {
            return;
        }
        let now = Instant::now();
        if self
            .last_drawn
            .is_some_and(|last| now - last < Duration::from_millis(200))
        {
            return;
        }
        self.last_drawn = Some(now);
        let fraction = if progress.total_bytes == 0 {
            1.0
        } else {
            progress.done_bytes as f64 / progress.total_bytes as f64
        };
        let elapsed = self.started.elapsed().as_secs_f64();
        let left = if progress.total_bytes > 0 && fraction >= 1.0 {
            // The last writes, a large import's index builds and the commit are still to come.
            ", every row read; finishing…".to_owned()
        } else if fraction > 0.0 {
            format!(
                ", about {:.0} s left",
                elapsed * (1.0 - fraction) / fraction
            )
        } else {
            String::new()
        };
        eprint!(
            "\rImporting: {} rows, {:.0} %{left}    ",
            progress.rows,
            fraction * 100.0
        );
    }

    fn clear(&self) {
        if self.is_shown && self.last_drawn.is_some() {
            eprint!("\r{:70}\r", "");
        }
    }
}

/// Runs `tokendesk import`.
pub fn run(desk: &mut Desk, args: &ImportArgs) -> CliResult {
    let job = ImportJob {
        database: desk.path().to_owned(),
        clerk: desk.clerk().to_owned(),
        file: args.file.clone(),
        options: ImportOptions {
            dry_run: args.dry_run,
            skip_invalid: args.skip_invalid,
            create_owners: args.create_owners,
            allow_repeat: args.allow_repeat,
        },
        report: args.report.clone(),
        credentials: args.credentials.clone(),
    };
    let mut line = ProgressLine {
        started: Instant::now(),
        last_drawn: None,
        is_shown: std::io::stderr().is_terminal(),
    };
    let mut progress = |progress: ImportProgress| line.draw(progress);
    // Ctrl+C ends the process; SQLite then rolls the open transaction back by itself.
    let never = || false;
    let result = job.run_with(desk, &mut progress, &never);
    line.clear();
    let ImportResult { summary, rejected } =
        result.map_err(|err| CliError::new(err.exit_code(), err.sentence()))?;
    if args.report.is_none() {
        for row in rejected.iter().take(REJECTED_SHOWN) {
            eprintln!("line {}: {}", row.line, row.message);
        }
    }
    eprintln!("{}", describe(&summary, args));
    print_json(&serde_json::json!({
        "batch": summary.batch_id,
        "applied": summary.applied,
        "dry_run": summary.dry_run,
        "created": summary.created,
        "unchanged": summary.unchanged,
        "rejected": summary.rejected,
        "generated_secrets": summary.generated_secrets,
        "sha256": summary.sha256,
    }))?;
    Ok(if summary.rejected > 0 {
        exit::REFUSED
    } else {
        exit::SUCCESS
    })
}

/// One or two sentences on what the import did.
fn describe(summary: &ImportSummary, args: &ImportArgs) -> String {
    let created = if summary.applied {
        "created"
    } else {
        "would be created"
    };
    let counts = format!(
        "{} {created}, {} unchanged, {} rejected",
        summary.created, summary.unchanged, summary.rejected
    );
    let report = match &args.report {
        Some(path) => format!(" The report is in {}.", path.display()),
        None if summary.rejected > REJECTED_SHOWN as u64 => {
            format!(
                " Only the first {REJECTED_SHOWN} rejected lines are shown; use --report FILE for all."
            )
        }
        None => String::new(),
    };
    let secrets = match (&args.credentials, summary.generated_secrets) {
        (Some(path), n) if n > 0 => format!(
            " Generated secrets of {n} tokens are in {}; keep it safe.",
            path.display()
        ),
        _ => String::new(),
    };
    if summary.dry_run {
        format!("Dry run, nothing was changed: {counts}.{report}")
    } else if summary.applied {
        let batch = summary
            .batch_id
            .map_or(String::new(), |id| format!(" as batch {id}"));
        format!("Imported{batch}: {counts}.{report}{secrets}")
    } else {
        format!(
            "Nothing was imported because {} ({counts}); fix them, or use --skip-invalid to import the valid rows.{report}",
            if summary.rejected == 1 {
                "1 row was rejected".to_owned()
            } else {
                format!("{} rows were rejected", summary.rejected)
            }
        )
    }
}

/// Runs `tokendesk batch list | undo ID`.
pub fn run_batch(desk: &mut Desk, command: &BatchCommand) -> CliResult {
    match command {
        BatchCommand::List => {
            print_json(&desk.batches()?)?;
            Ok(exit::SUCCESS)
        }
        BatchCommand::Undo { id } => {
            let counts = desk.undo_batch(*id)?;
            eprintln!(
                "Batch {id} undone: removed {} tokens, {} participants and {} accounts.",
                counts.tokens, counts.participants, counts.accounts
            );
            print_json(&serde_json::json!({
                "batch": id,
                "tokens": counts.tokens,
                "participants": counts.participants,
                "accounts": counts.accounts,
            }))?;
            Ok(exit::SUCCESS)
        }
    }
}

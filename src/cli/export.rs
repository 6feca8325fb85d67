//! `tokendesk export tokens` and `tokendesk report summary` (SPEC §8, §9): CSV to a file or to
//! standard output; the one-line result goes to standard error.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{CliError, CliResult, exit};
use crate::desk::export::{ExportOptions, ExportSummary};
use crate::desk::output::OutputFile;
use crate::desk::{Desk, DeskError, TokenFilter};
use crate::domain::TokenState;

/// `tokendesk export …`.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum ExportCommand {
    /// Writes the tokens as CSV (SPEC §8); no secret is ever part of it.
    Tokens(ExportTokensArgs),
}

/// `tokendesk report …`.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Writes the summary report as CSV: tokens by definition and state, owners with and
    /// without an Effective token, tokens per month, pending verification, locked.
    Summary(ReportSummaryArgs),
}

/// Runs `tokendesk export …`.
pub fn run_export(desk: &mut Desk, command: &ExportCommand) -> CliResult {
    match command {
        ExportCommand::Tokens(args) => run_export_tokens(desk, args),
    }
}

/// Runs `tokendesk report …`.
pub fn run_report(desk: &mut Desk, command: &ReportCommand) -> CliResult {
    match command {
        ReportCommand::Summary(args) => run_report_summary(desk, args),
    }
}

/// `export tokens`: the tokens a filter shows, as CSV.
#[derive(Clone, Debug, clap::Args)]
pub struct ExportTokensArgs {
    /// Only tokens in this state: effective, not_effective or pending_verification (repeatable).
    #[arg(long = "state", value_name = "S", value_parser = parse_state)]
    pub states: Vec<TokenState>,
    /// Only tokens of the definition with this alternative code (or number).
    #[arg(long, value_name = "CODE")]
    pub definition: Option<String>,
    /// Excel-friendly: start the file with a UTF-8 byte order mark.
    #[arg(long)]
    pub excel: bool,
    /// Where to write the CSV (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `report summary`: the summary report as CSV.
#[derive(Clone, Debug, clap::Args)]
pub struct ReportSummaryArgs {
    /// Excel-friendly: start the file with a UTF-8 byte order mark.
    #[arg(long)]
    pub excel: bool,
    /// Where to write the CSV (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

fn parse_state(text: &str) -> Result<TokenState, String> {
    TokenState::parse(text).ok_or_else(|| {
        format!("unknown state {text:?}; use effective, not_effective or pending_verification")
    })
}

/// Standard output that remembers whether the reader went away (`| head`): not an error.
struct Stdout {
    inner: BufWriter<std::io::StdoutLock<'static>>,
    is_closed: bool,
}

impl Stdout {
    fn new() -> Self {
        Self {
            inner: BufWriter::new(std::io::stdout().lock()),
            is_closed: false,
        }
    }

    fn watch<T>(&mut self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(err) = &result
            && err.kind() == std::io::ErrorKind::BrokenPipe
        {
            self.is_closed = true;
        }
        result
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let result = self.inner.write(buf);
        self.watch(result)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let result = self.inner.flush();
        self.watch(result)
    }
}

/// Runs `work` against `--out FILE` or standard output, turning write failures into one sentence
/// that names the file (exit 3). A partial file is removed.
fn with_output<T>(
    out: Option<&Path>,
    work: impl FnOnce(&mut dyn Write) -> Result<T, DeskError>,
) -> Result<Option<T>, CliError> {
    match out {
        Some(path) => {
            // Written beside `path` and moved into place only when complete: a failure never
            // leaves half a file, nor destroys an older file of that name.
            let mut file = OutputFile::create(path)?;
            let value = work(&mut file).map_err(|err| match err {
                DeskError::File(message) => CliError::new(
                    exit::FILE_OR_DATABASE,
                    format!("{}: {message}", path.display()),
                ),
                other => other.into(),
            })?;
            file.commit()?;
            Ok(Some(value))
        }
        None => {
            let mut stdout = Stdout::new();
            match work(&mut stdout) {
                Ok(value) => Ok(Some(value)),
                Err(_) if stdout.is_closed => Ok(None),
                Err(DeskError::File(message)) => Err(CliError::new(
                    exit::FILE_OR_DATABASE,
                    format!("standard output: {message}"),
                )),
                Err(other) => Err(other.into()),
            }
        }
    }
}

/// `tokendesk export tokens [--state S]... [--definition CODE] [--excel] [--out FILE]`.
pub fn run_export_tokens(desk: &mut Desk, args: &ExportTokensArgs) -> CliResult {
    let mut filter = TokenFilter {
        states: args.states.clone(),
        ..TokenFilter::default()
    };
    if let Some(code) = &args.definition {
        filter.definition_id = Some(desk.definition(code)?.id);
    }
    let options = ExportOptions {
        excel_bom: args.excel,
    };
    let summary: Option<ExportSummary> = with_output(args.out.as_deref(), |out| {
        desk.export_tokens(&filter, options, out, &mut |_| {}, &|| false)
    })?;
    if let Some(summary) = summary {
        eprintln!(
            "Exported {} tokens ({} bytes, SHA-256 {}).",
            summary.rows, summary.bytes, summary.sha256
        );
    }
    Ok(exit::SUCCESS)
}

/// `tokendesk report summary [--excel] [--out FILE]`.
pub fn run_report_summary(desk: &mut Desk, args: &ReportSummaryArgs) -> CliResult {
    let options = ExportOptions {
        excel_bom: args.excel,
    };
    let report = with_output(args.out.as_deref(), |out| {
        desk.export_summary_report(options, out)
    })?;
    if let Some(report) = report {
        eprintln!("Summary report of {} tokens written.", report.total_tokens);
    }
    Ok(exit::SUCCESS)
}

//! Where an import's results go: the report (one line per data row) and the credentials file
//! with generated secrets (R44). Both are streamed, so memory does not grow with the file.

use std::fs::File;
use std::io::{Seek as _, SeekFrom};
use std::path::Path;

use crate::domain::Secret;

/// What happened to one data row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowOutcome {
    Created,
    Unchanged,
    Rejected,
    /// A dry run, or a default-mode import that was not applied because another row was rejected.
    WouldCreate,
}

impl RowOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Unchanged => "unchanged",
            Self::Rejected => "rejected",
            Self::WouldCreate => "would_create",
        }
    }
}

/// One line of the report: `line,outcome,token_number,authentication_code,message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    /// The file line where the record starts; the header is line 1.
    pub line: u64,
    pub outcome: RowOutcome,
    pub token_number: String,
    pub authentication_code: String,
    pub message: String,
}

/// The header of the report CSV.
pub const REPORT_HEADER: [&str; 5] = [
    "line",
    "outcome",
    "token_number",
    "authentication_code",
    "message",
];

/// The header of the credentials CSV (R44).
pub const CREDENTIALS_HEADER: [&str; 5] = [
    "token_number",
    "authentication_code",
    "identifier",
    "pass_code",
    "verification_code",
];

/// Receives the report rows in line order.
pub trait ReportSink {
    /// Forgets the rows received so far: the import starts its report again.
    fn restart(&mut self) -> std::io::Result<()>;
    fn row(&mut self, row: &ReportRow) -> std::io::Result<()>;
    /// Called once at the end, before the import commits.
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One line of the credentials file: the secrets generated for one created token.
#[derive(Debug)]
pub struct CredentialRow<'a> {
    pub token_number: &'a str,
    pub authentication_code: &'a str,
    pub identifier: Option<&'a str>,
    pub pass_code: Option<&'a Secret>,
    pub verification_code: Option<&'a Secret>,
}

/// Receives generated secrets (R44). Only an applying import writes here.
pub trait CredentialsSink {
    /// Forgets what was written so far (the import was restarted or not applied).
    fn restart(&mut self) -> std::io::Result<()>;
    fn row(&mut self, row: &CredentialRow<'_>) -> std::io::Result<()>;
    /// Makes the secrets durable; called before the import commits, so a committed token
    /// never lacks its generated secrets.
    fn finish(&mut self) -> std::io::Result<()>;
}

/// A report kept in memory, for tests and for the window's grid of rejected rows.
#[derive(Clone, Debug, Default)]
pub struct MemoryReport {
    pub rows: Vec<ReportRow>,
}

impl ReportSink for MemoryReport {
    fn restart(&mut self) -> std::io::Result<()> {
        self.rows.clear();
        Ok(())
    }

    fn row(&mut self, row: &ReportRow) -> std::io::Result<()> {
        self.rows.push(row.clone());
        Ok(())
    }
}

/// Generated secrets kept in memory: for tests only, since a secret must reach a file the clerk keeps.
#[derive(Debug, Default)]
pub struct MemoryCredentials {
    /// token number, authentication code, identifier, pass code, verification code.
    pub rows: Vec<[String; 5]>,
    pub is_finished: bool,
}

impl CredentialsSink for MemoryCredentials {
    fn restart(&mut self) -> std::io::Result<()> {
        self.rows.clear();
        Ok(())
    }

    fn row(&mut self, row: &CredentialRow<'_>) -> std::io::Result<()> {
        self.rows.push([
            row.token_number.to_owned(),
            row.authentication_code.to_owned(),
            row.identifier.unwrap_or_default().to_owned(),
            row.pass_code
                .map(|s| s.expose().to_owned())
                .unwrap_or_default(),
            row.verification_code
                .map(|s| s.expose().to_owned())
                .unwrap_or_default(),
        ]);
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.is_finished = true;
        Ok(())
    }
}

/// A CSV file written as rows arrive; `restart` truncates it.
pub struct CsvFile {
    writer: csv::Writer<File>,
    header: [&'static str; 5],
}

impl CsvFile {
    /// Creates (or truncates) `path` for the report.
    pub fn create_report(path: &Path) -> std::io::Result<Self> {
        Self::report_into(File::create(path)?)
    }

    /// A report written into an open (perhaps anonymous) file.
    pub fn report_into(file: File) -> std::io::Result<Self> {
        Self::new(file, REPORT_HEADER)
    }

    /// Creates (or truncates) `path` for generated secrets, readable and writable by its owner only.
    pub fn create_credentials(path: &Path) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options.open(path)?;
        #[cfg(unix)]
        {
            // An existing file keeps its old mode when opened; narrow it before any secret is written.
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        Self::new(file, CREDENTIALS_HEADER)
    }

    fn new(file: File, header: [&'static str; 5]) -> std::io::Result<Self> {
        let mut writer = csv::WriterBuilder::new().from_writer(file);
        writer.write_record(header)?;
        Ok(Self { writer, header })
    }

    fn truncate(&mut self) -> std::io::Result<()> {
        self.writer.flush()?;
        let mut file = self.writer.get_ref();
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        self.writer.write_record(self.header)?;
        Ok(())
    }

    fn write(&mut self, fields: [&str; 5]) -> std::io::Result<()> {
        self.writer.write_record(fields)?;
        Ok(())
    }

    fn flush_and_sync(&mut self) -> std::io::Result<()> {
        self.writer.flush()?;
        self.writer.get_ref().sync_all()
    }
}

impl ReportSink for CsvFile {
    fn restart(&mut self) -> std::io::Result<()> {
        self.truncate()
    }

    fn row(&mut self, row: &ReportRow) -> std::io::Result<()> {
        let line = row.line.to_string();
        self.write([
            &line,
            row.outcome.as_str(),
            &row.token_number,
            &crate::desk::export::guard_cell(&row.authentication_code),
            &crate::desk::export::guard_cell(&row.message),
        ])
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

impl CredentialsSink for CsvFile {
    fn restart(&mut self) -> std::io::Result<()> {
        self.truncate()
    }

    fn row(&mut self, row: &CredentialRow<'_>) -> std::io::Result<()> {
        self.write([
            row.token_number,
            &crate::desk::export::guard_cell(row.authentication_code),
            &crate::desk::export::guard_cell(row.identifier.unwrap_or_default()),
            row.pass_code.map(Secret::expose).unwrap_or_default(),
            row.verification_code
                .map(Secret::expose)
                .unwrap_or_default(),
        ])
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.flush_and_sync()
    }
}

//! The import file: where it comes from, its SHA-256 and UTF-8 check, the delimiter and the header.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader, Read};
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::ImportError;

/// Where the CSV comes from. It is read twice at most: once to check UTF-8 and compute the
/// SHA-256, once (rarely twice) for the rows, so nothing of it is held in memory.
#[derive(Clone, Copy, Debug)]
pub enum ImportSource<'a> {
    File(&'a Path),
    /// Bytes already in memory (tests, pasted text), with a name for messages and the batch.
    Bytes {
        name: &'a str,
        bytes: &'a [u8],
    },
}

impl<'a> ImportSource<'a> {
    /// The file name recorded with the batch.
    pub fn name(&self) -> String {
        match self {
            Self::File(path) => path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            Self::Bytes { name, .. } => (*name).to_owned(),
        }
    }

    pub(super) fn open(&self) -> Result<Box<dyn Read + 'a>, ImportError> {
        match *self {
            Self::File(path) => {
                let file = std::fs::File::open(path).map_err(|err| ImportError::io(path, &err))?;
                Ok(Box::new(BufReader::with_capacity(1 << 16, file)))
            }
            Self::Bytes { bytes, .. } => Ok(Box::new(bytes)),
        }
    }

    pub(super) fn io_error(&self, err: &std::io::Error) -> ImportError {
        match self {
            Self::File(path) => ImportError::io(path, err),
            Self::Bytes { name, .. } => ImportError::io(Path::new(name), err),
        }
    }
}

/// What the first read of the file found out.
#[derive(Clone, Debug)]
pub(super) struct FileFacts {
    pub sha256: String,
    pub total_bytes: u64,
    /// Physical lines, header included: an upper bound of the rows, to size tables once.
    pub lines: u64,
    /// Whether the header names a `pass_code` column (a first look, to size the page cache).
    pub has_pass_codes: bool,
    pub delimiter: u8,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads the whole file once: SHA-256, UTF-8 validity line by line, and the delimiter of the
/// header line. Nothing of the file is kept.
pub(super) fn inspect(source: &ImportSource<'_>) -> Result<FileFacts, ImportError> {
    let mut reader = BufReader::with_capacity(1 << 16, source.open()?);
    let mut hasher = Sha256::new();
    let mut line = Vec::with_capacity(256);
    let mut line_number = 0u64;
    let mut total_bytes = 0u64;
    let mut delimiter = None;
    let mut has_pass_codes = false;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|err| source.io_error(&err))?;
        if read == 0 {
            break;
        }
        line_number += 1;
        total_bytes += read as u64;
        hasher.update(&line);
        let text = if line_number == 1 {
            line.strip_prefix(BOM).unwrap_or(&line)
        } else {
            &line
        };
        if std::str::from_utf8(text).is_err() {
            return Err(ImportError::NotUtf8 { line: line_number });
        }
        if delimiter.is_none() {
            let detected = detect_delimiter(text);
            delimiter = Some(detected);
            has_pass_codes = String::from_utf8_lossy(text)
                .split(char::from(detected))
                .any(|name| {
                    name.trim()
                        .trim_matches('"')
                        .trim()
                        .eq_ignore_ascii_case("pass_code")
                });
        }
    }
    let Some(delimiter) = delimiter else {
        return Err(ImportError::Empty);
    };
    let sha256 = hex(&hasher.finalize());
    Ok(FileFacts {
        sha256,
        total_bytes,
        lines: line_number,
        has_pass_codes,
        delimiter,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The delimiter the header line uses most outside quotes: `,`, `;` or TAB (`,` when none).
pub(super) fn detect_delimiter(header: &[u8]) -> u8 {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut in_quotes = false;
    for &byte in header {
        if byte == b'"' {
            in_quotes = !in_quotes;
        } else if !in_quotes && let Some(entry) = counts.iter_mut().find(|(d, _)| *d == byte) {
            entry.1 += 1;
        }
    }
    counts
        .iter()
        .max_by_key(|(_, count)| *count)
        .filter(|(_, count)| *count > 0)
        .map_or(b',', |(d, _)| *d)
}

/// The rows of the file, with their line numbers tracked.
pub(super) type RowReader<'a> = csv::Reader<LineTracker<Box<dyn Read + 'a>>>;

/// Opens the rows for reading: the BOM skipped, the delimiter set, quoting per RFC 4180.
pub(super) fn csv_reader<'a>(
    source: &ImportSource<'a>,
    delimiter: u8,
) -> Result<RowReader<'a>, ImportError> {
    let mut reader = BufReader::with_capacity(1 << 16, source.open()?);
    let starts_with_bom = reader
        .fill_buf()
        .map_err(|err| source.io_error(&err))?
        .starts_with(BOM);
    if starts_with_bom {
        reader.consume(BOM.len());
    }
    let boxed: Box<dyn Read + 'a> = Box::new(reader);
    let mut tracked = LineTracker::new(boxed);
    if starts_with_bom {
        tracked.sha256.update(BOM);
    }
    Ok(csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(tracked))
}

/// Passes the bytes through and remembers where the line breaks are, so that a record's byte
/// offset gives its line. (The csv crate places a record after CRLF or blank lines at the first
/// line break it skipped.) Only the breaks not yet passed by the reader are kept.
pub(super) struct LineTracker<R> {
    inner: R,
    read_bytes: u64,
    /// Of every byte read, so the caller can tell the file did not change since it was inspected.
    sha256: Sha256,
    /// Offsets of `\r` (false) and `\n` (true) bytes read but not yet passed.
    breaks: RefCell<VecDeque<(u64, bool)>>,
    passed_lines: Cell<u64>,
}

impl<R> LineTracker<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            sha256: Sha256::new(),
            read_bytes: 0,
            breaks: RefCell::new(VecDeque::new()),
            passed_lines: Cell::new(0),
        }
    }

    /// The SHA-256 of everything read so far, in hex: after the last row, that of the file.
    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256.clone().finalize())
    }

    /// The line of the record the csv reader places at `byte`: line breaks before it, and the
    /// run of line breaks starting at it (skipped, not part of the record), are counted.
    pub fn line_at(&self, byte: u64) -> u64 {
        let mut breaks = self.breaks.borrow_mut();
        let mut next = byte;
        while let Some(&(at, is_newline)) = breaks.front() {
            if at > next {
                break;
            }
            if at == next {
                next += 1;
            }
            if is_newline {
                self.passed_lines.set(self.passed_lines.get() + 1);
            }
            breaks.pop_front();
        }
        self.passed_lines.get() + 1
    }
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.sha256.update(&buf[..read]);
        let breaks = self.breaks.get_mut();
        for (index, byte) in buf[..read].iter().enumerate() {
            if *byte == b'\n' || *byte == b'\r' {
                breaks.push_back((self.read_bytes + index as u64, *byte == b'\n'));
            }
        }
        self.read_bytes += read as u64;
        Ok(read)
    }
}

/// A column of the import file (SPEC §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Column {
    ParticipantNumber,
    ParticipantName,
    AccountNumber,
    AccountName,
    Identifier,
    PassCode,
    AuthenticationCode,
    State,
    /// A column of the token export that says nothing an import needs (R40).
    Informational,
}

/// Export columns that are read past, so an exported file imports back as `unchanged` rows.
const INFORMATIONAL: &[&str] = &[
    "token_number",
    "definition",
    "created_at",
    "created_by",
    "verified_at",
    "last_used_at",
    "locked",
    "import_batch",
];

impl Column {
    pub(super) fn parse(name: &str) -> Option<Self> {
        let name = name.trim().to_lowercase();
        let column = match name.as_str() {
            "participant_number" => Self::ParticipantNumber,
            "participant_name" => Self::ParticipantName,
            "account_number" => Self::AccountNumber,
            "account_name" => Self::AccountName,
            "identifier" => Self::Identifier,
            "pass_code" => Self::PassCode,
            "authentication_code" => Self::AuthenticationCode,
            "state" => Self::State,
            other if INFORMATIONAL.contains(&other) => Self::Informational,
            _ => return None,
        };
        Some(column)
    }
}

/// Where each known column sits in a record.
#[derive(Clone, Debug, Default)]
pub(super) struct Columns {
    pub count: usize,
    pub participant_number: Option<usize>,
    pub participant_name: Option<usize>,
    pub account_number: Option<usize>,
    pub account_name: Option<usize>,
    pub identifier: Option<usize>,
    pub pass_code: Option<usize>,
    pub authentication_code: Option<usize>,
    pub state: Option<usize>,
}

impl Columns {
    /// Matches the header: case-insensitive, surrounding spaces ignored. An unknown, unnamed
    /// or repeated column stops the import before any row is applied (R40).
    pub fn from_header(header: &csv::StringRecord) -> Result<Self, ImportError> {
        let mut columns = Self {
            count: header.len(),
            ..Self::default()
        };
        let mut seen: Vec<String> = Vec::new();
        for (index, raw) in header.iter().enumerate() {
            let name = raw.trim();
            if name.is_empty() {
                return Err(ImportError::Header(format!(
                    "column {} of the header row has no name; every column needs one",
                    index + 1
                )));
            }
            let Some(column) = Column::parse(name) else {
                return Err(ImportError::UnknownColumn(shorten(name, 60)));
            };
            let lower = name.to_lowercase();
            if seen.contains(&lower) {
                return Err(ImportError::Header(format!(
                    "the column {lower} appears twice in the header row"
                )));
            }
            seen.push(lower);
            let slot = match column {
                Column::ParticipantNumber => &mut columns.participant_number,
                Column::ParticipantName => &mut columns.participant_name,
                Column::AccountNumber => &mut columns.account_number,
                Column::AccountName => &mut columns.account_name,
                Column::Identifier => &mut columns.identifier,
                Column::PassCode => &mut columns.pass_code,
                Column::AuthenticationCode => &mut columns.authentication_code,
                Column::State => &mut columns.state,
                Column::Informational => continue,
            };
            *slot = Some(index);
        }
        Ok(columns)
    }
}

/// At most `max` characters of `text`, with an ellipsis when cut; for echoing values in messages.
pub(super) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_is_the_most_frequent_outside_quotes() {
        assert_eq!(detect_delimiter(b"a,b,c\n"), b',');
        assert_eq!(detect_delimiter(b"a;b;c\r\n"), b';');
        assert_eq!(detect_delimiter(b"a\tb\tc"), b'\t');
        assert_eq!(detect_delimiter(b"\"a;b;c\",d"), b',');
        assert_eq!(detect_delimiter(b"authentication_code"), b',');
    }

    /// The line each record starts on, as the import reports it.
    fn record_lines(text: &[u8]) -> Vec<u64> {
        let source = ImportSource::Bytes {
            name: "t.csv",
            bytes: text,
        };
        let mut reader = csv_reader(&source, b',').unwrap();
        let mut record = csv::StringRecord::new();
        let mut lines = Vec::new();
        while reader.read_record(&mut record).unwrap() {
            let byte = record.position().map_or(0, csv::Position::byte);
            lines.push(reader.get_ref().line_at(byte));
        }
        lines
    }

    #[test]
    fn records_start_on_their_own_line_whatever_the_line_endings() {
        assert_eq!(record_lines(b"h\na\nb\n"), [1, 2, 3]);
        assert_eq!(record_lines(b"h\r\na\r\nb\r\n"), [1, 2, 3]);
        assert_eq!(record_lines(b"\xEF\xBB\xBFh\r\n\r\na\r\n\n\nb"), [1, 3, 6]);
        assert_eq!(
            record_lines(b"h\n\"x\ny\"\nb\r\n\"1\r\n2\r\n3\"\nc\n"),
            [1, 2, 4, 5, 8]
        );
    }

    #[test]
    fn shorten_cuts_long_values() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdef", 3), "abc…");
    }
}

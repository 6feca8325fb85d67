//! The first rows of a file, as the import would read them: for the window's import wizard.

use std::io::{BufRead as _, BufReader};

use super::ImportError;
use super::source::{self, Columns, ImportSource};

/// The header and first rows of an import file, before anything is checked against the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportPreview {
    pub delimiter: char,
    /// The header's column names as written.
    pub columns: Vec<String>,
    /// Why the header would stop the import (an unknown column, say), if it would.
    pub header_problem: Option<String>,
    /// `(line, fields)` of the first data rows.
    pub rows: Vec<(u64, Vec<String>)>,
}

/// Reads the header and up to `max_rows` rows of `source`; only as much of the file as that needs.
pub fn preview(source: ImportSource<'_>, max_rows: usize) -> Result<ImportPreview, ImportError> {
    let mut first_line = Vec::new();
    BufReader::new(source.open()?)
        .read_until(b'\n', &mut first_line)
        .map_err(|err| source.io_error(&err))?;
    if first_line.is_empty() {
        return Err(ImportError::Empty);
    }
    let header = first_line
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&first_line);
    let delimiter = source::detect_delimiter(header);
    let mut reader = source::csv_reader(&source, delimiter)?;
    let mut record = csv::ByteRecord::new();
    let mut read =
        |record: &mut csv::ByteRecord| -> Result<Option<(u64, Vec<String>)>, ImportError> {
            match reader.read_byte_record(record) {
                Ok(false) => Ok(None),
                Ok(true) => {
                    let line = reader
                        .get_ref()
                        .line_at(record.position().map_or(0, csv::Position::byte));
                    let fields = record
                        .iter()
                        .map(|field| std::str::from_utf8(field).map(str::to_owned))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| ImportError::NotUtf8 { line })?;
                    Ok(Some((line, fields)))
                }
                Err(err) => Err(ImportError::Csv {
                    line: err.position().map_or(0, csv::Position::line),
                    reason: err.to_string(),
                }),
            }
        };
    let Some((_, columns)) = read(&mut record)? else {
        return Err(ImportError::Empty);
    };
    let header_problem = Columns::from_header(&csv::StringRecord::from(columns.clone()))
        .err()
        .map(|err| err.sentence());
    let mut rows = Vec::new();
    while rows.len() < max_rows {
        match read(&mut record)? {
            Some((_, fields)) if fields.iter().all(|f| f.trim().is_empty()) => {}
            Some(row) => rows.push(row),
            None => break,
        }
    }
    Ok(ImportPreview {
        delimiter: char::from(delimiter),
        columns,
        header_problem,
        rows,
    })
}

//! A first look at an import file for the window's wizard: the detected delimiter, how each
//! header column will be read (R40), and the first rows. Reads only the start of the file; the
//! import itself checks the whole file again.

use std::io::Read as _;

use super::source::{BOM, Column, Columns, ImportSource, detect_delimiter, shorten};
use super::{ImportError, csv_error};
use crate::desk::Desk;
use crate::domain::DefinitionRecord;

/// Data rows shown in a preview.
pub const PREVIEW_ROWS: usize = 8;
/// The most of the file a preview reads.
const PREVIEW_BYTES: u64 = 256 * 1024;
/// Characters of one cell shown in a preview.
const PREVIEW_CELL_CHARS: usize = 60;

/// How the import reads a header column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnUse {
    /// A column the import uses (SPEC §7.1).
    Known,
    /// A column of the token export that the import reads past (R40).
    Ignored,
    /// A name the import does not know: it stops the import before any row is applied (R40).
    Unknown,
    /// A column without a name, or a name used twice: it stops the import too.
    Invalid,
}

/// One column of the header row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviewColumn {
    /// The name as the file spells it (trimmed).
    pub name: String,
    pub column_use: ColumnUse,
    /// Whether the column holds clear pass codes, which a preview never shows.
    pub is_secret: bool,
}

/// One data row of the preview.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviewRow {
    /// The file line where the record starts; the header is line 1.
    pub line: u64,
    /// The cells, shortened; pass codes are masked.
    pub cells: Vec<String>,
}

/// What the wizard shows before anything is checked against the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportPreview {
    /// The file name recorded with a batch.
    pub file_name: String,
    pub total_bytes: u64,
    pub delimiter: char,
    pub columns: Vec<PreviewColumn>,
    pub rows: Vec<PreviewRow>,
    /// Whether the file has rows beyond those shown.
    pub has_more_rows: bool,
    /// Why the import would stop at the header, as a sentence; nothing can be imported while set.
    pub problem: Option<String>,
    /// The alternative code of the Effective definition, which the rows will follow.
    pub definition_code: String,
    /// Whether the import generates pass codes or verification codes, so a credentials file
    /// must be chosen before it starts (R44).
    pub generates_secrets: bool,
}

impl ImportPreview {
    /// The delimiter as a clerk names it.
    pub fn delimiter_name(&self) -> &'static str {
        match self.delimiter {
            ';' => "semicolon (;)",
            '\t' => "TAB",
            _ => "comma (,)",
        }
    }
}

/// Whether importing under `definition` generates secrets that must go to a credentials file (R44).
pub(super) fn generates_secrets(definition: &DefinitionRecord) -> bool {
    definition.settings.pass_code.is_generated() || definition.settings.verification.required
}

impl Desk {
    /// Previews `source` for the window's import wizard: delimiter, column mapping, first rows,
    /// and whether the Effective definition generates secrets. Reads at most the first 256 KiB.
    pub fn import_preview(&self, source: &ImportSource<'_>) -> Result<ImportPreview, ImportError> {
        let definition = self.effective_definition()?;
        let mut preview = preview_source(source)?;
        preview.definition_code = definition.code.clone();
        preview.generates_secrets = generates_secrets(&definition);
        Ok(preview)
    }
}

/// Reads the start of `source`: the delimiter of the header line, the header's columns and the
/// first [`PREVIEW_ROWS`] rows.
pub fn preview_source(source: &ImportSource<'_>) -> Result<ImportPreview, ImportError> {
    let mut start = Vec::new();
    source
        .open()?
        .take(PREVIEW_BYTES)
        .read_to_end(&mut start)
        .map_err(|err| source.io_error(&err))?;
    let total_bytes = match source {
        ImportSource::File(path) => std::fs::metadata(path)
            .map_err(|err| ImportError::io(path, &err))?
            .len(),
        ImportSource::Bytes { bytes, .. } => bytes.len() as u64,
    };
    let is_cut = (start.len() as u64) < total_bytes;
    let body = start.strip_prefix(BOM).unwrap_or(&start);
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        // A character cut in two by the end of the preview is not the file's fault.
        Err(err) if is_cut && err.error_len().is_none() => {
            std::str::from_utf8(&body[..err.valid_up_to()]).unwrap_or_default()
        }
        Err(err) => {
            let line = body[..err.valid_up_to()]
                .iter()
                .filter(|byte| **byte == b'\n')
                .count() as u64
                + 1;
            return Err(ImportError::NotUtf8 { line });
        }
    };
    if text.trim().is_empty() {
        return Err(ImportError::Empty);
    }
    let header_line = text.split('\n').next().unwrap_or_default();
    let delimiter = detect_delimiter(header_line.as_bytes());
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    if !reader
        .read_record(&mut record)
        .map_err(|err| csv_error(&err))?
    {
        return Err(ImportError::Empty);
    }
    let columns = preview_columns(&record);
    let problem = header_problem(&record);
    let secret_columns: Vec<bool> = columns.iter().map(|column| column.is_secret).collect();
    let mut rows = Vec::new();
    let mut has_more_rows = false;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            // A record cut by the end of the preview; the rows shown so far stand.
            Err(_) if is_cut => {
                has_more_rows = true;
                break;
            }
            Err(err) => return Err(csv_error(&err)),
        }
        let is_last_in_view = reader.position().byte() >= text.len() as u64;
        if rows.len() == PREVIEW_ROWS || (is_cut && is_last_in_view) {
            has_more_rows = true;
            break;
        }
        let line = record.position().map_or(0, csv::Position::line);
        let cells = record
            .iter()
            .enumerate()
            .map(|(index, cell)| {
                if secret_columns.get(index).copied().unwrap_or(false) && !cell.trim().is_empty() {
                    "****".to_owned()
                } else {
                    shorten(cell.trim(), PREVIEW_CELL_CHARS)
                }
            })
            .collect();
        rows.push(PreviewRow { line, cells });
    }
    Ok(ImportPreview {
        file_name: source.name(),
        total_bytes,
        delimiter: char::from(delimiter),
        columns,
        rows,
        has_more_rows: has_more_rows || is_cut,
        problem,
        definition_code: String::new(),
        generates_secrets: false,
    })
}

fn preview_columns(header: &csv::StringRecord) -> Vec<PreviewColumn> {
    let mut seen: Vec<String> = Vec::new();
    header
        .iter()
        .map(|raw| {
            let name = raw.trim();
            let lower = name.to_lowercase();
            let parsed = Column::parse(name);
            let column_use = if name.is_empty() || seen.contains(&lower) {
                ColumnUse::Invalid
            } else {
                match parsed {
                    Some(Column::Informational) => ColumnUse::Ignored,
                    Some(_) => ColumnUse::Known,
                    None => ColumnUse::Unknown,
                }
            };
            seen.push(lower);
            PreviewColumn {
                name: shorten(name, PREVIEW_CELL_CHARS),
                column_use,
                is_secret: parsed == Some(Column::PassCode),
            }
        })
        .collect()
}

/// The header's problem as the import states it, in the future tense of a preview.
fn header_problem(header: &csv::StringRecord) -> Option<String> {
    if header.iter().all(|field| field.trim().is_empty()) {
        return Some(
            "The first line is blank; it must be the header row naming the columns.".to_owned(),
        );
    }
    match Columns::from_header(header) {
        Ok(_) => None,
        Err(ImportError::UnknownColumn(name)) => Some(format!(
            "The header row names an unknown column \"{name}\": the import would stop before applying any row. The first line must name the columns (participant_number, participant_name, account_number, account_name, identifier, pass_code, authentication_code, state); check the spelling."
        )),
        Err(err) => Some(err.sentence()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preview(text: &str) -> ImportPreview {
        preview_source(&ImportSource::Bytes {
            name: "t.csv",
            bytes: text.as_bytes(),
        })
        .unwrap()
    }

    #[test]
    fn semicolons_and_column_uses_are_detected() {
        let p = preview("identifier;pass_code;created_at;passcode\nada;1234;x;y\n");
        assert_eq!(p.delimiter, ';');
        let uses: Vec<ColumnUse> = p.columns.iter().map(|c| c.column_use).collect();
        assert_eq!(
            uses,
            [
                ColumnUse::Known,
                ColumnUse::Known,
                ColumnUse::Ignored,
                ColumnUse::Unknown
            ]
        );
        assert!(p.problem.unwrap().contains("\"passcode\""));
        assert_eq!(p.rows[0].line, 2);
        assert_eq!(p.rows[0].cells, ["ada", "****", "x", "y"]);
    }

    #[test]
    fn only_the_first_rows_are_kept() {
        let mut text = "state\n".to_owned();
        for _ in 0..20 {
            text.push_str("effective\n");
        }
        let p = preview(&text);
        assert_eq!(p.rows.len(), PREVIEW_ROWS);
        assert!(p.has_more_rows);
        assert!(p.problem.is_none());
    }

    #[test]
    fn bad_utf8_names_its_line() {
        let err = preview_source(&ImportSource::Bytes {
            name: "t.csv",
            bytes: b"state\neffective\n\xff\n",
        })
        .unwrap_err();
        assert!(matches!(err, ImportError::NotUtf8 { line: 3 }));
    }
}

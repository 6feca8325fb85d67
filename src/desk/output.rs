//! Output files written beside their final name and moved into place only when complete.
//!
//! A failed, cancelled or killed export therefore never leaves a partial file behind under the
//! clerk's chosen name, and never destroys an older file of that name. The temporary file is
//! readable by its owner only (exports hold identifiers), and is synced before the rename.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{DeskError, describe_io_error};

/// A file being written; [`OutputFile::commit`] puts it in place, dropping it discards it.
pub struct OutputFile {
    writer: BufWriter<tempfile::NamedTempFile>,
    path: PathBuf,
}

impl OutputFile {
    /// Starts writing what will become `path`.
    pub fn create(path: &Path) -> Result<Self, DeskError> {
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        if path.is_dir() {
            return Err(file_error(
                path,
                &std::io::Error::from(std::io::ErrorKind::IsADirectory),
            ));
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("export");
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".partial")
            .tempfile_in(folder)
            .map_err(|err| file_error(path, &err))?;
        Ok(Self {
            writer: BufWriter::new(temp),
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(self) -> Result<(), DeskError> {
        let path = self.path;
        let temp = self
            .writer
            .into_inner()
            .map_err(|err| file_error(&path, err.error()))?;
        temp.as_file()
            .sync_all()
            .map_err(|err| file_error(&path, &err))?;
        temp.persist(&path)
            .map_err(|err| file_error(&path, &err.error))?;
        Ok(())
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

fn file_error(path: &Path, err: &std::io::Error) -> DeskError {
    DeskError::File(format!("{}: {}", path.display(), describe_io_error(err)))
}

/// Creates `path` so that only its owner can read it, failing if it exists (secrets go there).
pub fn create_owner_only(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_appears_until_commit_and_an_older_file_survives_a_discard() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.csv");
        std::fs::write(&path, "older export").unwrap();
        let mut file = OutputFile::create(&path).unwrap();
        file.write_all(b"half an export").unwrap();
        drop(file);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "older export");
        let mut file = OutputFile::create(&path).unwrap();
        file.write_all(b"new export").unwrap();
        file.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new export");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn a_missing_folder_is_one_sentence() {
        let err = OutputFile::create(Path::new("/nonexistent-folder/x.csv"))
            .err()
            .unwrap();
        assert!(
            err.sentence().contains("does not exist"),
            "{}",
            err.sentence()
        );
    }
}

//! The rejects file: one CSV row (`line,id,reason,raw`) per rejected input
//! row, so a person can fix the rows and import just those again. Written
//! through [`crate::csv_safe`]: ids and raw rows are the user's text.

use super::Reject;
use crate::csv_safe::Writer;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Writes rejects to a CSV file, created only when the first reject arrives
/// so that a clean import leaves no file behind.
#[derive(Debug)]
pub struct RejectsWriter {
    path: PathBuf,
    out: Option<Writer<File>>,
    count: u64,
}

impl RejectsWriter {
    /// Prepare to write rejects to `path`. The file is not touched until the
    /// first [`write`](Self::write); a missing parent directory fails here,
    /// rather than after the import has been running for an hour.
    pub fn create(path: impl AsRef<Path>) -> io::Result<RejectsWriter> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("rejects directory {} does not exist", parent.display()),
                ));
            }
        }
        Ok(RejectsWriter {
            path,
            out: None,
            count: 0,
        })
    }

    /// Where rejects go (the file may not exist yet).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one reject, creating the file with its header on the first.
    pub fn write(&mut self, reject: &Reject) -> io::Result<()> {
        let out = match &mut self.out {
            Some(out) => out,
            None => {
                let mut out = Writer::from_path(&self.path)?;
                out.write_row(["line", "id", "reason", "raw"])?;
                self.out.insert(out)
            }
        };
        let line = reject.line.to_string();
        let id = reject.id.as_deref().unwrap_or_default();
        out.write_row([line.as_str(), id, &reject.reason, &reject.raw])?;
        self.count += 1;
        Ok(())
    }

    /// Flush and close; returns how many rejects were written.
    pub fn finish(mut self) -> io::Result<u64> {
        if let Some(out) = &mut self.out {
            out.flush()?;
        }
        Ok(self.count)
    }
}

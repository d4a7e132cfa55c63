//! A batch's output file, replaced whole: lines go to a hidden
//! `.<name>.partial` beside the target, renamed over it when the batch ends.
//! An interrupted run leaves the previous output intact and a reader never
//! sees half a file. The file replaced is let go on a background thread:
//! truncating or unlinking a large file whose pages the kernel is still
//! writing back waits for that I/O (15–20 ms for a 10,000-lead output here),
//! which the batch need not.
//!
//! A target that exists and is not a regular file (`/dev/stdout`, a FIFO)
//! is written in place.

use anyhow::Context;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Where the lines go until [`Output::commit`].
#[derive(Debug)]
pub struct Output {
    target: PathBuf,
    /// The hidden file written instead of the target (`None`: in place).
    partial: Option<PathBuf>,
}

impl Output {
    /// Open the file to write `target`'s lines to.
    pub fn create(target: &Path) -> anyhow::Result<(Output, BufWriter<File>)> {
        let in_place = std::fs::metadata(target).is_ok_and(|m| !m.is_file());
        let partial = (!in_place).then(|| partial_path(target)).flatten();
        let path = partial.as_deref().unwrap_or(target);
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let output = Output {
            target: target.to_path_buf(),
            partial,
        };
        Ok((output, BufWriter::new(file)))
    }

    /// Flush the lines and put them at the target.
    pub fn commit(self, mut writer: BufWriter<File>) -> anyhow::Result<()> {
        use std::io::Write;
        let shown = || format!("cannot write {}", self.target.display());
        writer.flush().with_context(shown)?;
        drop(writer);
        let Some(partial) = &self.partial else {
            return Ok(());
        };
        // Held open across the rename, the old file's pages are released when
        // this handle closes, off the batch's path.
        let previous = File::open(&self.target).ok();
        std::fs::rename(partial, &self.target).with_context(|| {
            format!(
                "cannot move {} to {}",
                partial.display(),
                self.target.display()
            )
        })?;
        if let Some(old) = previous {
            std::thread::spawn(move || drop(old));
        }
        Ok(())
    }
}

/// `.<name>.partial` in the target's directory.
fn partial_path(target: &Path) -> Option<PathBuf> {
    let name = target.file_name()?.to_str()?;
    Some(target.with_file_name(format!(".{name}.partial")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_target_is_replaced_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.jsonl");
        std::fs::write(&target, "old\n").unwrap();
        let (output, mut w) = Output::create(&target).unwrap();
        w.write_all(b"new\n").unwrap();
        w.flush().unwrap();
        // Until the commit, readers see the previous output whole.
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old\n");
        output.commit(w).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new\n");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no partial file left behind");
    }

    #[test]
    fn a_target_that_is_not_a_file_is_written_in_place() {
        let (output, w) = Output::create(Path::new("/dev/null")).unwrap();
        assert!(output.partial.is_none());
        output.commit(w).unwrap();
    }
}

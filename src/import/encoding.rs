//! Text encodings of lead files. A file is UTF-8 when all of it is; anything
//! else is taken for Windows-1252 (what Excel writes for "CSV" on Windows,
//! and a superset of Latin-1's printable characters), decided once per file
//! by [`detect`] before the first row is read.
//!
//! A Windows-1252 file's lines are transcoded one by one ([`decode_line`]);
//! a line that is valid UTF-8 by itself is kept as it is, so a file pasted
//! together from a UTF-8 and a Windows-1252 export reads every line right,
//! and no row that imported before transcoding existed reads differently.

use serde::Serialize;
use std::borrow::Cow;
use std::io::{self, Read};
use std::path::Path;

/// How a file's bytes are read as text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum Encoding {
    /// UTF-8; a row with bytes that are not UTF-8 is rejected.
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    /// Windows-1252: lines that are not UTF-8 are transcoded.
    #[serde(rename = "windows-1252")]
    Windows1252,
}

impl Encoding {
    /// The name people know it by.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Windows1252 => "Windows-1252",
        }
    }
}

/// What [`detect`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Detected {
    /// How to read the file.
    pub encoding: Encoding,
    /// The first line (1-based) that is not UTF-8, when one is not.
    pub first_bad_line: Option<u64>,
}

impl Detected {
    /// The warning to show once for a transcoded file, naming it.
    pub fn warning(&self, path: &Path) -> Option<String> {
        let line = self.first_bad_line?;
        Some(format!(
            "{}: not UTF-8 (first at line {line}); reading it as Windows-1252 \
             (Excel's \"CSV\" export); save it as \"CSV UTF-8\" to avoid this",
            path.display()
        ))
    }
}

/// Read the whole of `reader` and decide its encoding. Constant memory: the
/// bytes are checked a buffer at a time, and the scan stops at the first
/// byte that is not UTF-8.
pub fn detect(mut reader: impl Read) -> io::Result<Detected> {
    let mut buf = vec![0u8; 64 * 1024];
    // Bytes of a character cut by the end of the previous buffer.
    let mut carry = 0usize;
    let mut line: u64 = 1;
    loop {
        let n = match reader.read(&mut buf[carry..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let end = carry + n;
        let chunk = &buf[..end];
        let (valid, bad) = match std::str::from_utf8(chunk) {
            Ok(_) => (end, false),
            // An incomplete character at the end: read on, unless the file ends here.
            Err(e) if e.error_len().is_none() && n > 0 => (e.valid_up_to(), false),
            Err(e) => (e.valid_up_to(), true),
        };
        line += chunk[..valid].iter().filter(|b| **b == b'\n').count() as u64;
        if bad {
            return Ok(Detected {
                encoding: Encoding::Windows1252,
                first_bad_line: Some(line),
            });
        }
        if n == 0 {
            return Ok(Detected {
                encoding: Encoding::Utf8,
                first_bad_line: None,
            });
        }
        buf.copy_within(valid..end, 0);
        carry = end - valid;
    }
}

/// [`detect`] on a file.
pub fn detect_file(path: &Path) -> io::Result<Detected> {
    detect(std::fs::File::open(path)?)
}

/// One line as UTF-8 bytes: unchanged when it already is UTF-8 (or the file
/// is read as UTF-8), else transcoded from Windows-1252, which gives every
/// byte a character, so nothing is lost.
pub(crate) fn decode_line(encoding: Encoding, bytes: Vec<u8>) -> Vec<u8> {
    if encoding == Encoding::Utf8 || std::str::from_utf8(&bytes).is_ok() {
        return bytes;
    }
    match encoding_rs::WINDOWS_1252
        .decode_without_bom_handling(&bytes)
        .0
    {
        Cow::Owned(text) => text.into_bytes(),
        // Not reached (the bytes are not UTF-8), but the borrowed case is cheap.
        Cow::Borrowed(text) => text.as_bytes().to_vec(),
    }
}

//! Physical line reading shared by both formats: bytes (so bad UTF-8 only
//! spoils its own line), 1-based line numbers, a hard cap on what is kept
//! of any one line so a runaway line cannot exhaust memory, and the file's
//! encoding applied line by line (see `encoding.rs`).

use super::encoding::{decode_line, Encoding};
use std::io::{self, BufRead};

/// Longest line (without its terminator) that is imported; longer lines are rejected.
pub(crate) const MAX_LINE_BYTES: usize = 1 << 20;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One physical line.
#[derive(Debug)]
pub(crate) struct PhysLine {
    /// 1-based line number.
    pub number: u64,
    /// The line without `\n` / `\r\n`, at most [`MAX_LINE_BYTES`] of it
    /// as read, transcoded to UTF-8 when the file is Windows-1252.
    pub bytes: Vec<u8>,
    /// The full length as read, without the terminator, including what was not kept.
    pub len: u64,
}

impl PhysLine {
    /// True when the line is over the cap (and `bytes` holds only its start).
    pub fn overlong(&self) -> bool {
        self.len > MAX_LINE_BYTES as u64
    }

    /// True for empty or whitespace-only lines, which both formats skip.
    pub fn is_blank(&self) -> bool {
        !self.overlong() && self.bytes.iter().all(u8::is_ascii_whitespace)
    }
}

/// Reads physical lines from a buffered reader.
pub(crate) struct LineReader {
    inner: Box<dyn BufRead + Send>,
    encoding: Encoding,
    next_number: u64,
    done: bool,
}

impl LineReader {
    /// Wrap a reader; the first line read is line 1.
    pub fn new(inner: Box<dyn BufRead + Send>, encoding: Encoding) -> LineReader {
        LineReader {
            inner,
            encoding,
            next_number: 1,
            done: false,
        }
    }

    /// The number the next line read will get (for errors mid-file).
    pub fn next_number(&self) -> u64 {
        self.next_number
    }

    /// The next line, or `None` at end of input. Not `read_until`: that would
    /// buffer a line of any length, and we must stop keeping at the cap.
    pub fn read(&mut self) -> io::Result<Option<PhysLine>> {
        if self.done {
            return Ok(None);
        }
        let mut bytes = Vec::new();
        let mut len: u64 = 0;
        let mut saw_any = false;
        let mut last_byte = None;
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                self.done = true;
                if !saw_any {
                    return Ok(None);
                }
                break;
            }
            saw_any = true;
            let newline = buf.iter().position(|&b| b == b'\n');
            let content = &buf[..newline.unwrap_or(buf.len())];
            let room = MAX_LINE_BYTES.saturating_sub(bytes.len());
            bytes.extend_from_slice(&content[..content.len().min(room)]);
            len += content.len() as u64;
            if let Some(&b) = content.last() {
                last_byte = Some(b);
            }
            let used = newline.map_or(buf.len(), |i| i + 1);
            self.inner.consume(used);
            if newline.is_some() {
                break;
            }
        }
        // `\r\n` endings: the `\r` is part of the terminator, not the content.
        if last_byte == Some(b'\r') {
            len -= 1;
            if bytes.len() as u64 > len {
                bytes.pop();
            }
        }
        let number = self.next_number;
        self.next_number += 1;
        // UTF-16 ("Unicode text" from Excel) is not line-based bytes at all:
        // say what it is rather than read it as Windows-1252 garbage.
        if number == 1 && (bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF")) {
            self.done = true;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the file is UTF-16 (a byte-order mark says so); save it as CSV UTF-8",
            ));
        }
        // Spreadsheet exports often start with a byte-order mark; left in, it
        // would turn the `id` header into an unknown column.
        if number == 1 && bytes.starts_with(BOM) {
            bytes.drain(..BOM.len());
            len -= BOM.len() as u64;
        }
        // After the BOM: a UTF-8 BOM on a Windows-1252 file is still a BOM.
        // Windows-1252 is one byte per character and keeps ASCII as it is,
        // so quotes, commas and line ends mean the same after transcoding.
        let bytes = decode_line(self.encoding, bytes);
        Ok(Some(PhysLine { number, bytes, len }))
    }
}

/// The reason for rejecting an over-long line.
pub(crate) fn too_long(len: u64) -> String {
    format!("line is {len} bytes long, over the limit of {MAX_LINE_BYTES} bytes (1 MiB)")
}

//! `leadfall export`: every record (or one route's) from the running daemon,
//! as JSON lines or CSV with state columns, to stdout or a file. Streams:
//! nothing is held in memory, and `leadfall export | head` ends quietly.

use super::status::Connect;
use super::{render, Global};
use crate::client::ClientError;
use crate::export::ExportFormat;
use anyhow::Context;
use serde::Serialize;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

/// `export` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// `jsonl` (one stored record per line) or `csv` (value + `.state` column per field).
    #[arg(long, default_value_t = ExportFormat::Jsonl)]
    pub format: ExportFormat,
    /// Only records on this route.
    #[arg(long)]
    pub route: Option<String>,
    /// Output file [default: stdout]. Written whole or not at all.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Where the daemon is.
    #[command(flatten)]
    pub connect: Connect,
}

/// What `--json` prints when exporting to a file.
#[derive(Debug, Serialize)]
struct Exported<'a> {
    out: &'a std::path::Path,
    format: ExportFormat,
    bytes: u64,
}

/// Run `export`.
pub async fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let client = args.connect.client(g)?;
    let route = args.route.as_deref();
    let Some(path) = &args.out else {
        let mut out = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
        return match client.export_to(&mut out, args.format, route).await {
            Ok(_) => Ok(ExitCode::SUCCESS),
            // The reader closed the pipe (`| head`): that is what they wanted.
            Err(ClientError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Err(e.into()),
        };
    };
    // Write beside the target and rename at the end, so an interrupted export
    // never leaves a short file that looks complete.
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    let mut out = io::BufWriter::with_capacity(64 * 1024, tmp);
    let bytes = client.export_to(&mut out, args.format, route).await?;
    let tmp = out.into_inner().map_err(|e| e.into_error())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    if g.json {
        render::json(&Exported {
            out: path,
            format: args.format,
            bytes,
        })?;
    } else {
        println!(
            "exported {} ({bytes} bytes, {})",
            path.display(),
            args.format
        );
    }
    Ok(ExitCode::SUCCESS)
}

//! `leadfall init [DIR]`: write a commented starter configuration for the
//! real vendors (profile, scoring, routing, vendor definitions) where the
//! configuration search finds it, and say which keys to export.

use super::{render, starter, Global};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `init` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write (default: the user's config directory,
    /// `$XDG_CONFIG_HOME/leadfall` or `~/.config/leadfall`).
    pub dir: Option<PathBuf>,
    /// Store directory written into the config (default: `data` beside it,
    /// or `$XDG_DATA_HOME/leadfall` when writing to the user's config directory).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Replace files that exist.
    #[arg(long)]
    pub force: bool,
}

/// What `init` wrote, for `--json`.
#[derive(serde::Serialize)]
struct Written {
    config: PathBuf,
    files: Vec<PathBuf>,
    data_dir: PathBuf,
    key_variables: Vec<String>,
}

/// Run `init`.
pub fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let (dir, data_dir) = match &args.dir {
        Some(d) => (
            d.clone(),
            args.data_dir.clone().unwrap_or_else(|| "data".into()),
        ),
        None => {
            let d = super::search::user_config_dir()
                .context("no config directory: set HOME or XDG_CONFIG_HOME, or name a DIR")?;
            let data = args.data_dir.clone().or_else(super::search::user_data_dir);
            (d, data.unwrap_or_else(|| "data".into()))
        }
    };
    let files = starter::starter(&data_dir);
    let existing: Vec<_> = files
        .iter()
        .map(|(p, _)| dir.join(p))
        .filter(|p| p.exists())
        .collect();
    if !args.force && !existing.is_empty() {
        anyhow::bail!(
            "{} exists (and {} more): nothing written; pass --force to replace",
            existing[0].display(),
            existing.len() - 1
        );
    }
    let mut written = Vec::new();
    for (p, text) in &files {
        let path = dir.join(p);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    let config = dir.join("leadfall.toml");
    let keys = key_variables(&config)?;
    if g.json {
        render::json(&Written {
            config,
            files: written,
            data_dir,
            key_variables: keys,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("wrote {} files under {}", written.len(), dir.display());
    println!("config: {}", config.display());
    println!("store:  {}", resolve(&dir, &data_dir).display());
    println!();
    println!("Export the API keys of the vendors you pay for (any subset works; a step");
    println!("whose vendor has no key is skipped):");
    for k in &keys {
        println!("  export {k}=...");
    }
    println!();
    let flag = if args.dir.is_some() {
        format!(" --config {}", config.display())
    } else {
        String::new()
    };
    println!("Then: leadfall{flag} check    # which vendors are configured");
    println!("      leadfall{flag} serve    # the daemon; or `enrich FILE` in-process");
    Ok(ExitCode::SUCCESS)
}

/// The key variables the written configuration reads, in vendor order.
fn key_variables(config: &Path) -> anyhow::Result<Vec<String>> {
    let s = crate::config::load(config, &|_| None)
        .map_err(|e| anyhow::anyhow!("the starter does not load (a bug):\n{e}"))?;
    Ok(s.providers
        .iter()
        .filter_map(|p| p.missing_key_env.clone())
        .collect())
}

fn resolve(dir: &Path, data: &Path) -> PathBuf {
    if data.is_absolute() {
        data.to_path_buf()
    } else {
        dir.join(data)
    }
}

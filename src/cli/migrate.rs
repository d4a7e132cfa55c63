//! `leadfall migrate`: bring the PostgreSQL database named by `store` to the
//! current schema; `--from-sled DIR` then copies an embedded deployment into it
//! and checks every count on both sides.

use super::{render, Global};
use crate::config;
use crate::store::postgres::{copy_from_sled, CopyCounts, PgStore};
use crate::store::{Backend, Store};
use anyhow::Context;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

/// `migrate` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Copy this embedded store into the (empty) database: a data directory
    /// (holding `store/`) or the sled store directory itself. Stop its daemon first.
    #[arg(long, value_name = "DIR")]
    pub from_sled: Option<PathBuf>,
}

#[derive(Serialize)]
struct Outcome {
    database: String,
    from_version: i32,
    to_version: i32,
    applied: Vec<(i32, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    copied: Option<CopyCounts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    found: Option<CopyCounts>,
}

/// Run `migrate`.
pub fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let settings =
        config::load(&g.config, &config::process_env).map_err(|errs| anyhow::anyhow!("{errs}"))?;
    let Backend::Postgres(url) = &settings.store else {
        anyhow::bail!(
            "{}: store is not a postgres:// URL; `migrate` prepares a PostgreSQL database (sled needs none)",
            g.config.display()
        );
    };
    let pg = PgStore::connect(url)?;
    let report = pg.migrate().with_context(|| format!("migrating {url}"))?;
    let mut out = Outcome {
        database: url.to_string(),
        from_version: report.from,
        to_version: report.to,
        applied: report.applied,
        copied: None,
        found: None,
    };
    if let Some(dir) = &args.from_sled {
        let store_dir = if dir.join("store").is_dir() {
            dir.join("store")
        } else {
            dir.clone()
        };
        // A daemon running on the directory would keep writing behind our back.
        let lock_dir = store_dir.parent().unwrap_or(dir);
        let _lock = crate::daemon::lock::DataDirLock::acquire(lock_dir)?;
        let sled = Store::open(&store_dir)
            .with_context(|| format!("opening the sled store at {}", store_dir.display()))?;
        let (copied, found) = copy_from_sled(&sled, &pg)
            .with_context(|| format!("copying {} into {url}", store_dir.display()))?;
        out.copied = Some(copied);
        out.found = Some(found);
    }
    let mismatch = out.copied.is_some() && out.copied != out.found;
    if g.json {
        render::json(&out)?;
    } else {
        print(&out);
    }
    if mismatch {
        anyhow::bail!("the counts in PostgreSQL differ from those copied (see above)");
    }
    Ok(ExitCode::SUCCESS)
}

fn print(o: &Outcome) {
    if o.applied.is_empty() {
        println!(
            "{}: schema at version {}, nothing to apply",
            o.database, o.to_version
        );
    } else {
        println!(
            "{}: schema {} → {}",
            o.database, o.from_version, o.to_version
        );
        for (v, name) in &o.applied {
            println!("  applied {v}: {name}");
        }
    }
    let (Some(c), Some(f)) = (&o.copied, &o.found) else {
        return;
    };
    let mut t = render::table(&["copied", "from sled", "in postgres"]);
    let rows = [
        ("records", c.records, f.records),
        ("  queued", c.queued, f.queued),
        ("  dead-lettered", c.dead, f.dead),
        ("cache entries", c.cache, f.cache),
        ("ledger rows", c.ledger, f.ledger),
        ("hourly call counters", c.call_buckets, f.call_buckets),
        ("outbox events", c.outbox, f.outbox),
        ("sink cursors", c.cursors, f.cursors),
        ("sink dead letters", c.outbox_dead, f.outbox_dead),
        ("open vendor jobs", c.jobs, f.jobs),
        ("email patterns", c.patterns, f.patterns),
    ];
    for (what, a, b) in rows {
        t.add_row([what.to_string(), a.to_string(), b.to_string()]);
    }
    println!("{t}");
    println!(
        "{}",
        if c == f {
            "every count matches"
        } else {
            "MISMATCH: counts differ"
        }
    );
}

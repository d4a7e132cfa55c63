//! `leadfall check`: validate config and provider definitions; list providers,
//! missing keys and the order per field.

use super::{render, Global, EXIT_CONFIG};
use crate::config;
use serde::Serialize;
use std::process::ExitCode;

/// `check` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {}

#[derive(Serialize)]
struct ProviderLine {
    id: String,
    operations: Vec<String>,
    key: String,
    rate: String,
}

#[derive(Serialize)]
struct CheckReport {
    ok: bool,
    errors: Vec<String>,
    providers: Vec<ProviderLine>,
    /// Providers ready to call (key set, or none needed).
    configured: Vec<String>,
    /// Key variables to set, one per disabled provider.
    missing_keys: Vec<String>,
    waterfalls: Vec<(String, Vec<String>)>,
    /// Problems that do not stop the daemon (a data directory others can read).
    warnings: Vec<String>,
}

/// Run `check`.
pub fn run(_args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let settings = match config::load(&g.config, &config::process_env) {
        Ok(s) => s,
        Err(errs) => {
            if g.json {
                render::json(&CheckReport {
                    ok: false,
                    errors: errs.0.iter().map(ToString::to_string).collect(),
                    providers: vec![],
                    configured: vec![],
                    missing_keys: vec![],
                    waterfalls: vec![],
                    warnings: vec![],
                })?;
            } else {
                eprint!("{errs}");
            }
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let warnings: Vec<String> = crate::data_dir::loose_mode_warning(&settings.data_dir)
        .into_iter()
        .collect();
    for w in &warnings {
        eprintln!("{w}");
    }
    let providers: Vec<ProviderLine> = settings
        .providers
        .iter()
        .map(|p| ProviderLine {
            id: p.id.clone(),
            operations: p.operations.iter().map(|o| o.id.clone()).collect(),
            key: match (&p.auth, &p.missing_key_env) {
                (_, Some(env)) => format!("missing: set {env}"),
                (Some(_), None) => "set".into(),
                (None, None) => "none needed".into(),
            },
            rate: p.rate.map_or("unlimited".into(), |r| {
                format!("{:.1}/s, {} in flight", r.per_second(), p.max_concurrency)
            }),
        })
        .collect();
    let configured: Vec<String> = settings
        .providers
        .iter()
        .filter(|p| p.missing_key_env.is_none())
        .map(|p| p.id.clone())
        .collect();
    let missing_keys: Vec<String> = settings
        .providers
        .iter()
        .filter_map(|p| p.missing_key_env.clone())
        .collect();
    let waterfalls: Vec<(String, Vec<String>)> = settings
        .waterfall
        .fields
        .iter()
        .map(|w| {
            let mut steps: Vec<String> = w.steps.iter().map(|s| s.id().to_string()).collect();
            if let Some(v) = &w.verify {
                steps.push(format!("(verify: {v})"));
            }
            (w.field.to_string(), steps)
        })
        .collect();
    if g.json {
        render::json(&CheckReport {
            ok: true,
            errors: vec![],
            providers,
            configured,
            missing_keys,
            waterfalls,
            warnings,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: ok ({} provider files)",
        g.config.display(),
        settings.provider_files.len()
    );
    let mut t = render::table(&["provider", "operations", "api key", "rate limit"]);
    for p in &providers {
        t.add_row([
            p.id.clone(),
            p.operations.join("\n"),
            p.key.clone(),
            p.rate.clone(),
        ]);
    }
    println!("{t}");
    println!(
        "{} of {} vendors have a key{}",
        configured.len(),
        providers.len(),
        if missing_keys.is_empty() {
            String::new()
        } else {
            format!("; to enable the others set {}", missing_keys.join(", "))
        }
    );
    let mut t = render::table(&["field", "waterfall order"]);
    // Steps whose vendor has no key are skipped at run time: say so where the order is read.
    let disabled = |step: &str| {
        let provider = step.split('.').next().unwrap_or_default();
        settings
            .providers
            .get(provider)
            .is_some_and(|p| p.missing_key_env.is_some())
    };
    for (f, steps) in &waterfalls {
        let shown: Vec<String> = steps
            .iter()
            .map(|s| {
                if disabled(s) {
                    format!("{s} (no key)")
                } else {
                    s.clone()
                }
            })
            .collect();
        t.add_row([f.clone(), shown.join(" → ")]);
    }
    println!("{t}");
    Ok(ExitCode::SUCCESS)
}

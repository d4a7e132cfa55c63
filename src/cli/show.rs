//! `leadfall show ID`: one record from the daemon: every field with its state
//! and provenance, then the history of changes and the signals.

use super::status::{human_secs, Connect};
use super::{render, Global};
use crate::control::{QueueState, StoredRecord};
use crate::model::FieldState;
use chrono::{DateTime, Utc};
use std::process::ExitCode;

/// `show` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The record id.
    pub id: String,
    /// Where the daemon is.
    #[command(flatten)]
    pub connect: Connect,
}

/// Run `show`.
pub async fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let client = args.connect.client(g)?;
    let rec = client.show(&args.id).await?;
    if g.json {
        render::json(&rec)?;
    } else {
        print_record(&rec, Utc::now());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_record(s: &StoredRecord, now: DateTime<Utc>) {
    let r = &s.record;
    println!(
        "{} · {} · {} passes · {} credits spent · {} conflicts · created {} ago · updated {} ago",
        r.id,
        queue_text(&s.queue, now),
        s.passes,
        render::credits(r.credits_spent),
        s.conflicts,
        human_secs((now - s.created_at).num_seconds()),
        human_secs((now - r.updated_at).num_seconds()),
    );
    let mut t = render::table(&[
        "field",
        "state",
        "value",
        "source",
        "confidence",
        "age",
        "expires",
        "detail",
    ]);
    for (name, state) in &r.fields {
        t.add_row(field_row(name, state, now));
    }
    println!("{t}");

    if let Some(d) = &s.route {
        let state = if d.decided { "decided" } else { "undecided" };
        println!(
            "route: {} ({state}){}",
            d.route,
            d.reason
                .as_ref()
                .map(|r| format!(", reason {r}"))
                .unwrap_or_default()
        );
        println!("  {}", d.explanation);
        if let Some(at) = d.recycle_at {
            println!("  recycle on {}", at.format("%Y-%m-%d"));
        }
    }
    if let Some(scores) = &s.scores {
        let mut t = render::table(&["score", "min", "point", "max", "why"]);
        for sc in &scores.0 {
            t.add_row([
                sc.name.clone(),
                format!("{:.1}", sc.min),
                format!("{:.1}", sc.point),
                format!("{:.1}", sc.max),
                sc.explanation.clone(),
            ]);
        }
        println!("{t}");
    }
    if !s.route_history.is_empty() {
        let mut t = render::table(&["time", "route change", "why"]);
        for c in &s.route_history {
            t.add_row([
                c.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                format!("{} → {}", c.from.as_deref().unwrap_or("-"), c.to),
                c.explanation.clone(),
            ]);
        }
        println!("{t}");
    }

    if !s.history.is_empty() {
        let mut t = render::table(&["time", "field", "kind", "old → new"]);
        for c in &s.history {
            let old = c
                .old
                .as_ref()
                .map(short_state)
                .unwrap_or_else(|| "-".into());
            t.add_row([
                c.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                c.field.clone(),
                c.kind.clone(),
                format!("{old} → {}", short_state(&c.new)),
            ]);
        }
        println!("{t}");
    }
    if !s.signals.is_empty() {
        let mut t = render::table(&["signal", "at"]);
        for sig in &s.signals {
            t.add_row([
                sig.kind.clone(),
                sig.at.format("%Y-%m-%d %H:%M:%S").to_string(),
            ]);
        }
        println!("{t}");
    }
}

fn queue_text(q: &QueueState, now: DateTime<Utc>) -> String {
    match q {
        QueueState::Queued { due } if *due <= now => "queued (due now)".into(),
        QueueState::Queued { due } => {
            format!("queued (due in {})", human_secs((*due - now).num_seconds()))
        }
        QueueState::Leased { until } => format!("leased until {}", until.to_rfc3339()),
        QueueState::Idle { next_due: Some(d) } => {
            format!(
                "idle (next due in {})",
                human_secs((*d - now).num_seconds().max(0))
            )
        }
        QueueState::Idle { next_due: None } => "idle".into(),
        QueueState::Dead { reason } => format!("DEAD: {reason}"),
    }
}

fn field_row(name: &str, state: &FieldState, now: DateTime<Utc>) -> [String; 8] {
    match state {
        FieldState::Known(k) => {
            let stale = k.expires_at.is_some_and(|e| e <= now);
            let expires = match k.expires_at {
                None => "never".into(),
                Some(e) if stale => format!("stale {} ago", human_secs((now - e).num_seconds())),
                Some(e) => format!("in {}", human_secs((e - now).num_seconds())),
            };
            [
                name.to_string(),
                if stale { "stale" } else { "known" }.into(),
                k.value.render(),
                k.source.to_string(),
                format!("{:.2}", k.confidence),
                human_secs((now - k.observed_at).num_seconds()),
                expires,
                k.verified
                    .as_ref()
                    .map(|v| format!("verified: {v}"))
                    .unwrap_or_default(),
            ]
        }
        FieldState::Unknown(u) => {
            let mut detail = Vec::new();
            if !u.tried.is_empty() {
                detail.push(format!("tried {}", u.tried.join(", ")));
            }
            if let Some(at) = u.retry_at {
                detail.push(format!("retry at {}", at.to_rfc3339()));
            }
            if let Some(d) = &u.detail {
                detail.push(d.clone());
            }
            [
                name.to_string(),
                u.reason.to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                detail.join("; "),
            ]
        }
    }
}

/// A state in a few words, for the history column.
fn short_state(s: &FieldState) -> String {
    match s {
        FieldState::Known(k) => format!("{} ({})", k.value, k.source),
        FieldState::Unknown(u) => u.reason.to_string(),
    }
}

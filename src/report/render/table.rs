//! Terminal tables (comfy-table), one per section.

use super::{num, pct};
use crate::report::Report;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.iter().copied());
    t
}

fn opt_ms(x: Option<u64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("≤{v}"))
}

/// The report as text: a heading and a table per section.
pub fn tables(r: &Report) -> String {
    let mut out = format!(
        "report {} → {} (UTC, whole hours): {} credits\n\nproviders\n",
        r.window.from.format("%Y-%m-%d %H:%M"),
        r.window.to.format("%Y-%m-%d %H:%M"),
        num(Some(r.credits))
    );
    let mut t = table(&[
        "provider",
        "calls",
        "requests",
        "cache hits (saved)",
        "hits",
        "misses",
        "errors",
        "429s",
        "not sent: budget / paused",
        "hit rate",
        "credits",
        "per filled field",
        "p50 ms",
        "p95 ms",
    ]);
    for p in &r.providers {
        let errors = if p.errors.is_empty() {
            "0".to_string()
        } else {
            p.errors
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        t.add_row(vec![
            p.provider.clone(),
            p.calls.to_string(),
            p.requests.to_string(),
            format!("{} ({})", p.cache_hits, num(Some(p.cache_credits_saved))),
            p.hits.to_string(),
            p.misses.to_string(),
            errors,
            p.throttled.to_string(),
            format!("{} / {}", p.budget_blocked, p.paused),
            pct(p.hit_rate),
            num(Some(p.credits)),
            num(p.credits_per_filled_field),
            opt_ms(p.latency_p50_ms),
            opt_ms(p.latency_p95_ms),
        ]);
    }
    out.push_str(&format!("{t}\n\nfields (steps in waterfall order)\n"));
    let mut t = table(&[
        "field",
        "step",
        "attempts",
        "fills",
        "fill rate",
        "share",
        "cost per fill",
        "known now",
        "unknown now",
    ]);
    for f in &r.fields {
        let unknown = f
            .unknown_now
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        if f.steps.is_empty() {
            t.add_row(vec![f.field.clone(), "-".into(), String::new()]);
        }
        for (i, s) in f.steps.iter().enumerate() {
            let first = i == 0;
            t.add_row(vec![
                if first {
                    f.field.clone()
                } else {
                    String::new()
                },
                s.operation.clone(),
                s.attempts.to_string(),
                s.fills.to_string(),
                pct(s.fill_rate),
                pct(s.share_of_fills),
                num(s.cost_per_fill),
                if first {
                    f.known_now.to_string()
                } else {
                    String::new()
                },
                if first {
                    unknown.clone()
                } else {
                    String::new()
                },
            ]);
        }
    }
    out.push_str(&format!("{t}\n\nroutes\n"));
    let mut t = table(&["route", "leads now"]);
    for (route, n) in &r.routes.counts {
        t.add_row(vec![route.clone(), n.to_string()]);
    }
    out.push_str(&format!("{t}\n"));
    let mut t = table(&["from", "to", "changes in window"]);
    for tr in &r.routes.transitions {
        t.add_row(vec![
            tr.from.clone().unwrap_or_else(|| "(new)".into()),
            tr.to.clone(),
            tr.count.to_string(),
        ]);
    }
    out.push_str(&format!(
        "{t}\nleads routed in the window: {}; changed route because enrichment filled a field: {}; credits per routed lead: {}\n",
        r.routes.routed_leads,
        r.routes.changed_by_enrichment,
        num(r.routes.credits_per_routed_lead)
    ));
    if !r.budgets.is_empty() {
        let mut t = table(&[
            "budget", "period", "cap", "used", "reserved", "left", "resets",
        ]);
        for b in &r.budgets {
            t.add_row(vec![
                b.scope.clone(),
                b.period.clone(),
                num(Some(b.cap)),
                num(Some(b.used)),
                num(Some(b.reserved)),
                num(Some(b.left)),
                b.resets_at.format("%Y-%m-%d %H:%M").to_string(),
            ]);
        }
        out.push_str(&format!("\nbudgets\n{t}\n"));
    }
    out
}

//! CSV: one long table, one row per measure, so a spreadsheet pivots it:
//! `section,key,subkey,measure,value`.

use crate::report::Report;

/// The report as CSV.
pub fn csv(r: &Report) -> Result<String, ::csv::Error> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(["section", "key", "subkey", "measure", "value"])?;
    let mut row = |section: &str, key: &str, sub: &str, measure: &str, v: String| {
        w.write_record([section, key, sub, measure, v.as_str()])
    };
    let o = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    let om = |x: Option<u64>| x.map(|v| v.to_string()).unwrap_or_default();
    for p in &r.providers {
        let k = p.provider.as_str();
        for (m, v) in [
            ("calls", p.calls.to_string()),
            ("requests", p.requests.to_string()),
            ("cache_hits", p.cache_hits.to_string()),
            ("cache_credits_saved", p.cache_credits_saved.to_string()),
            ("hits", p.hits.to_string()),
            ("misses", p.misses.to_string()),
            ("throttled", p.throttled.to_string()),
            ("budget_blocked", p.budget_blocked.to_string()),
            ("paused", p.paused.to_string()),
            ("hit_rate", o(p.hit_rate)),
            ("credits", p.credits.to_string()),
            ("fields_filled", p.fields_filled.to_string()),
            ("credits_per_filled_field", o(p.credits_per_filled_field)),
            ("latency_p50_ms", om(p.latency_p50_ms)),
            ("latency_p95_ms", om(p.latency_p95_ms)),
        ] {
            row("provider", k, "", m, v)?;
        }
        for (kind, n) in &p.errors {
            row("provider", k, kind, "errors", n.to_string())?;
        }
    }
    for f in &r.fields {
        row("field", &f.field, "", "fills", f.fills.to_string())?;
        row("field", &f.field, "", "known_now", f.known_now.to_string())?;
        for (reason, n) in &f.unknown_now {
            row("field", &f.field, reason, "unknown_now", n.to_string())?;
        }
        for s in &f.steps {
            for (m, v) in [
                ("attempts", s.attempts.to_string()),
                ("fills", s.fills.to_string()),
                ("fill_rate", o(s.fill_rate)),
                ("share_of_fills", o(s.share_of_fills)),
                ("cost_per_fill", o(s.cost_per_fill)),
                ("credits", s.credits.to_string()),
            ] {
                row("field_step", &f.field, &s.operation, m, v)?;
            }
        }
    }
    for (route, n) in &r.routes.counts {
        row("route", route, "", "leads_now", n.to_string())?;
    }
    for t in &r.routes.transitions {
        let from = t.from.clone().unwrap_or_default();
        row("route_change", &from, &t.to, "count", t.count.to_string())?;
    }
    let rr = &r.routes;
    row(
        "routes",
        "",
        "",
        "routed_leads",
        rr.routed_leads.to_string(),
    )?;
    row(
        "routes",
        "",
        "",
        "changed_by_enrichment",
        rr.changed_by_enrichment.to_string(),
    )?;
    row(
        "routes",
        "",
        "",
        "credits_per_routed_lead",
        o(rr.credits_per_routed_lead),
    )?;
    for p in &r.spend {
        for (provider, c) in &p.credits {
            row(
                "spend",
                &p.start.to_rfc3339(),
                provider,
                "credits",
                c.to_string(),
            )?;
        }
    }
    for b in &r.budgets {
        row("budget", &b.scope, &b.period, "cap", b.cap.to_string())?;
        row("budget", &b.scope, &b.period, "used", b.used.to_string())?;
        row("budget", &b.scope, &b.period, "left", b.left.to_string())?;
    }

    let bytes = w
        .into_inner()
        .map_err(|e| ::csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

//! CSV: one long table, one row per measure, so a spreadsheet pivots it:
//! `section,key,subkey,measure,value`. Names (providers, fields, routes,
//! budget scopes) come from configuration and are neutralised like any text;
//! the value column holds leadfall's own numbers and is written as is (see
//! [`Number`]).

use crate::csv_safe::{Cell, Number, Writer};
use crate::report::Report;

/// The report as CSV.
pub fn csv(r: &Report) -> Result<String, ::csv::Error> {
    let mut w = Writer::from_writer(Vec::new());
    w.write_row(["section", "key", "subkey", "measure", "value"])?;
    let mut row = |section: &str, key: &str, sub: &str, measure: &str, v: Number| {
        let text = |s| Cell::Text(s);
        w.write_row([text(section), text(key), text(sub), text(measure), v.into()])
    };
    for p in &r.providers {
        let k = p.provider.as_str();
        for (m, v) in [
            ("calls", Number::from(p.calls)),
            ("requests", Number::from(p.requests)),
            ("cache_hits", Number::from(p.cache_hits)),
            ("cache_credits_saved", Number::from(p.cache_credits_saved)),
            ("hits", Number::from(p.hits)),
            ("misses", Number::from(p.misses)),
            ("throttled", Number::from(p.throttled)),
            ("budget_blocked", Number::from(p.budget_blocked)),
            ("paused", Number::from(p.paused)),
            ("hit_rate", Number::from(p.hit_rate)),
            ("credits", Number::from(p.credits)),
            ("fields_filled", Number::from(p.fields_filled)),
            (
                "credits_per_filled_field",
                Number::from(p.credits_per_filled_field),
            ),
            ("latency_p50_ms", Number::from(p.latency_p50_ms)),
            ("latency_p95_ms", Number::from(p.latency_p95_ms)),
        ] {
            row("provider", k, "", m, v)?;
        }
        for (kind, n) in &p.errors {
            row("provider", k, kind, "errors", Number::from(*n))?;
        }
    }
    for f in &r.fields {
        row("field", &f.field, "", "fills", Number::from(f.fills))?;
        row(
            "field",
            &f.field,
            "",
            "known_now",
            Number::from(f.known_now),
        )?;
        for (reason, n) in &f.unknown_now {
            row("field", &f.field, reason, "unknown_now", Number::from(*n))?;
        }
        for s in &f.steps {
            for (m, v) in [
                ("attempts", Number::from(s.attempts)),
                ("fills", Number::from(s.fills)),
                ("fill_rate", Number::from(s.fill_rate)),
                ("share_of_fills", Number::from(s.share_of_fills)),
                ("cost_per_fill", Number::from(s.cost_per_fill)),
                ("credits", Number::from(s.credits)),
            ] {
                row("field_step", &f.field, &s.operation, m, v)?;
            }
        }
    }
    for (route, n) in &r.routes.counts {
        row("route", route, "", "leads_now", Number::from(*n))?;
    }
    for t in &r.routes.transitions {
        let from = t.from.clone().unwrap_or_default();
        row("route_change", &from, &t.to, "count", Number::from(t.count))?;
    }
    let rr = &r.routes;
    row(
        "routes",
        "",
        "",
        "routed_leads",
        Number::from(rr.routed_leads),
    )?;
    row(
        "routes",
        "",
        "",
        "changed_by_enrichment",
        Number::from(rr.changed_by_enrichment),
    )?;
    row(
        "routes",
        "",
        "",
        "credits_per_routed_lead",
        Number::from(rr.credits_per_routed_lead),
    )?;
    for p in &r.spend {
        for (provider, c) in &p.credits {
            row(
                "spend",
                &p.start.to_rfc3339(),
                provider,
                "credits",
                Number::from(*c),
            )?;
        }
    }
    for b in &r.budgets {
        row("budget", &b.scope, &b.period, "cap", Number::from(b.cap))?;
        row("budget", &b.scope, &b.period, "used", Number::from(b.used))?;
        row("budget", &b.scope, &b.period, "left", Number::from(b.left))?;
    }

    let bytes = w.into_inner()?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ProviderReport, RouteReport, Window};
    use chrono::{TimeZone, Utc};

    fn report() -> Report {
        let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let mut routes = RouteReport::default();
        routes.counts.insert("=HYPERLINK(\"x\")".into(), 2);
        Report {
            window: Window { from: at, to: at },
            generated_at: at,
            providers: vec![ProviderReport {
                provider: "@vendor".into(),
                credits: -3.5,
                ..ProviderReport::default()
            }],
            fields: Vec::new(),
            routes,
            spend: Vec::new(),
            budgets: Vec::new(),
            credits: -3.5,
        }
    }

    fn cell(text: &str, section: &str, measure: &str, column: usize) -> String {
        let mut rd = ::csv::Reader::from_reader(text.as_bytes());
        let row = rd
            .records()
            .map(Result::unwrap)
            .find(|r| &r[0] == section && &r[3] == measure)
            .unwrap_or_else(|| panic!("no {section} {measure} row in\n{text}"));
        row[column].to_string()
    }

    #[test]
    fn names_are_neutralised_and_negative_numbers_stay_numbers() {
        let text = csv(&report()).unwrap();
        assert_eq!(cell(&text, "provider", "credits", 1), "'@vendor");
        assert_eq!(cell(&text, "provider", "credits", 4), "-3.5");
        assert_eq!(cell(&text, "route", "leads_now", 1), "'=HYPERLINK(\"x\")");
    }
}

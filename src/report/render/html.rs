//! One self-contained HTML page: inline CSS, inline SVG charts drawn here, a
//! few lines of inline script that check the charts rendered (and record any
//! script error) so a headless browser test can assert on the DOM. No
//! network: no CDN, fonts or images.

use super::{num, pct};
use crate::report::Report;
use std::fmt::Write;

/// Colours for series (providers), cycled.
const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart: one bar per (label, value, text shown).
fn hbars(id: &str, title: &str, items: &[(String, f64, String)]) -> String {
    let row = 22.0;
    let label_w = 380.0;
    let bar_w = 360.0;
    let height = (items.len().max(1) as f64) * row + 10.0;
    let max = items.iter().map(|i| i.1).fold(0.0_f64, f64::max);
    let mut s = format!(
        "<figure><figcaption>{}</figcaption><svg class=\"chart\" id=\"{id}\" role=\"img\" aria-label=\"{}\" width=\"{}\" height=\"{height}\" viewBox=\"0 0 {} {height}\">",
        esc(title),
        esc(title),
        label_w + bar_w + 140.0,
        label_w + bar_w + 140.0
    );
    if items.is_empty() {
        let _ = write!(
            s,
            "<text class=\"empty\" x=\"4\" y=\"16\">no data in this window</text>"
        );
    }
    for (i, (label, v, text)) in items.iter().enumerate() {
        let y = i as f64 * row + 4.0;
        let w = if max > 0.0 { v / max * bar_w } else { 0.0 };
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect class=\"bar\" x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{}\"><title>{}: {}</title></rect><text x=\"{:.1}\" y=\"{}\">{}</text>",
            label_w - 6.0,
            y + 14.0,
            esc(label),
            row - 6.0,
            PALETTE[i % PALETTE.len()],
            esc(label),
            esc(text),
            label_w + w + 4.0,
            y + 14.0,
            esc(text)
        );
    }
    s.push_str("</svg></figure>");
    s
}

/// Stacked columns of credits per provider over time.
fn spend_chart(r: &Report) -> String {
    let providers: Vec<&String> = r
        .spend
        .iter()
        .flat_map(|p| p.credits.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let (w, h, pad) = (760.0, 220.0, 30.0);
    let n = r.spend.len().max(1) as f64;
    let col = (w - 2.0 * pad) / n;
    let max = r
        .spend
        .iter()
        .map(|p| p.credits.values().sum::<f64>())
        .fold(0.0_f64, f64::max);
    let mut s = format!(
        "<figure><figcaption>Spend over time (credits)</figcaption><svg class=\"chart\" id=\"chart-spend\" role=\"img\" aria-label=\"spend over time\" width=\"{w}\" height=\"{}\" viewBox=\"0 0 {w} {}\">",
        h + 40.0,
        h + 40.0
    );
    let _ = write!(
        s,
        "<line x1=\"{pad}\" y1=\"{h}\" x2=\"{}\" y2=\"{h}\" stroke=\"#888\"/><text x=\"2\" y=\"12\">{}</text>",
        w - pad,
        num(Some(max))
    );
    for (i, p) in r.spend.iter().enumerate() {
        let mut y = h;
        for (j, prov) in providers.iter().enumerate() {
            let c = p.credits.get(*prov).copied().unwrap_or(0.0);
            if c <= 0.0 || max <= 0.0 {
                continue;
            }
            let bh = c / max * (h - 20.0);
            y -= bh;
            let _ = write!(
                s,
                "<rect class=\"bar\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>{} {}: {}</title></rect>",
                pad + i as f64 * col,
                (col - 1.0).max(1.0),
                PALETTE[j % PALETTE.len()],
                p.start.format("%Y-%m-%d %H:00"),
                esc(prov),
                num(Some(c))
            );
        }
    }
    // Axis ends and a legend.
    if let (Some(a), Some(b)) = (r.spend.first(), r.spend.last()) {
        let _ = write!(
            s,
            "<text x=\"{pad}\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            h + 14.0,
            a.start.format("%m-%d %H:00"),
            w - pad,
            h + 14.0,
            b.start.format("%m-%d %H:00")
        );
    }
    for (j, prov) in providers.iter().enumerate() {
        let x = pad + j as f64 * 120.0;
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            h + 22.0,
            PALETTE[j % PALETTE.len()],
            x + 14.0,
            h + 31.0,
            esc(prov)
        );
    }
    s.push_str("</svg></figure>");
    s
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in header {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            let _ = write!(s, "<td>{}</td>", esc(c));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// The report as one HTML page.
pub fn html(r: &Report) -> String {
    let mut fill = Vec::new();
    let mut cost = Vec::new();
    for f in &r.fields {
        for st in &f.steps {
            let label = format!("{} ← {}", f.field, st.operation);
            fill.push((
                label.clone(),
                st.fill_rate.unwrap_or(0.0),
                format!("{} ({}/{})", pct(st.fill_rate), st.fills, st.attempts),
            ));
            if let Some(c) = st.cost_per_fill {
                cost.push((label, c, num(Some(c))));
            }
        }
    }
    let hit: Vec<_> = r
        .providers
        .iter()
        .map(|p| {
            (
                p.provider.clone(),
                p.hit_rate.unwrap_or(0.0),
                pct(p.hit_rate),
            )
        })
        .collect();
    let flows: Vec<_> = r
        .routes
        .transitions
        .iter()
        .map(|t| {
            (
                format!("{} → {}", t.from.as_deref().unwrap_or("(new)"), t.to),
                t.count as f64,
                t.count.to_string(),
            )
        })
        .collect();
    let providers: Vec<Vec<String>> = r
        .providers
        .iter()
        .map(|p| {
            vec![
                p.provider.clone(),
                p.calls.to_string(),
                p.requests.to_string(),
                format!("{} ({})", p.cache_hits, num(Some(p.cache_credits_saved))),
                p.hits.to_string(),
                p.misses.to_string(),
                p.errors.values().sum::<u64>().to_string(),
                p.throttled.to_string(),
                pct(p.hit_rate),
                num(Some(p.credits)),
                num(p.credits_per_filled_field),
                p.latency_p50_ms.map_or("-".into(), |v| format!("≤{v}")),
                p.latency_p95_ms.map_or("-".into(), |v| format!("≤{v}")),
            ]
        })
        .collect();
    let budgets: Vec<Vec<String>> = r
        .budgets
        .iter()
        .map(|b| {
            vec![
                b.scope.clone(),
                b.period.clone(),
                num(Some(b.cap)),
                num(Some(b.used)),
                num(Some(b.left)),
            ]
        })
        .collect();
    let window = format!(
        "{} → {} UTC",
        r.window.from.format("%Y-%m-%d %H:%M"),
        r.window.to.format("%Y-%m-%d %H:%M")
    );
    let mut body = format!(
        "<h1>leadfall provider report</h1><p class=\"meta\">{} · {} credits · {} leads routed, {} re-routed because enrichment filled a field · {} credits per routed lead</p>",
        esc(&window),
        num(Some(r.credits)),
        r.routes.routed_leads,
        r.routes.changed_by_enrichment,
        num(r.routes.credits_per_routed_lead)
    );
    body.push_str("<h2>Providers</h2>");
    body.push_str(&table(
        &[
            "provider",
            "calls",
            "requests",
            "cache hits (saved)",
            "hits",
            "misses",
            "errors",
            "429s",
            "hit rate",
            "credits",
            "per filled field",
            "p50 ms",
            "p95 ms",
        ],
        &providers,
    ));
    body.push_str(&hbars("chart-hit-rate", "Hit rate per provider", &hit));
    body.push_str("<h2>Fields</h2>");
    body.push_str(&hbars(
        "chart-fill-rate",
        "Fill rate per field and provider step",
        &fill,
    ));
    body.push_str(&hbars(
        "chart-cost-per-fill",
        "Cost per fill (credits)",
        &cost,
    ));
    body.push_str("<h2>Spend</h2>");
    body.push_str(&spend_chart(r));
    body.push_str("<h2>Routes</h2>");
    body.push_str(&hbars(
        "chart-route-flows",
        "Route changes in the window",
        &flows,
    ));
    if !budgets.is_empty() {
        body.push_str("<h2>Budgets</h2>");
        body.push_str(&table(
            &["budget", "period", "cap", "used", "left"],
            &budgets,
        ));
    }
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leadfall report {title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}}
table{{border-collapse:collapse;margin:8px 0 16px}}td,th{{border:1px solid #ddd;padding:3px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}th{{background:#f4f4f4}}
figure{{margin:12px 0}}figcaption{{font-weight:600;margin-bottom:4px}}svg text{{font-size:12px;fill:#333}}
.meta{{color:#555}}
</style>
<script>
window.onerror = function (msg) {{
  var b = document.body || document.documentElement;
  b.setAttribute('data-errors', (b.getAttribute('data-errors') || '') + String(msg) + ';');
}};
</script></head>
<body>
{body}
<script>
(function () {{
  var charts = document.querySelectorAll('svg.chart');
  var drawn = 0;
  charts.forEach(function (c) {{ if (c.querySelector('rect, text')) drawn++; }});
  document.body.dataset.charts = String(charts.length);
  document.body.dataset.ok = (charts.length > 0 && drawn === charts.length) ? '1' : '0';
}})();
</script>
</body></html>
"#,
        title = esc(&window),
        body = body
    )
}

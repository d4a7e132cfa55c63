//! Renderers of a [`Report`](super::Report): terminal tables, CSV and a
//! self-contained HTML page. JSON is serde's.

mod csv;
mod html;
mod table;

pub use self::csv::csv;
pub use html::html;
pub use table::tables;

/// `0.43` → `43%`, `None` → `-`.
pub fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{:.0}%", v * 100.0))
}

/// Credits with up to two decimals, no trailing zeros; `None` → `-`.
pub fn num(x: Option<f64>) -> String {
    match x {
        None => "-".to_string(),
        Some(c) => {
            let s = format!("{c:.2}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    }
}

use crate::util::{run, stdout, TestDir};
use std::path::Path;
use std::process::Command;

/// Enrich `n` sample leads in-process (the ledger lands in the test's data dir).
fn enrich(t: &TestDir, n: usize, name: &str) {
    let input = t.write(
        &format!("{name}.csv"),
        t.sandbox.world().sample_leads_csv(n),
    );
    let out = t.path(&format!("{name}.jsonl"));
    run(t.enrich(&input, &out, &[]), 0);
}

fn report_json(t: &TestDir) -> serde_json::Value {
    let o = run(t.cmd(&["report", "--since", "1d", "--json"]), 0);
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn report_credits_and_requests_reconcile_exactly_with_the_sandbox_bill() {
    let t = TestDir::new();
    enrich(&t, 120, "first");
    // The same leads again: answered from the cache, reported apart.
    enrich(&t, 120, "again");
    let r = report_json(&t);
    let counters = t.sandbox.counters();
    let providers = r["providers"].as_array().unwrap();
    let mut total_cache_hits = 0;
    for (vendor, c) in &counters {
        let p = providers
            .iter()
            .find(|p| p["provider"] == vendor.as_str())
            .unwrap_or_else(|| panic!("{vendor} missing from {r:#}"));
        println!(
            "{vendor}: report {} credits / {} requests / {} cache hits; sandbox billed {} / {} requests",
            p["credits"], p["requests"], p["cache_hits"], c.credits_billed, c.requests
        );
        assert_eq!(
            p["credits"].as_f64().unwrap(),
            c.credits_billed,
            "{vendor} credits"
        );
        assert_eq!(
            p["requests"].as_u64().unwrap(),
            c.requests,
            "{vendor} requests"
        );
        assert!(p["calls"].as_u64().unwrap() <= c.requests, "{vendor} calls");
        total_cache_hits += p["cache_hits"].as_u64().unwrap();
    }
    assert!(
        total_cache_hits > 100,
        "the second run was answered from the cache"
    );
    let total: f64 = counters.values().map(|c| c.credits_billed).sum();
    assert_eq!(r["credits"].as_f64().unwrap(), total);
    // Per field: the email waterfall's steps with attempts and fills, unknowns by reason.
    let email = r["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "person.email")
        .unwrap();
    assert_eq!(email["steps"][0]["operation"], "mailfinder.email-finder");
    assert!(
        email["steps"][0]["fills"].as_u64().unwrap() > 0,
        "{email:#}"
    );
    assert!(email["unknown_now"].is_object());

    // The table and the CSV carry the same figures.
    let table = stdout(&run(t.cmd(&["report", "--since", "1d"]), 0));
    assert!(table.contains("mailfinder"), "{table}");
    assert!(table.contains("cache hits (saved)"), "{table}");
    let csv = stdout(&run(t.cmd(&["report", "--since", "1d", "--csv"]), 0));
    let line = format!(
        "provider,personapi,,credits,{}",
        counters["personapi"].credits_billed
    );
    assert!(csv.lines().any(|l| l == line), "{line} not in\n{csv}");

    // A window before the calls is empty.
    let o = run(
        t.cmd(&[
            "report",
            "--from",
            "2020-01-01",
            "--to",
            "2020-01-02",
            "--json",
        ]),
        0,
    );
    let empty: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(empty["credits"], 0.0);
    // A bad window is a clear error.
    let o = run(t.cmd(&["report", "--since", "7x"]), 1);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("\"7x\" is not a duration like 90m, 24h, 7d or 4w"),
        "{err}"
    );
}

/// Chromium as Debian ships it, if present.
fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

#[test]
fn the_html_report_renders_its_charts_in_headless_chromium() {
    let t = TestDir::new();
    enrich(&t, 60, "leads");
    let page = t.path("report.html");
    let mut cmd = t.cmd(&["report", "--since", "1d", "--html"]);
    cmd.arg(&page);
    run(cmd, 0);
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing fetched from the network.
    for needle in ["http://", "https://", "<link", "src="] {
        assert!(!html.contains(needle), "the page references {needle:?}");
    }
    for id in [
        "chart-hit-rate",
        "chart-fill-rate",
        "chart-cost-per-fill",
        "chart-spend",
        "chart-route-flows",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    let Some(bin) = chromium() else {
        // Fails instead under LEADFALL_TEST_REQUIRE=all (or =chromium).
        leadfall::testing::require_or_skip(
            "chromium",
            "the browser check: chromium is not installed (apt-get install -y chromium)",
        );
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed:\n{log}");
    let body = dom
        .split("<body")
        .nth(1)
        .and_then(|b| b.split('>').next())
        .unwrap_or_default();
    assert!(
        body.contains("data-ok=\"1\""),
        "the page's check did not pass: <body{body}>\n{log}"
    );
    assert!(body.contains("data-charts=\"5\""), "<body{body}>");
    assert!(!body.contains("data-errors"), "script errors: <body{body}>");
    assert!(!log.contains("Uncaught"), "console errors:\n{log}");
    assert!(dom.contains("<rect class=\"bar\""), "the charts have bars");
}

#[test]
fn report_through_the_running_daemon_reconciles_and_counts_routes() {
    use crate::util::daemon::{wait_for, Daemon};
    let t = TestDir::new();
    let _d = Daemon::start(&t);
    let leads = t.write("leads.csv", t.sandbox.world().sample_leads_csv(80));
    run(t.cmd(&["import", leads.to_str().unwrap(), "--json"]), 0);
    // The daemon holds the data directory, so `report` must ask it.
    let r = wait_for(
        std::time::Duration::from_secs(120),
        "every lead routed",
        || {
            // Idle first, then the report: a report taken before the last pass
            // ended could miss its calls.
            let s: serde_json::Value =
                serde_json::from_slice(&t.cmd(&["status", "--json"]).output().unwrap().stdout)
                    .unwrap();
            let idle = s["queued_due"] == 0 && s["leased"] == 0;
            let o = t
                .cmd(&["report", "--since", "1d", "--json"])
                .output()
                .unwrap();
            if !o.status.success() {
                return Err(String::from_utf8_lossy(&o.stderr).into_owned());
            }
            let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let routed: u64 = r["routes"]["counts"]
                .as_object()
                .map(|m| m.values().filter_map(|v| v.as_u64()).sum())
                .unwrap_or(0);
            if routed == 80 && idle {
                Ok(r)
            } else {
                Err(format!("{routed} routed"))
            }
        },
    );
    assert_eq!(r["routes"]["routed_leads"], 80);
    for (vendor, c) in t.sandbox.counters() {
        let p = r["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["provider"] == vendor.as_str());
        let credits = p.map_or(0.0, |p| p["credits"].as_f64().unwrap());
        assert_eq!(credits, c.credits_billed, "{vendor}");
    }
}

#[test]
fn advise_prints_evidence_refuses_thin_segments_and_apply_keeps_a_backup() {
    use crate::util::daemon::{wait_for, Daemon};
    let t = TestDir::new();
    // Through the daemon: segments come from the stored records.
    let _d = Daemon::start(&t);
    let leads = t.write("leads.csv", t.sandbox.world().sample_leads_csv(150));
    run(t.cmd(&["import", leads.to_str().unwrap(), "--json"]), 0);
    wait_for(
        std::time::Duration::from_secs(120),
        "the queue to drain",
        || {
            let s: serde_json::Value =
                serde_json::from_slice(&t.cmd(&["status", "--json"]).output().unwrap().stdout)
                    .map_err(|e| e.to_string())?;
            if s["queued_due"] == 0
                && s["leased"] == 0
                && s["passes_since_start"].as_u64() >= Some(150)
            {
                Ok(())
            } else {
                Err(s.to_string())
            }
        },
    );
    let o = run(t.cmd(&["report", "--since", "1d", "--advise", "--json"]), 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let fields = v["advice"]["fields"].as_array().unwrap();
    let all = fields
        .iter()
        .find(|a| a["field"] == "person.title" && a["segment"] == "all")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert!(
        all["evidence"][0]["records"].as_u64().unwrap() >= 30,
        "{all:#}"
    );
    assert!(fields.iter().any(|a| a["refused"]
        .as_str()
        .is_some_and(|r| r.starts_with("too little evidence: "))));
    let table = stdout(&run(t.cmd(&["report", "--since", "1d", "--advise"]), 0));
    assert!(table.contains("credits/fill now → suggested"), "{table}");
    let before = std::fs::read_to_string(t.config()).unwrap();
    let o = run(
        t.cmd(&["report", "--since", "1d", "--advise", "--apply"]),
        0,
    );
    let text = stdout(&o);
    assert!(text.contains("(backup: "), "{text}");
    let backup = std::fs::read_dir(t.path("config"))
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("leadfall.toml.bak-")
        })
        .expect("a backup");
    assert_eq!(std::fs::read_to_string(backup.path()).unwrap(), before);
    // The edited config still checks clean, comments kept.
    run(t.cmd(&["check"]), 0);
    let after = std::fs::read_to_string(t.config()).unwrap();
    assert!(
        after.contains("# leadfall default configuration"),
        "{after}"
    );
}

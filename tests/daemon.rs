use crate::util::daemon::{wait_for, Daemon};
use crate::util::{export, run, stderr, stdout, TestDir};
use leadfall::sandbox::{SandboxSettings, VendorSettings};
use std::collections::BTreeMap;
use std::time::Duration;

// One suite, two backends: each of these runs on sled and on PostgreSQL.
crate::on_both_stores!(
    kill_9_at_random_moments_loses_nothing_and_pays_nothing_twice,
    sigterm_drains_and_leaves_no_lease,
    a_second_daemon_on_the_same_data_dir_is_refused,
    import_queues_every_good_row_and_reenrich_by_provider_is_exact,
    every_pass_scores_and_routes_and_a_signal_reroutes_with_an_outbox_event,
    route_events_reach_a_signed_webhook_at_least_once_across_a_crash,
    leads_with_signals_are_rescored_on_the_decay_tick,
    reload_and_sighup_apply_new_routes_to_every_lead_and_a_bad_file_changes_nothing
);

fn status(t: &TestDir) -> Result<serde_json::Value, String> {
    let out = t
        .cmd(&["status", "--json"])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

/// Wait until nothing is due or leased.
fn wait_idle(t: &TestDir, timeout: Duration) -> serde_json::Value {
    wait_for(timeout, "the queue to drain", || {
        let s = status(t)?;
        if s["queued_due"] == 0 && s["leased"] == 0 {
            Ok(s)
        } else {
            Err(format!(
                "queued_due {} leased {} passes {}",
                s["queued_due"], s["leased"], s["passes_since_start"]
            ))
        }
    })
}

const WATERFALL_FIELDS: &[&str] = &[
    "company.domain",
    "person.email",
    "person.title",
    "company.industry",
    "person.phone",
];

fn kill_9_at_random_moments_loses_nothing_and_pays_nothing_twice() {
    let mut s = SandboxSettings::default();
    for v in [
        "mailfinder",
        "personapi",
        "peoplematch",
        "companyapi",
        "verifier",
    ] {
        s.vendors.insert(
            v.into(),
            VendorSettings {
                latency_ms: 2,
                ..Default::default()
            },
        );
    }
    let t = TestDir::with_sandbox(s);
    let leads = t.write(
        "leads.csv",
        t.sandbox
            .world()
            .sample_leads_csv(2000)
            .replace("lead0", "a-lead0")
            + &t.sandbox
                .world()
                .sample_leads_csv(2000)
                .lines()
                .skip(1)
                .map(|l| format!("b-{l}\n"))
                .collect::<String>()
            + &t.sandbox
                .world()
                .sample_leads_csv(1000)
                .lines()
                .skip(1)
                .map(|l| format!("c-{l}\n"))
                .collect::<String>(),
    );
    let mut d = Daemon::start(&t);
    let o = run(t.cmd(&["import", leads.to_str().unwrap(), "--json"]), 0);
    let imported: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(imported["good"], 5000, "{imported}");
    let kills = 10;
    let mut last = t.sandbox_requests();
    for k in 0..kills {
        // Kill once the vendors have seen a few hundred more calls: mid-work, at a varying moment.
        let step = 150 + 97 * k as u64;
        wait_for(
            Duration::from_secs(120),
            "provider calls to progress",
            || {
                let now = t.sandbox_requests();
                if now >= last + step {
                    Ok(now)
                } else {
                    Err(format!("{now} requests (want {})", last + step))
                }
            },
        );
        d.kill9();
        last = t.sandbox_requests();
        d = Daemon::start(&t);
    }
    let st = wait_idle(&t, Duration::from_secs(300));
    let records = export(&t);
    drop(d);
    // Every record exactly once, every waterfall field known or unknown with a reason.
    assert_eq!(records.len(), 5000, "status {st}");
    let mut ids: Vec<&str> = records
        .iter()
        .map(|r| r["record"]["id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5000);
    for r in &records {
        for f in WATERFALL_FIELDS {
            let s = &r["record"]["fields"][f];
            assert!(
                s["state"] == "known" || s["reason"].is_string(),
                "{} {f}: {s}",
                r["record"]["id"]
            );
        }
    }
    // The ledger against the vendors' bill: only calls in flight at a kill may be
    // billed without a ledger row (their answer never arrived).
    let store = t.store();
    let ledger = store.calls().ledger().unwrap();
    let ours: f64 = ledger.iter().map(|r| r.credits).sum();
    let billed: f64 = t
        .sandbox
        .counters()
        .values()
        .map(|c| c.credits_billed)
        .sum();
    let in_flight_bound = kills as f64 * 5.0 * 16.0; // kills × vendors × max_concurrency
    assert!(
        ours <= billed && billed - ours <= in_flight_bound,
        "ledger {ours} vs billed {billed}"
    );
    // No (record, operation) paid twice, beyond calls replayed after a kill.
    let twice = crate::util::pairs_paid_twice(&ledger) as f64;
    eprintln!(
        "crash test: {kills} kills, {} sandbox requests, ledger {ours} credits vs billed {billed}, {twice} (record, operation) pairs paid twice, {} passes in the last run",
        t.sandbox_requests(),
        st["passes_since_start"]
    );
    assert!(twice <= in_flight_bound, "{twice} calls paid twice");
    assert_eq!(
        store
            .records()
            .queue_stats(chrono::Utc::now())
            .unwrap()
            .leased,
        0
    );
}

fn sigterm_drains_and_leaves_no_lease() {
    let mut s = SandboxSettings::default();
    s.vendors.insert(
        "personapi".into(),
        VendorSettings {
            latency_ms: 50,
            ..Default::default()
        },
    );
    let t = TestDir::with_sandbox(s);
    let leads = t.write("leads.csv", t.sandbox.world().sample_leads_csv(300));
    let mut d = Daemon::start(&t);
    run(t.cmd(&["import", leads.to_str().unwrap()]), 0);
    wait_for(Duration::from_secs(60), "work to start", || {
        let s = status(&t)?;
        if s["leased"].as_u64().unwrap_or(0) > 0 {
            Ok(())
        } else {
            Err(s.to_string())
        }
    });
    let code = d.terminate();
    assert!(code.success(), "exit {code}: {}", d.log());
    let store = t.store().records();
    assert_eq!(
        store.queue_stats(chrono::Utc::now()).unwrap().leased,
        0,
        "no lease left behind"
    );
    assert!(!t.path("data/control.addr").exists());
}

fn a_second_daemon_on_the_same_data_dir_is_refused() {
    let t = TestDir::new();
    let _first = Daemon::start(&t);
    let out = Daemon::command(&t).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("another leadfall daemon is already running on"),
        "{err}"
    );
    assert!(status(&t).is_ok(), "the first daemon still answers");
}

#[test]
fn the_control_api_wants_the_token_and_loopback() {
    let t = TestDir::new();
    let d = Daemon::start(&t);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/status", d.addr);
    let code = |req: reqwest::RequestBuilder| rt.block_on(req.send()).unwrap().status().as_u16();
    assert_eq!(code(client.get(&url)), 401);
    assert_eq!(code(client.get(&url).bearer_auth("not-the-token")), 401);
    let token = std::fs::read_to_string(t.path("data/control.token")).unwrap();
    assert_eq!(code(client.get(&url).bearer_auth(token.trim())), 200);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(t.path("data/control.token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(code(client.get(format!("http://{}/healthz", d.addr))), 200);
    drop(d);
    let out = t.cmd(&["serve", "--listen", "0.0.0.0:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not a loopback address"),
        "{}",
        stderr(&out)
    );
}

fn import_queues_every_good_row_and_reenrich_by_provider_is_exact() {
    let t = TestDir::new();
    let _d = Daemon::start(&t);
    let mut csv = t.sandbox.world().sample_leads_csv(200);
    csv.push_str("bad-1,Ann,Lee,Acme,acme.io,ann@@acme\nbad-2,Bob\n");
    let leads = t.write("leads.csv", csv);
    let o = run(t.cmd(&["import", leads.to_str().unwrap(), "--json"]), 3);
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (summary["good"].as_u64(), summary["rejected"].as_u64()),
        (Some(200), Some(2)),
        "{summary}"
    );
    let rejects = std::fs::read_to_string(t.path("leads.csv.rejects.csv")).unwrap();
    assert!(
        rejects.contains("202,bad-1,") && rejects.contains("203,bad-2,"),
        "{rejects}"
    );
    wait_idle(&t, Duration::from_secs(120));
    let records = export(&t);
    assert_eq!(records.len(), 200);
    let by_companyapi = records
        .iter()
        .filter(|r| {
            r["record"]["fields"]
                .as_object()
                .unwrap()
                .values()
                .any(|s| {
                    s["source"]
                        .as_str()
                        .is_some_and(|x| x.starts_with("companyapi."))
                })
        })
        .count() as u64;
    assert!(by_companyapi > 0);
    let before = t.sandbox_requests();
    let o = run(
        t.cmd(&[
            "reenrich",
            "--provider",
            "companyapi",
            "--dry-run",
            "--json",
        ]),
        0,
    );
    let dry: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(dry["matched"].as_u64(), Some(by_companyapi), "{dry}");
    assert_eq!(dry["queued"], 0);
    assert!(dry["max_credits"].as_f64().unwrap() > 0.0);
    let st = status(&t).unwrap();
    assert_eq!(st["queued_due"], 0, "a dry run changes nothing");
    assert_eq!(t.sandbox_requests(), before);
    let o = run(
        t.cmd(&["reenrich", "--provider", "companyapi", "--json"]),
        0,
    );
    let real: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(real["queued"].as_u64(), Some(by_companyapi), "{real}");
    wait_idle(&t, Duration::from_secs(120));
    let out = stdout(&run(t.cmd(&["show", "lead00001"]), 0));
    assert!(out.contains("person.first_name"), "{out}");
}

fn every_pass_scores_and_routes_and_a_signal_reroutes_with_an_outbox_event() {
    let t = TestDir::new();
    let mut d = Daemon::start(&t);
    let leads = t.write("leads.csv", t.sandbox.world().sample_leads_csv(40));
    run(t.cmd(&["import", leads.to_str().unwrap()]), 0);
    wait_idle(&t, Duration::from_secs(120));
    let records = export(&t);
    assert!(
        records
            .iter()
            .all(|r| r["route"]["route"].is_string() && r["scores"].is_array()),
        "every record scored and routed"
    );
    // A lead with fit but no intent is in nurture; a demo request moves it.
    let target = records
        .iter()
        .find(|r| {
            r["route"]["route"] == "nurture"
                && r["scores"][0]["min"].as_f64().unwrap_or(0.0) >= 60.0
        })
        .or_else(|| records.iter().find(|r| r["route"]["route"] == "nurture"))
        .expect("some lead in nurture");
    let id = target["record"]["id"].as_str().unwrap().to_string();
    run(t.cmd(&["signal", &id, "demo_request"]), 0);
    run(t.cmd(&["signal", &id, "pricing_page"]), 0);
    let moved = wait_for(Duration::from_secs(60), "the signal to be scored", || {
        let out = t
            .cmd(&["show", &id, "--json"])
            .output()
            .map_err(|e| e.to_string())?;
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
        // Both signals scored (a pass may have run between them).
        if v["scores"][2]["point"].as_f64().unwrap_or(0.0) >= 80.0 {
            Ok(v)
        } else {
            Err(format!("{} {}", v["route"], v["scores"][2]))
        }
    });
    assert_ne!(moved["route"]["route"], "nurture", "{}", moved["route"]);
    assert!(
        moved["route_history"].as_array().unwrap().len() >= 2,
        "{}",
        moved["route_history"]
    );
    let shown = stdout(&run(t.cmd(&["show", &id]), 0));
    assert!(
        shown.contains("route: ") && shown.contains("Demo request (+"),
        "{shown}"
    );
    // Route changes are in the outbox, written with the record (a clean stop
    // flushes the store; a kill -9 may roll back the last commits).
    assert!(d.terminate().success());
    let events = t.outbox_events();
    assert!(
        events.len() >= 41,
        "one first routing per lead plus the change: {}",
        events.len()
    );
    let ours: Vec<_> = events
        .iter()
        .filter(|e| e["record_id"] == id.as_str())
        .collect();
    assert_eq!(ours[1]["old_route"], "nurture");
    assert_eq!(ours[1]["id"], format!("{id}#2"));
}

fn route_events_reach_a_signed_webhook_at_least_once_across_a_crash() {
    use axum::http::{HeaderMap, StatusCode};
    use std::sync::{Arc, Mutex};
    #[derive(Default)]
    struct Seen {
        requests: u64,
        bad_signatures: u64,
        accepted: std::collections::BTreeSet<String>,
    }
    let t = TestDir::new();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let secret = "whsec-test-1234";
    let receiver = {
        let seen = seen.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let seen = seen.clone();
                async move {
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string()
                    };
                    let ts: i64 = h("x-leadfall-timestamp").parse().unwrap_or(0);
                    let mut s = seen.lock().unwrap();
                    s.requests += 1;
                    if !leadfall::sink::verify(secret, ts, &body, &h("x-leadfall-signature")) {
                        s.bad_signatures += 1;
                        return StatusCode::UNAUTHORIZED;
                    }
                    // The first two deliveries fail: the sink must retry.
                    if s.requests <= 2 {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    s.accepted.insert(h("x-leadfall-event-id"));
                    StatusCode::OK
                }
            }),
        )
    };
    let listener =
        t.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    t.rt.spawn(async move { axum::serve(listener, receiver).await });
    let config = std::fs::read_to_string(t.config()).unwrap();
    std::fs::write(
        t.config(),
        format!("{config}\n[[sinks]]\nname = \"crm\"\nkind = \"webhook\"\nurl = \"{hook}\"\nsecret_env = \"LEADFALL_TEST_WEBHOOK_SECRET\"\n"),
    )
    .unwrap();
    t.env
        .borrow_mut()
        .push(("LEADFALL_TEST_WEBHOOK_SECRET".into(), secret.into()));
    let mut d = Daemon::start(&t);
    let leads = t.write("leads.csv", t.sandbox.world().sample_leads_csv(60));
    run(t.cmd(&["import", leads.to_str().unwrap()]), 0);
    wait_for(Duration::from_secs(60), "some events delivered", || {
        let n = seen.lock().unwrap().accepted.len();
        if n >= 5 {
            Ok(())
        } else {
            Err(format!("{n} accepted"))
        }
    });
    d.kill9();
    let _d = Daemon::start(&t);
    wait_idle(&t, Duration::from_secs(120));
    let head = wait_for(Duration::from_secs(60), "the sink to catch up", || {
        let s = status(&t)?;
        let sink = &s["sinks"][0];
        if sink["lag"] == 0 {
            Ok(sink.clone())
        } else {
            Err(sink.to_string())
        }
    });
    assert_eq!(head["dead_letters"], 0, "{head}");
    let s = seen.lock().unwrap();
    assert_eq!(s.bad_signatures, 0);
    assert!(
        s.requests >= 2 + s.accepted.len() as u64,
        "two failures were retried"
    );
    // Every routed lead produced an event and every event arrived (duplicates collapse by id).
    assert!(
        s.accepted.len() >= 60,
        "{} events accepted",
        s.accepted.len()
    );
    assert!(s.accepted.iter().all(|id| id.contains('#')), "stable ids");
}

fn leads_with_signals_are_rescored_on_the_decay_tick() {
    let t = TestDir::new();
    let config = std::fs::read_to_string(t.config()).unwrap();
    std::fs::write(
        t.config(),
        config.replace("rescore_every_secs = 3600", "rescore_every_secs = 1"),
    )
    .unwrap();
    let _d = Daemon::start(&t);
    let leads = t.write("leads.csv", t.sandbox.world().sample_leads_csv(5));
    run(t.cmd(&["import", leads.to_str().unwrap()]), 0);
    // A day old: inside the rule's 60-day window, so it counts and decays
    // (half-life 14 days) by a little every second that passes.
    let at = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    run(
        t.cmd(&["signal", "lead00001", "pricing_page", "--at", &at]),
        0,
    );
    let settled = wait_idle(&t, Duration::from_secs(60))["passes_since_start"]
        .as_u64()
        .unwrap();
    let before = intent(&t, "lead00001");
    assert!(before > 0.0, "the signal counts: intent {before}");
    // Nothing else happens, yet the stored intent keeps going down: only a
    // rescore on the decay tick can lower it.
    wait_for(Duration::from_secs(30), "a decay rescore", || {
        let now = intent(&t, "lead00001");
        if now < before {
            Ok(())
        } else {
            Err(format!("intent {now}, was {before}"))
        }
    });
    let p = status(&t).unwrap()["passes_since_start"].as_u64().unwrap();
    assert!(p > settled, "{p} passes, {settled} when idle");
}

/// The stored intent score (its point value) of one record.
fn intent(t: &TestDir, id: &str) -> f64 {
    let all = export(t);
    let r = all
        .iter()
        .find(|r| r["record"]["id"] == id)
        .unwrap_or_else(|| panic!("{id} not exported"));
    r["scores"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "intent"))
        .and_then(|s| s["point"].as_f64())
        .unwrap_or_else(|| panic!("no intent score: {}", r["scores"]))
}

/// Routes of every exported record, by id.
fn routes(t: &TestDir) -> BTreeMap<String, String> {
    export(t)
        .iter()
        .map(|r| {
            (
                r["record"]["id"].as_str().unwrap().to_string(),
                r["route"]["route"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn reload_and_sighup_apply_new_routes_to_every_lead_and_a_bad_file_changes_nothing() {
    let t = TestDir::new();
    let mut d = Daemon::start(&t);
    let leads = t.write("leads.csv", t.sandbox.world().sample_leads_csv(20));
    run(t.cmd(&["import", leads.to_str().unwrap()]), 0);
    wait_idle(&t, Duration::from_secs(120));
    let before = routes(&t);
    assert!(before.values().all(|r| r != "hold"), "{before:?}");

    // A new first route that takes every lead.
    let routing = std::fs::read_to_string(t.path("config/routing.toml")).unwrap();
    let hold = "[[routes]]\nname = \"hold\"\nwhen = { always = true }\nsuppress = \"timing\"\nrecycle_days = 30\n\n";
    t.write("config/routing.toml", format!("{hold}{routing}"));
    let out = run(t.cmd(&["reload", "--json"]), 0);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["changed"],
        serde_json::json!(["routing"]),
        "{summary}"
    );
    assert_eq!(summary["queued"], 20, "{summary}");
    wait_for(
        Duration::from_secs(60),
        "every lead to take the new route",
        || {
            let r = routes(&t);
            let held = r.values().filter(|v| *v == "hold").count();
            if held == r.len() {
                Ok(())
            } else {
                Err(format!("{held}/{} held", r.len()))
            }
        },
    );

    // A broken file: the daemon keeps the rules it runs with and says where the error is.
    t.write(
        "config/routing.toml",
        format!("{hold}{routing}").replace("suppress = \"timing\"", "suppress = \"whim\""),
    );
    let bad = run(t.cmd(&["reload"]), 2);
    let err = stderr(&bad);
    assert!(
        err.contains("routing.toml")
            && err.contains("suppress")
            && err.contains("kept its running configuration"),
        "{err}"
    );
    assert_eq!(status(&t).unwrap()["queued_due"], 0, "nothing was queued");

    // SIGHUP reloads as well: back to the original routes.
    t.write("config/routing.toml", &routing);
    let pid = d.child.as_ref().unwrap().id().to_string();
    let mut hup = std::process::Command::new("kill");
    hup.args(["-HUP", &pid]);
    run(hup, 0);
    wait_for(Duration::from_secs(60), "the original routes again", || {
        let r = routes(&t);
        if r == before {
            Ok(())
        } else {
            Err(format!("{:?}", r.values().filter(|v| *v == "hold").count()))
        }
    });
    assert!(
        d.log()
            .contains("SIGHUP: configuration reloaded (changed: routing; 20 records queued)"),
        "{}",
        d.log()
    );
    // A clean stop flushes the store (a kill -9 could roll back the last commits).
    assert!(d.terminate().success());
    // Each lead's route changed twice more, each change an outbox event.
    let events = t.outbox_events();
    let to_hold = events.iter().filter(|e| e["new_route"] == "hold").count();
    let from_hold = events.iter().filter(|e| e["old_route"] == "hold").count();
    assert_eq!((to_hold, from_hold), (20, 20));
}

#[test]
fn a_store_from_a_newer_leadfall_is_refused_by_serve_and_report() {
    let t = TestDir::new();
    let mut d = Daemon::start(&t);
    d.kill9();
    let newer = leadfall::store::SLED_SCHEMA + 1;
    leadfall::store::Store::open(&t.path("data/store"))
        .unwrap()
        .set_schema_version(newer)
        .unwrap();
    let want = format!(
        "the schema is at version {newer}, newer than this leadfall knows ({}): a newer leadfall has upgraded it; upgrade this binary",
        leadfall::store::SLED_SCHEMA
    );
    for args in [&["serve", "--listen", "127.0.0.1:0"][..], &["report"][..]] {
        let out = t.cmd(args).output().unwrap();
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        assert!(stderr(&out).contains(&want), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_daemon_stops_when_a_newer_leadfall_migrates_the_shared_store() {
    crate::util::on_postgres_with(|| {
        if leadfall::store::postgres::test_server().is_none() {
            return;
        }
        let t = TestDir::new();
        let mut d = Daemon::start(&t);
        let leadfall::store::Opened::Postgres(pg) = t.store() else {
            unreachable!("a PostgreSQL test dir")
        };
        let (_, known) = pg.schema_version().unwrap();
        pg.execute_for_tests(&format!(
            "INSERT INTO schema_migrations (version, name) VALUES ({}, 'from the future')",
            known + 1
        ));
        let status = wait_for(Duration::from_secs(30), "the daemon to stop", || {
            d.child
                .as_mut()
                .unwrap()
                .try_wait()
                .unwrap()
                .ok_or_else(|| "still running".to_string())
        });
        d.child = None;
        assert!(!status.success(), "{}", d.log());
        assert!(
            d.log()
                .contains("stopping: the shared store's schema moved on"),
            "{}",
            d.log()
        );
        let out = t.cmd(&["migrate"]).output().unwrap();
        assert_ne!(out.status.code(), Some(0));
        assert!(
            stderr(&out).contains(&format!(
                "the schema is at version {}, newer than this leadfall knows ({known})",
                known + 1
            )),
            "{}",
            stderr(&out)
        );
    });
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// Every path under `dir` (itself excluded).
fn tree(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(tree(&path));
        }
        all.push(path);
    }
    all
}

#[test]
fn a_fresh_data_dir_is_0700_and_nothing_in_it_is_open_to_others() {
    let t = TestDir::new();
    let data = t.path("data");
    assert!(!data.exists());
    let d = Daemon::start(&t);
    assert_eq!(mode(&data), 0o700);
    let files = tree(&data);
    for name in ["control.token", "control.addr", "daemon.lock", "store"] {
        assert!(files.contains(&data.join(name)), "{name} in {files:?}");
    }
    let open: Vec<String> = files
        .iter()
        .filter(|p| mode(p) & 0o077 != 0)
        .map(|p| format!("{} {:o}", p.display(), mode(p)))
        .collect();
    assert!(open.is_empty(), "open to others: {open:?}");
    assert!(!d.log().contains("chmod 700"), "{}", d.log());
}

#[test]
fn an_existing_loose_data_dir_is_warned_about_by_check_and_serve() {
    use std::os::unix::fs::PermissionsExt;
    let t = TestDir::new();
    let data = t.path("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    // `check` reads data_dir as the config gives it (relative to the config file).
    let shown = t.path("config/../data");
    let want = format!("warning: data directory {} has mode 0755", shown.display());
    let fix = format!("chmod 700 {}", shown.display());
    let check = stderr(&run(t.cmd(&["check"]), 0));
    assert!(check.contains(&want) && check.contains(&fix), "{check}");
    let json = run(t.cmd(&["check", "--json"]), 0);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(v["warnings"][0].as_str().unwrap().contains(&fix), "{v}");
    let d = Daemon::start(&t);
    let log = d.log();
    assert!(log.contains(&want) && log.contains(&fix), "{log}");
    // The operator's directory keeps its mode: the warning says how to fix it.
    assert_eq!(mode(&data), 0o755);
}

#[test]
fn import_keeps_a_row_without_identity_and_counts_its_warning() {
    let t = TestDir::new();
    let _d = Daemon::start(&t);
    let mut csv = t.sandbox.world().sample_leads_csv(2);
    csv.push_str("anon,,,Acme,acme.io,\nbad,Ann,Lee,Acme,acme.io,ann@@acme\n");
    let leads = t.write("leads.csv", csv);
    // A warning alone exits 0; the rejected row makes it 3.
    let o = run(t.cmd(&["import", leads.to_str().unwrap(), "--json"]), 3);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let counts = ["good", "rejected", "warnings"].map(|k| v[k].as_u64());
    assert_eq!(counts, [Some(3), Some(1), Some(1)], "{v}");
    let rejects = std::fs::read_to_string(t.path("leads.csv.rejects.csv")).unwrap();
    assert!(
        rejects.contains("4,anon,\"warning: no identity") && rejects.contains("5,bad,"),
        "{rejects}"
    );
    let text = stdout(&run(t.cmd(&["import", leads.to_str().unwrap()]), 3));
    assert!(
        text.contains("3 imported, 1 rejected, 1 warnings (see "),
        "{text}"
    );
    let ids: Vec<String> = export(&t)
        .iter()
        .map(|r| r["record"]["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.contains(&"anon".to_string()), "{ids:?}");
}

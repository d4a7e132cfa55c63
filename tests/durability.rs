//! What the daemon acknowledged survives a `kill -9` the instant after the
//! acknowledgement: single upserts over HTTP, whole imports through the CLI,
//! signals. Each cycle starts the real daemon, checks that everything
//! acknowledged before is there (through the API), makes one acknowledged
//! write and SIGKILLs the daemon as soon as the answer is in.

// A test reads small answers of its own daemon whole.
#![allow(clippy::disallowed_methods)]

use crate::util::daemon::Daemon;
use crate::util::{run, stdout, TestDir};
use std::collections::BTreeMap;

#[test]
fn nothing_acknowledged_is_lost_to_a_kill_right_after_the_answer() {
    kills_after_acknowledgements(Cycles {
        upserts: 50,
        imports: 20,
        signals: 20,
    });
}

/// On PostgreSQL an answer follows the commit; each start waits for the
/// other members to see it (`SETTLE`), so fewer cycles keep the suite short.
#[test]
fn nothing_acknowledged_is_lost_to_a_kill_right_after_the_answer_on_postgres() {
    if leadfall::store::postgres::test_server().is_none() {
        return;
    }
    crate::util::on_postgres_with(|| {
        kills_after_acknowledgements(Cycles {
            upserts: 10,
            imports: 5,
            signals: 5,
        })
    });
}

const ROWS_PER_IMPORT: usize = 300;

/// How many acknowledged writes of each kind are followed by a kill.
struct Cycles {
    upserts: usize,
    imports: usize,
    signals: usize,
}

/// What the daemons said yes to so far: record ids, and signals per id.
#[derive(Default)]
struct Acknowledged {
    ids: Vec<String>,
    signals: BTreeMap<String, usize>,
}

fn kills_after_acknowledgements(n: Cycles) {
    let t = TestDir::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let world = t.sandbox.world();
    let mut acked = Acknowledged::default();
    // Interleaved, so each kind of write meets a daemon busy with the others' work.
    let mut plan: Vec<char> = Vec::new();
    for i in 0..n.upserts {
        plan.push('u');
        if i < n.imports {
            plan.push('i');
        }
        if i < n.signals {
            plan.push('s');
        }
    }
    for (cycle, kind) in plan.iter().enumerate() {
        let mut d = Daemon::start(&t);
        check_all_there(&t, &rt, &client, &d, &acked, cycle);
        match kind {
            'u' => {
                let id = format!("up{cycle:03}");
                let body = serde_json::json!({"records": [{
                    "id": id, "updated_at": "2026-12-01T00:00:00Z",
                    "fields": {"person.first_name": input("Ada"),
                               "person.last_name": input(&format!("Kill{cycle}")),
                               "company.domain": input("example.com")}
                }]});
                let token = token(&t);
                let resp = rt
                    .block_on(
                        client
                            .post(format!("http://{}/v1/records", d.addr))
                            .bearer_auth(&token)
                            .header("content-type", "application/json")
                            .body(body.to_string())
                            .send(),
                    )
                    .unwrap();
                let status = resp.status().as_u16();
                let answer = json(&rt.block_on(resp.bytes()).unwrap());
                d.kill9();
                assert_eq!(
                    (status, &answer["created"]),
                    (200, &serde_json::json!(1)),
                    "{answer}"
                );
                acked.ids.push(id);
            }
            'i' => {
                let csv = world
                    .sample_leads_csv(ROWS_PER_IMPORT)
                    .replace("\nlead", &format!("\nim{cycle:03}-"));
                let file = t.write(&format!("import-{cycle}.csv"), csv);
                let out = run(t.cmd(&["import", file.to_str().unwrap(), "--json"]), 0);
                d.kill9();
                let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(summary["good"].as_u64(), Some(ROWS_PER_IMPORT as u64));
                acked
                    .ids
                    .extend((0..ROWS_PER_IMPORT).map(|n| format!("im{cycle:03}-{n:05}")));
            }
            _ => {
                // A record acknowledged earlier gets one more signal.
                let id = acked.ids[cycle % acked.ids.len()].clone();
                let out = run(t.cmd(&["signal", &id, "demo_request"]), 0);
                d.kill9();
                assert!(stdout(&out).contains("recorded"), "{}", stdout(&out));
                *acked.signals.entry(id).or_default() += 1;
            }
        }
    }
    let d = Daemon::start(&t);
    check_all_there(&t, &rt, &client, &d, &acked, plan.len());
}

/// A value from the lead list, as the API takes it.
fn input(value: &str) -> serde_json::Value {
    serde_json::json!({"state": "known", "value": value, "source": "input",
                       "confidence": 1.0, "observed_at": "2026-12-01T00:00:00Z"})
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

fn token(t: &TestDir) -> String {
    std::fs::read_to_string(t.path("data/control.token"))
        .unwrap()
        .trim()
        .to_string()
}

/// Every acknowledged record and signal is there, read through the API.
fn check_all_there(
    t: &TestDir,
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    d: &Daemon,
    acked: &Acknowledged,
    cycle: usize,
) {
    let token = token(t);
    let status = json(
        &rt.block_on(async {
            client
                .get(format!("http://{}/v1/status", d.addr))
                .bearer_auth(&token)
                .send()
                .await?
                .bytes()
                .await
        })
        .unwrap(),
    );
    assert_eq!(
        status["records"].as_u64(),
        Some(acked.ids.len() as u64),
        "cycle {cycle}: records after restart"
    );
    // The count covers every record; the newest writes are the ones a late
    // flush would lose first: read a few of them back whole.
    let newest = acked.ids.iter().rev().take(5);
    let signalled = acked.signals.keys();
    for id in newest.chain(signalled) {
        let record = json(
            &rt.block_on(async {
                client
                    .get(format!("http://{}/v1/records/{id}", d.addr))
                    .bearer_auth(&token)
                    .send()
                    .await?
                    .error_for_status()?
                    .bytes()
                    .await
            })
            .unwrap_or_else(|e| panic!("cycle {cycle}: record {id} lost: {e}")),
        );
        let want = acked.signals.get(id).copied().unwrap_or(0);
        let got = record["signals"].as_array().map_or(0, Vec::len);
        assert_eq!(got, want, "cycle {cycle}: signals of {id}");
    }
}

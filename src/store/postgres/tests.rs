//! What only a shared store has: several members on one database leasing
//! without overlap, a dead member's leases and sinks taken over, budgets held
//! across members, outbox order, and the copy from sled.

use super::*;
use crate::engine::merge::merge_input;
use crate::model::Precedence;
use crate::model::{FieldState, Record, Value};
use crate::store::SharedTally;
use crate::store::StoredRecord;
use crate::store::{CallStore, LedgerEntry, RecordStore, StepCommit, Store};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::time::Duration;

fn merge(e: Option<StoredRecord>, r: Record, now: DateTime<Utc>) -> (StoredRecord, bool) {
    merge_input(e, r, now, &Precedence::default())
}

fn rec(id: &str) -> Record {
    let mut r = Record::new(id, Utc::now());
    r.set(
        "person.first_name",
        FieldState::input(Value::Text(format!("n{id}")), Utc::now()),
    );
    r
}

/// A fresh database and `n` members on it (each its own pool and id).
fn members(n: usize) -> Option<(TempDatabase, Vec<PgStore>)> {
    let server = test_server()?;
    let db = TempDatabase::create(&server).expect("test PostgreSQL server");
    let first = PgStore::open_migrated(db.url()).unwrap();
    let mut all = vec![first];
    for _ in 1..n {
        all.push(PgStore::open(db.url()).unwrap());
    }
    Some((db, all))
}

fn age_heartbeat(s: &PgStore, secs: i64) {
    s.block(async {
        let c = s.conn().await?;
        c.execute(
            "UPDATE members SET heartbeat_at = now() - make_interval(secs => $2) WHERE id = $1",
            &[&s.member_id(), &(secs as f64)],
        )
        .await?;
        Ok::<_, crate::store::StoreError>(())
    })
    .unwrap();
}

#[test]
fn members_leasing_together_never_share_a_record() {
    let Some((_db, stores)) = members(3) else {
        return;
    };
    let ids: Vec<Record> = (0..600).map(|i| rec(&format!("r{i:04}"))).collect();
    stores[0].upsert(ids, Utc::now(), &merge).unwrap();
    let leased: Vec<Vec<String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = stores
            .iter()
            .map(|s| {
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let got = s.lease_due(Utc::now(), 7, Duration::from_secs(60)).unwrap();
                        if got.is_empty() {
                            return mine;
                        }
                        for l in got {
                            mine.push(l.record.record.id.clone());
                            s.commit_step(StepCommit {
                                record: l.record,
                                lease: l.lease,
                                outbox: vec![serde_json::json!({"id": mine.last()})],
                                next_due: None,
                            })
                            .unwrap();
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: Vec<&String> = leased.iter().flatten().collect();
    let unique: BTreeSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), 600, "every record leased once");
    assert_eq!(unique.len(), 600, "no record leased by two members");
    assert!(leased.iter().all(|m| !m.is_empty()), "each member got work");
    // Outbox: one event per commit, numbered without gaps in commit order.
    let events = stores[1].outbox_after(0, 10_000).unwrap();
    assert_eq!(events.len(), 600);
    assert!(events.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(stores[2].queue_stats(Utc::now()).unwrap().leased, 0);
}

#[test]
fn a_dead_members_leases_and_sink_are_taken_over() {
    let Some((_db, stores)) = members(2) else {
        return;
    };
    let (a, b) = (&stores[0], &stores[1]);
    a.register("127.0.0.1:1").unwrap();
    b.register("127.0.0.1:2").unwrap();
    a.upsert(vec![rec("x"), rec("y")], Utc::now(), &merge)
        .unwrap();
    let held = a
        .lease_due(Utc::now(), 2, Duration::from_secs(3600))
        .unwrap();
    assert_eq!(held.len(), 2);
    assert!(a.claim_sink("hook").unwrap());
    assert!(
        !b.claim_sink("hook").unwrap(),
        "a live member keeps its sink"
    );
    assert_eq!(b.recover_leases(Utc::now(), true).unwrap(), 0, "a is alive");
    let m = b.members().unwrap();
    assert_eq!((m.len(), m[0].leases, m[0].live), (2, 2, true));

    age_heartbeat(a, LIVE_SECS as i64 + 1);
    assert_eq!(b.heartbeat().unwrap(), (1, 0), "only b is live");
    assert_eq!(
        b.recover_leases(Utc::now(), true).unwrap(),
        2,
        "a dead member's leases come back before they expire"
    );
    assert!(
        b.claim_sink("hook").unwrap(),
        "the dead member's sink moves"
    );
    assert!(!a.claim_sink("hook").unwrap());
    let late = a.commit_step(StepCommit {
        record: held[0].record.clone(),
        lease: held[0].lease,
        outbox: vec![],
        next_due: None,
    });
    assert!(matches!(late, Err(crate::store::StoreError::LeaseLost(_))));
    // A member that leaves gives its leases back at once.
    let again = b
        .lease_due(Utc::now(), 2, Duration::from_secs(3600))
        .unwrap();
    assert_eq!(again.len(), 2);
    b.deregister().unwrap();
    assert_eq!(a.queue_stats(Utc::now()).unwrap().queued_due, 2);
}

#[test]
fn a_budget_shared_by_members_is_never_exceeded() {
    let Some((_db, stores)) = members(3) else {
        return;
    };
    let caps = [("total|day:2026-12-01".to_string(), 100.0)];
    let spent: Vec<f64> = std::thread::scope(|scope| {
        let hs: Vec<_> = stores
            .iter()
            .map(|s| {
                let caps = &caps;
                scope.spawn(move || {
                    let t = PgBudgetTally(s.clone());
                    let mut spent = 0.0;
                    while t.reserve(caps, 3.0).unwrap().is_empty() {
                        t.finish(&[caps[0].0.clone()], 3.0, 3.0).unwrap();
                        spent += 3.0;
                    }
                    spent
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(spent.iter().sum::<f64>(), 99.0, "{spent:?}");
    let t = PgBudgetTally(stores[0].clone());
    assert_eq!(t.usage(&[caps[0].0.clone()]).unwrap(), vec![(99.0, 0.0)]);
    // A dead member's hold stops counting; spending never does.
    let b = PgBudgetTally(stores[1].clone());
    stores[1].register("127.0.0.1:2").unwrap();
    let caps2 = [("p|day:2026-12-01".to_string(), 10.0)];
    assert!(b.reserve(&caps2, 8.0).unwrap().is_empty());
    assert_eq!(t.reserve(&caps2, 5.0).unwrap(), vec![0]);
    age_heartbeat(&stores[1], LIVE_SECS as i64 + 1);
    assert!(t.reserve(&caps2, 5.0).unwrap().is_empty());
}

#[test]
fn migrate_from_sled_copies_everything_and_counts_match() {
    let Some(server) = test_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sled = Store::open(dir.path()).unwrap();
    sled.upsert(
        (0..50).map(|i| rec(&format!("r{i}"))).collect(),
        Utc::now(),
        &merge,
    )
    .unwrap();
    let l = sled
        .lease_due(Utc::now(), 10, Duration::from_secs(60))
        .unwrap();
    for (i, l) in l.into_iter().enumerate() {
        sled.commit_step(StepCommit {
            record: l.record,
            lease: l.lease,
            outbox: vec![serde_json::json!({"n": i})],
            next_due: None,
        })
        .unwrap();
    }
    let held = sled
        .lease_due(Utc::now(), 1, Duration::from_secs(60))
        .unwrap();
    sled.dead_letter(&held[0].record.record.id, held[0].lease, "boom")
        .unwrap();
    sled.set_outbox_cursor("hook", 4).unwrap();
    let row = LedgerEntry {
        at: Utc::now(),
        record_id: Some("r1".into()),
        operation: "x.y".into(),
        provider: "x".into(),
        outcome: "hit".into(),
        cached: false,
        credits: 2.5,
        saved_credits: 0.0,
        latency_ms: 3,
        attempts: 1,
        throttled: 0,
        status: Some(200),
        error: None,
        choice: None,
        fields: vec![],
    };
    let entry = crate::store::CacheEntry {
        paid_for: None,
        outcome: crate::store::CachedOutcome::NotFound,
        credits: 2.5,
        stored_at: Utc::now(),
        expires_at: Utc::now() + chrono::Duration::days(1),
    };
    sled.record_call(Some((b"x.y\0{}", &entry)), &row, true)
        .unwrap();
    sled.set_email_pattern("acme.io", "first.last").unwrap();

    let db = TempDatabase::create(&server).unwrap();
    let pg = PgStore::open_migrated(db.url()).unwrap();
    let (copied, found) = copy_from_sled(&sled, &pg).unwrap();
    assert_eq!(copied, found);
    assert_eq!(
        (
            copied.records,
            copied.queued,
            copied.dead,
            copied.outbox,
            copied.cursors
        ),
        (50, 39, 1, 10, 1)
    );
    assert_eq!(pg.outbox_cursor("hook").unwrap(), 4);
    assert_eq!(pg.ledger().unwrap(), vec![row]);
    assert_eq!(pg.cache_get(b"x.y\0{}", Utc::now()).unwrap(), Some(entry));
    let a = sled.call_buckets(0, u32::MAX).unwrap();
    assert_eq!(pg.call_buckets(0, u32::MAX).unwrap(), a);
    assert_eq!(
        pg.email_pattern("acme.io").unwrap().as_deref(),
        Some("first.last")
    );
    for id in ["r0", "r20", &held[0].record.record.id] {
        assert_eq!(pg.get(id).unwrap(), sled.get(id).unwrap(), "{id}");
    }
    assert!(
        copy_from_sled(&sled, &pg).is_err(),
        "refuses a database with records"
    );
}

#[test]
fn schema_is_versioned_and_a_stale_one_is_refused() {
    let Some(server) = test_server() else { return };
    let db = TempDatabase::create(&server).unwrap();
    let e = PgStore::open(db.url()).unwrap_err().to_string();
    assert!(
        e.contains("schema is at version 0") && e.contains("leadfall migrate"),
        "{e}"
    );
    let s = PgStore::connect(db.url()).unwrap();
    let r = s.migrate().unwrap();
    assert_eq!(
        (r.from, r.to, r.applied.len()),
        (0, MIGRATIONS.len() as i32, MIGRATIONS.len())
    );
    assert!(s.migrate().unwrap().applied.is_empty(), "applied once");
    PgStore::open(db.url()).unwrap();
}

#[test]
fn a_schema_newer_than_the_binary_is_refused_by_open_and_migrate() {
    let Some(server) = test_server() else { return };
    let db = TempDatabase::create(&server).unwrap();
    let s = PgStore::open_migrated(db.url()).unwrap();
    let known = MIGRATIONS.last().unwrap().version;
    // An equal schema opens; a newer one (a newer leadfall migrated it) does not.
    PgStore::open(db.url()).unwrap();
    s.block(async {
        let c = s.conn().await?;
        c.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, 'from the future')",
            &[&(known + 1)],
        )
        .await?;
        Ok::<_, StoreError>(())
    })
    .unwrap();
    let want = format!(
        "the schema is at version {}, newer than this leadfall knows ({known}): a newer leadfall has upgraded it; upgrade this binary",
        known + 1
    );
    for e in [
        PgStore::open(db.url()).unwrap_err(),
        PgStore::open_migrated(db.url()).unwrap_err(),
        s.migrate().unwrap_err(),
    ] {
        assert!(
            matches!(e, StoreError::SchemaTooNew { found, known: k, .. } if found == known + 1 && k == known),
            "{e}"
        );
        assert!(e.to_string().contains(&want), "{e}");
    }
    assert_eq!(
        s.schema_version().unwrap(),
        (known + 1, known),
        "nothing applied"
    );
}

#[test]
fn an_older_schema_is_named_with_the_migrate_advice() {
    let Some(server) = test_server() else { return };
    let db = TempDatabase::create(&server).unwrap();
    let s = PgStore::connect(db.url()).unwrap();
    s.migrate().unwrap();
    // Back to version 1, as a database an older leadfall left.
    s.block(async {
        let c = s.conn().await?;
        c.execute("DELETE FROM schema_migrations WHERE version > 1", &[])
            .await?;
        Ok::<_, StoreError>(())
    })
    .unwrap();
    let e = PgStore::open(db.url()).unwrap_err().to_string();
    assert!(
        e.contains("the database schema is at version 1") && e.contains("run `leadfall migrate`"),
        "{e}"
    );
}

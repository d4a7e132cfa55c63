//! Store tests, each run on both backends (sled in a temp dir, PostgreSQL in
//! a database of its own), including a model-based run of random upsert /
//! lease / commit / recover / reopen sequences.

use super::postgres::{test_server, PgStore, TempDatabase};
use super::*;
use crate::engine::merge::merge_input as merge_with;
use crate::model::Precedence;
use crate::store::{QueueState, StoredRecord};

fn merge_input(e: Option<StoredRecord>, r: Record, now: DateTime<Utc>) -> (StoredRecord, bool) {
    merge_with(e, r, now, &Precedence::default())
}
use crate::model::{FieldState, Record, Value};
use chrono::{DateTime, Duration as CDuration, TimeZone, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

fn t(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + CDuration::seconds(s)
}

fn rec(id: &str, name: &str) -> Record {
    let mut r = Record::new(id, t(0));
    r.set(
        "person.first_name",
        FieldState::input(Value::Text(name.into()), t(0)),
    );
    r
}

/// One backend under test, and how to open it again.
enum Under {
    Sled(Option<Store>, tempfile::TempDir),
    Pg(Option<PgStore>, TempDatabase),
}

impl Under {
    fn sled() -> Under {
        let dir = tempfile::tempdir().unwrap();
        Under::Sled(Some(Store::open(dir.path()).unwrap()), dir)
    }

    fn pg() -> Option<Under> {
        let Some(server) = test_server() else {
            eprintln!("SKIPPED the PostgreSQL half: LEADFALL_TEST_PG=off");
            return None;
        };
        let db = TempDatabase::create(&server)
            .unwrap_or_else(|e| panic!("PostgreSQL at {server} (LEADFALL_TEST_PG=off skips): {e}"));
        Some(Under::Pg(
            Some(PgStore::open_migrated(db.url()).unwrap()),
            db,
        ))
    }

    /// Both backends.
    fn all() -> Vec<Under> {
        std::iter::once(Under::sled()).chain(Under::pg()).collect()
    }

    fn name(&self) -> &'static str {
        match self {
            Under::Sled(..) => "sled",
            Under::Pg(..) => "postgres",
        }
    }

    fn records(&self) -> &dyn RecordStore {
        match self {
            Under::Sled(s, _) => s.as_ref().unwrap(),
            Under::Pg(s, _) => s.as_ref().unwrap(),
        }
    }

    fn calls(&self) -> &dyn CallStore {
        match self {
            Under::Sled(s, _) => s.as_ref().unwrap(),
            Under::Pg(s, _) => s.as_ref().unwrap(),
        }
    }

    /// Close and open again: a clean restart (sled's handle is flushed and
    /// dropped in this process), not a crash; what survives a kill -9 is
    /// [`flushed_data_and_leases_survive_a_kill_9`]'s.
    fn reopen(&mut self) {
        match self {
            Under::Sled(s, dir) => {
                s.take().unwrap().flush().unwrap();
                *s = Some(reopen(dir.path()));
            }
            Under::Pg(s, db) => {
                drop(s.take());
                *s = Some(PgStore::open(db.url()).unwrap());
            }
        }
    }

    /// Empty it (a fresh start within one test).
    fn clear(&mut self) {
        match self {
            Under::Sled(..) => *self = Under::sled(),
            Under::Pg(s, _) => s.as_ref().unwrap().truncate_all().unwrap(),
        }
    }
}

fn commit(
    store: &dyn RecordStore,
    l: &Leased,
    next_due: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    store.commit_step(StepCommit {
        record: l.record.clone(),
        lease: l.lease,
        outbox: vec![],
        next_due,
    })
}

/// Open again in the same process: sled's background threads release the
/// previous handle's file lock a moment after it is dropped, so wait for it.
fn reopen(dir: &std::path::Path) -> Store {
    try_reopen(dir).unwrap_or_else(|e| panic!("{e}"))
}

/// [`reopen`], returning the error other than the lock's.
fn try_reopen(dir: &std::path::Path) -> Result<Store, StoreError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(dir) {
            Err(e) if std::time::Instant::now() < deadline && e.to_string().contains("lock") => {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

#[test]
fn upsert_lease_commit_and_idle() {
    for b in Under::all() {
        upsert_lease_commit_and_idle_on(b.records());
    }
}

fn upsert_lease_commit_and_idle_on(s: &dyn RecordStore) {
    let sum = s
        .upsert(vec![rec("a", "Ann"), rec("b", "Bob")], t(0), &merge_input)
        .unwrap();
    assert_eq!((sum.created, sum.queued), (2, 2));
    let leased = s.lease_due(t(1), 10, Duration::from_secs(60)).unwrap();
    assert_eq!(leased.len(), 2);
    assert!(
        s.lease_due(t(1), 10, Duration::from_secs(60))
            .unwrap()
            .is_empty(),
        "leased records are not leased twice"
    );
    commit(s, &leased[0], None).unwrap();
    commit(s, &leased[1], Some(t(100))).unwrap();
    assert_eq!(
        s.get("a").unwrap().unwrap().queue,
        QueueState::Idle { next_due: None }
    );
    assert_eq!(
        s.get("b").unwrap().unwrap().queue,
        QueueState::Queued { due: t(100) }
    );
    assert!(
        s.lease_due(t(50), 10, Duration::from_secs(60))
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    assert_eq!(
        s.lease_due(t(100), 10, Duration::from_secs(60))
            .unwrap()
            .len(),
        1
    );
    // Re-importing the same values changes nothing and queues nothing.
    let again = s
        .upsert(vec![rec("a", "Ann")], t(200), &merge_input)
        .unwrap();
    assert_eq!((again.merged, again.queued), (1, 0));
}

#[test]
fn a_recovered_lease_cannot_commit() {
    for b in Under::all() {
        a_recovered_lease_cannot_commit_on(b.records());
    }
}

fn a_recovered_lease_cannot_commit_on(s: &dyn RecordStore) {
    s.upsert(vec![rec("a", "Ann")], t(0), &merge_input).unwrap();
    let l = s
        .lease_due(t(0), 1, Duration::from_secs(10))
        .unwrap()
        .remove(0);
    assert_eq!(s.recover_leases(t(5), true).unwrap(), 0, "not expired yet");
    assert_eq!(s.recover_leases(t(11), true).unwrap(), 1);
    assert!(matches!(commit(s, &l, None), Err(StoreError::LeaseLost(_))));
    assert!(matches!(
        s.get("a").unwrap().unwrap().queue,
        QueueState::Queued { .. }
    ));
}

#[test]
fn an_upsert_during_a_pass_supersedes_it() {
    for b in Under::all() {
        an_upsert_during_a_pass_supersedes_it_on(b.records());
    }
}

fn an_upsert_during_a_pass_supersedes_it_on(s: &dyn RecordStore) {
    s.upsert(vec![rec("a", "Ann")], t(0), &merge_input).unwrap();
    let l = s
        .lease_due(t(0), 1, Duration::from_secs(60))
        .unwrap()
        .remove(0);
    s.upsert(vec![rec("a", "Anna")], t(1), &merge_input)
        .unwrap();
    assert!(matches!(
        commit(s, &l, None),
        Err(StoreError::Superseded(_))
    ));
    let r = s.get("a").unwrap().unwrap();
    assert_eq!(
        r.record.value("person.first_name"),
        Some(&Value::Text("Anna".into()))
    );
    assert!(
        matches!(r.queue, QueueState::Queued { .. }),
        "queued again for the new input"
    );
    assert_eq!(
        s.lease_due(t(2), 1, Duration::from_secs(60)).unwrap().len(),
        1
    );
}

/// Set in the child process of the kill test: `sled\n<dir>` or `pg\n<url>`.
const KILL_CHILD: &str = "LEADFALL_TEST_STORE_KILL_CHILD";
/// The child of the kill test: write as the daemon does (commit, then
/// flush), say so, and wait to be killed without dropping anything.
fn kill_child(arg: &str) -> ! {
    let (kind, at) = arg.split_once('\n').unwrap();
    let write = |s: &dyn RecordStore| {
        s.upsert(vec![rec("a", "Ann"), rec("b", "Bob")], t(0), &merge_input)
            .unwrap();
        let _ = s.lease_due(t(0), 1, Duration::from_secs(60)).unwrap();
    };
    // Kept alive (leaked) until the kill: nothing is dropped.
    if kind == "sled" {
        let s = Box::leak(Box::new(Store::open(std::path::Path::new(at)).unwrap()));
        write(s);
        s.flush().unwrap();
    } else {
        // A PostgreSQL commit is durable when it returns.
        let s = PgStore::open(&super::postgres::PgUrl::parse(at).unwrap()).unwrap();
        write(&*Box::leak(Box::new(s)));
    }
    crate::testing::acknowledge();
    loop {
        std::thread::park();
    }
}

fn run_and_kill_child(arg: &str) {
    crate::testing::run_child_and_kill_it(
        "store::tests::flushed_data_and_leases_survive_a_kill_9",
        KILL_CHILD,
        arg,
    );
}

/// What was committed and flushed (as the daemon does after each commit)
/// survives a kill -9 of the process that wrote it: data, and a lease that
/// is still held. The writer is a child process killed without dropping or
/// flushing anything on the way out, not a handle closed in this one.
#[test]
fn flushed_data_and_leases_survive_a_kill_9() {
    if let Ok(arg) = std::env::var(KILL_CHILD) {
        kill_child(&arg);
    }
    let dir = tempfile::tempdir().unwrap();
    run_and_kill_child(&format!("sled\n{}", dir.path().to_str().unwrap()));
    data_and_leases_survive_a_reopen_on(&reopen(dir.path()));

    let Some(server) = test_server() else { return };
    let db = TempDatabase::create(&server).unwrap();
    drop(PgStore::open_migrated(db.url()).unwrap());
    run_and_kill_child(&format!("pg\n{}", db.url_for_config()));
    data_and_leases_survive_a_reopen_on(&PgStore::open(db.url()).unwrap());
}

fn data_and_leases_survive_a_reopen_on(s: &dyn RecordStore) {
    assert_eq!(s.queue_stats(t(0)).unwrap().leased, 1);
    assert_eq!(s.recover_leases(t(0), false).unwrap(), 1);
    assert_eq!(
        s.lease_due(t(0), 10, Duration::from_secs(60))
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn calls_are_recorded_with_their_cache_entry() {
    for b in Under::all() {
        calls_are_recorded_with_their_cache_entry_on(b.calls());
    }
}

fn calls_are_recorded_with_their_cache_entry_on(s: &dyn CallStore) {
    let row = LedgerEntry {
        at: t(0),
        record_id: Some("a".into()),
        operation: "x.y".into(),
        provider: "x".into(),
        outcome: "not_found".into(),
        cached: false,
        credits: 0.0,
        saved_credits: 0.0,
        latency_ms: 1,
        attempts: 1,
        throttled: 0,
        status: Some(404),
        error: None,
        choice: None,
        fields: vec![],
    };
    let entry = CacheEntry {
        paid_for: None,
        outcome: CachedOutcome::NotFound,
        credits: 0.0,
        stored_at: t(0),
        expires_at: t(10),
    };
    s.record_call(Some((b"k", &entry)), &row, true).unwrap();
    assert_eq!(s.cache_get(b"k", t(1)).unwrap(), Some(entry));
    assert_eq!(s.cache_get(b"k", t(11)).unwrap(), None, "expired");
    assert_eq!(s.ledger().unwrap(), vec![row]);
}

#[derive(Debug, Clone)]
enum Op {
    Upsert(u8),
    Lease(u8),
    Commit(u8, bool),
    RecoverAll,
    Reopen,
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0u8..8).prop_map(Op::Upsert),
        (1u8..4).prop_map(Op::Lease),
        (0u8..8, any::<bool>()).prop_map(|(i, again)| Op::Commit(i, again)),
        Just(Op::RecoverAll),
        Just(Op::Reopen),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// Against a model: every record is in exactly one place (queued, leased or
    /// idle), nothing is lost across reopen, and a record is never leased twice.
    #[test]
    fn queue_matches_a_model(ops in proptest::collection::vec(op(), 1..40)) {
        BACKENDS.with(|backends| -> Result<(), proptest::test_runner::TestCaseError> {
            for b in backends.borrow_mut().iter_mut() {
                b.clear();
                queue_matches_a_model_on(b, &ops)?;
            }
            Ok(())
        })?;
    }
}

thread_local! {
    /// One store per backend for every case of the model test (a database
    /// per case would cost more than the case).
    static BACKENDS: std::cell::RefCell<Vec<Under>> = std::cell::RefCell::new(Under::all());
}

fn queue_matches_a_model_on(
    b: &mut Under,
    ops: &[Op],
) -> Result<(), proptest::test_runner::TestCaseError> {
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Where {
        Queued,
        Leased,
        LeasedQueued,
        Idle,
    }
    let backend = b.name();
    let mut model: BTreeMap<String, Where> = BTreeMap::new();
    let mut held: BTreeMap<String, Leased> = BTreeMap::new();
    let mut upserts = 0u32;
    let now = t(0);
    for op in ops.iter().cloned() {
        let s = b.records();
        match op {
            Op::Upsert(i) => {
                let id = format!("r{i}");
                // A new name each time, so every upsert is a change.
                upserts += 1;
                s.upsert(vec![rec(&id, &format!("name{upserts}"))], now, &merge_input)
                    .unwrap();
                // A record upserted while leased is queued again and also still leased.
                let w = model.entry(id.clone()).or_insert(Where::Queued);
                *w = if matches!(*w, Where::Leased | Where::LeasedQueued) {
                    Where::LeasedQueued
                } else {
                    Where::Queued
                };
                if let Some(l) = held.get_mut(&id) {
                    l.record.revision = u64::MAX;
                } // its commit will be superseded
            }
            Op::Lease(n) => {
                for l in s
                    .lease_due(now, n as usize, Duration::from_secs(60))
                    .unwrap()
                {
                    let id = l.record.record.id.clone();
                    proptest::prop_assert_eq!(
                        model.get(&id),
                        Some(&Where::Queued),
                        "{}: leased {} from {:?}",
                        backend,
                        id,
                        model.get(&id)
                    );
                    model.insert(id.clone(), Where::Leased);
                    held.insert(id, l);
                }
            }
            Op::Commit(i, again) => {
                let id = format!("r{i}");
                if let Some(l) = held.remove(&id) {
                    let superseded = l.record.revision == u64::MAX;
                    let mut l = l;
                    if superseded {
                        l.record.revision = 0;
                    }
                    match commit(s, &l, again.then_some(now)) {
                        Ok(()) => {
                            model.insert(id, if again { Where::Queued } else { Where::Idle });
                        }
                        Err(StoreError::Superseded(_)) => {
                            model.insert(id, Where::Queued);
                        }
                        Err(e) => proptest::prop_assert!(false, "{backend}: {e}"),
                    }
                }
            }
            Op::RecoverAll => {
                s.recover_leases(now, false).unwrap();
                held.clear();
                for w in model.values_mut() {
                    if matches!(*w, Where::Leased | Where::LeasedQueued) {
                        *w = Where::Queued;
                    }
                }
            }
            Op::Reopen => b.reopen(),
        }
        let st = b.records().queue_stats(now).unwrap();
        let count = |w: Where| model.values().filter(|x| **x == w).count() as u64;
        proptest::prop_assert_eq!(st.records, model.len() as u64, "{}", backend);
        proptest::prop_assert_eq!(
            st.leased,
            count(Where::Leased) + count(Where::LeasedQueued),
            "{}",
            backend
        );
        proptest::prop_assert_eq!(
            st.queued_due,
            count(Where::Queued) + count(Where::LeasedQueued),
            "{}",
            backend
        );
    }
    let _ = StoredRecord::clone;
    Ok(())
}

#[test]
fn signalled_records_are_indexed_and_a_store_from_before_the_index_builds_it() {
    let dir = tempfile::tempdir().unwrap();
    let signal = |kind: &str| crate::model::Signal {
        kind: kind.into(),
        at: t(0),
    };
    {
        let s = Store::open(dir.path()).unwrap();
        s.upsert(
            vec![rec("a", "Ann"), rec("b", "Bob"), rec("c", "Cy")],
            t(0),
            &merge_input,
        )
        .unwrap();
        assert!(s.add_signal("b", signal("pricing_page"), t(1)).unwrap());
        assert!(s.add_signal("b", signal("demo_request"), t(1)).unwrap());
        assert!(!s.add_signal("zz", signal("pricing_page"), t(1)).unwrap());
        assert_eq!(s.signalled().unwrap(), ["b"]);
        // Make it look like a store written before the index existed.
        s.signalled.clear().unwrap();
        s.meta.remove(b"signalled_index").unwrap();
        s.flush().unwrap();
    }
    let s = reopen(dir.path());
    assert_eq!(s.signalled().unwrap(), ["b"], "rebuilt from the records");
    // A requeue changes nothing in the record.
    let before = s.get("a").unwrap().unwrap().revision;
    assert_eq!(s.requeue(&["a".into(), "nope".into()], t(5)).unwrap(), 1);
    assert_eq!(s.get("a").unwrap().unwrap().revision, before);
}

#[test]
fn guess_keys_lower_case_every_part_ascii_or_not() {
    assert_eq!(
        super::guess_key("Ann", "ÖZTÜRK", "Acme.IO"),
        "ann\0öztürk\0acme.io".as_bytes()
    );
    assert_eq!(super::guess_key("", "", ""), b"\0\0");
}

#[test]
fn a_store_from_a_newer_leadfall_is_refused_and_an_older_one_stamped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    // A store from before the version stamp (or a fresh one) gets this binary's.
    Store::open(&path).unwrap().set_schema_version(0).unwrap();
    let s = reopen(&path);
    assert_eq!(
        s.meta.get(super::META_SCHEMA).unwrap().as_deref(),
        Some(&0i32.to_be_bytes()[..]),
        "an older layout opens"
    );
    s.set_schema_version(super::SLED_SCHEMA).unwrap();
    drop(s);
    reopen(&path)
        .set_schema_version(super::SLED_SCHEMA + 1)
        .unwrap();
    let e = try_reopen(&path).unwrap_err();
    assert!(
        matches!(e, StoreError::SchemaTooNew { found, known, .. } if found == super::SLED_SCHEMA + 1 && known == super::SLED_SCHEMA),
        "{e}"
    );
    assert!(
        e.to_string().contains(&format!(
            "{}: the schema is at version 2, newer than this leadfall knows (1): a newer leadfall has upgraded it; upgrade this binary",
            path.display()
        )),
        "{e}"
    );
}

#[test]
fn a_new_store_is_stamped_with_this_layout() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("store")).unwrap();
    assert_eq!(
        s.meta.get(super::META_SCHEMA).unwrap().as_deref(),
        Some(&super::SLED_SCHEMA.to_be_bytes()[..])
    );
}

/// A recovered lease goes back to the due time it was leased from, ahead of
/// work that became due later, so a replay runs where its killed pass did.
#[test]
fn a_recovered_lease_goes_back_where_it_was_leased_from() {
    for b in Under::all() {
        a_recovered_lease_goes_back_where_it_was_leased_from_on(b.records());
    }
}

fn a_recovered_lease_goes_back_where_it_was_leased_from_on(s: &dyn RecordStore) {
    s.upsert(vec![rec("a", "Ann")], t(0), &merge_input).unwrap();
    let _held = s.lease_due(t(10), 1, Duration::from_secs(60)).unwrap();
    s.upsert(vec![rec("b", "Bob")], t(20), &merge_input)
        .unwrap();
    assert_eq!(s.recover_leases(t(100), false).unwrap(), 1);
    assert_eq!(
        s.get("a").unwrap().unwrap().queue,
        QueueState::Queued { due: t(0) }
    );
    let next = s.lease_due(t(100), 1, Duration::from_secs(60)).unwrap();
    assert_eq!(next[0].record.record.id, "a", "ahead of b, due later");
}

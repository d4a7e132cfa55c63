use crate::util::{repo, run};
use std::process::Command;

#[test]
fn the_demo_runs_the_daemon_without_keys_and_reconciles_with_the_sandbox_bill() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadfall"));
    cmd.current_dir(repo())
        .args(["demo", "--leads", "150", "--json", "--once", "--dir"])
        .arg(dir.path())
        .env_remove("RUST_LOG");
    let out = run(cmd, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let report = &v;
    assert_eq!(report["import"]["good"], 150);
    assert_eq!(
        report["import"]["rejected"], 3,
        "the demo's three broken rows"
    );
    let billed = v["sandbox_billed"].as_object().unwrap();
    assert_eq!(billed.len(), 5);
    for (vendor, c) in billed {
        let ours = report["summary"]["providers"][vendor]["credits"]
            .as_f64()
            .unwrap_or(0.0);
        assert_eq!(
            ours,
            c["credits_billed"].as_f64().unwrap(),
            "{vendor}: ledger vs sandbox bill"
        );
    }
    let fields = &report["summary"]["fields"];
    assert!(
        fields["company.industry"]["filled"].as_u64().unwrap() > 50,
        "{fields}"
    );
    // Only what could change a route is paid for: most phones are not worth it.
    assert!(
        fields["person.phone"]["unknown"]["not_worth_it"]
            .as_u64()
            .unwrap_or(0)
            > 50,
        "{fields}"
    );
    assert!(dir.path().join("enriched.jsonl").exists());
}

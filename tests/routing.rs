use crate::util::repo;
use leadfall::bench::{compare_modes, BenchOptions};

#[test]
fn decision_relevant_enrichment_routes_every_lead_as_enriching_everything_does_for_less() {
    let opts = BenchOptions {
        config: repo().join("config/leadfall.toml"),
        seconds: 1,
        calls: 1,
        repeat: 1,
        leads: 300,
        daemon_leads: 1,
        rescan_records: 0,
        bottleneck_leads: 0,
        bottleneck_generous_leads: 0,
        exe: env!("CARGO_BIN_EXE_leadfall").into(),
        extras_only: false,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let m = rt.block_on(compare_modes(&opts, 300)).unwrap();
    assert_eq!(m.same_route, m.leads, "{m:?}");
    assert!(m.credits_relevant < m.credits_everything * 0.7, "{m:?}");
}

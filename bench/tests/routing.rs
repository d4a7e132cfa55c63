use crate::repo;
use leadfall_bench::{compare_modes, BenchOptions, Leadfall};

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
        generous_only: false,
        leadfall: leadfall(),
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
    // Issue 36 (open): a route's own fields bought less often than enriching
    // everything buys them (a paid by-product is dropped while its field
    // cannot yet matter). Printed, not asserted, until that is fixed.
    println!(
        "route fields filled: {} decision-relevant, {} enrich-everything; shortchanged: {:?}",
        m.route_fields_filled.0, m.route_fields_filled.1, m.shortchanged
    );
}

#[test]
fn the_bottleneck_bench_runs_both_orders_and_the_warm_pass_calls_no_vendor() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let b = rt
        .block_on(leadfall_bench::bottleneck(
            &leadfall(),
            &repo().join("config/leadfall.toml"),
            40,
            200,
        ))
        .unwrap();
    let vendor_like = b.vendor_like.as_ref().expect("asked for 40 leads");
    for c in [vendor_like, &b.generous] {
        assert_eq!(c.warm_requests, 0, "{c:?}");
        assert_eq!(c.strict.capacity_choices, 0, "strict order never deviates");
        assert_eq!(c.strict.rate_limited + c.capacity.rate_limited, 0, "{c:?}");
        assert!(
            c.strict.lower_bound_secs > 0.0 && c.strict.wall_over_bound >= 0.99,
            "{c:?}"
        );
    }
    // At vendor-like limits the person-enrich vendor queues up and the group sends work elsewhere.
    assert!(vendor_like.capacity.capacity_choices > 0, "{vendor_like:?}");
    assert!(
        vendor_like.capacity.requests["personapi"] < vendor_like.strict.requests["personapi"],
        "{vendor_like:?}"
    );
}

/// The built harness, acting as leadfall (the sandbox child).
fn leadfall() -> Leadfall {
    Leadfall::bench_binary(env!("CARGO_BIN_EXE_leadfall-bench"))
}

//! The ready-made profile `config/profiles/real.toml`: `check` reports which
//! vendors are configured, which keys are missing and the order per field;
//! base URLs and key variables are overridable from config and environment;
//! and the engine runs a record through the real definitions.

use super::replay::{Replay, Reply};
use super::*;
use leadfall::config;
use leadfall::engine::Engine;
use leadfall::model::{FieldState, Record};
use std::process::Command;

const KEY_VARS: &[&str] = &[
    "HUNTER_API_KEY",
    "APOLLO_API_KEY",
    "PDL_API_KEY",
    "PROSPEO_API_KEY",
    "LEADMAGIC_API_KEY",
    "FULLENRICH_API_KEY",
    "BUILTWITH_API_KEY",
    "ZEROBOUNCE_API_KEY",
    "NEVERBOUNCE_API_KEY",
];

fn profile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/profiles/real.toml")
}

fn check(extra_env: &[(&str, &str)], json: bool) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadfall"));
    cmd.arg("--config").arg(profile()).arg("check");
    if json {
        cmd.arg("--json");
    }
    for k in KEY_VARS {
        cmd.env_remove(k);
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn check_reports_vendors_keys_and_orders_for_the_real_profile() {
    let out = check(&[("HUNTER_API_KEY", "secret-hunter-key")], true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    let providers = v["providers"].as_array().unwrap();
    let ids: Vec<&str> = providers
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "apollo",
            "builtwith",
            "fullenrich",
            "hunter",
            "leadmagic",
            "neverbounce",
            "peopledatalabs",
            "prospeo",
            "zerobounce"
        ],
        "only the real vendors: the sandbox stays out of this profile"
    );
    let key = |id: &str| {
        providers.iter().find(|p| p["id"] == id).unwrap()["key"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(key("hunter"), "set");
    assert_eq!(key("apollo"), "missing: set APOLLO_API_KEY");
    assert_eq!(key("peopledatalabs"), "missing: set PDL_API_KEY");
    assert_eq!(v["configured"], serde_json::json!(["hunter"]));
    assert_eq!(v["missing_keys"].as_array().unwrap().len(), 8);
    let email = v["waterfalls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w[0] == "person.email")
        .unwrap()[1]
        .clone();
    assert_eq!(email[0], "builtin.email-guess");
    assert_eq!(email[1], "hunter.email-finder");
    assert_eq!(
        email.as_array().unwrap().last().unwrap(),
        "(verify: zerobounce.validate)"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("secret-hunter-key"));

    // The human table says the same.
    let out = check(&[], false);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("missing: set HUNTER_API_KEY"), "{text}");
    assert!(
        text.contains("fullenrich.contact-enrich (no key)"),
        "{text}"
    );
    assert!(text.contains("0 of 9 vendors have a key"), "{text}");
}

#[test]
fn base_url_and_key_variable_are_overridable_from_config_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let providers = Path::new(env!("CARGO_MANIFEST_DIR")).join("providers");
    let cfg = dir.path().join("leadfall.toml");
    std::fs::write(
        &cfg,
        format!(
            "provider_dirs = [{:?}]\n\
             [providers.hunter]\nbase_url = \"https://proxy.internal/hunter/v2\"\nkey_env = \"TEAM_HUNTER_KEY\"\n\
             [providers.apollo]\nbase_url = \"https://eu.proxy.internal/apollo\"\n",
            providers.display().to_string()
        ),
    )
    .unwrap();
    let env = |name: &str| match name {
        "TEAM_HUNTER_KEY" => Some("k1".to_string()),
        "LEADFALL_PROVIDER_APOLLO_BASE_URL" => Some("http://127.0.0.1:9/apollo".to_string()),
        "LEADFALL_PROVIDER_PEOPLEDATALABS_KEY_ENV" => Some("PDL_KEY_EMEA".to_string()),
        _ => None,
    };
    let s = config::load(&cfg, &env).unwrap();
    let hunter = &s.providers.get("hunter").unwrap();
    assert_eq!(hunter.base_url, "https://proxy.internal/hunter/v2");
    assert!(hunter.auth.is_some(), "key read from TEAM_HUNTER_KEY");
    assert_eq!(
        s.providers.get("apollo").unwrap().base_url,
        "http://127.0.0.1:9/apollo",
        "the environment wins over config"
    );
    assert_eq!(
        s.providers
            .get("peopledatalabs")
            .unwrap()
            .missing_key_env
            .as_deref(),
        Some("PDL_KEY_EMEA")
    );
    // Nothing else changes when a vendor is pointed elsewhere.
    let pristine = config::load(&cfg, &|_: &str| None).unwrap();
    let (a, b) = (&pristine.providers.get("hunter").unwrap(), hunter);
    assert_eq!(a.rate, b.rate);
    assert_eq!(a.retry, b.retry);
    assert_eq!(a.operations.len(), b.operations.len());
    for (x, y) in a.operations.iter().zip(&b.operations) {
        assert_eq!((&x.id, &x.path, x.method), (&y.id, &y.path, y.method));
        assert_eq!(x.cost, y.cost);
    }

    // An override for a provider that is not loaded names the file and key.
    std::fs::write(
        &cfg,
        format!(
            "provider_dirs = [{:?}]\n[providers.nobody]\nbase_url = \"https://x\"\n",
            providers.display().to_string()
        ),
    )
    .unwrap();
    let errs = config::load(&cfg, &|_: &str| None).unwrap_err();
    assert_eq!(
        errs.0.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        [format!(
            "{}: providers.nobody: no provider \"nobody\" in provider_dirs",
            cfg.display()
        )]
    );
}

#[tokio::test]
async fn the_real_profile_fills_an_email_through_hunter_and_zerobounce() {
    let hunter = Replay::start().await;
    let zerobounce = Replay::start().await;
    let (h, z) = (hunter.base.clone(), zerobounce.base.clone());
    let env = move |name: &str| match name {
        "LEADFALL_PROVIDER_HUNTER_BASE_URL" => Some(format!("{h}/v2")),
        "LEADFALL_PROVIDER_ZEROBOUNCE_BASE_URL" => Some(format!("{z}/v2")),
        "HUNTER_API_KEY" | "ZEROBOUNCE_API_KEY" => Some(KEY.to_string()),
        _ => None,
    };
    let mut settings = config::load(&profile(), &env).unwrap();
    settings.decisions = None; // enrich every field, whatever the routes say
    let invalid = {
        let mut v: serde_json::Value =
            serde_json::from_slice(&replay::fixture_bytes("zerobounce.validate.200.json")).unwrap();
        v["status"] = "invalid".into();
        Reply::text(200, "application/json", &v.to_string())
    };
    // The free guess is checked first and rejected; Hunter finds; ZeroBounce accepts.
    zerobounce.script([invalid, Reply::fixture(200, "zerobounce.validate.200.json")]);
    hunter.script_path(
        "/v2/email-finder",
        [Reply::fixture(200, "hunter.email-finder.200.json")],
    );
    // Hunter is also the last tech-stack step (BuiltWith and Apollo have no key here).
    hunter.script_path(
        "/v2/companies/find",
        [Reply::text(
            404,
            "application/json",
            r#"{"errors":[{"id":"not_found","code":404}]}"#,
        )],
    );
    let settings = Arc::new(settings);
    let executor = Executor::new(
        Arc::new(settings.providers.clone()),
        Arc::new(settings.catalogue.clone()),
        Arc::new(Store::temporary().unwrap()),
        Arc::new(SystemClock),
    );
    let engine = Engine::new(settings, executor, Arc::new(SystemClock));
    let mut rec = Record::new("r1", chrono::Utc::now());
    for (f, v) in [
        ("person.first_name", "Patrick"),
        ("person.last_name", "Collison"),
        ("company.domain", "stripe.com"),
    ] {
        rec.set(
            f,
            FieldState::Known(leadfall::model::Known {
                value: Value::Text(v.into()),
                source: leadfall::model::source_input(),
                confidence: 1.0,
                observed_at: chrono::Utc::now(),
                expires_at: None,
                verified: None,
            }),
        );
    }
    let (out, ledger) = engine.enrich(rec).await;
    let email = serde_json::to_value(out.state("person.email")).unwrap();
    assert_eq!(email["state"], "known", "{email:#}");
    assert_eq!(email["value"], "patrick@stripe.com");
    assert_eq!(email["source"], "hunter.email-finder");
    // Fields only keyless vendors could fill say which key to set.
    let revenue = serde_json::to_value(out.state("company.revenue_band")).unwrap();
    assert_eq!(revenue["state"], "unknown", "{revenue:#}");
    assert_eq!(revenue["reason"], "not_attempted", "{revenue:#}");
    assert!(
        revenue["detail"]
            .as_str()
            .unwrap()
            .contains("APOLLO_API_KEY"),
        "{revenue:#}"
    );
    // Hunter's company lookup (the tech stack's last step) also answers for industry.
    let industry = serde_json::to_value(out.state("company.industry")).unwrap();
    assert_eq!(industry["reason"], "not_found", "{industry:#}");
    let tech = serde_json::to_value(out.state("company.tech_stack")).unwrap();
    assert_eq!(tech["reason"], "not_found", "{tech:#}");
    let credits: f64 = ledger.iter().map(|e| e.credits).sum();
    assert_eq!(
        credits, 3.0,
        "two verifications and one email found: {ledger:#?}"
    );
    assert_eq!(zerobounce.seen().len(), 2);
}

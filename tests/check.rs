use crate::eqnice;
use crate::util::{run, stderr, stdout, TestDir};

#[test]
fn the_default_config_checks_clean() {
    let t = TestDir::new();
    let out = run(t.cmd(&["check"]), 0);
    let text = stdout(&out);
    assert!(text.contains(": ok (5 provider files)"), "{text}");
    assert!(text.contains("builtin.email-guess → mailfinder.email-finder → peoplematch.match → personapi.person-enrich → (verify: verifier.validate)"), "{text}");

    let out = run(t.cmd(&["check", "--json"]), 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["providers"].as_array().unwrap().len(), 5);
}

#[test]
fn missing_keys_are_reported_not_fatal() {
    let t = TestDir::new();
    let mut cmd = t.cmd(&["check"]);
    cmd.env_remove("LEADFALL_SANDBOX_KEY_MAILFINDER");
    let text = stdout(&run(cmd, 0));
    assert!(
        text.contains("missing: set LEADFALL_SANDBOX_KEY_MAILFINDER"),
        "{text}"
    );
}

#[test]
fn every_config_error_is_reported_with_file_and_key() {
    let t = TestDir::new();
    t.write(
        "providers/broken.toml",
        r#"
id = "broken"
base_url = "http://127.0.0.1:1/x"
[rate_limit]
per_second = 10
burst = 0
[operations.find]
path = "/find/{person.email}"
requires = [["person.email"]]
query = { e = "{person.email}" }
[[operations.find.provides]]
field = "person.shoe_size"
pointer = "/size"
"#,
    );
    t.write("providers/syntax.toml", "id = \"syntax\"\nbase_url = \n");
    t.write(
        "config/leadfall.toml",
        r#"
provider_dirs = ["../providers"]
[waterfall.fields."person.email"]
steps = ["nobody.find"]
threshold = 1.5
"#,
    );
    let out = run(t.cmd(&["check"]), 2);
    let p = t.path("providers");
    let c = t.path("config/leadfall.toml");
    let expected = format!(
        "6 configuration errors:
  {p}/broken.toml: rate_limit.burst: must be ≥ 1, got 0
  {p}/broken.toml: operations.find.path: must not contain placeholders or a query string; put record values in `query` or `body`
  {p}/broken.toml: operations.find.provides[0].field: unknown field \"person.shoe_size\" (not in the field catalogue)
  {p}/syntax.toml:2: invalid string: expected `\"`, `'`
  {c}: waterfall.fields.\"person.email\".steps[0]: unknown operation \"nobody.find\" (expected provider.operation from providers/)
  {c}: waterfall.fields.\"person.email\".threshold: must lie in 0..1, got 1.5
",
        p = p.display(),
        c = c.display()
    );
    eqnice!(expected, stderr(&out));
}

#[test]
fn budget_and_kill_switch_keys_are_checked_with_file_and_key() {
    let t = TestDir::new();
    let config = std::fs::read_to_string(t.config()).unwrap();
    t.write(
        "config/leadfall.toml",
        format!(
            r#"{config}
[budgets]
daily_credits = 500
monthly_credits = 100
[budgets.providers.personapi]
daily_credits = -1
[budgets.providers.nobody]
daily_credits = 5

[kill_switch]
window_calls = 0
min_hit_rate = 1.5
[kill_switch.providers.nobody]
min_hit_rate = 0.1
"#
        ),
    );
    let out = run(t.cmd(&["check"]), 2);
    let c = t.config();
    let expected = format!(
        "6 configuration errors:
  {c}: budgets.daily_credits: 500 is above the monthly cap 100
  {c}: budgets.providers.nobody: unknown provider \"nobody\"
  {c}: budgets.providers.personapi.daily_credits: must be a number ≥ 0, got -1
  {c}: kill_switch.window_calls: must be ≥ 1, got 0
  {c}: kill_switch.min_hit_rate: must be between 0 and 1, got 1.5
  {c}: kill_switch.providers.nobody: unknown provider \"nobody\"
",
        c = c.display()
    );
    eqnice!(expected, stderr(&out));
}

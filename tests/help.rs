use crate::util::{run, stdout};
use std::process::Command;

/// The user's verbs only: the benchmark harness is `leadfall-bench`, a
/// workspace member of its own, not a verb of the product.
#[test]
fn help_lists_the_user_verbs_and_no_bench() {
    for flag in ["--help", "-h", "help"] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_leadfall"));
        c.arg(flag);
        let help = stdout(&run(c, 0));
        for verb in ["serve", "enrich", "demo", "import", "report"] {
            assert!(help.contains(verb), "{flag} lacks {verb}:\n{help}");
        }
        assert!(
            !help.to_lowercase().contains("bench"),
            "{flag} mentions bench:\n{help}"
        );
    }
    // Not a verb: a usage error (64).
    let mut c = Command::new(env!("CARGO_BIN_EXE_leadfall"));
    c.arg("bench");
    run(c, 64);
}

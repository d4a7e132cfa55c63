//! The leadfall binary: parse arguments, set up logging, run the verb, turn
//! the error into an exit code. Everything else lives in the library.

use clap::Parser;
use std::process::ExitCode;

// The engine allocates many small strings and maps per call; mimalloc spends
// less CPU on them than the system allocator (see README, "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // `leadfall export | head`: die quietly on a closed pipe, like other Unix
    // tools, instead of panicking in println!.
    // SAFETY: called before any thread starts; SIG_DFL is always valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = leadfall::cli::Cli::parse();
    leadfall::telemetry::init(cli.global.log_format, cli.global.log_level());
    match leadfall::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // `leadfall enrich ... | head` closing the pipe is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

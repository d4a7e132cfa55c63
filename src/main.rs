//! The leadfall binary: parse arguments, set up logging, run the verb, turn
//! the error into an exit code. Everything else lives in the library.

use clap::Parser;
use std::process::ExitCode;

// The engine allocates many small strings and maps per call; mimalloc spends
// less CPU on them than the system allocator (see README, "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

extern "C" {
    // mimalloc's own; the crate links the library.
    fn mi_option_set(option: libc::c_int, value: libc::c_long);
}

/// `mi_option_purge_delay` in mimalloc's option enum.
const MI_OPTION_PURGE_DELAY: libc::c_int = 15;

/// Batch verbs run to the end and exit: keep freed memory instead of
/// returning it to the OS after 10 ms and faulting it back in zeroed (about
/// 6% of a ×100 bench's CPU; see README, "Performance"; `leadfall-bench`
/// does the same). Long-running verbs keep mimalloc's default, so a daemon
/// gives memory back; so does anyone who sets `MIMALLOC_PURGE_DELAY`
/// themselves.
fn keep_freed_memory(command: &leadfall::cli::Command) {
    use leadfall::cli::Command;
    let batch = matches!(command, Command::Enrich(_));
    if batch && std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets an integer option; mimalloc reads it on later frees.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}

fn main() -> ExitCode {
    // `leadfall export | head`: die quietly on a closed pipe, like other Unix
    // tools, instead of panicking in println!.
    // SAFETY: called before any thread starts; SIG_DFL is always valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match leadfall::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version go to stdout with 0; a bad command line is a usage
        // error (64, as sysexits), distinct from a bad configuration (2).
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(leadfall::cli::EXIT_USAGE);
        }
    };
    keep_freed_memory(&cli.command);
    leadfall::telemetry::init(cli.global.log_format, cli.global.log_level());
    leadfall::cli::exit_code(leadfall::cli::run(cli))
}

//! Arbitrary bytes as a JSON-lines lead file through the real importer: the
//! same checks as `import_csv`.
#![no_main]

use leadfall::import::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| leadfall_fuzz::import(data, Format::JsonLines));

//! Arbitrary bytes as a CSV lead file through the real importer
//! (`Importer::from_reader`, standard catalogue): no panic, rows in file
//! order, every reject with a reason, every good row a valid upsert whose
//! JSON round-trips.
#![no_main]

use leadfall::import::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| leadfall_fuzz::import(data, Format::Csv));

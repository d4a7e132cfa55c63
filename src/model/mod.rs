//! The data model: records, field states, the field catalogue and value
//! normalisation. Pure: no I/O, no clock (time is passed in).

mod field;
mod field_map;
mod json;
mod name;
mod normalise;
mod precedence;
mod record;
mod same;
mod signal;
mod state;
pub mod timestamp;
mod value;

#[cfg(test)]
mod tests;

pub use field::{Catalogue, FieldDef, FieldName, FieldType, SENIORITIES};
pub use field_map::{FieldKey, FieldMap};
pub use json::write_record;
pub use name::{Name, NameError, MAX_NAMES, MAX_NAME_BYTES};
/// JSON pieces for other hand-written encodings (cache keys).
pub mod json_text {
    pub use super::json::{string, value};
}
pub use normalise::{
    domain, email, email_of, integer, normalise_json, normalise_text, phone, url, NormaliseError,
    MAX_VALUE_CHARS,
};
pub use precedence::{provider_of, Precedence, SOURCE_CLASSES};
pub use record::Record;
pub use same::{order, same};
pub use signal::Signal;
pub use state::{source_input, FieldState, Known, Source, Unknown, UnknownReason, SOURCE_INPUT};
pub use value::Value;

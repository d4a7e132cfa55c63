//! The data model: records, field states, the field catalogue and value
//! normalisation. Pure: no I/O, no clock (time is passed in).

mod field;
mod normalise;
mod record;
mod state;
pub mod timestamp;
mod value;

#[cfg(test)]
mod tests;

pub use field::{Catalogue, FieldDef, FieldName, FieldType, SENIORITIES};
pub use normalise::{
    domain, email, integer, normalise_json, normalise_text, phone, url, NormaliseError,
    MAX_VALUE_CHARS,
};
pub use record::Record;
pub use state::{FieldState, Known, Source, Unknown, UnknownReason, SOURCE_INPUT};
pub use value::Value;

//! Rows with nothing to find a person by. They are kept (the company fields
//! can still be filled), but every person lookup needs one of these, so the
//! rejects file gets a warning line for them and the summary counts them.
//!
//! Fixed sets rather than ones derived from the configured waterfalls: an
//! operation's inputs may be filled by another waterfall first (a domain
//! from a company name), so the derivation would be the planner's whole
//! search, and the person finders all take one of these.

use crate::model::{Catalogue, Record};

/// The reason on a warning line (the row was imported).
pub(crate) const NO_IDENTITY: &str = "warning: no identity (no name, email or LinkedIn URL): \
     every person field will end missing_input";

/// Each set is enough to look a person up.
const IDENTITIES: [&[&str]; 3] = [
    &["person.first_name", "person.last_name"],
    &["person.email"],
    &["person.linkedin_url"],
];

/// True when `record` has no identity although the catalogue has the fields
/// for one (a catalogue without them has no person to look up).
pub(crate) fn lacks_identity(record: &Record, catalogue: &Catalogue) -> bool {
    let mut possible = false;
    for set in IDENTITIES {
        if set.iter().all(|f| catalogue.contains(f)) {
            if set.iter().all(|f| record.value(*f).is_some()) {
                return false;
            }
            possible = true;
        }
    }
    possible
}

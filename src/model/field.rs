//! The field catalogue: every field a record may carry, its type and how long a
//! found value stays fresh. The standard catalogue ships here; deployments add
//! custom fields through config.

use serde::{Deserialize, Serialize};

/// A dotted field name such as `person.email`, interned.
pub type FieldName = super::Name;

/// The type of a field, which decides its normalisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Free text (names, titles).
    String,
    /// An email address, lower-cased.
    Email,
    /// A bare domain (`acme.io`), also taken from URLs and emails.
    Domain,
    /// An absolute http(s) URL.
    Url,
    /// A phone number in E.164-ish form (`+14155550123`).
    Phone,
    /// A whole number; accepts `1,200`, `1.2k`, `3M`, `51-200` (midpoint), `10001+`.
    Integer,
    /// One of a set of lower-case words; an empty set accepts any word.
    Enum,
    /// A list of lower-case words (tech stack, departments).
    List,
    /// A boolean.
    Bool,
}

/// One field of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDef {
    /// Dotted name, `person.` or `company.` prefixed by convention.
    pub name: FieldName,
    /// Type, which decides normalisation.
    pub ty: FieldType,
    /// Allowed values for enums (empty: any).
    #[serde(default)]
    pub values: Vec<String>,
    /// How long a provider-supplied value stays fresh.
    pub ttl_days: u32,
}

/// All fields known to this deployment, sorted by name: a vector, because
/// the planner looks a field up by its interned name for every value it
/// accepts, and stepping through a B-tree's nodes cost more than the
/// whole comparison of a score of addresses.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalogue {
    fields: Vec<FieldDef>,
}

/// Seniority words used by the standard catalogue (Apollo's vocabulary, which most vendors map onto).
pub const SENIORITIES: &[&str] = &[
    "owner", "founder", "c_suite", "partner", "vp", "head", "director", "manager", "senior",
    "entry", "intern",
];

impl Catalogue {
    /// The standard catalogue every deployment starts from.
    pub fn standard() -> Catalogue {
        use FieldType::*;
        // (name, type, freshness in days): titles and emails decay within months.
        let rows: [(&str, FieldType, u32); 20] = [
            ("person.first_name", String, 3650),
            ("person.last_name", String, 3650),
            ("person.full_name", String, 3650),
            ("person.email", Email, 180),
            ("person.title", String, 120),
            ("person.seniority", Enum, 120),
            ("person.department", String, 120),
            ("person.phone", Phone, 180),
            ("person.linkedin_url", Url, 365),
            ("person.country", String, 365),
            ("company.name", String, 3650),
            ("company.domain", Domain, 3650),
            ("company.industry", String, 365),
            ("company.employee_count", Integer, 180),
            ("company.revenue_band", String, 365),
            ("company.country", String, 365),
            ("company.tech_stack", List, 180),
            ("company.linkedin_url", Url, 365),
            ("email.verdict", Enum, 90),
            ("email.free_provider", Bool, 3650),
        ];
        let mut catalogue = Catalogue { fields: Vec::new() };
        for (name, ty, ttl_days) in rows {
            let values = if name == "person.seniority" {
                SENIORITIES.iter().map(|s| s.to_string()).collect()
            } else {
                Vec::new()
            };
            catalogue.insert(FieldDef {
                name: name.into(),
                ty,
                values,
                ttl_days,
            });
        }
        catalogue
    }

    /// Add or replace a field (custom fields from config).
    pub fn insert(&mut self, def: FieldDef) {
        match self.position(&def.name) {
            Ok(i) => self.fields[i] = def,
            Err(i) => self.fields.insert(i, def),
        }
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.fields.binary_search_by(|d| d.name.as_str().cmp(name))
    }

    /// Look a field up.
    pub fn get(&self, name: &str) -> Option<&FieldDef> {
        self.position(name).ok().map(|i| &self.fields[i])
    }

    /// The same by interned name.
    pub fn get_name(&self, name: FieldName) -> Option<&FieldDef> {
        // A scan by address: a score of fields, compared in a cycle each.
        self.fields.iter().find(|d| d.name == name)
    }

    /// True when the field exists.
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// Every field, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &FieldDef> {
        self.fields.iter()
    }
}

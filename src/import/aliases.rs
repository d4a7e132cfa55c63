//! The header aliases: the column names CRM and spreadsheet exports use
//! (HubSpot, Salesforce, Apollo, hand-made sheets) and the field each means.
//! This table is the only place they live; `docs/import.md` shows it, and a
//! test keeps the two the same ([`markdown_table`]).
//!
//! Matching ignores case and every character that is not a letter or a digit
//! ([`header_key`]), so one entry covers `Email Address`, `email_address`
//! and `EMAIL-ADDRESS`. Resolving a header against the catalogue and the
//! user's `--map` / `--ignore` is `fields.rs`'s job.

/// The target of an alias that is not a catalogue field: the record id.
pub(crate) const ID: &str = "id";

/// One field and the headers that mean it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Alias {
    /// `id`, or a field of the standard catalogue.
    pub field: &'static str,
    /// Headers as exports write them (matched by [`header_key`]).
    pub headers: &'static [&'static str],
    /// Where these headers come from, for the docs.
    pub seen_in: &'static str,
}

/// Every alias. A field that is not in the deployment's catalogue is skipped
/// (its headers stay unknown). Two headers with the same key are a mistake
/// the tests catch.
pub(crate) const ALIASES: &[Alias] = &[
    Alias {
        field: ID,
        headers: &["Record ID", "Contact ID", "Lead ID", "Apollo Contact Id"],
        seen_in: "HubSpot, Salesforce, Apollo",
    },
    Alias {
        field: "person.first_name",
        headers: &["First Name", "First", "Given Name"],
        seen_in: "most exports",
    },
    Alias {
        field: "person.last_name",
        headers: &["Last Name", "Last", "Surname", "Family Name"],
        seen_in: "most exports",
    },
    Alias {
        field: "person.full_name",
        headers: &["Full Name", "Contact Name"],
        seen_in: "spreadsheets",
    },
    Alias {
        field: "person.email",
        headers: &[
            "Email",
            "Email Address",
            "Work Email",
            "Business Email",
            "Contact Email",
        ],
        seen_in: "most exports",
    },
    Alias {
        field: "person.title",
        headers: &["Title", "Job Title", "Position"],
        seen_in: "most exports",
    },
    Alias {
        field: "person.seniority",
        headers: &["Seniority", "Seniority Level"],
        seen_in: "Apollo",
    },
    Alias {
        field: "person.department",
        headers: &["Department", "Departments"],
        seen_in: "Apollo, Salesforce",
    },
    Alias {
        field: "person.phone",
        headers: &[
            "Phone",
            "Phone Number",
            "Mobile",
            "Mobile Phone",
            "Mobile Phone Number",
            "Direct Phone",
            "Telephone",
        ],
        seen_in: "most exports",
    },
    Alias {
        field: "person.linkedin_url",
        headers: &[
            "LinkedIn",
            "LinkedIn URL",
            "Person Linkedin Url",
            "LinkedIn Profile",
            "LinkedIn Profile URL",
        ],
        seen_in: "Apollo, spreadsheets",
    },
    Alias {
        field: "person.country",
        headers: &["Country", "Country/Region", "Mailing Country"],
        seen_in: "HubSpot, Salesforce, Apollo",
    },
    Alias {
        field: "company.name",
        headers: &[
            "Company",
            "Company Name",
            "Account Name",
            "Organization",
            "Organization Name",
        ],
        seen_in: "most exports",
    },
    Alias {
        field: "company.domain",
        headers: &[
            "Domain",
            "Company Domain",
            "Company Domain Name",
            "Website",
            "Website URL",
            "Company Website",
        ],
        seen_in: "most exports",
    },
    Alias {
        field: "company.industry",
        headers: &["Industry", "Company Industry"],
        seen_in: "most exports",
    },
    Alias {
        field: "company.employee_count",
        headers: &[
            "# Employees",
            "Number of Employees",
            "No. of Employees",
            "Employee Count",
            "Company Size",
            "Headcount",
        ],
        seen_in: "most exports",
    },
    Alias {
        field: "company.revenue_band",
        headers: &["Revenue", "Annual Revenue", "Revenue Range"],
        seen_in: "most exports",
    },
    Alias {
        field: "company.country",
        headers: &["Company Country", "Billing Country"],
        seen_in: "Apollo, Salesforce",
    },
    Alias {
        field: "company.tech_stack",
        headers: &["Technologies", "Tech Stack"],
        seen_in: "Apollo",
    },
    Alias {
        field: "company.linkedin_url",
        headers: &["Company Linkedin Url", "Company LinkedIn"],
        seen_in: "Apollo",
    },
];

/// The key a header is matched by: lower case, letters and digits only
/// (`Country/Region` → `countryregion`, `person.first_name` → `personfirstname`).
pub(crate) fn header_key(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Every (header, field) pair, for suggestions.
pub(crate) fn pairs() -> impl Iterator<Item = (&'static str, &'static str)> {
    ALIASES
        .iter()
        .flat_map(|a| a.headers.iter().map(move |h| (*h, a.field)))
}

/// The table as `docs/import.md` shows it.
pub(crate) fn markdown_table() -> String {
    let mut out = String::from("| field | headers recognised | seen in |\n|---|---|---|\n");
    for a in ALIASES {
        let headers: Vec<String> = a.headers.iter().map(|h| format!("`{h}`")).collect();
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            a.field,
            headers.join(", "),
            a.seen_in
        ));
    }
    out
}

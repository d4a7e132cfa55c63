//! The synthetic world the simulated vendors answer from: companies, the people who
//! work there, sample leads derived from them, and the lookups vendors need.
//!
//! Generation itself lives in `generate.rs`; it uses only [`SplitMix64`] and integer
//! arithmetic, so a seed produces the identical world on every machine and run (no
//! float transcendental functions, whose last bits may differ between platforms' libm).

use std::collections::HashMap;

use super::generate;
use super::rng::SplitMix64;

/// A company in the synthetic world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    /// Stable id, e.g. `"c00042"`.
    pub id: String,
    /// Display name, unique in the world, e.g. `"Acme Analytics"`.
    pub name: String,
    /// Bare lowercase domain, unique in the world, e.g. `"acmeanalytics.io"`.
    pub domain: String,
    /// Industry, lowercase as data vendors spell it, e.g. `"computer software"`.
    pub industry: String,
    /// Head count, spread log-ish between 5 and 20000.
    pub employee_count: u32,
    /// Revenue band consistent with the head count, e.g. `"$10M-$50M"`.
    pub revenue_band: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// Technologies in use (2 to 6 names).
    pub tech: Vec<String>,
    /// How work emails are formed: `first.last`, `first`, `flast`, `firstl` or `first_last`.
    pub email_pattern: String,
    /// Whether the mail server accepts every address (so verifiers answer "catch-all").
    pub catch_all: bool,
}

/// A person in the synthetic world, employed by exactly one company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Stable id, e.g. `"p00042"`.
    pub id: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// True work email (lowercase ASCII), formed by the company's pattern.
    pub email: String,
    /// Job title, e.g. `"VP Sales"`.
    pub title: String,
    /// One of `c_suite`, `vp`, `director`, `manager`, `senior`, `entry`.
    pub seniority: String,
    /// Department, e.g. `"sales"`, `"engineering"`.
    pub department: String,
    /// Phone number in E.164 form.
    pub phone: String,
    /// `https://www.linkedin.com/in/<first>-<last>-<n>`, unique in the world.
    pub linkedin_url: String,
    /// Index of the employer in [`World::companies`].
    pub company: usize,
}

/// A lead as a customer would upload it: some identifying data, much of it missing.
///
/// `sample_leads(n)[i]` describes `world.people[i]`, which lets benchmarks score results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleLead {
    /// Lead id, e.g. `"lead00042"` (same number as the person).
    pub id: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Employer name (always present).
    pub company_name: String,
    /// Employer domain, present for about 60% of leads.
    pub company_domain: Option<String>,
    /// True work email, present for about 10% of leads.
    pub email: Option<String>,
}

/// The whole synthetic world plus the indexes the vendors look things up by.
///
/// Treat it as read-only: the indexes are built once by [`World::generate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct World {
    /// The seed this world was generated from.
    pub seed: u64,
    /// All companies; `Person::company` indexes into this.
    pub companies: Vec<Company>,
    /// All people.
    pub people: Vec<Person>,
    by_name: HashMap<(String, String, usize), usize>,
    by_email: HashMap<String, usize>,
    by_linkedin: HashMap<String, usize>,
    company_by_domain: HashMap<String, usize>,
    company_by_name: HashMap<String, usize>,
}

impl World {
    /// Generates a world of `companies` companies and `people` people from `seed`.
    ///
    /// Deterministic: the same arguments give an identical world everywhere. With zero
    /// companies no people can be employed, so the world is then empty.
    pub fn generate(seed: u64, companies: usize, people: usize) -> World {
        let mut rng = SplitMix64::new(seed);
        let companies = generate::companies(&mut rng, companies);
        let people = if companies.is_empty() {
            Vec::new()
        } else {
            generate::people(&mut rng, &companies, people)
        };
        World::index(seed, companies, people)
    }

    fn index(seed: u64, companies: Vec<Company>, people: Vec<Person>) -> World {
        let mut world = World {
            seed,
            companies,
            people,
            by_name: HashMap::new(),
            by_email: HashMap::new(),
            by_linkedin: HashMap::new(),
            company_by_domain: HashMap::new(),
            company_by_name: HashMap::new(),
        };
        for (i, c) in world.companies.iter().enumerate() {
            world.company_by_domain.insert(c.domain.clone(), i);
            world.company_by_name.insert(c.name.to_lowercase(), i);
        }
        for (i, p) in world.people.iter().enumerate() {
            // `or_insert` keeps the earliest person when two share a name at one company.
            let key = (
                p.first_name.to_lowercase(),
                p.last_name.to_lowercase(),
                p.company,
            );
            world.by_name.entry(key).or_insert(i);
            world.by_email.insert(p.email.clone(), i);
            world
                .by_linkedin
                .insert(normalize_linkedin(&p.linkedin_url), i);
        }
        world
    }

    /// The employer of `person`.
    pub fn company_of(&self, person: &Person) -> &Company {
        &self.companies[person.company]
    }

    /// Person by name (case-insensitive) at the company owning `domain`.
    pub fn find_person_by_name(&self, first: &str, last: &str, domain: &str) -> Option<&Person> {
        let company = self.company_index_by_domain(domain)?;
        self.find_person_at(first, last, company)
    }

    /// Person by name (case-insensitive) at the company with index `company`.
    pub fn find_person_at(&self, first: &str, last: &str, company: usize) -> Option<&Person> {
        let key = (
            first.trim().to_lowercase(),
            last.trim().to_lowercase(),
            company,
        );
        self.by_name.get(&key).map(|&i| &self.people[i])
    }

    /// Person whose true work email is `email` (case-insensitive).
    pub fn find_person_by_email(&self, email: &str) -> Option<&Person> {
        let i = self.by_email.get(&email.trim().to_lowercase())?;
        Some(&self.people[*i])
    }

    /// Person by LinkedIn URL; scheme, `www.` and a trailing slash are ignored.
    pub fn find_person_by_linkedin(&self, url: &str) -> Option<&Person> {
        let i = self.by_linkedin.get(&normalize_linkedin(url))?;
        Some(&self.people[*i])
    }

    /// Company by domain; accepts `https://www.x.com/path` as well as `x.com`.
    pub fn find_company_by_domain(&self, domain: &str) -> Option<&Company> {
        self.company_index_by_domain(domain)
            .map(|i| &self.companies[i])
    }

    /// Company by name (case-insensitive, exact after trimming).
    pub fn find_company_by_name(&self, name: &str) -> Option<&Company> {
        self.company_index_by_name(name).map(|i| &self.companies[i])
    }

    /// Index of the company owning `domain` (normalised like [`Self::find_company_by_domain`]).
    pub fn company_index_by_domain(&self, domain: &str) -> Option<usize> {
        self.company_by_domain
            .get(&normalize_domain(domain))
            .copied()
    }

    /// Index of the company called `name` (case-insensitive).
    pub fn company_index_by_name(&self, name: &str) -> Option<usize> {
        self.company_by_name
            .get(&name.trim().to_lowercase())
            .copied()
    }

    /// Whether `email` is some person's true work address.
    pub fn is_true_email(&self, email: &str) -> bool {
        self.by_email.contains_key(&email.trim().to_lowercase())
    }

    /// The first `n` people as leads (fewer if the world is smaller). Deterministic:
    /// about 60% carry the company domain, about 10% (a subset of those) their email.
    pub fn sample_leads(&self, n: usize) -> Vec<SampleLead> {
        self.people
            .iter()
            .take(n)
            .enumerate()
            .map(|(i, p)| {
                let company = self.company_of(p);
                let draw = super::rng::stable_unit(self.seed, &["sample_lead", &p.id]);
                SampleLead {
                    id: format!("lead{i:05}"),
                    first_name: p.first_name.clone(),
                    last_name: p.last_name.clone(),
                    company_name: company.name.clone(),
                    company_domain: (draw < 0.60).then(|| company.domain.clone()),
                    email: (draw < 0.10).then(|| p.email.clone()),
                }
            })
            .collect()
    }

    /// [`Self::sample_leads`] as CSV with header
    /// `id,person.first_name,person.last_name,company.name,company.domain,person.email`.
    pub fn sample_leads_csv(&self, n: usize) -> String {
        let mut out = String::from(
            "id,person.first_name,person.last_name,company.name,company.domain,person.email\n",
        );
        for lead in self.sample_leads(n) {
            let cells = [
                lead.id.as_str(),
                &lead.first_name,
                &lead.last_name,
                &lead.company_name,
                lead.company_domain.as_deref().unwrap_or(""),
                lead.email.as_deref().unwrap_or(""),
            ];
            let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
        out
    }
}

/// Quotes a CSV cell only when it needs it (RFC 4180).
fn csv_cell(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// Lowercase bare host: strips scheme, `www.`, path, port and a trailing dot.
pub(crate) fn normalize_domain(input: &str) -> String {
    let s = input.trim().to_lowercase();
    let s = s.split("://").last().unwrap_or_default();
    let s = s.split(['/', '?', '#']).next().unwrap_or_default();
    let s = s.split(':').next().unwrap_or_default();
    let s = s.strip_prefix("www.").unwrap_or(s);
    s.trim_end_matches('.').to_string()
}

/// `linkedin.com/in/<slug>` form of a profile URL, for comparisons.
pub(crate) fn normalize_linkedin(input: &str) -> String {
    let s = input.trim().to_lowercase();
    let s = s.split("://").last().unwrap_or_default();
    let s = s.strip_prefix("www.").unwrap_or(s);
    s.split(['?', '#'])
        .next()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string()
}

/// Lowercase ASCII letters and digits only, for email local parts and URL slugs.
pub(crate) fn slug(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Local part of an email for `pattern`; unknown patterns fall back to `first.last`.
pub(crate) fn email_local_part(pattern: &str, first: &str, last: &str) -> String {
    let (f, l) = (slug(first), slug(last));
    let initial = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    match pattern {
        "first" => f,
        "flast" => format!("{}{l}", initial(&f)),
        "firstl" => format!("{f}{}", initial(&l)),
        "first_last" => format!("{f}_{l}"),
        _ => format!("{f}.{l}"),
    }
}

/// Vendor-style head-count range for a head count, e.g. `"51-200"`.
pub fn employee_range(count: u32) -> &'static str {
    match count {
        0..=10 => "1-10",
        11..=50 => "11-50",
        51..=200 => "51-200",
        201..=500 => "201-500",
        501..=1000 => "501-1000",
        1001..=5000 => "1001-5000",
        5001..=10000 => "5001-10000",
        _ => "10001+",
    }
}

/// English country name for an ISO-2 code, e.g. `"US"` → `"United States"`.
pub fn country_name(code: &str) -> &'static str {
    match code {
        "US" => "United States",
        "GB" => "United Kingdom",
        "DE" => "Germany",
        "FR" => "France",
        "CA" => "Canada",
        "IN" => "India",
        "AU" => "Australia",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn same_seed_same_world_and_different_seed_differs() {
        let a = World::generate(42, 300, 1500);
        let b = World::generate(42, 300, 1500);
        assert_eq!(a, b);
        let c = World::generate(43, 300, 1500);
        assert_ne!(a.companies, c.companies);
        assert_ne!(a.people, c.people);
    }

    #[test]
    fn generated_world_is_stable_across_builds() {
        // Pins the first entities of the default world, so an accidental change to
        // generation (which would invalidate recorded benchmarks) fails loudly.
        let w = World::generate(42, 400, 2000);
        let fp = format!(
            "{}|{}|{}",
            w.companies[0].name, w.companies[0].domain, w.people[0].email
        );
        assert_eq!(
            fp,
            "Cedar Partners|cedarpartners.com|johnw@lumenrobotics.com"
        );
        // And a digest of everything, so any drift anywhere is caught.
        // Built from explicit fields, not `Debug`, whose format std does not promise.
        let mut all = String::new();
        for c in &w.companies {
            let tech = c.tech.join("+");
            let size = c.employee_count.to_string();
            let fields = [
                &c.id,
                &c.name,
                &c.domain,
                &c.industry,
                &size,
                &c.revenue_band,
                &c.country,
            ];
            all.extend(fields.iter().map(|f| format!("{f},")));
            all.push_str(&format!("{tech},{},{}\n", c.email_pattern, c.catch_all));
        }
        for p in &w.people {
            let fields = [
                &p.id,
                &p.first_name,
                &p.last_name,
                &p.email,
                &p.title,
                &p.seniority,
            ];
            all.extend(fields.iter().map(|f| format!("{f},")));
            all.push_str(&format!(
                "{},{},{},{}\n",
                p.department, p.phone, p.linkedin_url, p.company
            ));
        }
        let digest = super::super::rng::stable_hash(0, &[&all]);
        assert_eq!(format!("{digest:016x}"), "d6e445f163033959");
    }

    #[test]
    fn names_domains_emails_are_unique_and_well_formed() {
        let w = World::generate(7, 1000, 5000);
        let names: HashSet<_> = w.companies.iter().map(|c| &c.name).collect();
        let domains: HashSet<_> = w.companies.iter().map(|c| &c.domain).collect();
        let emails: HashSet<_> = w.people.iter().map(|p| &p.email).collect();
        let urls: HashSet<_> = w.people.iter().map(|p| &p.linkedin_url).collect();
        assert_eq!(names.len(), 1000);
        assert_eq!(domains.len(), 1000);
        assert_eq!(emails.len(), 5000);
        assert_eq!(urls.len(), 5000);
        for c in &w.companies {
            assert!((5..=20000).contains(&c.employee_count));
            assert!((2..=6).contains(&c.tech.len()));
            assert_eq!(c.domain, c.domain.to_lowercase());
        }
        for p in &w.people {
            assert!(p.email.is_ascii() && p.email == p.email.to_lowercase());
            assert!(p.email.ends_with(&format!("@{}", w.company_of(p).domain)));
            assert!(p.phone.starts_with('+') && p.phone[1..].bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(w.find_person_by_email(&p.email), Some(p));
            assert_eq!(w.find_person_by_linkedin(&p.linkedin_url), Some(p));
        }
    }

    #[test]
    fn lookups_normalise_their_inputs() {
        let w = World::generate(1, 50, 200);
        let p = &w.people[3];
        let c = w.company_of(p);
        let url = format!("https://www.{}/about", c.domain.to_uppercase());
        assert_eq!(w.find_company_by_domain(&url), Some(c));
        assert_eq!(w.find_company_by_name(&c.name.to_uppercase()), Some(c));
        let found = w.find_person_by_name(&p.first_name.to_lowercase(), &p.last_name, &c.domain);
        assert_eq!(
            found.map(|f| (&f.first_name, &f.last_name)),
            Some((&p.first_name, &p.last_name))
        );
        let bare = p.linkedin_url.replace("https://www.", "");
        assert_eq!(w.find_person_by_linkedin(&format!("{bare}/")), Some(p));
        assert!(w.find_person_by_email("nobody@nowhere.example").is_none());
    }

    #[test]
    fn email_patterns_follow_the_company_rule() {
        assert_eq!(
            email_local_part("first.last", "Mary", "O'Brien"),
            "mary.obrien"
        );
        assert_eq!(email_local_part("first", "Mary", "Smith"), "mary");
        assert_eq!(email_local_part("flast", "Mary", "Smith"), "msmith");
        assert_eq!(email_local_part("firstl", "Mary", "Smith"), "marys");
        assert_eq!(
            email_local_part("first_last", "Mary", "Smith"),
            "mary_smith"
        );
    }

    #[test]
    fn sample_leads_have_the_promised_mix() {
        let w = World::generate(42, 400, 2000);
        let leads = w.sample_leads(2000);
        assert_eq!(leads.len(), 2000);
        let with_domain = leads.iter().filter(|l| l.company_domain.is_some()).count();
        let with_email = leads.iter().filter(|l| l.email.is_some()).count();
        assert!((1080..1320).contains(&with_domain), "{with_domain}");
        assert!((140..260).contains(&with_email), "{with_email}");
        assert_eq!(w.sample_leads(5), leads[..5].to_vec());
        assert_eq!(w.sample_leads(10_000).len(), 2000);
        let csv = w.sample_leads_csv(3);
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("id,person.first_name,person.last_name,company.name,company.domain,person.email")
        );
        assert_eq!(lines.count(), 3);
    }

    #[test]
    fn empty_worlds_are_allowed() {
        let w = World::generate(1, 0, 10);
        assert!(w.companies.is_empty() && w.people.is_empty());
        assert_eq!(w.sample_leads_csv(5).lines().count(), 1);
    }
}

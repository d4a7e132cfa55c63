//! Generation of the synthetic world: the word lists it draws from and the
//! procedures that turn a seeded [`SplitMix64`] stream into companies and people.
//!
//! Only integer arithmetic on the generator's output is used, so the same seed
//! yields the same world on every platform.

use std::collections::HashSet;

use super::rng::SplitMix64;
use super::world::{email_local_part, slug, Company, Person};

#[rustfmt::skip]
const NAME_STEMS: &[&str] = &[
    "Acme", "Apex", "Blue", "Bright", "Cedar", "Cobalt", "Copper", "Crest", "Delta", "Echo",
    "Ember", "Falcon", "Granite", "Harbor", "Helix", "Iron", "Juniper", "Keystone", "Lumen",
    "Maple", "Meridian", "Nimbus", "Nova", "Oak", "Orbit", "Pioneer", "Pixel", "Quartz", "Redwood",
    "Sable", "Silver", "Summit", "Tidal", "Vector", "Vertex", "Willow", "Zenith", "Northwind",
    "Evergreen", "Lighthouse",
];
#[rustfmt::skip]
const NAME_TAILS: &[&str] = &[
    "Analytics", "Labs", "Systems", "Health", "Logistics", "Retail", "Capital", "Foods",
    "Robotics", "Learning", "Media", "Works", "Networks", "Partners", "Dynamics", "Cloud",
    "Security", "Energy", "Bio", "Studios",
];
#[rustfmt::skip]
const TLDS: &[&str] = &["com", "com", "com", "io", "co", "ai", "net"];
#[rustfmt::skip]
const INDUSTRIES: &[&str] = &[
    "computer software", "financial services", "healthcare", "retail", "manufacturing",
    "education", "marketing", "logistics", "real estate", "telecommunications",
];
/// (country code, weight out of 100)
#[rustfmt::skip]
const COUNTRIES: &[(&str, usize)] = &[
    ("US", 60), ("GB", 10), ("DE", 7), ("FR", 6), ("CA", 7), ("IN", 5), ("AU", 5),
];
#[rustfmt::skip]
const TECH: &[&str] = &[
    "salesforce", "hubspot", "segment", "snowflake", "stripe", "zendesk", "intercom", "aws", "gcp",
    "shopify",
];
#[rustfmt::skip]
const PATTERNS: &[&str] = &["first.last", "first", "flast", "firstl", "first_last"];
/// Head-count buckets `(low, high, weight)`: roughly log-uniform, weights favour small firms.
#[rustfmt::skip]
const SIZE_BUCKETS: &[((u64, u64), usize)] = &[
    ((5, 10), 10), ((11, 50), 22), ((51, 200), 24), ((201, 500), 16), ((501, 1000), 10),
    ((1001, 5000), 10), ((5001, 10000), 5), ((10001, 20000), 3),
];
#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
    "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark",
    "Margaret", "Steven", "Sandra", "Paul", "Ashley", "Andrew", "Emily", "Joshua", "Donna",
    "Kevin", "Michelle", "Brian", "Carol", "George", "Amanda", "Timothy", "Melissa", "Ronald",
    "Deborah", "Jason", "Stephanie", "Ryan", "Rebecca", "Priya", "Wei", "Olga", "Hiroshi",
    "Fatima", "Lucas", "Chloe", "Mateo", "Ingrid", "Arjun",
];
#[rustfmt::skip]
const LAST_NAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott",
    "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera",
    "Campbell", "Mitchell", "Carter", "Roberts", "Patel", "Chen", "Muller", "Schmidt", "Dubois",
    "Kowalski", "Tanaka", "O'Brien", "Novak", "Singh",
];
/// (title, seniority, department); repeated non-executive entries make executives rarer.
#[rustfmt::skip]
const ROLES: &[(&str, &str, &str)] = &[
    ("CEO", "c_suite", "executive"),
    ("CFO", "c_suite", "finance"),
    ("CTO", "c_suite", "engineering"),
    ("VP Sales", "vp", "sales"),
    ("VP Engineering", "vp", "engineering"),
    ("VP Marketing", "vp", "marketing"),
    ("Director of Operations", "director", "operations"),
    ("Director of Finance", "director", "finance"),
    ("Head of Marketing", "director", "marketing"),
    ("Director of Engineering", "director", "engineering"),
    ("Sales Manager", "manager", "sales"),
    ("Engineering Manager", "manager", "engineering"),
    ("Marketing Manager", "manager", "marketing"),
    ("Operations Manager", "manager", "operations"),
    ("Senior Software Engineer", "senior", "engineering"),
    ("Senior Account Executive", "senior", "sales"),
    ("Senior Accountant", "senior", "finance"),
    ("Software Engineer", "entry", "engineering"),
    ("Software Engineer", "entry", "engineering"),
    ("Account Executive", "entry", "sales"),
    ("Account Executive", "entry", "sales"),
    ("Sales Development Representative", "entry", "sales"),
    ("Marketing Specialist", "entry", "marketing"),
    ("Operations Analyst", "entry", "operations"),
    ("Financial Analyst", "entry", "finance"),
];

fn revenue_band(employees: u32) -> &'static str {
    match employees {
        0..=49 => "$1M-$10M",
        50..=249 => "$10M-$50M",
        250..=999 => "$50M-$100M",
        1000..=4999 => "$100M-$1B",
        _ => "$1B+",
    }
}

/// Picks an item from `(item, weight)` pairs with probability proportional to weight.
fn weighted<T: Copy>(rng: &mut SplitMix64, items: &[(T, usize)]) -> T {
    let total: usize = items.iter().map(|(_, w)| w).sum();
    let mut ticket = rng.below(total);
    for &(item, w) in items {
        if ticket < w {
            return item;
        }
        ticket -= w;
    }
    items[items.len() - 1].0
}

pub(crate) fn companies(rng: &mut SplitMix64, n: usize) -> Vec<Company> {
    // A shuffled list of every stem × tail pair gives unique names without retries;
    // beyond that many companies a numeric suffix keeps names unique.
    let mut names: Vec<(usize, usize)> = (0..NAME_STEMS.len())
        .flat_map(|s| (0..NAME_TAILS.len()).map(move |t| (s, t)))
        .collect();
    for i in (1..names.len()).rev() {
        names.swap(i, rng.below(i + 1));
    }
    let mut domains = HashSet::new();
    (0..n)
        .map(|i| {
            let (stem, tail) = names[i % names.len()];
            let round = i / names.len();
            let mut name = format!("{} {}", NAME_STEMS[stem], NAME_TAILS[tail]);
            if round > 0 {
                name = format!("{name} {}", round + 1);
            }
            let tld = rng.pick(TLDS);
            let mut domain = format!("{}.{tld}", slug(&name));
            let mut extra = 2;
            while !domains.insert(domain.clone()) {
                domain = format!("{}{extra}.{tld}", slug(&name));
                extra += 1;
            }
            let (lo, hi) = weighted(rng, SIZE_BUCKETS);
            let employee_count = rng.between(lo, hi) as u32;
            let mut tech: Vec<&str> = TECH.to_vec();
            for k in (1..tech.len()).rev() {
                tech.swap(k, rng.below(k + 1));
            }
            tech.truncate(2 + rng.below(5));
            Company {
                id: format!("c{i:05}"),
                name,
                domain,
                industry: rng.pick(INDUSTRIES).to_string(),
                employee_count,
                revenue_band: revenue_band(employee_count).to_string(),
                country: weighted(rng, COUNTRIES).to_string(),
                tech: tech.into_iter().map(String::from).collect(),
                email_pattern: rng.pick(PATTERNS).to_string(),
                catch_all: rng.unit() < 0.10,
            }
        })
        .collect()
}

pub(crate) fn people(rng: &mut SplitMix64, companies: &[Company], n: usize) -> Vec<Person> {
    let mut names_taken = HashSet::new();
    let mut emails_taken = HashSet::new();
    let mut slugs_taken = HashSet::new();
    (0..n)
        .map(|i| {
            let company = rng.below(companies.len());
            let c = &companies[company];
            // Retry a few times for a name not yet used at this company, so that the
            // (name, domain) lookup is unambiguous; tiny companies with many people may
            // still end up with namesakes, which the email suffix below keeps distinct.
            let (mut first, mut last) = (rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES));
            for _ in 0..20 {
                if !names_taken.contains(&(*first, *last, company)) {
                    break;
                }
                (first, last) = (rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES));
            }
            names_taken.insert((*first, *last, company));
            let local = email_local_part(&c.email_pattern, first, last);
            let mut email = format!("{local}@{}", c.domain);
            let mut suffix = 2;
            while !emails_taken.insert(email.clone()) {
                email = format!("{local}{suffix}@{}", c.domain);
                suffix += 1;
            }
            let mut handle = format!("{}-{}-{}", slug(first), slug(last), rng.between(10, 9999));
            while !slugs_taken.insert(handle.clone()) {
                handle = format!("{}-{}-{}", slug(first), slug(last), rng.between(10, 99999));
            }
            let (title, seniority, department) = *rng.pick(ROLES);
            Person {
                id: format!("p{i:05}"),
                first_name: first.to_string(),
                last_name: last.to_string(),
                email,
                title: title.to_string(),
                seniority: seniority.to_string(),
                department: department.to_string(),
                phone: phone_number(rng, &c.country),
                linkedin_url: format!("https://www.linkedin.com/in/{handle}"),
                company,
            }
        })
        .collect()
}

/// A plausible E.164 number for the country, using ranges reserved for fiction
/// where the country has them (555-01xx in North America, 07700 900xxx in the UK).
fn phone_number(rng: &mut SplitMix64, country: &str) -> String {
    match country {
        "US" | "CA" => format!("+1{}55501{:02}", rng.between(201, 989), rng.below(100)),
        "GB" => format!("+447700900{:03}", rng.below(1000)),
        "DE" => format!("+4930{:08}", rng.below(100_000_000)),
        "FR" => format!("+331{:08}", rng.below(100_000_000)),
        "IN" => format!("+919{:09}", rng.below(1_000_000_000)),
        "AU" => format!("+614{:08}", rng.below(100_000_000)),
        _ => format!("+1{}55501{:02}", rng.between(201, 989), rng.below(100)),
    }
}

/// All email patterns companies may use, in a fixed order.
pub(crate) fn email_patterns() -> &'static [&'static str] {
    PATTERNS
}

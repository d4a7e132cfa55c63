//! A PostgreSQL connection URL: parsed once, printed only with its password
//! redacted (it lands in logs, `status` and error messages).

use std::str::FromStr;

/// A parsed `postgres://` URL. `Display` and `Debug` never show the password.
#[derive(Clone)]
pub struct PgUrl {
    config: tokio_postgres::Config,
    redacted: String,
}

impl PgUrl {
    /// Parse `postgres://user[:password]@host[:port]/db[?options]`. The error
    /// text never repeats the password.
    pub fn parse(url: &str) -> Result<PgUrl, String> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err("must start with postgres:// or postgresql://".to_string());
        }
        let redacted = redact(url);
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| format!("not a PostgreSQL URL ({redacted}): {e}"))?;
        if config.get_dbname().is_none() {
            return Err(format!("{redacted} names no database"));
        }
        Ok(PgUrl { config, redacted })
    }

    /// The driver's configuration.
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The same server with another database (tests create one each).
    pub fn with_dbname(&self, db: &str) -> PgUrl {
        let mut config = self.config.clone();
        config.dbname(db);
        let base = self.redacted.split('?').next().unwrap_or_default();
        let host_end = base
            .find("://")
            .map(|i| i + 3)
            .and_then(|i| base[i..].find('/').map(|j| i + j))
            .unwrap_or(base.len());
        PgUrl {
            config,
            redacted: format!("{}/{db}", &base[..host_end]),
        }
    }

    /// The database name.
    pub fn dbname(&self) -> &str {
        self.config.get_dbname().unwrap_or_default()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:[redacted]@host/db`.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return redact_query(url);
    };
    let userinfo = &rest[..at];
    let user = userinfo.split(':').next().unwrap_or_default();
    let shown = if userinfo.contains(':') {
        format!("{user}:[redacted]")
    } else {
        user.to_string()
    };
    redact_query(&format!("{}{shown}{}", &url[..scheme_end], &rest[at..]))
}

/// A `password=` query option is redacted too.
fn redact_query(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=[redacted]"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

impl std::fmt::Display for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgUrl({})", self.redacted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_print() {
        let u = PgUrl::parse("postgres://lf:s3cret@db.internal:5433/leadfall").unwrap();
        assert_eq!(
            u.to_string(),
            "postgres://lf:[redacted]@db.internal:5433/leadfall"
        );
        assert!(!format!("{u:?}").contains("s3cret"));
        let q = PgUrl::parse("postgresql://lf@h/db?password=s3cret&sslmode=disable").unwrap();
        assert_eq!(
            q.to_string(),
            "postgresql://lf@h/db?password=[redacted]&sslmode=disable"
        );
        assert_eq!(
            u.with_dbname("other").to_string(),
            "postgres://lf:[redacted]@db.internal:5433/other"
        );
        assert!(PgUrl::parse("mysql://x/y").is_err());
        assert!(PgUrl::parse("postgres://lf:s3cret@h")
            .unwrap_err()
            .contains("names no database"));
        assert!(!PgUrl::parse("postgres://lf:s3cret@h")
            .unwrap_err()
            .contains("s3cret"));
    }
}

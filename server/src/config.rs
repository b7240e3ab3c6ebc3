//! Configuration: built-in defaults, then an optional TOML file, then
//! `ATTEST_*` environment variables (and `DATABASE_URL`), each overriding the
//! last. Secrets are `SecretString`s, whose Debug output is redacted, so the
//! configuration can be logged whole.

use figment::{
    providers::{Env, Format, Toml},
    Figment,
};
use secrecy::SecretString;
use serde::Deserialize;
use std::{net::SocketAddr, path::PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// PostgreSQL to use; when unset, an embedded cluster is started in `data_dir`.
    pub database_url: Option<SecretString>,
    /// Where the embedded PostgreSQL keeps its data.
    pub data_dir: PathBuf,
    /// The built site (the `pkg/` folder with the WebAssembly and CSS).
    pub site_root: PathBuf,
    /// The address people use to reach the portal. When it is https, cookies
    /// are marked Secure and HSTS is sent.
    pub public_url: Option<String>,
    /// Name of the admin account created on the first start.
    pub admin_user: String,
    /// Its password; when unset a random one is generated and printed once.
    pub admin_password: Option<SecretString>,
    /// A session ends after this long without a request.
    pub session_idle_minutes: u64,
    /// A session ends this long after sign-in, however active.
    pub session_absolute_hours: u64,
    /// Requests taking longer are answered 408.
    pub request_timeout_secs: u64,
    /// Seconds a client has to send a request's headers, from the opening of
    /// its connection or from the previous response (so also how long an
    /// idle keep-alive connection stays open).
    pub header_timeout_secs: u64,
    /// Open connections in all; more are closed as soon as accepted.
    pub max_connections: usize,
    /// Open connections from one client address (not applied with
    /// `trust_forwarded_for`, where every connection comes from the proxy).
    pub max_connections_per_client: usize,
    /// Largest accepted request body (pages, forms, server functions).
    pub body_limit_bytes: usize,
    /// Largest accepted snapshot file, compressed or not (upload, API, `attest import`).
    pub import_limit_bytes: usize,
    /// Take the client address from the last X-Forwarded-For hop (only behind
    /// a reverse proxy that sets it).
    pub trust_forwarded_for: bool,
    /// Maximum connections in the database pool.
    pub db_max_connections: u32,
    /// Seconds between runs of the exemption job (expiry and reminders).
    pub exemption_check_secs: u64,
    /// Where reminders of expiring exemptions and audit checkpoints are also
    /// posted (JSON), if set.
    pub webhook_url: Option<String>,
    /// The portal's Ed25519 signing key (created on first use when absent);
    /// its public keys, current and retired, are kept beside it in
    /// `<file>.pub`. Default: `signing-key` in `data_dir`. Point it at a
    /// mounted secret to share one key between replicas.
    pub signing_key_file: Option<PathBuf>,
    /// Seconds between signed checkpoints of the audit log's head (only
    /// when the head moved).
    pub checkpoint_interval_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            database_url: None,
            data_dir: PathBuf::from(".attest"),
            site_root: PathBuf::from("target/site"),
            public_url: None,
            admin_user: "admin".into(),
            admin_password: None,
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            request_timeout_secs: 30,
            header_timeout_secs: 5,
            max_connections: 1024,
            max_connections_per_client: 64,
            body_limit_bytes: 1024 * 1024,
            import_limit_bytes: 512 * 1024 * 1024,
            trust_forwarded_for: false,
            db_max_connections: 10,
            exemption_check_secs: 300,
            webhook_url: None,
            signing_key_file: None,
            checkpoint_interval_secs: 600,
        }
    }
}

impl Config {
    /// Loads the configuration from `file` (or `attest.toml` if it exists)
    /// and the environment.
    pub fn load(file: Option<&std::path::Path>) -> Result<Config, Box<figment::Error>> {
        let mut figment = Figment::new();
        match file {
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("attest.toml")),
        }
        for (key, _) in std::env::vars() {
            if let Some(field) = key.strip_prefix("ATTEST_") {
                let field = field.to_ascii_lowercase();
                if !Self::FIELDS.contains(&field.as_str()) && !matches!(field.as_str(), "config" | "pg_bin") {
                    eprintln!("attest: ignoring unknown environment variable {key}");
                }
            }
        }
        figment
            .merge(Env::prefixed("ATTEST_").filter(|k| Self::FIELDS.iter().any(|f| k.as_str().eq_ignore_ascii_case(f))))
            .merge(Env::raw().only(&["database_url"]))
            .extract()
            .map_err(Box::new)
    }

    /// The keys a file or `ATTEST_*` variable may set.
    pub const FIELDS: [&'static str; 21] = [
        "listen",
        "database_url",
        "data_dir",
        "site_root",
        "public_url",
        "admin_user",
        "admin_password",
        "session_idle_minutes",
        "session_absolute_hours",
        "request_timeout_secs",
        "header_timeout_secs",
        "max_connections",
        "max_connections_per_client",
        "body_limit_bytes",
        "import_limit_bytes",
        "trust_forwarded_for",
        "db_max_connections",
        "exemption_check_secs",
        "webhook_url",
        "signing_key_file",
        "checkpoint_interval_secs",
    ];

    /// The portal's key (created when absent) and its checkpoint copies.
    pub fn notary(&self) -> attest_core::CoreResult<attest_core::checkpoints::Notary> {
        let name = attest_core::signing::name_for(self.public_url.as_deref());
        attest_core::checkpoints::Notary::new(
            attest_core::signing::KeyFiles::at(
                self.signing_key_file.clone().unwrap_or_else(|| self.data_dir.join("signing-key")),
            ),
            name,
            attest_core::checkpoints::copies_in(&self.data_dir),
        )
    }

    pub fn https(&self) -> bool {
        self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }
}

#[cfg(test)]
#[expect(clippy::result_large_err, reason = "figment::Jail fixes the closure's error type")]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("attest.toml", "listen = \"0.0.0.0:8080\"\nsession_idle_minutes = 5\n")?;
            jail.set_env("ATTEST_SESSION_IDLE_MINUTES", "7");
            jail.set_env("DATABASE_URL", "postgres://u:hunter2@db/attest");
            let c = Config::load(None).map_err(|e| *e)?;
            assert_eq!(c.listen.port(), 8080);
            assert_eq!(c.session_idle_minutes, 7);
            assert_eq!(c.database_url.as_ref().unwrap().expose_secret(), "postgres://u:hunter2@db/attest");
            assert!(!format!("{c:?}").contains("hunter2"), "secrets must not appear in Debug output");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_is_an_error_not_a_silent_default() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("attest.toml", "lisen = \"0.0.0.0:8080\"\n")?;
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }
}

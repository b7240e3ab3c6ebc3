//! Where the scanner's bearer token comes from. Either a file holding a
//! token obtained elsewhere (`--access-token-file`), or azure_identity's
//! credentials tried in the order Azure's own tools use: workload identity,
//! a client secret, managed identity, then developer tools (az, azd). The
//! first that yields a token is kept for the rest of the scan, and tokens
//! are reused until five minutes before they expire (the CLI credentials do
//! not cache, and would otherwise start a process per request).

use super::cloud::Cloud;
use azure_core::{
    credentials::{Secret, TokenCredential},
    http::ClientOptions,
};
use azure_identity::{
    ClientSecretCredential, ClientSecretCredentialOptions, DeveloperToolsCredential, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use secrecy::SecretString;
use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};
use time::OffsetDateTime;
use tokio::sync::Mutex;

/// How long the managed identity endpoint may take to answer before the
/// chain moves on (off Azure, IMDS never answers at all).
const MANAGED_IDENTITY_PROBE: Duration = Duration::from_secs(3);
/// A token file is re-read this often, so a rotated token is picked up.
const TOKEN_FILE_REREAD: Duration = Duration::from_secs(60);

pub struct Credential {
    source: Source,
    scope: String,
    cache: Mutex<Cached>,
}

enum Source {
    TokenFile(PathBuf),
    Chain { candidates: Vec<(&'static str, Arc<dyn TokenCredential>)>, chosen: Mutex<Option<usize>> },
}

#[derive(Default)]
struct Cached {
    token: Option<SecretString>,
    /// When to fetch a new one.
    refresh_at: Option<Instant>,
    /// Which credential produced it, for messages.
    via: &'static str,
}

impl Credential {
    /// The same source of tokens, for another scope (Microsoft Graph's):
    /// a token file serves both; a chain tries its credentials afresh.
    pub fn for_scope(&self, scope: String) -> Credential {
        let source = match &self.source {
            Source::TokenFile(path) => Source::TokenFile(path.clone()),
            Source::Chain { candidates, .. } => {
                Source::Chain { candidates: candidates.clone(), chosen: Mutex::new(None) }
            }
        };
        Credential { source, scope, cache: Mutex::default() }
    }

    /// A bearer token read from `path` (surrounding whitespace ignored).
    pub fn token_file(path: PathBuf) -> Credential {
        Credential { source: Source::TokenFile(path), scope: String::new(), cache: Mutex::default() }
    }

    /// The chain of azure_identity credentials that the environment configures.
    pub fn from_environment(cloud: &Cloud) -> anyhow::Result<Credential> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let client_options = ClientOptions { cloud: cloud.configuration().map(Arc::new), ..Default::default() };
        let mut candidates: Vec<(&'static str, Arc<dyn TokenCredential>)> = Vec::new();
        for planned in plan(&env) {
            let credential: Arc<dyn TokenCredential> = match planned.clone() {
                Planned::WorkloadIdentity => {
                    let mut options = WorkloadIdentityCredentialOptions::default();
                    options.credential_options.client_options = client_options.clone();
                    WorkloadIdentityCredential::new(Some(options))?
                }
                Planned::ClientSecret { tenant, client, secret } => {
                    let options = ClientSecretCredentialOptions { client_options: client_options.clone() };
                    ClientSecretCredential::new(&tenant, client, Secret::new(secret), Some(options))?
                }
                Planned::ManagedIdentity { client_id } => {
                    let options = ManagedIdentityCredentialOptions {
                        user_assigned_id: client_id.map(UserAssignedId::ClientId),
                        ..Default::default()
                    };
                    ManagedIdentityCredential::new(Some(options))?
                }
                Planned::DeveloperTools => DeveloperToolsCredential::new(None)?,
            };
            candidates.push((planned.name(), credential));
        }
        Ok(Credential {
            source: Source::Chain { candidates, chosen: Mutex::new(None) },
            scope: cloud.token_scope.clone(),
            cache: Mutex::default(),
        })
    }

    /// A current bearer token.
    pub async fn bearer(&self) -> Result<SecretString, String> {
        let mut cache = self.cache.lock().await;
        if let (Some(token), Some(at)) = (&cache.token, cache.refresh_at) {
            if Instant::now() < at {
                return Ok(token.clone());
            }
        }
        let (token, refresh_at, via) = match &self.source {
            Source::TokenFile(path) => {
                let text = tokio::fs::read_to_string(path)
                    .await
                    .map_err(|e| format!("cannot read the access token file {}: {e}", path.display()))?;
                let token = text.trim();
                if token.is_empty() || token.contains(char::is_whitespace) {
                    return Err(format!("{} does not hold a single bearer token", path.display()));
                }
                (SecretString::from(token.to_string()), Instant::now() + TOKEN_FILE_REREAD, "access token file")
            }
            Source::Chain { candidates, chosen } => {
                let mut chosen = chosen.lock().await;
                let order: Vec<usize> = match *chosen {
                    Some(i) => vec![i],
                    None => (0..candidates.len()).collect(),
                };
                let mut failures = Vec::new();
                let mut found = None;
                let scopes = [self.scope.as_str()];
                for i in order {
                    let (name, credential) = &candidates[i];
                    let attempt = credential.get_token(&scopes, None);
                    let result = if *name == "managed identity" && chosen.is_none() {
                        match tokio::time::timeout(MANAGED_IDENTITY_PROBE, attempt).await {
                            Ok(r) => r.map_err(|e| e.to_string()),
                            Err(_) => Err("no managed identity endpoint answered".to_string()),
                        }
                    } else {
                        attempt.await.map_err(|e| e.to_string())
                    };
                    match result {
                        Ok(token) => {
                            *chosen = Some(i);
                            found = Some((token, *name));
                            break;
                        }
                        Err(e) => failures.push(format!("{name}: {}", first_line(&e))),
                    }
                }
                let Some((token, name)) = found else {
                    return Err(format!("no Azure credential produced a token ({})", failures.join("; ")));
                };
                let left = token.expires_on - OffsetDateTime::now_utc() - time::Duration::minutes(5);
                let left = Duration::try_from(left).unwrap_or(Duration::from_secs(30)).max(Duration::from_secs(30));
                (SecretString::from(token.token.secret().to_string()), Instant::now() + left, name)
            }
        };
        cache.token = Some(token.clone());
        cache.refresh_at = Some(refresh_at);
        cache.via = via;
        Ok(token)
    }

    /// Which credential the last token came from.
    pub async fn via(&self) -> &'static str {
        self.cache.lock().await.via
    }
}

/// A credential the environment asks for, before it is built.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Planned {
    WorkloadIdentity,
    ClientSecret { tenant: String, client: String, secret: String },
    ManagedIdentity { client_id: Option<String> },
    DeveloperTools,
}

impl Planned {
    fn name(&self) -> &'static str {
        match self {
            Planned::WorkloadIdentity => "workload identity",
            Planned::ClientSecret { .. } => "client secret",
            Planned::ManagedIdentity { .. } => "managed identity",
            Planned::DeveloperTools => "developer tools (az, azd)",
        }
    }
}

/// The chain, in the order Azure's tools try it: workload identity when a
/// federated token file is configured, a client secret when tenant, client
/// and secret are all set, then managed identity (user-assigned when
/// AZURE_CLIENT_ID is set without a secret), then the developer tools.
fn plan(env: &dyn Fn(&str) -> Option<String>) -> Vec<Planned> {
    let mut chain = Vec::new();
    if env("AZURE_FEDERATED_TOKEN_FILE").is_some() {
        chain.push(Planned::WorkloadIdentity);
    }
    let secret = env("AZURE_CLIENT_SECRET");
    if let (Some(tenant), Some(client), Some(secret)) = (env("AZURE_TENANT_ID"), env("AZURE_CLIENT_ID"), secret.clone())
    {
        chain.push(Planned::ClientSecret { tenant, client, secret });
    }
    let client_id = if secret.is_none() { env("AZURE_CLIENT_ID") } else { None };
    chain.push(Planned::ManagedIdentity { client_id });
    chain.push(Planned::DeveloperTools);
    chain
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Keeps the token out of Debug output.
impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Source::TokenFile(p) => write!(f, "Credential(token file {})", p.display()),
            Source::Chain { candidates, .. } => {
                let names: Vec<&str> = candidates.iter().map(|(n, _)| *n).collect();
                write!(f, "Credential(chain: {})", names.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn plan_for(vars: &[(&str, &str)]) -> Vec<&'static str> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        plan(&|k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).iter().map(Planned::name).collect()
    }

    #[test]
    fn the_chain_follows_the_environment_in_azures_order() {
        assert_eq!(plan_for(&[]), ["managed identity", "developer tools (az, azd)"]);
        let secret = [("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_ID", "c"), ("AZURE_CLIENT_SECRET", "s")];
        assert_eq!(plan_for(&secret), ["client secret", "managed identity", "developer tools (az, azd)"]);
        let mut all = secret.to_vec();
        all.push(("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"));
        assert_eq!(
            plan_for(&all),
            ["workload identity", "client secret", "managed identity", "developer tools (az, azd)"]
        );
        // A client id without a secret names a user-assigned managed identity.
        let vars: Vec<(String, String)> = vec![("AZURE_CLIENT_ID".into(), "mi-client".into())];
        let chain = plan(&|k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()));
        assert_eq!(chain[0], Planned::ManagedIdentity { client_id: Some("mi-client".into()) });
        // With a secret, the same id belongs to the service principal instead.
        let chain = plan(&|k: &str| secret.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()));
        assert_eq!(chain[1], Planned::ManagedIdentity { client_id: None });
    }

    #[tokio::test]
    async fn a_token_file_is_read_trimmed_and_must_hold_one_token() {
        let dir = std::env::temp_dir().join(format!("attest-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "  eyJ0eXAi.abc.def\n").unwrap();
        let c = Credential::token_file(path.clone());
        assert_eq!(c.bearer().await.unwrap().expose_secret(), "eyJ0eXAi.abc.def");
        assert_eq!(c.via().await, "access token file");
        std::fs::write(&path, "two tokens").unwrap();
        let fresh = Credential::token_file(path.clone());
        assert!(fresh.bearer().await.unwrap_err().contains("single bearer token"));
        let missing = Credential::token_file(dir.join("absent"));
        assert!(missing.bearer().await.unwrap_err().contains("cannot read"));
        std::fs::remove_dir_all(dir).ok();
    }
}

//! Signing in with a local account: password check, throttling per account
//! and per client address, and the audit entries for success and failure.

use crate::{audit, names::UserName, password, principal::Principal, users, CoreError, CoreResult};
use secrecy::SecretString;
use serde_json::json;
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};

/// Failures are counted over this window.
pub const WINDOW: Duration = Duration::minutes(15);
/// Failures per account within the window before sign-in is refused.
pub const MAX_PER_ACCOUNT: i64 = 5;
/// Failures per client address within the window before sign-in is refused.
pub const MAX_PER_CLIENT: i64 = 20;

/// Why a sign-in failed. The message shown to the visitor never says which
/// of name or password was wrong.
#[derive(Debug)]
pub enum SignInError {
    BadCredentials,
    Throttled { retry_after_secs: u64 },
    Other(CoreError),
}

impl From<CoreError> for SignInError {
    fn from(e: CoreError) -> Self {
        SignInError::Other(e)
    }
}

impl From<sqlx::Error> for SignInError {
    fn from(e: sqlx::Error) -> Self {
        SignInError::Other(e.into())
    }
}

async fn throttled(pool: &PgPool, username: &str, client_addr: &str) -> CoreResult<Option<u64>> {
    let since = OffsetDateTime::now_utc() - WINDOW;
    let row = sqlx::query!(
        r#"select
             count(*) filter (where username = $1) as "by_account!",
             count(*) filter (where client_addr = $2) as "by_client!",
             min(at) as oldest
           from signin_failures
           where at > $3 and (username = $1 or client_addr = $2)"#,
        username,
        client_addr,
        since
    )
    .fetch_one(pool)
    .await?;
    if row.by_account >= MAX_PER_ACCOUNT || row.by_client >= MAX_PER_CLIENT {
        let oldest = row.oldest.unwrap_or_else(OffsetDateTime::now_utc);
        let wait = (oldest + WINDOW - OffsetDateTime::now_utc()).whole_seconds().max(1);
        return Ok(Some(wait as u64));
    }
    Ok(None)
}

/// Checks a name and password. Every outcome is audited; failures are
/// recorded for throttling in the same transaction as their audit entry.
pub async fn sign_in(
    pool: &PgPool,
    username: &str,
    password: &SecretString,
    client_addr: &str,
) -> Result<Principal, SignInError> {
    let name = UserName::parse(username).map_err(|_| SignInError::BadCredentials)?;
    if let Some(retry_after_secs) = throttled(pool, name.as_str(), client_addr).await? {
        let mut tx = pool.begin().await?;
        audit::append(
            &mut tx,
            "anonymous",
            "signin.throttled",
            &users::object(&name),
            json!({"client_addr": client_addr}),
        )
        .await?;
        tx.commit().await?;
        return Err(SignInError::Throttled { retry_after_secs });
    }

    let mut conn = pool.acquire().await?;
    let creds = users::credentials(&mut conn, &name).await?;
    drop(conn);
    // Verify against a decoy when the account does not exist, so the time
    // taken does not reveal which names exist.
    let hash = creds.as_ref().map_or(password::decoy_hash(), |c| c.password_hash.as_str());
    let password_ok = password::verify(password, hash);

    let mut tx = pool.begin().await?;
    match creds {
        Some(c) if password_ok && !c.disabled => {
            sqlx::query!("delete from signin_failures where username = $1", name.as_str()).execute(&mut *tx).await?;
            audit::append(
                &mut tx,
                &c.name,
                "signin.success",
                &users::object(&name),
                json!({"client_addr": client_addr}),
            )
            .await?;
            tx.commit().await?;
            let (principal, _) = users::principal(pool, c.id).await?.ok_or(SignInError::BadCredentials)?;
            Ok(principal)
        }
        other => {
            let reason = match other {
                None => "unknown user",
                Some(c) if c.disabled => "account disabled",
                Some(_) => "wrong password",
            };
            sqlx::query!(
                "insert into signin_failures (username, client_addr) values ($1, $2)",
                name.as_str(),
                client_addr
            )
            .execute(&mut *tx)
            .await?;
            audit::append(
                &mut tx,
                "anonymous",
                "signin.failure",
                &users::object(&name),
                json!({"client_addr": client_addr, "reason": reason}),
            )
            .await?;
            tx.commit().await?;
            Err(SignInError::BadCredentials)
        }
    }
}

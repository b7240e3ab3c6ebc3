//! API tokens for automation: a random secret shown once, stored as its
//! SHA-256, acting as the user it was issued for with that user's roles.

use crate::{audit, names::UserName, principal::Principal, users, CoreError, CoreResult};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

const PREFIX: &str = "attest_";

/// 256 random bits, base64url without padding (43 characters).
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A token as listed (never its secret).
#[derive(Debug, Clone, Serialize)]
pub struct TokenSummary {
    pub id: Uuid,
    pub user: String,
    pub label: String,
    pub created_at: OffsetDateTime,
    pub created_by: String,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// Issues a token; the returned secret is not stored anywhere.
pub async fn create(
    tx: &mut PgConnection,
    actor: &str,
    user: &UserName,
    label: &str,
) -> CoreResult<(Uuid, SecretString)> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        return Err(CoreError::invalid("label", "1 to 100 characters"));
    }
    let user_id = sqlx::query_scalar!("select id from users where name = $1", user.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| CoreError::not_found(format!("user {user}")))?;
    let secret = format!("{PREFIX}{}", random_secret());
    let id = Uuid::new_v4();
    sqlx::query!(
        "insert into api_tokens (id, user_id, label, token_hash, created_by) values ($1, $2, $3, $4, $5)",
        id,
        user_id,
        label,
        digest(&secret),
        actor
    )
    .execute(&mut *tx)
    .await?;
    audit::append(tx, actor, "token.create", &users::object(user), json!({"token": id, "label": label})).await?;
    Ok((id, SecretString::from(secret)))
}

pub async fn list(pool: &PgPool, user: Option<&UserName>) -> CoreResult<Vec<TokenSummary>> {
    let rows = sqlx::query_as!(
        TokenSummary,
        r#"select t.id, u.name as "user", t.label, t.created_at, t.created_by, t.last_used_at, t.revoked_at
           from api_tokens t join users u on u.id = t.user_id
           where ($1::text is null or u.name = $1)
           order by t.created_at desc"#,
        user.map(|u| u.as_str())
    )
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

pub async fn revoke(tx: &mut PgConnection, actor: &str, id: Uuid) -> CoreResult<()> {
    let row = sqlx::query!(
        "update api_tokens t set revoked_at = now() from users u
         where t.id = $1 and u.id = t.user_id and t.revoked_at is null
         returning u.name, t.label",
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| CoreError::not_found(format!("active token {id}")))?;
    audit::append(tx, actor, "token.revoke", &format!("user:{}", row.name), json!({"token": id, "label": row.label}))
        .await?;
    Ok(())
}

/// The principal a presented secret acts as: `None` for an unknown, revoked
/// or malformed token, or one whose user is disabled.
pub async fn authenticate(pool: &PgPool, presented: &SecretString) -> CoreResult<Option<Principal>> {
    let secret = presented.expose_secret();
    if !secret.starts_with(PREFIX) || secret.len() > 128 {
        return Ok(None);
    }
    let Some(user_id) = sqlx::query_scalar!(
        "update api_tokens set last_used_at = now()
         where token_hash = $1 and revoked_at is null
         returning user_id",
        digest(secret)
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    Ok(users::principal(pool, user_id).await?.map(|(p, _)| p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_url_safe() {
        let a = random_secret();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_secret());
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}

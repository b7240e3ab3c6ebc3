//! Accounts for tests, created through the domain layer (so they are audited
//! like any other).

use attest_core::{
    names::{Scope, UserName},
    users, Role,
};
use secrecy::SecretString;
use sqlx::PgPool;

/// The password every test account gets.
pub const PASSWORD: &str = "correct horse battery staple";

/// Creates `name` with `roles` (approver at `/subscriptions/00000000-0000-0000-0000-0000000000a1`).
pub async fn user(pool: &PgPool, name: &str, roles: &[Role]) -> anyhow::Result<()> {
    let name = UserName::parse(name)?;
    let mut tx = pool.begin().await?;
    users::create(&mut tx, "test", &name, &SecretString::from(PASSWORD)).await?;
    for role in roles {
        let scope = role
            .is_scoped()
            .then(|| Scope::parse("/subscriptions/00000000-0000-0000-0000-0000000000a1"))
            .transpose()?;
        users::grant(&mut tx, "test", &name, *role, scope.as_ref()).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// An API token for each of `names` (existing accounts), by name.
pub async fn tokens(
    pool: &PgPool,
    names: &[&'static str],
) -> anyhow::Result<std::collections::HashMap<&'static str, SecretString>> {
    let mut out = std::collections::HashMap::new();
    for name in names {
        let mut tx = pool.begin().await?;
        let (_, secret) = attest_core::tokens::create(&mut tx, "test", &UserName::parse(name)?, "api").await?;
        tx.commit().await?;
        out.insert(*name, secret);
    }
    Ok(out)
}

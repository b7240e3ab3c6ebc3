//! Account administration (admins only): users, roles, passwords, tokens.

use crate::model::{AppError, OneTimeSecret, TokenView, UserView};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod convert {
    use crate::model::{GrantView, TokenView, UserView};
    use crate::ssr::fmt_time;

    pub fn user(u: attest_core::users::UserSummary) -> UserView {
        UserView {
            name: u.name,
            created_at: fmt_time(u.created_at),
            disabled: u.disabled_at.is_some(),
            grants: u.grants.into_iter().map(|g| GrantView { role: g.role.to_string(), scope: g.scope }).collect(),
        }
    }

    pub fn token(t: attest_core::tokens::TokenSummary) -> TokenView {
        TokenView {
            id: t.id.to_string(),
            label: t.label,
            created_at: fmt_time(t.created_at),
            created_by: t.created_by,
            last_used_at: t.last_used_at.map(fmt_time),
            revoked: t.revoked_at.is_some(),
        }
    }
}

#[cfg(feature = "ssr")]
async fn admin() -> Result<attest_core::Principal, AppError> {
    crate::ssr::require(&[attest_core::Role::Admin]).await
}

#[cfg(feature = "ssr")]
fn role_and_scope(role: &str, scope: &str) -> Result<(attest_core::Role, Option<attest_core::names::Scope>), AppError> {
    use crate::ssr::{core, fail};
    let role = role
        .parse::<attest_core::Role>()
        .map_err(|message| fail(AppError::Invalid { field: "role".into(), message }))?;
    let scope = match scope.trim() {
        "" => None,
        s => Some(attest_core::names::Scope::parse(s).map_err(core)?),
    };
    Ok((role, scope))
}

/// A password typed by the admin, or a generated one to show once.
#[cfg(feature = "ssr")]
fn chosen_password(typed: &str) -> (secrecy::SecretString, bool) {
    if typed.is_empty() {
        (attest_core::password::generate(), true)
    } else {
        (secrecy::SecretString::from(typed.to_string()), false)
    }
}

#[server(endpoint = "fn/admin/users/list")]
pub async fn list_users() -> Result<Vec<UserView>, AppError> {
    admin().await?;
    let users = attest_core::users::list(&crate::ssr::pool()?).await?;
    Ok(users.into_iter().map(convert::user).collect())
}

#[server(endpoint = "fn/admin/users/get")]
pub async fn get_user(name: String) -> Result<UserView, AppError> {
    admin().await?;
    let name = crate::ssr::user_name(&name)?;
    Ok(convert::user(attest_core::users::get(&crate::ssr::pool()?, &name).await?))
}

/// Creates an account; with an empty password one is generated and returned once.
#[server(endpoint = "fn/admin/users/create")]
pub async fn create_user(name: String, password: String) -> Result<Option<OneTimeSecret>, AppError> {
    use secrecy::ExposeSecret;
    let actor = admin().await?;
    let name = crate::ssr::user_name(&name)?;
    let (password, generated) = chosen_password(&password);
    let mut tx = crate::ssr::pool()?.begin().await?;
    attest_core::users::create(&mut tx, &actor.name, &name, &password).await?;
    tx.commit().await?;
    Ok(generated.then(|| OneTimeSecret { subject: name.to_string(), secret: password.expose_secret().to_string() }))
}

#[server(endpoint = "fn/admin/users/set-disabled")]
pub async fn set_user_disabled(name: String, disabled: bool) -> Result<(), AppError> {
    let actor = admin().await?;
    let name = crate::ssr::user_name(&name)?;
    let mut tx = crate::ssr::pool()?.begin().await?;
    attest_core::users::set_disabled(&mut tx, &actor.name, &name, disabled).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets a new password (generated when empty, and returned once).
#[server(endpoint = "fn/admin/users/reset-password")]
pub async fn reset_password(name: String, password: String) -> Result<Option<OneTimeSecret>, AppError> {
    use secrecy::ExposeSecret;
    let actor = admin().await?;
    let name = crate::ssr::user_name(&name)?;
    let (password, generated) = chosen_password(&password);
    let mut tx = crate::ssr::pool()?.begin().await?;
    attest_core::users::set_password(&mut tx, &actor.name, &name, &password).await?;
    tx.commit().await?;
    Ok(generated.then(|| OneTimeSecret { subject: name.to_string(), secret: password.expose_secret().to_string() }))
}

#[server(endpoint = "fn/admin/roles/grant")]
pub async fn grant_role(name: String, role: String, scope: String) -> Result<(), AppError> {
    let actor = admin().await?;
    let name = crate::ssr::user_name(&name)?;
    let (role, scope) = role_and_scope(&role, &scope)?;
    let mut tx = crate::ssr::pool()?.begin().await?;
    attest_core::users::grant(&mut tx, &actor.name, &name, role, scope.as_ref()).await?;
    tx.commit().await?;
    Ok(())
}

#[server(endpoint = "fn/admin/roles/revoke")]
pub async fn revoke_role(name: String, role: String, scope: String) -> Result<(), AppError> {
    let actor = admin().await?;
    let name = crate::ssr::user_name(&name)?;
    let (role, scope) = role_and_scope(&role, &scope)?;
    let mut tx = crate::ssr::pool()?.begin().await?;
    attest_core::users::revoke(&mut tx, &actor.name, &name, role, scope.as_ref()).await?;
    tx.commit().await?;
    Ok(())
}

#[server(endpoint = "fn/admin/tokens/list")]
pub async fn list_tokens(name: String) -> Result<Vec<TokenView>, AppError> {
    admin().await?;
    let name = crate::ssr::user_name(&name)?;
    let tokens = attest_core::tokens::list(&crate::ssr::pool()?, Some(&name)).await?;
    Ok(tokens.into_iter().map(convert::token).collect())
}

/// Issues an API token for a user; the secret is returned this once.
#[server(endpoint = "fn/admin/tokens/create")]
pub async fn create_token(name: String, label: String) -> Result<OneTimeSecret, AppError> {
    use secrecy::ExposeSecret;
    let actor = admin().await?;
    let name = crate::ssr::user_name(&name)?;
    let mut tx = crate::ssr::pool()?.begin().await?;
    let (_, secret) = attest_core::tokens::create(&mut tx, &actor.name, &name, &label).await?;
    tx.commit().await?;
    Ok(OneTimeSecret { subject: format!("{name}: {}", label.trim()), secret: secret.expose_secret().to_string() })
}

#[server(endpoint = "fn/admin/tokens/revoke")]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    use crate::ssr::fail;
    let actor = admin().await?;
    let id = uuid::Uuid::parse_str(id.trim())
        .map_err(|_| fail(AppError::Invalid { field: "id".into(), message: "not a token id".into() }))?;
    let mut tx = crate::ssr::pool()?.begin().await?;
    attest_core::tokens::revoke(&mut tx, &actor.name, id).await?;
    tx.commit().await?;
    Ok(())
}

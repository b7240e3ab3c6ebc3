//! Local accounts and their role grants. Every change is audited in the
//! caller's transaction.

use crate::{
    audit,
    names::{Scope, UserName},
    password,
    principal::{Grant, Principal},
    CoreError, CoreResult, Role,
};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

/// An account as the admin pages and `attest user list` show it.
#[derive(Debug, Clone, Serialize)]
pub struct UserSummary {
    pub id: Uuid,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub disabled_at: Option<OffsetDateTime>,
    pub grants: Vec<Grant>,
}

/// What sign-in and session checks need about an account.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub id: Uuid,
    pub name: String,
    pub password_hash: String,
    pub disabled: bool,
    pub password_changed_at: OffsetDateTime,
}

pub fn object(name: &UserName) -> String {
    format!("user:{name}")
}

pub async fn create(tx: &mut PgConnection, actor: &str, name: &UserName, password: &SecretString) -> CoreResult<Uuid> {
    password::check_policy(password, name.as_str())?;
    let hash = password::hash(password)?;
    let id = Uuid::new_v4();
    sqlx::query!("insert into users (id, name, password_hash) values ($1, $2, $3)", id, name.as_str(), hash)
        .execute(&mut *tx)
        .await
        .map_err(|e| CoreError::from_unique(e, "users_name_key", format!("a user named {name} already exists")))?;
    audit::append(tx, actor, "user.create", &object(name), json!({})).await?;
    Ok(id)
}

pub async fn credentials(conn: &mut PgConnection, name: &UserName) -> CoreResult<Option<Credentials>> {
    let row = sqlx::query!(
        "select id, name, password_hash, disabled_at, password_changed_at from users where name = $1",
        name.as_str()
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| Credentials {
        id: r.id,
        name: r.name,
        password_hash: r.password_hash,
        disabled: r.disabled_at.is_some(),
        password_changed_at: r.password_changed_at,
    }))
}

async fn id_of(conn: &mut PgConnection, name: &UserName) -> CoreResult<Uuid> {
    sqlx::query_scalar!("select id from users where name = $1", name.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| CoreError::not_found(format!("user {name}")))
}

async fn grants_of(conn: &mut PgConnection, user_id: Uuid) -> CoreResult<Vec<Grant>> {
    let rows = sqlx::query!("select role, scope from user_roles where user_id = $1 order by role, scope", user_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter()
        .map(|r| {
            let role = r.role.parse::<Role>().map_err(CoreError::Internal)?;
            Ok(Grant { role, scope: r.scope })
        })
        .collect()
}

/// The principal for an enabled account, with the time its password last
/// changed (sessions older than that are void); `None` if it is gone or
/// disabled.
pub async fn principal(pool: &PgPool, user_id: Uuid) -> CoreResult<Option<(Principal, OffsetDateTime)>> {
    let mut conn = pool.acquire().await?;
    let Some(row) =
        sqlx::query!("select name, password_changed_at from users where id = $1 and disabled_at is null", user_id)
            .fetch_optional(&mut *conn)
            .await?
    else {
        return Ok(None);
    };
    let grants = grants_of(&mut conn, user_id).await?;
    Ok(Some((Principal { user_id, name: row.name, grants }, row.password_changed_at)))
}

pub async fn list(pool: &PgPool) -> CoreResult<Vec<UserSummary>> {
    let rows =
        sqlx::query!("select id, name, created_at, disabled_at from users order by name").fetch_all(pool).await?;
    // All grants in one query, not one per user.
    let mut grants: std::collections::HashMap<Uuid, Vec<Grant>> = std::collections::HashMap::new();
    for g in sqlx::query!("select user_id, role, scope from user_roles order by role, scope").fetch_all(pool).await? {
        let role = g.role.parse::<Role>().map_err(CoreError::Internal)?;
        grants.entry(g.user_id).or_default().push(Grant { role, scope: g.scope });
    }
    Ok(rows
        .into_iter()
        .map(|r| UserSummary {
            grants: grants.remove(&r.id).unwrap_or_default(),
            id: r.id,
            name: r.name,
            created_at: r.created_at,
            disabled_at: r.disabled_at,
        })
        .collect())
}

pub async fn get(pool: &PgPool, name: &UserName) -> CoreResult<UserSummary> {
    let mut conn = pool.acquire().await?;
    let r = sqlx::query!("select id, name, created_at, disabled_at from users where name = $1", name.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| CoreError::not_found(format!("user {name}")))?;
    let grants = grants_of(&mut conn, r.id).await?;
    Ok(UserSummary { id: r.id, name: r.name, created_at: r.created_at, disabled_at: r.disabled_at, grants })
}

async fn holds_admin(conn: &mut PgConnection, name: &UserName) -> CoreResult<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists (select 1 from user_roles r join users u on u.id = r.user_id
                          where u.name = $1 and r.role = 'admin') as "admin!""#,
        name.as_str()
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// Refuses a change that would leave the portal without an enabled admin:
/// nobody could then manage accounts without database access.
async fn keep_an_admin(conn: &mut PgConnection) -> CoreResult<()> {
    let admins = sqlx::query_scalar!(
        r#"select count(*) as "n!" from user_roles r join users u on u.id = r.user_id
           where r.role = 'admin' and u.disabled_at is null"#
    )
    .fetch_one(&mut *conn)
    .await?;
    if admins == 0 {
        return Err(CoreError::Conflict("this would leave no enabled admin".into()));
    }
    Ok(())
}

pub async fn set_disabled(tx: &mut PgConnection, actor: &str, name: &UserName, disabled: bool) -> CoreResult<()> {
    let changed = sqlx::query!(
        "update users set disabled_at = case when $2 then coalesce(disabled_at, now()) end
         where name = $1 and (disabled_at is null) = $2",
        name.as_str(),
        disabled
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        id_of(tx, name).await?;
        return Err(CoreError::Conflict(format!(
            "user {name} is already {}",
            if disabled { "disabled" } else { "enabled" }
        )));
    }
    // Only disabling an admin can leave the portal without one.
    if disabled && holds_admin(tx, name).await? {
        keep_an_admin(tx).await?;
    }
    let action = if disabled { "user.disable" } else { "user.enable" };
    audit::append(tx, actor, action, &object(name), json!({})).await?;
    Ok(())
}

/// Sets a new password and voids every session signed in with the old one.
pub async fn set_password(
    tx: &mut PgConnection,
    actor: &str,
    name: &UserName,
    password: &SecretString,
) -> CoreResult<()> {
    password::check_policy(password, name.as_str())?;
    let hash = password::hash(password)?;
    let changed = sqlx::query!(
        "update users set password_hash = $2, password_changed_at = now() where name = $1",
        name.as_str(),
        hash
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(CoreError::not_found(format!("user {name}")));
    }
    audit::append(tx, actor, "user.password", &object(name), json!({})).await?;
    Ok(())
}

fn check_scope(role: Role, scope: Option<&Scope>) -> CoreResult<String> {
    match (role.is_scoped(), scope) {
        (true, Some(s)) => {
            s.check_arm()?;
            Ok(s.as_str().to_owned())
        }
        (true, None) => Err(CoreError::invalid("scope", "the approver role is granted per scope: name one")),
        (false, Some(_)) => Err(CoreError::invalid("scope", format!("the {role} role is not scoped"))),
        (false, None) => Ok(String::new()),
    }
}

pub async fn grant(
    tx: &mut PgConnection,
    actor: &str,
    name: &UserName,
    role: Role,
    scope: Option<&Scope>,
) -> CoreResult<()> {
    let scope = check_scope(role, scope)?;
    let user_id = id_of(tx, name).await?;
    sqlx::query!(
        "insert into user_roles (user_id, role, scope, granted_by) values ($1, $2, $3, $4)",
        user_id,
        role.as_str(),
        scope,
        actor
    )
    .execute(&mut *tx)
    .await
    .map_err(|e| CoreError::from_unique(e, "user_roles_pkey", format!("{name} already holds {role}")))?;
    audit::append(tx, actor, "role.grant", &object(name), json!({"role": role, "scope": scope})).await?;
    Ok(())
}

pub async fn revoke(
    tx: &mut PgConnection,
    actor: &str,
    name: &UserName,
    role: Role,
    scope: Option<&Scope>,
) -> CoreResult<()> {
    let scope = check_scope(role, scope)?;
    let user_id = id_of(tx, name).await?;
    let removed = sqlx::query!(
        "delete from user_roles where user_id = $1 and role = $2 and scope = $3",
        user_id,
        role.as_str(),
        scope
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if removed == 0 {
        return Err(CoreError::not_found(format!("{role} grant for {name}")));
    }
    if role == Role::Admin {
        keep_an_admin(tx).await?;
    }
    audit::append(tx, actor, "role.revoke", &object(name), json!({"role": role, "scope": scope})).await?;
    Ok(())
}

/// The first start's admin account: created only when there are no accounts
/// at all. Returns the name and, when it was generated here, the password,
/// which the caller prints once.
pub async fn bootstrap_admin(
    pool: &PgPool,
    name: &UserName,
    password: Option<SecretString>,
) -> CoreResult<Option<(String, Option<SecretString>)>> {
    let mut tx = pool.begin().await?;
    // Serialise concurrent first starts of several replicas.
    sqlx::query("lock table users in share row exclusive mode").execute(&mut *tx).await?;
    let existing = sqlx::query_scalar!(r#"select count(*) as "n!" from users"#).fetch_one(&mut *tx).await?;
    if existing > 0 {
        return Ok(None);
    }
    let (password, generated) = match password {
        Some(p) => (p, false),
        None => (password::generate(), true),
    };
    create(&mut tx, "system", name, &password).await?;
    grant(&mut tx, "system", name, Role::Admin, None).await?;
    tx.commit().await?;
    Ok(Some((name.to_string(), generated.then_some(password))))
}

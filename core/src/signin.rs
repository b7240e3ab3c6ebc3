//! Signing in with a local account: password check, throttling per account
//! and client address, bounded password work, and the audit entries for
//! success and failure.
//!
//! The throttle cannot be raced: each attempt reserves its failure before
//! the password is checked, under per-account and per-client advisory locks
//! in PostgreSQL (so replicas agree), and only a success gives it back. Of
//! 100 concurrent guesses against one account, 5 are checked.
//!
//! The lockout is built so that an attacker cannot use it to lock the real
//! user out cheaply: the tight budget is per (account, client address) pair,
//! so guesses from one address do not stop the owner signing in from
//! theirs; a looser budget per account across all addresses caps what a
//! distributed attacker may try; and a budget per address caps one address
//! guessing across many accounts. See docs/SECURITY.md.

use crate::{audit, names::UserName, password, principal::Principal, users, CoreError};
use secrecy::SecretString;
use serde_json::json;
use sqlx::PgPool;
use std::sync::OnceLock;
use std::time::Duration as StdDuration;
use time::{Duration, OffsetDateTime};
use tokio::sync::Semaphore;

/// Failures are counted over this window.
pub const WINDOW: Duration = Duration::minutes(15);
/// Failures of one account from one client address within the window.
pub const MAX_PER_PAIR: i64 = 5;
/// Failures of one account from every address within the window: slower
/// than the pair's budget, so that one attacker's guesses leave the owner
/// room, and bounded, so that many addresses cannot guess freely.
pub const MAX_PER_ACCOUNT: i64 = 30;
/// Failures from one client address, across accounts, within the window.
pub const MAX_PER_CLIENT: i64 = 20;
/// Password checks (argon2, about 20 ms of one core and 19 MiB each) run at
/// most this many at a time, on blocking threads, so that a flood of
/// sign-ins cannot take the cores the other requests need.
pub const CONCURRENT_CHECKS: usize = 2;
/// Sign-ins waiting for a check beyond this are refused as busy.
pub const MAX_WAITING: usize = 64;
/// A sign-in that waited this long for a check is refused as busy.
pub const MAX_WAIT: StdDuration = StdDuration::from_secs(10);

/// Why a sign-in failed. The message shown to the visitor never says which
/// of name or password was wrong.
#[derive(Debug)]
pub enum SignInError {
    BadCredentials,
    Throttled {
        retry_after_secs: u64,
    },
    /// Too many sign-ins are waiting for a password check; try again shortly.
    Busy {
        retry_after_secs: u64,
    },
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

/// Reserves this attempt's failure, or says how long to wait. The locks
/// (account first, then address, always in that order) make the count and
/// the reservation one step for every process sharing the database.
async fn reserve(pool: &PgPool, name: &UserName, client_addr: &str) -> Result<i64, SignInError> {
    let username = name.as_str();
    let mut tx = pool.begin().await?;
    sqlx::query!("select pg_advisory_xact_lock(hashtextextended($1, 11))", username).execute(&mut *tx).await?;
    sqlx::query!("select pg_advisory_xact_lock(hashtextextended($1, 12))", client_addr).execute(&mut *tx).await?;
    let since = OffsetDateTime::now_utc() - WINDOW;
    let row = sqlx::query!(
        r#"select
             count(*) filter (where username = $1 and client_addr = $2) as "by_pair!",
             count(*) filter (where username = $1) as "by_account!",
             count(*) filter (where client_addr = $2) as "by_client!",
             min(at) filter (where username = $1 and client_addr = $2) as pair_oldest,
             min(at) filter (where username = $1) as account_oldest,
             min(at) filter (where client_addr = $2) as client_oldest
           from signin_failures
           where at > $3 and (username = $1 or client_addr = $2)"#,
        username,
        client_addr,
        since
    )
    .fetch_one(&mut *tx)
    .await?;
    // The wait ends when the oldest failure of an exhausted budget leaves
    // the window.
    let exhausted = [
        (row.by_pair >= MAX_PER_PAIR, row.pair_oldest),
        (row.by_account >= MAX_PER_ACCOUNT, row.account_oldest),
        (row.by_client >= MAX_PER_CLIENT, row.client_oldest),
    ];
    let now = OffsetDateTime::now_utc();
    let wait = exhausted
        .iter()
        .filter(|(over, _)| *over)
        .map(|(_, oldest)| (oldest.unwrap_or(now) + WINDOW - now).whole_seconds().max(1))
        .max();
    if let Some(wait) = wait {
        audit::append(
            &mut tx,
            "anonymous",
            "signin.throttled",
            &users::object(name),
            json!({"client_addr": client_addr}),
        )
        .await?;
        tx.commit().await?;
        return Err(SignInError::Throttled { retry_after_secs: wait as u64 });
    }
    let id = sqlx::query_scalar!(
        "insert into signin_failures (username, client_addr) values ($1, $2) returning id",
        username,
        client_addr
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Checks a password on a blocking thread, at most [`CONCURRENT_CHECKS`] at
/// a time; refuses when too many are waiting or the wait is too long.
async fn check(password: &SecretString, hash: &str) -> Result<bool, SignInError> {
    static CHECKS: OnceLock<Semaphore> = OnceLock::new();
    let checks = CHECKS.get_or_init(|| Semaphore::new(CONCURRENT_CHECKS));
    let busy = SignInError::Busy { retry_after_secs: 5 };
    // Permits handed out plus sign-ins waiting: the semaphore counts only
    // the first, so the queue is counted here.
    static WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    use std::sync::atomic::Ordering::SeqCst;
    if WAITING.fetch_add(1, SeqCst) >= MAX_WAITING + CONCURRENT_CHECKS {
        WAITING.fetch_sub(1, SeqCst);
        return Err(busy);
    }
    let permit = tokio::time::timeout(MAX_WAIT, checks.acquire()).await;
    let result = match permit {
        Ok(Ok(_permit)) => {
            let (password, hash) = (password.clone(), hash.to_string());
            tokio::task::spawn_blocking(move || password::verify(&password, &hash))
                .await
                .map_err(|e| SignInError::Other(CoreError::Internal(format!("password check: {e}"))))
        }
        _ => Err(busy),
    };
    WAITING.fetch_sub(1, SeqCst);
    result
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
    let reserved = reserve(pool, &name, client_addr).await?;

    let mut conn = pool.acquire().await?;
    let creds = users::credentials(&mut conn, &name).await?;
    drop(conn);
    // Verify against a decoy when the account does not exist, so the time
    // taken does not reveal which names exist.
    let hash = creds.as_ref().map_or(password::decoy_hash(), |c| c.password_hash.as_str());
    let password_ok = match check(password, hash).await {
        Ok(ok) => ok,
        Err(e) => {
            // Not checked: the reservation is given back.
            sqlx::query!("delete from signin_failures where id = $1", reserved).execute(pool).await?;
            return Err(e);
        }
    };

    let mut tx = pool.begin().await?;
    match creds {
        Some(c) if password_ok && !c.disabled => {
            // The owner is back: this address's failures for the account
            // go, with this attempt's reservation.
            sqlx::query!(
                "delete from signin_failures where id = $1 or (username = $2 and client_addr = $3)",
                reserved,
                name.as_str(),
                client_addr
            )
            .execute(&mut *tx)
            .await?;
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
            // The reservation made before the check stays as the failure.
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

/// Longest `next` followed after sign-in.
pub const MAX_NEXT: usize = 2048;

/// Where to go after signing in: `next` when it is a path on this portal
/// (normalised as a browser would resolve it), else `/`.
///
/// Browsers strip tab, CR and LF from a URL and read `\` as `/`, so
/// `/<TAB>/evil.example` would land on `//evil.example`: any control
/// character or backslash refuses it, and what is left must resolve, as a
/// WHATWG URL parser resolves it, to this origin and to a path that does not
/// itself start with `//`.
pub fn local_path(next: Option<&str>) -> String {
    let home = || "/".to_string();
    let Some(next) = next else { return home() };
    if next.len() > MAX_NEXT || !next.starts_with('/') || next.chars().any(|c| c.is_control() || c == '\\') {
        return home();
    }
    let base = url::Url::parse("https://portal.invalid/").expect("a valid base URL");
    let Ok(url) = base.join(next) else { return home() };
    if url.origin() != base.origin() || !url.username().is_empty() || url.password().is_some() {
        return home();
    }
    let mut out = url.path().to_string();
    if out.starts_with("//") {
        return home();
    }
    if let Some(q) = url.query() {
        out.push('?');
        out.push_str(q);
    }
    if let Some(f) = url.fragment() {
        out.push('#');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::local_path;

    /// A flood of sign-ins does not queue unbounded argon2 work: beyond the
    /// checks running and the queue, sign-ins are refused as busy at once,
    /// and the checks run at most two at a time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_password_checks_is_bounded() {
        use super::{check, SignInError, CONCURRENT_CHECKS, MAX_WAITING};
        let hash = crate::password::hash(&secrecy::SecretString::from("a password of twelve")).unwrap();
        let flood = 100;
        let started = std::time::Instant::now();
        let wrong = secrecy::SecretString::from("a wrong password!");
        let results = futures_util::future::join_all((0..flood).map(|_| check(&wrong, &hash))).await;
        let busy = results.iter().filter(|r| matches!(r, Err(SignInError::Busy { .. }))).count();
        let checked = results.iter().filter(|r| matches!(r, Ok(false))).count();
        assert_eq!(busy + checked, flood);
        assert!(busy >= flood - MAX_WAITING - CONCURRENT_CHECKS, "{busy} refused of {flood}");
        assert!(checked >= CONCURRENT_CHECKS, "{checked} checked");
        // Nothing checks the right password as wrong, and the queue drains.
        assert!(matches!(check(&secrecy::SecretString::from("a password of twelve"), &hash).await, Ok(true)));
        assert!(started.elapsed() < super::MAX_WAIT * 2);
    }

    #[test]
    fn only_paths_on_this_portal_are_followed_after_sign_in() {
        for (next, expected) in [
            ("/admin/users", "/admin/users"),
            ("/findings?state=NonCompliant&page=2", "/findings?state=NonCompliant&page=2"),
            ("/findings/12#why", "/findings/12#why"),
            ("/a/../b", "/b"),
            ("/caf\u{e9}", "/caf%C3%A9"),
        ] {
            assert_eq!(local_path(Some(next)), expected, "{next:?}");
        }
        for refused in [
            "//evil.example/",
            "/\\evil.example",
            "/\t/evil.example/x",
            "/\n/evil.example/x",
            "/\r/evil.example/x",
            "/\u{0}/evil.example",
            "/\u{85}/evil.example",
            "/.//evil.example",
            "/%2e//evil.example",
            "https://evil.example/",
            "evil.example",
            "",
            " /x",
        ] {
            assert_eq!(local_path(Some(refused)), "/", "{refused:?}");
        }
        assert_eq!(local_path(Some(&format!("/{}", "a".repeat(super::MAX_NEXT)))), "/");
        assert_eq!(local_path(None), "/");
    }
}

//! Accounts, roles, tokens and sign-in against a real PostgreSQL; every
//! change lands in the audit log in the same transaction.

use attest_core::{
    audit,
    names::{Scope, UserName},
    signin::{self, SignInError},
    tokens, users, CoreError, Role,
};
use secrecy::SecretString;
use sqlx::PgPool;

const PW: &str = "correct horse battery staple";

fn name(s: &str) -> UserName {
    UserName::parse(s).unwrap()
}

async fn add(pool: &PgPool, n: &str, roles: &[Role]) {
    let mut tx = pool.begin().await.unwrap();
    users::create(&mut tx, "test", &name(n), &SecretString::from(PW)).await.unwrap();
    for r in roles {
        let scope = r.is_scoped().then(|| Scope::parse("/subscriptions/00000000-0000-0000-0000-0000000000a1").unwrap());
        users::grant(&mut tx, "test", &name(n), *r, scope.as_ref()).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn actions(pool: &PgPool) -> Vec<String> {
    let mut v: Vec<String> =
        audit::list(pool, &audit::Filter::default(), 500).await.unwrap().into_iter().map(|e| e.action).collect();
    v.reverse();
    v
}

#[sqlx::test(migrations = "../migrations")]
async fn creating_users_is_audited_and_names_are_unique(pool: PgPool) {
    add(&pool, "alice", &[Role::Admin]).await;
    let mut tx = pool.begin().await.unwrap();
    let err = users::create(&mut tx, "test", &name("ALICE"), &SecretString::from(PW)).await.unwrap_err();
    assert!(matches!(err, CoreError::Conflict(_)), "{err:?}");
    drop(tx);
    let mut tx = pool.begin().await.unwrap();
    let err = users::create(&mut tx, "test", &name("bob"), &SecretString::from("short")).await.unwrap_err();
    assert!(matches!(err, CoreError::Invalid { field: "password", .. }), "{err:?}");
    drop(tx);
    // Common or breached passwords, and ones built on the name, are refused
    // with the reason, for new accounts and for new passwords alike.
    let mut tx = pool.begin().await.unwrap();
    let err = users::create(&mut tx, "test", &name("bob"), &SecretString::from("password1234")).await.unwrap_err();
    assert!(err.to_string().contains("too easy to guess"), "{err}");
    let err = users::create(&mut tx, "test", &name("bobby"), &SecretString::from("bobby violin orbit quiet"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "password: must not contain the user name");
    let err =
        users::set_password(&mut tx, "test", &name("alice"), &SecretString::from("qwertyuiop123")).await.unwrap_err();
    assert!(err.to_string().contains("too easy to guess"), "{err}");
    drop(tx);
    assert_eq!(actions(&pool).await, vec!["user.create", "role.grant"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_rolled_back_change_leaves_no_audit_entry(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    users::create(&mut tx, "test", &name("ghost"), &SecretString::from(PW)).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(actions(&pool).await.is_empty());
    assert!(users::list(&pool).await.unwrap().is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn approver_grants_need_a_scope_and_others_refuse_one(pool: PgPool) {
    add(&pool, "amy", &[]).await;
    let sub = Scope::parse("/subscriptions/00000000-0000-0000-0000-0000000000a1").unwrap();
    let mut tx = pool.begin().await.unwrap();
    assert!(matches!(
        users::grant(&mut tx, "t", &name("amy"), Role::Approver, None).await,
        Err(CoreError::Invalid { field: "scope", .. })
    ));
    assert!(matches!(
        users::grant(&mut tx, "t", &name("amy"), Role::Viewer, Some(&sub)).await,
        Err(CoreError::Invalid { field: "scope", .. })
    ));
    users::grant(&mut tx, "t", &name("amy"), Role::Approver, Some(&sub)).await.unwrap();
    users::grant(
        &mut tx,
        "t",
        &name("amy"),
        Role::Approver,
        Some(&Scope::parse("/subscriptions/00000000-0000-0000-0000-0000000000b2").unwrap()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let user = users::get(&pool, &name("amy")).await.unwrap();
    let (p, _) = users::principal(&pool, user.id).await.unwrap().unwrap();
    assert!(p.may_approve(
        &Scope::parse("/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg").unwrap(),
        &[]
    ));
    assert!(!p.may_approve(&Scope::parse("/subscriptions/s3").unwrap(), &[]));

    let mut tx = pool.begin().await.unwrap();
    users::revoke(&mut tx, "t", &name("amy"), Role::Approver, Some(&sub)).await.unwrap();
    assert!(matches!(
        users::revoke(&mut tx, "t", &name("amy"), Role::Approver, Some(&sub)).await,
        Err(CoreError::NotFound { .. })
    ));
    tx.commit().await.unwrap();
    let (p, _) = users::principal(&pool, user.id).await.unwrap().unwrap();
    assert!(!p.may_approve(&Scope::parse("/subscriptions/00000000-0000-0000-0000-0000000000a1").unwrap(), &[]));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_last_enabled_admin_cannot_be_removed(pool: PgPool) {
    add(&pool, "root", &[Role::Admin]).await;
    let mut tx = pool.begin().await.unwrap();
    assert!(matches!(users::set_disabled(&mut tx, "t", &name("root"), true).await, Err(CoreError::Conflict(_))));
    drop(tx);
    let mut tx = pool.begin().await.unwrap();
    assert!(matches!(users::revoke(&mut tx, "t", &name("root"), Role::Admin, None).await, Err(CoreError::Conflict(_))));
    drop(tx);
    add(&pool, "second", &[Role::Admin]).await;
    let mut tx = pool.begin().await.unwrap();
    users::set_disabled(&mut tx, "t", &name("root"), true).await.unwrap();
    tx.commit().await.unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn sign_in_succeeds_fails_and_throttles_with_audit_entries(pool: PgPool) {
    add(&pool, "vera", &[Role::Viewer]).await;
    let ok = signin::sign_in(&pool, "Vera", &SecretString::from(PW), "10.0.0.1").await.unwrap();
    assert_eq!(ok.name, "vera");
    assert!(ok.has(Role::Viewer));
    assert!(matches!(
        signin::sign_in(&pool, "vera", &SecretString::from("wrong wrong wrong"), "10.0.0.1").await,
        Err(SignInError::BadCredentials)
    ));
    assert!(matches!(
        signin::sign_in(&pool, "nobody", &SecretString::from(PW), "10.0.0.1").await,
        Err(SignInError::BadCredentials)
    ));
    let log = actions(&pool).await;
    assert_eq!(&log[log.len() - 3..], ["signin.success", "signin.failure", "signin.failure"]);

    // One address guessing: refused for that account once its budget is
    // spent, even with the right password...
    for _ in 0..signin::MAX_PER_PAIR {
        let _ = signin::sign_in(&pool, "vera", &SecretString::from("wrong wrong wrong"), "10.0.0.2").await;
    }
    assert!(matches!(
        signin::sign_in(&pool, "vera", &SecretString::from(PW), "10.0.0.2").await,
        Err(SignInError::Throttled { retry_after_secs }) if retry_after_secs > 0
    ));
    assert_eq!(actions(&pool).await.last().unwrap(), "signin.throttled");
    // ...while the owner, from their own address, still signs in.
    assert!(signin::sign_in(&pool, "vera", &SecretString::from(PW), "10.0.0.3").await.is_ok());

    // Many addresses: the account's own, looser budget ends it.
    for i in 0..signin::MAX_PER_ACCOUNT {
        let _ = signin::sign_in(&pool, "vera", &SecretString::from("wrong wrong wrong"), &format!("10.1.0.{i}")).await;
    }
    assert!(matches!(
        signin::sign_in(&pool, "vera", &SecretString::from(PW), "10.0.0.4").await,
        Err(SignInError::Throttled { .. })
    ));
}

#[sqlx::test(migrations = "../migrations")]
async fn one_client_address_is_throttled_across_accounts(pool: PgPool) {
    add(&pool, "vera", &[Role::Viewer]).await;
    for i in 0..signin::MAX_PER_CLIENT {
        let _ = signin::sign_in(&pool, &format!("guess{i}"), &SecretString::from("whatever pass"), "192.0.2.9").await;
    }
    assert!(matches!(
        signin::sign_in(&pool, "vera", &SecretString::from(PW), "192.0.2.9").await,
        Err(SignInError::Throttled { .. })
    ));
    // Another address is unaffected.
    assert!(signin::sign_in(&pool, "vera", &SecretString::from(PW), "192.0.2.10").await.is_ok());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_disabled_account_cannot_sign_in_or_use_tokens(pool: PgPool) {
    add(&pool, "root", &[Role::Admin]).await;
    add(&pool, "vera", &[Role::Viewer]).await;
    let mut tx = pool.begin().await.unwrap();
    let (_, secret) = tokens::create(&mut tx, "t", &name("vera"), "ci").await.unwrap();
    tx.commit().await.unwrap();
    assert!(tokens::authenticate(&pool, &secret).await.unwrap().is_some());

    let mut tx = pool.begin().await.unwrap();
    users::set_disabled(&mut tx, "t", &name("vera"), true).await.unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(
        signin::sign_in(&pool, "vera", &SecretString::from(PW), "10.0.0.1").await,
        Err(SignInError::BadCredentials)
    ));
    assert!(tokens::authenticate(&pool, &secret).await.unwrap().is_none());
}

#[sqlx::test(migrations = "../migrations")]
async fn tokens_are_stored_hashed_and_stop_when_revoked(pool: PgPool) {
    add(&pool, "robot", &[Role::Auditor]).await;
    let mut tx = pool.begin().await.unwrap();
    let (id, secret) = tokens::create(&mut tx, "t", &name("robot"), "pipeline").await.unwrap();
    tx.commit().await.unwrap();
    use secrecy::ExposeSecret;
    let stored: Vec<u8> = sqlx::query_scalar("select token_hash from api_tokens").fetch_one(&pool).await.unwrap();
    assert_ne!(stored, secret.expose_secret().as_bytes(), "the secret itself must not be stored");

    let p = tokens::authenticate(&pool, &secret).await.unwrap().unwrap();
    assert_eq!(p.name, "robot");
    assert!(tokens::list(&pool, None).await.unwrap()[0].last_used_at.is_some());
    assert!(tokens::authenticate(&pool, &SecretString::from("attest_nope")).await.unwrap().is_none());
    assert!(tokens::authenticate(&pool, &SecretString::from("no prefix")).await.unwrap().is_none());

    let mut tx = pool.begin().await.unwrap();
    tokens::revoke(&mut tx, "t", id).await.unwrap();
    tx.commit().await.unwrap();
    assert!(tokens::authenticate(&pool, &secret).await.unwrap().is_none());
    let mut tx = pool.begin().await.unwrap();
    assert!(matches!(tokens::revoke(&mut tx, "t", id).await, Err(CoreError::NotFound { .. })));
    drop(tx);
    let log = actions(&pool).await;
    assert!(log.contains(&"token.create".to_string()) && log.contains(&"token.revoke".to_string()));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_first_admin_is_created_once(pool: PgPool) {
    let first = users::bootstrap_admin(&pool, &name("admin"), None).await.unwrap();
    let (n, pw) = first.expect("created");
    assert_eq!(n, "admin");
    let pw = pw.expect("a generated password");
    assert!(signin::sign_in(&pool, "admin", &pw, "127.0.0.1").await.unwrap().is_admin());
    assert!(users::bootstrap_admin(&pool, &name("admin"), None).await.unwrap().is_none());
}

#[test]
fn an_approver_scope_must_be_one_azure_can_hold() {
    for good in [
        "/",
        "/providers/Microsoft.Management/managementGroups/contoso-root",
        "/subscriptions/00000000-0000-0000-0000-0000000000a1",
        "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-ai_1",
        "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a",
    ] {
        assert!(Scope::parse(good).unwrap().check_arm().is_ok(), "{good}");
    }
    for bad in [
        "/subscriptions/zzz",
        "/subscriptions/00000000-0000-0000-0000-0000000000a1/things/x",
        "/providers/Microsoft.Management/managementGroups/a/b",
        "/tenants/00000000-0000-0000-0000-000000000000",
        "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts",
    ] {
        assert!(Scope::parse(bad).map(|s| s.check_arm().is_err()).unwrap_or(true), "{bad}");
    }
    // The tenant root covers everything.
    let root = Scope::parse("/").unwrap();
    assert!(root.covers(&Scope::parse("/subscriptions/00000000-0000-0000-0000-0000000000a1").unwrap()));
}

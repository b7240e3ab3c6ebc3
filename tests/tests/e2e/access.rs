//! Effective access as the Access pages and `GET /api/v1/access` read it:
//! computed from a stored snapshot by the RBAC engine, narrowed in the
//! database to one account or one principal without changing the answer,
//! paged over the whole estate through an index stored per snapshot,
//! honest about what the scan could not see, and refused to those who do
//! not review access.

use attest_core::access::{self, AccessFilter, AccessRow, Resolution};
use attest_core::snapshot::{demo, store, Snapshot};
use attest_core::{CoreError, Role};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use std::collections::BTreeSet;
use tests::{accounts, spawn};
use uuid::Uuid;

async fn stored_and_evaluated(pool: &PgPool, s: &Snapshot) -> Uuid {
    let mut tx = pool.begin().await.unwrap();
    let id = store::insert(&mut tx, s, store::Source::Demo, "test").await.unwrap().id;
    tx.commit().await.unwrap();
    attest_core::findings::evaluate_snapshot(pool, id, "test").await.unwrap();
    id
}

fn all(snapshot: Uuid) -> AccessFilter {
    AccessFilter { snapshot: Some(snapshot), page: 1, per_page: 500, ..Default::default() }
}

async fn rows(pool: &PgPool, f: AccessFilter) -> Vec<AccessRow> {
    let page = access::list(pool, &f).await.unwrap();
    assert!(page.total <= 500, "the test estate fits one page");
    page.rows
}

#[sqlx::test(migrations = "../migrations")]
async fn narrowing_to_an_account_or_a_principal_reads_less_and_answers_the_same(pool: PgPool) {
    let s = demo::generate(12, 42);
    let id = stored_and_evaluated(&pool, &s).await;
    let everything = rows(&pool, all(id)).await;
    assert!(everything.len() > 20, "{}", everything.len());

    // The demo estate makes every level and every flag show somewhere.
    let levels: BTreeSet<&str> = everything.iter().flat_map(|r| r.levels.iter().map(|l| l.level)).collect();
    assert_eq!(levels.len(), attest_rbac::Level::ALL.len(), "{levels:?}");
    let flags: BTreeSet<&str> = everything.iter().flat_map(|r| r.flags.iter().map(|f| f.check)).collect();
    // All but a revocation not carried out, which needs a certified review.
    assert_eq!(flags.len(), attest_rbac::Check::ALL.len() - 1, "{flags:?}");

    // One account, named in another case: exactly its rows of the whole list.
    for (account, _) in access::accounts(&pool, id).await.unwrap() {
        let narrowed = rows(&pool, AccessFilter { account: account.to_ascii_uppercase(), ..all(id) }).await;
        let expected: Vec<&AccessRow> = everything.iter().filter(|r| r.account_id == account).collect();
        assert_eq!(narrowed.iter().collect::<Vec<_>>(), expected, "{account}");
    }
    // One principal: exactly its rows, in every account it reaches.
    let principals: BTreeSet<&str> = everything.iter().map(|r| r.principal.id.as_str()).collect();
    for p in &principals {
        let narrowed = rows(&pool, AccessFilter { principal: p.to_ascii_uppercase(), ..all(id) }).await;
        let mut expected: Vec<&AccessRow> = everything.iter().filter(|r| r.principal.id == *p).collect();
        let mut got: Vec<&AccessRow> = narrowed.iter().collect();
        expected.sort_by_key(|r| &r.account_id);
        got.sort_by_key(|r| &r.account_id);
        assert_eq!(got, expected, "{p}");
    }
    // Flagged only, and one flag.
    let flagged = rows(&pool, AccessFilter { flagged: true, ..all(id) }).await;
    assert_eq!(flagged.len(), everything.iter().filter(|r| !r.flags.is_empty()).count());
    assert!(flagged.len() < everything.len());
    let deleted = rows(&pool, AccessFilter { flag: "attest-access-principal-deleted".into(), ..all(id) }).await;
    assert!(!deleted.is_empty());
    assert!(deleted.iter().all(|r| r.principal.resolution == Resolution::Deleted), "{deleted:?}");
    // Paging: the second page of 5 is the whole list's rows 5..10.
    let second = access::list(&pool, &AccessFilter { page: 2, per_page: 5, ..all(id) }).await.unwrap();
    assert_eq!(second.total as usize, everything.len());
    assert_eq!(second.rows, everything[5..10].to_vec());

    // The first account's keys are denied to all but its workload
    // identity: whoever else the roles let list them, the row says a deny
    // removed it, and nobody there can read keys but that identity.
    let first = s.accounts[0].account["id"].as_str().unwrap().to_ascii_lowercase();
    let on_first: Vec<&AccessRow> = everything.iter().filter(|r| r.account_id == first).collect();
    assert!(on_first.iter().any(|r| !r.denied_by.is_empty()), "{on_first:?}");
    for r in on_first.iter().filter(|r| !r.denied_by.is_empty()) {
        assert!(r.levels.iter().all(|l| l.level != "read_keys"), "{r:?}");
        // Nor is the assignment's key flag shown here, though it may be
        // for the accounts where it still gives the keys.
        assert!(r.flags.iter().all(|f| f.check != "attest-access-key-access-while-keys-enabled"), "{r:?}");
    }
    // Access inherited from the subscription says so.
    assert!(everything.iter().any(|r| r.assignments.iter().any(|a| a.inherited && a.scope.split('/').count() == 3)));
    // PIM: activated assignments are told from standing ones.
    assert!(everything.iter().any(|r| r.assignments.iter().any(|a| a.activated)));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_whole_estate_pages_through_its_stored_index_as_if_computed(pool: PgPool) {
    let s = demo::generate(12, 42);
    let id = stored_and_evaluated(&pool, &s).await;
    let stored = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from access_indexes where snapshot_id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    // Stored without an import: the first request for the whole estate
    // stores its index.
    assert_eq!(stored().await, 0);
    let computed = access::matching(&pool, &all(id)).await.unwrap();
    assert_eq!(rows(&pool, all(id)).await, computed.rows);
    assert_eq!(stored().await, 1);

    // Every filter the index answers, paged by 7: each page is the computed
    // list's slice, and the totals agree.
    let mut filters = vec![all(id), AccessFilter { flagged: true, ..all(id) }];
    filters.extend(access::levels().into_iter().map(|(l, _)| AccessFilter { level: l.into(), ..all(id) }));
    filters.extend(access::checks().into_iter().map(|(c, _)| AccessFilter { flag: c.into(), ..all(id) }));
    filters.extend(access::principal_types().into_iter().map(|k| AccessFilter { principal_type: k.into(), ..all(id) }));
    let accounts = access::accounts(&pool, id).await.unwrap();
    for sub in access::subscriptions(&accounts) {
        filters.push(AccessFilter { subscription: sub.to_ascii_uppercase(), flagged: true, ..all(id) });
        filters.push(AccessFilter { subscription: sub, level: "invoke_models".into(), ..all(id) });
    }
    let mut nonempty = 0;
    for f in &filters {
        let expected = access::matching(&pool, f).await.unwrap().rows;
        nonempty += usize::from(!expected.is_empty());
        for page in 1..=expected.len().div_ceil(7) + 1 {
            let got = access::list(&pool, &AccessFilter { page: page as i64, per_page: 7, ..f.clone() }).await.unwrap();
            assert_eq!(got.total as usize, expected.len(), "{f:?}");
            let from = ((page - 1) * 7).min(expected.len());
            assert_eq!(got.rows, expected[from..(from + 7).min(expected.len())], "{f:?} page {page}");
        }
    }
    assert!(nonempty > filters.len() / 2, "{nonempty} of {} filters match something", filters.len());

    // The portal's background job stores the newest snapshot's index once.
    let newer = {
        let mut s2 = s.clone();
        s2.finished_at += time::Duration::minutes(5);
        stored_and_evaluated(&pool, &s2).await
    };
    let job = server::jobs::access_index_once(&pool).await.unwrap().expect("the newest snapshot had no index");
    assert_eq!(job.accounts, access::accounts(&pool, newer).await.unwrap().len());
    assert_eq!(job.new_sets, 0, "the same estate shares every set");
    assert!(server::jobs::access_index_once(&pool).await.unwrap().is_none());

    // Stored once: asking again computes nothing.
    let again = access::materialize(&pool, id).await.unwrap();
    assert!(!again.created);
    assert_eq!((again.accounts, again.rows), (accounts.len(), computed.rows.len()));

    // A later snapshot in which one account lost one assignment shares
    // every other account's set with this one.
    let mut later = s.clone();
    later.finished_at += time::Duration::hours(1);
    let first = s.accounts[0].account["id"].as_str().unwrap().to_ascii_lowercase();
    // One made at the first account, for a principal with no other.
    let principal_of = |a: &serde_json::Value| a["properties"]["principalId"].as_str().unwrap().to_ascii_lowercase();
    let at = later
        .role_assignments
        .iter()
        .position(|a| {
            a["id"].as_str().unwrap().to_ascii_lowercase().starts_with(&format!("{first}/"))
                && later.role_assignments.iter().filter(|b| principal_of(b) == principal_of(a)).count() == 1
        })
        .expect("an assignment made at the first account");
    later.role_assignments.remove(at);
    let later_id = stored_and_evaluated(&pool, &later).await;
    let m = access::materialize(&pool, later_id).await.unwrap();
    assert!(m.created);
    // The set holds who reaches the account, how, and which flags show:
    // new exactly when that changed.
    let summary = |rows: Vec<AccessRow>| -> Vec<(String, Vec<&'static str>, BTreeSet<&'static str>)> {
        rows.into_iter()
            .map(|r| {
                (r.principal.id, r.levels.iter().map(|l| l.level).collect(), r.flags.iter().map(|f| f.check).collect())
            })
            .collect()
    };
    let on = |snapshot: Uuid| AccessFilter { account: first.clone(), ..all(snapshot) };
    assert_ne!(summary(rows(&pool, on(id)).await), summary(rows(&pool, on(later_id)).await));
    assert_eq!((m.accounts, m.new_sets), (accounts.len(), 1));
    assert_eq!(m.rows, access::matching(&pool, &all(later_id)).await.unwrap().rows.len());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_principal_page_has_its_accounts_and_eligibility_and_unknown_ids_are_not_found(pool: PgPool) {
    let s = demo::generate(12, 42);
    let id = stored_and_evaluated(&pool, &s).await;
    let eligible = s.role_eligibility_schedule_instances[0]["properties"]["principalId"].as_str().unwrap();
    let v = access::principal(&pool, Some(id), eligible).await.unwrap();
    assert_eq!(v.principal.id, eligible.to_ascii_lowercase());
    assert!(!v.eligible.is_empty());
    assert!(v.eligible.iter().all(|e| !e.role.starts_with("role ")), "roles are named: {:?}", v.eligible);
    assert!(v.coverage.graph && v.coverage.pim);
    // Its rows are those of the list for it.
    let listed = rows(&pool, AccessFilter { principal: eligible.into(), ..all(id) }).await;
    assert_eq!(v.accounts.len(), listed.len());

    match access::principal(&pool, Some(id), "00000000-1111-2222-3333-444444444444").await {
        Err(CoreError::NotFound { .. }) => {}
        other => panic!("{other:?}"),
    }
    match access::principal(&pool, Some(id), &"x".repeat(200)).await {
        Err(CoreError::Invalid { field: "id", .. }) => {}
        other => panic!("{other:?}"),
    }
    // The newest snapshot is the default.
    assert_eq!(access::principal(&pool, None, eligible).await.unwrap().snapshot_id, id);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_group_is_shown_with_its_members_and_a_member_with_the_groups_it_holds_access_through(pool: PgPool) {
    let s = demo::generate(12, 42);
    let id = stored_and_evaluated(&pool, &s).await;
    let everything = rows(&pool, all(id)).await;
    let group_rows: Vec<&AccessRow> = everything.iter().filter(|r| r.principal.kind == "group").collect();
    assert!(!group_rows.is_empty());
    // As Graph listed them, in the list and on the group's page.
    for r in &group_rows {
        let record = s.principals.iter().find(|p| p["id"] == r.principal.id.as_str()).unwrap();
        let want: Vec<&str> = record["members"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
        let members = r.principal.members.as_ref().expect("members were read");
        assert_eq!(members.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), want);
        assert!(members.iter().all(|m| m.kind.as_str() == "user" && m.display_name.is_some()));
        assert!(members.len() >= 2);
    }
    assert!(everything.iter().filter(|r| r.principal.kind != "group").all(|r| r.principal.members.is_none()));
    let group = &group_rows[0].principal;
    let page = access::principal(&pool, Some(id), &group.id).await.unwrap();
    assert_eq!(page.principal.members, group.members);

    // A member's page names the group and what it reaches, whether or
    // not the member holds an assignment of its own.
    let member = &group.members.as_ref().unwrap()[0];
    let v = access::principal(&pool, Some(id), &member.id.to_ascii_uppercase()).await.unwrap();
    let through = v.groups.iter().find(|g| g.id == group.id).expect("the group is named");
    let mut reached: Vec<String> =
        everything.iter().filter(|r| r.principal.id == group.id).map(|r| r.account_name.clone()).collect();
    reached.sort_by_key(|n| n.to_lowercase());
    assert_eq!(through.accounts, reached);
    assert_eq!(through.display_name, group.display_name);
    assert_eq!(v.principal.display_name, member.display_name, "named from the group's list if need be");
    let only_members: Vec<&str> = s
        .principals
        .iter()
        .flat_map(|p| p["members"].as_array().into_iter().flatten())
        .map(|m| m["id"].as_str().unwrap())
        .filter(|m| !s.role_assignments.iter().any(|a| a["properties"]["principalId"] == *m))
        .filter(|m| !s.role_eligibility_schedule_instances.iter().any(|e| e["properties"]["principalId"] == *m))
        .collect();
    let m = only_members.first().expect("the demo has people whose only access is through a group");
    let v = access::principal(&pool, Some(id), m).await.unwrap();
    assert!(v.accounts.is_empty() && !v.groups.is_empty(), "{v:?}");
    assert_eq!(v.principal.resolution, Resolution::Resolved);
    assert!(v.principal.display_name.is_some());
}

#[sqlx::test(migrations = "../migrations")]
async fn without_graph_principals_are_shown_by_id_and_never_guessed_deleted(pool: PgPool) {
    let mut s = demo::generate(12, 42);
    s.principals.clear();
    let id = stored_and_evaluated(&pool, &s).await;
    let page = access::list(&pool, &all(id)).await.unwrap();
    assert!(!page.coverage.graph);
    assert!(page
        .rows
        .iter()
        .all(|r| r.principal.resolution == Resolution::Unresolved && r.principal.display_name.is_none()));
    // Only ARM's own "Unknown" principal type still says deleted.
    for r in &page.rows {
        for f in r.flags.iter().filter(|f| f.check == "attest-access-principal-deleted") {
            assert!(f.reasons[0].contains("principal type Unknown"), "{f:?}");
        }
        assert!(r.flags.iter().all(|f| f.check != "attest-access-guest-data"));
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_access_api_answers_auditors_and_refuses_others_by_name(pool: PgPool) {
    let s = demo::generate(6, 3);
    let id = stored_and_evaluated(&pool, &s).await;
    accounts::user(&pool, "aude", &[Role::Auditor]).await.unwrap();
    accounts::user(&pool, "vic", &[Role::Viewer]).await.unwrap();
    let secrets = accounts::tokens(&pool, &["aude", "vic"]).await.unwrap();
    let app = spawn::in_process(pool.clone(), |_| {}).await.unwrap();
    let c = reqwest::Client::new();
    let get = |who: &str, path: &str| {
        c.get(format!("{}/api/v1{path}", app.base)).bearer_auth(secrets[who].expose_secret()).send()
    };

    let res = get("aude", "/access?flagged=true&per_page=5").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["snapshot_id"], id.to_string());
    assert_eq!(body["per_page"], 5);
    let items = body["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.len() <= 5);
    for item in items {
        assert!(!item["flags"].as_array().unwrap().is_empty(), "{item}");
        for key in ["account_id", "principal", "levels", "assignments", "denied_by"] {
            assert!(item.get(key).is_some(), "{key} in {item}");
        }
    }
    let principal = items[0]["principal"]["id"].as_str().unwrap().to_string();
    let one: serde_json::Value = get("aude", &format!("/principals/{principal}")).await.unwrap().json().await.unwrap();
    assert_eq!(one["principal"]["id"], principal);
    assert!(!one["accounts"].as_array().unwrap().is_empty());

    for (path, field) in [
        ("/access?level=root", "level"),
        ("/access?flag=nope", "flag"),
        ("/access?flagged=maybe", "flagged"),
        ("/access?principal_type=robot", "principal_type"),
        ("/access?snapshot=yesterday", "snapshot"),
        ("/access?per_page=501", "per_page"),
        ("/access?colour=red", "colour"),
        ("/principals/x?since=1", "since"),
    ] {
        let res = get("aude", path).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["field"], field, "{path}: {body}");
    }
    let unknown = format!("/access?snapshot={}", Uuid::nil());
    assert_eq!(get("aude", &unknown).await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(
        get("aude", "/principals/00000000-1111-2222-3333-444444444444").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    // A viewer reads findings, not who holds which keys.
    assert_eq!(get("vic", "/access").await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(get("vic", &format!("/principals/{principal}")).await.unwrap().status(), StatusCode::FORBIDDEN);
}

//! Reading snapshots back: the inventory's sort, filters and paging done in
//! SQL, a resource by its id, and the diff of two snapshots.

use attest_core::{
    snapshot::{
        arm::Account,
        browse::{self, ChangeKind, InventoryQuery},
        demo, store, Snapshot,
    },
    CoreError,
};
use sqlx::PgPool;
use uuid::Uuid;

async fn stored(pool: &PgPool, s: &Snapshot) -> Uuid {
    let mut tx = pool.begin().await.unwrap();
    let id = store::insert(&mut tx, s, store::Source::Demo, "test").await.unwrap().id;
    tx.commit().await.unwrap();
    id
}

fn query(snapshot: Uuid, kind: &str) -> InventoryQuery {
    InventoryQuery {
        snapshot,
        kind: kind.into(),
        text: String::new(),
        flag: String::new(),
        sort: "name".into(),
        descending: false,
        offset: 0,
        limit: 100,
    }
}

fn locations(page: &browse::InventoryPage) -> Vec<String> {
    page.items.iter().map(|i| i.body["location"].as_str().unwrap().to_string()).collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_inventory_sorts_filters_and_pages_in_the_database(pool: PgPool) {
    let estate = demo::generate(12, 4);
    let id = stored(&pool, &estate).await;

    let by_region =
        browse::inventory(&pool, &InventoryQuery { sort: "location".into(), ..query(id, "account") }).await.unwrap();
    assert_eq!(by_region.total, 12);
    let mut sorted = locations(&by_region);
    sorted.sort();
    assert_eq!(locations(&by_region), sorted);
    let descending =
        browse::inventory(&pool, &InventoryQuery { sort: "location".into(), descending: true, ..query(id, "account") })
            .await
            .unwrap();
    sorted.reverse();
    assert_eq!(locations(&descending), sorted);

    let page =
        browse::inventory(&pool, &InventoryQuery { offset: 10, limit: 5, ..query(id, "account") }).await.unwrap();
    assert_eq!((page.items.len(), page.total), (2, 12), "the last page, and the total of all pages");

    let public = estate.accounts.iter().filter(|a| Account::parse(&a.account).unwrap().public_network_access_enabled());
    let flagged =
        browse::inventory(&pool, &InventoryQuery { flag: "public".into(), ..query(id, "account") }).await.unwrap();
    assert_eq!(flagged.total as usize, public.count());

    let name = estate.accounts[3].account["name"].as_str().unwrap();
    let found =
        browse::inventory(&pool, &InventoryQuery { text: name.to_uppercase(), ..query(id, "account") }).await.unwrap();
    assert_eq!(found.total, 1, "text matches the id, whatever its case");
    let literal = browse::inventory(&pool, &InventoryQuery { text: "%".into(), ..query(id, "account") }).await.unwrap();
    assert_eq!(literal.total, 0, "a % in the filter is a character, not a wildcard");

    let roles = browse::inventory(&pool, &query(id, "role_assignment")).await.unwrap();
    assert!(roles.role_names.values().any(|n| n == "Owner"), "{:?}", roles.role_names);

    for bad in [
        InventoryQuery { kind: "documents".into(), ..query(id, "account") },
        InventoryQuery { sort: "body; drop table x".into(), ..query(id, "account") },
        InventoryQuery { flag: "everything".into(), ..query(id, "account") },
        InventoryQuery { limit: 10_000, ..query(id, "account") },
    ] {
        assert!(matches!(browse::inventory(&pool, &bad).await, Err(CoreError::InvalidAt { .. })), "{bad:?}");
    }
    assert!(matches!(
        browse::inventory(&pool, &query(Uuid::new_v4(), "account")).await,
        Err(CoreError::NotFound { .. })
    ));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_resource_is_found_by_its_id_and_kind(pool: PgPool) {
    let estate = demo::generate(3, 6);
    let id = stored(&pool, &estate).await;
    let deployment = estate.accounts[0].deployments[0]["id"].as_str().unwrap();
    let item = browse::resource(&pool, id, "deployment", &deployment.to_uppercase()).await.unwrap();
    assert_eq!(item.body, estate.accounts[0].deployments[0]);
    assert_eq!(
        item.account_id.as_deref(),
        Some(estate.accounts[0].account["id"].as_str().unwrap().to_lowercase().as_str())
    );
    assert!(matches!(browse::resource(&pool, id, "account", deployment).await, Err(CoreError::NotFound { .. })));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_diff_names_each_change_and_refuses_other_scopes(pool: PgPool) {
    let before = demo::generate(5, 8);
    let mut after = before.clone();
    after.finished_at += time::Duration::days(1);
    after.accounts[0].account["tags"]["owner"] = "platform".into();
    let removed = after.accounts[1].deployments.remove(0);
    let (a, b) = (stored(&pool, &before).await, stored(&pool, &after).await);

    let d = browse::diff(&pool, a, b, 100).await.unwrap();
    assert_eq!((d.added, d.removed, d.changed), (0, 1, 1));
    let changed = d.changes.iter().find(|c| c.change == ChangeKind::Changed).unwrap();
    assert_eq!(changed.properties.len(), 1);
    assert_eq!(changed.properties[0].path, "tags.owner");
    assert_eq!(changed.properties[0].after.as_deref(), Some("platform"));
    let gone = d.changes.iter().find(|c| c.change == ChangeKind::Removed).unwrap();
    assert_eq!(gone.resource_id, removed["id"].as_str().unwrap().to_lowercase());

    let mut elsewhere = before.clone();
    elsewhere.scope.subscriptions.push("another".into());
    let c = stored(&pool, &elsewhere).await;
    assert!(matches!(browse::diff(&pool, a, c, 100).await, Err(CoreError::InvalidAt { path, .. }) if path == "to"));
}

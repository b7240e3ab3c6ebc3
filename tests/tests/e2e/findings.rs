//! Evaluating stored snapshots: findings with evidence, deltas against the
//! previous snapshot of the same scope, the filtered list and history.

use attest_core::findings::{self, query, FindingFilter};
use attest_core::snapshot::{demo, store, Snapshot};
use attest_core::CoreError;
use sqlx::PgPool;
use uuid::Uuid;

async fn stored_and_evaluated(pool: &PgPool, s: &Snapshot) -> Uuid {
    let mut tx = pool.begin().await.unwrap();
    let id = store::insert(&mut tx, s, store::Source::Demo, "test").await.unwrap().id;
    tx.commit().await.unwrap();
    let e = findings::evaluate_snapshot(pool, id, "test").await.unwrap();
    assert!(e.created && e.findings > 0);
    id
}

fn filter() -> FindingFilter {
    FindingFilter { page: 1, per_page: 100, ..Default::default() }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_snapshot_is_evaluated_once_with_evidence_and_an_audit_entry(pool: PgPool) {
    let s = demo::generate(8, 5);
    let id = stored_and_evaluated(&pool, &s).await;
    let again = findings::evaluate_snapshot(&pool, id, "test").await.unwrap();
    assert!(!again.created, "a second evaluation changes nothing");
    let audited: i64 = sqlx::query_scalar("select count(*) from audit_log where action = 'snapshot.evaluate'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audited, 1);

    // Each public account fails the public-access control, with the path and value that decided.
    let public: Vec<String> = s
        .accounts
        .iter()
        .filter(|r| r.account["properties"]["publicNetworkAccess"] == "Enabled")
        .map(|r| r.account["id"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(!public.is_empty());
    let page = query::list(
        &pool,
        &FindingFilter { control: "attest-network-public-access".into(), state: "NonCompliant".into(), ..filter() },
    )
    .await
    .unwrap();
    let mut got: Vec<String> = page.findings.iter().map(|f| f.resource_id.clone()).collect();
    let mut want = public.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let f = &page.findings[0];
    assert_eq!(f.delta, "new");
    assert_eq!(f.severity, "High");
    let evidence = f.evidence.to_string();
    assert!(evidence.contains("properties.publicNetworkAccess") && evidence.contains("Enabled"), "{evidence}");

    // Every control area and a manual control's Unknown are present.
    let states: Vec<String> = query::summary(&pool).await.unwrap().by_state.into_iter().map(|(s, _)| s).collect();
    assert!(
        states.contains(&"NonCompliant".into())
            && states.contains(&"Compliant".into())
            && states.contains(&"Unknown".into())
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_later_snapshot_of_the_same_scope_carries_deltas_and_first_seen(pool: PgPool) {
    let first = demo::generate(6, 9);
    let first_id = stored_and_evaluated(&pool, &first).await;
    let mut second = first.clone();
    second.finished_at += time::Duration::days(1);
    second.started_at += time::Duration::days(1);
    let target =
        second.accounts.iter().position(|r| r.account["properties"]["publicNetworkAccess"] == "Enabled").unwrap();
    let account_id = second.accounts[target].account["id"].as_str().unwrap().to_lowercase();
    second.accounts[target].account["properties"]["publicNetworkAccess"] = "Disabled".into();
    let second_id = stored_and_evaluated(&pool, &second).await;

    let find = |snapshot: Uuid| {
        let pool = pool.clone();
        let account_id = account_id.clone();
        async move {
            query::list(
                &pool,
                &FindingFilter {
                    snapshot: Some(snapshot),
                    control: "attest-network-public-access".into(),
                    resource: account_id,
                    ..filter()
                },
            )
            .await
            .unwrap()
            .findings
            .remove(0)
        }
    };
    let before = find(first_id).await;
    let after = find(second_id).await;
    assert_eq!((before.state.as_str(), after.state.as_str()), ("NonCompliant", "Compliant"));
    assert_eq!(after.delta, "resolved");
    let unchanged = query::list(
        &pool,
        &FindingFilter { snapshot: Some(second_id), control: "attest-identity-local-auth-disabled".into(), ..filter() },
    )
    .await
    .unwrap();
    assert!(unchanged.findings.iter().all(|f| f.delta == "unchanged"));
    let carried = unchanged.findings[0].first_seen;
    assert_eq!(carried, first.finished_at, "first seen comes from the first snapshot");

    let (_, history) = query::get(&pool, after.id).await.unwrap();
    let states: Vec<&str> = history.iter().map(|h| h.state.as_str()).collect();
    assert_eq!(states, ["NonCompliant", "Compliant"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_list_filters_pages_and_refuses_bad_filters(pool: PgPool) {
    let s = demo::generate(10, 2);
    stored_and_evaluated(&pool, &s).await;
    let all = query::list(&pool, &FindingFilter { per_page: 500, ..filter() }).await.unwrap();
    assert!(all.total > 100);
    let high = query::list(&pool, &FindingFilter { severity: "High".into(), per_page: 500, ..filter() }).await.unwrap();
    assert!(high.findings.iter().all(|f| f.severity == "High") && high.total < all.total);
    let gdpr =
        query::list(&pool, &FindingFilter { framework: "GDPR".into(), per_page: 500, ..filter() }).await.unwrap();
    assert!(
        gdpr.total > 0 && gdpr.findings.iter().all(|f| f.control != "attest-cost-budget"),
        "cost controls map no GDPR article"
    );
    let p1 = query::list(&pool, &FindingFilter { per_page: 10, ..filter() }).await.unwrap();
    let p2 = query::list(&pool, &FindingFilter { per_page: 10, page: 2, ..filter() }).await.unwrap();
    assert_eq!(p1.findings.len(), 10);
    assert!(p1.findings.iter().all(|a| p2.findings.iter().all(|b| a.id != b.id)));
    let sub = s.subscriptions[0]["subscriptionId"].as_str().unwrap().to_string();
    let by_sub =
        query::list(&pool, &FindingFilter { subscription: sub.clone(), per_page: 500, ..filter() }).await.unwrap();
    assert!(
        by_sub.total > 0
            && by_sub.findings.iter().all(|f| f.subscription_id.as_deref() == Some(sub.to_lowercase().as_str()))
    );

    for (bad, field) in [
        (FindingFilter { state: "Bad".into(), ..filter() }, "state"),
        (FindingFilter { severity: "Critical".into(), ..filter() }, "severity"),
        (FindingFilter { control: "nope".into(), ..filter() }, "control"),
        (FindingFilter { framework: "PCI".into(), ..filter() }, "framework"),
        (FindingFilter { resource: "x".repeat(201), ..filter() }, "resource"),
        (FindingFilter { per_page: 501, ..filter() }, "page"),
    ] {
        match query::list(&pool, &bad).await {
            Err(CoreError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!(matches!(query::get(&pool, 999_999_999).await, Err(CoreError::NotFound { .. })));
}

#[sqlx::test(migrations = "../migrations")]
async fn changing_an_assignment_is_audited_and_evaluates_the_newest_snapshot_again(pool: PgPool) {
    use attest_core::findings::assignments::{self, Change};
    use serde_json::json;
    let s = demo::generate(6, 11);
    let id = stored_and_evaluated(&pool, &s).await;
    let listed = assignments::list(&pool, "test").await.unwrap();
    assert_eq!(listed.len(), attest_policy::catalogue::controls().len(), "the catalogue's defaults, seeded once");
    let public = "/providers/Microsoft.Authorization/policyAssignments/attest-network-public-access";
    let control = FindingFilter { control: "attest-network-public-access".into(), ..filter() };
    let before = query::list(&pool, &control).await.unwrap();
    assert!(before.total > 0);

    // Switch the control off: the snapshot's current evaluation has none of its findings.
    let mut params = serde_json::Map::new();
    params.insert("effect".into(), json!("Disabled"));
    let change = Change { parameters: params, not_scopes: vec![], enforcement_mode: "Default".into() };
    let evaluations = assignments::update(&pool, "admin", public, change).await.unwrap();
    assert_eq!(evaluations.len(), 1);
    assert_eq!(query::list(&pool, &control).await.unwrap().total, 0);
    assert_eq!(query::current_evaluation(&pool, id).await.unwrap(), Some(evaluations[0]));
    let audited: Vec<serde_json::Value> =
        sqlx::query_scalar("select details from audit_log where action = 'assignment.update'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0]["after"]["parameters"]["effect"], "Disabled");

    // Exclude one subscription instead: its accounts drop out, the others stay, unchanged.
    let sub = format!("/subscriptions/{}", s.subscriptions[0]["subscriptionId"].as_str().unwrap());
    let change = Change {
        parameters: Default::default(),
        not_scopes: vec![sub.clone()],
        enforcement_mode: "DoNotEnforce".into(),
    };
    assignments::update(&pool, "admin", public, change).await.unwrap();
    let after = query::list(&pool, &control).await.unwrap();
    assert!(after.total > 0 && after.total < before.total, "{} of {}", after.total, before.total);
    assert!(after.findings.iter().all(|f| !f.resource_id.starts_with(&sub.to_lowercase())));

    // Bad changes are refused, naming the field, and change nothing.
    let bad = |parameters: serde_json::Value, not_scopes: Vec<&str>, mode: &str| Change {
        parameters: parameters.as_object().cloned().unwrap(),
        not_scopes: not_scopes.into_iter().map(str::to_string).collect(),
        enforcement_mode: mode.into(),
    };
    for (change, field) in [
        (bad(json!({"effect": "Deny"}), vec![], "Default"), "parameters"),
        (bad(json!({"colour": "blue"}), vec![], "Default"), "parameters"),
        (bad(json!({}), vec!["subscriptions/x"], "Default"), "not_scopes"),
        (bad(json!({}), vec![], "Sometimes"), "enforcement_mode"),
    ] {
        match assignments::update(&pool, "admin", public, change).await {
            Err(CoreError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!(matches!(
        assignments::update(
            &pool,
            "admin",
            "/nope",
            Change { parameters: Default::default(), not_scopes: vec![], enforcement_mode: "Default".into() }
        )
        .await,
        Err(CoreError::NotFound { .. })
    ));
}

#[sqlx::test(migrations = "../migrations")]
async fn an_attestation_settles_a_manual_control_until_the_resource_changes(pool: PgPool) {
    use attest_core::findings::attest::{attest, NewAttestation};
    let first = demo::generate(4, 21);
    let first_id = stored_and_evaluated(&pool, &first).await;
    let manual = FindingFilter { control: "attest-monitoring-alert-rules".into(), ..filter() };
    let page = query::list(&pool, &manual).await.unwrap();
    let target = page.findings[0].clone();
    assert_eq!((target.state.as_str(), target.effect.as_deref()), ("Unknown", Some("manual")));

    let new = |finding_id: i64, note: &str, file: &[u8]| NewAttestation {
        finding_id,
        state: "Compliant".into(),
        note: note.into(),
        attachment_name: "alert-rules.png".into(),
        attachment_type: "image/png".into(),
        attachment: file.to_vec(),
    };
    for (bad, field) in [
        (new(target.id, "   ", b"png"), "note"),
        (new(target.id, "five rules exist", b""), "file"),
        (NewAttestation { state: "Fine".into(), ..new(target.id, "x", b"png") }, "state"),
    ] {
        match attest(&pool, "aude", bad).await {
            Err(CoreError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    let evaluated = query::list(&pool, &FindingFilter { control: "attest-network-public-access".into(), ..filter() })
        .await
        .unwrap();
    match attest(&pool, "aude", new(evaluated.findings[0].id, "looked", b"x")).await {
        Err(CoreError::Invalid { field, .. }) => assert_eq!(field, "finding", "only manual controls are attested"),
        other => panic!("{other:?}"),
    }

    let (attestation, finding) =
        attest(&pool, "aude", new(target.id, "The five alert rules exist; export attached.", b"\x89PNG"))
            .await
            .unwrap();
    let (now, _) = query::get(&pool, finding).await.unwrap();
    assert_eq!(now.state, "Compliant");
    assert!(now.evidence["message"].as_str().unwrap().contains(&format!("attestation {attestation}")));
    let audited: i64 = sqlx::query_scalar("select count(*) from audit_log where action = 'finding.attest'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audited, 1);
    // The other accounts are still Unknown.
    let still = query::list(&pool, &FindingFilter { state: "Unknown".into(), ..manual.clone() }).await.unwrap();
    assert_eq!(still.total, page.total - 1);

    // A later snapshot: unchanged, the attestation holds; changed, it ends.
    let later = |days: i64| {
        let mut s = first.clone();
        s.started_at += time::Duration::days(days);
        s.finished_at += time::Duration::days(days);
        s
    };
    let same = later(1);
    let same_id = stored_and_evaluated(&pool, &same).await;
    let held = query::list(
        &pool,
        &FindingFilter { snapshot: Some(same_id), resource: target.resource_id.clone(), ..manual.clone() },
    )
    .await
    .unwrap();
    assert_eq!(held.findings[0].state, "Compliant");
    let mut changed = later(2);
    let account = changed
        .accounts
        .iter_mut()
        .find(|r| r.account["id"].as_str().unwrap().to_lowercase() == target.resource_id)
        .unwrap();
    account.account["tags"]["owner"] = "someone else".into();
    let changed_id = stored_and_evaluated(&pool, &changed).await;
    let ended = query::list(
        &pool,
        &FindingFilter { snapshot: Some(changed_id), resource: target.resource_id.clone(), ..manual },
    )
    .await
    .unwrap();
    assert_eq!(ended.findings[0].state, "Unknown");
    assert!(ended.findings[0].evidence["message"].as_str().unwrap().contains("ended"));
    assert_ne!(first_id, changed_id);
}

fn builtin(file: &str) -> Vec<u8> {
    std::fs::read(tests::fixtures::root().join("azure-policy").join(file)).unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn evidence_is_stored_once_per_distinct_content(pool: PgPool) {
    stored_and_evaluated(&pool, &demo::generate(20, 3)).await;
    let (findings, evidence, linked): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from finding_spans), (select count(*) from finding_evidence),
                (select count(distinct evidence_hash) from finding_spans)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(evidence, linked, "every stored evidence belongs to a finding");
    assert!(evidence * 3 < findings, "{evidence} evidence rows for {findings} findings");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_azure_built_in_is_imported_unchanged_assigned_and_evaluated(pool: PgPool) {
    use attest_core::findings::definitions::import;
    let s = demo::generate(8, 5);
    let snapshot = stored_and_evaluated(&pool, &s).await;
    // Its default effect is Disabled, as Azure ships it.
    let audit = serde_json::json!({"effect": "Audit"}).as_object().cloned();
    let done =
        import(&pool, "admin", &builtin("CognitiveServices__DisablePublicNetworkAccess_Audit.json"), audit.clone())
            .await
            .unwrap();
    assert_eq!(done.name, "0725b4dd-7e76-479c-a735-68e7ee23d5ca");
    assert!(done.changed && !done.replaced);
    assert_eq!(done.evaluations.len(), 1, "the newest snapshot is evaluated again");

    // Azure's definition agrees with Attest's own public-access control.
    let listed = |control: &'static str| {
        let pool = pool.clone();
        async move {
            let page = query::list(
                &pool,
                &FindingFilter {
                    snapshot: Some(snapshot),
                    control: control.into(),
                    state: "NonCompliant".into(),
                    ..filter()
                },
            )
            .await
            .unwrap();
            let mut ids: Vec<String> = page.findings.iter().map(|f| f.resource_id.clone()).collect();
            ids.sort();
            (ids, page.findings.first().map(|f| (f.title.clone(), f.area.clone(), f.severity.clone())))
        }
    };
    let (azure, first) = listed("0725b4dd-7e76-479c-a735-68e7ee23d5ca").await;
    let (attest, _) = listed("attest-network-public-access").await;
    assert!(!azure.is_empty());
    assert_eq!(azure, attest);
    let (title, area, severity) = first.unwrap();
    assert!(title.contains("disable public network access"), "{title}");
    assert_eq!((area.as_str(), severity.as_str()), ("Cognitive Services", "Medium"));

    // Importing the same file again changes nothing; both imports are audited.
    let again = import(&pool, "admin", &builtin("CognitiveServices__DisablePublicNetworkAccess_Audit.json"), audit)
        .await
        .unwrap();
    assert!(!again.changed);
    let audited: i64 = sqlx::query_scalar("select count(*) from audit_log where action = 'policy.import'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audited, 2);
    // The catalogue's defaults were seeded, not displaced by the import.
    let assignments: i64 =
        sqlx::query_scalar("select count(*) from policy_assignments").fetch_one(&pool).await.unwrap();
    assert_eq!(assignments as usize, attest_policy::catalogue::controls().len() + 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn imports_that_cannot_be_evaluated_are_refused_and_leave_nothing(pool: PgPool) {
    use attest_core::findings::definitions::import;
    let field = |e: CoreError| match e {
        CoreError::Invalid { field, message } => (field, message),
        other => panic!("{other:?}"),
    };
    // A parameter without a default needs a value.
    let (f, m) = field(
        import(
            &pool,
            "admin",
            &builtin("CognitiveServices__AllowDeploymentPromptControl_Audit.json"),
            Some(Default::default()),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(f, "parameters");
    assert!(m.contains("filterName"), "{m}");
    // An initiative needs its definitions first.
    let initiative = builtin("initiative__CognitiveServices__AllowDeploymentControl_Audit.json");
    let (f, m) = field(import(&pool, "admin", &initiative, None).await.unwrap_err());
    assert_eq!(f, "definition");
    assert!(m.contains("not imported yet"), "{m}");
    // Attest's own names are taken; broken JSON says where.
    let mut own: serde_json::Value =
        serde_json::from_str(include_str!("../../../policy/catalogue/network-public-access.json")).unwrap();
    own["id"] =
        "/subscriptions/x/providers/Microsoft.Authorization/policyDefinitions/attest-network-public-access".into();
    let (f, _) = field(import(&pool, "admin", own.to_string().as_bytes(), None).await.unwrap_err());
    assert_eq!(f, "definition");
    assert!(matches!(import(&pool, "admin", b"{\"properties\": ", None).await, Err(CoreError::InvalidAt { .. })));
    let stored: i64 = sqlx::query_scalar("select count(*) from policy_definitions").fetch_one(&pool).await.unwrap();
    let audited: i64 = sqlx::query_scalar("select count(*) from audit_log where action = 'policy.import'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((stored, audited), (0, 0));

    // With its members stored (unassigned), the initiative imports and is assigned with its parameters.
    for file in [
        "CognitiveServices__AllowDeploymentCompletionControl_Audit.json",
        "CognitiveServices__AllowDeploymentMultiSeverityControl_Audit.json",
        "CognitiveServices__AllowDeploymentPromptControl_Audit.json",
        "CognitiveServices__AllowControlModeForDeployment_Audit.json",
    ] {
        import(&pool, "admin", &builtin(file), None).await.unwrap();
    }
    let done = import(&pool, "admin", &initiative, Some(Default::default())).await;
    match done {
        Ok(d) => assert_eq!(d.kind, "initiative"),
        Err(CoreError::Invalid { field: "definition", message }) => {
            panic!("the initiative's members are all imported, yet: {message}")
        }
        Err(e) => panic!("{e:?}"),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_area_filter_lists_its_controls_findings_only(pool: PgPool) {
    stored_and_evaluated(&pool, &demo::generate(8, 5)).await;
    let library = attest_core::findings::definitions::Library::load_pool(&pool).await.unwrap();
    let area = attest_policy::catalogue::control("attest-network-public-access").unwrap().area.clone();
    let page = query::list(&pool, &FindingFilter { area: area.clone(), state: "NonCompliant".into(), ..filter() })
        .await
        .unwrap();
    assert!(page.total > 0);
    assert!(page.findings.iter().all(|f| library.control(&f.control).unwrap().area == area), "{area}");
    let all = query::list(&pool, &FindingFilter { state: "NonCompliant".into(), ..filter() }).await.unwrap();
    assert!(page.total < all.total);
    match query::list(&pool, &FindingFilter { area: "Bogus".into(), ..filter() }).await {
        Err(CoreError::Invalid { field: "area", .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn what_fails_is_listed_by_default_counted_per_control_and_exported_whole(pool: PgPool) {
    stored_and_evaluated(&pool, &demo::generate(8, 5)).await;
    let failing = query::list(&pool, &FindingFilter { failing: true, per_page: 500, ..filter() }).await.unwrap();
    assert!(failing.findings.iter().all(|f| f.state == "NonCompliant" || f.state == "Error"));
    let summary = query::summary(&pool).await.unwrap();
    let fails: i64 =
        summary.by_state.iter().filter(|(s, _)| s == "NonCompliant" || s == "Error").map(|(_, n)| *n).sum();
    assert_eq!(failing.total, fails);
    // The group counts add up, and each is its control's own total.
    assert_eq!(failing.by_control.iter().map(|(_, n)| n).sum::<i64>(), failing.total);
    for (control, n) in &failing.by_control {
        let one =
            query::list(&pool, &FindingFilter { failing: true, control: control.clone(), ..filter() }).await.unwrap();
        assert_eq!(one.total, *n, "{control}");
    }
    // A named state wins over the failing default.
    let compliant =
        query::list(&pool, &FindingFilter { failing: true, state: "Compliant".into(), ..filter() }).await.unwrap();
    assert!(compliant.total > 0 && compliant.findings.iter().all(|f| f.state == "Compliant"));
    // The export hands over every match, in the list's order.
    let library = attest_core::findings::definitions::Library::load_pool(&pool).await.unwrap();
    let all = query::list(&pool, &FindingFilter { per_page: 500, ..filter() }).await.unwrap();
    let mut exported = Vec::new();
    let n = query::export(&pool, &FindingFilter { per_page: 1, ..filter() }, &library, |rows| {
        exported.extend(rows.into_iter().map(|r| r.id));
        async { Ok(()) }
    })
    .await
    .unwrap();
    assert_eq!(n as i64, all.total);
    assert_eq!(exported, all.findings.iter().map(|f| f.id).collect::<Vec<_>>());
}

#[sqlx::test(migrations = "../migrations")]
async fn each_controls_findings_sort_by_the_column_asked_for(pool: PgPool) {
    let s = demo::generate(12, 3);
    stored_and_evaluated(&pool, &s).await;
    let control = "attest-identity-local-auth-disabled";
    let page = |sort: query::Sort| {
        let pool = pool.clone();
        async move {
            query::list(&pool, &FindingFilter { control: control.into(), sort, per_page: 500, ..filter() })
                .await
                .unwrap()
                .findings
        }
    };
    let names = |rows: &[query::FindingRow]| -> Vec<String> {
        rows.iter().map(|r| r.resource_id.rsplit('/').next().unwrap_or_default().to_lowercase()).collect()
    };
    // Names order by the database's collation; the two directions must
    // mirror each other exactly.
    let up = page(query::Sort::Resource).await;
    assert!(up.len() > 3, "the demo estate has accounts for the control");
    let down = page(query::Sort::ResourceDesc).await;
    let mut mirrored = names(&down);
    mirrored.reverse();
    assert_eq!(names(&up), mirrored, "-resource is resource reversed");
    assert_ne!(names(&up), names(&down));
    let by_state = page(query::Sort::State).await;
    let states: Vec<&str> = by_state.iter().map(|r| r.state.as_str()).collect();
    let mut want = states.clone();
    want.sort();
    assert_eq!(states, want, "state: alphabetical");
    assert!(states.first() != states.last(), "the demo estate holds both states for this control");
    let seen = page(query::Sort::FirstSeenDesc).await;
    assert!(seen.windows(2).all(|w| w[0].first_seen >= w[1].first_seen), "-first_seen: newest first");
    assert!(matches!(query::Sort::parse("name"), Err(CoreError::Invalid { field: "sort", .. })));
    assert_eq!(query::Sort::parse("").unwrap(), query::Sort::Resource);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_first_evaluation_indexes_its_spans_aside_and_drops_what_failed_ones_left(pool: PgPool) {
    // What a failed evaluation leaves: a staged table, unregistered and
    // unlocked. And one a running evaluation is writing: locked by it.
    sqlx::query("select finding_spans_create_staged('finding_spans_9001', 'gone')").execute(&pool).await.unwrap();
    sqlx::query("select finding_spans_create_staged('finding_spans_9002', 'running')").execute(&pool).await.unwrap();
    let mut running = pool.begin().await.unwrap();
    sqlx::query("select pg_advisory_xact_lock(hashtextextended('finding_spans_9002', 11))")
        .execute(&mut *running)
        .await
        .unwrap();

    stored_and_evaluated(&pool, &demo::generate(6, 3)).await;

    let tables: Vec<String> = sqlx::query_scalar(
        "select relname::text from pg_class where relname in ('finding_spans_9001', 'finding_spans_9002')",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(tables, ["finding_spans_9002"], "the orphan goes, the running evaluation's table stays");
    running.rollback().await.unwrap();

    // The partition's indexes are the ones built aside (named after it),
    // one for each of the parent's, adopted by the attach.
    let (partition, rows): (String, i64) = sqlx::query_as(
        "select p.relation, (select count(*) from finding_spans s where s.chain = p.chain)
           from finding_span_partitions p join evaluations e on e.chain = p.chain",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(rows > 0);
    let indexes: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_index i join pg_class c on c.oid = i.indexrelid
          where i.indrelid = $1::regclass order by 1",
    )
    .bind(&partition)
    .fetch_all(&pool)
    .await
    .unwrap();
    let parent: i64 = sqlx::query_scalar("select count(*) from pg_index where indrelid = 'finding_spans'::regclass")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(indexes.len() as i64, parent, "{indexes:?}");
    assert!(indexes.iter().all(|i| i.starts_with(&format!("{partition}_finding_spans_"))), "{indexes:?}");
}

/// Waits until no other session of this database is inside a transaction:
/// a failed evaluation's writer has then committed or rolled back.
async fn quiet(pool: &PgPool) {
    for _ in 0..100 {
        let busy: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity
              where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if busy == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("sessions still in a transaction after 5 s");
}

/// Tables named like a span partition that are not attached.
async fn unattached(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "select relname::text from pg_class
          where relkind = 'r' and not relispartition and relname ~ '^finding_spans_[0-9]+$' order by 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failed_first_evaluation_leaves_no_spans_and_its_staged_table_goes(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    let s = demo::generate(6, 3);
    let id = store::insert(&mut tx, &s, store::Source::Demo, "test").await.unwrap().id;
    tx.commit().await.unwrap();
    let fail_on = |table: &str| {
        format!(
            "create function fail() returns trigger language plpgsql as $$ begin raise exception 'refused'; end $$;
             create trigger fail before insert on {table} for each statement execute function fail();"
        )
    };
    let unfail = |table: &str| format!("drop trigger fail on {table}; drop function fail();");

    // Failing while identities are written: the writer has not committed,
    // so it rolls back and leaves nothing.
    sqlx::raw_sql(&fail_on("finding_keys")).execute(&pool).await.unwrap();
    assert!(findings::evaluate_snapshot(&pool, id, "test").await.is_err());
    quiet(&pool).await;
    assert_eq!(unattached(&pool).await, Vec::<String>::new());
    sqlx::raw_sql(&unfail("finding_keys")).execute(&pool).await.unwrap();

    // Failing after the writer committed and the indexes were built (the
    // evaluation's own row is written last): the table stays behind,
    // unregistered, until the next first evaluation drops it.
    sqlx::raw_sql(&fail_on("evaluations")).execute(&pool).await.unwrap();
    assert!(findings::evaluate_snapshot(&pool, id, "test").await.is_err());
    quiet(&pool).await;
    let left = unattached(&pool).await;
    assert_eq!(left.len(), 1, "{left:?}");
    let registered: i64 =
        sqlx::query_scalar("select count(*) from finding_span_partitions").fetch_one(&pool).await.unwrap();
    assert_eq!(registered, 0);
    sqlx::raw_sql(&unfail("evaluations")).execute(&pool).await.unwrap();

    let e = findings::evaluate_snapshot(&pool, id, "test").await.unwrap();
    assert!(e.created && e.written > 0);
    assert_eq!(unattached(&pool).await, Vec::<String>::new(), "the orphan is dropped");
    let spans: i64 = sqlx::query_scalar("select count(*) from finding_spans").fetch_one(&pool).await.unwrap();
    assert_eq!(spans as usize, e.written, "only the successful evaluation's spans");
}

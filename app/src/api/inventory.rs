//! A snapshot's contents: its inventory by resource kind, one resource with
//! its typed view and raw document, and the diff of two snapshots of the same
//! scope. Every signed-in role may read them, as it may the snapshots list.

use crate::model::{AppError, DiffView, InventoryQuery, InventoryView, ResourceView};
use leptos::prelude::*;

/// Rows per inventory page.
pub const PAGE_SIZE: i64 = 50;
/// Resource changes a diff shows in full.
pub const DIFF_LIMIT: i64 = 500;

#[server(endpoint = "fn/snapshots/inventory")]
pub async fn inventory(query: InventoryQuery) -> Result<InventoryView, AppError> {
    use crate::ssr::{core, fail, fmt_time, pool, require};
    use attest_core::snapshot::browse;
    require(&[]).await?;
    let pool = pool()?;
    let id = shape::parse_id(&query.snapshot, "snapshot")?;
    let kind = if query.kind.is_empty() { "account".to_string() } else { query.kind.clone() };
    let sort = if query.sort.is_empty() { "name".to_string() } else { query.sort.clone() };
    let page = query.page.max(1);
    let found = browse::inventory(
        &pool,
        &browse::InventoryQuery {
            snapshot: id,
            kind: kind.clone(),
            text: query.q.clone(),
            flag: query.flag.clone(),
            sort,
            descending: query.desc,
            offset: (page - 1).saturating_mul(PAGE_SIZE),
            limit: PAGE_SIZE,
        },
    )
    .await
    .map_err(|e| fail(core(e)))?;
    let same_scope = browse::same_scope(&pool, id)
        .await
        .map_err(|e| fail(core(e)))?
        .into_iter()
        .map(|(id, at)| (id.to_string(), fmt_time(at)))
        .collect();
    Ok(InventoryView {
        header: shape::header(&found.header),
        columns: shape::columns(&kind),
        rows: found.items.iter().map(|item| shape::row(&id.to_string(), &kind, item, &found.role_names)).collect(),
        total: found.total,
        page,
        pages: (found.total + PAGE_SIZE - 1) / PAGE_SIZE,
        kind,
        same_scope,
    })
}

#[server(endpoint = "fn/snapshots/resource")]
pub async fn resource(snapshot: String, kind: String, id: String) -> Result<ResourceView, AppError> {
    use crate::ssr::{core, fail, pool, require};
    use attest_core::snapshot::browse;
    require(&[]).await?;
    let pool = pool()?;
    let snapshot_id = shape::parse_id(&snapshot, "snapshot")?;
    if id.len() > 2_048 {
        return Err(fail(AppError::Invalid { field: "id".into(), message: "longer than an ARM id can be".into() }));
    }
    let header = browse::header(&pool, snapshot_id).await.map_err(|e| fail(core(e)))?;
    let item = browse::resource(&pool, snapshot_id, &kind, &id).await.map_err(|e| fail(core(e)))?;
    let role_names = if kind == "role_assignment" {
        browse::role_names(&pool, snapshot_id).await.map_err(|e| fail(core(e)))?
    } else {
        Default::default()
    };
    // Its findings, and those of what hangs off it (an account's deployments).
    let findings = {
        use attest_core::findings::{definitions::Library, query as fq, FindingFilter};
        let library = Library::load_pool(&pool).await.map_err(|e| fail(core(e)))?;
        let filter = FindingFilter {
            snapshot: Some(snapshot_id),
            resource: item.resource_id.clone(),
            page: 1,
            per_page: 200,
            ..Default::default()
        };
        match fq::list_with(&pool, &filter, &library).await {
            Ok(page) => page,
            // Not evaluated (an import that failed evaluation): no findings.
            Err(attest_core::CoreError::Invalid { .. }) => attest_core::findings::FindingsPage {
                snapshot_id: None,
                evaluation_id: None,
                total: 0,
                by_control: vec![],
                page: 1,
                per_page: 200,
                findings: vec![],
            },
            Err(e) => return Err(fail(core(e))),
        }
    };
    let names = browse::subscription_names(&pool, snapshot_id).await.map_err(|e| fail(core(e)))?;
    Ok(ResourceView {
        findings_total: findings.total,
        findings: findings.findings.into_iter().map(|r| crate::api::findings::shape::item(r, &names)).collect(),
        header: shape::header(&header),
        kind_label: shape::kind_label(&kind),
        resource_id: item.body["id"].as_str().unwrap_or(&item.resource_id).to_string(),
        account: item
            .account_id
            .as_ref()
            .map(|a| (a.rsplit('/').next().unwrap_or(a).to_string(), shape::resource_href(&snapshot, "account", a))),
        fields: shape::fields(&kind, &item.body, &role_names),
        raw: serde_json::to_string_pretty(&item.body).unwrap_or_default(),
        principal_id: if kind == "role_assignment" {
            item.body
                .pointer("/properties/principalId")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_ascii_lowercase()
        } else {
            String::new()
        },
        kind,
    })
}

#[server(endpoint = "fn/snapshots/diff")]
pub async fn diff(from: String, to: String) -> Result<DiffView, AppError> {
    use crate::{
        model::{ChangeView, PropertyChangeView},
        ssr::{core, fail, pool, require},
    };
    use attest_core::snapshot::browse::{self, ChangeKind};
    require(&[]).await?;
    let pool = pool()?;
    let (a, b) = (shape::parse_id(&from, "from")?, shape::parse_id(&to, "to")?);
    let d = browse::diff(&pool, a, b, DIFF_LIMIT).await.map_err(|e| fail(core(e)))?;
    Ok(DiffView {
        from: shape::header(&d.from),
        to: shape::header(&d.to),
        added: d.added,
        removed: d.removed,
        changed: d.changed,
        changes: d
            .changes
            .into_iter()
            .map(|c| {
                let in_snapshot = if c.change == ChangeKind::Removed { &from } else { &to };
                ChangeView {
                    kind_label: shape::kind_label(&c.kind),
                    href: shape::resource_href(in_snapshot, &c.kind, &c.resource_id),
                    change: match c.change {
                        ChangeKind::Added => "added",
                        ChangeKind::Removed => "removed",
                        ChangeKind::Changed => "changed",
                    }
                    .into(),
                    resource_id: c.resource_id,
                    properties: c
                        .properties
                        .into_iter()
                        .map(|p| PropertyChangeView { path: p.path, before: p.before, after: p.after })
                        .collect(),
                }
            })
            .collect(),
    })
}

/// Shaping stored documents for display, through the typed ARM views.
#[cfg(feature = "ssr")]
mod shape {
    use crate::{
        model::{AppError, ColumnView, InventoryRowView, SnapshotHeaderView, INVENTORY_KINDS},
        ssr::{fail, fmt_time},
    };
    use attest_core::snapshot::{
        arm::{Account, Deployment, DiagnosticSetting, PrivateEndpointConnection, RaiPolicy, RoleAssignment},
        browse::{Item, SnapshotHeader},
    };
    use serde_json::Value;
    use std::collections::HashMap;

    pub fn parse_id(raw: &str, field: &str) -> Result<uuid::Uuid, AppError> {
        uuid::Uuid::parse_str(raw.trim())
            .map_err(|_| fail(AppError::Invalid { field: field.into(), message: "not a snapshot id".into() }))
    }

    pub fn header(h: &SnapshotHeader) -> SnapshotHeaderView {
        let errors = h
            .errors
            .as_array()
            .map(|errs| {
                errs.iter()
                    .map(|e| {
                        format!(
                            "{} [{}] {}",
                            e["request"].as_str().unwrap_or(""),
                            e["status"].as_u64().map_or("no response".to_string(), |s| s.to_string()),
                            e["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        SnapshotHeaderView {
            id: h.id.to_string(),
            finished_at: fmt_time(h.finished_at),
            scope: crate::api::snapshots::describe_scope(&h.scope_key),
            source: h.source.clone(),
            partial: h.partial,
            errors,
            accounts: h.account_count,
            deployments: h.deployment_count,
            role_assignments: h.role_assignment_count,
        }
    }

    pub fn kind_label(kind: &str) -> String {
        INVENTORY_KINDS.iter().find(|(k, _)| *k == kind).map_or_else(|| kind.replace('_', " "), |(_, l)| l.to_string())
    }

    pub fn resource_href(snapshot: &str, kind: &str, id: &str) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("kind", kind).append_pair("id", id);
        format!("/snapshots/{snapshot}/resource?{}", q.finish())
    }

    fn col(label: &str, sort: Option<&str>) -> ColumnView {
        ColumnView { label: label.into(), sort: sort.map(str::to_string) }
    }

    pub fn columns(kind: &str) -> Vec<ColumnView> {
        match kind {
            "account" => vec![
                col("Name", Some("name")),
                col("Kind", Some("kind")),
                col("Region", Some("location")),
                col("Public network access", None),
                col("Key access", None),
                col("Private endpoints", None),
                col("Managed identity", None),
            ],
            "deployment" => vec![
                col("Name", Some("name")),
                col("Account", Some("account")),
                col("Model", Some("model")),
                col("SKU", Some("sku")),
                col("Capacity", None),
                col("Content filter", None),
            ],
            "rai_policy" => vec![
                col("Name", Some("name")),
                col("Account", Some("account")),
                col("Mode", None),
                col("Base policy", None),
                col("Filters", None),
            ],
            "diagnostic_setting" => vec![
                col("Name", Some("name")),
                col("Account", Some("account")),
                col("Log Analytics workspace", None),
                col("Logs sent", None),
            ],
            "private_endpoint_connection" => {
                vec![col("Name", Some("name")), col("Account", Some("account")), col("Status", None)]
            }
            _ => vec![
                col("Scope", Some("id")),
                col("Role", None),
                col("Principal type", Some("kind")),
                col("Principal", None),
            ],
        }
    }

    fn account_name(item: &Item) -> String {
        item.account_id.as_deref().and_then(|a| a.rsplit('/').next()).unwrap_or("").to_string()
    }

    fn last_segment(s: &str) -> String {
        s.rsplit('/').next().unwrap_or(s).to_string()
    }

    fn or_dash(v: Option<String>) -> String {
        v.filter(|s| !s.is_empty()).unwrap_or_else(|| "—".into())
    }

    /// The cells of one row, in the order of `columns(kind)`.
    fn cells(kind: &str, item: &Item, roles: &HashMap<String, String>) -> Vec<String> {
        let doc = &item.body;
        match kind {
            "account" => {
                let a = Account::parse(doc).unwrap_or_default();
                vec![
                    or_dash(a.common.name.clone()),
                    or_dash(a.kind.clone()),
                    or_dash(a.common.location.clone()),
                    if a.public_network_access_enabled() { "Enabled" } else { "Disabled" }.into(),
                    if a.key_access_enabled() { "Enabled" } else { "Disabled" }.into(),
                    a.properties.private_endpoint_connections.as_ref().map_or(0, Vec::len).to_string(),
                    or_dash(a.identity.and_then(|i| i.identity_type)),
                ]
            }
            "deployment" => {
                let d = Deployment::parse(doc).unwrap_or_default();
                let model = d.properties.model.as_ref().map(|m| {
                    format!("{} {}", m.name.as_deref().unwrap_or("?"), m.version.as_deref().unwrap_or(""))
                        .trim()
                        .to_string()
                });
                vec![
                    or_dash(d.common.name.clone()),
                    account_name(item),
                    or_dash(model),
                    or_dash(d.sku.as_ref().and_then(|s| s.name.clone())),
                    or_dash(d.capacity().map(|c| c.to_string())),
                    d.properties.rai_policy_name.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "none".into()),
                ]
            }
            "rai_policy" => {
                let p = RaiPolicy::parse(doc).unwrap_or_default();
                let filters = p.properties.content_filters.as_deref().unwrap_or_default();
                vec![
                    or_dash(p.common.name.clone()),
                    account_name(item),
                    or_dash(p.properties.mode.clone()),
                    or_dash(p.properties.base_policy_name.clone()),
                    format!(
                        "{} ({} blocking)",
                        filters.len(),
                        filters.iter().filter(|f| f.blocking == Some(true)).count()
                    ),
                ]
            }
            "diagnostic_setting" => {
                let d = DiagnosticSetting::parse(doc).unwrap_or_default();
                let sent: Vec<String> = d
                    .properties
                    .logs
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .filter(|l| l.enabled == Some(true))
                    .filter_map(|l| l.category.clone().or_else(|| l.category_group.clone()))
                    .collect();
                vec![
                    or_dash(d.common.name.clone()),
                    account_name(item),
                    or_dash(d.workspace().map(last_segment)),
                    if sent.is_empty() { "none".into() } else { sent.join(", ") },
                ]
            }
            "private_endpoint_connection" => {
                let p = PrivateEndpointConnection::parse(doc).unwrap_or_default();
                vec![
                    or_dash(p.common.name.clone()),
                    account_name(item),
                    or_dash(p.properties.private_link_service_connection_state.and_then(|s| s.status)),
                ]
            }
            _ => {
                let r = RoleAssignment::parse(doc).unwrap_or_default();
                let role = r.properties.role_definition_id.as_deref().map(|id| {
                    let guid = last_segment(id).to_ascii_lowercase();
                    roles.get(&guid).cloned().unwrap_or(guid)
                });
                vec![
                    or_dash(r.properties.scope.clone()),
                    or_dash(role),
                    or_dash(r.properties.principal_type.clone()),
                    or_dash(r.properties.principal_id.clone()),
                ]
            }
        }
    }

    pub fn row(snapshot: &str, kind: &str, item: &Item, roles: &HashMap<String, String>) -> InventoryRowView {
        InventoryRowView { href: resource_href(snapshot, kind, &item.resource_id), cells: cells(kind, item, roles) }
    }

    /// The typed view of one resource: the inventory's cells plus what only
    /// the resource page has room for.
    pub fn fields(kind: &str, doc: &Value, roles: &HashMap<String, String>) -> Vec<(String, String)> {
        let item = Item { resource_id: String::new(), account_id: None, body: doc.clone() };
        let mut out: Vec<(String, String)> = columns(kind)
            .into_iter()
            .map(|c| c.label)
            .zip(cells(kind, &item, roles))
            .filter(|(label, _)| label != "Account")
            .collect();
        match kind {
            "account" => {
                let a = Account::parse(doc).unwrap_or_default();
                let acls = a.properties.network_acls.clone().unwrap_or_default();
                out.push(("Network default action".into(), or_dash(acls.default_action)));
                out.push((
                    "IP rules".into(),
                    or_dash(Some(
                        acls.ip_rules
                            .unwrap_or_default()
                            .into_iter()
                            .filter_map(|r| r.value)
                            .collect::<Vec<_>>()
                            .join(", "),
                    )),
                ));
                out.push((
                    "Outbound access restricted".into(),
                    if a.properties.restrict_outbound_network_access == Some(true) { "Yes" } else { "No" }.into(),
                ));
                out.push(("Endpoint".into(), or_dash(a.properties.endpoint.clone())));
                out.push((
                    "Tags".into(),
                    or_dash(
                        a.common.tags.map(|t| t.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")),
                    ),
                ));
            }
            "rai_policy" => {
                let p = RaiPolicy::parse(doc).unwrap_or_default();
                for f in p.properties.content_filters.unwrap_or_default() {
                    out.push((
                        format!("{} ({})", f.name.as_deref().unwrap_or("?"), f.source.as_deref().unwrap_or("?")),
                        format!(
                            "{}{}, {}",
                            if f.enabled == Some(true) { "on" } else { "off" },
                            f.severity_threshold.map(|t| format!(" at {t}")).unwrap_or_default(),
                            if f.blocking == Some(true) { "blocking" } else { "not blocking" }
                        ),
                    ));
                }
            }
            _ => {}
        }
        out
    }
}

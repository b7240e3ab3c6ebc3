//! Azure Policy's side: the exemptions a snapshot found in Azure, listed
//! beside Attest's, and an approved Attest exemption exported as an Azure
//! Policy exemption (ARM JSON and the equivalent az command) carrying the
//! approval in its metadata.

use super::query::ExemptionDetail;
use crate::error::CoreResult;
use crate::snapshot::arm::PolicyExemption;
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::PgPool;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// The preview API version Azure's exemptions are written with (no stable one exists).
pub const API_VERSION: &str = "2022-07-01-preview";

/// An exemption found in Azure by a scan.
#[derive(Debug, Clone, Serialize)]
pub struct AzureExemption {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub policy_assignment_id: String,
    pub reference_ids: Vec<String>,
    pub category: String,
    pub expires_on: Option<String>,
    pub description: String,
}

/// Azure's own exemptions in the newest snapshot (and which one that is).
pub async fn in_newest_snapshot(pool: &PgPool) -> CoreResult<(Option<Uuid>, Vec<AzureExemption>)> {
    let Some(snapshot) =
        sqlx::query_scalar!("select id from snapshots order by finished_at desc, imported_at desc limit 1")
            .fetch_optional(pool)
            .await?
    else {
        return Ok((None, vec![]));
    };
    let docs = sqlx::query!(
        r#"select d.resource_id, d.body from snapshot_members m cross join lateral unnest(m.ids) as member(id)
             join documents d on d.id = member.id
            where m.snapshot_id = $1 and m.kind = 'policy_exemption' order by d.resource_id"#,
        snapshot
    )
    .fetch_all(pool)
    .await?;
    let list = docs
        .into_iter()
        .map(|d| {
            let parsed = PolicyExemption::parse(&d.body).unwrap_or_default();
            let p = parsed.properties;
            AzureExemption {
                id: d.resource_id.clone(),
                name: parsed.common.name.clone().unwrap_or_default(),
                display_name: p.display_name.unwrap_or_default(),
                policy_assignment_id: p.policy_assignment_id.unwrap_or_default(),
                reference_ids: p.policy_definition_reference_ids.unwrap_or_default(),
                category: p.exemption_category.unwrap_or_default(),
                expires_on: p.expires_on,
                description: p.description.unwrap_or_default(),
            }
        })
        .collect();
    Ok((Some(snapshot), list))
}

/// The Azure Policy exemption an approved exemption becomes, and the az
/// command that creates it.
#[derive(Debug, Clone, Serialize)]
pub struct Export {
    pub arm: Value,
    pub az: String,
}

/// Quotes for a POSIX shell.
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

pub fn export(d: &ExemptionDetail) -> Export {
    let e = &d.exemption;
    let name = format!("attest-exemption-{}", e.id);
    let expires = e.expires_on.format(&Rfc3339).unwrap_or_default();
    let approved_on = e.approved_at.and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default();
    let approved_by = d.approvers.join(", ");
    let display = format!("Attest exemption {} ({})", e.id, e.category);
    let metadata = json!({
        "requestedBy": e.requested_by,
        "approvedBy": approved_by,
        "approvedOn": approved_on,
        "ticketRef": e.ticket,
        "attestExemptionId": e.id,
        "compensatingControls": e.compensating_controls,
    });
    let mut properties = json!({
        "policyAssignmentId": e.assignment_id,
        "exemptionCategory": e.category,
        "expiresOn": expires,
        "displayName": display,
        "description": e.justification,
        "metadata": metadata,
    });
    if !e.reference_ids.is_empty() {
        properties["policyDefinitionReferenceIds"] = json!(e.reference_ids);
    }
    let arm = json!({
        "type": "Microsoft.Authorization/policyExemptions",
        "apiVersion": API_VERSION,
        "name": name,
        "scope": e.scope,
        "properties": properties,
    });
    let mut az = format!(
        "az policy exemption create --name {} --scope {} --policy-assignment {} --exemption-category {} \
         --expires-on {} --display-name {} --description {}",
        sh(&name),
        sh(&e.scope),
        sh(&e.assignment_id),
        sh(&e.category),
        sh(&expires),
        sh(&display),
        sh(&e.justification)
    );
    if !e.reference_ids.is_empty() {
        az.push_str(&format!(
            " --policy-definition-reference-ids {}",
            e.reference_ids.iter().map(|r| sh(r)).collect::<Vec<_>>().join(" ")
        ));
    }
    // az takes metadata as space-separated key=value pairs.
    let pairs: Vec<String> = metadata
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| sh(&format!("{k}={}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))))
        .collect();
    az.push_str(&format!(" --metadata {}", pairs.join(" ")));
    Export { arm, az }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exemptions::query::ExemptionRow;
    use time::macros::datetime;

    #[test]
    fn an_export_carries_the_approval_and_quotes_for_the_shell() {
        let d = ExemptionDetail {
            exemption: ExemptionRow {
                id: 7,
                assignment_id: "/providers/Microsoft.Authorization/policyAssignments/attest-network-public-access"
                    .into(),
                controls: vec!["attest-network-public-access".into()],
                reference_ids: vec![],
                scope: "/subscriptions/s1/resourcegroups/rg".into(),
                category: "Mitigated".into(),
                justification: "Partner's IPs only; it's firewalled".into(),
                compensating_controls: "IP allow-list".into(),
                ticket: "CHG-1".into(),
                expires_on: datetime!(2027-01-31 0:00 UTC),
                severity: "High".into(),
                approvals_needed: 2,
                state: "approved".into(),
                finding_id: None,
                requested_by: "rita".into(),
                requested_at: datetime!(2026-11-01 0:00 UTC),
                approved_at: Some(datetime!(2026-11-02 9:30 UTC)),
                drifted_at: None,
            },
            history: vec![],
            bindings: vec![],
            approvers: vec!["anna".into(), "bert".into()],
        };
        let x = export(&d);
        assert_eq!(x.arm["properties"]["metadata"]["approvedBy"], "anna, bert");
        assert_eq!(x.arm["properties"]["metadata"]["approvedOn"], "2026-11-02T09:30:00Z");
        assert_eq!(x.arm["properties"]["metadata"]["ticketRef"], "CHG-1");
        assert_eq!(x.arm["properties"]["exemptionCategory"], "Mitigated");
        assert!(x.az.contains(r"--description 'Partner'\''s IPs only; it'\''s firewalled'"), "{}", x.az);
        assert!(x.az.contains("--scope '/subscriptions/s1/resourcegroups/rg'"));
        assert!(x.az.contains("'approvedBy=anna, bert'") && x.az.contains("'ticketRef=CHG-1'"), "{}", x.az);
    }
}

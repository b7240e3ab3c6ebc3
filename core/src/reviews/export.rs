//! What a campaign's decisions come to outside Attest: the `az` commands
//! that carry out its revocations and changes. A change creates the
//! narrower assignment before deleting the old one, so access is never
//! lost in between.

use super::{Campaign, Item};

/// A word quoted for a POSIX shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `--assignee-principal-type` as `az` spells it, when known.
fn principal_type(kind: &str) -> Option<&'static str> {
    match kind {
        "user" => Some("User"),
        "group" => Some("Group"),
        "service_principal" => Some("ServicePrincipal"),
        _ => None,
    }
}

/// The shell script of `az role assignment` commands for the items decided
/// revoke or change; kept and undecided items are listed as comments only.
pub fn az(campaign: &Campaign, items: &[Item]) -> String {
    let mut out = String::new();
    out.push_str("#!/bin/sh\n");
    out.push_str(&format!("# Attest access review #{}: {}\n", campaign.id, campaign.name.replace('\n', " ")));
    out.push_str(&format!("# Scope {} as of snapshot {}\n", campaign.scope, campaign.snapshot_id));
    match (&campaign.certified_by, campaign.certified_at) {
        (Some(_), Some(at)) if campaign.closed_at_due => out.push_str(&format!(
            "# Closed at its due date {} by its policy ({}); items so decided were not reviewed\n",
            crate::display::time(at),
            campaign.on_due
        )),
        (Some(by), Some(at)) => out.push_str(&format!("# Certified by {by} at {}\n", crate::display::time(at))),
        _ => out.push_str("# NOT CERTIFIED: decisions may still change\n"),
    }
    out.push_str("set -eu\n");
    let mut acted = 0;
    for i in items {
        let who = format!("{} ({})", i.principal_name.replace('\n', " "), i.principal);
        match i.decision.as_deref() {
            Some("revoke") => {
                acted += 1;
                out.push_str(&format!("\n# item {}: revoke {} from {who}\n", i.id, i.role));
                out.push_str(&format!("az role assignment delete --ids {}\n", quote(&i.assignment)));
            }
            Some("change") => {
                acted += 1;
                let role = i.new_role.as_deref().unwrap_or(&i.role);
                let scope = i.new_scope.as_deref().unwrap_or(&i.scope);
                out.push_str(&format!("\n# item {}: change {} to {role} at {scope} for {who}\n", i.id, i.role));
                let mut create = format!(
                    "az role assignment create --assignee-object-id {} --role {} --scope {}",
                    quote(&i.principal),
                    quote(role),
                    quote(scope)
                );
                if let Some(t) = principal_type(&i.principal_kind) {
                    create.push_str(&format!(" --assignee-principal-type {t}"));
                }
                out.push_str(&create);
                out.push('\n');
                out.push_str(&format!("az role assignment delete --ids {}\n", quote(&i.assignment)));
            }
            other => {
                out.push_str(&format!("# item {}: {} for {who}: {}\n", i.id, i.role, other.unwrap_or("undecided")));
            }
        }
    }
    out.push_str(&format!("\n# {acted} of {} items need a change in Azure\n", items.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, decision: Option<&str>) -> Item {
        Item {
            id,
            assignment: "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/a'1".into(),
            principal: "p1".into(),
            principal_name: "Ann".into(),
            principal_kind: "user".into(),
            role: "Contributor".into(),
            role_definition_id: "/x/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c".into(),
            scope: "/subscriptions/s".into(),
            accounts: vec!["acct".into()],
            flags: vec![],
            level: "owner_level".into(),
            decision: decision.map(str::to_string),
            new_role: decision.filter(|d| *d == "change").map(|_| "Cognitive Services OpenAI User".into()),
            new_scope: None,
            comment: Some("c".into()),
            decided_by: Some("aude".into()),
            decided_at: None,
            suggested: None,
            suggested_from: None,
            not_reviewed: false,
        }
    }

    #[test]
    fn revocations_delete_changes_create_first_and_quotes_hold() {
        let c = Campaign {
            id: 7,
            name: "Q4".into(),
            scope: "/".into(),
            snapshot_id: uuid::Uuid::nil(),
            created_by: "aude".into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            gaps: vec![],
            certified_by: None,
            certified_at: None,
            certify_comment: None,
            due_at: None,
            on_due: "keep".into(),
            closed_at_due: false,
            items: 3,
            decided: 3,
            flagged: 0,
        };
        let script = az(&c, &[item(1, Some("revoke")), item(2, Some("change")), item(3, Some("keep"))]);
        assert!(script.contains("NOT CERTIFIED"));
        assert!(script.contains(r"az role assignment delete --ids '/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/a'\''1'"));
        let create = script.find("az role assignment create --assignee-object-id 'p1' --role 'Cognitive Services OpenAI User' --scope '/subscriptions/s' --assignee-principal-type User").unwrap();
        let delete_after = script[create..].find("az role assignment delete").unwrap();
        assert!(delete_after > 0);
        assert!(script.contains("# item 3: Contributor for Ann (p1): keep"));
        assert!(script.contains("# 2 of 3 items need a change in Azure"));
    }
}

//! Attest's own controls: policy definitions in Azure's language, each with
//! a severity, a rationale, a remediation and framework mappings in
//! `metadata.attest`. The files live in `policy/catalogue/`.

use crate::assignment::{Assignment, Catalog};
use crate::definition::{Definition, PolicyDocument};
use crate::error::{PolicyError, Result};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

/// How much a failing control matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Severity {
    High,
    Medium,
    Low,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        [Severity::High, Severity::Medium, Severity::Low].into_iter().find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "High",
            Severity::Medium => "Medium",
            Severity::Low => "Low",
        }
    }
}

/// A definition with what an auditor needs to read it.
#[derive(Debug, Clone)]
pub struct Control {
    pub definition: Definition,
    pub severity: Severity,
    /// Network isolation, Identity, Least privilege, …
    pub area: String,
    pub rationale: String,
    /// The az command that fixes a non-compliant resource.
    pub remediation_az: Option<String>,
    /// The ARM JSON (or fragment) of the fix.
    pub remediation_arm: Option<Value>,
    /// Framework → requirement ids, e.g. `NIST SP 800-53 r5` → `["SC-7"]`.
    pub frameworks: BTreeMap<String, Vec<String>>,
    /// Decided by Attest's own code rather than by the policy rule
    /// (`metadata.attest.check`, e.g. `rbac:key_access_while_keys_enabled`):
    /// the rule applies to nothing, and the findings come from that check.
    pub check: Option<String>,
}

impl Control {
    /// Reads a definition's `metadata.attest`; a definition without it (an
    /// imported Azure built-in) gets its category as area and Medium severity.
    pub fn from_definition(definition: Definition) -> Control {
        let meta = definition.metadata.get("attest").cloned().unwrap_or(Value::Null);
        let text = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_string);
        let frameworks = meta
            .get("frameworks")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let ids =
                            v.as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect());
                        (k.clone(), ids.unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default();
        Control {
            severity: text("severity").as_deref().and_then(Severity::parse).unwrap_or(Severity::Medium),
            area: text("area")
                .or_else(|| definition.metadata.get("category").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| "Azure built-in".into()),
            rationale: text("rationale").unwrap_or_else(|| definition.description.clone()),
            remediation_az: meta.pointer("/remediation/az").and_then(Value::as_str).map(str::to_string),
            remediation_arm: meta.pointer("/remediation/arm").cloned(),
            check: text("check"),
            frameworks,
            definition,
        }
    }
}

const FILES: &[(&str, &str)] = &[
    ("network-public-access", include_str!("../catalogue/network-public-access.json")),
    ("network-acls-deny", include_str!("../catalogue/network-acls-deny.json")),
    ("network-private-endpoint", include_str!("../catalogue/network-private-endpoint.json")),
    ("network-private-dns", include_str!("../catalogue/network-private-dns.json")),
    ("network-outbound-restricted", include_str!("../catalogue/network-outbound-restricted.json")),
    ("identity-local-auth-disabled", include_str!("../catalogue/identity-local-auth-disabled.json")),
    ("identity-managed-identity", include_str!("../catalogue/identity-managed-identity.json")),
    ("access-key-access-while-keys-enabled", include_str!("../catalogue/access-key-access-while-keys-enabled.json")),
    ("access-user-write-level", include_str!("../catalogue/access-user-write-level.json")),
    ("access-workload-beyond-invoke", include_str!("../catalogue/access-workload-beyond-invoke.json")),
    ("access-principal-deleted", include_str!("../catalogue/access-principal-deleted.json")),
    ("access-custom-role-wildcard", include_str!("../catalogue/access-custom-role-wildcard.json")),
    ("access-standing-privileged", include_str!("../catalogue/access-standing-privileged.json")),
    ("access-broad-scope", include_str!("../catalogue/access-broad-scope.json")),
    ("access-guest-data", include_str!("../catalogue/access-guest-data.json")),
    ("access-revocation-not-carried-out", include_str!("../catalogue/access-revocation-not-carried-out.json")),
    ("access-disabled-principal", include_str!("../catalogue/access-disabled-principal.json")),
    ("access-workload-owner", include_str!("../catalogue/access-workload-owner.json")),
    ("content-filter-assigned", include_str!("../catalogue/content-filter-assigned.json")),
    ("content-filter-thresholds", include_str!("../catalogue/content-filter-thresholds.json")),
    ("content-prompt-shields", include_str!("../catalogue/content-prompt-shields.json")),
    ("monitoring-diagnostic-logs", include_str!("../catalogue/monitoring-diagnostic-logs.json")),
    ("monitoring-log-retention", include_str!("../catalogue/monitoring-log-retention.json")),
    ("monitoring-alert-rules", include_str!("../catalogue/monitoring-alert-rules.json")),
    ("residency-account-region", include_str!("../catalogue/residency-account-region.json")),
    ("residency-deployment-processing", include_str!("../catalogue/residency-deployment-processing.json")),
    ("cost-budget", include_str!("../catalogue/cost-budget.json")),
    ("cost-within-budget", include_str!("../catalogue/cost-within-budget.json")),
];

static CATALOGUE: LazyLock<Vec<Control>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(slug, text)| {
            let doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("catalogue/{slug}.json: {e}"));
            match PolicyDocument::parse(&doc) {
                Ok(PolicyDocument::Definition(d)) => Control::from_definition(d),
                Ok(PolicyDocument::Initiative(_)) => panic!("catalogue/{slug}.json is an initiative"),
                Err(e) => panic!("catalogue/{slug}.json: {e}"),
            }
        })
        .collect()
});

/// Attest's controls, in catalogue order. The files are compiled in and a
/// unit test parses every one, so a broken file cannot ship.
pub fn controls() -> &'static [Control] {
    &CATALOGUE
}

/// Every control under its lower-case id, name and slug. Evaluation looks a
/// control up for every finding, so this is a map, not a scan.
static INDEX: LazyLock<HashMap<String, usize>> = LazyLock::new(|| {
    let mut index = HashMap::new();
    for (i, c) in controls().iter().enumerate() {
        let name = c.definition.name.to_ascii_lowercase();
        if let Some(slug) = name.strip_prefix("attest-") {
            index.insert(slug.to_string(), i);
        }
        index.insert(c.definition.id.to_ascii_lowercase(), i);
        index.insert(name, i);
    }
    index
});

/// A control by its slug (`network-public-access`), name or definition id.
pub fn control(key: &str) -> Option<&'static Control> {
    INDEX.get(&key.to_ascii_lowercase()).map(|&i| &controls()[i])
}

/// A catalog of every control, for evaluating them.
pub fn catalog() -> Catalog {
    let mut catalog = Catalog::default();
    for c in controls() {
        catalog.insert(PolicyDocument::Definition(c.definition.clone()));
    }
    catalog
}

/// The assignments that apply the catalogue out of the box: every control
/// at the tenant root with its default parameters.
pub fn default_assignments() -> Vec<Assignment> {
    controls()
        .iter()
        .map(|c| Assignment {
            id: format!("/providers/Microsoft.Authorization/policyAssignments/{}", c.definition.name),
            display_name: c.definition.display_name.clone(),
            scope: "/".into(),
            not_scopes: vec![],
            definition_id: c.definition.id.clone(),
            parameters: Map::new(),
            enforcement_mode: "Default".into(),
        })
        .collect()
}

/// Parses an Azure definition file for import, refusing initiatives.
pub fn import_definition(doc: &Value) -> Result<Control> {
    match PolicyDocument::parse(doc)? {
        PolicyDocument::Definition(d) => Ok(Control::from_definition(d)),
        PolicyDocument::Initiative(i) => Err(PolicyError(format!("{} is an initiative, not a definition", i.id))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_parses_and_carries_its_metadata() {
        assert_eq!(controls().len(), FILES.len());
        for c in controls() {
            assert!(!c.rationale.is_empty() && !c.area.is_empty(), "{}", c.definition.name);
            assert!(c.remediation_az.is_some() && c.remediation_arm.is_some(), "{}", c.definition.name);
            assert!(!c.frameworks.is_empty(), "{}", c.definition.name);
            assert!(c.definition.parameters.contains_key("effect"), "{}", c.definition.name);
        }
    }

    #[test]
    fn every_seed_area_has_controls() {
        for area in [
            "Network isolation",
            "Identity",
            "Least privilege",
            "Content safety",
            "Monitoring",
            "Data residency",
            "Cost",
        ] {
            assert!(controls().iter().any(|c| c.area == area), "{area}");
        }
    }

    #[test]
    fn controls_are_found_by_slug_and_by_id() {
        assert!(control("network-public-access").is_some());
        assert!(control("/providers/Microsoft.Authorization/policyDefinitions/attest-cost-budget").is_some());
        assert!(control("nothing").is_none());
        assert_eq!(default_assignments().len(), controls().len());
    }
}

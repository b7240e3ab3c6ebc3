//! Test vectors as data: one file per rule under `tests/cases/`, one
//! generated test per file. A case brings role definitions (Microsoft's
//! published ones from the shared fixtures, or its own), role and deny
//! assignments, and what Azure would decide: per check, whether the
//! operation is allowed and through which assignments; per account, the
//! levels each principal holds.

use attest_rbac::documents::{documents, DenyAssignment, RoleAssignment, RoleDefinition, ScheduleInstance};
use attest_rbac::{can, AccountFacts, Checker, Hierarchy, Index, Operation, PrincipalFacts, Revocation};
use common::fixtures;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::path::Path;

mod common;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    note: String,
    #[serde(default)]
    role_definitions: Vec<Doc>,
    #[serde(default)]
    role_assignments: Vec<Doc>,
    #[serde(default)]
    deny_assignments: Vec<Doc>,
    /// Subscription or management group → its parent management group.
    #[serde(default)]
    hierarchy: BTreeMap<String, String>,
    #[serde(default)]
    checks: Vec<Check>,
    #[serde(default)]
    access: Vec<Access>,
    #[serde(default)]
    flags: Option<Flags>,
}

/// The role-review flags on each assignment.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Flags {
    accounts: Vec<AccountIn>,
    #[serde(default)]
    principals: BTreeMap<String, PrincipalIn>,
    #[serde(default)]
    pim_collected: bool,
    #[serde(default)]
    active_instances: Vec<Doc>,
    /// Certified review decisions that assignments go.
    #[serde(default)]
    revocations: Vec<RevocationIn>,
    /// Assignment id → check name → flagged; every check that applies, and
    /// only those (an assignment not named yields none).
    want: BTreeMap<String, BTreeMap<String, bool>>,
    /// Assignment id → text its reasons must contain.
    #[serde(default)]
    reasons: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevocationIn {
    assignment: String,
    campaign: String,
    certified_at: String,
    decision: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountIn {
    id: String,
    local_auth_enabled: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalIn {
    exists: bool,
    #[serde(default)]
    guest: bool,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Check {
    note: String,
    principal: String,
    #[serde(default)]
    groups: Vec<String>,
    scope: String,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    data_action: Option<String>,
    allowed: bool,
    #[serde(default)]
    granted_by: Option<Vec<String>>,
    #[serde(default)]
    denied_by: Option<Vec<String>>,
    #[serde(default)]
    conditional: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Access {
    account: String,
    /// Principal → its levels, strongest first; a conditional level is
    /// written `level (conditional)`. Principals not named must not appear.
    principals: BTreeMap<String, Vec<String>>,
}

/// A document inline, or taken from the shared fixtures (the whole file, or
/// what a JSON pointer names in it), with a JSON merge patch applied.
#[derive(Deserialize)]
#[serde(untagged)]
enum Doc {
    Fixture {
        fixture: String,
        #[serde(default)]
        pointer: Option<String>,
        #[serde(default)]
        patch: Value,
    },
    Inline(Value),
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn load(docs: &[Doc]) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for d in docs {
        match d {
            Doc::Inline(v) => out.push(v.clone()),
            Doc::Fixture { fixture, pointer, patch } => {
                let path = fixtures().join(fixture);
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                let whole: Value = serde_json::from_str(&text).map_err(|e| format!("{fixture}: {e}"))?;
                let picked = match pointer {
                    Some(p) => whole.pointer(p).cloned().ok_or_else(|| format!("{fixture}: nothing at {p}"))?,
                    None => whole,
                };
                // A pointer at a list, or a whole example file, brings each document in it.
                for (_, doc) in documents(&picked) {
                    let mut doc = doc.clone();
                    if !patch.is_null() {
                        merge(&mut doc, patch);
                    }
                    out.push(doc);
                }
            }
        }
    }
    Ok(out)
}

fn parsed<T>(docs: &[Doc], parse: fn(&Value, &str) -> Result<T, attest_rbac::ParseError>) -> Result<Vec<T>, String> {
    load(docs)?.iter().enumerate().map(|(i, d)| parse(d, &format!("[{i}]")).map_err(|e| e.to_string())).collect()
}

fn check(path: &Path) -> datatest_stable::Result<()> {
    let file: File = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let definitions = parsed(&file.role_definitions, RoleDefinition::parse)?;
    let assignments = parsed(&file.role_assignments, RoleAssignment::parse)?;
    let denies = parsed(&file.deny_assignments, DenyAssignment::parse)?;
    let hierarchy = Hierarchy::new(file.hierarchy.clone());
    let mut failures = Vec::new();
    for c in &file.checks {
        let op = match (&c.action, &c.data_action) {
            (Some(a), None) => Operation::Action(a.clone()),
            (None, Some(a)) => Operation::DataAction(a.clone()),
            _ => return Err(format!("{}: name exactly one of action and data_action", c.note).into()),
        };
        let v = can(&definitions, &assignments, &denies, &hierarchy, &c.principal, &c.groups, &c.scope, &op);
        let mut wrong = Vec::new();
        if v.allowed != c.allowed {
            wrong.push(format!("allowed {} (want {})", v.allowed, c.allowed));
        }
        for (name, got, want) in [
            ("granted_by", &v.granted_by, &c.granted_by),
            ("denied_by", &v.denied_by, &c.denied_by),
            ("conditional", &v.conditional, &c.conditional),
        ] {
            if let Some(want) = want {
                if got != want {
                    wrong.push(format!("{name} {got:?} (want {want:?})"));
                }
            }
        }
        if !wrong.is_empty() {
            failures.push(format!("{}: {}", c.note, wrong.join("; ")));
        }
    }
    let index = Index::new(&definitions, &assignments);
    for a in &file.access {
        let got: BTreeMap<String, Vec<String>> = index
            .account(&hierarchy, &denies, &a.account)
            .into_iter()
            .map(|p| {
                let levels = p
                    .levels
                    .iter()
                    .map(|l| {
                        if l.conditional {
                            format!("{} (conditional)", l.level.as_str())
                        } else {
                            l.level.as_str().to_string()
                        }
                    })
                    .collect();
                (p.principal_id.to_string(), levels)
            })
            .collect();
        let want: BTreeMap<String, Vec<String>> =
            a.principals.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect();
        if got != want {
            failures.push(format!("access to {}: got {got:?}, want {want:?}", a.account));
        }
    }
    if let Some(f) = &file.flags {
        let accounts: Vec<AccountFacts> = f
            .accounts
            .iter()
            .map(|a| AccountFacts { id: a.id.clone(), local_auth_enabled: a.local_auth_enabled })
            .collect();
        let principals: HashMap<String, PrincipalFacts> = f
            .principals
            .iter()
            .map(|(id, p)| {
                (
                    id.to_ascii_lowercase(),
                    PrincipalFacts { exists: p.exists, guest: p.guest, kind: p.kind.clone(), enabled: p.enabled },
                )
            })
            .collect();
        let active = parsed(&f.active_instances, ScheduleInstance::parse)?;
        let revocations: Vec<Revocation> = f
            .revocations
            .iter()
            .map(|r| Revocation {
                assignment_id: r.assignment.clone(),
                campaign: r.campaign.clone(),
                certified_at: r.certified_at.clone(),
                decision: r.decision.clone(),
            })
            .collect();
        let checker = Checker::new(&definitions, &denies, &hierarchy, &accounts, &principals, f.pim_collected, &active)
            .with_revocations(&revocations);
        for a in &assignments {
            let flags = checker.check(a);
            let got: BTreeMap<String, bool> = flags.iter().map(|f| (f.check.name().to_string(), f.flagged)).collect();
            let want = f.want.get(&a.id).cloned().unwrap_or_default();
            if got != want {
                failures.push(format!("flags of {}: got {got:?}, want {want:?}", a.id));
            }
            if let Some(text) = f.reasons.get(&a.id) {
                let all: Vec<&String> = flags.iter().flat_map(|f| &f.reasons).collect();
                if !all.iter().any(|r| r.contains(text.as_str())) {
                    failures.push(format!("reasons of {}: {all:?} do not mention {text:?}", a.id));
                }
            }
        }
        for id in f.want.keys() {
            if !assignments.iter().any(|a| &a.id == id) {
                failures.push(format!("flags: no assignment {id} in the file"));
            }
        }
    }
    if file.checks.is_empty() && file.access.is_empty() && file.flags.is_none() {
        failures.push(format!("{}: the file has no checks", file.note));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n").into())
    }
}

datatest_stable::harness! {
    { test = check, root = "tests/cases", pattern = r"\.json$" },
}

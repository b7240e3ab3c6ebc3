//! Effective access for a large estate: 5,000 accounts and 500,000 role
//! assignments (Microsoft's built-in roles, assigned at account, resource
//! group, subscription and management group scope, a few with conditions,
//! a few deny assignments), every account's principals and levels computed.
//! Prints the figures BENCHMARKS.md records; the target is 10 s.
//!
//! `cargo bench -p attest-rbac --bench access`

use attest_rbac::documents::{DenyAssignment, RoleAssignment, RoleDefinition};
use attest_rbac::{AccountFacts, Checker, Hierarchy, Index};
use serde_json::{json, Value};
use std::time::Instant;

#[path = "../tests/common/mod.rs"]
mod common;

const ACCOUNTS: usize = 5_000;
const ASSIGNMENTS: usize = 500_000;
const SUBSCRIPTIONS: usize = 50;

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn main() {
    let mut definitions = Vec::new();
    for entry in std::fs::read_dir(common::fixtures().join("roles")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        definitions.push(RoleDefinition::parse(&serde_json::from_str::<Value>(&text).unwrap(), "").unwrap());
    }
    let accounts: Vec<String> = (0..ACCOUNTS)
        .map(|i| {
            format!(
                "/subscriptions/{:08x}-0000-4000-8000-000000000000/resourceGroups/rg-{}/providers/Microsoft.CognitiveServices/accounts/oai-{i}",
                i % SUBSCRIPTIONS,
                i % 500
            )
        })
        .collect();
    let hierarchy = Hierarchy::new((0..SUBSCRIPTIONS).map(|s| {
        (
            format!("/subscriptions/{s:08x}-0000-4000-8000-000000000000"),
            format!("/providers/Microsoft.Management/managementGroups/mg-{}", s % 5),
        )
    }));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let started = Instant::now();
    let mut assignments = Vec::with_capacity(ASSIGNMENTS);
    for i in 0..ASSIGNMENTS {
        let account = &accounts[rng.below(ACCOUNTS)];
        // 90% at the account, 7% at its resource group, 2.9% at its
        // subscription, 0.1% at a management group.
        let scope = match rng.below(1000) {
            0..900 => account.clone(),
            900..970 => account.split("/providers/").next().unwrap().to_string(),
            970..999 => account.splitn(4, '/').take(3).collect::<Vec<_>>().join("/"),
            _ => format!("/providers/Microsoft.Management/managementGroups/mg-{}", rng.below(5)),
        };
        let role = &definitions[rng.below(definitions.len())];
        let kind = ["User", "Group", "ServicePrincipal"][rng.below(3)];
        let mut doc = json!({
            "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{i:08x}"),
            "properties": {
                "roleDefinitionId": role.id, "principalId": format!("{:08x}-0000-4000-8000-000000000001", rng.below(40_000)),
                "principalType": kind, "scope": scope,
            }
        });
        if i % 100 == 0 {
            doc["properties"]["condition"] = "((!(ActionMatches{'Microsoft.CognitiveServices/accounts/listKeys/action'})) OR (@Resource[x] StringEquals 'y'))".into();
        }
        assignments.push(RoleAssignment::parse(&doc, "").unwrap());
    }
    let denies: Vec<DenyAssignment> = (0..20)
        .map(|i| {
            let doc = json!({
                "id": format!("/subscriptions/{i:08x}-0000-4000-8000-000000000000/providers/Microsoft.Authorization/denyAssignments/d{i}"),
                "properties": {
                    "scope": format!("/subscriptions/{i:08x}-0000-4000-8000-000000000000"),
                    "permissions": [{"actions": ["*/listKeys/action"]}],
                    "principals": [{"id": "00000000-0000-0000-0000-000000000000", "type": "Everyone"}],
                    "excludePrincipals": [{"id": format!("{i:08x}-0000-4000-8000-000000000001")}],
                }
            });
            DenyAssignment::parse(&doc, "").unwrap()
        })
        .collect();
    let parsed = started.elapsed();

    let started = Instant::now();
    let index = Index::new(&definitions, &assignments);
    let indexed = started.elapsed();
    let started = Instant::now();
    let (mut principals, mut levels) = (0usize, 0usize);
    for account in &accounts {
        for p in index.account(&hierarchy, &denies, account) {
            principals += 1;
            levels += p.levels.len();
        }
    }
    let computed = started.elapsed();
    println!("rbac access: {ACCOUNTS} accounts, {ASSIGNMENTS} role assignments, {} deny assignments", denies.len());
    println!("  documents parsed                 {:>8.2} s", parsed.as_secs_f64());
    println!("  index built                      {:>8.2} s", indexed.as_secs_f64());
    println!(
        "  effective access computed        {:>8.2} s  (target 10 s; {principals} principal-account pairs, {levels} levels)",
        computed.as_secs_f64()
    );
    println!("  index + access                   {:>8.2} s", (indexed + computed).as_secs_f64());

    // The role-review flags of every assignment (half the accounts with key
    // access enabled; no directory or PIM data, as the benchmark's estate).
    let facts: Vec<AccountFacts> = accounts
        .iter()
        .enumerate()
        .map(|(i, id)| AccountFacts { id: id.clone(), local_auth_enabled: i % 2 == 0 })
        .collect();
    let principals = std::collections::HashMap::new();
    let started = Instant::now();
    let checker = Checker::new(&definitions, &denies, &hierarchy, &facts, &principals, false, &[]);
    let (mut verdicts, mut flagged) = (0usize, 0usize);
    for a in &assignments {
        for f in checker.check(a) {
            verdicts += 1;
            flagged += usize::from(f.flagged);
        }
    }
    println!(
        "  flags of every assignment        {:>8.2} s  ({verdicts} verdicts, {flagged} flagged)",
        started.elapsed().as_secs_f64()
    );
}

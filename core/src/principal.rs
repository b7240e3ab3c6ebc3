//! Who is acting: a user with the roles they hold, as loaded for one request.

use crate::{names::Scope, Role};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One role grant; `scope` is empty for unscoped roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub role: Role,
    pub scope: String,
}

/// The acting user and their grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub user_id: Uuid,
    pub name: String,
    pub grants: Vec<Grant>,
}

impl Principal {
    /// Whether the user holds `role` anywhere (for the approver role: at any scope).
    pub fn has(&self, role: Role) -> bool {
        self.grants.iter().any(|g| g.role == role)
    }

    pub fn is_admin(&self) -> bool {
        self.has(Role::Admin)
    }

    /// Whether any of `roles` is held. Admins read everything the portal shows,
    /// but approving stays with approvers (separation of duties).
    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    /// May this user approve for `target`? True when an approver grant's scope
    /// covers the target or any of its ancestors (management groups and the
    /// tenant, which the caller knows from the estate's hierarchy).
    pub fn may_approve(&self, target: &Scope, ancestors: &[Scope]) -> bool {
        self.grants
            .iter()
            .filter(|g| g.role == Role::Approver)
            .filter_map(|g| Scope::parse(&g.scope).ok())
            .any(|granted| granted.covers(target) || ancestors.iter().any(|a| granted.covers(a)))
    }

    pub fn roles(&self) -> Vec<Role> {
        let mut roles: Vec<Role> = self.grants.iter().map(|g| g.role).collect();
        roles.sort();
        roles.dedup();
        roles
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(grants: &[(Role, &str)]) -> Principal {
        Principal {
            user_id: Uuid::nil(),
            name: "p".into(),
            grants: grants.iter().map(|(role, scope)| Grant { role: *role, scope: scope.to_string() }).collect(),
        }
    }

    #[test]
    fn approval_follows_the_scope_hierarchy() {
        let p = principal(&[(Role::Approver, "/subscriptions/s1")]);
        let rg = Scope::parse("/subscriptions/s1/resourceGroups/rg").unwrap();
        let other = Scope::parse("/subscriptions/s2").unwrap();
        assert!(p.may_approve(&rg, &[]));
        assert!(!p.may_approve(&other, &[]));
    }

    #[test]
    fn a_management_group_grant_covers_subscriptions_listed_beneath_it() {
        let p = principal(&[(Role::Approver, "/providers/microsoft.management/managementgroups/mg")]);
        let sub = Scope::parse("/subscriptions/s2").unwrap();
        let mg = Scope::parse("/providers/Microsoft.Management/managementGroups/mg").unwrap();
        assert!(!p.may_approve(&sub, &[]));
        assert!(p.may_approve(&sub, &[mg]));
    }

    #[test]
    fn admins_are_not_approvers() {
        let p = principal(&[(Role::Admin, "")]);
        assert!(!p.may_approve(&Scope::parse("/subscriptions/s1").unwrap(), &[]));
        assert!(p.is_admin());
    }
}

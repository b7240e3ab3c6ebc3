//! Scopes and what lies below them: ARM ids compared case-insensitively at
//! segment boundaries, and management groups above subscriptions.

use std::collections::HashMap;

/// A scope in the one form the engine compares: lower case, a leading `/`,
/// no trailing `/`; the root scope is `/`.
pub fn normalize(scope: &str) -> String {
    let trimmed = scope.trim().trim_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        format!("/{}", trimmed.to_ascii_lowercase())
    }
}

const MANAGEMENT_GROUPS: &str = "/providers/microsoft.management/managementgroups/";

/// A management group scope (normalized)?
pub fn is_management_group(scope: &str) -> bool {
    scope.starts_with(MANAGEMENT_GROUPS)
}

/// The subscription scope a (normalized) scope lies in, if any.
pub fn subscription_of(scope: &str) -> Option<&str> {
    let rest = scope.strip_prefix("/subscriptions/")?;
    let end = rest.find('/').map_or(scope.len(), |i| "/subscriptions/".len() + i);
    Some(&scope[..end])
}

/// Where subscriptions and management groups sit: each one's parent
/// management group, as collected. A subscription whose place is not known
/// is taken to lie below every management group, so that access granted
/// there is shown rather than missed.
#[derive(Debug, Clone, Default)]
pub struct Hierarchy {
    /// Normalized subscription or management group scope → its parent's.
    pub parents: HashMap<String, String>,
}

impl Hierarchy {
    pub fn new(parents: impl IntoIterator<Item = (String, String)>) -> Hierarchy {
        Hierarchy {
            parents: parents.into_iter().map(|(child, parent)| (normalize(&child), normalize(&parent))).collect(),
        }
    }

    /// Whether an assignment at `above` reaches `target` (both normalized):
    /// the same scope, the root, an ARM ancestor at a segment boundary, or a
    /// management group the target's subscription lies below.
    pub fn covers(&self, above: &str, target: &str) -> bool {
        if above == "/" || above == target {
            return true;
        }
        if is_management_group(above) {
            return self.management_groups_above(target).is_none_or(|chain| chain.iter().any(|mg| mg == above));
        }
        target.len() > above.len() && target.starts_with(above) && target.as_bytes()[above.len()] == b'/'
    }

    /// The management groups above `target`, nearest first; `None` when its
    /// place is not known.
    pub fn management_groups_above(&self, target: &str) -> Option<Vec<String>> {
        let mut at =
            if is_management_group(target) { target.to_string() } else { subscription_of(target)?.to_string() };
        let mut chain = Vec::new();
        if !self.parents.contains_key(&at) {
            return None;
        }
        while let Some(parent) = self.parents.get(&at) {
            if chain.contains(parent) || parent == "/" {
                break;
            }
            chain.push(parent.clone());
            at = parent.clone();
        }
        Some(chain)
    }

    /// Every scope whose assignments could reach `target`, nearest first:
    /// `target` itself, its ARM ancestors, the management groups above its
    /// subscription and the root. With the place of its subscription
    /// unknown, management groups are not listed: `covers` decides those.
    pub fn ancestors(&self, target: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut end = target.len();
        while end > 0 {
            out.push(target[..end].to_string());
            end = target[..end].rfind('/').unwrap_or(0);
        }
        out.extend(self.management_groups_above(target).unwrap_or_default());
        if target != "/" {
            out.push("/".into());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_boundaries_decide_and_case_does_not() {
        let h = Hierarchy::default();
        let rg = normalize("/subscriptions/S/resourceGroups/RG");
        assert!(h.covers(&rg, &normalize("/subscriptions/s/resourcegroups/rg/providers/x/y/z")));
        assert!(!h.covers(&rg, &normalize("/subscriptions/s/resourcegroups/rg2")));
        assert!(h.covers("/", &rg));
    }

    #[test]
    fn management_groups_reach_what_lies_below_them() {
        let h = Hierarchy::new([
            ("/subscriptions/s".to_string(), "/providers/Microsoft.Management/managementGroups/child".to_string()),
            (
                "/providers/Microsoft.Management/managementGroups/child".to_string(),
                "/providers/Microsoft.Management/managementGroups/top".to_string(),
            ),
        ]);
        let account = normalize("/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a");
        assert!(h.covers("/providers/microsoft.management/managementgroups/top", &account));
        assert!(!h.covers("/providers/microsoft.management/managementgroups/other", &account));
        // Unknown place: assumed below every group.
        assert!(h.covers("/providers/microsoft.management/managementgroups/other", "/subscriptions/t"));
        assert_eq!(
            h.ancestors("/subscriptions/s/resourcegroups/rg")[..2],
            ["/subscriptions/s/resourcegroups/rg", "/subscriptions/s/resourcegroups"]
        );
    }
}

//! Parsing of user names, role scopes and other identifiers at the edge.

use crate::{CoreError, CoreResult};

/// A user name: 1–64 characters of `a-z 0-9 . _ @ -`, starting with a letter or
/// digit, compared case-insensitively (stored lower-case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub fn parse(raw: &str) -> CoreResult<Self> {
        let name = raw.trim().to_ascii_lowercase();
        if name.is_empty() {
            return Err(CoreError::invalid("name", "a user name is required"));
        }
        if name.len() > 64 {
            return Err(CoreError::invalid("name", "at most 64 characters"));
        }
        let mut chars = name.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._@-".contains(c));
        if !first_ok || !rest_ok {
            return Err(CoreError::invalid(
                "name",
                "use letters, digits and . _ @ - only, starting with a letter or digit",
            ));
        }
        Ok(UserName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UserName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An approver scope: an Azure scope id such as `/subscriptions/{id}`,
/// `/subscriptions/{id}/resourceGroups/{name}`,
/// `/providers/Microsoft.Management/managementGroups/{id}` or `/tenants/{id}`.
/// Normalised to lower case without a trailing slash, as ARM ids compare
/// case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(String);

impl Scope {
    pub fn parse(raw: &str) -> CoreResult<Self> {
        // The tenant root, as Azure writes it.
        if raw.trim() == "/" {
            return Ok(Scope("/".into()));
        }
        let scope = raw.trim().trim_end_matches('/').to_ascii_lowercase();
        if scope.len() > 512 {
            return Err(CoreError::invalid("scope", "at most 512 characters"));
        }
        let segments: Vec<&str> = scope.split('/').skip(1).collect();
        let valid_shape = scope.starts_with('/')
            && !segments.is_empty()
            && segments.iter().all(|s| !s.is_empty())
            && matches!(segments.first().copied(), Some("subscriptions") | Some("providers") | Some("tenants"))
            && segments.len().is_multiple_of(2);
        if !valid_shape || scope.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(CoreError::invalid(
                "scope",
                "expected an Azure scope id such as /subscriptions/{id}, \
                 /subscriptions/{id}/resourceGroups/{name}, \
                 /providers/Microsoft.Management/managementGroups/{id} or /tenants/{id}",
            ));
        }
        Ok(Scope(scope))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a scope ARM itself can hold: `/` (the tenant root), a
    /// management group, a subscription (by its GUID), a resource group, or
    /// a resource below one. What an approver is granted over.
    pub fn check_arm(&self) -> CoreResult<()> {
        fn guid(s: &str) -> bool {
            let parts: Vec<&str> = s.split('-').collect();
            parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
                && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
        }
        fn name(s: &str) -> bool {
            s.len() <= 90 && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.()".contains(c))
        }
        let segments: Vec<&str> = self.0.split('/').skip(1).collect();
        let ok = match segments.as_slice() {
            [""] => true,
            ["providers", "microsoft.management", "managementgroups", mg] => name(mg),
            ["subscriptions", sub] => guid(sub),
            ["subscriptions", sub, "resourcegroups", rg] => guid(sub) && name(rg),
            // A resource: …/providers/{namespace}/{type}/{name}[/{type}/{name}…].
            ["subscriptions", sub, "resourcegroups", rg, "providers", namespace, rest @ ..] => {
                guid(sub) && name(rg) && namespace.contains('.') && !rest.is_empty() && rest.len() % 2 == 0
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(CoreError::invalid(
                "scope",
                "not an Azure scope: use /, /providers/Microsoft.Management/managementGroups/{name}, \
                 /subscriptions/{subscription GUID}, …/resourceGroups/{name} or a resource id below one",
            ))
        }
    }

    /// Whether a grant at `self` covers `target`: the same scope, or a scope
    /// nested below it in the ARM id hierarchy. Management groups and tenants
    /// are not part of a subscription's id, so callers that know an estate's
    /// hierarchy pass each ancestor of the target in turn.
    pub fn covers(&self, target: &Scope) -> bool {
        self.0 == "/"
            || target.0 == self.0
            || (target.0.starts_with(&self.0) && target.0.as_bytes().get(self.0.len()) == Some(&b'/'))
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_lower_cased_and_checked() {
        assert_eq!(UserName::parse(" Alice ").unwrap().as_str(), "alice");
        assert!(UserName::parse("bob.smith@example.com").is_ok());
        assert!(UserName::parse("").is_err());
        assert!(UserName::parse("-dash").is_err());
        assert!(UserName::parse("has space").is_err());
        assert!(UserName::parse(&"a".repeat(65)).is_err());
        assert!(UserName::parse("名前").is_err());
    }

    #[test]
    fn scopes_normalise_and_reject_garbage() {
        let s = Scope::parse("/subscriptions/ABC/resourceGroups/RG1/").unwrap();
        assert_eq!(s.as_str(), "/subscriptions/abc/resourcegroups/rg1");
        assert!(Scope::parse("/providers/Microsoft.Management/managementGroups/mg1").is_ok());
        assert!(Scope::parse("/tenants/t1").is_ok());
        assert!(Scope::parse("subscriptions/abc").is_err());
        assert!(Scope::parse("/subscriptions").is_err());
        assert!(Scope::parse("/subscriptions//x").is_err());
        assert!(Scope::parse("/foo/bar").is_err());
    }

    #[test]
    fn a_scope_covers_itself_and_what_lies_below_it_only() {
        let sub = Scope::parse("/subscriptions/abc").unwrap();
        let rg = Scope::parse("/subscriptions/abc/resourceGroups/rg").unwrap();
        let other = Scope::parse("/subscriptions/abcd").unwrap();
        assert!(sub.covers(&sub));
        assert!(sub.covers(&rg));
        assert!(!rg.covers(&sub));
        assert!(!sub.covers(&other), "a prefix that is not a path segment must not match");
    }
}

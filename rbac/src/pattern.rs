//! Action patterns as Azure matches them: case-insensitive, `*` standing for
//! any run of characters (slashes included).

/// Whether `pattern` matches `action`.
pub fn matches(pattern: &str, action: &str) -> bool {
    let (p, a) = (pattern.as_bytes(), action.as_bytes());
    // Greedy glob with one backtrack point: linear for the patterns roles use.
    let (mut pi, mut ai) = (0, 0);
    let (mut star, mut resume) = (None, 0);
    while ai < a.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            pi += 1;
            resume = ai;
        } else if pi < p.len() && p[pi].eq_ignore_ascii_case(&a[ai]) {
            pi += 1;
            ai += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            resume += 1;
            ai = resume;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Whether any of `patterns` matches `action`.
pub fn any(patterns: &[String], action: &str) -> bool {
    patterns.iter().any(|p| matches(p, action))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn wildcards_span_segments_and_case_is_ignored() {
        assert!(matches("*", "Microsoft.CognitiveServices/accounts/listKeys/action"));
        assert!(matches("Microsoft.CognitiveServices/*", "microsoft.cognitiveservices/accounts/listkeys/action"));
        assert!(matches("*/read", "Microsoft.CognitiveServices/accounts/read"));
        assert!(matches("Microsoft.Authorization/*/read", "Microsoft.Authorization/roleAssignments/read"));
        assert!(!matches("Microsoft.Authorization/*/read", "Microsoft.Authorization/roleAssignments/write"));
        assert!(!matches("Microsoft.CognitiveServices/accounts/read", "Microsoft.CognitiveServices/accounts/readx"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxbyy"));
    }
}

//! Comparison as Azure Policy compares: strings without regard to case,
//! `like` with `*`, `match` with `#` and `?`, dates and numbers in order.

use crate::error::{PolicyError, Result};
use crate::fail;
use caseless::Caseless;
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;
use unicode_normalization::UnicodeNormalization;

/// A string as .NET's `InvariantCultureIgnoreCase` sees it: case folded in
/// full (`ß` is `ss`) with compatibility forms decomposed (the ligature `ﬁ`
/// is `fi`), which is Unicode's compatibility caseless match. ASCII, nearly
/// every string Azure holds, takes the quick path.
pub fn fold(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        return if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        };
    }
    Cow::Owned(s.chars().nfd().default_case_fold().nfkd().default_case_fold().nfkd().collect())
}

/// Whether two strings are equal without regard to case, as .NET compares.
pub fn eq_text(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    fold(a) == fold(b)
}

/// Equality with `InvariantCultureIgnoreCase` for strings. A boolean or a
/// number equals its string form (`true` equals `"true"`), which is how
/// parameters of type Array holding `"true"` match boolean properties.
pub fn equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => eq_text(x, y),
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Bool(x), Value::String(s)) | (Value::String(s), Value::Bool(x)) => {
            s.eq_ignore_ascii_case(&x.to_string())
        }
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            s.trim().parse::<f64>().ok() == n.as_f64()
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equals(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| crate::template::get_ci(y, k).is_some_and(|w| equals(v, w)))
        }
        _ => a == b,
    }
}

/// Ordering for `less`, `greater` and their `OrEquals` forms: numbers by
/// value, strings that are both date-times by time, other strings
/// ordinally without case. Anything else is a type mismatch, an error.
pub fn order(a: &Value, b: &Value) -> Result<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().partial_cmp(&y.as_f64()).ok_or_else(|| PolicyError("numbers that cannot be ordered".into()))
        }
        (Value::String(x), Value::String(y)) => {
            if let (Ok(p), Ok(q)) = (crate::template::parse_time(x), crate::template::parse_time(y)) {
                return Ok(p.cmp(&q));
            }
            Ok(fold(x).cmp(&fold(y)))
        }
        (Value::Number(n), Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(f) => Ok(n.as_f64().unwrap_or(f64::NAN).partial_cmp(&f).unwrap_or(Ordering::Equal)),
            Err(_) => fail!("cannot compare the number {n} with the string '{s}'"),
        },
        (Value::String(_), Value::Number(_)) => order(b, a).map(Ordering::reverse),
        _ => fail!("cannot order {a} and {b}"),
    }
}

/// `like`: `*` matches any run of characters, without regard to case.
pub fn like(value: &str, pattern: &str) -> bool {
    let (v, p) = (fold(value), fold(pattern));
    let (v, p) = (v.as_ref(), p.as_ref());
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return v == p;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !v.starts_with(first) || !v[first.len()..].ends_with(last) {
        return false;
    }
    if v.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &v[first.len()..v.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// `match`: `#` a digit, `?` a letter, `.` any character, anything else
/// itself; the whole value must match. Case matters unless `insensitive`.
pub fn matches(value: &str, pattern: &str, insensitive: bool) -> bool {
    let v: Vec<char> = value.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    v.len() == p.len()
        && v.iter().zip(&p).all(|(c, q)| match q {
            '#' => c.is_ascii_digit(),
            '?' => c.is_alphabetic(),
            '.' => true,
            q if insensitive => c.to_lowercase().eq(q.to_lowercase()),
            q => c == q,
        })
}

/// Normalises an Azure location as Policy does: `East US 2` is `eastus2`.
pub fn normalize_location(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase()
}

/// `ipRangeContains(range, target)`: an address or a range inside a CIDR
/// range (or a single address). Mixing IPv4 and IPv6 is an error, as in Azure.
pub fn ip_range_contains(range: &str, target: &str) -> Result<bool> {
    let net = parse_net(range)?;
    let t = parse_net(target)?;
    if net.addr().is_ipv4() != t.addr().is_ipv4() {
        fail!("ipRangeContains() cannot mix IPv4 and IPv6 ('{range}', '{target}')");
    }
    Ok(net.contains(&t))
}

fn parse_net(s: &str) -> Result<ipnet::IpNet> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| PolicyError(format!("'{s}' is not an IP address or CIDR range")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_compare_without_case_and_booleans_as_their_text() {
        assert!(equals(&json!("Disabled"), &json!("disabled")));
        assert!(equals(&json!(true), &json!("True")));
        assert!(!equals(&json!(false), &json!("true")));
        assert!(equals(&json!(3), &json!("3")));
        assert!(equals(&json!({"A": ["x"]}), &json!({"a": ["X"]})));
        assert!(!equals(&json!(null), &json!("")));
    }

    #[test]
    fn strings_fold_as_dotnet_invariant_culture_does() {
        assert!(equals(&json!("Straße"), &json!("STRASSE")));
        assert!(equals(&json!("ﬁle"), &json!("FILE")));
        assert!(equals(&json!("Ǆ"), &json!("ǆ")));
        assert!(!equals(&json!("café"), &json!("cafe")), "accents are not case");
        assert!(equals(&json!("cafe\u{301}"), &json!("CAFÉ")), "composed and decomposed forms are one");
        assert!(like("Großhandel-01", "GROSS*"));
        assert_eq!(order(&json!("straße"), &json!("STRASSE")).unwrap(), Ordering::Equal);
    }

    #[test]
    fn like_takes_wildcards_anywhere() {
        assert!(like("GlobalStandard", "global*"));
        assert!(like("DataZoneStandard", "*zone*"));
        assert!(like("abc", "a*c"));
        assert!(like("ac", "a*c"));
        assert!(!like("ab", "a*c"));
        assert!(like("same", "SAME"));
        assert!(!like("aXc", "a*c*d"));
    }

    #[test]
    fn match_is_positional_and_case_sensitive() {
        assert!(matches("ab12", "??##", false));
        assert!(!matches("ab12x", "??##", false));
        assert!(matches("rg-1", "rg-#", false));
        assert!(!matches("RG-1", "rg-#", false));
        assert!(matches("RG-1", "rg-#", true));
        assert!(matches("a.c", "a.c", false) && matches("abc", "a.c", false));
    }

    #[test]
    fn ordering_reads_dates_and_numbers_and_refuses_mixtures() {
        assert_eq!(order(&json!(365), &json!(90)).unwrap(), Ordering::Greater);
        assert_eq!(order(&json!("2026-01-02T00:00:00Z"), &json!("2026-01-10")).unwrap(), Ordering::Less);
        assert_eq!(order(&json!("b"), &json!("A")).unwrap(), Ordering::Greater);
        assert!(order(&json!(1), &json!("one")).is_err());
        assert!(order(&json!(true), &json!(1)).is_err());
    }

    #[test]
    fn locations_normalise_like_azure() {
        assert_eq!(normalize_location("East US 2"), "eastus2");
    }
}

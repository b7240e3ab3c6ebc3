//! The ARM template functions that need more than a line: `format()`,
//! the encodings (base64, data URIs, URI components), `guid()` and
//! `uniqueString()` exactly as Resource Manager computes them, and the list
//! of functions Azure Policy leaves out.

use crate::error::{PolicyError, Result};
use crate::fail;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

/// Template functions that policy rules may not use (Microsoft's "Policy
/// functions" list: deployment-time and lambda functions); `list*` too.
pub const EXCLUDED: &[&str] = &[
    "copyindex",
    "datetimeadd",
    "datetimefromepoch",
    "datetimetoepoch",
    "deployment",
    "environment",
    "extensionresourceid",
    "lambda",
    "filter",
    "map",
    "reduce",
    "sort",
    "toobject",
    "groupby",
    "mapvalues",
    "managementgroup",
    "newguid",
    "pickzones",
    "providers",
    "reference",
    "resourceid",
    "subscriptionresourceid",
    "tenantresourceid",
    "tenant",
    "variables",
    "listkeys",
    "listsecrets",
    "listaccountsas",
    "listservicesas",
];

/// .NET composite formatting: `{0}`, `{1,-8}`, `{2:N2}`, `{{` and `}}`.
/// Number formats N, D, F and X are honoured; others print the value.
pub fn format(template: &str, args: &[Value]) -> Result<String> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut spec = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(x) => spec.push(x),
                        None => fail!("format(): '{{' without '}}' in '{template}'"),
                    }
                }
                let (head, fmt) = match spec.split_once(':') {
                    Some((h, f)) => (h, Some(f)),
                    None => (spec.as_str(), None),
                };
                let (index, align) = match head.split_once(',') {
                    Some((i, a)) => (i, Some(a)),
                    None => (head, None),
                };
                let i: usize =
                    index.trim().parse().map_err(|_| PolicyError(format!("format(): bad placeholder '{{{spec}}}'")))?;
                let arg = args
                    .get(i)
                    .ok_or_else(|| PolicyError(format!("format(): '{{{i}}}' but only {} argument(s)", args.len())))?;
                let text = format_one(arg, fmt)?;
                match align.map(|a| a.trim().parse::<i64>()) {
                    Some(Ok(w)) => {
                        let pad = (w.unsigned_abs() as usize).saturating_sub(text.chars().count());
                        if w < 0 {
                            out.push_str(&text);
                            out.extend(std::iter::repeat_n(' ', pad));
                        } else {
                            out.extend(std::iter::repeat_n(' ', pad));
                            out.push_str(&text);
                        }
                    }
                    Some(Err(_)) => fail!("format(): bad alignment in '{{{spec}}}'"),
                    None => out.push_str(&text),
                }
            }
            '}' => fail!("format(): '}}' without '{{' in '{template}'"),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn format_one(v: &Value, fmt: Option<&str>) -> Result<String> {
    let plain = match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        // .NET prints booleans capitalised.
        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        other => other.to_string(),
    };
    let (Some(fmt), Value::Number(n)) = (fmt, v) else { return Ok(plain) };
    let mut f = fmt.chars();
    let kind = f.next().map(|c| c.to_ascii_uppercase());
    let digits: Option<usize> = f.as_str().parse().ok();
    let x = n.as_f64().unwrap_or(0.0);
    Ok(match kind {
        Some('N') => group_thousands(&format!("{:.*}", digits.unwrap_or(2), x)),
        Some('F') => format!("{:.*}", digits.unwrap_or(2), x),
        Some('D') if n.is_i64() => {
            let i = n.as_i64().unwrap_or(0);
            let body = format!("{:0>width$}", i.unsigned_abs(), width = digits.unwrap_or(1));
            if i < 0 {
                format!("-{body}")
            } else {
                body
            }
        }
        Some('X') if n.is_i64() => {
            let hex = format!("{:0>width$x}", n.as_i64().unwrap_or(0), width = digits.unwrap_or(1));
            if fmt.starts_with('X') {
                hex.to_ascii_uppercase()
            } else {
                hex
            }
        }
        _ => plain,
    })
}

fn group_thousands(fixed: &str) -> String {
    let (sign, rest) = fixed.strip_prefix('-').map_or(("", fixed), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

pub fn base64_encode(s: &str) -> String {
    STANDARD.encode(s.as_bytes())
}

pub fn base64_decode(s: &str) -> Result<String> {
    let bytes = STANDARD.decode(s.trim()).map_err(|e| PolicyError(format!("'{s}' is not base64: {e}")))?;
    String::from_utf8(bytes).map_err(|_| PolicyError(format!("'{s}' does not decode to UTF-8 text")))
}

/// `dataUri('Hello')` is `data:text/plain;charset=utf8;base64,SGVsbG8=`.
pub fn data_uri(s: &str) -> String {
    format!("data:text/plain;charset=utf8;base64,{}", base64_encode(s))
}

pub fn data_uri_to_string(uri: &str) -> Result<String> {
    let rest = uri.strip_prefix("data:").ok_or_else(|| PolicyError(format!("'{uri}' is not a data URI")))?;
    let (meta, data) = rest.split_once(',').ok_or_else(|| PolicyError(format!("'{uri}' is not a data URI")))?;
    if meta.split(';').any(|p| p.eq_ignore_ascii_case("base64")) {
        base64_decode(data)
    } else {
        uri_component_to_string(data)
    }
}

/// `uri(base, relative)`: after a trailing slash the relative part is
/// appended; otherwise it replaces what follows the base's last slash
/// (unless that slash is the scheme's); a rooted relative part replaces
/// the whole path.
pub fn uri(base: &str, relative: &str) -> Result<String> {
    let scheme_end =
        base.find("://").ok_or_else(|| PolicyError(format!("uri(): '{base}' is not an absolute URI")))? + 3;
    let authority_end = base[scheme_end..].find('/').map(|i| scheme_end + i);
    if relative.contains("://") {
        return Ok(relative.to_string());
    }
    if let Some(rooted) = relative.strip_prefix('/') {
        let root = &base[..authority_end.unwrap_or(base.len())];
        return Ok(format!("{root}/{rooted}"));
    }
    Ok(match (authority_end, base.rfind('/')) {
        (Some(_), Some(last)) if last >= scheme_end => format!("{}{relative}", &base[..=last]),
        _ => format!("{base}/{relative}"),
    })
}

/// .NET's `Uri.EscapeDataString`: every byte outside `A-Z a-z 0-9 - . _ ~`
/// as `%XX`.
pub fn uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `Uri.UnescapeDataString`: `%XX` sequences decoded; a malformed one stays.
pub fn uri_component_to_string(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| PolicyError(format!("'{s}' does not decode to UTF-8 text")))
}

/// `guid(a, b, …)`: the name-based (version 5) UUID of the arguments joined
/// with `-`, under the namespace Resource Manager uses.
pub fn guid(parts: &[&str]) -> String {
    const NAMESPACE: uuid::Uuid = uuid::uuid!("11fb06fb-712d-4ddd-98c7-e71bbd588830");
    uuid::Uuid::new_v5(&NAMESPACE, parts.join("-").as_bytes()).to_string()
}

/// `uniqueString(a, b, …)`: Resource Manager's 64-bit MurmurHash of the
/// arguments joined with `-`, as 13 base-32 characters.
pub fn unique_string(parts: &[&str]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut h = murmur64(parts.join("-").as_bytes());
    let mut out = String::with_capacity(13);
    for _ in 0..13 {
        out.push(ALPHABET[(h >> 59) as usize] as char);
        h <<= 5;
    }
    out
}

/// The MurmurHash variant behind `uniqueString()`: two 32-bit lanes over
/// 8-byte blocks, seed 0, MurmurHash3's finaliser on each lane.
fn murmur64(data: &[u8]) -> u64 {
    const C1: u32 = 0x239b_961b;
    const C2: u32 = 0xab0e_9789;
    let le = |b: &[u8]| b.iter().rev().fold(0u32, |acc, &x| (acc << 8) | x as u32);
    let (mut h1, mut h2) = (0u32, 0u32);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let k1 = le(&block[..4]).wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h1 = (h1 ^ k1).rotate_left(19).wrapping_add(h2).wrapping_mul(5).wrapping_add(0x561c_cd1b);
        let k2 = le(&block[4..]).wrapping_mul(C2).rotate_left(17).wrapping_mul(C1);
        h2 = (h2 ^ k2).rotate_left(13).wrapping_add(h1).wrapping_mul(5).wrapping_add(0x0bca_a747);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        h1 ^= le(&tail[..tail.len().min(4)]).wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        if tail.len() > 4 {
            h2 ^= le(&tail[4..]).wrapping_mul(C2).rotate_left(17).wrapping_mul(C1);
        }
    }
    let len = data.len() as u32;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    ((h2 as u64) << 32) | h1 as u64
}

fn fmix(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unique_string_matches_resource_manager() {
        // Values Bicep's uniqueString() returns.
        assert_eq!(unique_string(&["test"]), "rbgf3xv4ufgzg");
        assert_eq!(unique_string(&["abc"]), "cgtzqvhu4i23s");
        assert_eq!(unique_string(&["hello", "world"]), "a7wkljktk6wne");
        assert_eq!(unique_string(&["foo", "bar", "baz"]), "xzi4ioaxtmth4");
        assert_eq!(
            unique_string(&["/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-rg"]),
            "bmg7c6xu4tw46"
        );
    }

    #[test]
    fn guid_is_a_version_5_uuid_under_resource_managers_namespace() {
        let g = guid(&["a", "b"]);
        assert_eq!(g, guid(&["a-b"]), "the arguments are joined with '-'");
        assert_eq!(&g[14..15], "5");
        assert_ne!(g, guid(&["a", "c"]));
    }

    #[test]
    fn format_follows_dotnet_composite_formatting() {
        let args = [json!("World"), json!(8175133), json!(true)];
        assert_eq!(format("{0}, {1:N0} {2}", &args).unwrap(), "World, 8,175,133 True");
        assert_eq!(format("{{{0,-6}}}|{1:D9}", &args).unwrap(), "{World }|008175133");
        assert_eq!(format("{1:X}", &args).unwrap(), "7CBE1D");
        assert!(format("{3}", &args).is_err());
        assert!(format("{0", &args).is_err());
    }

    #[test]
    fn encodings_round_trip() {
        assert_eq!(base64_encode("one, two, three"), "b25lLCB0d28sIHRocmVl");
        assert_eq!(base64_decode("b25lLCB0d28sIHRocmVl").unwrap(), "one, two, three");
        assert_eq!(data_uri("Hello"), "data:text/plain;charset=utf8;base64,SGVsbG8=");
        assert_eq!(data_uri_to_string("data:;base64,SGVsbG8sIFdvcmxkIQ==").unwrap(), "Hello, World!");
        assert_eq!(
            uri_component("http://contoso.com/resources/nested/azuredeploy.json"),
            "http%3A%2F%2Fcontoso.com%2Fresources%2Fnested%2Fazuredeploy.json"
        );
        assert_eq!(uri_component_to_string("a%20b%zz").unwrap(), "a b%zz");
        assert_eq!(uri("http://contoso.org/firstpath", "myscript.sh").unwrap(), "http://contoso.org/myscript.sh");
        assert_eq!(
            uri("http://contoso.org/firstpath/", "myscript.sh").unwrap(),
            "http://contoso.org/firstpath/myscript.sh"
        );
        assert_eq!(uri("http://contoso.com", "x").unwrap(), "http://contoso.com/x");
        assert!(base64_decode("***").is_err());
    }
}

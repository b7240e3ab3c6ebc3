//! Reading a snapshot file: JSON or gzip-compressed JSON, within a size
//! limit (compressed and decompressed), with errors that say where.

use super::Snapshot;
use crate::{CoreError, CoreResult};
use std::io::Read;

pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Decodes `bytes` (JSON, or gzip when it starts with gzip's magic number).
/// `limit` bounds both the input and the decompressed JSON, so a small
/// compressed file cannot expand without bound.
pub fn decode(bytes: &[u8], limit: usize) -> CoreResult<Snapshot> {
    if bytes.len() > limit {
        return Err(CoreError::TooLarge { limit });
    }
    let inflated;
    let json: &[u8] = if bytes.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take((limit as u64).saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| CoreError::InvalidAt { path: "(gzip)".into(), message: format!("not valid gzip: {e}") })?;
        if out.len() > limit {
            return Err(CoreError::TooLarge { limit });
        }
        inflated = out;
        &inflated
    } else {
        bytes
    };
    let mut de = serde_json::Deserializer::from_slice(json);
    let snapshot: Snapshot = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        let path = match e.path().to_string() {
            p if p == "." => "(document)".to_string(),
            p => p,
        };
        CoreError::InvalidAt {
            path,
            message: format!(
                "{} (line {}, column {})",
                strip_position(&inner.to_string()),
                inner.line(),
                inner.column()
            ),
        }
    })?;
    super::writer::check_schema_version(snapshot.schema_version)?;
    Ok(snapshot)
}

/// serde_json appends " at line L column C"; the position is reported once.
pub(crate) fn strip_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const MINIMAL: &str = r#"{"schema_version": 1,
        "scope": {"tenant_id": null, "subscriptions": ["s1"], "arm_endpoint": "https://management.azure.com"},
        "started_at": "2026-11-21T10:00:00Z", "finished_at": "2026-11-21T10:05:00Z", "collector": "test"}"#;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn plain_and_gzip_json_decode_alike() {
        let a = decode(MINIMAL.as_bytes(), 1 << 20).unwrap();
        let b = decode(&gzip(MINIMAL.as_bytes()), 1 << 20).unwrap();
        assert_eq!(a, b);
        // No limit at all (trusted local files) must not wrap around to zero.
        assert_eq!(decode(&gzip(MINIMAL.as_bytes()), usize::MAX).unwrap(), a);
    }

    #[test]
    fn errors_name_the_field_and_its_position() {
        let bad = MINIMAL.replace(r#""collector": "test""#, r#""collector": 7"#);
        match decode(bad.as_bytes(), 1 << 20) {
            Err(CoreError::InvalidAt { path, message }) => {
                assert_eq!(path, "collector");
                assert!(message.contains("line 3"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match decode(b"{\"schema_version\": 1, \"scope\": ", 1 << 20) {
            Err(CoreError::InvalidAt { message, .. }) => {
                assert!(message.contains("EOF") || message.contains("end"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn limits_hold_before_and_after_decompression() {
        assert!(matches!(decode(MINIMAL.as_bytes(), 10), Err(CoreError::TooLarge { limit: 10 })));
        let bomb = gzip(&vec![b' '; 100_000]);
        assert!(bomb.len() < 1_000);
        assert!(matches!(decode(&bomb, 10_000), Err(CoreError::TooLarge { .. })));
        assert!(matches!(decode(&[0x1f, 0x8b, 0, 0], 1000), Err(CoreError::InvalidAt { .. })));
    }

    #[test]
    fn an_unknown_schema_version_is_refused() {
        let v3 = MINIMAL.replace(r#""schema_version": 1"#, r#""schema_version": 3"#);
        assert!(
            matches!(decode(v3.as_bytes(), 1 << 20), Err(CoreError::InvalidAt { path, .. }) if path == "schema_version")
        );
    }
}

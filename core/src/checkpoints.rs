//! Signed checkpoints of the audit chain's head, the anchor that makes a
//! rewrite of the log by a database superuser show.
//!
//! A checkpoint is a C2SP tlog-checkpoint note — the origin
//! (`<key name>/audit-log`), the number of entries and the base64 hash of the
//! newest one — signed with the portal's key (see `signing`), whose private
//! half never enters the database. Hash-chaining makes the newest hash
//! commit to every entry before it, so the head stands where a Merkle root
//! stands in a transparency log. Each checkpoint is stored in the database
//! (append-only, for the portal and its replicas) and appended to a file in
//! the data directory, and may be posted to a webhook, so that deleting the
//! stored checkpoints does not delete the evidence.

use crate::audit::{self, Anchor, Verification};
use crate::display;
use crate::signing::{self, KeyFiles, Keyring, NoteProblem};
use crate::{CoreError, CoreResult};
use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// What follows the key name in a checkpoint's origin line.
pub const ORIGIN_SUFFIX: &str = "/audit-log";

/// The largest checkpoint note read back (a real one is about 200 bytes).
const MAX_NOTE: usize = 4096;

/// The body of a checkpoint: origin, size and head hash, one per line.
pub fn body(origin: &str, size: i64, head: &[u8]) -> String {
    format!("{origin}\n{size}\n{}\n", BASE64.encode(head))
}

/// The origin, size and head hash of a checkpoint body.
pub fn parse_body(text: &str) -> Option<(String, i64, Vec<u8>)> {
    let mut lines = text.lines();
    let origin = lines.next()?.to_owned();
    let size = lines.next()?.parse::<i64>().ok().filter(|s| *s > 0)?;
    let head = BASE64.decode(lines.next()?).ok().filter(|h| h.len() == 32)?;
    Some((origin, size, head))
}

/// A checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    pub size: i64,
    /// The head entry's hash, hex.
    pub head: String,
    /// The signing key, `name+id`.
    pub key: String,
    /// The signed note, as a signed-note tool reads it.
    pub note: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The outcome of asking for a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// A new checkpoint of the head.
    Signed(Checkpoint),
    /// The head has not moved since this checkpoint.
    Unchanged(Checkpoint),
    /// The log has no entries to vouch for.
    Empty,
}

/// One line of the checkpoint copies file.
#[derive(Debug, Serialize, Deserialize)]
struct Copy {
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    note: String,
}

/// Where the portal's key is and where it keeps copies of what it signed.
/// The key files are read afresh for every checkpoint and verification, so
/// a rotation by `attest keys rotate` (or a remounted secret) takes effect
/// in a running portal without a restart.
#[derive(Debug, Clone)]
pub struct Notary {
    pub files: KeyFiles,
    /// The name a key created on first use gets.
    name: String,
    /// The checkpoint copies, one JSON object per line (outside the database).
    pub copies: PathBuf,
}

/// What checking the log against its checkpoints found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub chain: Verification,
    /// Trusted checkpoints the chain was checked against.
    pub checkpoints: usize,
    /// The newest of them: its size and when it was made.
    pub latest: Option<(i64, OffsetDateTime)>,
    /// Checkpoints that could not be trusted, and why (a forged or altered
    /// one is evidence of tampering too).
    pub problems: Vec<String>,
}

impl Report {
    /// Whether everything verified.
    pub fn ok(&self) -> bool {
        matches!(self.chain, Verification::Intact { .. }) && self.problems.is_empty()
    }

    /// Entries newer than the newest checkpoint: these could still be
    /// rewritten unnoticed until the next checkpoint.
    pub fn unanchored(&self) -> u64 {
        match &self.chain {
            Verification::Intact { entries, .. } => {
                entries.saturating_sub(self.latest.map(|(s, _)| s as u64).unwrap_or(0))
            }
            Verification::Broken { .. } => 0,
        }
    }
}

impl Checkpoint {
    /// The origin line of its note.
    pub fn origin(&self) -> &str {
        self.note.lines().next().unwrap_or_default()
    }
}

impl Notary {
    /// Loads the key once (creating it, named `name`, when absent), so that
    /// a missing or damaged key is reported when the portal starts.
    pub fn new(files: KeyFiles, name: impl Into<String>, copies: impl Into<PathBuf>) -> CoreResult<Self> {
        let notary = Notary { files, name: name.into(), copies: copies.into() };
        Keyring::load_or_create(&notary.files, &notary.name)?;
        Ok(notary)
    }

    /// The current key and every trusted public key, as the files hold them
    /// now. A key file gone missing is an error, not a reason for a new key.
    pub fn keys(&self) -> CoreResult<Keyring> {
        Keyring::load(&self.files)
    }

    /// Replaces the key with a new one; the old public key stays trusted.
    pub fn rotate(&self) -> CoreResult<Keyring> {
        Keyring::rotate(&self.files, &self.name)
    }

    /// The checkpoint origin for a key: its name and `/audit-log`.
    pub fn origin(keys: &Keyring) -> String {
        format!("{}{ORIGIN_SUFFIX}", keys.name())
    }

    /// Signs the chain's head unless the newest trusted checkpoint already
    /// covers it. The entries since that checkpoint are checked first: a
    /// chain broken since then is reported, never signed.
    pub async fn checkpoint(&self, pool: &PgPool) -> CoreResult<Created> {
        let Some((size, head)) = audit::head(pool).await? else {
            return Ok(Created::Empty);
        };
        let keys = self.keys()?;
        let (trusted, _) = self.trusted(&keys, pool).await?;
        let checked = match trusted.iter().max_by_key(|t| t.anchor.size) {
            Some(Trusted { anchor, stored: Some(c), .. }) if anchor.size == size && anchor.head == head => {
                return Ok(Created::Unchanged(c.clone()));
            }
            // Up to the head (or known only from the copies file, then
            // stored again below): check what came after it.
            Some(t) if t.anchor.size <= size => audit::verify_since(pool, &t.anchor, size).await?,
            _ => audit::verify_against(pool, &anchors(&trusted)).await?,
        };
        if let Verification::Broken { seq, reason } = checked {
            return Err(CoreError::Conflict(format!(
                "the audit log is broken at entry {seq} ({reason}); no checkpoint was signed"
            )));
        }
        // The head may have moved while checking; sign what was checked.
        let note = keys.sign_note(&body(&Self::origin(&keys), size, &head))?;
        let key = format!("{}+{}", keys.current().name, keys.current().id);
        let inserted = sqlx::query!(
            "insert into audit_checkpoints (tree_size, head, key, note) values ($1, $2, $3, $4)
             on conflict (tree_size, key) do nothing
             returning created_at, note",
            size,
            &head,
            key,
            note,
        )
        .fetch_optional(pool)
        .await?;
        // A replica that signed the same head first: its row is the answer.
        let (created_at, note) = match inserted {
            Some(r) => (r.created_at, r.note),
            None => {
                let r = sqlx::query!(
                    "select created_at, note from audit_checkpoints where tree_size = $1 and key = $2",
                    size,
                    key
                )
                .fetch_one(pool)
                .await?;
                (r.created_at, r.note)
            }
        };
        let checkpoint = Checkpoint { size, head: hex::encode(&head), key, note, created_at };
        self.keep_copy(&checkpoint)?;
        Ok(Created::Signed(checkpoint))
    }

    /// Checks the whole chain against every checkpoint that verifies with a
    /// trusted key, from the database and from the copies file.
    pub async fn verify(&self, pool: &PgPool) -> CoreResult<Report> {
        let keys = self.keys()?;
        let (trusted, problems) = self.trusted(&keys, pool).await?;
        let anchors = anchors(&trusted);
        let latest = trusted.iter().max_by_key(|t| t.anchor.size).map(|t| (t.anchor.size, t.at));
        let chain = audit::verify_against(pool, &anchors).await?;
        let mut sizes: Vec<i64> = anchors.iter().map(|a| a.size).collect();
        sizes.sort_unstable();
        sizes.dedup();
        Ok(Report { chain, checkpoints: sizes.len(), latest, problems })
    }

    /// The newest stored checkpoints, newest first (at most `limit`).
    pub async fn list(pool: &PgPool, limit: i64) -> CoreResult<Vec<Checkpoint>> {
        let rows = sqlx::query!(
            "select tree_size, head, key, note, created_at from audit_checkpoints
             order by tree_size desc, created_at desc limit $1",
            limit.clamp(1, 1000)
        )
        .fetch_all(pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Checkpoint {
                size: r.tree_size,
                head: hex::encode(r.head),
                key: r.key,
                note: r.note,
                created_at: r.created_at,
            })
            .collect())
    }

    /// Every checkpoint that verifies, and why the others do not.
    async fn trusted(&self, keys: &Keyring, pool: &PgPool) -> CoreResult<(Vec<Trusted>, Vec<String>)> {
        let stored = Self::list(pool, 1000).await?;
        let mut trusted = Vec::new();
        let mut problems = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for c in stored {
            let label = format!("the checkpoint of {} (entry {})", display::time(c.created_at), c.size);
            match read_note(keys, &c.note) {
                Ok((size, head)) if size == c.size && hex::encode(&head) == c.head => {
                    seen.insert(c.note.clone());
                    trusted.push(Trusted { anchor: Anchor { size, head, label }, at: c.created_at, stored: Some(c) });
                }
                Ok(_) => problems.push(format!("stored {label}: its columns do not match its signed note")),
                Err(why) => problems.push(format!("stored {label}: {why}")),
            }
        }
        for (line, copy) in self.read_copies()? {
            match copy {
                Ok(copy) if seen.contains(&copy.note) => {}
                Ok(copy) => {
                    let label =
                        format!("the checkpoint of {} (kept in {})", display::time(copy.at), self.copies.display());
                    match read_note(keys, &copy.note) {
                        Ok((size, head)) => {
                            seen.insert(copy.note.clone());
                            trusted.push(Trusted { anchor: Anchor { size, head, label }, at: copy.at, stored: None });
                        }
                        Err(why) => problems.push(format!("{label}: {why}")),
                    }
                }
                Err(why) => problems.push(format!("line {line} of {}: {why}", self.copies.display())),
            }
        }
        Ok((trusted, problems))
    }

    /// Appends a checkpoint to the copies file.
    fn keep_copy(&self, c: &Checkpoint) -> CoreResult<()> {
        let line = serde_json::to_string(&Copy { at: c.created_at, note: c.note.clone() })
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        signing::append_line(&self.copies, &line)
            .map_err(|e| CoreError::Internal(format!("keeping a checkpoint in {}: {e}", self.copies.display())))
    }

    fn read_copies(&self) -> CoreResult<Vec<(usize, Result<Copy, String>)>> {
        let text = match std::fs::read_to_string(&self.copies) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(CoreError::Internal(format!("reading {}: {e}", self.copies.display()))),
        };
        Ok(text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 1, serde_json::from_str::<Copy>(l).map_err(|e| format!("not a checkpoint ({e})"))))
            .collect())
    }
}

/// The size and head of a note signed by a trusted key for an audit log.
fn read_note(keys: &Keyring, note: &str) -> Result<(i64, Vec<u8>), String> {
    if note.len() > MAX_NOTE {
        return Err("it is too long to be a checkpoint".into());
    }
    let text = keys.verify_note(note).map_err(|p: NoteProblem| p.to_string())?;
    let (origin, size, head) = parse_body(&text).ok_or("its signed text is not a checkpoint")?;
    if !origin.ends_with(ORIGIN_SUFFIX) {
        return Err(format!("it is signed for {origin:?}, not an audit log"));
    }
    Ok((size, head))
}

/// The copies file in a data directory.
pub fn copies_in(dir: &Path) -> PathBuf {
    dir.join("audit-checkpoints.jsonl")
}

/// A checkpoint that verifies with a trusted key.
struct Trusted {
    anchor: Anchor,
    /// When it was signed (as stored, or as the copies file says).
    at: OffsetDateTime,
    /// Its row, unless only the copies file has it.
    stored: Option<Checkpoint>,
}

fn anchors(trusted: &[Trusted]) -> Vec<Anchor> {
    trusted.iter().map(|t| t.anchor.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_reads_back() {
        let head = [7u8; 32];
        let text = body("attest.example/audit-log", 42, &head);
        assert_eq!(text, format!("attest.example/audit-log\n42\n{}\n", BASE64.encode(head)));
        assert_eq!(parse_body(&text), Some(("attest.example/audit-log".into(), 42, head.to_vec())));
        assert_eq!(parse_body("o\n0\nAAAA\n"), None, "a size of 0 vouches for nothing");
        assert_eq!(parse_body("o\n3\nAAAA\n"), None, "a head is 32 bytes");
        assert_eq!(parse_body("o\nx\n"), None);
    }
}

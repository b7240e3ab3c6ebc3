//! The portal's Ed25519 signing key, kept outside the database: created on
//! first use, rotated on demand, with every public key it ever had kept as
//! trusted so that what older keys signed still verifies.
//!
//! Keys are written in the encoding of C2SP signed-note (the one Go's
//! `golang.org/x/mod/sumdb/note` and transparency logs use): the private key
//! file holds one line `PRIVATE+KEY+<name>+<id>+<base64>`, and the public
//! keys file one verifier key `<name>+<id>+<base64>` per line, oldest first.
//! A database superuser can rewrite tables but cannot read these files, so a
//! signature made with the key anchors what was signed outside the database.

use crate::{CoreError, CoreResult};
use argon2::password_hash::rand_core::OsRng;
use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use sha2::{Digest, Sha256};
use signed_note::{Signer as _, StandardSigner, StandardVerifier, Verifier as _};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The key's name in signatures when the portal has no public URL.
pub const DEFAULT_NAME: &str = "attest";

/// One public key the portal trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The name signatures carry (the portal's host, or `attest`).
    pub name: String,
    /// The signed-note key id: the first four bytes of SHA-256 over the
    /// name, a newline, the algorithm byte and the key, as 8 hex digits.
    pub id: String,
    /// The verifier key as signed-note tools read it.
    pub verifier_key: String,
    /// The raw 32-byte Ed25519 public key, base64.
    pub ed25519: String,
    /// SHA-256 of the raw 32-byte key, hex: what `sha256sum` prints for it.
    pub fingerprint: String,
    /// Whether the portal signs with this key now (the others are retired).
    pub current: bool,
}

impl PublicKey {
    fn from_verifier_key(vkey: &str, current: bool) -> CoreResult<Self> {
        StandardVerifier::new(vkey).map_err(|e| invalid_key(format!("the public key {vkey:?}: {e}")))?;
        let mut parts = vkey.splitn(3, '+');
        let (name, id, b64) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(i), Some(b)) => (n, i, b),
            _ => return Err(invalid_key(format!("the public key {vkey:?} is not name+id+key"))),
        };
        let bytes = BASE64.decode(b64).map_err(|e| invalid_key(format!("the public key {vkey:?}: {e}")))?;
        // The encoded key starts with its algorithm byte (1 = Ed25519).
        let raw = bytes.get(1..).unwrap_or_default();
        Ok(PublicKey {
            name: name.to_owned(),
            id: id.to_owned(),
            verifier_key: vkey.to_owned(),
            ed25519: BASE64.encode(raw),
            fingerprint: hex::encode(Sha256::digest(raw)),
            current,
        })
    }
}

fn invalid_key(message: String) -> CoreError {
    CoreError::Internal(format!("signing key: {message}"))
}

/// Where the keys live: the private key file and, beside it, the public keys.
#[derive(Debug, Clone)]
pub struct KeyFiles {
    pub private: PathBuf,
    pub public: PathBuf,
}

impl KeyFiles {
    /// The private key at `private`, the public keys at `private` + `.pub`.
    pub fn at(private: impl Into<PathBuf>) -> Self {
        let private = private.into();
        let mut public = private.clone().into_os_string();
        public.push(".pub");
        KeyFiles { private, public: PathBuf::from(public) }
    }
}

/// The portal's current signing key and every public key it trusts.
pub struct Keyring {
    signer: StandardSigner,
    keys: Vec<PublicKey>,
    /// The trusted keys as signed_note verifies with them, built once.
    verifiers: Verifiers,
    files: KeyFiles,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("keys", &self.keys).field("files", &self.files).finish_non_exhaustive()
    }
}

impl Keyring {
    /// Loads the key, creating it (named `name`) when the file does not
    /// exist yet. Two processes starting at once create one key: the file is
    /// linked into place only if absent, and the loser reads the winner's.
    pub fn load_or_create(files: &KeyFiles, name: &str) -> CoreResult<Keyring> {
        if !files.private.exists() {
            let (skey, _) = new_key(name)?;
            match write_new(&files.private, &skey) {
                Ok(()) => tracing::info!(path = %files.private.display(), "created the portal's signing key"),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error("creating", &files.private, e)),
            }
        }
        Self::load(files)
    }

    /// Loads an existing key and its public keys; the current public key is
    /// added to the public keys file when it is missing there.
    pub fn load(files: &KeyFiles) -> CoreResult<Keyring> {
        let skey = std::fs::read_to_string(&files.private).map_err(|e| io_error("reading", &files.private, e))?;
        let skey = skey.trim();
        let signer = StandardSigner::new(skey)
            .map_err(|e| invalid_key(format!("{} is not a signed-note private key ({e})", files.private.display())))?;
        let current = verifier_key_of(skey)?;
        let mut listed = match std::fs::read_to_string(&files.public) {
            Ok(text) => text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect::<Vec<_>>(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_error("reading", &files.public, e)),
        };
        if !listed.contains(&current) {
            append_line(&files.public, &current).map_err(|e| io_error("writing", &files.public, e))?;
            listed.push(current.clone());
        }
        let keys = listed
            .iter()
            .map(|vkey| PublicKey::from_verifier_key(vkey, *vkey == current))
            .collect::<CoreResult<Vec<_>>>()?;
        let verifiers = Verifiers(listed.iter().filter_map(|vkey| StandardVerifier::new(vkey).ok()).collect());
        Ok(Keyring { signer, keys, verifiers, files: files.clone() })
    }

    /// Replaces the private key with a new one (named `name`) and adds its
    /// public key to the trusted ones; the old public key stays trusted, so
    /// everything it signed still verifies. Returns the new keyring.
    pub fn rotate(files: &KeyFiles, name: &str) -> CoreResult<Keyring> {
        let (skey, _) = new_key(name)?;
        let tmp = files.private.with_extension("new");
        let _ = std::fs::remove_file(&tmp);
        write_new(&tmp, &skey).map_err(|e| io_error("writing", &tmp, e))?;
        std::fs::rename(&tmp, &files.private).map_err(|e| io_error("replacing", &files.private, e))?;
        Self::load(files)
    }

    /// The public key signing now.
    pub fn current(&self) -> &PublicKey {
        self.keys.iter().find(|k| k.current).expect("the current key is always listed")
    }

    /// Every trusted public key, oldest first.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    pub fn files(&self) -> &KeyFiles {
        &self.files
    }

    /// The name signatures carry.
    pub fn name(&self) -> &str {
        self.signer.name()
    }

    /// Signs a signed-note text (which must end in a newline) and returns
    /// the whole note: the text, a blank line and the signature line.
    pub fn sign_note(&self, text: &str) -> CoreResult<String> {
        let mut note = signed_note::Note::new(text.as_bytes(), &[])
            .map_err(|e| CoreError::Internal(format!("building a signed note: {e}")))?;
        note.add_sigs(&[&self.signer]).map_err(|e| CoreError::Internal(format!("signing a note: {e}")))?;
        String::from_utf8(note.to_bytes()).map_err(|e| CoreError::Internal(format!("a signed note: {e}")))
    }

    /// Verifies a signed note against the trusted keys; returns its text.
    pub fn verify_note(&self, note: &str) -> Result<String, NoteProblem> {
        let parsed = signed_note::Note::from_bytes(note.as_bytes()).map_err(|_| NoteProblem::Malformed)?;
        match parsed.verify(&self.verifiers) {
            Ok(_) => String::from_utf8(parsed.text().to_vec()).map_err(|_| NoteProblem::Malformed),
            Err(signed_note::NoteError::InvalidSignature { name, id }) => {
                Err(NoteProblem::BadSignature { key: format!("{name}+{id:08x}") })
            }
            Err(signed_note::NoteError::UnverifiedNote) => Err(NoteProblem::UnknownKey {
                keys: note
                    .lines()
                    .filter_map(|l| l.strip_prefix("— "))
                    .filter_map(|l| l.split(' ').next())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
            Err(_) => Err(NoteProblem::Malformed),
        }
    }
}

/// The trusted keys, found by name and id. (signed_note's own VerifierList
/// holds boxed trait objects that cannot cross threads; these can.)
struct Verifiers(Vec<StandardVerifier>);

impl signed_note::Verifiers for Verifiers {
    fn verifier(&self, name: &str, id: u32) -> Result<&dyn signed_note::Verifier, signed_note::VerificationError> {
        self.0
            .iter()
            .find(|v| v.name() == name && v.key_id() == id)
            .map(|v| v as &dyn signed_note::Verifier)
            .ok_or_else(|| signed_note::VerificationError::UnknownKey { name: name.to_owned(), id })
    }
}

/// Why a signed note does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteProblem {
    Malformed,
    /// Signed by a key the portal knows, but the signature is wrong: the
    /// text was changed after signing, or the signature forged.
    BadSignature {
        key: String,
    },
    /// Signed only by keys the portal does not trust.
    UnknownKey {
        keys: String,
    },
}

impl std::fmt::Display for NoteProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoteProblem::Malformed => write!(f, "it is not a signed note"),
            NoteProblem::BadSignature { key } => {
                write!(f, "its signature by {key} does not verify (it was altered or forged)")
            }
            NoteProblem::UnknownKey { keys } => write!(
                f,
                "it is signed only by keys this portal does not trust ({keys}); if one was this portal's, \
                 add its public key to the public keys file"
            ),
        }
    }
}

/// The key name for a portal reached at `public_url`: its host (and port),
/// which signed-note allows as a name; `attest` otherwise.
pub fn name_for(public_url: Option<&str>) -> String {
    public_url
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_owned(),
            })
        })
        .filter(|n| signed_note::is_key_name_valid(n))
        .unwrap_or_else(|| DEFAULT_NAME.to_owned())
}

fn new_key(name: &str) -> CoreResult<(String, String)> {
    if !signed_note::is_key_name_valid(name) {
        return Err(invalid_key(format!("{name:?} cannot name a key (no spaces or +)")));
    }
    Ok(signed_note::generate_key(&mut OsRng, name))
}

/// The verifier key of a private key.
fn verifier_key_of(skey: &str) -> CoreResult<String> {
    // PRIVATE+KEY+<name>+<id>+<base64 of 0x01 and the 32-byte seed>
    let mut parts = skey.splitn(5, '+');
    let (name, b64) = match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(_), Some(name), Some(_), Some(b64)) => (name, b64),
        _ => return Err(invalid_key("the private key is not PRIVATE+KEY+name+id+key".into())),
    };
    let bytes = BASE64.decode(b64).map_err(|e| invalid_key(format!("the private key: {e}")))?;
    let seed: [u8; 32] =
        bytes.get(1..).and_then(|s| s.try_into().ok()).ok_or_else(|| invalid_key("the private key's length".into()))?;
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    Ok(signed_note::new_ed25519_verifier_key(name, &signing.verifying_key()))
}

/// Writes a new file readable by its owner only, failing if it exists. The
/// content goes to a temporary file first and is linked into place, so no
/// reader ever sees a half-written key.
fn write_new(path: &Path, content: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let _ = std::fs::remove_file(&tmp);
    let mut file = options.open(&tmp)?;
    file.write_all(content.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    linked
}

/// Appends a line to a file (creating it and its directory), synced to disk.
pub(crate) fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    writeln!(file, "{line}")?;
    file.sync_all()
}

fn io_error(doing: &str, path: &Path, e: std::io::Error) -> CoreError {
    CoreError::Internal(format!("{doing} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> KeyFiles {
        KeyFiles::at(dir.join("keys").join("signing-key"))
    }

    #[test]
    fn a_key_is_created_once_and_loaded_after() {
        let dir = tempfile::tempdir().unwrap();
        let a = Keyring::load_or_create(&files(dir.path()), "attest.example").unwrap();
        let b = Keyring::load_or_create(&files(dir.path()), "ignored.example").unwrap();
        assert_eq!(a.current(), b.current());
        assert_eq!(a.current().name, "attest.example");
        assert_eq!(a.keys().len(), 1);
        assert_eq!(a.current().fingerprint.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files(dir.path()).private).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the private key is readable by its owner only");
        }
    }

    #[test]
    fn a_signed_note_verifies_and_an_altered_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keyring::load_or_create(&files(dir.path()), "attest").unwrap();
        let note = keys.sign_note("attest/audit-log\n3\nAAAA\n").unwrap();
        assert!(note.starts_with("attest/audit-log\n3\nAAAA\n\n— attest "), "{note}");
        assert_eq!(keys.verify_note(&note).unwrap(), "attest/audit-log\n3\nAAAA\n");
        let altered = note.replacen("\n3\n", "\n4\n", 1);
        assert!(matches!(keys.verify_note(&altered), Err(NoteProblem::BadSignature { .. })));
        assert_eq!(keys.verify_note("no signature"), Err(NoteProblem::Malformed));

        let other = tempfile::tempdir().unwrap();
        let stranger = Keyring::load_or_create(&files(other.path()), "attest").unwrap();
        let forged = stranger.sign_note("attest/audit-log\n3\nAAAA\n").unwrap();
        assert!(matches!(keys.verify_note(&forged), Err(NoteProblem::UnknownKey { .. })));
    }

    #[test]
    fn rotation_keeps_the_old_public_key_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let old = Keyring::load_or_create(&files(dir.path()), "attest").unwrap();
        let signed_before = old.sign_note("before\n").unwrap();
        let new = Keyring::rotate(&files(dir.path()), "attest").unwrap();
        assert_ne!(old.current(), new.current());
        assert_eq!(new.keys().len(), 2);
        assert!(!new.keys()[0].current && new.keys()[1].current);
        assert_eq!(new.keys()[0].verifier_key, old.current().verifier_key);
        assert_eq!(new.verify_note(&signed_before).unwrap(), "before\n");
        let reloaded = Keyring::load(&files(dir.path())).unwrap();
        assert_eq!(reloaded.current(), new.current());
    }

    #[test]
    fn the_raw_public_key_verifies_a_note_signature_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keyring::load_or_create(&files(dir.path()), "attest").unwrap();
        let note = keys.sign_note("attest/audit-log\n1\nAAAA\n").unwrap();
        // The signature line: the key id (4 bytes) and the Ed25519 signature of the text.
        let line = note.lines().last().unwrap().strip_prefix("— attest ").unwrap();
        let sig = BASE64.decode(line).unwrap();
        assert_eq!(hex::encode(&sig[..4]), keys.current().id);
        let raw: [u8; 32] = BASE64.decode(&keys.current().ed25519).unwrap().try_into().unwrap();
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&raw).unwrap();
        let sig = ed25519_dalek::Signature::from_slice(&sig[4..]).unwrap();
        assert!(ed25519_dalek::Verifier::verify(&vk, b"attest/audit-log\n1\nAAAA\n", &sig).is_ok());
        assert_eq!(keys.current().fingerprint, hex::encode(Sha256::digest(raw)));
    }

    #[test]
    fn names_come_from_the_public_url() {
        assert_eq!(name_for(Some("https://attest.example.com/")), "attest.example.com");
        assert_eq!(name_for(Some("http://127.0.0.1:3900")), "127.0.0.1:3900");
        assert_eq!(name_for(None), "attest");
        assert_eq!(name_for(Some("not a url")), "attest");
    }

    #[test]
    fn a_damaged_key_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = files(dir.path());
        std::fs::create_dir_all(f.private.parent().unwrap()).unwrap();
        std::fs::write(&f.private, "not a key\n").unwrap();
        let err = Keyring::load_or_create(&f, "attest").unwrap_err().to_string();
        assert!(err.contains("not a signed-note private key"), "{err}");
    }
}

//! Importing a snapshot file without holding it: the JSON (or gzip) is read
//! as a stream on a blocking thread, each account record and each estate-wide
//! document is handed to the database writer as soon as it is parsed, and the
//! snapshot's own fields are checked at the end. Errors name the field (and,
//! for malformed JSON, the line and column); a failed import writes nothing.

use super::{
    decode::{strip_position, GZIP_MAGIC},
    store::{write_account, Source, Stored},
    writer::{check_schema_version, Header, Writer},
    AccountRecord, CollectionError, ScanScope,
};
use crate::{CoreError, CoreResult};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use sqlx::PgPool;
use std::{
    cell::RefCell,
    fmt,
    io::{BufRead, BufReader, Read},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};
use time::OffsetDateTime;

/// Parsed items in flight between the reader and the writer: enough that
/// the reader keeps parsing while the writer waits on a batch's round trip
/// (an account record with its usage is tens of KiB, a document about one).
const IN_FLIGHT: usize = 1024;

enum Item {
    Account(usize, Box<AccountRecord>),
    /// An estate-wide document with its address, hashed on the reader's
    /// thread (most of a snapshot's documents are these).
    Resource {
        kind: &'static str,
        path: String,
        body: Value,
        hash: [u8; 32],
    },
}

/// Reads a snapshot from `reader` (JSON, or gzip by its magic number; at
/// most `limit` bytes of JSON) and stores it in one transaction.
pub async fn import<R: Read + Send + 'static>(
    pool: &PgPool,
    reader: R,
    limit: usize,
    source: Source,
    actor: &str,
) -> CoreResult<(Stored, usize)> {
    let (out, mut items) = tokio::sync::mpsc::channel(IN_FLIGHT);
    let parser = tokio::task::spawn_blocking(move || {
        let ctx = Ctx { out, failure: RefCell::new(None), path: RefCell::new(String::new()) };
        parse(reader, limit, &ctx)
    });
    let mut tx = pool.begin().await?;
    let mut w = Writer::with_reader(&mut tx, pool.clone());
    let consumed: CoreResult<()> = async {
        while let Some(item) = items.recv().await {
            match item {
                Item::Account(i, record) => write_account(&mut w, i, &record).await?,
                Item::Resource { kind, path, body, hash } => w.resource_hashed(kind, body, hash, &path, None).await?,
            }
        }
        Ok(())
    }
    .await;
    // Closing the channel stops a reader that is still going.
    drop(items);
    let parsed = parser.await.map_err(|e| CoreError::Internal(format!("the snapshot reader stopped: {e}")))?;
    consumed?;
    let header = parsed?;
    let errors = header.errors.len();
    let stored = w.finish(header, source.as_str(), actor).await?;
    tx.commit().await?;
    // Evaluation runs on import; a snapshot stored before is already evaluated.
    crate::findings::evaluate_snapshot(pool, stored.id, actor).await?;
    Ok((stored, errors))
}

struct Ctx {
    out: tokio::sync::mpsc::Sender<Item>,
    /// An error with more structure than serde's (a path inside an element).
    failure: RefCell<Option<CoreError>>,
    /// Where the reader is, for errors in malformed JSON.
    path: RefCell<String>,
}

impl Ctx {
    fn fail<E: de::Error>(&self, e: CoreError) -> E {
        let message = e.to_string();
        *self.failure.borrow_mut() = Some(e);
        E::custom(message)
    }

    fn send<E: de::Error>(&self, item: Item) -> Result<(), E> {
        // Fails only when the writer has stopped; its error is the one reported.
        self.out.blocking_send(item).map_err(|_| self.fail(CoreError::Internal("the import was abandoned".into())))
    }

    fn at(&self, path: String) {
        *self.path.borrow_mut() = path;
    }
}

/// Caps what is read at `left` bytes and says so when there was more.
struct Limited<R> {
    inner: R,
    left: usize,
    exceeded: Arc<AtomicBool>,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => {
                    self.exceeded.store(true, Ordering::Relaxed);
                    Err(std::io::Error::other("over the size limit"))
                }
            };
        }
        let max = buf.len().min(self.left);
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n;
        Ok(n)
    }
}

fn parse<R: Read>(reader: R, limit: usize, ctx: &Ctx) -> CoreResult<Header> {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let gzip = reader
        .fill_buf()
        .map_err(|e| CoreError::InvalidAt { path: "(document)".into(), message: format!("cannot be read: {e}") })?
        .starts_with(&GZIP_MAGIC);
    let source: Box<dyn Read> = if gzip { Box::new(flate2::read::GzDecoder::new(reader)) } else { Box::new(reader) };
    let exceeded = Arc::new(AtomicBool::new(false));
    let limited = Limited { inner: source, left: limit, exceeded: exceeded.clone() };
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 16, limited));
    let result = de.deserialize_map(Top(ctx)).and_then(|header| de.end().map(|()| header));
    result.map_err(|e| {
        if exceeded.load(Ordering::Relaxed) {
            return CoreError::TooLarge { limit };
        }
        if let Some(failure) = ctx.failure.borrow_mut().take() {
            return failure;
        }
        if gzip && e.is_io() {
            return CoreError::InvalidAt { path: "(gzip)".into(), message: format!("not valid gzip: {e}") };
        }
        let path = ctx.path.borrow().clone();
        CoreError::InvalidAt {
            path: if path.is_empty() { "(document)".into() } else { path },
            message: format!("{} (line {}, column {})", strip_position(&e.to_string()), e.line(), e.column()),
        }
    })
}

const FIELDS: &[&str] = &[
    "schema_version",
    "scope",
    "started_at",
    "finished_at",
    "collector",
    "subscriptions",
    "accounts",
    "role_assignments",
    "role_definitions",
    "deny_assignments",
    "role_eligibility_schedule_instances",
    "role_assignment_schedule_instances",
    "principals",
    "policy_assignments",
    "policy_exemptions",
    "providers",
    "errors",
];

/// The snapshot's lists of estate-wide documents: (field, resource kind).
const LISTS: [(&str, &str); 10] = [
    ("subscriptions", "subscription"),
    ("role_assignments", "role_assignment"),
    ("role_definitions", "role_definition"),
    ("deny_assignments", "deny_assignment"),
    ("role_eligibility_schedule_instances", "role_eligibility_instance"),
    ("role_assignment_schedule_instances", "role_assignment_instance"),
    ("principals", "principal"),
    ("policy_assignments", "policy_assignment"),
    ("policy_exemptions", "policy_exemption"),
    ("providers", "provider"),
];

#[derive(serde::Deserialize)]
struct Rfc3339(#[serde(with = "time::serde::rfc3339")] OffsetDateTime);

/// The snapshot object: its own fields kept, its documents passed on.
struct Top<'a>(&'a Ctx);

impl<'de> Visitor<'de> for Top<'_> {
    type Value = Header;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a snapshot (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
        let ctx = self.0;
        let (mut version, mut scope, mut started, mut finished, mut collector) = (None, None, None, None, None);
        let mut errors: Vec<CollectionError> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            ctx.at(key.clone());
            match key.as_str() {
                "schema_version" => {
                    let v = map.next_value::<u32>()?;
                    // Before any document is written, not after the whole file.
                    check_schema_version(v).map_err(|e| ctx.fail::<A::Error>(e))?;
                    version = Some(v);
                }
                "scope" => scope = Some(map.next_value::<ScanScope>()?),
                "started_at" => started = Some(map.next_value::<Rfc3339>()?.0),
                "finished_at" => finished = Some(map.next_value::<Rfc3339>()?.0),
                "collector" => collector = Some(map.next_value::<String>()?),
                "errors" => errors = map.next_value()?,
                "accounts" => map.next_value_seed(Array { ctx, name: "accounts", kind: None })?,
                other => match LISTS.iter().find(|(name, _)| *name == other) {
                    Some((name, kind)) => map.next_value_seed(Array { ctx, name, kind: Some(kind) })?,
                    None => return Err(de::Error::unknown_field(other, FIELDS)),
                },
            }
        }
        ctx.at(String::new());
        Ok(Header {
            schema_version: version.ok_or_else(|| de::Error::missing_field("schema_version"))?,
            scope: scope.ok_or_else(|| de::Error::missing_field("scope"))?,
            started_at: started.ok_or_else(|| de::Error::missing_field("started_at"))?,
            finished_at: finished.ok_or_else(|| de::Error::missing_field("finished_at"))?,
            collector: collector.ok_or_else(|| de::Error::missing_field("collector"))?,
            errors,
        })
    }
}

/// An array of the snapshot: account records (`kind` None), each parsed
/// whole, one at a time; or estate-wide ARM documents of one kind.
struct Array<'a> {
    ctx: &'a Ctx,
    name: &'static str,
    kind: Option<&'static str>,
}

impl<'de> DeserializeSeed<'de> for Array<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Array<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an array of {}", self.name.replace('_', " "))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for i in 0.. {
            let path = format!("{}[{i}]", self.name);
            self.ctx.at(path.clone());
            let Some(body) = seq.next_element::<Value>()? else { break };
            let item = match self.kind {
                Some(kind) => Item::Resource { kind, path, hash: super::writer::document_hash(&body), body },
                None => {
                    let record: AccountRecord = serde_path_to_error::deserialize(body).map_err(|e| {
                        let inner = e.path().to_string();
                        let path = if inner == "." { path.clone() } else { format!("{path}.{inner}") };
                        self.ctx.fail::<A::Error>(CoreError::InvalidAt { path, message: e.into_inner().to_string() })
                    })?;
                    Item::Account(i, Box::new(record))
                }
            };
            self.ctx.send(item)?;
        }
        Ok(())
    }
}

//! A chain's first evaluation's spans, written to its staged table and
//! indexed on connections of their own while the evaluation's transaction
//! writes the identities (see migration 0015).
//!
//! The evaluation's transaction names the table and holds a lock on its
//! name; the writer here creates it, fills it and commits it, invisible to
//! every query until the evaluation registers and attaches it. Then its
//! indexes are built two at a time, each as the parent declares it, so that
//! attaching finds them built. Should the evaluation fail, the writer rolls
//! back; a table left behind after the writer's commit is dropped by the
//! next chain's first evaluation (`finding_spans_drop_orphans`).

use super::evaluate::Spans;
use crate::error::{CoreError, CoreResult};
use sqlx::PgPool;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Connections that build the staged table's indexes at once: PostgreSQL
/// builds each index on one backend, and this machine has two cores.
const BUILDERS: usize = 2;

/// Memory for each index build's sort: spans of a large estate spill to
/// disk with PostgreSQL's default 64 MB.
const SORT_MEMORY: &str = "512MB";

enum Message {
    Spans(Box<Spans>),
    /// Everything was sent: commit. A writer whose channel closes without
    /// this rolls back, because the evaluation failed.
    Done,
}

/// The writer of one staged table.
pub(super) struct Staging {
    relation: String,
    sender: mpsc::Sender<Message>,
    writer: JoinHandle<CoreResult<()>>,
}

impl Staging {
    /// Starts writing `relation` (named and locked by the evaluation's
    /// transaction) for `chain`'s first evaluation, `evaluation_id`.
    pub(super) fn start(pool: &PgPool, relation: String, chain: String, evaluation_id: i64) -> Staging {
        // A few batches in flight: the evaluation runs ahead while the
        // writer inserts, without holding the whole estate in memory.
        let (sender, mut inbox) = mpsc::channel::<Message>(4);
        let pool = pool.clone();
        let table = relation.clone();
        let writer = tokio::spawn(async move {
            let mut tx = pool.begin().await?;
            sqlx::query!("select finding_spans_create_staged($1, $2)", table, chain).execute(&mut *tx).await?;
            while let Some(message) = inbox.recv().await {
                match message {
                    Message::Spans(spans) => spans.insert(&mut tx, &table, &chain, evaluation_id).await?,
                    Message::Done => {
                        tx.commit().await?;
                        return Ok(());
                    }
                }
            }
            Err(CoreError::Internal("the evaluation stopped before its spans were written".into()))
        });
        Staging { relation, sender, writer }
    }

    /// Hands a batch to the writer; when the writer has failed, its error.
    pub(super) async fn send(&mut self, spans: Spans) -> CoreResult<()> {
        if self.sender.send(Message::Spans(Box::new(spans))).await.is_ok() {
            return Ok(());
        }
        Err(self.stopped().await)
    }

    async fn stopped(&mut self) -> CoreError {
        match (&mut self.writer).await {
            Ok(Err(e)) => e,
            Ok(Ok(())) => CoreError::Internal("the staged spans' writer ended early".into()),
            Err(e) => CoreError::Internal(format!("the staged spans' writer panicked: {e}")),
        }
    }

    /// Commits the staged table once every span is in it, then builds its
    /// indexes; afterwards the evaluation attaches it.
    pub(super) async fn finish(mut self, pool: &PgPool) -> CoreResult<()> {
        if self.sender.send(Message::Done).await.is_err() {
            return Err(self.stopped().await);
        }
        match (&mut self.writer).await {
            Ok(result) => result?,
            Err(e) => return Err(CoreError::Internal(format!("the staged spans' writer panicked: {e}"))),
        }
        let statements: VecDeque<String> =
            sqlx::query_scalar!(r#"select finding_spans_staged_indexes($1) as "ddl!""#, self.relation)
                .fetch_all(pool)
                .await?
                .into();
        let queue = Arc::new(Mutex::new(statements));
        let builders: Vec<JoinHandle<CoreResult<()>>> = (0..BUILDERS)
            .map(|_| {
                let (pool, queue) = (pool.clone(), Arc::clone(&queue));
                tokio::spawn(async move {
                    let mut conn = pool.acquire().await?;
                    loop {
                        let Some(ddl) =
                            queue.lock().map_err(|_| CoreError::Internal("index queue".into()))?.pop_front()
                        else {
                            return Ok(());
                        };
                        let mut tx = sqlx::Acquire::begin(&mut *conn).await?;
                        sqlx::query(&format!("set local maintenance_work_mem = '{SORT_MEMORY}'"))
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(&ddl).execute(&mut *tx).await?;
                        tx.commit().await?;
                    }
                })
            })
            .collect();
        // Every builder is awaited, so none is still building when the
        // evaluation attaches (or, on an error, rolls back).
        let mut first_error = None;
        for b in builders {
            let result = b.await.unwrap_or_else(|e| Err(CoreError::Internal(format!("an index build panicked: {e}"))));
            if let (Err(e), None) = (result, &first_error) {
                first_error = Some(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

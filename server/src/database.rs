//! Opening the database: the configured one, or the embedded cluster; then
//! pending migrations, so every command works on an empty database.

use crate::{embedded_pg::EmbeddedPostgres, Config};
use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::{postgres::PgPoolOptions, PgPool};
use std::time::Duration;

/// An open database, and the embedded cluster behind it if we started one
/// (it stops when this is dropped).
pub struct Database {
    pub pool: PgPool,
    pub embedded: Option<EmbeddedPostgres>,
}

/// The smallest pool that works: a chain's first evaluation holds three
/// connections at once (its transaction, the role-assignment reader and the
/// staged spans' writer, then two index builders), beside what is served.
pub const MIN_CONNECTIONS: u32 = 4;

pub async fn open(config: &Config) -> anyhow::Result<Database> {
    if config.db_max_connections < MIN_CONNECTIONS {
        anyhow::bail!(
            "db_max_connections is {}; it must be at least {MIN_CONNECTIONS} (an evaluation uses three connections at once)",
            config.db_max_connections
        );
    }
    let (url, embedded) = match &config.database_url {
        Some(url) => (url.expose_secret().to_string(), None),
        None => {
            let pg = EmbeddedPostgres::start(&config.data_dir)?;
            let url = pg.ensure_database("attest").await?;
            (url, Some(pg))
        }
    };
    let pool = PgPoolOptions::new()
        .max_connections(config.db_max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&url)
        .await
        .context("connecting to PostgreSQL (check DATABASE_URL)")?;
    attest_core::MIGRATOR.run(&pool).await.context("applying database migrations")?;
    Ok(Database { pool, embedded })
}

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

pub async fn open(config: &Config) -> anyhow::Result<Database> {
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

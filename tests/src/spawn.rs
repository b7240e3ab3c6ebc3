//! Running the server for a test: in-process on an ephemeral port, or the
//! release binary (what `make run` serves) against the test's database.

use server::{startup, Config};
use sqlx::PgPool;
use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

/// The built site: ATTEST_SITE_ROOT, or target/site of the workspace.
pub fn site_root() -> PathBuf {
    std::env::var_os("ATTEST_SITE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/site"))
}

pub struct InProcess {
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the application in this process against `pool`.
pub async fn in_process(pool: PgPool, adjust: impl FnOnce(&mut Config)) -> anyhow::Result<InProcess> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut config = Config { listen: listener.local_addr()?, site_root: site_root(), ..Config::default() };
    adjust(&mut config);
    let base = format!("http://{}", config.listen);
    let task = tokio::spawn(async move {
        let _ = startup::serve(listener, pool, Arc::new(config)).await;
    });
    Ok(InProcess { base, task })
}

/// The release binary, serving the test's database; killed on drop.
pub struct Binary {
    pub base: String,
    child: Child,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The URL of the database behind `pool` (a `#[sqlx::test]` database).
pub fn database_url(pool: &PgPool) -> anyhow::Result<String> {
    let master = std::env::var("DATABASE_URL")?;
    let mut url = url::Url::parse(&master)?;
    let name = pool.connect_options().get_database().unwrap_or("postgres").to_string();
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// Starts `E2E_ATTEST_BIN serve` on an ephemeral port with the admin password
/// `admin_password`, and waits until it says where it serves.
pub fn binary(pool: &PgPool, admin_password: &str) -> anyhow::Result<Binary> {
    let bin = std::env::var("E2E_ATTEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/attest"));
    let mut child = Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", database_url(pool)?)
        .env("ATTEST_SITE_ROOT", site_root())
        .env("ATTEST_ADMIN_PASSWORD", admin_password)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("starting {}: {e}", bin.display()))?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("serving at ").nth(1) {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| anyhow::anyhow!("{} did not report its address within 30 s", bin.display()))?;
    Ok(Binary { base, child })
}

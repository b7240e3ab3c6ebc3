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
    /// Its data directory (signing key, checkpoint copies), removed on drop.
    pub data_dir: tempfile::TempDir,
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
    let data_dir = tempfile::tempdir()?;
    let mut config = Config {
        listen: listener.local_addr()?,
        site_root: site_root(),
        data_dir: data_dir.path().to_path_buf(),
        ..Config::default()
    };
    adjust(&mut config);
    let base = format!("http://{}", config.listen);
    let notary = Arc::new(config.notary()?);
    let task = tokio::spawn(async move {
        let _ = startup::serve(listener, pool, Arc::new(config), notary, std::future::pending()).await;
    });
    Ok(InProcess { base, data_dir, task })
}

/// The release binary (`E2E_ATTEST_BIN`, else target/release/attest), as
/// `make run` serves it; killed on drop.
pub struct Binary {
    pub base: String,
    /// Its data directory unless the test set ATTEST_DATA_DIR, removed on drop.
    pub data_dir: tempfile::TempDir,
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Binary {
    /// Starts `attest serve --listen 127.0.0.1:0` with `env` (and without
    /// DATABASE_URL unless `env` sets it), and waits until it says where it serves.
    pub fn start(env: &[(&str, String)]) -> anyhow::Result<Binary> {
        let bin = bin_path();
        let data_dir = tempfile::tempdir()?;
        let mut cmd = Command::new(&bin);
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("DATABASE_URL")
            .env("ATTEST_DATA_DIR", data_dir.path())
            .env("ATTEST_SITE_ROOT", site_root())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|e| anyhow::anyhow!("starting {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Binary { base: String::new(), data_dir, child, lines };
        let line = server.wait_line("serving at ")?;
        server.base = line.split("serving at ").nth(1).unwrap_or_default().trim().to_string();
        Ok(server)
    }

    /// Waits up to 30 s for a line of standard output containing `needle`.
    pub fn wait_line(&self, needle: &str) -> anyhow::Result<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Ok(line),
                Ok(_) => continue,
                Err(_) => anyhow::bail!("attest printed no line containing {needle:?} within 30 s"),
            }
        }
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) -> anyhow::Result<std::process::ExitStatus> {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status()?;
        Ok(self.child.wait()?)
    }
}

pub fn bin_path() -> PathBuf {
    std::env::var("E2E_ATTEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/attest"))
}

/// The URL of the database behind `pool` (a `#[sqlx::test]` database).
pub fn database_url(pool: &PgPool) -> anyhow::Result<String> {
    let master = std::env::var("DATABASE_URL")?;
    let mut url = url::Url::parse(&master)?;
    let name = pool.connect_options().get_database().unwrap_or("postgres").to_string();
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// The release binary serving the test's database, with a known admin password.
pub fn binary(pool: &PgPool, admin_password: &str) -> anyhow::Result<Binary> {
    Binary::start(&[("DATABASE_URL", database_url(pool)?), ("ATTEST_ADMIN_PASSWORD", admin_password.to_string())])
}

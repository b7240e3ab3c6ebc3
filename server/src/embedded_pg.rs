//! The embedded default: a PostgreSQL cluster of the system's own binaries
//! (initdb and pg_ctl), kept in a folder of the project, reachable only
//! through a Unix socket in its own directory — so it cannot clash with a
//! server already listening on 5432. As root the cluster runs as `postgres`,
//! since PostgreSQL refuses to run as root.

use anyhow::{bail, Context};
use sqlx::{postgres::PgConnectOptions, ConnectOptions, Connection};
use std::{
    path::{Path, PathBuf},
    process::Command,
};

pub struct EmbeddedPostgres {
    data_dir: PathBuf,
    socket_dir: PathBuf,
    bin_dir: PathBuf,
    as_postgres: bool,
    /// Whether this process started the cluster (and so stops it).
    owned: bool,
}

/// sockaddr_un holds 108 bytes; the socket file name adds 16.
const MAX_SOCKET_DIR: usize = 90;

impl EmbeddedPostgres {
    /// Starts the cluster in `base` (creating it on first use), or attaches
    /// to it if another `attest` process already runs it.
    pub fn start(base: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(base).with_context(|| format!("creating {}", base.display()))?;
        let base = base.canonicalize()?;
        let bin_dir = find_bin_dir()?;
        let as_postgres = is_root();
        let data_dir = base.join("pgdata");
        let socket_dir = socket_dir(&base);
        for dir in [&data_dir, &socket_dir] {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            if as_postgres {
                chown_to_postgres(dir)?;
            }
            restrict(dir)?;
        }
        let mut pg = EmbeddedPostgres { data_dir, socket_dir, bin_dir, as_postgres, owned: false };
        if !pg.data_dir.join("PG_VERSION").exists() {
            eprintln!("attest: creating the embedded PostgreSQL cluster in {}", pg.data_dir.display());
            pg.run(
                "initdb",
                &["-D", path(&pg.data_dir), "-U", "postgres", "-A", "trust", "--no-locale", "-E", "UTF8", "--no-sync"],
            )?;
        }
        if !pg.running() {
            let opts = format!(
                "-c listen_addresses='' -k {} -c unix_socket_permissions=0700 -c fsync=on",
                path(&pg.socket_dir)
            );
            let log = pg.data_dir.join("server.log");
            pg.run("pg_ctl", &["-D", path(&pg.data_dir), "-l", path(&log), "-o", &opts, "-w", "-t", "60", "start"])
                .with_context(|| format!("starting PostgreSQL; its log is {}", log.display()))?;
            pg.owned = true;
        }
        Ok(pg)
    }

    fn running(&self) -> bool {
        self.command("pg_ctl").args(["-D", path(&self.data_dir), "status"]).output().is_ok_and(|o| o.status.success())
    }

    fn command(&self, program: &str) -> Command {
        let exe = self.bin_dir.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let out = self.command(program).args(args).output().with_context(|| format!("running {program}"))?;
        if !out.status.success() {
            bail!(
                "{program} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new().socket(&self.socket_dir).username("postgres").database(database)
    }

    /// A `postgres://` URL for `database` over the cluster's socket.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@localhost/{database}?host={}", self.socket_dir.display())
    }

    /// Creates `database` if it does not exist; answers its URL.
    pub async fn ensure_database(&self, database: &str) -> anyhow::Result<String> {
        let mut conn =
            self.connect_options("postgres").connect().await.context("connecting to the embedded PostgreSQL")?;
        let exists: bool = sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(database)
            .fetch_one(&mut conn)
            .await?;
        if !exists {
            sqlx::query(&format!("create database \"{database}\"")).execute(&mut conn).await?;
        }
        conn.close().await?;
        Ok(self.url(database))
    }

    /// Leaves the cluster running when this process exits (for `attest db start`).
    pub fn detach(mut self) {
        self.owned = false;
    }

    /// Stops the cluster, whoever started it.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.owned = false;
        if self.running() {
            self.run("pg_ctl", &["-D", path(&self.data_dir), "-m", "fast", "-w", "stop"])?;
        }
        Ok(())
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if self.owned {
            if let Err(e) = self.run("pg_ctl", &["-D", path(&self.data_dir), "-m", "fast", "-w", "stop"]) {
                eprintln!("attest: stopping the embedded PostgreSQL: {e:#}");
            }
        }
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

fn socket_dir(base: &Path) -> PathBuf {
    let local = base.join("run");
    if local.as_os_str().len() <= MAX_SOCKET_DIR {
        return local;
    }
    // A deep checkout: keep the socket under /tmp, named after the data dir.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in base.as_os_str().as_encoded_bytes() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x100000001b3);
    }
    PathBuf::from(format!("/tmp/attest-pg-{h:016x}"))
}

/// The newest PostgreSQL installed the Debian way, or `ATTEST_PG_BIN`.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("ATTEST_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p).context(
        "no PostgreSQL server binaries found under /usr/lib/postgresql/*/bin \
         (install Debian's `postgresql` package, set ATTEST_PG_BIN, or set DATABASE_URL)",
    )
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn id_of(flag: &str) -> anyhow::Result<u32> {
    let out = Command::new("id").args([flag, "postgres"]).output()?;
    if !out.status.success() {
        bail!("there is no `postgres` user to run PostgreSQL as (install Debian's `postgresql` package)");
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

fn chown_to_postgres(dir: &Path) -> anyhow::Result<()> {
    std::os::unix::fs::chown(dir, Some(id_of("-u")?), Some(id_of("-g")?))
        .with_context(|| format!("giving {} to the postgres user", dir.display()))
}

fn restrict(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", dir.display()))
}

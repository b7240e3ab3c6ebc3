//! The command line: `attest serve` and the administration commands. Every
//! command that touches the database opens it the way the server does
//! (embedded or `DATABASE_URL`) and applies pending migrations first.
//!
//! Exit codes: 0 success, 1 a check failed (`audit verify` found a broken
//! chain), 2 the command could not be carried out.

use crate::{
    database,
    embedded_pg::EmbeddedPostgres,
    fake_arm,
    scan::{self, cloud::CloudName, pacing::Budget},
    startup, Config,
};
use anyhow::{bail, Context};
use attest_core::{
    audit, checkpoints,
    names::{Scope, UserName},
    password, tokens, users, Role,
};
use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use std::{io::IsTerminal, net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc};

#[derive(Parser)]
#[command(name = "attest", version, about = "Compliance portal for Azure OpenAI and Azure AI Services estates")]
struct Cli {
    /// A TOML configuration file (default: ./attest.toml if present).
    #[arg(long, global = true, env = "ATTEST_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the portal.
    Serve {
        /// Address and port to listen on (default 127.0.0.1:3000).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage local accounts and their roles.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Generate a deterministic synthetic estate: into the database, or to a file.
    Demo {
        /// Number of OpenAI / AIServices accounts.
        #[arg(long, default_value_t = 12)]
        accounts: usize,
        /// The same seed gives the same estate.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write the snapshot here (gzip when the name ends in .gz) instead of storing it.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Store it only if the database holds no snapshot yet (what `make run` does).
        #[arg(long)]
        if_empty: bool,
    },
    /// Scan an Azure estate through ARM into a snapshot (stored, or written with --out).
    Scan(ScanArgs),
    /// Serve a fake Azure Resource Manager (a demo estate) for trying `attest scan` without Azure.
    FakeArm(FakeArmArgs),
    /// The policy language: evaluate a definition on a resource offline, list controls, import definitions.
    #[command(subcommand)]
    Policy(crate::policy_cli::PolicyCommand),
    /// Role-based access control, offline: whether a principal may perform an action at a scope.
    #[command(subcommand)]
    Rbac(crate::rbac_cli::RbacCommand),
    /// Evaluate ARM resources against Azure policy assignments (and exemptions), offline.
    Evaluate(crate::policy_cli::EvaluateArgs),
    /// Import a snapshot file (JSON, or gzip-compressed JSON).
    Import {
        /// The snapshot file.
        file: PathBuf,
    },
    /// Inspect the audit log and sign checkpoints of it.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The portal's signing key (kept outside the database): show or rotate it.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Control the embedded PostgreSQL cluster (used when DATABASE_URL is unset).
    #[command(subcommand)]
    Db(DbCommand),
}

#[derive(clap::Args)]
struct ScanArgs {
    /// Scan only this subscription (repeatable); default: every subscription the credential can see.
    #[arg(long = "subscription", value_name = "ID")]
    subscriptions: Vec<String>,
    /// The Azure cloud: its ARM endpoint, token audience and sign-in authority.
    #[arg(long, value_enum, default_value = "public")]
    cloud: CloudName,
    /// Any other ARM base URL (Azure Stack, a proxy, `attest fake-arm`).
    #[arg(long, value_name = "URL")]
    arm_endpoint: Option<String>,
    /// The token audience for --arm-endpoint (default: the endpoint itself).
    #[arg(long, value_name = "URL")]
    arm_audience: Option<String>,
    /// Microsoft Graph's base URL, to resolve the principals assignments name
    /// (default: the cloud's Graph; with --arm-endpoint, none unless given).
    #[arg(long, value_name = "URL", conflicts_with = "no_graph")]
    graph_endpoint: Option<String>,
    /// Do not read Microsoft Graph: principals are shown by id, unresolved.
    #[arg(long)]
    no_graph: bool,
    /// Use the bearer token in this file instead of azure_identity's credentials.
    #[arg(long, value_name = "PATH")]
    access_token_file: Option<PathBuf>,
    /// Write the snapshot here (gzip when the name ends in .gz) instead of storing it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Requests in flight at once (1 to 64).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// The read budget per subscription, BURST/PER_SECOND (ARM allows 250/25).
    #[arg(long, default_value = "250/25")]
    read_budget: Budget,
    /// Days of token usage to read (1 to 93, Azure Monitor's retention).
    #[arg(long, default_value_t = 30)]
    usage_days: u32,
    /// Attempts per request before it is recorded as failed.
    #[arg(long, default_value_t = 8)]
    max_attempts: u32,
    /// Seconds before a single request times out.
    #[arg(long, default_value_t = 60)]
    request_timeout: u64,
}

#[derive(clap::Args)]
struct FakeArmArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:4000")]
    listen: SocketAddr,
    /// Accounts in the generated estate.
    #[arg(long, default_value_t = 12)]
    accounts: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Serve this snapshot file instead of a generated estate.
    #[arg(long, value_name = "FILE")]
    estate: Option<PathBuf>,
    /// Records per page of every list.
    #[arg(long, default_value_t = 50)]
    page_size: usize,
    /// Start every list with an empty page (legal in ARM; clients must follow nextLink).
    #[arg(long)]
    empty_first_page: bool,
    /// Require this bearer token (default: accept any).
    #[arg(long)]
    token: Option<String>,
    /// Throttle reads per subscription like ARM, BURST/PER_SECOND (e.g. 250/25).
    #[arg(long, value_name = "BUDGET")]
    throttle: Option<Budget>,
    /// Share of requests (0 to 1) answered with a fault: 500, 503, a truncated body, or late.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Answer 403 AuthorizationFailed to every path containing this text,
    /// case-insensitively (repeatable), e.g. roleEligibilityScheduleInstances.
    #[arg(long, value_name = "TEXT")]
    forbid: Vec<String>,
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account (with a generated password unless one is given).
    Add {
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts with their roles.
    List,
    /// Grant a role (approver needs --scope).
    Grant {
        name: String,
        role: Role,
        /// An Azure scope id: /subscriptions/{id}, …/resourceGroups/{name},
        /// /providers/Microsoft.Management/managementGroups/{id} or /tenants/{id}.
        #[arg(long)]
        scope: Option<String>,
    },
    /// Revoke a role.
    Revoke {
        name: String,
        role: Role,
        #[arg(long)]
        scope: Option<String>,
    },
    /// Set a new password (prompted, from stdin, or generated); signs out existing sessions.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable an account: it can no longer sign in, and its sessions and tokens stop working.
    Disable { name: String },
    /// Enable a disabled account.
    Enable { name: String },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue an API token for a user; the token is printed once.
    Create {
        name: String,
        #[arg(long, default_value = "cli")]
        label: String,
    },
    /// List tokens (of one user, or all).
    List { name: Option<String> },
    /// Revoke a token by id.
    Revoke { id: uuid::Uuid },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain and check it against the signed checkpoints;
    /// exit 1 and say what is wrong if anything does not verify.
    Verify,
    /// Sign a checkpoint of the chain's head now (C2SP tlog-checkpoint) and print it.
    Checkpoint,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print the current public key, its fingerprint and every key still trusted.
    Show,
    /// Replace the signing key with a new one; the old public key stays trusted.
    Rotate,
}

#[derive(Subcommand)]
enum DbCommand {
    /// Start the embedded cluster (if needed), create a database, print its URL, and leave it running.
    Start {
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long, default_value = "attest")]
        database: String,
    },
    /// Stop the embedded cluster.
    Stop {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("attest: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("attest: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_sessions=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}

fn print_keys(keys: &attest_core::signing::Keyring) {
    let current = keys.current();
    println!("signing key {}+{} (Ed25519)", current.name, current.id);
    println!("  public key (signed-note verifier key): {}", current.verifier_key);
    println!("  public key (raw, base64):              {}", current.ed25519);
    println!("  fingerprint (SHA-256 of the raw key):  {}", current.fingerprint);
    println!("  private key file: {}", keys.files().private.display());
    println!("  public keys file: {}", keys.files().public.display());
    for k in keys.keys().iter().filter(|k| !k.current) {
        println!("retired, still trusted: {} fingerprint {}", k.verifier_key, k.fingerprint);
    }
}

/// Who the audit log names for command-line actions.
fn cli_actor() -> String {
    let from_env = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).ok().filter(|u| !u.is_empty());
    let name = from_env.or_else(|| {
        let out = std::process::Command::new("id").arg("-un").output().ok()?;
        let name = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (!name.is_empty()).then_some(name)
    });
    format!("cli:{}", name.unwrap_or_else(|| "unknown".into()))
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(cli.config.as_deref()).context("reading the configuration")?;
    // Commands other than serve log only when asked to (RUST_LOG), so that
    // their output stays what scripts read.
    if std::env::var_os("RUST_LOG").is_some() {
        init_tracing();
    }
    match cli.command {
        Command::Serve { listen } => {
            init_tracing();
            if let Some(listen) = listen {
                config.listen = listen;
            }
            serve(config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Db(cmd) => db(cmd, &config).await,
        Command::FakeArm(args) => fake_arm(args).await,
        Command::Policy(crate::policy_cli::PolicyCommand::Import(args)) => {
            let db = database::open(&config).await?;
            let done = crate::policy_cli::import(&db.pool, args, &cli_actor()).await;
            db.pool.close().await;
            done.map(|()| ExitCode::SUCCESS)
        }
        Command::Policy(cmd) => crate::policy_cli::policy(cmd).map(|()| ExitCode::SUCCESS),
        Command::Evaluate(args) => crate::policy_cli::evaluate_files(args).map(|()| ExitCode::SUCCESS),
        Command::Rbac(cmd) => crate::rbac_cli::rbac(cmd).map(|()| ExitCode::SUCCESS),
        Command::Scan(args) => {
            let Some(report) = run_scan(&args).await? else { return Ok(ExitCode::from(2)) };
            match &args.out {
                Some(out) => {
                    write_file(out, |w| report.scanned.write_json(w))?;
                    println!("wrote the snapshot to {}", out.display());
                }
                None => {
                    // Through a file and the streaming importer, so a large
                    // estate is never held twice.
                    use attest_core::snapshot::{ingest, store};
                    let spool = std::env::temp_dir().join(format!("attest-scan-{}.json", uuid::Uuid::new_v4()));
                    write_file(&spool, |w| report.scanned.write_json(w))?;
                    drop(report);
                    let db = database::open(&config).await?;
                    let file = std::fs::File::open(&spool).context("reading the scan back")?;
                    let imported = ingest::import(&db.pool, file, usize::MAX, store::Source::Scan, &cli_actor()).await;
                    let _ = std::fs::remove_file(&spool);
                    let (stored, _) = imported?;
                    db.pool.close().await;
                    println!(
                        "stored snapshot {}: {} resources, {} new documents",
                        stored.id, stored.resources, stored.new_documents
                    );
                }
            }
            if let Some(mib) = peak_memory_mib() {
                eprintln!("peak memory: {mib} MiB");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { accounts, seed, out: Some(out), .. } => {
            write_snapshot(&attest_core::snapshot::demo::generate(accounts, seed), &out)?;
            println!("wrote a demo estate of {accounts} accounts (seed {seed}) to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        other => {
            let db = database::open(&config).await?;
            let code = admin(other, &db.pool, &config).await;
            db.pool.close().await;
            drop(db.embedded);
            code
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    tracing::info!(config = ?config, "starting");
    let site = config.site_root.join("pkg").join("attest.js");
    if !site.exists() {
        tracing::warn!(path = %site.display(), "the built site is missing: pages will not hydrate (run `make run`)");
    }
    // Before anything that must be undone at exit (the embedded cluster).
    let shutdown = startup::shutdown_signal().context("installing signal handlers")?;
    let db = database::open(&config).await?;
    let admin_name = UserName::parse(&config.admin_user).context("ATTEST_ADMIN_USER")?;
    let created = users::bootstrap_admin(&db.pool, &admin_name, config.admin_password.clone()).await?;
    // Created here on the first start, so the first checkpoint can be signed.
    let notary = Arc::new(config.notary().context("loading the signing key")?);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    println!();
    println!("  Attest is serving at http://{addr}");
    match created {
        Some((name, Some(pw))) => {
            println!("  First start: created the admin account `{name}` with this password (shown once):");
            println!();
            println!("      {}", pw.expose_secret());
            println!();
            println!("  Change it after signing in, or with `attest user passwd {name}`.");
        }
        Some((name, None)) => println!("  First start: created the admin account `{name}` with ATTEST_ADMIN_PASSWORD."),
        None => println!(
            "  Sign in with your account (the first admin is `{}`; reset a password with `attest user passwd NAME`).",
            config.admin_user
        ),
    }
    println!();
    let config = Arc::new(config);
    let result = startup::serve(listener, db.pool.clone(), config, notary, shutdown).await;
    db.pool.close().await;
    drop(db.embedded);
    result.context("serving")
}

async fn db(cmd: DbCommand, config: &Config) -> anyhow::Result<ExitCode> {
    match cmd {
        DbCommand::Start { data_dir, database } => {
            let pg = EmbeddedPostgres::start(data_dir.as_deref().unwrap_or(&config.data_dir))?;
            println!("{}", pg.ensure_database(&database).await?);
            pg.detach();
        }
        DbCommand::Stop { data_dir } => {
            let dir = data_dir.unwrap_or_else(|| config.data_dir.clone());
            if dir.join("pgdata").join("PG_VERSION").exists() {
                EmbeddedPostgres::start(&dir)?.stop()?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Scans, reports on standard error, and returns the report unless nothing
/// at all could be read (then the errors are shown and `None` returned).
async fn run_scan(args: &ScanArgs) -> anyhow::Result<Option<scan::ScanReport>> {
    if !(1..=64).contains(&args.concurrency) {
        bail!("--concurrency must be between 1 and 64");
    }
    if !(1..=93).contains(&args.usage_days) {
        bail!("--usage-days must be between 1 and 93 (Azure Monitor keeps metrics about 93 days)");
    }
    if !(1..=50).contains(&args.max_attempts) {
        bail!("--max-attempts must be between 1 and 50");
    }
    for id in &args.subscriptions {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            bail!("--subscription {id:?} is not a subscription id");
        }
    }
    let cloud = scan::cloud::Cloud::new(args.cloud, args.arm_endpoint.as_deref(), args.arm_audience.as_deref())?;
    let credential = match &args.access_token_file {
        Some(path) => scan::credential::Credential::token_file(path.clone()),
        None => scan::credential::Credential::from_environment(&cloud)?,
    };
    // A custom ARM endpoint (Azure Stack, a proxy, the fake) says nothing of
    // where its Graph is: only an explicit --graph-endpoint is read then.
    let graph = if args.no_graph || (args.arm_endpoint.is_some() && args.graph_endpoint.is_none()) {
        None
    } else {
        Some(cloud.graph(args.graph_endpoint.as_deref())?)
    };
    let mut options = scan::ScanOptions::new(cloud);
    options.graph = graph;
    options.subscriptions = args.subscriptions.clone();
    options.concurrency = args.concurrency;
    options.budget = args.read_budget;
    options.usage_days = args.usage_days;
    options.retry.max_attempts = args.max_attempts;
    options.timeout = std::time::Duration::from_secs(args.request_timeout.max(1));
    options.progress = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let report = scan::scan(&options, Arc::new(credential)).await?;
    let s = &report.scanned.snapshot;
    let deployments = report.scanned.deployment_count;
    eprintln!(
        "scanned {} subscriptions: {} accounts, {} deployments, {} role assignments in {:.1} s \
         ({} requests, {} retried, {} throttled, {} failed; credential: {})",
        s.scope.subscriptions.len(),
        report.scanned.accounts.len(),
        deployments,
        report.scanned.role_assignments.len(),
        started.elapsed().as_secs_f64(),
        report.requests,
        report.retries,
        report.throttled,
        report.failed,
        if report.credential.is_empty() { "none" } else { report.credential },
    );
    for e in s.errors.iter().take(10) {
        eprintln!("  failed: {} [{}] {}", e.request, e.status.map_or("-".into(), |s| s.to_string()), e.message);
    }
    if s.errors.len() > 10 {
        eprintln!("  … and {} more", s.errors.len() - 10);
    }
    if !report.reached_anything {
        eprintln!("nothing could be collected; no snapshot was written");
        return Ok(None);
    }
    if s.is_partial() {
        eprintln!("the snapshot is PARTIAL: {} requests failed and are recorded in it", s.errors.len());
    }
    Ok(Some(report))
}

async fn fake_arm(args: FakeArmArgs) -> anyhow::Result<ExitCode> {
    use attest_core::snapshot::{decode, demo};
    if !(0.0..=1.0).contains(&args.fault_rate) {
        bail!("--fault-rate is a share between 0 and 1");
    }
    let snapshot = match &args.estate {
        Some(path) => {
            let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            decode::decode(&bytes, usize::MAX).with_context(|| format!("{}", path.display()))?
        }
        None => demo::generate(args.accounts, args.seed),
    };
    let estate = fake_arm::Estate::from_snapshot(snapshot, time::OffsetDateTime::now_utc().date());
    let count = estate.account_count();
    let arm = fake_arm::FakeArm::new(
        estate,
        fake_arm::Options {
            page_size: args.page_size.max(1),
            empty_first_page: args.empty_first_page,
            token: args.token,
            throttle: args.throttle,
            faults: fake_arm::FaultPlan { rate: args.fault_rate, seed: args.fault_seed, ..Default::default() },
            latency: std::time::Duration::ZERO,
            forbidden: args.forbid.iter().map(|f| f.to_ascii_lowercase()).collect(),
        },
    );
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let shutdown = startup::shutdown_signal().context("installing signal handlers")?;
    let at = listener.local_addr()?;
    println!("fake ARM serving {count} accounts at http://{at} (and Microsoft Graph's getByIds there)");
    println!("  scan it: attest scan --arm-endpoint http://{at} --graph-endpoint http://{at}");
    axum::serve(listener, arm.router()).with_graceful_shutdown(shutdown).await?;
    let s = &arm.stats;
    let get = fake_arm::Stats::get;
    println!(
        "served {} requests: {} ok, {} throttled, {} server errors, {} truncated, {} slow",
        get(&s.requests),
        get(&s.ok),
        get(&s.throttled),
        get(&s.server_errors),
        get(&s.truncated),
        get(&s.slow)
    );
    Ok(ExitCode::SUCCESS)
}

/// This process's peak resident memory in MiB (Linux), for summaries and
/// the benchmark.
fn peak_memory_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// Writes a snapshot as JSON, gzip-compressed when the name ends in `.gz`.
fn write_snapshot(snapshot: &attest_core::snapshot::Snapshot, out: &std::path::Path) -> anyhow::Result<()> {
    write_file(out, |w| serde_json::to_writer(w, snapshot).map_err(std::io::Error::from))
}

/// Writes `out` through `write`, gzip-compressed when the name ends in `.gz`.
fn write_file(
    out: &std::path::Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    use std::io::Write;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut buffered = std::io::BufWriter::new(file);
    if out.extension().is_some_and(|e| e == "gz") {
        let mut gz = flate2::write::GzEncoder::new(&mut buffered, flate2::Compression::default());
        write(&mut gz).with_context(|| format!("writing {}", out.display()))?;
        gz.finish()?;
    } else {
        write(&mut buffered).with_context(|| format!("writing {}", out.display()))?;
    }
    buffered.flush().with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

async fn import(pool: &sqlx::PgPool, config: &Config, file: &std::path::Path, actor: &str) -> anyhow::Result<()> {
    use attest_core::snapshot::{ingest, store};
    let size = std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?.len();
    if size > config.import_limit_bytes as u64 {
        bail!("{}: {size} bytes is over the import limit of {} bytes", file.display(), config.import_limit_bytes);
    }
    let reader = std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?;
    let (stored, errors) = ingest::import(pool, reader, config.import_limit_bytes, store::Source::Import, actor)
        .await
        .with_context(|| format!("{}", file.display()))?;
    if stored.created {
        println!(
            "stored snapshot {}: {} resources, {} new documents{}",
            stored.id,
            stored.resources,
            stored.new_documents,
            if errors > 0 { format!(" (partial: {errors} collection errors)") } else { String::new() }
        );
    } else {
        println!("already stored as snapshot {}; nothing written", stored.id);
    }
    if let Some(mib) = peak_memory_mib() {
        eprintln!("peak memory: {mib} MiB");
    }
    Ok(())
}

/// A password from stdin, a prompt, or generated (then printed once).
fn obtain_password(from_stdin: bool) -> anyhow::Result<(SecretString, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).context("reading the password from stdin")?;
        let pw = line.trim_end_matches(['\n', '\r']).to_string();
        if pw.is_empty() {
            bail!("no password on standard input");
        }
        return Ok((SecretString::from(pw), false));
    }
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password (empty to generate one): ")?;
        if first.is_empty() {
            return Ok((password::generate(), true));
        }
        let second = rpassword::prompt_password("Repeat it: ")?;
        if first != second {
            bail!("the passwords differ");
        }
        return Ok((SecretString::from(first), false));
    }
    Ok((password::generate(), true))
}

fn scope(raw: Option<&str>) -> anyhow::Result<Option<Scope>> {
    Ok(raw.map(Scope::parse).transpose()?)
}

async fn admin(cmd: Command, pool: &sqlx::PgPool, config: &Config) -> anyhow::Result<ExitCode> {
    let actor = cli_actor();
    match cmd {
        Command::Migrate => println!("migrations are up to date"),
        Command::User(cmd) => match cmd {
            UserCommand::Add { name, password_stdin } => {
                let name = UserName::parse(&name)?;
                let (pw, generated) = obtain_password(password_stdin)?;
                let mut tx = pool.begin().await?;
                users::create(&mut tx, &actor, &name, &pw).await?;
                tx.commit().await?;
                println!("created user {name}");
                if generated {
                    println!("password (shown once): {}", pw.expose_secret());
                }
            }
            UserCommand::List => {
                println!("{:<32} {:<9} ROLES", "NAME", "STATUS");
                for u in users::list(pool).await? {
                    let roles: Vec<String> = u
                        .grants
                        .iter()
                        .map(
                            |g| if g.scope.is_empty() { g.role.to_string() } else { format!("{}@{}", g.role, g.scope) },
                        )
                        .collect();
                    let status = if u.disabled_at.is_some() { "disabled" } else { "active" };
                    println!("{:<32} {:<9} {}", u.name, status, roles.join(","));
                }
            }
            UserCommand::Grant { name, role, scope: s } => {
                let name = UserName::parse(&name)?;
                let mut tx = pool.begin().await?;
                users::grant(&mut tx, &actor, &name, role, scope(s.as_deref())?.as_ref()).await?;
                tx.commit().await?;
                println!("granted {role} to {name}");
            }
            UserCommand::Revoke { name, role, scope: s } => {
                let name = UserName::parse(&name)?;
                let mut tx = pool.begin().await?;
                users::revoke(&mut tx, &actor, &name, role, scope(s.as_deref())?.as_ref()).await?;
                tx.commit().await?;
                println!("revoked {role} from {name}");
            }
            UserCommand::Passwd { name, password_stdin } => {
                let name = UserName::parse(&name)?;
                let (pw, generated) = obtain_password(password_stdin)?;
                let mut tx = pool.begin().await?;
                users::set_password(&mut tx, &actor, &name, &pw).await?;
                tx.commit().await?;
                println!("password of {name} changed; their sessions are signed out");
                if generated {
                    println!("password (shown once): {}", pw.expose_secret());
                }
            }
            UserCommand::Disable { name } => {
                let name = UserName::parse(&name)?;
                let mut tx = pool.begin().await?;
                users::set_disabled(&mut tx, &actor, &name, true).await?;
                tx.commit().await?;
                println!("disabled {name}");
            }
            UserCommand::Enable { name } => {
                let name = UserName::parse(&name)?;
                let mut tx = pool.begin().await?;
                users::set_disabled(&mut tx, &actor, &name, false).await?;
                tx.commit().await?;
                println!("enabled {name}");
            }
        },
        Command::Token(cmd) => match cmd {
            TokenCommand::Create { name, label } => {
                let name = UserName::parse(&name)?;
                let mut tx = pool.begin().await?;
                let (id, secret) = tokens::create(&mut tx, &actor, &name, &label).await?;
                tx.commit().await?;
                eprintln!("issued token {id} for {name} (shown once; send it as `Authorization: Bearer …`):");
                println!("{}", secret.expose_secret());
            }
            TokenCommand::List { name } => {
                let name = name.as_deref().map(UserName::parse).transpose()?;
                println!("{:<36} {:<20} {:<20} STATE", "ID", "USER", "LABEL");
                for t in tokens::list(pool, name.as_ref()).await? {
                    let state = if t.revoked_at.is_some() { "revoked" } else { "active" };
                    println!("{:<36} {:<20} {:<20} {state}", t.id, t.user, t.label);
                }
            }
            TokenCommand::Revoke { id } => {
                let mut tx = pool.begin().await?;
                tokens::revoke(&mut tx, &actor, id).await?;
                tx.commit().await?;
                println!("revoked token {id}");
            }
        },
        Command::Import { file } => import(pool, config, &file, &actor).await?,
        Command::Demo { accounts, seed, if_empty, .. } => {
            use attest_core::snapshot::{demo, store};
            if if_empty && store::count(pool).await? > 0 {
                println!("snapshots are already stored; no demo estate added");
                return Ok(ExitCode::SUCCESS);
            }
            let snapshot = demo::generate(accounts, seed);
            let mut tx = pool.begin().await?;
            let stored = store::insert(&mut tx, &snapshot, store::Source::Demo, &actor).await?;
            tx.commit().await?;
            match stored.created {
                true => println!("stored a demo estate of {accounts} accounts (seed {seed}) as snapshot {}", stored.id),
                false => println!("this demo estate is already stored as snapshot {}", stored.id),
            }
            let evaluation = attest_core::findings::evaluate_snapshot(pool, stored.id, &actor).await?;
            // The whole estate's Access page reads this index; a served
            // portal would store it in the background, the demo does now.
            attest_core::access::materialize(pool, stored.id).await?;
            println!(
                "evaluated: {} findings, compliance {}",
                evaluation.findings,
                evaluation.compliance.map(|c| format!("{c:.1}%")).unwrap_or_else(|| "n/a".into())
            );
        }
        Command::Audit(AuditCommand::Verify) => {
            let notary = config.notary()?;
            let report = notary.verify(pool).await?;
            match &report.chain {
                audit::Verification::Intact { entries, head } => {
                    println!("audit log intact: {entries} entries; head {}", head.as_deref().unwrap_or("(empty)"));
                    match report.latest {
                        Some((size, at)) => println!(
                            "checked against {} signed checkpoint{}; the newest covers entries 1-{size} ({}); \
                             {} newer {} the next checkpoint",
                            report.checkpoints,
                            if report.checkpoints == 1 { "" } else { "s" },
                            attest_core::display::time(at),
                            report.unanchored(),
                            if report.unanchored() == 1 { "entry awaits" } else { "entries await" },
                        ),
                        None => println!("no signed checkpoint yet: sign one with `attest audit checkpoint`"),
                    }
                }
                audit::Verification::Broken { seq, reason } => println!("audit log BROKEN at entry {seq}: {reason}"),
            }
            for p in &report.problems {
                println!("checkpoint NOT TRUSTED: {p}");
            }
            if !report.ok() {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Audit(AuditCommand::Checkpoint) => {
            let notary = config.notary()?;
            let webhook = crate::jobs::webhook(config);
            match crate::jobs::checkpoint_once(pool, &notary, webhook.as_ref().map(|(c, u)| (c, u.as_str()))).await? {
                checkpoints::Created::Signed(c) => {
                    eprintln!("signed a checkpoint of entries 1-{} with {}:", c.size, c.key);
                    print!("{}", c.note);
                }
                checkpoints::Created::Unchanged(c) => {
                    eprintln!(
                        "the head has not moved since the checkpoint of {}:",
                        attest_core::display::time(c.created_at)
                    );
                    print!("{}", c.note);
                }
                checkpoints::Created::Empty => println!("the audit log is empty: nothing to sign"),
            }
        }
        Command::Keys(KeysCommand::Show) => {
            print_keys(&config.notary()?.keys()?);
        }
        Command::Keys(KeysCommand::Rotate) => {
            let notary = config.notary()?;
            let before = notary.keys()?.current().clone();
            let keys = notary.rotate()?;
            let mut tx = pool.begin().await?;
            audit::append(
                &mut tx,
                &actor,
                "key.rotate",
                &format!("key:{}+{}", keys.current().name, keys.current().id),
                serde_json::json!({
                    "retired": format!("{}+{}", before.name, before.id),
                    "retired_fingerprint": before.fingerprint,
                    "fingerprint": keys.current().fingerprint,
                }),
            )
            .await?;
            tx.commit().await?;
            eprintln!("rotated the signing key; {} public keys are trusted", keys.keys().len());
            print_keys(&keys);
        }
        Command::Serve { .. }
        | Command::Db(_)
        | Command::Scan(_)
        | Command::FakeArm(_)
        | Command::Policy(_)
        | Command::Rbac(_)
        | Command::Evaluate(_) => {
            unreachable!("handled in run()")
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `attest rbac can`: the RBAC engine on Azure's own documents, offline:
//! whether a principal may perform an action at a scope, and which
//! assignments decided it.

use anyhow::{anyhow, bail};
use attest_rbac::documents::{parse_all, DenyAssignment, RoleAssignment, RoleDefinition};
use attest_rbac::{can, Hierarchy, Operation, ParseError};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum RbacCommand {
    /// Whether a principal may perform an action (or data action) at a scope:
    /// prints {"allowed", "granted_by", "denied_by", "conditional"}; exits 0
    /// either way, 2 on bad input.
    Can(CanArgs),
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("operation").required(true).args(["action", "data_action"]))]
pub struct CanArgs {
    /// Role definitions: a JSON array of ARM documents, or a list response (`value`).
    #[arg(long)]
    role_definitions: PathBuf,
    /// Role assignments, likewise.
    #[arg(long)]
    role_assignments: PathBuf,
    /// Deny assignments, likewise.
    #[arg(long)]
    deny_assignments: Option<PathBuf>,
    /// The principal's object id.
    #[arg(long)]
    principal: String,
    /// Object ids of groups the principal belongs to (repeatable).
    #[arg(long = "group")]
    groups: Vec<String>,
    /// The scope: `/`, a management group, subscription, resource group or resource id.
    #[arg(long)]
    scope: String,
    /// A control-plane action, such as Microsoft.CognitiveServices/accounts/listKeys/action.
    #[arg(long)]
    action: Option<String>,
    /// A data action, such as Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action.
    #[arg(long)]
    data_action: Option<String>,
}

pub fn rbac(cmd: RbacCommand) -> anyhow::Result<()> {
    match cmd {
        RbacCommand::Can(args) => {
            let verdict = decide(&args)?;
            println!("{}", serde_json::to_string_pretty(&verdict)?);
            Ok(())
        }
    }
}

fn read<T>(path: &Path, parse: fn(&Value, &str) -> Result<T, ParseError>) -> anyhow::Result<Vec<T>> {
    let value = crate::policy_cli::read_json(path)?;
    if !matches!(value, Value::Array(_) | Value::Object(_)) {
        bail!("{}: expected a JSON array of documents or a list response with `value`", path.display());
    }
    parse_all(&value, parse).map_err(|e| anyhow!("{}: {e}", path.display()))
}

fn decide(args: &CanArgs) -> anyhow::Result<Value> {
    let definitions = read(&args.role_definitions, RoleDefinition::parse)?;
    let assignments = read(&args.role_assignments, RoleAssignment::parse)?;
    let denies = match &args.deny_assignments {
        Some(path) => read(path, DenyAssignment::parse)?,
        None => Vec::new(),
    };
    if args.principal.trim().is_empty() {
        bail!("--principal must not be empty");
    }
    if !args.scope.trim().starts_with('/') {
        bail!("--scope must be an ARM id starting with / (the root scope is /), not {:?}", args.scope);
    }
    let op = match (&args.action, &args.data_action) {
        (Some(a), None) => Operation::Action(a.clone()),
        (None, Some(a)) => Operation::DataAction(a.clone()),
        _ => bail!("name exactly one of --action and --data-action"),
    };
    if op.name().trim().is_empty() || op.name().contains(char::is_whitespace) {
        bail!("the operation must be an action name such as Microsoft.CognitiveServices/accounts/read");
    }
    let v = can(
        &definitions,
        &assignments,
        &denies,
        &Hierarchy::default(),
        &args.principal,
        &args.groups,
        &args.scope,
        &op,
    );
    Ok(json!({
        "allowed": v.allowed,
        "granted_by": v.granted_by,
        "denied_by": v.denied_by,
        "conditional": v.conditional,
    }))
}

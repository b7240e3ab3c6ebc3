//! `attest policy eval` and `attest evaluate`: the policy engine on Azure's
//! own document shapes, offline, for scripting and for checking Attest's
//! verdicts against Azure's.

use anyhow::{bail, Context};
use attest_policy::assignment::{evaluate_all, subjects_from_documents, Assignment, Exemption};
use attest_policy::evaluate::{data_plane_with, is_deployment};
use attest_policy::{catalogue, evaluate, Input, PolicyDocument};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// Input files above this are refused rather than read into memory.
const MAX_INPUT: u64 = 256 * 1024 * 1024;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Evaluate one definition against one resource and print its state, effect and reasons.
    Eval(EvalArgs),
    /// List the catalogue's controls.
    Controls,
    /// Import Azure Policy definitions or initiatives as Azure publishes
    /// them into the portal, and assign them at the tenant root (an
    /// initiative's definitions first, in the order given).
    Import(ImportArgs),
}

#[derive(Args)]
pub struct ImportArgs {
    /// Definition or initiative files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Assignment parameter values for the last file: `{"name": {"value": x}}` or `{"name": x}`.
    #[arg(long)]
    parameters: Option<PathBuf>,
    /// Store the definitions without assigning them.
    #[arg(long)]
    no_assign: bool,
}

/// `attest policy import`: stores and assigns, audited as `actor`.
pub async fn import(pool: &sqlx::PgPool, args: ImportArgs, actor: &str) -> anyhow::Result<()> {
    use attest_core::findings::definitions::{self, MAX_DOCUMENT};
    let given = match &args.parameters {
        Some(p) => match read_json(p)? {
            Value::Object(m) => m,
            _ => bail!("{}: parameters must be a JSON object", p.display()),
        },
        None => Map::new(),
    };
    let last = args.files.len() - 1;
    for (i, file) in args.files.iter().enumerate() {
        let size = std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?.len();
        if size > MAX_DOCUMENT as u64 {
            bail!("{}: {size} bytes is over the limit of {MAX_DOCUMENT} bytes for a definition", file.display());
        }
        let text = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        // Parameters go with the last file; the others take their defaults.
        let assign = (!args.no_assign).then(|| if i == last { given.clone() } else { Map::new() });
        let done =
            definitions::import(pool, actor, &text, assign).await.with_context(|| format!("{}", file.display()))?;
        println!(
            "{} {} {} ({}){}{}",
            if !done.changed {
                "unchanged"
            } else if done.replaced {
                "replaced"
            } else {
                "imported"
            },
            done.kind,
            done.name,
            done.display_name,
            done.assignment.map(|a| format!(", assigned as {a}")).unwrap_or_default(),
            if done.evaluations.is_empty() {
                String::new()
            } else {
                format!(", {} snapshot(s) evaluated again", done.evaluations.len())
            }
        );
    }
    Ok(())
}

#[derive(Args)]
pub struct EvalArgs {
    /// A policy definition as Azure publishes it.
    #[arg(long)]
    definition: PathBuf,
    /// An ARM resource document.
    #[arg(long)]
    resource: PathBuf,
    /// Parameter values: `{"name": {"value": x}}` or `{"name": x}`.
    #[arg(long)]
    parameters: Option<PathBuf>,
    /// Related resources for auditIfNotExists/deployIfNotExists (a document
    /// or an array), and for data-plane definitions the deployment's
    /// content filter policy.
    #[arg(long)]
    related: Option<PathBuf>,
}

#[derive(Args)]
pub struct EvaluateArgs {
    /// An array of ARM resource documents (or `{"value": [...]}`).
    #[arg(long)]
    resources: PathBuf,
    /// Azure policy assignment documents (an array, `{"value": [...]}` or one).
    #[arg(long)]
    assignments: PathBuf,
    /// A directory of definition and initiative files, added to Attest's catalogue.
    #[arg(long)]
    definitions: Option<PathBuf>,
    /// Azure policy exemption documents.
    #[arg(long)]
    exemptions: Option<PathBuf>,
}

pub(crate) fn read_json(path: &Path) -> anyhow::Result<Value> {
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.len() > MAX_INPUT {
        bail!("{} is {} bytes; the limit is {MAX_INPUT}", path.display(), meta.len());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut de = serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        anyhow::anyhow!(
            "{}: not valid JSON at {} (line {}, column {}): {}",
            path.display(),
            e.path(),
            e.inner().line(),
            e.inner().column(),
            e.inner()
        )
    })
}

/// An array, ARM's `{"value": [...]}` list shape, or a single document.
fn documents(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        Value::Object(ref m) if m.get("value").is_some_and(Value::is_array) => {
            m["value"].as_array().cloned().unwrap_or_default()
        }
        other => vec![other],
    }
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// `attest policy …`.
pub fn policy(cmd: PolicyCommand) -> anyhow::Result<()> {
    match cmd {
        PolicyCommand::Eval(args) => eval(args),
        PolicyCommand::Import(_) => unreachable!("needs the database; handled by the caller"),
        PolicyCommand::Controls => {
            for c in catalogue::controls() {
                println!(
                    "{:<34} {:<7} {:<18} {}",
                    c.definition.name,
                    c.severity.as_str(),
                    c.area,
                    c.definition.display_name
                );
            }
            Ok(())
        }
    }
}

fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let def = match PolicyDocument::parse(&read_json(&args.definition)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.definition.display()))?
    {
        PolicyDocument::Definition(d) => d,
        PolicyDocument::Initiative(_) => {
            bail!(
                "{} is an initiative; evaluate its definitions, or use `attest evaluate` with an assignment",
                args.definition.display()
            )
        }
    };
    let resource = read_json(&args.resource)?;
    if !resource.is_object() {
        bail!("{}: a resource must be a JSON object", args.resource.display());
    }
    let parameters: Map<String, Value> = match &args.parameters {
        Some(p) => match read_json(p)? {
            Value::Object(m) => {
                // Accept a whole assignment-style file too: {"parameters": {...}}.
                let m = match m.get("parameters") {
                    Some(Value::Object(inner)) if m.len() == 1 => inner.clone(),
                    _ => m,
                };
                attest_policy::definition::unwrap_values(&m)
            }
            _ => bail!("{}: parameters must be a JSON object", p.display()),
        },
        None => Map::new(),
    };
    let related = match &args.related {
        Some(p) => documents(read_json(p)?),
        None => vec![],
    };
    // Data-plane definitions read a deployment together with its content
    // filter policy: the one given among the related documents, else the
    // built-in policy it names.
    let resource = if def.mode.eq_ignore_ascii_case("Microsoft.CognitiveServices.Data") && is_deployment(&resource) {
        let policies = related.iter().filter(|r| {
            r["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("Microsoft.CognitiveServices/accounts/raiPolicies"))
        });
        data_plane_with(&resource, policies)
    } else {
        resource
    };
    let out = evaluate(
        &def,
        &Input {
            resource: &resource,
            related: &related,
            parameters: &parameters,
            now: now(),
            policy: &json!({"definitionId": def.id}),
        },
    );
    let mut doc = json!({
        "state": out.state.map(|s| s.as_str()),
        "effect": out.effect.map(|e| e.as_str()),
        "reasons": out.reasons,
    });
    if out.state.is_none() {
        doc["applicable"] = json!(false);
    }
    if let Some(m) = out.message {
        doc["message"] = json!(m);
    }
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

/// `attest evaluate`.
pub fn evaluate_files(args: EvaluateArgs) -> anyhow::Result<()> {
    let mut catalog = catalogue::catalog();
    if let Some(dir) = &args.definitions {
        let mut n = 0;
        let entries = std::fs::read_dir(dir).with_context(|| format!("cannot read the directory {}", dir.display()))?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
            let doc =
                PolicyDocument::parse(&read_json(&path)?).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            catalog.insert(doc);
            n += 1;
        }
        if n == 0 {
            bail!("{} holds no .json definitions", dir.display());
        }
    }
    let resources = documents(read_json(&args.resources)?);
    let assignments = documents(read_json(&args.assignments)?)
        .iter()
        .enumerate()
        .map(|(i, a)| {
            Assignment::parse(a).map_err(|e| anyhow::anyhow!("{}: assignment {i}: {e}", args.assignments.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let exemptions = match &args.exemptions {
        Some(p) => documents(read_json(p)?)
            .iter()
            .enumerate()
            .map(|(i, e)| Exemption::parse(e).map_err(|err| anyhow::anyhow!("{}: exemption {i}: {err}", p.display())))
            .collect::<anyhow::Result<Vec<_>>>()?,
        None => vec![],
    };
    let results = evaluate_all(&catalog, &assignments, &exemptions, &subjects_from_documents(&resources), now());
    let resources: Vec<Value> = results
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "state": r.state.as_str(),
                "assignments": r.assignments.iter().map(|a| json!({
                    "id": a.id,
                    "state": a.state.as_str(),
                    "definitions": a.definitions,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let states = results.iter().map(|r| r.state);
    let summary = json!({"resources": results.len(), "compliance_percentage": attest_policy::state::compliance_percentage(states)});
    println!("{}", serde_json::to_string_pretty(&json!({"resources": resources, "summary": summary}))?);
    Ok(())
}

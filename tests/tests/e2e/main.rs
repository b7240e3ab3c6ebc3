//! The end-to-end suite against the real server, database and browser, as
//! one test binary: each module was its own binary before, and linking
//! fourteen copies of the server cost the suite minutes on two cores.
//! nextest still runs every test in its own process, so nothing is shared.

mod access;
mod access_flags;
mod authz;
mod browse;
mod browser;
mod checkpoints;
mod cli;
mod exemptions;
mod finding_identity;
mod findings;
mod http;
mod migrations;
mod pages;
mod policy_cli;
mod rbac_cli;
mod reviews;
mod scan;
mod snapshot_store;

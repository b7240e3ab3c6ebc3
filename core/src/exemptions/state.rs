//! The exemption state machine, pure: which decision may move a request
//! from which state, by whom. Everything that changes an exemption's state
//! asks here first, so the rules live in one place and are unit-tested.
//!
//! ```text
//! pending ──approve (enough distinct approvers)──▶ approved ──expire──▶ expired
//!    │  ╲──reject──▶ rejected                        ╲──revoke──▶ revoked
//!    ╲──withdraw (the requester)──▶ withdrawn
//! ```

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Approved,
    Rejected,
    Withdrawn,
    Expired,
    Revoked,
}

impl State {
    pub const ALL: [State; 6] =
        [State::Pending, State::Approved, State::Rejected, State::Withdrawn, State::Expired, State::Revoked];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Rejected => "rejected",
            State::Withdrawn => "withdrawn",
            State::Expired => "expired",
            State::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// No decision moves it any more.
    pub fn is_final(self) -> bool {
        !matches!(self, State::Pending | State::Approved)
    }
}

/// What someone (or the expiry job) decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Reject,
    Withdraw,
    Revoke,
    /// Only the expiry job decides this.
    Expire,
}

impl Decision {
    pub const ALL: [Decision; 5] =
        [Decision::Approve, Decision::Reject, Decision::Withdraw, Decision::Revoke, Decision::Expire];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
            Decision::Withdraw => "withdraw",
            Decision::Revoke => "revoke",
            Decision::Expire => "expire",
        }
    }

    pub fn parse(s: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Who is deciding, as the rules need to know them.
#[derive(Debug, Clone)]
pub struct Decider<'a> {
    pub name: &'a str,
    /// The expiry job, not a person.
    pub is_system: bool,
    /// Holds the approver role over the request's scope or one above it.
    pub may_approve: bool,
}

/// The request as the rules need to know it.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub state: State,
    pub requested_by: &'a str,
    /// Distinct approvers so far.
    pub approvals: &'a [String],
    /// 2 for high-severity controls, else 1.
    pub approvals_needed: usize,
    /// The expiry has passed.
    pub expired: bool,
}

/// What a permitted decision does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An approval counted; more are needed, so it stays pending.
    Counted { approvals: usize, needed: usize },
    /// The request moves to this state.
    Moves(State),
}

/// Why a decision is refused: not this person's to make (403), or not
/// possible in the request's state (409).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Forbidden(String),
    Conflict(String),
}

/// Decides whether `decision` by `who` applies to `request`, and what it does.
pub fn decide(request: &Request, decision: Decision, who: &Decider) -> Result<Outcome, Refusal> {
    let forbidden = |m: &str| Err(Refusal::Forbidden(m.to_string()));
    let conflict = |m: String| Err(Refusal::Conflict(m));
    let own = who.name == request.requested_by;
    match decision {
        Decision::Expire => {
            if !who.is_system {
                return forbidden("exemptions expire on their own; revoke one to end it early");
            }
            if request.state != State::Approved {
                return conflict(format!("a {} request does not expire", request.state.as_str()));
            }
            Ok(Outcome::Moves(State::Expired))
        }
        _ if who.is_system => forbidden("only people decide requests"),
        Decision::Withdraw => {
            if !own {
                return forbidden("only the requester withdraws a request");
            }
            if request.state != State::Pending {
                return conflict(format!(
                    "the request is {}; only a pending one can be withdrawn",
                    request.state.as_str()
                ));
            }
            Ok(Outcome::Moves(State::Withdrawn))
        }
        Decision::Approve | Decision::Reject => {
            if own {
                return forbidden("nobody decides their own request (separation of duties)");
            }
            if !who.may_approve {
                return forbidden("deciding needs the approver role over the request's scope or a scope above it");
            }
            if request.state != State::Pending {
                return conflict(format!("the request is already {}", request.state.as_str()));
            }
            if decision == Decision::Reject {
                return Ok(Outcome::Moves(State::Rejected));
            }
            if request.expired {
                return conflict("the requested expiry has passed; it can only be rejected or withdrawn".into());
            }
            if request.approvals.iter().any(|a| a == who.name) {
                return conflict(format!(
                    "{} has approved already; {} distinct approvers are needed",
                    who.name, request.approvals_needed
                ));
            }
            let approvals = request.approvals.len() + 1;
            if approvals >= request.approvals_needed {
                Ok(Outcome::Moves(State::Approved))
            } else {
                Ok(Outcome::Counted { approvals, needed: request.approvals_needed })
            }
        }
        Decision::Revoke => {
            if !own && !who.may_approve {
                return forbidden("revoking needs the approver role over the scope (or to be the requester)");
            }
            if request.state != State::Approved {
                return conflict(format!(
                    "the request is {}; only an approved one can be revoked",
                    request.state.as_str()
                ));
            }
            Ok(Outcome::Moves(State::Revoked))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(state: State, approvals: &[String], needed: usize) -> Request<'_> {
        Request { state, requested_by: "rita", approvals, approvals_needed: needed, expired: false }
    }

    const APPROVER: Decider = Decider { name: "anna", is_system: false, may_approve: true };
    const OTHER_APPROVER: Decider = Decider { name: "bert", is_system: false, may_approve: true };
    const REQUESTER: Decider = Decider { name: "rita", is_system: false, may_approve: false };
    const APPROVING_REQUESTER: Decider = Decider { name: "rita", is_system: false, may_approve: true };
    const OUTSIDER: Decider = Decider { name: "otto", is_system: false, may_approve: false };
    const SYSTEM: Decider = Decider { name: "system", is_system: true, may_approve: false };

    fn moves(r: Result<Outcome, Refusal>) -> State {
        match r {
            Ok(Outcome::Moves(s)) => s,
            other => panic!("expected a move, got {other:?}"),
        }
    }

    fn forbidden(r: Result<Outcome, Refusal>) {
        assert!(matches!(r, Err(Refusal::Forbidden(_))), "{r:?}");
    }

    fn conflict(r: Result<Outcome, Refusal>) {
        assert!(matches!(r, Err(Refusal::Conflict(_))), "{r:?}");
    }

    #[test]
    fn every_allowed_transition() {
        let none: Vec<String> = vec![];
        let p = request(State::Pending, &none, 1);
        assert_eq!(moves(decide(&p, Decision::Approve, &APPROVER)), State::Approved);
        assert_eq!(moves(decide(&p, Decision::Reject, &APPROVER)), State::Rejected);
        assert_eq!(moves(decide(&p, Decision::Withdraw, &REQUESTER)), State::Withdrawn);
        let a = request(State::Approved, &none, 1);
        assert_eq!(moves(decide(&a, Decision::Revoke, &APPROVER)), State::Revoked);
        assert_eq!(moves(decide(&a, Decision::Revoke, &REQUESTER)), State::Revoked);
        assert_eq!(moves(decide(&a, Decision::Expire, &SYSTEM)), State::Expired);
    }

    #[test]
    fn every_forbidden_transition_from_every_state() {
        let none: Vec<String> = vec![];
        // Which decisions each state permits at all (with the right person).
        let allowed = |s: State, d: Decision| {
            matches!(
                (s, d),
                (State::Pending, Decision::Approve | Decision::Reject | Decision::Withdraw)
                    | (State::Approved, Decision::Revoke | Decision::Expire)
            )
        };
        for state in State::ALL {
            let r = request(state, &none, 1);
            for d in Decision::ALL {
                let who = match d {
                    Decision::Expire => &SYSTEM,
                    Decision::Withdraw => &REQUESTER,
                    _ => &APPROVER,
                };
                let got = decide(&r, d, who);
                if allowed(state, d) {
                    assert!(got.is_ok(), "{state:?} {d:?}: {got:?}");
                } else {
                    conflict(got);
                }
                if state.is_final() {
                    assert!(decide(&r, d, who).is_err(), "{state:?} is final");
                }
            }
        }
    }

    #[test]
    fn separation_of_duties() {
        let none: Vec<String> = vec![];
        let p = request(State::Pending, &none, 1);
        // Nobody decides their own request, approver or not.
        forbidden(decide(&p, Decision::Approve, &APPROVING_REQUESTER));
        forbidden(decide(&p, Decision::Reject, &APPROVING_REQUESTER));
        // Deciding needs the approver role over the scope.
        forbidden(decide(&p, Decision::Approve, &OUTSIDER));
        forbidden(decide(&p, Decision::Reject, &OUTSIDER));
        // Only the requester withdraws; people never expire; the job never approves.
        forbidden(decide(&p, Decision::Withdraw, &APPROVER));
        forbidden(decide(&request(State::Approved, &none, 1), Decision::Expire, &APPROVER));
        forbidden(decide(&p, Decision::Approve, &SYSTEM));
        forbidden(decide(&request(State::Approved, &none, 1), Decision::Revoke, &OUTSIDER));
    }

    #[test]
    fn high_severity_needs_two_distinct_approvers() {
        let none: Vec<String> = vec![];
        let p = request(State::Pending, &none, 2);
        assert_eq!(decide(&p, Decision::Approve, &APPROVER), Ok(Outcome::Counted { approvals: 1, needed: 2 }));
        let one = vec!["anna".to_string()];
        let p = request(State::Pending, &one, 2);
        conflict(decide(&p, Decision::Approve, &APPROVER));
        assert_eq!(moves(decide(&p, Decision::Approve, &OTHER_APPROVER)), State::Approved);
        // A second approver may still reject.
        assert_eq!(moves(decide(&p, Decision::Reject, &OTHER_APPROVER)), State::Rejected);
    }

    #[test]
    fn a_request_whose_expiry_passed_cannot_be_approved() {
        let none: Vec<String> = vec![];
        let p = Request { expired: true, ..request(State::Pending, &none, 1) };
        conflict(decide(&p, Decision::Approve, &APPROVER));
        assert_eq!(moves(decide(&p, Decision::Reject, &APPROVER)), State::Rejected);
        assert_eq!(moves(decide(&p, Decision::Withdraw, &REQUESTER)), State::Withdrawn);
    }

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        for d in Decision::ALL {
            assert_eq!(Decision::parse(d.as_str()), Some(d));
        }
        assert_eq!(Decision::parse("approved"), None);
    }
}

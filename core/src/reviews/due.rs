//! Due dates: a campaign may say when it must be finished and what then
//! happens to what nobody decided (keep it, revoke it, or follow the
//! recommendation: revoke what is flagged, keep the rest). A few days
//! before, reviewers are reminded once; at the date the policy decides the
//! open items, each marked as not reviewed so nobody mistakes it for a
//! person's judgement, and Attest certifies the campaign. Every step is
//! audited in the transaction that takes it.

use super::MAX_COMMENT;
use crate::audit;
use crate::error::{CoreError, CoreResult};
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};

/// Who the audit log names for what the due date did.
pub const ACTOR: &str = "attest (due date)";

/// How long before the due date reviewers are reminded.
pub const REMIND_BEFORE: Duration = Duration::days(3);

/// Furthest a due date may lie ahead.
const MAX_AHEAD: Duration = Duration::days(366);

/// What the due date does to undecided items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDue {
    Keep,
    Revoke,
    /// Revoke what is flagged, keep the rest.
    Recommendation,
}

impl OnDue {
    pub const ALL: [OnDue; 3] = [OnDue::Keep, OnDue::Revoke, OnDue::Recommendation];

    pub fn as_str(self) -> &'static str {
        match self {
            OnDue::Keep => "keep",
            OnDue::Revoke => "revoke",
            OnDue::Recommendation => "recommendation",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OnDue::Keep => "keep what is undecided",
            OnDue::Revoke => "revoke what is undecided",
            OnDue::Recommendation => "follow the recommendation: revoke what is flagged, keep the rest",
        }
    }

    pub fn parse(s: &str) -> CoreResult<OnDue> {
        OnDue::ALL
            .into_iter()
            .find(|p| p.as_str() == s.trim())
            .ok_or_else(|| CoreError::invalid("on_due", format!("{s:?} is not keep, revoke or recommendation")))
    }
}

/// A due date and its policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub at: OffsetDateTime,
    pub on_due: OnDue,
}

impl Due {
    /// Reads a due date as a form or the API gives it: `YYYY-MM-DD` (the end
    /// of that day, UTC) or an RFC 3339 time, after `now` and within a
    /// year; an empty date is no due date.
    pub fn parse(date: &str, on_due: &str, now: OffsetDateTime) -> CoreResult<Option<Due>> {
        let date = date.trim();
        if date.is_empty() {
            return Ok(None);
        }
        let day = time::macros::format_description!("[year]-[month]-[day]");
        let at = match time::Date::parse(date, &day) {
            Ok(d) => d.with_hms(23, 59, 59).expect("a valid time").assume_utc(),
            Err(_) => OffsetDateTime::parse(date, &time::format_description::well_known::Rfc3339).map_err(|_| {
                CoreError::invalid("due", format!("{date:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"))
            })?,
        };
        if at <= now {
            return Err(CoreError::invalid("due", "the due date has passed"));
        }
        if at - now > MAX_AHEAD {
            return Err(CoreError::invalid("due", "at most a year ahead"));
        }
        let on_due = if on_due.trim().is_empty() { OnDue::Keep } else { OnDue::parse(on_due)? };
        Ok(Some(Due { at, on_due }))
    }
}

/// A reminder that a campaign falls due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reminder {
    pub campaign: i64,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    /// Items still undecided.
    pub open: i64,
    pub on_due: String,
}

/// A campaign the due date closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Closed {
    pub campaign: i64,
    pub name: String,
    /// Items the policy decided (not reviewed).
    pub decided: i64,
    pub on_due: String,
}

/// Reminds once of each campaign due within `REMIND_BEFORE` of `now` that
/// still has open items.
pub async fn remind(pool: &PgPool, now: OffsetDateTime) -> CoreResult<Vec<Reminder>> {
    let mut tx = pool.begin().await?;
    let due = sqlx::query!(
        r#"select c.id, c.name, c.due_at as "due_at!", c.on_due,
                  (select count(*) from review_items i where i.campaign_id = c.id and i.decision is null) as "open!"
             from review_campaigns c
            where c.certified_at is null and c.reminded_at is null and c.due_at is not null
              and c.due_at > $1 and c.due_at <= $2
            order by c.due_at, c.id
            for update of c skip locked"#,
        now,
        now + REMIND_BEFORE
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut out = Vec::new();
    for c in due.into_iter().filter(|c| c.open > 0) {
        sqlx::query!("update review_campaigns set reminded_at = $2 where id = $1", c.id, now).execute(&mut *tx).await?;
        audit::append(
            &mut tx,
            ACTOR,
            "review.remind",
            &format!("review:{}", c.id),
            json!({"due_at": crate::display::time(c.due_at), "open": c.open, "on_due": c.on_due}),
        )
        .await?;
        out.push(Reminder { campaign: c.id, name: c.name, due_at: c.due_at, open: c.open, on_due: c.on_due });
    }
    tx.commit().await?;
    Ok(out)
}

/// Closes every campaign past its due date at `now`: its policy decides the
/// open items (marked not reviewed) and Attest certifies it.
pub async fn close_due(pool: &PgPool, now: OffsetDateTime) -> CoreResult<Vec<Closed>> {
    let ids: Vec<i64> = sqlx::query_scalar!(
        "select id from review_campaigns where certified_at is null and due_at <= $1 order by due_at, id",
        now
    )
    .fetch_all(pool)
    .await?;
    let mut out = Vec::new();
    for id in ids {
        let mut tx = pool.begin().await?;
        // Locked, and still open and due once locked: a person may have
        // certified it meanwhile.
        let Some(c) = sqlx::query!(
            r#"select name, on_due, due_at as "due_at!" from review_campaigns
                where id = $1 and certified_at is null and due_at <= $2 for update"#,
            id,
            now
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            continue;
        };
        let policy = OnDue::parse(&c.on_due)?;
        let comment = format!(
            "Not reviewed: decided by the campaign's due date ({}), which was to {}.",
            crate::display::time(c.due_at),
            policy.label()
        );
        debug_assert!(comment.len() <= MAX_COMMENT);
        let decided: Vec<i64> = sqlx::query_scalar!(
            r#"update review_items
                  set decision = case $2
                                   when 'keep' then 'keep'
                                   when 'revoke' then 'revoke'
                                   else case when cardinality(flags) > 0 then 'revoke' else 'keep' end
                                 end,
                      new_role = null, new_scope = null, comment = $3, decided_by = $4, decided_at = $5,
                      not_reviewed = true
                where campaign_id = $1 and decision is null
                returning id"#,
            id,
            policy.as_str(),
            comment,
            ACTOR,
            now
        )
        .fetch_all(&mut *tx)
        .await?;
        let certify = format!(
            "Closed at its due date; {} undecided {} taken by its policy ({}).",
            decided.len(),
            if decided.len() == 1 { "item was" } else { "items were" },
            policy.as_str()
        );
        sqlx::query!(
            "update review_campaigns set certified_by = $2, certified_at = $3, certify_comment = $4, closed_at_due = true
              where id = $1",
            id,
            ACTOR,
            now,
            certify
        )
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            ACTOR,
            "review.close_due",
            &format!("review:{id}"),
            json!({"due_at": crate::display::time(c.due_at), "on_due": policy.as_str(), "not_reviewed": decided}),
        )
        .await?;
        tx.commit().await?;
        out.push(Closed { campaign: id, name: c.name, decided: decided.len() as i64, on_due: policy.as_str().into() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_due_date_is_a_day_or_a_time_ahead_within_a_year() {
        let now = datetime!(2026-12-04 12:00 UTC);
        let d = Due::parse("2026-12-18", "", now).unwrap().unwrap();
        assert_eq!(d, Due { at: datetime!(2026-12-18 23:59:59 UTC), on_due: OnDue::Keep });
        let d = Due::parse("2026-12-05T09:00:00Z", "recommendation", now).unwrap().unwrap();
        assert_eq!(d.on_due, OnDue::Recommendation);
        assert_eq!(Due::parse("  ", "revoke", now).unwrap(), None);
        for (date, policy, field) in [
            ("2026-12-03", "keep", "due"),
            ("2028-01-01", "keep", "due"),
            ("next friday", "keep", "due"),
            ("2026-12-18", "archive", "on_due"),
        ] {
            match Due::parse(date, policy, now) {
                Err(CoreError::Invalid { field: f, .. }) => assert_eq!(f, field, "{date} {policy}"),
                other => panic!("{date} {policy}: {other:?}"),
            }
        }
    }
}

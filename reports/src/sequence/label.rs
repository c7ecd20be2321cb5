//! The words of the diagram: arrow labels read from a message's typed fields, and the
//! times and counts printed on the axis and in the note. Shared by the SVG and the Mermaid
//! text, so both say the same.

use raft::events::MessageFields;

use super::LABEL_MAX_CHARS;
use crate::model::MessageRecord;

/// Seconds with millisecond precision: `2.104 s`.
pub(super) fn seconds(t_us: u64) -> String {
    format!("{}.{:03} s", t_us / 1_000_000, (t_us % 1_000_000) / 1000)
}

/// `18403` -> `18 403`.
pub(super) fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// A short label for an arrow: kind and the key fields, compacted, read from the
/// message's typed fields.
pub fn arrow_label(message: &MessageRecord) -> String {
    let kind = message.kind.as_str();
    let Some(fields) = message.raft() else {
        let text = if message.detail.is_empty() {
            kind.to_string()
        } else {
            format!("{kind} {}", message.detail)
        };
        return shorten(&text, LABEL_MAX_CHARS);
    };
    let term = fields.term().map(|t| format!(" t{t}")).unwrap_or_default();
    let text = match fields {
        MessageFields::Append {
            prev_index,
            prev_term,
            entries,
            commit,
            ..
        } => format!("append-entries{term} +{entries} prev={prev_index}/{prev_term} c={commit}"),
        MessageFields::AppendAccepted { match_index, .. } => {
            format!("append-resp{term} ok match={match_index}")
        }
        MessageFields::AppendRejected { rejected_index, .. } => {
            format!("append-resp{term} rejected at {rejected_index}")
        }
        MessageFields::Heartbeat { commit, .. } => format!("heartbeat{term} c={commit}"),
        MessageFields::Vote {
            last_index,
            last_term,
            ..
        } => format!("{kind}{term} last={last_index}/{last_term}"),
        MessageFields::VoteResp { refused, .. } => {
            let answer = if refused.is_none() {
                "granted"
            } else {
                "refused"
            };
            format!("{kind}{term} {answer}")
        }
        MessageFields::Term { .. } => format!("{kind}{term}"),
        MessageFields::Snapshot {
            index,
            snapshot_term,
            ..
        } => format!("{kind}{term} {index}/{snapshot_term}"),
        MessageFields::SnapshotResp { last_index, .. } => {
            format!("{kind}{term} last={last_index}")
        }
        MessageFields::ReadIndexResp { index, .. } => format!("{kind}{term} index={index}"),
        MessageFields::Request { request, op } => format!("{kind} req={request} {op}"),
        MessageFields::Reply { request, answer } => format!("{kind} req={request} {answer}"),
        MessageFields::Push { seq, output } => format!("{kind} seq={seq} {output}"),
    };
    shorten(&text, LABEL_MAX_CHARS)
}

/// Cuts `text` to `max` characters with an ellipsis.
pub(super) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

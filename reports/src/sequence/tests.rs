//! Unit tests of the sequence diagram's pure parts: labels, gaps, Mermaid escaping.

use raft::events::MessageFields;
use sim_core::{EventId, LayerRecord, MessageId, NodeId};

use super::label::grouped;
use super::scale::gap_px;
use super::*;
use crate::model::Fate;

fn message(kind: &str, fields: MessageFields) -> MessageRecord {
    let record = LayerRecord::new(fields);
    MessageRecord {
        id: MessageId(7),
        from: NodeId(2),
        to: NodeId(1),
        kind: kind.to_string(),
        detail: record.summary(),
        fields: Some(record),
        sent_us: 0,
        send_event: EventId(0),
        fate: Fate::InFlight,
    }
}

#[test]
fn labels_read_the_typed_fields() {
    // The label once parsed `rejected_index:` out of text the driver no longer wrote,
    // and said "rejected at ?".
    let rejected = message(
        "append-entries-resp",
        MessageFields::AppendRejected {
            term: 3,
            rejected_index: 9,
            hint_index: 6,
            hint_term: 2,
        },
    );
    assert_eq!(arrow_label(&rejected), "append-resp t3 rejected at 9");
    assert_eq!(ack_match(&rejected), None);
    let accepted = message(
        "append-entries-resp",
        MessageFields::AppendAccepted {
            term: 3,
            match_index: 12,
        },
    );
    assert_eq!(arrow_label(&accepted), "append-resp t3 ok match=12");
    assert_eq!(ack_match(&accepted), Some(12));
    let write = message(
        "client-write",
        MessageFields::Request {
            request: 4,
            op: "put count=5".into(),
        },
    );
    assert_eq!(arrow_label(&write), "client-write req=4 put count=5");
}

#[test]
fn gaps_keep_order_and_grow_with_time() {
    assert_eq!(gap_px(0), 0.0);
    let (a, b, c) = (gap_px(1), gap_px(1_000), gap_px(300_000));
    assert!(ROW_MIN_PX <= a && a < b && b < c && c <= GAP_MAX_PX);
}

#[test]
fn mermaid_text_escapes_what_mermaid_parses() {
    assert_eq!(
        mermaid_text("a;b #c <d> {e}"),
        "a#59;b #35;c #lt;d#gt; #123;e#125;"
    );
}

#[test]
fn numbers_are_grouped_by_thousands() {
    assert_eq!(grouped(18403), "18 403");
    assert_eq!(grouped(212), "212");
    assert_eq!(grouped(1_000_000), "1 000 000");
}

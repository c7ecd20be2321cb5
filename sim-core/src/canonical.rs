//! The canonical encoding of a trace event, the bytes the trace hash is taken over
//! ([`crate::trace::TraceHasher`]).
//!
//! The encoding is postcard's (serde's compact binary format) of the event's id, time,
//! node and kind, in that order: integers as varints, strings and sequences with their
//! length first, an internally tagged enum as its tag string followed by its fields, a
//! field that JSON skips (a main port, an empty detail, no message fields) left out, and a
//! layer event as its layer's name and then its own value.
//!
//! Why this module writes the bytes itself rather than letting serde drive postcard: the
//! hash is taken over every event of every run, and going through serde cost about 740
//! instructions an event in a `partition-5node` run (a fifth of the whole run), most of it
//! serde's generic machinery and, for layer events, `erased_serde`'s dynamic calls for each
//! field. The world's own events are a handful of integers and short strings, so
//! [`encode`] writes the frequent kinds directly; a layer event's value is encoded by
//! postcard through a method monomorphized for the layer's type (one dynamic call a
//! record, see [`crate::layer::LayerRecord::encode_canonical`]); the rare kinds (run start,
//! crashes, faults) still go through serde. The bytes are postcard's exactly: a test
//! compares them with `postcard::to_allocvec` for every kind, and the trace hashes pinned
//! in the golden files did not change when this module replaced serde.

use serde::Serialize;

use crate::ids::{EventId, NodeId};
use crate::time::SimTime;
use crate::trace::{EventKind, TraceEvent};
use crate::Port;

/// One event in the canonical field order, for the kinds that go through serde (the
/// event's own serde form flattens its kind, which postcard cannot write).
#[derive(Serialize)]
pub(crate) struct CanonicalEvent<'a> {
    pub(crate) id: EventId,
    pub(crate) t_us: SimTime,
    pub(crate) node: Option<NodeId>,
    pub(crate) kind: &'a EventKind,
}

/// Appends `value` as a postcard varint (LEB128: seven bits a byte, low bits first).
#[inline]
pub(crate) fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a string as postcard does: its length, then its bytes.
#[inline]
fn string(out: &mut Vec<u8>, text: &str) {
    varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// A port field that JSON skips when it is the main one (`skip_serializing_if`).
#[inline]
fn port(out: &mut Vec<u8>, port: Port) {
    if !port.is_main() {
        varint(out, u64::from(port.0));
    }
}

/// A detail string that JSON skips when empty.
#[inline]
fn detail(out: &mut Vec<u8>, text: &str) {
    if !text.is_empty() {
        string(out, text);
    }
}

/// Appends the canonical encoding of `event` to `out` (see the module docs).
///
/// # Panics
///
/// Never in practice: postcard writes every event type into a `Vec`.
pub(crate) fn encode(event: &TraceEvent, out: &mut Vec<u8>) {
    let start = out.len();
    varint(out, event.id.0);
    varint(out, event.t_us.0);
    match event.node {
        None => out.push(0),
        Some(node) => {
            out.push(1);
            varint(out, u64::from(node.0));
        }
    }
    match &event.kind {
        EventKind::Send {
            msg,
            to,
            from_port,
            to_port,
            kind,
            fields,
        } => {
            string(out, "send");
            varint(out, msg.0);
            varint(out, u64::from(to.0));
            port(out, *from_port);
            port(out, *to_port);
            string(out, kind);
            if let Some(record) = fields {
                out.push(1);
                record.encode_canonical(out);
            }
        }
        EventKind::Deliver {
            msg,
            from,
            from_port,
            to_port,
        } => {
            string(out, "deliver");
            varint(out, msg.0);
            varint(out, u64::from(from.0));
            port(out, *from_port);
            port(out, *to_port);
        }
        EventKind::Drop {
            msg,
            from,
            to,
            reason,
            from_port,
            to_port,
        } => {
            string(out, "drop");
            varint(out, msg.0);
            varint(out, u64::from(from.0));
            varint(out, u64::from(to.0));
            varint(out, *reason as u64);
            port(out, *from_port);
            port(out, *to_port);
        }
        EventKind::DiskWrite { file, bytes } => {
            string(out, "disk-write");
            string(out, file);
            varint(out, *bytes);
        }
        EventKind::FsyncStart { file, fsync } => {
            string(out, "fsync-start");
            string(out, file);
            varint(out, *fsync);
        }
        EventKind::FsyncEnd {
            file,
            fsync,
            synced_bytes,
        } => {
            string(out, "fsync-end");
            string(out, file);
            varint(out, *fsync);
            varint(out, *synced_bytes);
        }
        EventKind::ClientInvoke { op, f, detail: d } => {
            string(out, "client-invoke");
            varint(out, op.0);
            string(out, f);
            detail(out, d);
        }
        EventKind::ClientComplete {
            op,
            outcome,
            detail: d,
        } => {
            string(out, "client-complete");
            varint(out, op.0);
            varint(out, *outcome as u64);
            detail(out, d);
        }
        EventKind::Layer(record) => {
            string(out, "layer");
            record.encode_canonical(out);
        }
        EventKind::Note { label, detail: d } => {
            string(out, "note");
            string(out, label);
            detail(out, d);
        }
        EventKind::NodeStart { incarnation } => {
            string(out, "node-start");
            varint(out, u64::from(*incarnation));
        }
        EventKind::NodePause => string(out, "node-pause"),
        EventKind::NodeResume => string(out, "node-resume"),
        EventKind::RunEnd => string(out, "run-end"),
        EventKind::RunStart { .. } | EventKind::NodeCrash { .. } | EventKind::Fault { .. } => {
            out.truncate(start);
            let canonical = CanonicalEvent {
                id: event.id,
                t_us: event.t_us,
                node: event.node,
                kind: &event.kind,
            };
            let bytes = std::mem::take(out);
            *out = postcard::to_extend(&canonical, bytes)
                .expect("every trace event encodes in postcard");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::PingMsg;
    use crate::fault::FaultOp;
    use crate::history::OpOutcome;
    use crate::ids::{MessageId, OpId};
    use crate::layer::LayerRecord;
    use crate::trace::{CrashCause, DropReason};
    use crate::Directory;

    /// Every kind, with the optional fields both present and absent.
    fn every_kind() -> Vec<EventKind> {
        let ping = || Some(LayerRecord::new(PingMsg::Ping { seq: 300 }));
        let mut kinds = vec![
            EventKind::RunStart {
                seed: 7,
                nodes: vec![NodeId(1), NodeId(2)],
                directory: Directory::numbered(2),
            },
            EventKind::NodeStart { incarnation: 2 },
            EventKind::NodeCrash {
                cause: CrashCause::PowerFail,
                lost_bytes: 130,
                torn_bytes_kept: 3,
            },
            EventKind::NodePause,
            EventKind::NodeResume,
            EventKind::Fault {
                fault: FaultOp::Heal,
            },
            EventKind::DiskWrite {
                file: "wal".into(),
                bytes: 1 << 20,
            },
            EventKind::FsyncStart {
                file: "snap".into(),
                fsync: 129,
            },
            EventKind::FsyncEnd {
                file: "wal".into(),
                fsync: 129,
                synced_bytes: 0,
            },
            EventKind::Note {
                label: "recovered".into(),
                detail: String::new(),
            },
            EventKind::Note {
                label: "role-target".into(),
                detail: "leader is n3, ünïcode".into(),
            },
            EventKind::Layer(LayerRecord::new(PingMsg::Pong { seq: 1 })),
            EventKind::RunEnd,
        ];
        for (from_port, to_port) in [(Port::MAIN, Port::MAIN), (Port(1), Port(300))] {
            for fields in [None, ping()] {
                kinds.push(EventKind::Send {
                    msg: MessageId(u64::MAX),
                    to: NodeId(200),
                    from_port,
                    to_port,
                    kind: "ping".into(),
                    fields,
                });
            }
            kinds.push(EventKind::Deliver {
                msg: MessageId(127),
                from: NodeId(128),
                from_port,
                to_port,
            });
            for reason in [DropReason::Partitioned, DropReason::NoSuchPort] {
                kinds.push(EventKind::Drop {
                    msg: MessageId(0),
                    from: NodeId(1),
                    to: NodeId(2),
                    reason,
                    from_port,
                    to_port,
                });
            }
        }
        for (outcome, detail) in [(OpOutcome::Ok, ""), (OpOutcome::Info, "k0 = v1")] {
            kinds.push(EventKind::ClientInvoke {
                op: OpId(16_384),
                f: "put".into(),
                detail: detail.into(),
            });
            kinds.push(EventKind::ClientComplete {
                op: OpId(16_384),
                outcome,
                detail: detail.into(),
            });
        }
        kinds
    }

    #[test]
    fn the_bytes_are_postcards_for_every_kind() {
        for (i, kind) in every_kind().into_iter().enumerate() {
            for node in [None, Some(NodeId(1)), Some(NodeId(u32::MAX))] {
                let event = TraceEvent {
                    id: EventId(i as u64 * 1_000),
                    t_us: SimTime(u64::MAX - i as u64),
                    node,
                    kind: kind.clone(),
                };
                let by_serde = postcard::to_allocvec(&CanonicalEvent {
                    id: event.id,
                    t_us: event.t_us,
                    node: event.node,
                    kind: &event.kind,
                })
                .unwrap();
                let mut mine = vec![0xAA];
                encode(&event, &mut mine);
                assert_eq!(mine[0], 0xAA, "encode appends");
                assert_eq!(mine[1..], by_serde[..], "{event:?}");
            }
        }
    }

    #[test]
    fn varints_are_leb128() {
        for (value, bytes) in [
            (0u64, vec![0u8]),
            (127, vec![0x7f]),
            (128, vec![0x80, 0x01]),
            (300, vec![0xac, 0x02]),
            (
                u64::MAX,
                vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ] {
            let mut out = Vec::new();
            varint(&mut out, value);
            assert_eq!(out, bytes, "{value}");
            assert_eq!(postcard::to_allocvec(&value).unwrap(), bytes);
        }
    }
}

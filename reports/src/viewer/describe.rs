//! One line of words per trace event, for the viewer's event list: sim-core's own events
//! and each layer's typed events, said with the run's node names.

use std::collections::BTreeMap;

use raft::core::Role;
use raft::etcd::events::EtcdEvent;
use raft::events::RaftEvent;
use sim_core::trace::CrashCause;
use sim_core::{Directory, EventKind, FaultOp, LayerRecord, MessageId, OpOutcome, TraceEvent};

use crate::model::{fault_label, node_set};

/// Writes one line per event; remembers each message's kind so a delivery can say what
/// arrived.
#[derive(Debug, Default)]
pub(super) struct Describer {
    pub(super) message_kinds: BTreeMap<MessageId, String>,
    /// The run's names, for who did what.
    pub(super) directory: sim_core::Directory,
}

impl Describer {
    /// Takes what later descriptions need from an event that is not described.
    pub(super) fn note(&mut self, event: &TraceEvent) {
        if let EventKind::Send { msg, kind, .. } = &event.kind {
            self.message_kinds.insert(*msg, kind.to_string());
        }
    }

    fn kind_of(&mut self, msg: MessageId) -> String {
        // Each message is delivered or dropped once; forget it then to keep the map small.
        self.message_kinds
            .remove(&msg)
            .unwrap_or_else(|| "message".to_string())
    }

    pub(super) fn describe(&mut self, event: &TraceEvent) -> String {
        let who = event.node.map_or_else(
            || "the world".to_string(),
            |n| self.directory.name(n).to_string(),
        );
        let with_detail = |text: String, detail: &str| {
            if detail.is_empty() {
                text
            } else {
                format!("{text} ({detail})")
            }
        };
        match &event.kind {
            EventKind::RunStart { seed, nodes, .. } => {
                format!(
                    "run starts: seed {seed}, nodes {}",
                    node_set(nodes, &self.directory)
                )
            }
            EventKind::NodeStart { incarnation } => {
                if *incarnation <= 1 {
                    format!("{who} starts")
                } else {
                    format!("{who} starts again from its disk (incarnation {incarnation})")
                }
            }
            EventKind::NodeCrash {
                cause, lost_bytes, ..
            } => {
                let cause = match cause {
                    CrashCause::Kill => "killed",
                    CrashCause::PowerFail => "loses power",
                    CrashCause::Restart => "is stopped for a restart",
                    CrashCause::Exited => "exits",
                };
                format!("{who} {cause}; {lost_bytes} unsynced bytes lost")
            }
            EventKind::NodePause => format!("{who} is paused"),
            EventKind::NodeResume => format!("{who} resumes"),
            EventKind::Send {
                msg,
                to,
                kind,
                fields,
                ..
            } => {
                self.message_kinds.insert(*msg, kind.to_string());
                let detail = fields
                    .as_ref()
                    .map(LayerRecord::summary)
                    .unwrap_or_default();
                with_detail(format!("{who} sends {kind} {msg} to {to}"), &detail)
            }
            EventKind::Deliver { msg, from, .. } => {
                let kind = self.kind_of(*msg);
                format!("{who} receives {kind} {msg} from {from}")
            }
            EventKind::Drop {
                msg,
                from,
                to,
                reason,
                ..
            } => {
                let kind = self.kind_of(*msg);
                format!(
                    "network drops {kind} {msg} from {from} to {to}: {}",
                    reason.as_str()
                )
            }
            EventKind::Fault { fault } => {
                let label = fault_label(fault, &self.directory);
                match fault {
                    FaultOp::Heal => "fault schedule: heal the network".to_string(),
                    FaultOp::HealAll => "fault schedule: heal everything".to_string(),
                    _ => format!("fault schedule: {label}"),
                }
            }
            EventKind::DiskWrite { file, bytes } => {
                format!("{who} writes {bytes} bytes to {file} (not yet durable)")
            }
            EventKind::FsyncStart { file, fsync } => {
                format!("{who} starts fsync #{fsync} of {file}")
            }
            EventKind::FsyncEnd {
                file,
                fsync,
                synced_bytes,
            } => format!("{who} finishes fsync #{fsync} of {file}: {synced_bytes} bytes durable"),
            EventKind::ClientInvoke { op, f, detail } => {
                with_detail(format!("{who} invokes {op}: {f}"), detail)
            }
            EventKind::ClientComplete {
                op,
                outcome,
                detail,
            } => {
                let outcome = match outcome {
                    OpOutcome::Ok => "completes ok",
                    OpOutcome::Fail => "fails",
                    OpOutcome::Info => "ends indeterminate (it may or may not have happened)",
                };
                with_detail(format!("{who}: {op} {outcome}"), detail)
            }
            EventKind::Layer(record) => {
                if let Some(raft) = record.get::<RaftEvent>() {
                    describe_raft(&who, raft, &self.directory)
                } else if let Some(etcd) = record.get::<EtcdEvent>() {
                    describe_etcd(&who, etcd)
                } else {
                    format!("{who}: {record:?}")
                }
            }
            EventKind::Note { label, detail } => with_detail(format!("{who}: {label}"), detail),
            EventKind::RunEnd => "run ends".to_string(),
        }
    }
}

/// One Raft event in words.
fn describe_raft(who: &str, event: &RaftEvent, directory: &Directory) -> String {
    match event {
        RaftEvent::Role { role, term, leader } => {
            let leader = match (role, leader) {
                (Role::Leader, _) => String::new(),
                (_, Some(l)) => format!(", following {l}"),
                (_, None) => ", no known leader".to_string(),
            };
            format!("{who} becomes {} in term {term}{leader}", role.as_str())
        }
        RaftEvent::Vote {
            candidate,
            term,
            pre_vote,
            refused,
        } => {
            let what = if *pre_vote { "pre-vote" } else { "vote" };
            let candidate = directory.name(*candidate);
            match refused {
                None => format!("{who} grants its {what} to {candidate} for term {term}"),
                Some(reason) => {
                    format!("{who} refuses its {what} to {candidate} for term {term} ({reason})")
                }
            }
        }
        RaftEvent::HardState { term, vote, commit } => {
            let vote = vote.map_or_else(|| "none".to_string(), |v| v.to_string());
            format!("{who} persists term {term}, vote {vote}, commit {commit}")
        }
        RaftEvent::LogAppend { entries } => match (entries.first(), entries.last()) {
            (Some(first), _) if entries.len() == 1 => format!(
                "{who} appends entry {} (term {}) to its log",
                first.index, first.term
            ),
            (Some(first), Some(last_entry)) => format!(
                "{who} appends entries {}..{} (terms {}..{}) to its log",
                first.index, last_entry.index, first.term, last_entry.term
            ),
            _ => format!("{who} appends no entries"),
        },
        RaftEvent::LogTruncate { from_index } => {
            format!("{who} removes its log entries from {from_index} on (conflict)")
        }
        RaftEvent::Commit { index, term } => {
            format!("{who} commits up to entry {index} (term {term})")
        }
        RaftEvent::Apply { index, term, .. } => {
            format!("{who} applies entry {index} (term {term})")
        }
        RaftEvent::Snapshot {
            index,
            term,
            installed,
        } => {
            if *installed {
                format!("{who} installs the leader's snapshot up to {index} (term {term})")
            } else {
                format!("{who} snapshots its state up to {index} (term {term})")
            }
        }
        RaftEvent::Membership { voters, learners } => {
            let mut text = format!("{who} sees voters {}", node_set(voters, directory));
            if !learners.is_empty() {
                text.push_str(&format!(", learners {}", node_set(learners, directory)));
            }
            text
        }
        RaftEvent::ConfChangeProposed {
            change,
            index,
            term,
        } => format!("{who} proposes the membership change {change} at {index} (term {term})"),
        RaftEvent::ConfChangeRefused { change, reason } => {
            format!("{who} refuses the membership change {change}: {reason}")
        }
        RaftEvent::CheckQuorumFailed { term } => format!(
            "{who} steps down in term {term}: no quorum heard from within an election timeout"
        ),
        RaftEvent::Ignored { from, term, reason } => format!(
            "{who} ignores a message from {} (term {term}): {reason}",
            directory.name(*from)
        ),
        RaftEvent::WalTornTail { discarded_bytes } => format!(
            "{who} finds a torn record at the end of its WAL and discards {discarded_bytes} bytes"
        ),
    }
}

/// One etcd event in words.
fn describe_etcd(who: &str, event: &EtcdEvent) -> String {
    match event {
        EtcdEvent::WatchOpen {
            watch,
            key,
            range_end,
            start_revision,
            server,
        } => {
            let range = range_end
                .as_ref()
                .map_or_else(|| key.clone(), |end| format!("[{key}, {end})"));
            format!(
                "{who} opens watch {watch} on {range} from revision {start_revision} at {server}"
            )
        }
        EtcdEvent::WatchDelivery {
            watch,
            header_revision,
            changes,
            canceled,
        } => {
            if *canceled {
                format!("{who}: watch {watch} canceled by the server (revision {header_revision})")
            } else {
                format!(
                    "{who}: watch {watch} delivers {} change(s) (revision {header_revision})",
                    changes.len()
                )
            }
        }
    }
}

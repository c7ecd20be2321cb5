//! `acked-writes-recovered`: after the power failures, every key reads back (through a
//! linearizable get, once the writers have stopped) as its newest acknowledged write, and
//! the acknowledged writes themselves, read from the history. Apart from the scenario's
//! driver because it reads only the finished run's history.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sim_core::{Check, CheckKind, EntryType, Evidence, History, NodeId, Outcome, RunView, SimTime};

/// An acknowledged write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AckedWrite {
    /// The operation.
    pub op: u64,
    /// Its client.
    pub client: NodeId,
    /// The key.
    pub key: String,
    /// The value written.
    pub value: String,
    /// The revision etcd answered.
    pub revision: u64,
    /// The log entry.
    pub index: u64,
    /// See `index`.
    pub term: u64,
    /// When it was acknowledged, microseconds.
    #[serde(skip)]
    pub acked_at: SimTime,
}

/// Every acknowledged `put` of a history, in acknowledgement order.
pub fn acked_puts(history: &History) -> Vec<AckedWrite> {
    let mut invoked: BTreeMap<sim_core::OpId, (Option<String>, String)> = BTreeMap::new();
    let mut acked = Vec::new();
    for e in &history.entries {
        if e.f != "put" {
            continue;
        }
        match e.entry_type {
            EntryType::Invoke => {
                let value = e.value["value"].as_str().unwrap_or_default().to_string();
                invoked.insert(e.op, (e.key.clone(), value));
            }
            EntryType::Ok => {
                let Some((Some(key), value)) = invoked.get(&e.op).cloned() else {
                    continue;
                };
                let field = |name: &str| e.value[name].as_u64().unwrap_or(0);
                acked.push(AckedWrite {
                    op: e.op.0,
                    client: e.client,
                    key,
                    value,
                    revision: field("revision"),
                    index: field("index"),
                    term: field("term"),
                    acked_at: e.t_us,
                });
            }
            _ => {}
        }
    }
    acked
}

/// The values of `put`s whose outcome is unknown (timed out, or never answered), by key.
fn indeterminate_puts(history: &History) -> BTreeMap<String, BTreeSet<String>> {
    let mut open: BTreeMap<sim_core::OpId, (String, String)> = BTreeMap::new();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in &history.entries {
        if e.f != "put" {
            continue;
        }
        match e.entry_type {
            EntryType::Invoke => {
                if let Some(key) = &e.key {
                    let value = e.value["value"].as_str().unwrap_or_default().to_string();
                    open.insert(e.op, (key.clone(), value));
                }
            }
            EntryType::Info => {
                if let Some((key, value)) = open.remove(&e.op) {
                    out.entry(key).or_default().insert(value);
                }
            }
            EntryType::Ok | EntryType::Fail => {
                open.remove(&e.op);
            }
        }
    }
    for (key, value) in open.into_values() {
        out.entry(key).or_default().insert(value);
    }
    out
}

/// `acked-writes-recovered` (safety): after the power failures and recovery, with every
/// writer stopped and every write answered, a linearizable get of each key returns the
/// newest acknowledged write of that key (the one with the highest revision), or a later
/// write whose outcome was unknown. Two acknowledged writes sharing a revision also fail
/// it: etcd gives each write its own revision, so the first was lost and its revision
/// reused.
#[derive(Clone, Copy, Debug)]
pub struct AckedWritesRecovered {
    /// When the read-back began (None: the run never got there).
    pub verify_from: Option<SimTime>,
}

impl AckedWritesRecovered {
    fn lost(w: &AckedWrite, how: String) -> Outcome {
        Outcome::violation(
            format!(
                "the write put {}={} acknowledged to {} at {} (revision {}, index {}, term {}) was lost: {how}",
                w.key, w.value, w.client, w.acked_at, w.revision, w.index, w.term
            ),
            vec![Evidence {
                event: None,
                t_us: Some(w.acked_at),
                node: Some(w.client),
                note: format!(
                    "op {} put {}={} acknowledged at revision {} (index {}, term {})",
                    w.op, w.key, w.value, w.revision, w.index, w.term
                ),
            }],
        )
    }
}

impl Check for AckedWritesRecovered {
    fn name(&self) -> &'static str {
        "acked-writes-recovered"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let acked = acked_puts(run.history);
        let mut by_revision: BTreeMap<u64, &AckedWrite> = BTreeMap::new();
        for w in &acked {
            if let Some(first) = by_revision.insert(w.revision, w) {
                return Self::lost(
                    first,
                    format!(
                        "its revision {} was acknowledged again to {} for put {}={} at {}",
                        w.revision, w.client, w.key, w.value, w.acked_at
                    ),
                );
            }
        }
        let Some(verify_from) = self.verify_from else {
            return Outcome::Unknown {
                reason: "the run never reached the read-back".into(),
            };
        };
        let mut newest: BTreeMap<&str, &AckedWrite> = BTreeMap::new();
        for w in &acked {
            let slot = newest.entry(w.key.as_str()).or_insert(w);
            if w.revision > slot.revision {
                *slot = w;
            }
        }
        // The last successful read-back of each key.
        let mut invoked_at: BTreeMap<sim_core::OpId, SimTime> = BTreeMap::new();
        let mut read: BTreeMap<String, (Option<String>, u64)> = BTreeMap::new();
        for e in &run.history.entries {
            if e.f != "get" {
                continue;
            }
            match e.entry_type {
                EntryType::Invoke => {
                    invoked_at.insert(e.op, e.t_us);
                }
                EntryType::Ok if invoked_at.get(&e.op).is_some_and(|t| *t >= verify_from) => {
                    if let Some(key) = &e.key {
                        let value = e.value["value"].as_str().map(str::to_string);
                        let revision = e.value["mod_revision"].as_u64().unwrap_or(0);
                        read.insert(key.clone(), (value, revision));
                    }
                }
                _ => {}
            }
        }
        let unknown = indeterminate_puts(run.history);
        let mut unread = Vec::new();
        for (key, w) in newest {
            let Some((value, revision)) = read.get(key) else {
                unread.push(key);
                continue;
            };
            let same = value.as_deref() == Some(w.value.as_str()) && *revision == w.revision;
            let later_unknown = *revision > w.revision
                && value
                    .as_ref()
                    .is_some_and(|v| unknown.get(key).is_some_and(|s| s.contains(v)));
            if !same && !later_unknown {
                return Self::lost(
                    w,
                    format!(
                        "after recovery {key} reads {} at revision {revision}",
                        value.as_deref().unwrap_or("(absent)")
                    ),
                );
            }
        }
        if unread.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Unknown {
                reason: format!("never read back: {}", unread.join(", ")),
            }
        }
    }
}

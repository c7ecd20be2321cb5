//! Watches (etcd `server/storage/mvcc/watchable_store.go`, `api/v3rpc/watch.go`): each
//! node's own, in memory, neither replicated nor in snapshots. A client that loses its
//! node re-creates its watches elsewhere from the last revision it saw.
//!
//! A watcher remembers the next revision it has not been sent. After every apply (and
//! after a snapshot restore) [`WatchHub::sync`] sends each watcher the events of every
//! revision from there to the current one that touch its range, whole revisions at a
//! time, oldest first; so across replay and live delivery there is never a gap, a
//! duplicate, or a revision split over two responses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sim_core::NodeId;

use super::mvcc::Mvcc;
use super::request::{Response, WatchCreateRequest};
use super::types::{EtcdError, Event, KeyRange, ResponseHeader, Revision};

/// How often idle watchers that asked for it hear the current revision (etcd
/// `v3rpc.progressReportInterval`, 10 minutes).
pub const DEFAULT_PROGRESS_INTERVAL_US: u64 = 600_000_000;

/// Most revisions in one events response while catching up (etcd
/// `mvcc.watchBatchMaxRevs`).
pub const DEFAULT_MAX_REVISIONS_PER_RESPONSE: usize = 1000;

/// etcd's reason for refusing a watch id that is in use (`mvcc.ErrWatcherDuplicateID`).
pub const DUPLICATE_WATCH_ID: &str = "mvcc: duplicate watch ID provided";

/// etcd's reason for cancelling a watch that does not exist (`mvcc.ErrWatcherNotExist`).
pub const WATCHER_NOT_EXIST: &str = "mvcc: watcher does not exist";

/// Watch timing and batching.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchConfig {
    /// Interval between progress notifications.
    pub progress_interval_us: u64,
    /// Most revisions per events response (at least 1).
    pub max_revisions_per_response: usize,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            progress_interval_us: DEFAULT_PROGRESS_INTERVAL_US,
            max_revisions_per_response: DEFAULT_MAX_REVISIONS_PER_RESPONSE,
        }
    }
}

/// One watch.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Watcher {
    range: KeyRange,
    /// The first revision not yet sent.
    next_revision: u64,
    prev_kv: bool,
    progress_notify: bool,
    /// Whether events went out since the last progress round (etcd only sends progress
    /// to watches that were idle).
    sent_since_progress: bool,
}

/// The watches of one node, and the responses they have to send.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WatchHub {
    config: WatchConfig,
    /// By (client, the client's watch id).
    watchers: BTreeMap<(NodeId, u64), Watcher>,
    pushes: Vec<(NodeId, Response)>,
    /// When the next progress round is due; set by the first [`WatchHub::progress`].
    next_progress_us: Option<u64>,
}

impl WatchHub {
    /// No watches.
    pub fn new(config: WatchConfig) -> Self {
        WatchHub {
            config,
            ..WatchHub::default()
        }
    }

    /// How many watches are open.
    pub fn len(&self) -> usize {
        self.watchers.len()
    }

    /// Whether no watch is open.
    pub fn is_empty(&self) -> bool {
        self.watchers.is_empty()
    }

    /// The next revision a watch will be sent, if it exists.
    pub fn next_revision(&self, owner: NodeId, watch_id: u64) -> Option<Revision> {
        self.watchers
            .get(&(owner, watch_id))
            .map(|w| Revision(w.next_revision))
    }

    /// Starts a watch. Returns the answer to the request; the replay of history from
    /// `start_revision` (if older than now) is queued for [`WatchHub::take_pushes`], to
    /// be sent after the answer.
    ///
    /// A start revision below the compact revision is refused as etcd does: a
    /// [`Response::WatchCanceled`] carrying the compact revision, so the client re-reads
    /// and watches from a newer revision. A start revision in the future is accepted; the
    /// watch reports from there once the store gets there.
    pub fn create(&mut self, owner: NodeId, req: &WatchCreateRequest, mvcc: &Mvcc) -> Response {
        let header = ResponseHeader {
            revision: mvcc.current_revision(),
        };
        let canceled = |compact_revision, reason: String| Response::WatchCanceled {
            header,
            watch_id: req.watch_id,
            compact_revision,
            reason,
        };
        if self.watchers.contains_key(&(owner, req.watch_id)) {
            return canceled(Revision::NONE, DUPLICATE_WATCH_ID.to_string());
        }
        let next_revision = if req.start_revision == Revision::NONE {
            mvcc.current_revision().0 + 1
        } else {
            req.start_revision.0
        };
        if next_revision < mvcc.compact_revision().0 {
            let e = EtcdError::Compacted {
                compact_revision: mvcc.compact_revision(),
            };
            return canceled(mvcc.compact_revision(), e.to_string());
        }
        let mut watcher = Watcher {
            range: req.range.clone(),
            next_revision,
            prev_kv: req.prev_kv,
            progress_notify: req.progress_notify,
            sent_since_progress: false,
        };
        self.catch_up(owner, req.watch_id, &mut watcher, mvcc)
            .expect("the start revision was checked against the compact revision");
        self.watchers.insert((owner, req.watch_id), watcher);
        Response::WatchCreated {
            header,
            watch_id: req.watch_id,
        }
    }

    /// Stops a watch. Events already queued for it stay queued.
    pub fn cancel(&mut self, owner: NodeId, watch_id: u64, mvcc: &Mvcc) -> Response {
        let reason = match self.watchers.remove(&(owner, watch_id)) {
            Some(_) => String::new(),
            None => WATCHER_NOT_EXIST.to_string(),
        };
        Response::WatchCanceled {
            header: ResponseHeader {
                revision: mvcc.current_revision(),
            },
            watch_id,
            compact_revision: Revision::NONE,
            reason,
        }
    }

    /// Drops every watch of a client (its stream closed). Returns how many.
    pub fn cancel_owner(&mut self, owner: NodeId) -> usize {
        let before = self.watchers.len();
        self.watchers.retain(|(o, _), _| *o != owner);
        before - self.watchers.len()
    }

    /// Queues, for every watch, the events of the revisions it has not been sent, up to
    /// the current one. A watch whose next revision has been compacted away (possible
    /// only after a snapshot restore jumped the store forward) is cancelled with the
    /// compact revision.
    pub fn sync(&mut self, mvcc: &Mvcc) {
        let mut watchers = std::mem::take(&mut self.watchers);
        watchers.retain(
            |&(owner, watch_id), w| match self.catch_up(owner, watch_id, w, mvcc) {
                Ok(()) => true,
                Err(e) => {
                    self.pushes.push((
                        owner,
                        Response::WatchCanceled {
                            header: ResponseHeader {
                                revision: mvcc.current_revision(),
                            },
                            watch_id,
                            compact_revision: mvcc.compact_revision(),
                            reason: e.to_string(),
                        },
                    ));
                    false
                }
            },
        );
        self.watchers = watchers;
    }

    /// Queues one watcher's missing events and moves its next revision past the current
    /// one.
    fn catch_up(
        &mut self,
        owner: NodeId,
        watch_id: u64,
        w: &mut Watcher,
        mvcc: &Mvcc,
    ) -> Result<(), EtcdError> {
        let current = mvcc.current_revision().0;
        if w.next_revision > current {
            return Ok(());
        }
        let header = ResponseHeader {
            revision: mvcc.current_revision(),
        };
        let max_revs = self.config.max_revisions_per_response.max(1);
        let mut batch: Vec<Event> = Vec::new();
        let mut revs_in_batch = 0;
        for (_, events) in mvcc.events_since(Revision(w.next_revision))? {
            let before = batch.len();
            batch.extend(
                events
                    .iter()
                    .filter(|e| w.range.contains(&e.kv.key))
                    .map(|e| {
                        let mut e = e.clone();
                        if !w.prev_kv {
                            e.prev_kv = None;
                        }
                        e
                    }),
            );
            if batch.len() > before {
                revs_in_batch += 1;
            }
            if revs_in_batch == max_revs {
                self.push_events(owner, watch_id, header, std::mem::take(&mut batch));
                revs_in_batch = 0;
                w.sent_since_progress = true;
            }
        }
        if !batch.is_empty() {
            self.push_events(owner, watch_id, header, batch);
            w.sent_since_progress = true;
        }
        w.next_revision = current + 1;
        Ok(())
    }

    fn push_events(
        &mut self,
        owner: NodeId,
        watch_id: u64,
        header: ResponseHeader,
        events: Vec<Event>,
    ) {
        self.pushes.push((
            owner,
            Response::WatchEvents {
                header,
                watch_id,
                events,
            },
        ));
    }

    /// Every progress interval, tells each watch that asked for progress notifications
    /// and was sent nothing since the last round the current revision. The first call
    /// only starts the clock.
    pub fn progress(&mut self, now_us: u64, mvcc: &Mvcc) {
        let Some(due) = self.next_progress_us else {
            self.next_progress_us = Some(now_us + self.config.progress_interval_us);
            return;
        };
        if now_us < due {
            return;
        }
        self.next_progress_us = Some(now_us + self.config.progress_interval_us);
        let header = ResponseHeader {
            revision: mvcc.current_revision(),
        };
        for (&(owner, watch_id), w) in &mut self.watchers {
            if w.progress_notify && !w.sent_since_progress {
                self.pushes
                    .push((owner, Response::Progress { header, watch_id }));
            }
            w.sent_since_progress = false;
        }
    }

    /// The responses queued for clients since the last call, in the order they must be
    /// sent.
    pub fn take_pushes(&mut self) -> Vec<(NodeId, Response)> {
        std::mem::take(&mut self.pushes)
    }
}

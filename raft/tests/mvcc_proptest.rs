//! The etcd store against an obviously-correct model: random sequences of puts, deletes,
//! txns, compactions, lease grants and revokes, reads at old revisions, lease lookups,
//! watches from old revisions and snapshot round trips, run on [`EtcdStore`] and on a
//! model that keeps a full copy of the key space for every revision. Every response must
//! be identical, and every watch must have received exactly the model's changes from its
//! start revision: in revision order, a revision never split over two responses, no gap,
//! no duplicate.
//!
//! The comparison can fail: `planted_divergences_are_caught` runs the same harness with a
//! store that is written behind the model's back, with one watch response dropped, and
//! with one revision's events split over two responses, and requires each to be reported.
//!
//! Proptest runs from a fixed seed (ChaCha) without failure persistence, so every run sees
//! the same cases.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, RngSeed};
use raft::etcd::{
    Command, Compare, CompareResult, CompareTarget, DeleteRangeRequest, EtcdError, EtcdStore,
    Event, EventKind, KeyRange, KeyValue, LeaseId, PutRequest, Query, RangeRequest, RequestOp,
    Response, ResponseHeader, Revision, StoreConfig, TxnRequest, WatchConfig, WatchCreateRequest,
};
use sim_core::NodeId;

const CLIENT: NodeId = NodeId(100);
const KEYS: [&str; 4] = ["a", "ab", "b", "c"];
const MIN_TTL_S: u64 = 2;

// ----- the model -----

type State = BTreeMap<String, KeyValue>;

/// The key space at every revision, in full: `states[r]` is the state at revision `r`
/// (`states[0]` is an empty placeholder; a fresh store is at revision 1).
struct Model {
    states: Vec<State>,
    compacted: u64,
    /// Lease id → granted TTL. Attached keys are read off the state (`kv.lease`).
    leases: BTreeMap<LeaseId, u64>,
    last_auto_id: u64,
}

impl Model {
    fn new() -> Self {
        Model {
            states: vec![State::new(), State::new()],
            compacted: 0,
            leases: BTreeMap::new(),
            last_auto_id: 0,
        }
    }

    fn current(&self) -> u64 {
        self.states.len() as u64 - 1
    }

    fn latest(&self) -> &State {
        self.states.last().unwrap()
    }

    fn header(&self) -> ResponseHeader {
        ResponseHeader {
            revision: Revision(self.current()),
        }
    }

    fn compacted_error(&self) -> EtcdError {
        EtcdError::Compacted {
            compact_revision: Revision(self.compacted),
        }
    }

    /// The state a read at `rev` sees, or why it cannot.
    fn readable(&self, rev: Revision) -> Result<&State, EtcdError> {
        if rev.0 > self.current() {
            Err(EtcdError::FutureRevision)
        } else if rev.0 == 0 {
            Ok(self.latest())
        } else if rev.0 < self.compacted {
            Err(self.compacted_error())
        } else {
            Ok(&self.states[rev.0 as usize])
        }
    }

    fn read(state: &State, r: &RangeRequest, header: ResponseHeader) -> Response {
        let all: Vec<&KeyValue> = state
            .values()
            .filter(|kv| r.range.contains(&kv.key))
            .collect();
        let count = all.len() as u64;
        let kvs: Vec<KeyValue> = if r.count_only {
            vec![]
        } else if r.limit == 0 {
            all.into_iter().cloned().collect()
        } else {
            all.into_iter().take(r.limit as usize).cloned().collect()
        };
        Response::Range {
            header,
            kvs,
            count,
            more: !r.count_only && r.limit > 0 && count > r.limit,
        }
    }

    fn range(&self, r: &RangeRequest) -> Response {
        match self.readable(r.revision) {
            Ok(state) => Model::read(state, r, self.header()),
            Err(e) => Response::Error(e),
        }
    }

    /// Runs ops at the next revision on a copy of the latest state; records the copy as a
    /// new revision if anything changed.
    fn write(&mut self, ops: &[RequestOp]) -> Result<(Revision, Vec<Response>), EtcdError> {
        for op in ops {
            match op {
                RequestOp::Put(p) if p.lease.0 != 0 && !self.leases.contains_key(&p.lease) => {
                    return Err(EtcdError::LeaseNotFound)
                }
                RequestOp::Range(r) => {
                    self.readable(r.revision)?;
                }
                _ => {}
            }
        }
        let rev = Revision(self.current() + 1);
        let mut work = self.latest().clone();
        let mut changed = false;
        let mut responses = Vec::new();
        let blank = ResponseHeader::default();
        for op in ops {
            responses.push(match op {
                RequestOp::Range(r) => {
                    let state = if r.revision.0 == 0 {
                        &work
                    } else {
                        &self.states[r.revision.0 as usize]
                    };
                    Model::read(state, r, blank)
                }
                RequestOp::Put(p) => {
                    let prev = work.get(&p.key).cloned();
                    let kv = KeyValue {
                        key: p.key.clone(),
                        value: p.value.clone(),
                        create_revision: prev.as_ref().map_or(rev, |kv| kv.create_revision),
                        mod_revision: rev,
                        version: prev.as_ref().map_or(1, |kv| kv.version + 1),
                        lease: p.lease,
                    };
                    work.insert(p.key.clone(), kv);
                    changed = true;
                    Response::Put {
                        header: blank,
                        prev_kv: if p.prev_kv { prev } else { None },
                    }
                }
                RequestOp::DeleteRange(d) => {
                    let doomed: Vec<String> = work
                        .keys()
                        .filter(|k| d.range.contains(k))
                        .cloned()
                        .collect();
                    let prevs: Vec<KeyValue> =
                        doomed.iter().map(|k| work.remove(k).unwrap()).collect();
                    changed |= !prevs.is_empty();
                    Response::DeleteRange {
                        header: blank,
                        deleted: prevs.len() as u64,
                        prev_kvs: if d.prev_kv { prevs } else { vec![] },
                    }
                }
            });
        }
        if changed {
            self.states.push(work);
        }
        let revision = Revision(self.current());
        for r in &mut responses {
            match r {
                Response::Range { header, .. }
                | Response::Put { header, .. }
                | Response::DeleteRange { header, .. } => header.revision = revision,
                _ => unreachable!(),
            }
        }
        Ok((revision, responses))
    }

    fn single(&mut self, op: RequestOp) -> Response {
        match self.write(&[op]) {
            Ok((_, mut r)) => r.pop().unwrap(),
            Err(e) => Response::Error(e),
        }
    }

    fn holds(&self, c: &Compare) -> bool {
        let kv = self.latest().get(&c.key);
        use std::cmp::Ordering;
        let ord: Ordering = match &c.target {
            CompareTarget::Value(v) => match kv {
                None => return false,
                Some(kv) => kv.value.cmp(v),
            },
            CompareTarget::Version(v) => kv.map_or(0, |kv| kv.version).cmp(v),
            CompareTarget::CreateRevision(r) => kv.map_or(0, |kv| kv.create_revision.0).cmp(&r.0),
            CompareTarget::ModRevision(r) => kv.map_or(0, |kv| kv.mod_revision.0).cmp(&r.0),
            CompareTarget::Lease(l) => kv.map_or(0, |kv| kv.lease.0).cmp(&l.0),
        };
        match c.result {
            CompareResult::Equal => ord.is_eq(),
            CompareResult::NotEqual => ord.is_ne(),
            CompareResult::Greater => ord.is_gt(),
            CompareResult::Less => ord.is_lt(),
        }
    }

    fn branch_has_duplicates(ops: &[RequestOp]) -> bool {
        let puts: Vec<&str> = ops
            .iter()
            .filter_map(|op| match op {
                RequestOp::Put(p) => Some(p.key.as_str()),
                _ => None,
            })
            .collect();
        puts.iter().enumerate().any(|(i, k)| puts[..i].contains(k))
            || puts.iter().any(|k| {
                ops.iter()
                    .any(|op| matches!(op, RequestOp::DeleteRange(d) if d.range.contains(k)))
            })
    }

    fn apply(&mut self, cmd: &Command) -> Response {
        match cmd {
            Command::Put(p) => self.single(RequestOp::Put(p.clone())),
            Command::DeleteRange(d) => self.single(RequestOp::DeleteRange(d.clone())),
            Command::Txn(t) => {
                if Model::branch_has_duplicates(&t.success)
                    || Model::branch_has_duplicates(&t.failure)
                {
                    return Response::Error(EtcdError::DuplicateKey);
                }
                let succeeded = t.compare.iter().all(|c| self.holds(c));
                let branch = if succeeded { &t.success } else { &t.failure };
                match self.write(branch) {
                    Ok((revision, responses)) => Response::Txn {
                        header: ResponseHeader { revision },
                        succeeded,
                        responses,
                    },
                    Err(e) => Response::Error(e),
                }
            }
            Command::LeaseGrant { id, ttl_s } => {
                let id = if id.0 == 0 {
                    let mut next = self.last_auto_id + 1;
                    while self.leases.contains_key(&LeaseId(next)) {
                        next += 1;
                    }
                    self.last_auto_id = next;
                    LeaseId(next)
                } else if self.leases.contains_key(id) {
                    return Response::Error(EtcdError::LeaseExists);
                } else {
                    *id
                };
                let ttl_s = (*ttl_s).max(MIN_TTL_S);
                self.leases.insert(id, ttl_s);
                Response::LeaseGrant {
                    header: self.header(),
                    id,
                    ttl_s,
                }
            }
            Command::LeaseRevoke { id } => {
                if self.leases.remove(id).is_none() {
                    return Response::Error(EtcdError::LeaseNotFound);
                }
                let ops: Vec<RequestOp> = self
                    .latest()
                    .values()
                    .filter(|kv| kv.lease == *id)
                    .map(|kv| {
                        RequestOp::DeleteRange(DeleteRangeRequest {
                            range: KeyRange::key(kv.key.clone()),
                            prev_kv: false,
                        })
                    })
                    .collect();
                let (revision, _) = self.write(&ops).unwrap();
                Response::LeaseRevoke {
                    header: ResponseHeader { revision },
                }
            }
            Command::Compact { revision } => {
                if revision.0 <= self.compacted {
                    Response::Error(self.compacted_error())
                } else if revision.0 > self.current() {
                    Response::Error(EtcdError::FutureRevision)
                } else {
                    self.compacted = revision.0;
                    Response::Compact {
                        header: self.header(),
                    }
                }
            }
        }
    }

    fn time_to_live(&self, id: LeaseId) -> Response {
        match self.leases.get(&id) {
            None => Response::Error(EtcdError::LeaseNotFound),
            Some(&granted_ttl_s) => Response::LeaseTimeToLive {
                header: self.header(),
                id,
                // Not primary: no deadlines known.
                ttl_s: None,
                granted_ttl_s,
                keys: self
                    .latest()
                    .values()
                    .filter(|kv| kv.lease == id)
                    .map(|kv| kv.key.clone())
                    .collect(),
            },
        }
    }

    /// The changes of revision `rev` inside `range`, by key.
    fn changes(&self, rev: u64, range: &KeyRange) -> Vec<Event> {
        let (before, after) = (&self.states[rev as usize - 1], &self.states[rev as usize]);
        let mut keys: Vec<&String> = before
            .keys()
            .chain(after.keys())
            .filter(|k| range.contains(k))
            .collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .filter_map(|k| match (before.get(k), after.get(k)) {
                (b, Some(a)) if b != Some(a) => Some(Event {
                    kind: EventKind::Put,
                    kv: a.clone(),
                    prev_kv: b.cloned(),
                }),
                (Some(b), None) => Some(Event {
                    kind: EventKind::Delete,
                    kv: KeyValue {
                        key: k.clone(),
                        value: String::new(),
                        create_revision: Revision(0),
                        mod_revision: Revision(rev),
                        version: 0,
                        lease: LeaseId(0),
                    },
                    prev_kv: Some(b.clone()),
                }),
                _ => None,
            })
            .collect()
    }
}

// ----- operations -----

#[derive(Clone, Debug)]
enum Op {
    Apply(Command),
    Range(RangeRequest),
    TimeToLive(LeaseId),
    /// Watch `range` from this revision (0: from now).
    Watch(KeyRange, u64),
    /// Snapshot the store, restore it into a fresh one, and compare the two.
    SnapshotRoundTrip,
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(&KEYS[..]).prop_map(String::from)
}

fn range() -> impl Strategy<Value = KeyRange> {
    prop_oneof![
        3 => key().prop_map(KeyRange::key),
        1 => Just(KeyRange::prefix("")),
        1 => key().prop_map(KeyRange::prefix),
        1 => key().prop_map(KeyRange::from_key),
        1 => (key(), key()).prop_map(|(a, b)| KeyRange::interval(a, b)),
    ]
}

fn revision() -> impl Strategy<Value = Revision> {
    prop_oneof![2 => Just(Revision(0)), 3 => (1u64..20).prop_map(Revision)]
}

fn range_request() -> impl Strategy<Value = RangeRequest> {
    (
        range(),
        revision(),
        prop_oneof![3 => Just(0u64), 1 => 1u64..3],
        any::<bool>(),
    )
        .prop_map(|(range, revision, limit, count_only)| RangeRequest {
            range,
            revision,
            limit,
            count_only: count_only && limit == 0,
        })
}

fn lease() -> impl Strategy<Value = LeaseId> {
    prop_oneof![4 => Just(LeaseId(0)), 1 => (1u64..3).prop_map(LeaseId)]
}

fn put() -> impl Strategy<Value = PutRequest> {
    (
        key(),
        prop::sample::select(&["0", "1", "2"][..]),
        lease(),
        any::<bool>(),
    )
        .prop_map(|(key, value, lease, prev_kv)| PutRequest {
            key,
            value: value.into(),
            lease,
            prev_kv,
        })
}

fn delete() -> impl Strategy<Value = DeleteRangeRequest> {
    (range(), any::<bool>()).prop_map(|(range, prev_kv)| DeleteRangeRequest { range, prev_kv })
}

fn compare() -> impl Strategy<Value = Compare> {
    let target = prop_oneof![
        prop::sample::select(&["0", "1", "2"][..]).prop_map(|v| CompareTarget::Value(v.into())),
        (0u64..4).prop_map(CompareTarget::Version),
        (0u64..20).prop_map(|r| CompareTarget::CreateRevision(Revision(r))),
        (0u64..20).prop_map(|r| CompareTarget::ModRevision(Revision(r))),
        (0u64..3).prop_map(|l| CompareTarget::Lease(LeaseId(l))),
    ];
    let result = prop::sample::select(
        &[
            CompareResult::Equal,
            CompareResult::NotEqual,
            CompareResult::Greater,
            CompareResult::Less,
        ][..],
    );
    (key(), target, result).prop_map(|(key, target, result)| Compare {
        key,
        target,
        result,
    })
}

fn request_op() -> impl Strategy<Value = RequestOp> {
    prop_oneof![
        3 => put().prop_map(RequestOp::Put),
        1 => delete().prop_map(RequestOp::DeleteRange),
        1 => range_request().prop_map(RequestOp::Range),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        5 => put().prop_map(Command::Put),
        2 => delete().prop_map(Command::DeleteRange),
        3 => (prop::collection::vec(compare(), 0..3), prop::collection::vec(request_op(), 0..4), prop::collection::vec(request_op(), 0..3))
            .prop_map(|(compare, success, failure)| Command::Txn(TxnRequest { compare, success, failure })),
        2 => ((0u64..4).prop_map(LeaseId), 0u64..10).prop_map(|(id, ttl_s)| Command::LeaseGrant { id, ttl_s }),
        1 => (0u64..5).prop_map(|id| Command::LeaseRevoke { id: LeaseId(id) }),
        1 => (1u64..20).prop_map(|r| Command::Compact { revision: Revision(r) }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => command().prop_map(Op::Apply),
        2 => range_request().prop_map(Op::Range),
        1 => (0u64..5).prop_map(|l| Op::TimeToLive(LeaseId(l))),
        1 => (range(), prop_oneof![Just(0u64), 1u64..20]).prop_map(|(r, s)| Op::Watch(r, s)),
        1 => Just(Op::SnapshotRoundTrip),
    ]
}

// ----- the harness -----

/// A fault to plant in the system under test, to show the harness notices.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Plant {
    None,
    /// Before op `n`, write a key to the store that the model never sees.
    WriteBehindModel(usize),
    /// Drop the `n`th watch events response.
    DropWatchResponse(usize),
    /// Split the first watch events response with more than one event in two.
    SplitWatchResponse,
}

struct Watch {
    id: u64,
    range: KeyRange,
    /// First revision it must report.
    from: u64,
    received: Vec<Vec<Event>>,
}

fn run(ops: &[Op], plant: Plant) -> Result<(), String> {
    // Two revisions per response, so that long replays are split (at revision bounds).
    let config = StoreConfig {
        watch: WatchConfig {
            max_revisions_per_response: 2,
            ..WatchConfig::default()
        },
        ..StoreConfig::default()
    };
    let mut store = EtcdStore::new(config);
    let mut model = Model::new();
    let mut watches: Vec<Watch> = Vec::new();
    let mut events_responses = 0usize;
    let mut split = false;
    let all = Op::Watch(KeyRange::prefix(""), 0);
    for (i, op) in std::iter::once(&all).chain(ops).enumerate() {
        if plant == Plant::WriteBehindModel(i) {
            store.apply(&Command::Put(PutRequest::new("a", "planted")), 0, false);
        }
        let (got, want) = match op {
            Op::Apply(cmd) => (store.apply(cmd, 0, false), model.apply(cmd)),
            Op::Range(r) => (
                store.query(CLIENT, &Query::Range(r.clone()), 0, false),
                model.range(r),
            ),
            Op::TimeToLive(id) => (
                store.query(CLIENT, &Query::LeaseTimeToLive { id: *id }, 0, false),
                model.time_to_live(*id),
            ),
            Op::Watch(range, start) => {
                let id = watches.len() as u64 + i as u64 * 1000;
                let req = WatchCreateRequest {
                    range: range.clone(),
                    start_revision: Revision(*start),
                    prev_kv: true,
                    progress_notify: false,
                    watch_id: id,
                };
                let header = model.header();
                let want = if *start != 0 && *start < model.compacted {
                    Response::WatchCanceled {
                        header,
                        watch_id: id,
                        compact_revision: Revision(model.compacted),
                        reason: "mvcc: required revision has been compacted".into(),
                    }
                } else {
                    let from = if *start == 0 {
                        model.current() + 1
                    } else {
                        *start
                    };
                    watches.push(Watch {
                        id,
                        range: range.clone(),
                        from,
                        received: vec![],
                    });
                    Response::WatchCreated {
                        header,
                        watch_id: id,
                    }
                };
                (
                    store.query(CLIENT, &Query::WatchCreate(req), 0, false),
                    want,
                )
            }
            Op::SnapshotRoundTrip => {
                let snap = store.snapshot();
                let mut copy = EtcdStore::new(config);
                copy.restore(&snap);
                if copy.snapshot() != snap {
                    return Err(format!("op {i}: a restored snapshot snapshots differently"));
                }
                for rev in model.compacted.max(1)..=model.current() + 1 {
                    let q = Query::Range(RangeRequest {
                        revision: Revision(rev),
                        ..RangeRequest::latest(KeyRange::prefix(""))
                    });
                    let (a, b) = (
                        store.query(CLIENT, &q, 0, false),
                        copy.query(CLIENT, &q, 0, false),
                    );
                    if a != b {
                        return Err(format!(
                            "op {i}: after restore, a read at {rev} gives {b:?}, not {a:?}"
                        ));
                    }
                }
                continue;
            }
        };
        if got != want {
            return Err(format!("op {i} {op:?}:\n store {got:?}\n model {want:?}"));
        }
        for (_, push) in store.take_pushes() {
            let Response::WatchEvents {
                watch_id,
                events,
                header,
            } = push
            else {
                return Err(format!("op {i}: unexpected push {push:?}"));
            };
            events_responses += 1;
            if plant == Plant::DropWatchResponse(events_responses) {
                continue;
            }
            if header.revision != Revision(model.current()) {
                return Err(format!(
                    "op {i}: events sent with header {header:?}, store at {}",
                    model.current()
                ));
            }
            let w = watches
                .iter_mut()
                .find(|w| w.id == watch_id)
                .ok_or("events for an unknown watch")?;
            if plant == Plant::SplitWatchResponse && events.len() > 1 && !split {
                split = true;
                let mut first = events;
                let second = first.split_off(1);
                w.received.push(first);
                w.received.push(second);
                continue;
            }
            w.received.push(events);
        }
    }
    for w in &watches {
        check_watch(&model, w)?;
    }
    Ok(())
}

/// A watch got exactly the model's changes in its range from its start revision: whole
/// revisions per response, in order, nothing missing, nothing twice.
fn check_watch(model: &Model, w: &Watch) -> Result<(), String> {
    let mut last_rev = 0;
    let mut got: BTreeMap<u64, Vec<Event>> = BTreeMap::new();
    for response in &w.received {
        if response.is_empty() {
            return Err(format!("watch {}: an empty events response", w.id));
        }
        let first = response[0].kv.mod_revision.0;
        if first <= last_rev {
            return Err(format!(
                "watch {}: revision {first} after {last_rev} (duplicate, reordered or split)",
                w.id
            ));
        }
        for e in response {
            let rev = e.kv.mod_revision.0;
            if rev < last_rev {
                return Err(format!(
                    "watch {}: revisions out of order in a response",
                    w.id
                ));
            }
            last_rev = rev;
            got.entry(rev).or_default().push(e.clone());
        }
    }
    for events in got.values_mut() {
        events.sort_by(|a, b| a.kv.key.cmp(&b.kv.key));
    }
    let want: BTreeMap<u64, Vec<Event>> = (w.from.max(2)..=model.current())
        .map(|rev| (rev, model.changes(rev, &w.range)))
        .filter(|(_, evs)| !evs.is_empty())
        .collect();
    if got != want {
        return Err(format!(
            "watch {} from {} on {}:\n got  {got:?}\n want {want:?}",
            w.id, w.from, w.range
        ));
    }
    Ok(())
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x6574_6364),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn store_matches_the_model(ops in prop::collection::vec(op(), 1..80)) {
        if let Err(e) = run(&ops, Plant::None) {
            prop_assert!(false, "{}", e);
        }
    }
}

#[test]
fn planted_divergences_are_caught() {
    let ops = vec![
        Op::Apply(Command::Put(PutRequest::new("b", "1"))),
        Op::Apply(Command::Txn(TxnRequest {
            compare: vec![],
            success: vec![
                RequestOp::Put(PutRequest::new("a", "1")),
                RequestOp::Put(PutRequest::new("c", "1")),
            ],
            failure: vec![],
        })),
        Op::Range(RangeRequest::latest(KeyRange::prefix(""))),
        Op::Watch(KeyRange::prefix(""), 2),
    ];
    assert_eq!(run(&ops, Plant::None), Ok(()));
    let behind = run(&ops, Plant::WriteBehindModel(2)).unwrap_err();
    assert!(behind.contains("store"), "{behind}");
    let split = run(&ops, Plant::SplitWatchResponse).unwrap_err();
    assert!(split.contains("split"), "{split}");
    for n in [1, 2, 3] {
        let dropped = run(&ops, Plant::DropWatchResponse(n)).unwrap_err();
        assert!(dropped.contains("watch"), "{dropped}");
    }
}

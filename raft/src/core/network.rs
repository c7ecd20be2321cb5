//! An in-test network that moves messages between `RawNode`s, honouring the `Ready`
//! contract (persist, then send, then apply) with an in-memory "disk".

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;

/// Rewrites or drops (returns false) a message in flight.
pub type Filter = Box<dyn FnMut(&mut Message) -> bool>;

pub struct Network {
    pub nodes: BTreeMap<NodeId, RawNode<ChaCha8Rng>>,
    pub queue: VecDeque<Message>,
    /// Directed links that drop everything.
    pub cut: BTreeSet<(NodeId, NodeId)>,
    pub filter: Option<Filter>,
    /// What each node applied, in order.
    pub applied: BTreeMap<NodeId, Vec<Entry>>,
    pub read_states: BTreeMap<NodeId, Vec<ReadState>>,
    pub events: BTreeMap<NodeId, Vec<Event>>,
    /// Every message sent, for assertions.
    pub sent: Vec<Message>,
    /// Every Ready handed out, rendered, for determinism checks.
    pub log: Vec<String>,
    seed: u64,
}

pub fn ids(n: u64) -> Vec<NodeId> {
    (1..=n).map(NodeId).collect()
}

impl Network {
    /// `n` founding voters with `cfg` applied to each default config.
    pub fn new(n: u64, cfg: impl Fn(&mut Config)) -> Network {
        let mut net = Network::empty(7);
        for id in ids(n) {
            let mut c = Config::new(id);
            cfg(&mut c);
            net.add(id, c, InitialState::bootstrap(ids(n)));
        }
        net
    }

    pub fn empty(seed: u64) -> Network {
        Network {
            nodes: BTreeMap::new(),
            queue: VecDeque::new(),
            cut: BTreeSet::new(),
            filter: None,
            applied: BTreeMap::new(),
            read_states: BTreeMap::new(),
            events: BTreeMap::new(),
            sent: Vec::new(),
            log: Vec::new(),
            seed,
        }
    }

    pub fn add(&mut self, id: NodeId, cfg: Config, initial: InitialState) {
        let rng = ChaCha8Rng::seed_from_u64(self.seed.wrapping_mul(31).wrapping_add(id.0));
        self.nodes
            .insert(id, RawNode::new(cfg, initial, rng).expect("valid config"));
    }

    pub fn node(&mut self, id: u64) -> &mut RawNode<ChaCha8Rng> {
        self.nodes.get_mut(&NodeId(id)).expect("node exists")
    }

    pub fn status(&self, id: u64) -> Status {
        self.nodes[&NodeId(id)].status()
    }

    /// Handles every pending Ready of one node.
    pub fn handle_ready(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).expect("node exists");
        while node.has_ready() {
            let rd = node.ready();
            self.log.extend(render_ready(id, &rd));
            // 1. "persist": the core keeps the log; nothing to do in memory.
            // 2. send
            for m in &rd.messages {
                assert_eq!(m.from, id);
                self.sent.push(m.clone());
                self.queue.push_back(m.clone());
            }
            // 3. apply
            self.applied
                .entry(id)
                .or_default()
                .extend(rd.committed_entries.iter().cloned());
            self.read_states
                .entry(id)
                .or_default()
                .extend(rd.read_states.iter().cloned());
            self.events
                .entry(id)
                .or_default()
                .extend(rd.events.iter().cloned());
            node.advance(&rd);
        }
    }

    pub fn handle_all_readies(&mut self) {
        let all: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in all {
            self.handle_ready(id);
        }
    }

    /// Delivers the oldest message in flight. Returns false when none is left.
    pub fn deliver_one(&mut self) -> bool {
        let Some(mut m) = self.queue.pop_front() else {
            return false;
        };
        if self.cut.contains(&(m.from, m.to)) || !self.nodes.contains_key(&m.to) {
            return true;
        }
        if let Some(f) = self.filter.as_mut() {
            if !f(&mut m) {
                return true;
            }
        }
        let to = m.to;
        self.node(to.0).step(m);
        self.handle_ready(to);
        true
    }

    /// Delivers until nothing is in flight.
    ///
    /// # Panics
    ///
    /// If messages keep flowing without ticks (a livelock in the core).
    pub fn stabilize(&mut self) {
        self.handle_all_readies();
        let mut steps = 0;
        while self.deliver_one() {
            steps += 1;
            assert!(steps < 100_000, "no quiescence without ticks");
        }
    }

    pub fn tick(&mut self, id: u64) {
        self.node(id).tick();
        self.handle_ready(NodeId(id));
    }

    /// Ticks every node `n` times, stabilizing after each round.
    pub fn tick_all(&mut self, n: u64) {
        for _ in 0..n {
            let all: Vec<u64> = self.nodes.keys().map(|i| i.0).collect();
            for id in all {
                self.tick(id);
            }
            self.stabilize();
        }
    }

    pub fn campaign(&mut self, id: u64) {
        self.node(id).campaign();
        self.stabilize();
    }

    pub fn propose(&mut self, id: u64, data: &str) -> Result<LogIndex, ProposeError> {
        let r = self.node(id).propose(data.as_bytes().to_vec());
        self.stabilize();
        r
    }

    /// Cuts every link between the groups.
    pub fn partition(&mut self, a: &[u64], b: &[u64]) {
        for x in a {
            for y in b {
                self.cut.insert((NodeId(*x), NodeId(*y)));
                self.cut.insert((NodeId(*y), NodeId(*x)));
            }
        }
    }

    pub fn isolate(&mut self, id: u64) {
        let others: Vec<u64> = self
            .nodes
            .keys()
            .map(|i| i.0)
            .filter(|i| *i != id)
            .collect();
        self.partition(&[id], &others);
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// The leaders, by id.
    pub fn leaders(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.status().role == Role::Leader)
            .map(|(id, _)| id.0)
            .collect()
    }

    /// Application data each node applied, as strings (noops and conf changes skipped).
    pub fn applied_data(&self, id: u64) -> Vec<String> {
        self.applied
            .get(&NodeId(id))
            .map(|es| {
                es.iter()
                    .filter_map(|e| match &e.kind {
                        EntryKind::Normal(d) => Some(String::from_utf8_lossy(d).into_owned()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn events_of(&self, id: u64) -> &[Event] {
        self.events.get(&NodeId(id)).map_or(&[], |v| v.as_slice())
    }
}

/// A readable rendering of one Ready, for golden files.
pub fn render_ready(id: NodeId, rd: &Ready) -> Vec<String> {
    let mut out = vec![format!("> {id} handling Ready")];
    if let Some(s) = rd.soft_state {
        let leader = s.leader.map_or("none".to_string(), |l| l.to_string());
        out.push(format!("  role {} leader={leader}", s.role));
    }
    if let Some(h) = rd.hard_state {
        let vote = h.vote.map_or("none".to_string(), |v| v.to_string());
        out.push(format!(
            "  hard-state term={} vote={vote} commit={}",
            h.term, h.commit
        ));
    }
    if let Some(s) = &rd.snapshot {
        out.push(format!("  snapshot {}/{}", s.meta.term, s.meta.index));
    }
    for e in &rd.entries {
        out.push(format!("  persist {e}"));
    }
    for m in &rd.messages {
        out.push(format!("  send {m}"));
    }
    for e in &rd.committed_entries {
        out.push(format!("  apply {e}"));
    }
    for r in &rd.read_states {
        out.push(format!(
            "  read-state index={} ctx={:?}",
            r.index,
            String::from_utf8_lossy(&r.context)
        ));
    }
    for e in &rd.events {
        out.push(format!("  event {e:?}"));
    }
    out
}

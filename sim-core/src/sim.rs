//! The seeded builder that runs one simulation.
//!
//! ```no_run
//! use sim_core::{Message, NodeCtx, Sim};
//!
//! struct Hello;
//! impl Message for Hello {
//!     fn kind(&self) -> &'static str { "hello" }
//! }
//!
//! let run = Sim::new(42)
//!     .nodes(3, |ctx: NodeCtx<Hello>| async move {
//!         for peer in ctx.peers() {
//!             ctx.send(peer, Hello);
//!         }
//!         loop {
//!             ctx.recv().await;
//!         }
//!     })
//!     .run(|world| async move {
//!         world.sleep(std::time::Duration::from_secs(1)).await;
//!     })
//!     .expect("valid setup");
//! println!("{} events, hash {}", run.trace.events.len(), run.trace.hash());
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::directory::{Directory, DirectoryError};
use crate::disk::DiskConfig;
use crate::fault::{FaultError, FaultSchedule};
use crate::history::History;
use crate::ids::NodeId;
use crate::network::NetConfig;
use crate::node::NodeCtx;
use crate::time;
use crate::trace::{EventKind, Trace};
use crate::world::{pump, Message, World};

type Actor = Pin<Box<dyn Future<Output = ()>>>;
type Factory<M> = Arc<dyn Fn(NodeCtx<M>) -> Actor + Send + Sync>;

/// Most nodes one world may have: far above any scenario, low enough that a typo fails fast.
pub const MAX_NODES: usize = 1024;

/// A setup that cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// The fault schedule does not fit the world.
    #[error(transparent)]
    Fault(#[from] FaultError),
    /// No nodes, or too many.
    #[error("a world needs 1 to {MAX_NODES} nodes, not {0}")]
    NodeCount(usize),
    /// A node's name or group cannot be used.
    #[error(transparent)]
    Name(#[from] DirectoryError),
}

/// One simulation: seed, nodes, network and disk defaults, fault schedule.
pub struct Sim<M> {
    seed: u64,
    factories: Vec<Factory<M>>,
    /// The nodes' names and groups, one entry per factory.
    directory: Directory,
    /// The first bad name given to [`Sim::named_node`], reported by [`Sim::run`].
    name_error: Option<DirectoryError>,
    net: NetConfig,
    disk: DiskConfig,
    faults: FaultSchedule,
}

impl<M> std::fmt::Debug for Sim<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.seed)
            .field("nodes", &self.factories.len())
            .field("net", &self.net)
            .field("disk", &self.disk)
            .field("faults", &self.faults.faults.len())
            .finish()
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutput<T> {
    /// The seed it ran with.
    pub seed: u64,
    /// Its nodes.
    pub nodes: Vec<NodeId>,
    /// Their names and groups.
    pub directory: Directory,
    /// Everything that happened.
    pub trace: Trace,
    /// The client operations.
    pub history: History,
    /// What the driver returned.
    pub value: T,
}

impl<M: Message> Sim<M> {
    /// A world with no nodes yet, seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Sim {
            seed,
            factories: Vec::new(),
            directory: Directory::new(),
            name_error: None,
            net: NetConfig::default(),
            disk: DiskConfig::default(),
            faults: FaultSchedule::default(),
        }
    }

    /// Adds one node (ids are given in order: n1, n2, ...), named by its id. `actor` runs
    /// at every start of the node and gets a fresh context; whatever it keeps in memory
    /// dies with the node.
    pub fn node<F, Fut>(mut self, actor: F) -> Self
    where
        F: Fn(NodeCtx<M>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.factories
            .push(Arc::new(move |ctx| Box::pin(actor(ctx)) as Actor));
        self.directory.add_numbered();
        self
    }

    /// Adds `count` nodes running the same actor, named by their ids.
    pub fn nodes<F, Fut>(mut self, count: usize, actor: F) -> Self
    where
        F: Fn(NodeCtx<M>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let factory: Factory<M> = Arc::new(move |ctx| Box::pin(actor(ctx)) as Actor);
        for _ in 0..count {
            self.factories.push(factory.clone());
            self.directory.add_numbered();
        }
        self
    }

    /// Adds one node with a name that says what it is (`etcd-1`) in `group` (`servers`), as
    /// the trace's directory, fault files and pictures name it. A bad or repeated name is
    /// reported by [`Sim::run`].
    pub fn named_node<F, Fut>(mut self, name: &str, group: &str, actor: F) -> Self
    where
        F: Fn(NodeCtx<M>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.factories
            .push(Arc::new(move |ctx| Box::pin(actor(ctx)) as Actor));
        if let Err(e) = self.directory.add(name, group) {
            self.name_error.get_or_insert(e);
            self.directory.add_numbered();
        }
        self
    }

    /// The nodes' names and groups so far.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Network defaults (latency, loss); `heal-all` returns to these.
    pub fn network(mut self, net: NetConfig) -> Self {
        self.net = net;
        self
    }

    /// Disk defaults (fsync latency).
    pub fn disk(mut self, disk: DiskConfig) -> Self {
        self.disk = disk;
        self
    }

    /// The fault schedule, applied during the run.
    pub fn faults(mut self, faults: FaultSchedule) -> Self {
        self.faults = faults;
        self
    }

    /// The node ids this world will have.
    pub fn node_ids(&self) -> Vec<NodeId> {
        (0..self.factories.len()).map(NodeId::from_index).collect()
    }

    /// Runs the world under madsim with this seed. `driver` runs as the supervisor: the run
    /// ends when it returns. Faults from the schedule apply on their own meanwhile.
    ///
    /// # Errors
    ///
    /// If the schedule names unknown nodes or is otherwise invalid, or the node count is
    /// out of range; nothing runs then.
    pub fn run<T, D, Fut>(self, driver: D) -> Result<RunOutput<T>, SimError>
    where
        D: FnOnce(World<M>) -> Fut,
        Fut: Future<Output = T>,
    {
        let nodes = self.node_ids();
        if nodes.is_empty() || nodes.len() > MAX_NODES {
            return Err(SimError::NodeCount(nodes.len()));
        }
        if let Some(e) = self.name_error {
            return Err(e.into());
        }
        self.faults.validate(&nodes)?;
        let runtime =
            madsim::runtime::Runtime::with_seed_and_config(self.seed, madsim::Config::default());
        let world = World::new(self.seed, self.directory.clone(), self.net, self.disk);
        let schedule = self.faults.in_time_order();
        let seed = self.seed;
        let directory = self.directory;
        let value = runtime.block_on({
            let world = world.clone();
            let nodes = nodes.clone();
            let directory = directory.clone();
            async move {
                world.record(
                    None,
                    EventKind::RunStart {
                        seed,
                        nodes: nodes.clone(),
                        directory: directory.clone(),
                    },
                );
                let handle = madsim::runtime::Handle::current();
                for (node, factory) in nodes.iter().copied().zip(self.factories) {
                    let w = world.clone();
                    let built = handle
                        .create_node()
                        .name(directory.name(node).to_string())
                        .init(move || {
                            let (incarnation, rng) = w.start_incarnation(node);
                            let actor = factory(NodeCtx::new(w.clone(), node, incarnation, rng));
                            let w = w.clone();
                            async move {
                                actor.await;
                                w.actor_exited(node, incarnation);
                            }
                        })
                        .build();
                    world.set_madsim_id(node, built.id());
                }
                drop(madsim::task::spawn_local(pump(world.clone())));
                let injector = world.clone();
                drop(madsim::task::spawn_local(async move {
                    for fault in schedule {
                        time::sleep_until(time::SimTime::from_ms(fault.at_ms)).await;
                        injector.apply(&fault.op);
                    }
                }));
                let value = driver(world.clone()).await;
                world.finish();
                value
            }
        });
        let (events, history) = world.take_records();
        drop(runtime);
        Ok(RunOutput {
            seed,
            nodes,
            directory,
            trace: Trace { events },
            history,
            value,
        })
    }
}

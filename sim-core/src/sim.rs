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
//!
//! A node may host several components, each an actor on its own port
//! ([`Sim::component`]): they start together at every start of the node and die together
//! at its crash, kill or power failure, as the kubelet and the container runtime share one
//! machine (in madsim they are tasks of one node). A node built with [`Sim::host`] has
//! only components, and nothing listens on its main port.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::address::{Address, Port};
use crate::rng::derive_rng;

use crate::directory::{Directory, DirectoryError};
use crate::disk::DiskConfig;
use crate::fault::{FaultError, FaultSchedule};
use crate::history::History;
use crate::ids::NodeId;
use crate::network::NetConfig;
use crate::node::NodeCtx;
use crate::observe::{Monitor, Stop};
use crate::time;
use crate::trace::{EventKind, Trace};
use crate::world::{pump, Message, World};

type Actor = Pin<Box<dyn Future<Output = ()>>>;
type Factory<M> = Arc<dyn Fn(NodeCtx<M>) -> Actor + Send + Sync>;

/// What runs on one node: its main actor (on [`Port::MAIN`]) if it has one, and its
/// components, each with its name and port.
struct NodeSpec<M> {
    main: Option<Factory<M>>,
    components: Vec<(String, Port, Factory<M>)>,
}

impl<M> NodeSpec<M> {
    fn main(factory: Factory<M>) -> Self {
        NodeSpec {
            main: Some(factory),
            components: Vec::new(),
        }
    }

    /// The ports something listens on from the node's start.
    fn ports(&self) -> Vec<Port> {
        let main = self.main.as_ref().map(|_| Port::MAIN);
        main.into_iter()
            .chain(self.components.iter().map(|(_, port, _)| *port))
            .collect()
    }
}

fn factory<M, F, Fut>(actor: F) -> Factory<M>
where
    F: Fn(NodeCtx<M>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + 'static,
{
    Arc::new(move |ctx| Box::pin(actor(ctx)) as Actor)
}

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
    factories: Vec<NodeSpec<M>>,
    /// The nodes' names and groups, one entry per factory.
    directory: Directory,
    /// The first bad name given to [`Sim::named_node`], reported by [`Sim::run`].
    name_error: Option<DirectoryError>,
    net: NetConfig,
    disk: DiskConfig,
    faults: FaultSchedule,
    /// Online checks that end the run at their first violation (none: run to the end).
    monitors: Vec<Box<dyn Monitor>>,
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
    /// The online check that ended the run early, if one did
    /// ([`Sim::stop_at_first_violation`]).
    pub stopped: Option<Stop>,
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
            monitors: Vec::new(),
        }
    }

    /// Judges the run with `checks` as it happens and ends it at the first violation (see
    /// [`crate::observe`]): the trace ends right after the event that broke the property,
    /// and [`RunOutput::stopped`] says which check fired. The trace up to there is the one
    /// the same seed writes without the checks. With no checks the run goes to its end.
    pub fn stop_at_first_violation(mut self, checks: Vec<Box<dyn Monitor>>) -> Self {
        self.monitors = checks;
        self
    }

    /// Adds one node (ids are given in order: n1, n2, ...), named by its id. `actor` runs
    /// at every start of the node and gets a fresh context; whatever it keeps in memory
    /// dies with the node.
    pub fn node<F, Fut>(mut self, actor: F) -> Self
    where
        F: Fn(NodeCtx<M>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.factories.push(NodeSpec::main(factory(actor)));
        self.directory.add_numbered();
        self
    }

    /// Adds `count` nodes running the same actor, named by their ids.
    pub fn nodes<F, Fut>(mut self, count: usize, actor: F) -> Self
    where
        F: Fn(NodeCtx<M>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let factory: Factory<M> = factory(actor);
        for _ in 0..count {
            self.factories.push(NodeSpec::main(factory.clone()));
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
        self.factories.push(NodeSpec::main(factory(actor)));
        if let Err(e) = self.directory.add(name, group) {
            self.name_error.get_or_insert(e);
            self.directory.add_numbered();
        }
        self
    }

    /// Adds a node named `name` in `group` with no main actor: it runs only the
    /// components [`Sim::component`] gives it, and nothing listens on its main port.
    pub fn host(mut self, name: &str, group: &str) -> Self {
        self.factories.push(NodeSpec {
            main: None,
            components: Vec::new(),
        });
        if let Err(e) = self.directory.add(name, group) {
            self.name_error.get_or_insert(e);
            self.directory.add_numbered();
        }
        self
    }

    /// Adds a component named `component` listening on `port` to the node `node` (by name
    /// or id; added before), named `<node>/<component>` in the directory. It starts with
    /// the node and dies with it; its context sends from and receives at `port`. An
    /// unknown node, a bad or repeated name or a taken port is reported by [`Sim::run`].
    pub fn component<F, Fut>(mut self, node: &str, component: &str, port: Port, actor: F) -> Self
    where
        F: Fn(NodeCtx<M>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let has_main = |dir: &Directory, factories: &[NodeSpec<M>]| {
            dir.resolve_one(node)
                .ok()
                .and_then(|id| factories.get(id.index()))
                .is_some_and(|spec| spec.main.is_some())
        };
        let main = has_main(&self.directory, &self.factories);
        match self.directory.add_component(node, component, port, main) {
            Ok(id) => self.factories[id.index()].components.push((
                component.to_string(),
                port,
                factory(actor),
            )),
            Err(e) => {
                self.name_error.get_or_insert(e);
            }
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
        world.set_monitors(self.monitors);
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
                for (node, spec) in nodes.iter().copied().zip(self.factories) {
                    world.set_ports(node, spec.ports());
                    let w = world.clone();
                    let built = handle
                        .create_node()
                        .name(directory.name(node).to_string())
                        .init(move || start_node(&w, node, &spec))
                        .build();
                    world.set_madsim_id(node, built.id());
                }
                drop(madsim::task::spawn_local(pump(world.clone())));
                let injector = world.clone();
                drop(madsim::task::spawn_local(async move {
                    for fault in schedule {
                        time::sleep_until(time::SimTime::from_ms(fault.at_ms)).await;
                        injector.apply_timed(&fault);
                    }
                }));
                let value = driver(world.clone()).await;
                world.finish();
                value
            }
        });
        let stopped = world.stopped();
        let (events, history) = world.take_records();
        drop(runtime);
        Ok(RunOutput {
            seed,
            nodes,
            directory,
            trace: Trace { events },
            history,
            value,
            stopped,
        })
    }
}

/// One start of a node: a new incarnation, then every component's actor. The main actor
/// runs in the node's init task, as it did before components, so a node without
/// components schedules exactly as before; the others run as tasks of the same madsim node,
/// so a kill ends them all. The node is down once every actor has returned (madsim ends a
/// node when its init task returns, so that task waits for them all).
fn start_node<M: Message>(w: &World<M>, node: NodeId, spec: &NodeSpec<M>) -> Actor {
    let (incarnation, rng) = w.start_incarnation(node);
    let seed = w.seed();
    let extras: Vec<Actor> = spec
        .components
        .iter()
        .map(|(name, port, factory)| {
            let rng = derive_rng(seed, &format!("node/{node}/{incarnation}/{name}"));
            let at = Address::new(node, *port);
            factory(NodeCtx::new(
                w.clone(),
                at,
                Some(name.clone()),
                incarnation,
                rng,
            ))
        })
        .collect();
    let main = spec
        .main
        .as_ref()
        .map(|factory| factory(NodeCtx::new(w.clone(), node.into(), None, incarnation, rng)));
    let w = w.clone();
    Box::pin(async move {
        if extras.is_empty() {
            if let Some(main) = main {
                main.await;
            }
            w.actor_exited(node, incarnation);
            return;
        }
        // madsim ends the node when its init task returns, so it waits for every actor.
        let others: Vec<_> = extras.into_iter().map(madsim::task::spawn_local).collect();
        if let Some(main) = main {
            main.await;
        }
        for other in others {
            // An error means the task was cancelled: the node is being killed.
            if other.await.is_err() {
                return;
            }
        }
        w.actor_exited(node, incarnation);
    })
}

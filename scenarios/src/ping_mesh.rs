//! `ping-mesh`: the foundation's demo. A few nodes ping each other under the seed's faults;
//! every send must be delivered or dropped with a reason, the network must respect every
//! fault, and once the faults heal every link must carry messages again.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sim_core::checks::{MessageAccounting, NetworkRespectsFaults};
use sim_core::demo::{ping_node, FaultsCutMessages, MeshHealed, MeshReconnects, PingConfig};
use sim_core::rng::derive_rng;
use sim_core::{
    Check, Directory, DiskConfig, EventKind, FaultKnobs, FaultSchedule, NetConfig, NodeId, RunView,
    Sim, Verdict,
};

use crate::scenario::{RunInput, Scenario, ScenarioConfig, ScenarioError, ScenarioRun};

/// Most nodes a ping mesh may have (its traffic grows with the square of the count).
pub const MAX_NODES: usize = 64;

/// The ping mesh's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PingMeshConfig {
    /// Number of nodes, 2 to [`MAX_NODES`].
    pub nodes: usize,
    /// Length of the run, milliseconds of virtual time.
    pub duration_ms: u64,
    /// After the last fault, every link must carry a message within this, milliseconds.
    pub liveness_bound_ms: u64,
    /// The nodes' behaviour.
    pub ping: PingConfig,
    /// Network defaults.
    pub net: NetConfig,
    /// Disk defaults.
    pub disk: DiskConfig,
    /// How faults are drawn from the seed when no schedule is given.
    pub faults: FaultKnobs,
}

impl Default for PingMeshConfig {
    fn default() -> Self {
        PingMeshConfig {
            nodes: 3,
            duration_ms: 10_000,
            liveness_bound_ms: 2_000,
            ping: PingConfig::default(),
            net: NetConfig::default(),
            disk: DiskConfig::default(),
            faults: FaultKnobs::default(),
        }
    }
}

impl PingMeshConfig {
    fn node_ids(&self) -> Vec<NodeId> {
        self.directory().ids()
    }

    /// The peers: `peer-1`, `peer-2`, ... in group `peers`.
    fn directory(&self) -> Directory {
        let mut directory = Directory::new();
        directory
            .add_numbered_as(PEER, PEERS, self.nodes)
            .expect("fixed, valid names");
        directory
    }
}

impl ScenarioConfig for PingMeshConfig {
    fn check(self) -> Result<Self, ScenarioError> {
        let config = self;
        let bad = |msg: String| Err(ScenarioError::Config(msg));
        if !(2..=MAX_NODES).contains(&config.nodes) {
            return bad(format!(
                "nodes = {} is impossible for a ping mesh (2 to {MAX_NODES})",
                config.nodes
            ));
        }
        if config.ping.ping_interval_ms == 0 {
            return bad("ping.ping_interval_ms must be more than zero".into());
        }
        if config.net.latency.min_us > config.net.latency.max_us {
            return bad("net.latency.min_us is above net.latency.max_us".into());
        }
        if !(0.0..=1.0).contains(&config.net.loss_probability) {
            return bad("net.loss_probability must be between 0 and 1".into());
        }
        if config.disk.fsync_min_us > config.disk.fsync_max_us {
            return bad("disk.fsync_min_us is above disk.fsync_max_us".into());
        }
        config
            .faults
            .validate()
            .map_err(|e| ScenarioError::Config(format!("faults: {e}")))?;
        let needed = config.faults.window_end_ms + config.liveness_bound_ms;
        if config.faults.episodes_max > 0 && config.duration_ms < needed {
            return bad(format!(
                "duration_ms = {} ends before the liveness bound (faults.window_end_ms + \
                 liveness_bound_ms = {needed})",
                config.duration_ms
            ));
        }
        Ok(config)
    }
}

/// What a ping-mesh node is called, and its group.
const PEER: &str = "peer";
const PEERS: &str = "peers";

/// The scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct PingMesh;

impl Scenario for PingMesh {
    type Config = PingMeshConfig;

    fn name(&self) -> &'static str {
        "ping-mesh"
    }

    fn summary(&self) -> &'static str {
        "a few nodes ping each other under the seed's faults; every send is delivered or dropped with a reason"
    }

    fn directory(&self, config: &PingMeshConfig) -> Directory {
        config.directory()
    }

    fn generate_faults(&self, seed: u64, config: &PingMeshConfig) -> FaultSchedule {
        config.faults.generate(
            &config.node_ids(),
            config.net,
            &mut derive_rng(seed, "faults"),
        )
    }

    fn run(&self, input: &RunInput<'_, PingMeshConfig>) -> Result<ScenarioRun, ScenarioError> {
        let seed = input.seed;
        let config = input.config.clone();
        let ping = config.ping;
        let duration = Duration::from_millis(config.duration_ms);
        let mut sim = Sim::new(seed);
        for peer in config.directory().nodes() {
            sim = sim.named_node(&peer.name, &peer.group, move |ctx| ping_node(ctx, ping));
        }
        let out = sim
            .network(config.net)
            .disk(config.disk)
            .faults(input.faults.clone())
            .run(|world| async move { world.sleep(duration).await })?;
        let view = RunView {
            seed,
            nodes: &out.nodes,
            trace: &out.trace,
            history: &out.history,
        };
        let liveness = MeshReconnects {
            bound_ms: config.liveness_bound_ms,
        };
        let healed = MeshHealed {
            bound_ms: config.liveness_bound_ms,
        };
        let checks: [&dyn Check; 5] = [
            &MessageAccounting,
            &NetworkRespectsFaults::default(),
            &liveness,
            &FaultsCutMessages,
            &healed,
        ];
        let verdict = Verdict::judge(&view, &checks);
        let summary = network_summary(&out.trace.events, &out.nodes);
        Ok(ScenarioRun {
            nodes: out.nodes,
            trace: out.trace,
            history: out.history,
            verdict,
            data: vec![(
                "network_summary.json".into(),
                serde_json::to_vec_pretty(&summary).expect("summaries serialize"),
            )],
        })
    }
}

/// Per node: messages sent, delivered to it, and dropped on their way to it, by reason.
#[derive(Debug, Default, Serialize)]
struct NodeTraffic {
    sent: u64,
    received: u64,
    dropped: BTreeMap<String, u64>,
}

fn network_summary(
    events: &[sim_core::TraceEvent],
    nodes: &[NodeId],
) -> BTreeMap<String, NodeTraffic> {
    let mut by_node: BTreeMap<String, NodeTraffic> = nodes
        .iter()
        .map(|n| (n.to_string(), NodeTraffic::default()))
        .collect();
    for e in events {
        match &e.kind {
            EventKind::Send { .. } => {
                if let Some(n) = e.node {
                    by_node.entry(n.to_string()).or_default().sent += 1;
                }
            }
            EventKind::Deliver { .. } => {
                if let Some(n) = e.node {
                    by_node.entry(n.to_string()).or_default().received += 1;
                }
            }
            EventKind::Drop { to, reason, .. } => {
                *by_node
                    .entry(to.to_string())
                    .or_default()
                    .dropped
                    .entry(reason.as_str().to_string())
                    .or_default() += 1;
            }
            _ => {}
        }
    }
    by_node
}

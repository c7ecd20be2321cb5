//! A client of a Raft cluster: issues operations, follows leader hints, times out.
//!
//! Every operation lands in the history: invoked when first sent, `ok` when a node answers
//! it, and `info` (indeterminate) when its deadline passes without an answer, because a
//! write that timed out may still be committed later. A `NotLeader` answer sends the same
//! request to the hinted leader (or the next server) without a new history entry.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use sim_core::{NodeCtx, NodeId, OpOutcome};

use super::app::{ClientOp, ClientReply, Describe, StateMachine};
use super::message::{Msg, MsgOf};

/// How a client behaves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// Wait this long before the first operation, milliseconds.
    pub start_ms: u64,
    /// Pause between operations, milliseconds.
    pub interval_ms: u64,
    /// Give up on an operation after this long, milliseconds (then it is indeterminate).
    pub timeout_ms: u64,
    /// Wait before retrying after a `NotLeader` without a hint, milliseconds.
    pub retry_ms: u64,
    /// Share of operations that are reads.
    pub read_probability: f64,
    /// Stop after this many operations (0: never).
    pub max_ops: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            start_ms: 1_000,
            interval_ms: 100,
            timeout_ms: 2_000,
            retry_ms: 50,
            read_probability: 0.3,
            max_ops: 0,
        }
    }
}

/// Makes the client's operations: a write command or a read query, given the client's rng
/// and the operation's sequence number.
pub trait Workload<S: StateMachine>: Send + Sync + 'static {
    /// A write command.
    fn command(&self, client: NodeId, seq: u64) -> S::Command;
    /// A read query.
    fn query(&self, client: NodeId, seq: u64) -> S::Query;
}

/// The register workload: writes of unique values `c<client>-<seq>`, and reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct RegisterWorkload;

impl Workload<super::app::Register> for RegisterWorkload {
    fn command(&self, client: NodeId, seq: u64) -> super::app::Write {
        super::app::Write(format!("{client}-{seq}"))
    }

    fn query(&self, _: NodeId, _: u64) -> super::app::Read {
        super::app::Read
    }
}

/// Runs a client against `servers`.
pub async fn run_client<S: StateMachine, W: Workload<S>>(
    mut ctx: NodeCtx<MsgOf<S>>,
    config: ClientConfig,
    servers: Vec<NodeId>,
    workload: std::sync::Arc<W>,
) {
    assert!(!servers.is_empty(), "a client needs servers");
    ctx.sleep(Duration::from_millis(config.start_ms)).await;
    let mut target = servers[ctx.rng().gen_range(0..servers.len())];
    let mut request = 0u64;
    let mut seq = 0u64;
    loop {
        seq += 1;
        if config.max_ops > 0 && seq > config.max_ops {
            return ctx.sleep(Duration::from_secs(u64::from(u32::MAX))).await;
        }
        let read = ctx.rng().gen_bool(config.read_probability.clamp(0.0, 1.0));
        let (op, f, value, detail): (ClientOp<S::Command, S::Query>, _, _, _) = if read {
            let q = workload.query(ctx.id(), seq);
            let value = serde_json::to_value(&q).expect("queries serialize");
            let detail = q.describe();
            (ClientOp::Query(q), "read", value, detail)
        } else {
            let c = workload.command(ctx.id(), seq);
            let value = serde_json::to_value(&c).expect("commands serialize");
            let detail = c.describe();
            (ClientOp::Command(c), "write", value, detail)
        };
        let op_id = ctx.invoke(f, None, value, detail);
        let deadline = ctx.now().after(Duration::from_millis(config.timeout_ms));
        let mut outcome = None;
        'attempts: while ctx.now() < deadline {
            request += 1;
            ctx.send(
                target,
                Msg::Request {
                    request,
                    op: op.clone(),
                },
            );
            loop {
                let Some(env) = ctx.recv_until(deadline).await else {
                    break 'attempts;
                };
                let Msg::Reply { request: r, reply } = env.msg else {
                    continue;
                };
                if r != request {
                    continue; // an answer to an attempt we gave up on
                }
                match reply {
                    ClientReply::Done {
                        output,
                        index,
                        term,
                    } => {
                        outcome = Some(serde_json::json!({
                            "output": serde_json::to_value(&output).expect("outputs serialize"),
                            "index": index,
                            "term": term,
                        }));
                        break 'attempts;
                    }
                    // Answers to membership changes, which this client never asks for.
                    ClientReply::ConfChanged { .. } | ClientReply::Refused { .. } => continue,
                    ClientReply::NotLeader { leader } => {
                        target = match leader {
                            Some(l) if l != target => l,
                            _ => {
                                let next = servers[ctx.rng().gen_range(0..servers.len())];
                                ctx.sleep(Duration::from_millis(config.retry_ms)).await;
                                next
                            }
                        };
                        continue 'attempts;
                    }
                }
            }
        }
        match outcome {
            Some(value) => ctx.complete(op_id, OpOutcome::Ok, value, String::new()),
            None => {
                ctx.complete(
                    op_id,
                    OpOutcome::Info,
                    serde_json::Value::Null,
                    "timed out".into(),
                );
                // The node we asked may be gone: try another next time.
                target = servers[ctx.rng().gen_range(0..servers.len())];
            }
        }
        ctx.sleep(Duration::from_millis(config.interval_ms)).await;
    }
}

//! Histories that are linearizable by construction, for tests and benchmarks.
//!
//! Concurrent clients drive a real sequential store: each operation is invoked, takes
//! effect at one instant some time later (applied to the store, which fixes its answer),
//! and completes later still. Invocations, effects and completions of different clients
//! interleave at random, so the recorded history has real concurrency, and the order of
//! effects is a linearization of it. Some operations end `info` (their effect applied or
//! not), or never complete. Everything is drawn from a seeded ChaCha rng.

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::history::{EntryType, History, HistoryEntry};
use crate::ids::{NodeId, OpId};
use crate::time::SimTime;

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenConfig {
    /// Concurrent clients.
    pub clients: usize,
    /// Operations invoked in all.
    pub ops: usize,
    /// Keys the operations spread over (ignored by the register).
    pub keys: usize,
    /// Percent of operations whose outcome is lost (`info` or never completed).
    pub indeterminate_percent: u32,
    /// The rng seed.
    pub seed: u64,
}

impl Default for GenConfig {
    /// 5 clients, 1000 operations over 10 keys, 2% indeterminate, seed 0.
    fn default() -> Self {
        GenConfig {
            clients: 5,
            ops: 1000,
            keys: 10,
            indeterminate_percent: 2,
            seed: 0,
        }
    }
}

/// A sequential store the clients act on: it answers an invocation when it takes effect.
trait Store {
    /// Draws an operation for `client`: (f, key, invocation value).
    fn invent(
        &mut self,
        rng: &mut ChaCha8Rng,
        client: usize,
        keys: usize,
    ) -> (String, Option<String>, Value);
    /// Applies it; returns the answer and whether it completes `ok` (else `fail`).
    fn apply(&mut self, client: usize, f: &str, key: Option<&str>, value: &Value) -> (Value, bool);
}

/// Where one client is.
#[derive(Clone, Debug)]
enum Stage {
    Idle,
    Invoked {
        op: OpId,
        f: String,
        key: Option<String>,
        value: Value,
    },
    Applied {
        op: OpId,
        f: String,
        key: Option<String>,
        answer: Value,
        ok: bool,
    },
}

fn drive(cfg: &GenConfig, store: &mut dyn Store) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut stages = vec![Stage::Idle; cfg.clients.max(1)];
    let mut entries = Vec::new();
    let mut invoked = 0;
    let mut tick = 0u64;
    let keys = cfg.keys.max(1);
    let lost = |rng: &mut ChaCha8Rng| rng.gen_range(0..200) < cfg.indeterminate_percent;
    loop {
        let busy = stages.iter().any(|s| !matches!(s, Stage::Idle));
        if invoked >= cfg.ops && !busy {
            break;
        }
        let c = rng.gen_range(0..stages.len());
        tick += 1;
        let entry = |op, entry_type, f: &str, key: &Option<String>, value| HistoryEntry {
            op,
            client: NodeId::from_index(c),
            entry_type,
            t_us: SimTime(tick * 10),
            f: f.to_string(),
            key: key.clone(),
            value,
        };
        stages[c] = match std::mem::replace(&mut stages[c], Stage::Idle) {
            Stage::Idle if invoked < cfg.ops => {
                let op = OpId(invoked as u64);
                invoked += 1;
                let (f, key, value) = store.invent(&mut rng, c, keys);
                entries.push(entry(op, EntryType::Invoke, &f, &key, value.clone()));
                Stage::Invoked { op, f, key, value }
            }
            Stage::Idle => Stage::Idle,
            Stage::Invoked { op, f, key, value } => {
                if lost(&mut rng) {
                    // Lost before it reached the store: it never takes effect.
                    entries.push(entry(op, EntryType::Info, &f, &key, Value::Null));
                    Stage::Idle
                } else {
                    let (answer, ok) = store.apply(c, &f, key.as_deref(), &value);
                    Stage::Applied {
                        op,
                        f,
                        key,
                        answer,
                        ok,
                    }
                }
            }
            Stage::Applied {
                op,
                f,
                key,
                answer,
                ok,
            } => {
                if lost(&mut rng) {
                    // Took effect, but the answer was lost: info, or no completion at all.
                    if rng.gen_bool(0.5) {
                        entries.push(entry(op, EntryType::Info, &f, &key, Value::Null));
                    }
                } else {
                    let t = if ok { EntryType::Ok } else { EntryType::Fail };
                    entries.push(entry(op, t, &f, &key, answer));
                }
                Stage::Idle
            }
        };
    }
    History { entries }
}

/// One etcd key: value, create and mod revision, version.
#[derive(Clone, Debug)]
struct EtcdKey {
    value: Value,
    create: u64,
    modr: u64,
    version: u64,
}

/// A sequential etcd: one revision counter, keys with revisions and versions.
#[derive(Debug, Default)]
struct Etcd {
    revision: u64,
    keys: BTreeMap<String, EtcdKey>,
    /// Per client and key, the last mod revision it saw (what its cas expects).
    seen: BTreeMap<(usize, String), u64>,
    next_value: u64,
}

impl Etcd {
    fn put(&mut self, key: &str, value: Value) -> u64 {
        self.revision += 1;
        let rev = self.revision;
        let k = self.keys.entry(key.to_string()).or_insert(EtcdKey {
            value: Value::Null,
            create: rev,
            modr: rev,
            version: 0,
        });
        k.value = value;
        k.modr = rev;
        k.version += 1;
        rev
    }
}

impl Store for Etcd {
    fn invent(
        &mut self,
        rng: &mut ChaCha8Rng,
        client: usize,
        keys: usize,
    ) -> (String, Option<String>, Value) {
        let key = format!("k{}", rng.gen_range(0..keys));
        self.next_value += 1;
        let v = json!(format!("v{}", self.next_value));
        let (f, value) = match rng.gen_range(0..10) {
            0..=3 => ("get", Value::Null),
            4..=6 => ("put", json!({ "value": v })),
            7..=8 => {
                let e = self.seen.get(&(client, key.clone())).copied().unwrap_or(0);
                ("cas", json!({ "expected_mod_revision": e, "value": v }))
            }
            _ => ("delete", Value::Null),
        };
        (f.to_string(), Some(key), value)
    }

    fn apply(&mut self, client: usize, f: &str, key: Option<&str>, value: &Value) -> (Value, bool) {
        let key = key.expect("etcd operations have a key");
        let current = self.keys.get(key).cloned();
        let answer = match f {
            "get" => {
                let (v, m, c, n) = current.map_or((Value::Null, 0, 0, 0), |k| {
                    (k.value, k.modr, k.create, k.version)
                });
                self.seen.insert((client, key.to_string()), m);
                json!({"value": v, "mod_revision": m, "create_revision": c, "version": n, "revision": self.revision})
            }
            "put" => {
                let rev = self.put(key, value["value"].clone());
                self.seen.insert((client, key.to_string()), rev);
                json!({ "revision": rev })
            }
            "delete" => {
                let deleted = self.keys.remove(key).is_some();
                if deleted {
                    self.revision += 1;
                }
                json!({"deleted": u8::from(deleted), "revision": self.revision})
            }
            "cas" => {
                let expected = value["expected_mod_revision"].as_u64().unwrap_or(0);
                if current.map_or(0, |k| k.modr) == expected {
                    let rev = self.put(key, value["value"].clone());
                    self.seen.insert((client, key.to_string()), rev);
                    json!({"succeeded": true, "revision": rev})
                } else {
                    json!({"succeeded": false, "revision": self.revision})
                }
            }
            other => unreachable!("Etcd::invent makes no `{other}`"),
        };
        (answer, true)
    }
}

/// Jepsen's cas register: reads, writes, and cas that fail when they do not match.
#[derive(Debug, Default)]
struct Register {
    value: Option<i64>,
}

impl Store for Register {
    fn invent(
        &mut self,
        rng: &mut ChaCha8Rng,
        _client: usize,
        _keys: usize,
    ) -> (String, Option<String>, Value) {
        let (f, value) = match rng.gen_range(0..3) {
            0 => ("read", Value::Null),
            1 => ("write", json!(rng.gen_range(0..5))),
            _ => ("cas", json!([rng.gen_range(0..5), rng.gen_range(0..5)])),
        };
        (f.to_string(), None, value)
    }

    fn apply(
        &mut self,
        _client: usize,
        f: &str,
        _key: Option<&str>,
        value: &Value,
    ) -> (Value, bool) {
        match f {
            "read" => (self.value.map_or(Value::Null, |v| json!(v)), true),
            "write" => {
                self.value = value.as_i64();
                (value.clone(), true)
            }
            _ => {
                let swapped = self.value == value[0].as_i64();
                if swapped {
                    self.value = value[1].as_i64();
                }
                (value.clone(), swapped)
            }
        }
    }
}

/// A linearizable history of ksim's etcd operations (`get`, `put`, `delete`, `cas`).
pub fn etcd_kv_history(cfg: &GenConfig) -> History {
    drive(cfg, &mut Etcd::default())
}

/// A linearizable history of Jepsen's cas register (values 0 to 4).
pub fn register_history(cfg: &GenConfig) -> History {
    drive(cfg, &mut Register::default())
}

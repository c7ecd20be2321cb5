//! The fold of the history's invocations and completions into one record per client
//! operation.

use std::collections::BTreeMap;

use sim_core::{EntryType, History, OpId};

use super::{OpEnd, OpRecord, RunModel};

impl RunModel {
    pub(super) fn fold_ops(&mut self, history: &History) {
        let mut index: BTreeMap<OpId, usize> = BTreeMap::new();
        for entry in &history.entries {
            let t = entry.t_us.0;
            match entry.entry_type {
                EntryType::Invoke => {
                    index.insert(entry.op, self.ops.len());
                    self.ops.push(OpRecord {
                        op: entry.op,
                        client: entry.client,
                        f: entry.f.clone(),
                        key: entry.key.clone(),
                        argument: entry.value.clone(),
                        result: None,
                        invoke_us: t,
                        complete_us: None,
                        end: OpEnd::Info,
                    });
                }
                done => {
                    if let Some(&i) = index.get(&entry.op) {
                        let op = &mut self.ops[i];
                        op.complete_us = Some(t);
                        op.result = Some(entry.value.clone());
                        op.end = match done {
                            EntryType::Ok => OpEnd::Ok,
                            EntryType::Fail => OpEnd::Fail,
                            _ => OpEnd::Info,
                        };
                    }
                }
            }
        }
    }
}

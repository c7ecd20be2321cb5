//! The fold of sends, deliveries and drops into one record per message with its fate.

use std::collections::BTreeMap;

use sim_core::{EventKind, LayerRecord, MessageId, Trace};

use super::{Fate, MessageRecord, RunModel};

impl RunModel {
    pub(super) fn fold_messages(&mut self, trace: &Trace) {
        let mut index: BTreeMap<MessageId, usize> = BTreeMap::new();
        for event in &trace.events {
            let t = event.t_us.0;
            match &event.kind {
                EventKind::Send {
                    msg,
                    to,
                    kind,
                    fields,
                    ..
                } => {
                    let Some(from) = event.node else { continue };
                    index.insert(*msg, self.messages.len());
                    self.messages.push(MessageRecord {
                        id: *msg,
                        from,
                        to: *to,
                        kind: kind.to_string(),
                        detail: fields
                            .as_ref()
                            .map(LayerRecord::summary)
                            .unwrap_or_default(),
                        fields: fields.clone(),
                        sent_us: t,
                        send_event: event.id,
                        fate: Fate::InFlight,
                    });
                }
                EventKind::Deliver { msg, .. } => {
                    if let Some(&i) = index.get(msg) {
                        self.messages[i].fate = Fate::Delivered {
                            t_us: t,
                            event: event.id,
                        };
                    }
                }
                EventKind::Drop { msg, reason, .. } => {
                    if let Some(&i) = index.get(msg) {
                        self.messages[i].fate = Fate::Dropped {
                            t_us: t,
                            reason: *reason,
                            event: event.id,
                        };
                    }
                }
                _ => {}
            }
        }
    }
}

//! Layer events: what the layers above the world (Raft, etcd, and next Kubernetes) put in
//! the trace, each in its own type.
//!
//! sim-core records the world: nodes, messages, disks, clocks, faults, client operations.
//! It names no protocol. A layer defines its events as one serde type, marks it with
//! [`LayerEvent`] (the layer's name is the `layer` field of its lines in `trace.jsonl`),
//! and records them through [`crate::NodeCtx::record_layer`]. Readers get them back as the
//! same type with [`crate::TraceEvent::layer`]: no layer parses another's strings, and a
//! renamed field is a compile error rather than a silent miss.
//!
//! Why type erasure rather than a type parameter on the trace: one trace holds the events
//! of several layers written by crates that do not know each other (the Raft driver, the
//! etcd server, an API server), and every checker, report and supervisor that reads a trace
//! would otherwise have to name the union of all of them. A [`LayerRecord`] is an
//! `Arc<dyn ...>` over the layer's own value, so reading one in memory is a downcast, not a
//! decode. Reading a trace file back needs to know which type a layer's events have: the
//! caller passes [`Layers`], the layers it knows (a file with a layer not in it is refused
//! with its line, never read as something else).
//!
//! The canonical encoding the trace hash is taken over ([`crate::canonical`]) writes a
//! record as its layer's name and then its value in postcard, through a method
//! monomorphized for the layer's type ([`LayerRecord::encode_canonical`]): one dynamic
//! call a record rather than `erased_serde`'s one a field, so a layer event costs the hash
//! about what a world event of the same shape costs.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The event type of one layer.
pub trait LayerEvent:
    Clone + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The layer's name in `trace.jsonl` (`raft`, `etcd`); unique among the layers of a
    /// world.
    const LAYER: &'static str;

    /// The event in a few words for people (tooltips, the viewer, Perfetto), in the
    /// layer's own terms: `term=3 match=7`. Shown as it is, never parsed back.
    fn summary(&self) -> String {
        format!("{self:?}")
    }
}

/// What sim-core needs of a layer event it holds without knowing its type.
trait ErasedEvent: Any + Debug + Send + Sync + erased_serde::Serialize {
    fn layer(&self) -> &'static str;
    fn summary(&self) -> String;
    /// Appends the value's postcard bytes (the canonical encoding's, see the module docs).
    fn encode_postcard(&self, out: &mut Vec<u8>);
    fn same(&self, other: &dyn ErasedEvent) -> bool;
    fn as_any(&self) -> &dyn Any;
}

impl<T: LayerEvent> ErasedEvent for T {
    fn layer(&self) -> &'static str {
        T::LAYER
    }

    fn summary(&self) -> String {
        LayerEvent::summary(self)
    }

    fn encode_postcard(&self, out: &mut Vec<u8>) {
        let bytes = std::mem::take(out);
        *out = postcard::to_extend(self, bytes).expect("layer events encode in postcard");
    }

    fn same(&self, other: &dyn ErasedEvent) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

erased_serde::serialize_trait_object!(ErasedEvent);

/// One layer's event, held without naming its type (see the module docs).
#[derive(Clone)]
pub struct LayerRecord(Repr);

#[derive(Clone)]
enum Repr {
    /// The layer's own value.
    Typed(Arc<dyn ErasedEvent>),
    /// Read from a file, not yet given its type ([`Layers::decode`] replaces it); never
    /// left in a trace that [`crate::Trace::read_jsonl`] returns.
    Undecoded {
        layer: String,
        event: serde_json::Value,
    },
}

impl LayerRecord {
    /// A record of `event`.
    pub fn new<T: LayerEvent>(event: T) -> Self {
        LayerRecord(Repr::Typed(Arc::new(event)))
    }

    /// The layer's name.
    pub fn layer(&self) -> &str {
        match &self.0 {
            Repr::Typed(event) => event.layer(),
            Repr::Undecoded { layer, .. } => layer,
        }
    }

    /// The event in words (see [`LayerEvent::summary`]).
    pub fn summary(&self) -> String {
        match &self.0 {
            Repr::Typed(event) => event.summary(),
            Repr::Undecoded { event, .. } => event.to_string(),
        }
    }

    /// Appends the record's canonical encoding (its layer's name, then its value in
    /// postcard): the bytes postcard writes for the record's serde form, without
    /// `erased_serde` (see the module docs).
    ///
    /// # Panics
    ///
    /// Never in practice: postcard writes every serde value into a `Vec`.
    pub(crate) fn encode_canonical(&self, out: &mut Vec<u8>) {
        match &self.0 {
            Repr::Typed(event) => {
                crate::canonical::varint(out, event.layer().len() as u64);
                out.extend_from_slice(event.layer().as_bytes());
                event.encode_postcard(out);
            }
            Repr::Undecoded { .. } => {
                let bytes = std::mem::take(out);
                *out = postcard::to_extend(self, bytes).expect("records encode in postcard");
            }
        }
    }

    /// The event, if it is of layer `T`.
    pub fn get<T: LayerEvent>(&self) -> Option<&T> {
        match &self.0 {
            Repr::Typed(event) => event.as_any().downcast_ref(),
            Repr::Undecoded { .. } => None,
        }
    }
}

impl Debug for LayerRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Repr::Typed(event) => write!(f, "{}:{event:?}", event.layer()),
            Repr::Undecoded { layer, event } => write!(f, "{layer}:(undecoded) {event}"),
        }
    }
}

impl PartialEq for LayerRecord {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Typed(a), Repr::Typed(b)) => a.same(b.as_ref()),
            (
                Repr::Undecoded { layer, event },
                Repr::Undecoded {
                    layer: other_layer,
                    event: other_event,
                },
            ) => layer == other_layer && event == other_event,
            _ => false,
        }
    }
}

impl Serialize for LayerRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("LayerRecord", 2)?;
        match &self.0 {
            Repr::Typed(event) => {
                out.serialize_field("layer", event.layer())?;
                out.serialize_field("event", event.as_ref())?;
            }
            Repr::Undecoded { layer, event } => {
                out.serialize_field("layer", layer)?;
                out.serialize_field("event", event)?;
            }
        }
        out.end()
    }
}

impl<'de> Deserialize<'de> for LayerRecord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            layer: String,
            event: serde_json::Value,
        }
        let Wire { layer, event } = Wire::deserialize(deserializer)?;
        Ok(LayerRecord(Repr::Undecoded { layer, event }))
    }
}

/// A layer event read from a file that cannot be given its type.
#[derive(Debug, thiserror::Error)]
pub enum LayerDecodeError {
    /// No layer of that name is known to the reader.
    #[error("unknown layer `{layer}` (this reader knows: {known})")]
    Unknown {
        /// The layer named in the file.
        layer: String,
        /// The layers the reader knows, comma-separated.
        known: String,
    },
    /// The layer is known but the event is not one of its events.
    #[error("not a `{layer}` event: {message}")]
    Malformed {
        /// The layer.
        layer: String,
        /// What serde said.
        message: String,
    },
}

type Decoder = fn(serde_json::Value) -> Result<LayerRecord, serde_json::Error>;

/// The layers a trace reader knows, by name (see the module docs).
#[derive(Clone, Default)]
pub struct Layers {
    decoders: BTreeMap<&'static str, Decoder>,
}

impl Debug for Layers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.decoders.keys()).finish()
    }
}

impl Layers {
    /// No layers: a world-only trace (a ping mesh).
    pub fn none() -> Self {
        Layers::default()
    }

    /// These layers and `T`.
    pub fn with<T: LayerEvent>(mut self) -> Self {
        fn decode<T: LayerEvent>(
            value: serde_json::Value,
        ) -> Result<LayerRecord, serde_json::Error> {
            serde_json::from_value::<T>(value).map(LayerRecord::new)
        }
        self.decoders.insert(T::LAYER, decode::<T>);
        self
    }

    /// These layers and those of `other`.
    pub fn merge(mut self, other: &Layers) -> Self {
        self.decoders
            .extend(other.decoders.iter().map(|(k, v)| (*k, *v)));
        self
    }

    /// Gives a record read from a file its type (typed records are returned as they are).
    pub fn decode(&self, record: LayerRecord) -> Result<LayerRecord, LayerDecodeError> {
        let Repr::Undecoded { layer, event } = record.0 else {
            return Ok(record);
        };
        let Some(decode) = self.decoders.get(layer.as_str()) else {
            let known = self.decoders.keys().copied().collect::<Vec<_>>().join(", ");
            return Err(LayerDecodeError::Unknown {
                layer,
                known: if known.is_empty() {
                    "none".to_string()
                } else {
                    known
                },
            });
        };
        decode(event).map_err(|e| LayerDecodeError::Malformed {
            layer,
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "kebab-case")]
    enum Toy {
        Ping { round: u32 },
        Pong { round: u32, late: bool },
    }

    impl LayerEvent for Toy {
        const LAYER: &'static str = "toy";
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Other(u32);

    impl LayerEvent for Other {
        const LAYER: &'static str = "other";
    }

    #[test]
    fn a_record_is_read_back_as_its_own_type_only() {
        let record = LayerRecord::new(Toy::Ping { round: 3 });
        assert_eq!(record.layer(), "toy");
        assert_eq!(record.get::<Toy>(), Some(&Toy::Ping { round: 3 }));
        assert_eq!(record.get::<Other>(), None);
        assert_ne!(record, LayerRecord::new(Toy::Ping { round: 4 }));
        assert_ne!(record, LayerRecord::new(Other(3)));
    }

    #[test]
    fn json_round_trip_needs_the_layer() {
        let record = LayerRecord::new(Toy::Pong {
            round: 2,
            late: true,
        });
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(
            json,
            r#"{"layer":"toy","event":{"type":"pong","round":2,"late":true}}"#
        );
        let read: LayerRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(read.get::<Toy>(), None, "undecoded until a reader types it");
        let typed = Layers::none().with::<Toy>().decode(read.clone()).unwrap();
        assert_eq!(typed, record);

        let err = Layers::none().with::<Other>().decode(read).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown layer `toy` (this reader knows: other)"
        );
        let bad: LayerRecord =
            serde_json::from_str(r#"{"layer":"toy","event":{"type":"pang"}}"#).unwrap();
        assert!(matches!(
            Layers::none().with::<Toy>().decode(bad),
            Err(LayerDecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn the_canonical_encoding_is_the_layer_then_the_value() {
        let record = LayerRecord::new(Toy::Ping { round: 300 });
        let erased = postcard::to_allocvec(&record).unwrap();
        let direct = postcard::to_allocvec(&("toy", Toy::Ping { round: 300 })).unwrap();
        assert_eq!(erased, direct);
    }
}

//! The digest of an entry's data that the trace names it by ([`crate::events::EntryRef`]).
//!
//! The digest is the first four bytes of the BLAKE3 hash of the entry kind's bytes: a tag
//! (`0` no-op, `1` normal, `2` membership change) followed by the data itself for a normal
//! entry, or the postcard encoding of the change. The tag keeps a no-op, an empty normal
//! entry and a change apart.
//!
//! Every member digests every entry twice (when it is durable, and when it is applied),
//! so this is on the simulation's hot path: the digest used to be taken over the kind's
//! JSON, which writes each data byte as decimal text (three times the bytes to hash, and
//! in a `partition-5node` run still 10% of the run's instructions after the text was
//! written from a table). Hashing the raw bytes costs a fraction of that.

use crate::core::EntryKind;
use crate::events::EntryDigest;

/// The tag bytes that start each kind's digest input.
const NOOP: u8 = 0;
const NORMAL: u8 = 1;
const CONF_CHANGE: u8 = 2;

/// The trace's digest of an entry kind (see the module docs).
///
/// # Panics
///
/// Never in practice: every membership change encodes in postcard.
pub fn entry_digest(kind: &EntryKind) -> EntryDigest {
    let mut hasher = blake3::Hasher::new();
    match kind {
        EntryKind::Noop => {
            hasher.update(&[NOOP]);
        }
        EntryKind::Normal(data) => {
            hasher.update(&[NORMAL]);
            hasher.update(data);
        }
        EntryKind::ConfChange(change) => {
            hasher.update(&[CONF_CHANGE]);
            hasher.update(&postcard::to_allocvec(change).expect("conf changes encode"));
        }
    }
    let hash = hasher.finalize();
    let first: [u8; 4] = hash.as_bytes()[..4].try_into().expect("4 bytes");
    EntryDigest(u32::from_be_bytes(first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ConfChange;
    use sim_core::NodeId;

    #[test]
    fn kinds_and_data_get_distinct_digests() {
        let kinds = [
            EntryKind::Noop,
            EntryKind::Normal(Vec::new()),
            EntryKind::Normal(vec![0]),
            EntryKind::Normal(vec![1, 2]),
            EntryKind::Normal(vec![12]),
            EntryKind::Normal(b"{\"put\":\"k0\"}".to_vec()),
            EntryKind::ConfChange(ConfChange::AddLearner(NodeId(4))),
            EntryKind::ConfChange(ConfChange::Remove(NodeId(4))),
        ];
        let digests: std::collections::BTreeSet<EntryDigest> =
            kinds.iter().map(entry_digest).collect();
        assert_eq!(digests.len(), kinds.len(), "{digests:?}");
    }

    #[test]
    fn the_digest_is_the_first_four_bytes_of_blake3_of_tag_and_data() {
        let data = b"put k0 v1".to_vec();
        let mut input = vec![NORMAL];
        input.extend_from_slice(&data);
        let expected = blake3::hash(&input).to_hex()[..8].to_string();
        assert_eq!(entry_digest(&EntryKind::Normal(data)).to_string(), expected);
    }

    #[test]
    fn json_writes_hex_text_and_reads_it_back() {
        let digest = EntryDigest(0x0abc_0001);
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(json, "\"0abc0001\"");
        assert_eq!(serde_json::from_str::<EntryDigest>(&json).unwrap(), digest);
        let bad = serde_json::from_str::<EntryDigest>("\"stale\"").unwrap_err();
        assert!(bad.to_string().contains("8 hex digits"), "{bad}");
        assert_eq!(postcard::to_allocvec(&digest).unwrap().len(), 4);
    }
}

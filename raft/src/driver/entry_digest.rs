//! The digest of an entry's data that the trace names it by ([`crate::events::EntryRef`]).
//!
//! The digest is the first 8 hex digits of the BLAKE3 hash of the entry kind's JSON
//! (`{"Normal":[112,117,116]}`, `"Noop"`). Every node digests every entry twice (when it
//! is durable, and when it is applied), and serde_json writes a `Vec<u8>` as an array of
//! numbers through its generic sequence machinery, one formatter call per byte: in a
//! `partition-5node` run that was 12% of the whole run's instructions. [`entry_digest`]
//! writes the same bytes for `Normal` data straight into the hasher from a table of each
//! byte's decimal text, so the digest (and every trace hash) is unchanged; the other kinds
//! are rare and go through serde_json.

use crate::core::EntryKind;

/// Bytes gathered before a hasher update (BLAKE3 costs less per byte in larger updates).
const CHUNK: usize = 1024;

/// The decimal text of every byte value, as serde_json writes it.
fn decimal(byte: u8) -> &'static [u8] {
    const TABLE: [[u8; 3]; 256] = {
        let mut table = [[0u8; 3]; 256];
        let mut i = 0;
        while i < 256 {
            let (h, t, o) = ((i / 100) as u8, ((i / 10) % 10) as u8, (i % 10) as u8);
            table[i] = [b'0' + h, b'0' + t, b'0' + o];
            i += 1;
        }
        table
    };
    let text = &TABLE[byte as usize];
    match byte {
        0..=9 => &text[2..],
        10..=99 => &text[1..],
        _ => &text[..],
    }
}

/// The trace's digest of an entry kind: the first 8 hex digits of the BLAKE3 hash of its
/// serde_json text (see the module docs).
///
/// # Panics
///
/// Never in practice: every entry kind serializes.
pub fn entry_digest(kind: &EntryKind) -> String {
    let mut hasher = blake3::Hasher::new();
    match kind {
        EntryKind::Normal(data) => {
            let mut buf = Vec::with_capacity(CHUNK + 8);
            buf.extend_from_slice(b"{\"Normal\":[");
            for (i, &byte) in data.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                buf.extend_from_slice(decimal(byte));
                if buf.len() >= CHUNK {
                    hasher.update(&buf);
                    buf.clear();
                }
            }
            buf.extend_from_slice(b"]}");
            hasher.update(&buf);
        }
        EntryKind::Noop | EntryKind::ConfChange(_) => {
            hasher.update(&serde_json::to_vec(kind).expect("entries serialize"));
        }
    }
    hasher.finalize().to_hex()[..8].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::digest;

    fn by_serde(kind: &EntryKind) -> String {
        digest(&serde_json::to_vec(kind).unwrap())
    }

    #[test]
    fn equals_the_digest_of_serde_json_text() {
        let every_byte: Vec<u8> = (0..=255u8).collect();
        let long: Vec<u8> = (0..5_000u32).map(|i| (i * 37 % 256) as u8).collect();
        let kinds = [
            EntryKind::Noop,
            EntryKind::Normal(Vec::new()),
            EntryKind::Normal(b"{\"put\":\"k0\"}".to_vec()),
            EntryKind::Normal(every_byte),
            EntryKind::Normal(long),
        ];
        for kind in &kinds {
            assert_eq!(entry_digest(kind), by_serde(kind), "{kind:?}");
        }
        assert_ne!(
            entry_digest(&EntryKind::Normal(vec![1, 2])),
            entry_digest(&EntryKind::Normal(vec![12]))
        );
    }
}

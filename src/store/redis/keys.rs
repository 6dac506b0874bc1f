//! The key layout: which hash slot a session, its token hashes and its user's index
//! live in, and the names of those keys.
//!
//! Every user is placed in one of [`SHARDS`] shards by a hash of the user id. All keys
//! of the user's sessions (records, token index entries, the user index) carry the
//! shard's hash tag, so one Lua script changes them atomically on one Redis node, and
//! the shards spread users over every master of a cluster.
//!
//! A token hash and a session id each also have a *home* shard computed from
//! themselves alone (the first byte of the SHA-256 of the token; a hash of the id).
//! When the manager is told the store colocates (see `Policy::colocate`), it draws
//! tokens and ids whose home is their user's shard, so `validate` finds a session in
//! one round trip from the token's hash alone. A token or id whose home is elsewhere
//! (imported from the seed, or made by a manager that does not colocate) gets a small
//! alias key in its home shard pointing to the user's shard: one more round trip.
//!
//! Each shard's hash tag is a short label chosen so that the 256 shards' hash slots are
//! evenly spaced over Redis Cluster's 16384 slots (shard `n` in slots `64n..64n+63`),
//! so any even assignment of slots to masters gives each master an even share.

use std::sync::OnceLock;

/// Number of shards (hash tags) users are spread over.
pub const SHARDS: usize = 256;

/// Redis Cluster's number of hash slots.
const SLOTS: u16 = 16384;

/// The shard a token hash (64 hex digits) belongs to: its first byte. A string that is
/// not hex gives shard 0 (it matches no stored hash anyway).
pub fn shard_of_hash(token_hash_hex: &str) -> u8 {
    token_hash_hex
        .get(..2)
        .and_then(|h| u8::from_str_radix(h, 16).ok())
        .unwrap_or(0)
}

/// The shard of a user (by user id).
pub fn shard_of_user(user_id: &str) -> u8 {
    fold(fnv1a(user_id.as_bytes()))
}

/// The home shard of a session id.
pub fn shard_of_id(session_id: &str) -> u8 {
    // A different seed from users', so a user's id and a session id that happen to be
    // equal strings do not correlate.
    fold(fnv1a(session_id.as_bytes()) ^ 0x9e37_79b9)
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn fold(h: u32) -> u8 {
    let h = h ^ (h >> 16);
    (h ^ (h >> 8)) as u8
}

/// Redis Cluster's key slot of `key` (CRC16/XMODEM of the hash tag, or of the whole
/// key when it has none), as `CLUSTER KEYSLOT` computes it.
pub fn key_slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter()
                .position(|&b| b == b'}')
                .filter(|&close| close > 0)
                .map(|close| &rest[..close])
        })
        .unwrap_or(key);
    crc16(tagged) % SLOTS
}

fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |crc, &b| {
        let mut crc = crc ^ (u16::from(b) << 8);
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
        crc
    })
}

/// The hash-tag label of each shard: `label(n)` is the first string `"{n:02x}"`,
/// `"{n:02x}0"`, `"{n:02x}1"`, ... whose key slot lies in `64n..64n+63`. Fixed by this
/// rule forever (it is the data layout).
pub fn label(shard: u8) -> &'static str {
    static LABELS: OnceLock<Vec<String>> = OnceLock::new();
    let labels = LABELS.get_or_init(|| (0..=255u8).map(find_label).collect());
    &labels[usize::from(shard)]
}

fn find_label(shard: u8) -> String {
    let width = SLOTS / SHARDS as u16;
    let low = u16::from(shard) * width;
    let fits = |s: &str| (low..low + width).contains(&key_slot(s.as_bytes()));
    let base = format!("{shard:02x}");
    if fits(&base) {
        return base;
    }
    // About 1 in 256 candidates fits, so this ends after a few hundred steps.
    (0u32..)
        .map(|n| format!("{base}{n}"))
        .find(|s| fits(s))
        .unwrap_or(base)
}

/// Key names within one key prefix (a namespace, `sessions` by default).
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix` (checked by the location parser: no braces).
    pub fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    /// `prefix:{label}:` for a shard: every key of the shard starts with it.
    pub fn base(&self, shard: u8) -> String {
        format!("{}:{{{}}}:", self.prefix, label(shard))
    }

    /// A session record (a hash of its fields).
    pub fn session(&self, shard: u8, id: &str) -> String {
        format!("{}s:{id}", self.base(shard))
    }

    /// A token index entry: token hash (current or previous) -> session id.
    pub fn token(&self, shard: u8, token_hash: &str) -> String {
        format!("{}t:{token_hash}", self.base(shard))
    }

    /// A user's index: a sorted set of session ids scored by creation (µs).
    pub fn user(&self, user_id: &str) -> String {
        format!("{}u:{user_id}", self.base(shard_of_user(user_id)))
    }

    /// The user index of `user_id` in `shard`, the shard of its records. The same as
    /// [`Keys::user`] for a healthy record; a damaged record naming a user of another
    /// shard still names a key in its own shard's slot.
    pub fn user_in(&self, shard: u8, user_id: &str) -> String {
        format!("{}u:{user_id}", self.base(shard))
    }

    /// A shard's expiry index: a sorted set of session ids scored by expiry (µs).
    pub fn expiry(&self, shard: u8) -> String {
        format!("{}x", self.base(shard))
    }

    /// A shard's deadline index: a sorted set of session ids scored by their record's
    /// TTL deadline (the server's milliseconds since the epoch), so a write can tell,
    /// by the server's clock alone, which records Redis has collected.
    pub fn deadlines(&self, shard: u8) -> String {
        format!("{}d", self.base(shard))
    }

    /// An id alias in `shard`: id -> its user's shard label. Written only in the id's
    /// home shard ([`shard_of_id`]); a lookup in another shard names the key there
    /// (absent) so that all its keys share one slot.
    pub fn id_alias(&self, shard: u8, id: &str) -> String {
        format!("{}i:{id}", self.base(shard))
    }

    /// A token hash alias in `shard` (written only in the hash's home shard,
    /// [`shard_of_hash`]): hash -> its user's shard label.
    pub fn hash_alias(&self, shard: u8, token_hash: &str) -> String {
        format!("{}a:{token_hash}", self.base(shard))
    }
}

/// The shard whose label is `label`, if any.
pub fn shard_of_label(label_text: &str) -> Option<u8> {
    (0..=255u8).find(|&s| label(s) == label_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_redis_reference() {
        // The reference value from the Redis Cluster specification.
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(key_slot(b"foo{123456789}bar"), 0x31c3);
        assert_eq!(key_slot(b"foo{}bar"), crc16(b"foo{}bar") % 16384);
    }

    #[test]
    fn labels_are_evenly_spaced_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for shard in 0..=255u8 {
            let slot = key_slot(format!("x:{{{}}}:s:1", label(shard)).as_bytes());
            assert_eq!(slot / 64, u16::from(shard), "shard {shard}");
            assert!(seen.insert(label(shard)));
            assert_eq!(shard_of_label(label(shard)), Some(shard));
        }
    }

    #[test]
    fn shards_spread_users() {
        let mut counts = [0u32; SHARDS];
        for n in 0..25_600 {
            counts[usize::from(shard_of_user(&format!("user-{n}")))] += 1;
        }
        assert!(
            counts.iter().all(|&c| (50..=150).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn hash_shard_is_first_byte() {
        assert_eq!(shard_of_hash("ff00"), 255);
        assert_eq!(shard_of_hash("0a"), 10);
        assert_eq!(shard_of_hash("zz"), 0);
        assert_eq!(shard_of_hash(""), 0);
    }

    #[test]
    fn keys_of_a_user_share_a_slot() {
        let keys = Keys::new("sessions");
        let shard = shard_of_user("alice");
        let slot = key_slot(keys.user("alice").as_bytes());
        for key in [
            keys.session(shard, "id-1"),
            keys.token(shard, "ab"),
            keys.expiry(shard),
            keys.deadlines(shard),
        ] {
            assert_eq!(key_slot(key.as_bytes()), slot);
        }
    }
}

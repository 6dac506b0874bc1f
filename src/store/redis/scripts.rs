//! The Lua scripts every multi-key change (and every lookup that follows an index)
//! runs as, one atomic step on the Redis node that owns the keys' hash slot.
//!
//! Every script declares every key it touches in KEYS: the prelude's `call` (the
//! scripts' only way to Redis; a unit test below checks none calls `redis.call`)
//! raises an error naming any undeclared key or unknown command. The one exception is
//! `lookup.lua`'s read of the record its token entry names (`read_beside_first_key`,
//! same hash tag as KEYS[1], checked), which keeps `validate` at one round trip.
//! Scripts whose keys depend on stored data take the caller's view of that data in
//! ARGV and answer RETRY when it no longer holds (see the module docs of the store).
//!
//! Each script is `lua/prelude.lua` followed by its own file. They are invoked with
//! EVALSHA through [`redis::Script`], which loads a script the server does not have
//! (after a restart or `SCRIPT FLUSH`, NOSCRIPT) and runs it again, transparently.

use std::sync::LazyLock;

use redis::Script;

fn script(body: &str) -> Script {
    Script::new(&[include_str!("lua/prelude.lua"), body].concat())
}

macro_rules! scripts {
    ($($(#[$doc:meta])* $name:ident = $file:literal;)*) => {$(
        $(#[$doc])*
        pub static $name: LazyLock<Script> = LazyLock::new(|| script(include_str!($file)));
    )*};
}

scripts! {
    /// Inserts sessions and alias claims, all or none (`batch.lua`).
    BATCH = "lua/batch.lua";
    /// Inserts a session within its user's limit (`insert_limited.lua`).
    INSERT_LIMITED = "lua/insert_limited.lua";
    /// Compare-and-swap on token hash and version (`cas.lua`).
    CAS = "lua/cas.lua";
    /// A session by token hash (`lookup.lua`).
    LOOKUP = "lua/lookup.lua";
    /// A session by id (`get.lua`).
    GET = "lua/get.lua";
    /// A user's sessions (`list.lua`).
    LIST = "lua/list.lua";
    /// Revokes a user's sessions (`revoke_all.lua`).
    REVOKE_ALL = "lua/revoke_all.lua";
    /// Removes expired sessions (`purge.lua`).
    PURGE = "lua/purge.lua";
    /// Reads expiry indexes and the records of a view of them (`scan.lua`).
    SCAN = "lua/scan.lua";
    /// Rolls back a batch's inserted session (`undo.lua`).
    UNDO = "lua/undo.lua";
}

#[cfg(test)]
mod tests {
    /// Every script file, by name.
    const FILES: [(&str, &str); 11] = [
        ("prelude.lua", include_str!("lua/prelude.lua")),
        ("batch.lua", include_str!("lua/batch.lua")),
        ("insert_limited.lua", include_str!("lua/insert_limited.lua")),
        ("cas.lua", include_str!("lua/cas.lua")),
        ("lookup.lua", include_str!("lua/lookup.lua")),
        ("get.lua", include_str!("lua/get.lua")),
        ("list.lua", include_str!("lua/list.lua")),
        ("revoke_all.lua", include_str!("lua/revoke_all.lua")),
        ("purge.lua", include_str!("lua/purge.lua")),
        ("undo.lua", include_str!("lua/undo.lua")),
        ("scan.lua", include_str!("lua/scan.lua")),
    ];

    /// Scripts reach the server only through the prelude's key-checking `call` (and
    /// lookup.lua's one documented read beside its first key), never `redis.call` or
    /// `redis.pcall` directly, so the key check cannot be bypassed.
    #[test]
    fn scripts_call_redis_only_through_the_key_check() {
        for (name, text) in FILES {
            let code: String = text
                .lines()
                .map(|l| l.split("--").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            let direct = code.matches("redis.call(").count() + code.matches("redis.pcall(").count();
            let allowed = if name == "prelude.lua" { 2 } else { 0 };
            assert_eq!(direct, allowed, "{name} calls Redis around the key check");
            if name != "lookup.lua" && name != "prelude.lua" {
                assert!(!code.contains("read_beside_first_key"), "{name}");
            }
        }
    }
}

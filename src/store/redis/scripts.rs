//! The Lua scripts every multi-key change (and every lookup that follows an index)
//! runs as, one atomic step on the Redis node that owns the keys' hash slot.
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
    /// Counts sessions (`count.lua`).
    COUNT = "lua/count.lua";
    /// Every session (`all.lua`).
    ALL = "lua/all.lua";
    /// Rolls back a batch's inserted session (`undo.lua`).
    UNDO = "lua/undo.lua";
}

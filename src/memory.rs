//! Memory handed back to the system after a reload (docs/service.md, "Memory"). The binary runs
//! on jemalloc (`main.rs`); these calls steer it through `tikv_jemalloc_ctl`'s safe interface. In
//! a binary on another allocator (the tests) they only touch an idle jemalloc.
//!
//! A rule set is built on the reload thread, and every thread that helps build it allocates from
//! that thread's arena ([`thread_arena`], [`use_arena`]): a rule set then occupies pages of its
//! own, not pages shared with the workers' request allocations, and once it is freed those pages
//! are wholly free and [`purge_freed_pages`] can return them.

use tikv_jemalloc_ctl::{Access, AsName};

/// Hands the pages jemalloc holds free (a freed rule set, a compile's scratch) back to the system
/// now; `rules::load_dir` calls it too, before building the automata. jemalloc would keep them up to
/// `dirty_decay_ms` (10 s) and reuse them first, but a reload frees tens of MiB at once, and
/// without this the resident size drifts up reload after reload. Setting an arena's decay time to
/// 0 purges its dirty pages at once; the old time is put back, so requests keep reusing their
/// freed pages in between. (jemalloc's own `arena.<i>.purge` takes no value, which
/// `tikv_jemalloc_ctl`'s safe API cannot send.) In a binary on another allocator this only
/// touches an idle jemalloc.
pub fn purge_freed_pages() {
    // First this thread's cache of freed blocks (up to a few MiB after a compile), which keeps
    // their pages in use: turning the cache off empties it into the arenas.
    let cache = "thread.tcache.enabled\0".name();
    if cache.write(false).is_ok() {
        let _ = cache.write(true);
    }
    let Ok(arenas) = tikv_jemalloc_ctl::arenas::narenas::read() else { return };
    for arena in 0..arenas {
        let key = format!("arena.{arena}.dirty_decay_ms\0");
        // Arenas not created yet answer with an error: they hold nothing.
        if let Ok(decay_ms) = Access::<isize>::update(key.name(), 0) {
            let _ = key.name().write(decay_ms);
        }
    }
}

/// The jemalloc arena the calling thread allocates from; `None` when jemalloc cannot say.
pub fn thread_arena() -> Option<u32> {
    "thread.arena\0".name().read().ok()
}

/// Makes the calling thread allocate from `arena` (from [`thread_arena`] on another thread).
/// Failing only costs memory layout, so it is ignored.
pub fn use_arena(arena: Option<u32>) {
    if let Some(arena) = arena {
        let _ = "thread.arena\0".name().write(arena);
    }
}

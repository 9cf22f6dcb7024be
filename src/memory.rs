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

/// Two jemalloc arenas the reload thread builds rule sets in, in turn: each new rule set goes to
/// the arena the serving one is not in. Once the old set is freed its arena holds nothing that
/// lives on, so [`purge_freed_pages`] hands all of it back. Compiled into one arena, a
/// generation's pages were never wholly free (some of the next generation's blocks, or the
/// thread's own, sat on them): 50k pack, resident memory after 40 reloads 1.22× that after the
/// first load, against 1.03–1.05× with the pair.
#[derive(Debug)]
pub struct RuleSetArenas {
    /// `None` when jemalloc cannot create arenas (another allocator): nothing is steered.
    pair: Option<[u32; 2]>,
    /// Which of the pair holds the serving rule set.
    serving: usize,
}

impl RuleSetArenas {
    /// Creates the two arenas.
    pub fn new() -> RuleSetArenas {
        let create = || "arenas.create\0".name().read().ok();
        let pair = create().zip(create()).map(|(a, b)| [a, b]);
        // The first rule set was loaded elsewhere (on the main thread): the first reload may use
        // either; index 1 is taken first.
        RuleSetArenas { pair, serving: 0 }
    }

    /// Makes the calling thread allocate from the arena the serving rule set is not in.
    pub fn use_spare(&self) {
        use_arena(self.pair.map(|pair| if self.serving == 0 { pair[1] } else { pair[0] }));
    }

    /// The rule set just built in the spare arena serves now: the next goes to the other one.
    pub fn swapped(&mut self) {
        self.serving = 1 - self.serving;
    }
}

impl Default for RuleSetArenas {
    fn default() -> Self {
        RuleSetArenas::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_new_rule_set_goes_to_the_arena_the_serving_one_is_not_in() {
        let mut arenas = RuleSetArenas::new();
        let pair = arenas.pair.expect("jemalloc creates arenas");
        assert_ne!(pair[0], pair[1]);
        arenas.use_spare();
        let first = thread_arena();
        assert!(first.is_some_and(|a| pair.contains(&a)), "{first:?} in {pair:?}");
        // A compile that did not swap (failed, unchanged) leaves the spare arena as it was.
        arenas.use_spare();
        assert_eq!(thread_arena(), first);
        arenas.swapped();
        arenas.use_spare();
        let second = thread_arena();
        assert!(second.is_some_and(|a| pair.contains(&a)) && second != first, "{second:?} after {first:?}");
        arenas.swapped();
        arenas.use_spare();
        assert_eq!(thread_arena(), first);
    }
}

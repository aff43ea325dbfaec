//! The ring strategies: which free members of a queue ring for the next attempt of a caller.
//! A pure function of the members (in configured order), who is free, and the queue's and
//! the caller's memory (docs/decisions/010-call-center.md).

use shared_protocol::QueueStrategy;

/// What the strategy knows of one member.
#[derive(Debug, Clone)]
pub(crate) struct Candidate<'a> {
    /// Extension.
    pub(crate) ext: &'a str,
    /// Lower rings first.
    pub(crate) penalty: u32,
    /// May ring now.
    pub(crate) free: bool,
    /// Answer time of its last call of this queue (leastrecent).
    pub(crate) last_answer_ms: Option<i64>,
    /// Calls of this queue answered today (fewestcalls).
    pub(crate) calls_taken: u32,
}

/// The queue's round-robin memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RoundRobin {
    /// rrmemory: the extension tried last.
    pub(crate) last: Option<String>,
    /// rrordered: the member position after the one tried last.
    pub(crate) pos: usize,
}

/// Picks the members to ring. `linpos` is the caller's own position for `linear` (the member
/// after the last one it rang); `random` draws from `rng` (xorshift state). Returns member
/// indexes, and updates the memories.
pub(crate) fn pick(
    strategy: QueueStrategy,
    members: &[Candidate<'_>],
    rr: &mut RoundRobin,
    linpos: &mut usize,
    rng: &mut u64,
) -> Vec<usize> {
    let n = members.len();
    if n == 0 {
        return Vec::new();
    }
    if strategy == QueueStrategy::Linear {
        // Member order, penalties ignored (seed §6.4), continuing after the last one rung.
        let start = *linpos % n;
        let found = (0..n).map(|k| (start + k) % n).find(|&i| members[i].free);
        if let Some(i) = found {
            *linpos = i + 1;
            return vec![i];
        }
        return Vec::new();
    }
    // Only the free members of the lowest penalty among the free ones ring (seed §6.2).
    let Some(lowest) = members.iter().filter(|m| m.free).map(|m| m.penalty).min() else {
        return Vec::new();
    };
    let cands: Vec<usize> = (0..n)
        .filter(|&i| members[i].free && members[i].penalty == lowest)
        .collect();
    let one = |i: usize| vec![i];
    match strategy {
        QueueStrategy::Ringall => cands,
        QueueStrategy::Linear => Vec::new(),
        QueueStrategy::Leastrecent => cands
            .iter()
            .copied()
            // Never answered counts as longest ago; ties go to member order.
            .min_by_key(|&i| (members[i].last_answer_ms.unwrap_or(i64::MIN), i))
            .map(one)
            .unwrap_or_default(),
        QueueStrategy::Fewestcalls => cands
            .iter()
            .copied()
            .min_by_key(|&i| (members[i].calls_taken, i))
            .map(one)
            .unwrap_or_default(),
        QueueStrategy::Rrmemory => {
            // The first candidate after the member tried last, in member order.
            let after = rr
                .last
                .as_deref()
                .and_then(|l| members.iter().position(|m| m.ext == l))
                .map_or(0, |p| p + 1);
            let chosen = (0..n).map(|k| (after + k) % n).find(|i| cands.contains(i));
            if let Some(i) = chosen {
                rr.last = Some(members[i].ext.to_string());
                return one(i);
            }
            Vec::new()
        }
        QueueStrategy::Rrordered => {
            let start = rr.pos % n;
            let chosen = (0..n).map(|k| (start + k) % n).find(|i| cands.contains(i));
            if let Some(i) = chosen {
                rr.pos = i + 1;
                return one(i);
            }
            Vec::new()
        }
        QueueStrategy::Random => {
            let i = (next_random(rng) % cands.len() as u64) as usize;
            cands.get(i).copied().map(one).unwrap_or_default()
        }
    }
}

/// xorshift64*: a small generator whose state the call center owns (seeded at start, fixed in
/// tests), so `random` needs no global source.
pub(crate) fn next_random(state: &mut u64) -> u64 {
    let mut x = *state;
    if x == 0 {
        x = 0x9E37_79B9_7F4A_7C15;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

#[cfg(test)]
mod tests {
    use super::*;
    use QueueStrategy::*;

    fn m(ext: &str, penalty: u32, free: bool) -> Candidate<'_> {
        Candidate {
            ext,
            penalty,
            free,
            last_answer_ms: None,
            calls_taken: 0,
        }
    }

    fn names(members: &[Candidate<'_>], idx: &[usize]) -> Vec<String> {
        idx.iter().map(|&i| members[i].ext.to_string()).collect()
    }

    fn run(s: QueueStrategy, members: &[Candidate<'_>], rr: &mut RoundRobin) -> Vec<String> {
        let mut lin = 0;
        let mut rng = 7;
        names(members, &pick(s, members, rr, &mut lin, &mut rng))
    }

    #[test]
    fn ringall_rings_every_free_member_of_the_lowest_free_penalty() {
        // The seed's example (§6.2): 100=1, 102=2, 101=2, 103=3.
        let mut ms = vec![
            m("100", 1, true),
            m("102", 2, true),
            m("101", 2, true),
            m("103", 3, true),
        ];
        let mut rr = RoundRobin::default();
        assert_eq!(run(Ringall, &ms, &mut rr), ["100"]);
        ms[0].free = false;
        assert_eq!(run(Ringall, &ms, &mut rr), ["102", "101"]);
        ms[1].free = false;
        ms[2].free = false;
        assert_eq!(run(Ringall, &ms, &mut rr), ["103"]);
        ms[3].free = false;
        assert!(run(Ringall, &ms, &mut rr).is_empty());
    }

    #[test]
    fn rrmemory_cycles_and_skips_busy_members() {
        let mut ms = vec![m("202", 0, true), m("203", 0, true), m("204", 0, true)];
        let mut rr = RoundRobin::default();
        let seq: Vec<String> = (0..4).flat_map(|_| run(Rrmemory, &ms, &mut rr)).collect();
        assert_eq!(seq, ["202", "203", "204", "202"]);
        ms[1].free = false;
        assert_eq!(run(Rrmemory, &ms, &mut rr), ["204"], "203 is skipped");
        assert_eq!(run(Rrmemory, &ms, &mut rr), ["202"]);
    }

    #[test]
    fn rrmemory_and_rrordered_hold_back_higher_penalties() {
        let ms = vec![m("202", 1, true), m("203", 0, true), m("204", 0, true)];
        for s in [Rrmemory, Rrordered] {
            let mut rr = RoundRobin::default();
            let seq: Vec<String> = (0..3).flat_map(|_| run(s, &ms, &mut rr)).collect();
            assert_eq!(seq, ["203", "204", "203"], "{s:?}");
        }
    }

    #[test]
    fn linear_starts_from_the_top_for_each_caller_and_ignores_penalties() {
        let mut ms = vec![m("202", 5, true), m("203", 0, true)];
        let mut rr = RoundRobin::default();
        let (mut lin, mut rng) = (0, 1);
        let first = pick(Linear, &ms, &mut rr, &mut lin, &mut rng);
        assert_eq!(names(&ms, &first), ["202"]);
        // The same caller's next attempt moves on; a new caller starts at the top again.
        assert_eq!(
            names(&ms, &pick(Linear, &ms, &mut rr, &mut lin, &mut rng)),
            ["203"]
        );
        let mut fresh = 0;
        assert_eq!(
            names(&ms, &pick(Linear, &ms, &mut rr, &mut fresh, &mut rng)),
            ["202"]
        );
        ms[0].free = false;
        let mut fresh = 0;
        assert_eq!(
            names(&ms, &pick(Linear, &ms, &mut rr, &mut fresh, &mut rng)),
            ["203"]
        );
    }

    #[test]
    fn leastrecent_and_fewestcalls_use_the_members_history() {
        let mut ms = vec![m("202", 0, true), m("203", 0, true), m("204", 0, true)];
        ms[0].last_answer_ms = Some(3_000);
        ms[1].last_answer_ms = Some(1_000);
        ms[2].last_answer_ms = Some(2_000);
        let mut rr = RoundRobin::default();
        assert_eq!(run(Leastrecent, &ms, &mut rr), ["203"]);
        ms[2].last_answer_ms = None;
        assert_eq!(run(Leastrecent, &ms, &mut rr), ["204"], "never answered");
        ms[0].calls_taken = 1;
        ms[1].calls_taken = 3;
        ms[2].calls_taken = 2;
        assert_eq!(run(Fewestcalls, &ms, &mut rr), ["202"]);
        ms[0].free = false;
        assert_eq!(run(Fewestcalls, &ms, &mut rr), ["204"]);
    }

    #[test]
    fn random_picks_only_free_members_and_reaches_each() {
        let ms = vec![m("202", 0, true), m("203", 0, false), m("204", 0, true)];
        let mut rr = RoundRobin::default();
        let (mut lin, mut rng) = (0, 42);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let got = pick(Random, &ms, &mut rr, &mut lin, &mut rng);
            assert_eq!(got.len(), 1);
            seen.insert(ms[got[0]].ext);
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["202", "204"]);
    }
}

//! Turning rounds and arrivals into latency figures.

use crate::clients::Arrival;
use crate::sip::Change;
use std::collections::HashMap;

/// One state change and how many clients saw it in time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Round {
    /// The SIP side.
    pub(crate) change: Change,
    /// The lamp it should produce is `idle` (else `unavailable`).
    pub(crate) idle: bool,
    /// Clients expected to see it.
    pub(crate) want: usize,
    /// Clients that saw it before the round's deadline.
    pub(crate) got: usize,
}

/// Percentiles of a set of samples, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Summary {
    pub(crate) n: usize,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
}

impl Summary {
    /// Nearest-rank percentiles.
    pub(crate) fn of(mut ms: Vec<f64>) -> Summary {
        if ms.is_empty() {
            return Summary::default();
        }
        ms.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let i = (p / 100.0 * ms.len() as f64).ceil() as usize;
            ms[i.clamp(1, ms.len()) - 1]
        };
        Summary {
            n: ms.len(),
            p50: rank(50.0),
            p99: rank(99.0),
            max: ms[ms.len() - 1],
        }
    }
}

/// The figures of one measured phase.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Phase {
    /// Event arrival minus the send of the REGISTER that caused it.
    pub(crate) from_send: Summary,
    /// Event arrival minus the arrival of that REGISTER's 200 OK (may be negative).
    pub(crate) from_ok: Summary,
    /// Last arrival minus first arrival of each round.
    pub(crate) spread: Summary,
    /// REGISTER to 200 OK.
    pub(crate) sip_rtt: Summary,
    /// Expected arrivals that did not come before their round's deadline.
    pub(crate) missed: usize,
    /// Arrivals that did not match their round (late, or the wrong lamp).
    pub(crate) stray: usize,
    /// Rounds.
    pub(crate) rounds: usize,
    /// The slowest change: its position in the phase (from 1) and its latest arrival (ms).
    pub(crate) worst: (u32, f64),
}

/// Pairs arrivals with their rounds.
pub(crate) fn phase(rounds: &HashMap<u32, Round>, arrivals: &[Arrival]) -> Phase {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let mut from_send = Vec::with_capacity(arrivals.len());
    let mut from_ok = Vec::with_capacity(arrivals.len());
    let mut first_last: HashMap<u32, (f64, f64)> = HashMap::new();
    let mut stray = 0;
    for a in arrivals {
        let Some(r) = rounds.get(&a.round).filter(|r| r.idle == a.idle) else {
            stray += 1;
            continue;
        };
        let since_send = ms(a.at.saturating_duration_since(r.change.sent));
        from_send.push(since_send);
        from_ok.push(if a.at >= r.change.ok {
            ms(a.at - r.change.ok)
        } else {
            -ms(r.change.ok - a.at)
        });
        let e = first_last
            .entry(a.round)
            .or_insert((since_send, since_send));
        e.0 = e.0.min(since_send);
        e.1 = e.1.max(since_send);
    }
    Phase {
        from_send: Summary::of(from_send),
        from_ok: Summary::of(from_ok),
        spread: Summary::of(first_last.values().map(|(a, b)| b - a).collect()),
        sip_rtt: Summary::of(
            rounds
                .values()
                .map(|r| ms(r.change.ok - r.change.sent))
                .collect(),
        ),
        missed: rounds.values().map(|r| r.want.saturating_sub(r.got)).sum(),
        stray,
        rounds: rounds.len(),
        worst: worst(&first_last, rounds.keys().min().copied().unwrap_or(0)),
    }
}

fn worst(first_last: &HashMap<u32, (f64, f64)>, first_round: u32) -> (u32, f64) {
    first_last
        .iter()
        .map(|(&id, &(_, last))| (id - first_round + 1, last))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let s = Summary::of((1..=100).map(f64::from).collect());
        assert_eq!((s.n, s.p50, s.p99, s.max), (100, 50.0, 99.0, 100.0));
        let s = Summary::of(vec![3.0]);
        assert_eq!((s.p50, s.p99, s.max), (3.0, 3.0, 3.0));
        assert_eq!(Summary::of(Vec::new()).n, 0);
    }
}

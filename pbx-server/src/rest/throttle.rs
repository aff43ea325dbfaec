//! Throttling of failed API authentications per source address (sans-IO: fed with time).
//!
//! After [`MAX_FAILURES`] failures within [`WINDOW`] an address is refused (429) for
//! [`BLOCK`] without its headers being checked. A success does not clear the count, so a
//! valid account cannot be used to reset it while guessing another one's password.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failures within [`WINDOW`] that block an address.
pub const MAX_FAILURES: usize = 10;
/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);
/// How long a blocked address is refused.
pub const BLOCK: Duration = Duration::from_secs(60);
/// Addresses tracked at most, so a spray of sources cannot grow the table without bound.
const MAX_TRACKED: usize = 65_536;

#[derive(Debug, Default)]
struct Entry {
    failures: Vec<Instant>,
    blocked_until: Option<Instant>,
}

/// Per-address failure counter.
#[derive(Debug, Default)]
pub struct Throttle {
    by_ip: HashMap<IpAddr, Entry>,
}

impl Throttle {
    /// An empty throttle.
    pub fn new() -> Throttle {
        Throttle::default()
    }

    /// `Some(wait)` while `ip` is blocked, `None` when it may try.
    pub fn blocked(&mut self, now: Instant, ip: IpAddr) -> Option<Duration> {
        match self.by_ip.get(&ip).and_then(|e| e.blocked_until) {
            Some(until) if now < until => Some(until - now),
            Some(_) => {
                self.by_ip.remove(&ip);
                None
            }
            None => None,
        }
    }

    /// Records a failure; returns true when this one blocks the address.
    pub fn fail(&mut self, now: Instant, ip: IpAddr) -> bool {
        if self.by_ip.len() >= MAX_TRACKED && !self.by_ip.contains_key(&ip) {
            self.by_ip.retain(|_, e| {
                e.blocked_until.is_some_and(|u| u > now)
                    || e.failures
                        .iter()
                        .any(|t| now.saturating_duration_since(*t) < WINDOW)
            });
            if self.by_ip.len() >= MAX_TRACKED {
                // Still full of live entries: forget the address with the oldest failure.
                let oldest = self
                    .by_ip
                    .iter()
                    .filter(|(_, e)| e.blocked_until.is_none())
                    .min_by_key(|(_, e)| e.failures.last().copied())
                    .map(|(ip, _)| *ip);
                if let Some(o) = oldest {
                    self.by_ip.remove(&o);
                }
            }
        }
        let e = self.by_ip.entry(ip).or_default();
        e.failures
            .retain(|t| now.saturating_duration_since(*t) < WINDOW);
        e.failures.push(now);
        if e.failures.len() >= MAX_FAILURES {
            e.blocked_until = Some(now + BLOCK);
            e.failures.clear();
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_in_a_minute_block_for_a_minute() {
        let mut t = Throttle::new();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..9 {
            assert_eq!(t.blocked(t0, ip), None);
            assert!(!t.fail(t0 + Duration::from_secs(i), ip));
        }
        assert!(t.fail(t0 + Duration::from_secs(10), ip));
        let wait = t.blocked(t0 + Duration::from_secs(30), ip);
        assert_eq!(wait, Some(Duration::from_secs(40)));
        assert_eq!(t.blocked(t0 + Duration::from_secs(30), other), None);
        assert_eq!(t.blocked(t0 + Duration::from_secs(70), ip), None);
        // After the block the count starts again.
        assert!(!t.fail(t0 + Duration::from_secs(71), ip));
    }

    #[test]
    fn failures_spread_beyond_the_window_never_block() {
        let mut t = Throttle::new();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..30 {
            assert!(!t.fail(t0 + Duration::from_secs(7 * i), ip));
        }
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut t = Throttle::new();
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 10) {
            t.fail(t0, IpAddr::from(i.to_be_bytes()));
        }
        assert!(t.by_ip.len() <= MAX_TRACKED);
    }
}

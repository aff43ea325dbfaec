//! Failed-login throttling per source address (sans-IO: fed with time).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failures within `WINDOW` that trigger the block.
pub const MAX_FAILURES: usize = 5;
/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);
/// How long a blocked address waits.
pub const BLOCK: Duration = Duration::from_secs(60);
/// Addresses tracked at most (oldest forgotten first), so a spray of sources cannot grow it.
const MAX_TRACKED: usize = 65_536;

#[derive(Debug, Default)]
struct Entry {
    failures: Vec<Instant>,
    blocked_until: Option<Instant>,
}

/// Per-address login limiter.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    by_ip: HashMap<IpAddr, Entry>,
}

impl LoginLimiter {
    /// A fresh limiter.
    pub fn new() -> LoginLimiter {
        LoginLimiter::default()
    }

    /// Whether `ip` may try to log in now.
    pub fn allowed(&mut self, now: Instant, ip: IpAddr) -> bool {
        match self.by_ip.get(&ip).and_then(|e| e.blocked_until) {
            Some(until) if now < until => false,
            Some(_) => {
                self.by_ip.remove(&ip);
                true
            }
            None => true,
        }
    }

    /// Records a failure; returns true when it blocks the address.
    pub fn fail(&mut self, now: Instant, ip: IpAddr) -> bool {
        if self.by_ip.len() >= MAX_TRACKED && !self.by_ip.contains_key(&ip) {
            self.by_ip
                .retain(|_, e| e.blocked_until.is_some_and(|u| u > now));
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

    /// A success clears the address's failures.
    pub fn succeed(&mut self, ip: IpAddr) {
        self.by_ip.remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_block_for_a_minute_then_allow() {
        let mut l = LoginLimiter::new();
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        let other: IpAddr = "127.0.0.10".parse().unwrap();
        let t = Instant::now();
        for i in 0..4 {
            assert!(l.allowed(t, ip));
            assert!(!l.fail(t + Duration::from_secs(i), ip));
        }
        assert!(l.fail(t + Duration::from_secs(5), ip));
        assert!(!l.allowed(t + Duration::from_secs(30), ip));
        assert!(l.allowed(t + Duration::from_secs(30), other));
        assert!(l.allowed(t + Duration::from_secs(66), ip));
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let mut l = LoginLimiter::new();
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        let t = Instant::now();
        for i in 0..10 {
            assert!(!l.fail(t + Duration::from_secs(20 * i), ip));
        }
    }
}

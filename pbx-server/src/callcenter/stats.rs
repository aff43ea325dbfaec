//! Period statistics of a queue, kept as running sums so that an event costs O(1), and defined
//! on the `queue` rows of the call records so that they can be recomputed from them (at start,
//! and by anyone checking them).

use shared_protocol::QueuePeriodStats;

/// One `queue` row of a call record, as far as the statistics are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRowFacts {
    /// Queue number (`detail_destination_id`).
    pub queue: String,
    /// Entered the queue.
    pub enter_ms: i64,
    /// An agent answered.
    pub answer_ms: Option<i64>,
    /// Left the queue step (end of the call, a transfer, the overflow); `None` while open.
    pub exit_ms: Option<i64>,
    /// `CANCELED` for a caller who hung up while waiting.
    pub exit_cause: Option<String>,
    /// The agent who answered.
    pub answered_by: Option<String>,
}

/// Running sums of one queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Stats {
    pub(crate) offered: u32,
    pub(crate) answered: u32,
    pub(crate) abandoned: u32,
    pub(crate) overflowed: u32,
    pub(crate) answered_in_sl: u32,
    pub(crate) wait_sum_ms: i64,
    pub(crate) longest_wait_ms: i64,
    pub(crate) talk_sum_ms: i64,
    pub(crate) talks: u32,
}

impl Stats {
    /// A call entered.
    pub(crate) fn offered(&mut self) {
        self.offered += 1;
    }

    /// A call was answered after `wait_ms`.
    pub(crate) fn answered(&mut self, wait_ms: i64, service_level_s: u32) {
        let wait_ms = wait_ms.max(0);
        self.answered += 1;
        self.wait_sum_ms += wait_ms;
        self.longest_wait_ms = self.longest_wait_ms.max(wait_ms);
        if wait_ms <= i64::from(service_level_s) * 1000 {
            self.answered_in_sl += 1;
        }
    }

    /// A call left unanswered after `wait_ms`: hung up by the caller, or sent to the overflow.
    pub(crate) fn unanswered(&mut self, wait_ms: i64, abandoned: bool) {
        if abandoned {
            self.abandoned += 1;
        } else {
            self.overflowed += 1;
        }
        self.longest_wait_ms = self.longest_wait_ms.max(wait_ms.max(0));
    }

    /// An answered call's queue step ended after `talk_ms` of conversation.
    pub(crate) fn talked(&mut self, talk_ms: i64) {
        self.talk_sum_ms += talk_ms.max(0);
        self.talks += 1;
    }

    /// Adds one closed or open record row (used to rebuild the sums at start).
    pub(crate) fn add_row(&mut self, row: &QueueRowFacts, service_level_s: u32) {
        self.offered();
        match (row.answer_ms, row.answered_by.as_ref()) {
            (Some(answer), Some(_)) => {
                self.answered(answer - row.enter_ms, service_level_s);
                if let Some(exit) = row.exit_ms {
                    self.talked(exit - answer);
                }
            }
            _ => {
                if let Some(exit) = row.exit_ms {
                    let abandoned = row.exit_cause.as_deref() == Some("CANCELED");
                    self.unanswered(exit - row.enter_ms, abandoned);
                }
            }
        }
    }

    /// The wire form.
    pub(crate) fn view(&self, since_ms: i64, service_level_s: u32) -> QueuePeriodStats {
        let mean = |sum: i64, n: u32| if n == 0 { 0 } else { sum / i64::from(n) };
        QueuePeriodStats {
            since_ms,
            offered: self.offered,
            answered: self.answered,
            abandoned: self.abandoned,
            overflowed: self.overflowed,
            answered_in_sl: self.answered_in_sl,
            service_level_s,
            avg_wait_ms: mean(self.wait_sum_ms, self.answered),
            longest_wait_ms: self.longest_wait_ms,
            avg_talk_ms: mean(self.talk_sum_ms, self.talks),
        }
    }
}

/// Start of the local day containing `ms`, and of the next one (the statistics period).
pub fn local_day(ms: i64) -> (i64, i64) {
    use chrono::{Days, Local, TimeZone};
    let Some(t) = Local.timestamp_millis_opt(ms).single() else {
        return utc_day(ms);
    };
    let date = t.date_naive();
    let start = |d: chrono::NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|n| Local.from_local_datetime(&n).earliest())
            .map(|t| t.timestamp_millis())
    };
    match (
        start(date),
        date.checked_add_days(Days::new(1)).and_then(start),
    ) {
        (Some(a), Some(b)) if a <= ms && ms < b => (a, b),
        _ => utc_day(ms),
    }
}

fn utc_day(ms: i64) -> (i64, i64) {
    const DAY: i64 = 86_400_000;
    let start = ms.div_euclid(DAY) * DAY;
    (start, start + DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(enter: i64, answer: Option<i64>, exit: Option<i64>, cause: &str) -> QueueRowFacts {
        QueueRowFacts {
            queue: "600".into(),
            enter_ms: enter,
            answer_ms: answer,
            exit_ms: exit,
            exit_cause: Some(cause.into()),
            answered_by: answer.map(|_| "202".to_string()),
        }
    }

    #[test]
    fn rows_and_live_events_give_the_same_sums() {
        let rows = [
            row(0, Some(4_000), Some(10_000), "NCC"),
            row(1_000, Some(26_000), Some(30_000), "NCC"),
            row(2_000, None, Some(9_500), "CANCELED"),
            row(3_000, None, Some(123_000), "NOANSWER"),
        ];
        let mut from_rows = Stats::default();
        for r in &rows {
            from_rows.add_row(r, 20);
        }
        let mut live = Stats::default();
        for _ in &rows {
            live.offered();
        }
        live.answered(4_000, 20);
        live.answered(25_000, 20);
        live.unanswered(7_500, true);
        live.unanswered(120_000, false);
        live.talked(6_000);
        live.talked(4_000);
        assert_eq!(from_rows, live);
        let v = live.view(0, 20);
        assert_eq!(
            (
                v.offered,
                v.answered,
                v.abandoned,
                v.overflowed,
                v.answered_in_sl
            ),
            (4, 2, 1, 1, 1)
        );
        assert_eq!(
            (v.avg_wait_ms, v.longest_wait_ms, v.avg_talk_ms),
            (14_500, 120_000, 5_000)
        );
    }

    #[test]
    fn the_local_day_contains_its_instant() {
        for ms in [0, 1_700_000_000_000, 1_711_846_800_000] {
            let (a, b) = local_day(ms);
            assert!(a <= ms && ms < b, "{ms}: {a}..{b}");
            assert!(b - a >= 23 * 3_600_000 && b - a <= 25 * 3_600_000);
        }
    }
}

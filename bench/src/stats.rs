//! Order statistics over measured durations: nearest-rank percentiles (the definition the Go
//! host uses too, so both sides summarise their samples the same way) and medians.

use serde::{Deserialize, Serialize};

/// The nearest-rank `p`-th percentile (0 < p <= 100) of `sorted` (ascending); 0 when empty.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64) * p / 100.0).ceil() as usize;
    sorted[rank.saturating_sub(1).min(sorted.len() - 1)]
}

/// The median of `values` (the mean of the two middle values for an even count); 0 when empty.
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// The latency summary of one batch of calls, timed one by one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Timed calls.
    pub calls: usize,
    /// Median round trip, nanoseconds.
    pub p50_ns: u64,
    /// 99th percentile round trip, nanoseconds.
    pub p99_ns: u64,
    /// Mean round trip, nanoseconds.
    pub mean_ns: u64,
    /// Calls completed per second of wall time over the whole batch.
    pub calls_per_sec: f64,
}

impl Summary {
    /// Summarises per-call durations (`samples`, ns) measured over `wall_ns` of wall time.
    pub fn from_samples(mut samples: Vec<u64>, wall_ns: u64) -> Summary {
        samples.sort_unstable();
        let calls = samples.len();
        let sum: u128 = samples.iter().map(|&s| u128::from(s)).sum();
        Summary {
            calls,
            p50_ns: percentile(&samples, 50.0),
            p99_ns: percentile(&samples, 99.0),
            mean_ns: if calls == 0 {
                0
            } else {
                (sum / calls as u128) as u64
            },
            calls_per_sec: if wall_ns == 0 {
                0.0
            } else {
                calls as f64 * 1e9 / wall_ns as f64
            },
        }
    }
}

/// Median over rounds of a summary field.
pub fn median_of(rounds: &[Summary], field: impl Fn(&Summary) -> f64) -> f64 {
    median(&rounds.iter().map(field).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn summary_of_samples() {
        let s = Summary::from_samples(vec![30, 10, 20], 1_000_000_000);
        assert_eq!((s.calls, s.p50_ns, s.p99_ns, s.mean_ns), (3, 20, 30, 20));
        assert!((s.calls_per_sec - 3.0).abs() < 1e-9);
    }
}

//! Human-readable sizes, durations, rates and ratios.

/// `64 B`, `64 KiB`, `1 MiB`.
pub fn size_label(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} B")
    }
}

/// A duration with three significant digits: `850 ns`, `12.3 µs`, `1.05 ms`, `2.10 s`.
pub fn duration(ns: u64) -> String {
    let ns = ns as f64;
    // A value that rounds up to 1000 of a unit is written in the next one.
    let (value, unit) = if ns < 999.5 {
        (ns, "ns")
    } else if ns < 999.5e3 {
        (ns / 1e3, "µs")
    } else if ns < 999.5e6 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    format!("{} {unit}", three_digits(value))
}

fn three_digits(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Calls per second with thousands separators: `23,456/s`.
pub fn rate(per_sec: f64) -> String {
    let n = per_sec.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}/s")
}

/// A throughput: `612 MiB/s`, `1,234 MiB/s`, `8.50 MiB/s`.
pub fn mib_per_s(mib_per_s: f64) -> String {
    if mib_per_s >= 999.5 {
        format!("{} MiB/s", rate(mib_per_s).trim_end_matches("/s"))
    } else {
        format!("{} MiB/s", three_digits(mib_per_s))
    }
}

/// KiB as `12.3 MiB`.
pub fn kib(kb: u64) -> String {
    format!("{} MiB", three_digits(kb as f64 / 1024.0))
}

/// A ratio: `0.62×`.
pub fn ratio(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}×")
    } else {
        format!("{r:.2}×")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(size_label(64), "64 B");
        assert_eq!(size_label(65536), "64 KiB");
        assert_eq!(size_label(1 << 20), "1 MiB");
        assert_eq!(duration(850), "850 ns");
        assert_eq!(duration(12_345), "12.3 µs");
        assert_eq!(duration(1_050_000), "1.05 ms");
        assert_eq!(duration(999_600), "1.00 ms");
        assert_eq!(duration(2_100_000_000), "2.10 s");
        assert_eq!(rate(23456.4), "23,456/s");
        assert_eq!(rate(999.0), "999/s");
        assert_eq!(kib(12_595), "12.3 MiB");
        assert_eq!(mib_per_s(612.4), "612 MiB/s");
        assert_eq!(mib_per_s(1234.4), "1,234 MiB/s");
        assert_eq!(mib_per_s(8.5), "8.50 MiB/s");
        assert_eq!(ratio(0.6234), "0.62×");
        assert_eq!(ratio(13.2), "13×");
    }
}

//! What the process costs: CPU time and resident memory, read from /proc
//! (no unsafe code, as the workspace forbids it).

use std::fs;
use std::time::Duration;

use crate::BenchResult;

/// CPU time used by this process so far (user + system, all threads):
/// the sum of every thread's on-CPU nanoseconds from
/// `/proc/self/task/*/schedstat`, falling back to the clock ticks of
/// `/proc/self/stat` (10 ms resolution) where schedstat is missing.
pub(crate) fn cpu_time() -> BenchResult<Duration> {
    if let Ok(total) = schedstat_total() {
        return Ok(total);
    }
    let stat = fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which may hold spaces) start at `) `.
    let after = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest)
        .ok_or("bad /proc/self/stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 here.
    let ticks: u64 = fields.get(11).ok_or("no utime")?.parse::<u64>()?
        + fields.get(12).ok_or("no stime")?.parse::<u64>()?;
    // USER_HZ is 100 on every Linux configuration this runs on.
    Ok(Duration::from_millis(ticks * 10))
}

fn schedstat_total() -> BenchResult<Duration> {
    let mut total = 0u64;
    for task in fs::read_dir("/proc/self/task")? {
        let path = task?.path().join("schedstat");
        // A thread may exit between listing and reading: skip it.
        let Ok(text) = fs::read_to_string(path) else {
            continue;
        };
        let on_cpu: u64 = text.split_whitespace().next().ok_or("empty schedstat")?.parse()?;
        total += on_cpu;
    }
    Ok(Duration::from_nanos(total))
}

/// Resident set size in bytes, from `/proc/self/statm` (resident pages ×
/// 4 KiB, the page size of x86-64 and aarch64 Linux as configured here).
pub(crate) fn rss_bytes() -> BenchResult<u64> {
    let statm = fs::read_to_string("/proc/self/statm")?;
    let resident: u64 = statm
        .split_whitespace()
        .nth(1)
        .ok_or("bad /proc/self/statm")?
        .parse()?;
    Ok(resident * 4096)
}

/// The machine, for the docs: cores, CPU model, memory.
pub(crate) fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")
                .and_then(|rest| rest.split_once(':'))
        })
        .map_or("unknown CPU".to_owned(), |(_, model)| model.trim().to_owned());
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or_else(
            || "unknown".to_owned(),
            |kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0),
        );
    format!("{cores} cores (nproc), {model}, {mem_gib} RAM")
}

/// `rustc --version`, or "unknown" if rustc is not on PATH.
pub(crate) fn rustc_version() -> String {
    std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map_or_else(|| "unknown".to_owned(), |text| text.trim().to_owned())
}

/// Today's date (UTC), as YYYY-MM-DD.
pub(crate) fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
    }

    #[test]
    fn proc_readings_work_here() {
        assert!(rss_bytes().unwrap() > 0);
        assert!(cpu_time().is_ok());
    }
}

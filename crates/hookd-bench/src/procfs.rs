//! What Linux tells about another process in `/proc`: the CPU time it used and its peak
//! resident memory, to know what a server under test spent on a run.

use std::fs;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

/// The unit of the CPU times in `/proc/<pid>/stat`: the kernel reports them in
/// `USER_HZ`, which is 100 per second on every Linux architecture.
const TICKS_PER_SECOND: f64 = 100.0;

/// The CPU time a process has used so far, user and system, in clock ticks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuTicks(u64);

impl CpuTicks {
    /// Reads `/proc/<pid>/stat` now.
    pub(crate) fn of(pid: u32) -> anyhow::Result<Self> {
        let path = format!("/proc/{pid}/stat");
        let stat = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        parse_cpu_ticks(&stat)
            .map(Self)
            .with_context(|| format!("reading the CPU times of {path}"))
    }

    /// Seconds of CPU used between `earlier` and this sample.
    pub(crate) fn seconds_since(self, earlier: Self) -> f64 {
        self.0.saturating_sub(earlier.0) as f64 / TICKS_PER_SECOND
    }
}

/// What a server under test spent on a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct ServerUsage {
    /// The process watched.
    pub(crate) pid: u32,
    /// CPU seconds (user and system, all threads) it used during the run.
    pub(crate) cpu_s: f64,
    /// Its peak resident memory since it started (`VmHWM`), in MiB.
    pub(crate) peak_rss_mib: f64,
}

/// The peak resident memory of `pid` since it started (`VmHWM` of
/// `/proc/<pid>/status`), in KiB.
pub(crate) fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_vm_hwm_kib(&status).with_context(|| format!("finding VmHWM in {path}"))
}

/// `utime + stime` of a `/proc/<pid>/stat` line. The command name (field 2) is in
/// parentheses and may hold spaces and parentheses itself, so the fields are counted
/// from the last `)`: utime and stime are fields 14 and 15 of the line.
fn parse_cpu_ticks(stat: &str) -> anyhow::Result<u64> {
    let Some((_, after_name)) = stat.rsplit_once(')') else {
        bail!("no `)` closes the command name");
    };
    // after_name starts with field 3 (the state).
    let mut fields = after_name.split_whitespace().skip(14 - 3);
    let mut next = |name: &str| -> anyhow::Result<u64> {
        let field = fields.next().with_context(|| format!("no {name} field"))?;
        field
            .parse()
            .with_context(|| format!("{name} is not a number: {field:?}"))
    };
    let utime = next("utime")?;
    let stime = next("stime")?;
    Ok(utime + stime)
}

/// The value of `VmHWM:  1234 kB` in a `/proc/<pid>/status` text.
fn parse_vm_hwm_kib(status: &str) -> anyhow::Result<u64> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .context("no VmHWM line")?;
    let kib = line
        .trim()
        .strip_suffix("kB")
        .with_context(|| format!("VmHWM is not in kB: {line:?}"))?;
    kib.trim()
        .parse()
        .with_context(|| format!("VmHWM is not a number: {line:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_counted_after_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 3125 0 0 0 \
                    731 96 0 0 20 0 9 0 123456 1234567 890 18446744073709551615";
        assert_eq!(parse_cpu_ticks(stat).unwrap(), 731 + 96);
    }

    #[test]
    fn a_truncated_stat_line_is_an_error() {
        assert!(parse_cpu_ticks("4242 (hookd) S 1 2 3").is_err());
    }

    #[test]
    fn peak_rss_is_read_from_vm_hwm() {
        let status = "Name:\thookd\nVmPeak:\t  900000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t 40000 kB\n";
        assert_eq!(parse_vm_hwm_kib(status).unwrap(), 51234);
    }

    #[test]
    fn this_process_can_be_read() {
        let pid = std::process::id();
        assert!(peak_rss_kib(pid).unwrap() > 0);
        let before = CpuTicks::of(pid).unwrap();
        assert!(CpuTicks::of(pid).unwrap().seconds_since(before) >= 0.0);
    }
}

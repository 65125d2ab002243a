//! The process's open-file limit and file-creation mask. Every call holds an RTP socket, a TCP caller holds a
//! connection, a recording holds a file: a default soft limit of 1,024 descriptors caps a
//! server far below its `max_calls`. At start the soft limit is raised towards the hard one,
//! as far as the calls need; when even the hard limit is too low, startup says so.

/// Descriptors a server with `max_calls` calls needs: one RTP socket and one TCP connection or
/// recording file per call, and room for listeners, logs, the store and the runtime.
pub fn needed(max_calls: usize) -> u64 {
    (max_calls as u64).saturating_mul(2).saturating_add(256)
}

/// What the open-file limit is after trying to raise it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileLimit {
    /// The soft limit now in effect.
    pub soft: u64,
    /// The hard limit (the most an unprivileged process may raise the soft one to).
    pub hard: u64,
}

/// Raises the soft `RLIMIT_NOFILE` to `want` (or the hard limit, if lower); never lowers it.
#[cfg(unix)]
pub fn raise_open_files(want: u64) -> std::io::Result<FileLimit> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    // `None` is "unlimited".
    let soft = lim.current.unwrap_or(u64::MAX);
    let hard = lim.maximum.unwrap_or(u64::MAX);
    let target = want.min(hard);
    if target > soft {
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(target),
                maximum: lim.maximum,
            },
        )?;
        return Ok(FileLimit { soft: target, hard });
    }
    Ok(FileLimit { soft, hard })
}

/// Without `RLIMIT_NOFILE`, nothing to raise.
#[cfg(not(unix))]
pub fn raise_open_files(want: u64) -> std::io::Result<FileLimit> {
    Ok(FileLimit {
        soft: want,
        hard: want,
    })
}

/// Makes every file the process creates from now on private to its user (umask 077): the
/// recordings, call records and store hold callers' voices and numbers. Returns the old mask.
#[cfg(unix)]
pub fn private_umask() -> u32 {
    use rustix::fs::Mode;
    rustix::process::umask(Mode::from_raw_mode(0o077)).as_raw_mode()
}

/// Nothing to do without umask.
#[cfg(not(unix))]
pub fn private_umask() -> u32 {
    0
}

/// Raises the limit for `max_calls` and logs what it could not do.
pub fn prepare(max_calls: usize) -> Option<FileLimit> {
    let want = needed(max_calls);
    match raise_open_files(want) {
        Ok(l) if l.soft < want => {
            tracing::warn!(
                soft = l.soft,
                hard = l.hard,
                max_calls,
                needed = want,
                "the open-file limit is below what max_calls needs: calls beyond it get 503; \
                 raise the hard limit (ulimit -Hn, systemd LimitNOFILE=) or lower limits.max_calls"
            );
            Some(l)
        }
        Ok(l) => {
            tracing::debug!(soft = l.soft, hard = l.hard, "open-file limit");
            Some(l)
        }
        Err(e) => {
            tracing::warn!(error = %e, "the open-file limit could not be read or raised");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_lowers_and_stays_under_the_hard_limit() {
        let now = raise_open_files(0).expect("readable");
        let again = raise_open_files(u64::MAX).expect("raisable to the hard limit");
        assert!(again.soft >= now.soft);
        assert!(again.soft <= again.hard);
        assert_eq!(needed(1000), 2256);
    }
}

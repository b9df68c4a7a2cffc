//! Snapshot filters for what varies from run to run.

/// Runs `assertions` with snapshot filters for what changes from run to run: UUIDs (lineages,
/// lock ids), lock holders, pids, times and how long a step or a wait took.
pub fn redacted<R>(assertions: impl FnOnce() -> R) -> R {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[UUID]",
    );
    settings.add_filter(r"locked by \S+ \(", "locked by [WHO] (");
    settings.add_filter(r"held by \S+, ", "held by [WHO], ");
    settings.add_filter(r"pid \d+", "pid [PID]");
    settings.add_filter(r"since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "since [TIME]");
    settings.add_filter(r"waiting \d+\.\d+s", "waiting [SECONDS]s");
    settings.add_filter(r"\(\d+\.\ds\)", "([SECONDS]s)");
    settings.bind(assertions)
}

/// Runs `assertions` with the filters of simulated hosts on top of the current ones: the SSH
/// `ports` they listen on, and Docker's ids (25 characters of `[0-9a-z]`, like swarmkit's).
pub(super) fn simulated<R>(ports: &[u16], assertions: impl FnOnce() -> R) -> R {
    let mut settings = insta::Settings::clone_current();
    let mut ports = ports.to_vec();
    ports.sort_unstable();
    ports.dedup();
    for port in ports {
        settings.add_filter(&format!(r"\b{port}\b"), "[PORT]");
    }
    settings.add_filter(r"\b[0-9a-z]{25}\b", "[ID]");
    settings.bind(assertions)
}

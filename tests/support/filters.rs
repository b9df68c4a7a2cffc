//! Snapshot filters for what varies from run to run, and the normalising of output whose line
//! order does not.

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

/// Runs `assertions` with `filters` (regex, replacement) added to the current ones.
pub fn with_filters<R>(filters: &[(&str, &str)], assertions: impl FnOnce() -> R) -> R {
    let mut settings = insta::Settings::clone_current();
    for (regex, replacement) in filters {
        settings.add_filter(regex, *replacement);
    }
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

/// `text` with each run of consecutive progress lines (`ADDRESS: ...`, printed as parallel
/// steps start and end, in an order that differs between runs) sorted; every other line stays
/// where it is.
pub fn progress_sorted(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for line in text.lines() {
        if is_progress(line) {
            run.push(line);
            continue;
        }
        run.sort_unstable();
        out.append(&mut run);
        out.push(line);
    }
    run.sort_unstable();
    out.append(&mut run);
    let mut sorted = out.join("\n");
    if text.ends_with('\n') {
        sorted.push('\n');
    }
    sorted
}

/// `engine.node1: done (0.2s)`, `stack.web (destroy): docker stack rm ...`: a resource address
/// (a kind, a dot, a name; `swarm` alone), ` (destroy)` for a destruction, and a colon.
fn is_progress(line: &str) -> bool {
    let Some((address, _)) = line.split_once(": ") else {
        return false;
    };
    let address = address.strip_suffix(" (destroy)").unwrap_or(address);
    address == "swarm"
        || address.split_once('.').is_some_and(|(kind, name)| {
            !kind.is_empty()
                && kind.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && !name.is_empty()
                && !name.contains(' ')
        })
}

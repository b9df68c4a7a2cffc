//! Where Docker's answers differ by version, as seen on real nodes of each version the lab
//! builds (`swarmform lab up --docker 20|26|28`: 20.10.24, 26.1.5, 28.5.2) and, for the
//! versions between, as docker/cli's history says where it does. A host's version is its
//! `SimHostSpec::docker_version`.

/// The engine (and CLI: Debian ships them together) a host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Engine {
    major: u32,
}

impl Engine {
    /// `20.10.24+dfsg1` → 20; an unreadable version is taken as 20.10, the simulator's default.
    pub(crate) fn of(version: &str) -> Engine {
        let major = version
            .split(['.', '+', '~', '-'])
            .next()
            .and_then(|major| major.parse().ok())
            .unwrap_or(20);
        Engine { major }
    }

    /// `docker stack deploy --detach` and `--quiet` exist (docker/cli 26.0), and a deploy
    /// without `--detach` warns that tasks are created in the background. 20.10 refuses the
    /// flag: `unknown flag: --detach`, exit 125.
    pub(crate) fn stack_deploy_detach(self) -> bool {
        self.major >= 26
    }

    /// A compose file without `version` is read as the latest 3.x schema (3.10; docker/cli
    /// 23.0, pull request 3257); 20.10 reads it as version 1.0 and refuses it.
    pub(crate) fn compose_version_optional(self) -> bool {
        self.major >= 23
    }

    /// `docker stack ls` lists `Namespace` and `Orchestrator` (Kubernetes stacks, removed in
    /// docker/cli 23.0).
    pub(crate) fn stack_orchestrator(self) -> bool {
        self.major < 23
    }

    /// A swarm object, network or image that does not exist is the daemon's answer (`Error
    /// response from daemon: node X not found`), not the 20.10 CLI's own lookup (`Error: No
    /// such node: X`). Seen on 26.1.5 and 28.5.2.
    pub(crate) fn daemon_not_found(self) -> bool {
        self.major >= 26
    }

    /// `docker node|service|secret|config inspect` wraps its error as `Status: MESSAGE, Code:
    /// 1` (seen on 20.10.24 and 26.1.5, not on 28.5.2).
    pub(crate) fn inspect_status_wrapper(self) -> bool {
        self.major < 28
    }

    /// `docker network ls --format '{{json .}}'` has an `IPv4` field (seen on 28.5.2, not on
    /// 26.1.5).
    pub(crate) fn network_ipv4_field(self) -> bool {
        self.major >= 28
    }

    /// `docker network rm` of a missing network prints `exit status 1` after the daemon's
    /// error (seen on 28.5.2).
    pub(crate) fn network_rm_exit_status_line(self) -> bool {
        self.major >= 28
    }

    /// `docker info --format` with dockerd down: 20.10's template fails on the server's nil
    /// half (exit 1); from 23 the template runs on zero values (`""`, an empty `Swarm`),
    /// with the daemon's error on stderr, and exits 0 (seen on 26.1.5, with `ServerErrors`
    /// in `{{json .}}`) or, from 28.1, 1 (seen on 28.5.2, without `ServerErrors`).
    pub(crate) fn info_when_down(self) -> InfoWhenDown {
        match self.major {
            ..23 => InfoWhenDown::NilTemplate,
            23..28 => InfoWhenDown::ZeroValues {
                status: 0,
                server_errors: true,
            },
            _ => InfoWhenDown::ZeroValues {
                status: 1,
                server_errors: false,
            },
        }
    }

    /// A missing `kind` called `name`, as this version's CLI says it: `Error: No such node:
    /// X` or `Error response from daemon: node X not found`.
    pub(crate) fn not_found(self, kind: &str, name: &str) -> String {
        if self.daemon_not_found() {
            format!("Error response from daemon: {kind} {name} not found")
        } else {
            format!("Error: No such {kind}: {name}")
        }
    }

    /// An inspect command's errors (its stderr lines) as this version prints them.
    pub(crate) fn inspect_errors(self, stderr: &[u8]) -> Vec<u8> {
        if !self.inspect_status_wrapper() || stderr.is_empty() {
            return stderr.to_vec();
        }
        let text = String::from_utf8_lossy(stderr);
        format!("Status: {}, Code: 1\n", text.trim_end()).into_bytes()
    }
}

/// See [`Engine::info_when_down`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InfoWhenDown {
    NilTemplate,
    ZeroValues { status: u32, server_errors: bool },
}

impl super::Ctx<'_> {
    pub(crate) fn engine(&self) -> Engine {
        Engine::of(&self.world.hosts[self.host].docker_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Versions read as the packages print them; the messages as each version's CLI does.
    #[test]
    fn versions_and_messages() {
        let old = Engine::of("20.10.24+dfsg1");
        let new = Engine::of("28.5.2+dfsg4");
        assert!(!old.stack_deploy_detach() && Engine::of("26.1.5+dfsg1").stack_deploy_detach());
        assert_eq!(old.not_found("node", "x"), "Error: No such node: x");
        assert_eq!(
            new.not_found("node", "x"),
            "Error response from daemon: node x not found"
        );
        assert_eq!(
            old.inspect_errors(b"Error: No such node: x\n"),
            b"Status: Error: No such node: x, Code: 1\n"
        );
        assert_eq!(new.inspect_errors(b"e\n"), b"e\n");
        assert_eq!(Engine::of("nonsense"), old);
    }
}

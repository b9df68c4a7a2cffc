//! Several compose files for one stack merged into one, exactly as
//! `docker stack deploy -c base.yml -c prod.yml` merges them.
//!
//! A port of docker/cli at tag `v28.5.2` (`master` at 28f7560 has the same rules; its
//! `merge.go` only swaps `pkg/errors` for `fmt.Errorf` and `sort.Slice` for `slices.SortFunc`):
//!
//! - `cli/compose/loader/merge.go`: `merge`, `mergeServices` and its transformers;
//! - `cli/compose/loader/loader.go` (`Load`): the files are merged in order, each later file into
//!   the result so far, and all must have the same version;
//! - `cli/compose/types/types.go`: the Go type of every service field, which decides how
//!   `dario.cat/mergo` v1.0.2 (vendored, `merge.go`) merges it with
//!   `WithOverride, WithAppendSlice`;
//! - the loader's transformers (`loader.go`), `internal/volumespec` and go-connections'
//!   `nat.ParsePortSpec`, for the short syntaxes that have to be understood to find a key;
//! - `cli/compose/loader/merge_test.go`, whose cases are among the tests below.
//!
//! Docker converts every file to its typed structs first and merges the structs; this module
//! merges the parsed YAML documents to the same outcome.
//!
//! # The rules
//!
//! At the top level:
//!
//! - `version`: every file must have the same one, or `docker stack deploy` fails with
//!   "version mismatched between two composefiles" ([`MergeError::VersionMismatch`]); a missing
//!   `version`, `""` and `"3"` count as `3.13`, and numbers compare as Go prints them (`3.10` is
//!   `3.1`). When they agree the later file's value is kept.
//! - `services`: by name; a service in one file only is kept as it is; a service in both is
//!   merged field by field (below).
//! - `networks`, `volumes`, `secrets`, `configs`: by name, and a later definition replaces the
//!   earlier one *whole* (`mergo.Map` of structs): its keys are not merged.
//! - `x-*` extensions: those of the first file only; Docker drops the later files' ones.
//! - any other key: the later value (Docker's schema rejects such keys anyway).
//!
//! In a service present in both files, by the Go type of the field:
//!
//! | field (Go type) | rule |
//! |---|---|
//! | strings: `image`, `user`, `hostname`, `restart`, `deploy.mode`, `cpus`, … | replaced unless the later one is empty (`""`) |
//! | booleans: `privileged`, `read_only`, `tty`, `stdin_open`, `init`, `healthcheck.disable` | replaced only by `true`: `false` cannot switch one off |
//! | numbers and durations: `oom_score_adj`, `stop_grace_period`, `memory`, `pids`, `max_replicas_per_node`, `update_config.delay`, `healthcheck.interval`, … | replaced unless the later one is zero (`0`, `0s`) |
//! | `*uint64`: `deploy.replicas`, `update_config.parallelism`, `restart_policy.max_attempts`, `healthcheck.retries` | always replaced, `0` included (`mergeUint64`, issue #3293) |
//! | `command`, `entrypoint` (`ShellCommand`) | replaced whole unless the later one is empty (`mergeShellCommand`) |
//! | other lists: `cap_add`, `cap_drop`, `devices`, `dns`, `dns_search`, `env_file`, `expose`, `extra_hosts`, `links`, `external_links`, `depends_on`, `security_opt`, `tmpfs`, `healthcheck.test`, `placement.constraints`, `placement.preferences`, `generic_resources`, `build.cache_from`, `build.extra_hosts` | appended, duplicates kept (`WithAppendSlice`) |
//! | `labels`, `deploy.labels`, `build.labels`, `sysctls`, `logging.options` | merged by key, the later value always wins, even `""` |
//! | `environment`, `build.args` (`MappingWithEquals`) | merged by key; the later value wins unless it is empty (`FOO=`) or unset (`FOO`) while the earlier one is not |
//! | `ports` | merged by **published port only** (`toServicePortConfigsMap`), then sorted by it |
//! | `volumes` | merged by target, then sorted by it |
//! | `secrets`, `configs` | merged by source, then sorted by it |
//! | `networks` | merged by network name; for a network in both, `aliases` is replaced (and cleared if the later one has none), `ipv4_address`/`ipv6_address` replaced unless empty, the later `driver_opts` ignored (`mergeServiceNetworkConfig`) |
//! | `ulimits` | merged by name, each limit replaced whole (`mergeUlimitsConfig`) |
//! | `logging` | same driver (or either without one): driver kept, options merged by key; different drivers: the later `logging` whole (`mergeLoggingConfig`) |
//! | structs: `deploy`, `deploy.resources`, `…limits`, `…reservations`, `update_config`, `rollback_config`, `restart_policy`, `placement`, `healthcheck`, `build`, `credential_spec` | merged field by field with these same rules |
//! | `x-*` extensions | mergo on untyped values: mappings merged by key, lists appended, anything else (`null` too) replaced |
//! | other keys (not in Docker's struct, so ignored by Docker) | the later value |
//!
//! A field the later file does not set, or sets to `null`, keeps the earlier value (mapstructure
//! leaves a `null` at the zero value), except in `x-*` extensions where `null` replaces.
//!
//! # Short and long syntaxes
//!
//! Where both sides of a field are present and the rule needs to look inside, both are first
//! brought to the form Docker's loader converts them to; a field present in one file only is
//! left as written. The normalisations:
//!
//! - `ports`: a short item (`"8080:80"`, `"127.0.0.1:8080:80/udp"`, `"8000-8001:80-81"`, `80`) is
//!   parsed as `nat.ParsePortSpec` and `ConvertPortToPortConfig` do and becomes one long item per
//!   port: `{mode: ingress, target, published, protocol}` (`published` left out when it is 0, the
//!   host IP dropped as Docker drops it, with a warning). Long items are kept as written.
//! - `volumes`: a short item is parsed as `volumespec.Parse` does to find its target, and kept
//!   as written.
//! - `secrets`, `configs`: a short item (`name`) is keyed by itself and kept as written.
//! - `environment`, `build.args`: a list (`FOO=bar`, `FOO`) or a mapping becomes a mapping of
//!   strings and nulls (`FOO` and `FOO: null` are unset, numbers and booleans become strings).
//! - `labels`, `deploy.labels`, `build.labels`, `sysctls`, `logging.options`: a list (`a=b`, `a`)
//!   or a mapping becomes a mapping of strings (`a` and `a: null` are `""`).
//! - `extra_hosts`: a mapping (`host: ip`) or a list (`host:ip`, `host=ip`) becomes a list of
//!   `host:ip` strings (`transformHostsList`: the mapping sorted, `[` `]` around an IP removed).
//! - `dns`, `dns_search`, `env_file`, `tmpfs`, `build.cache_from`: a single string is a list of
//!   one.
//! - `healthcheck.test`: a string `s` is `["CMD-SHELL", s]`.
//! - service `networks`: a list of names is a mapping of those names to `null`.
//! - `build`: a string is `{context: …}`.
//!
//! # Docker's quirks, kept on purpose
//!
//! So that several files mean here what they mean to `docker stack deploy`:
//!
//! - `false`, `0`, `0s` and `""` cannot reset an earlier value (mergo skips zero values), nor can
//!   `FOO=` or `FOO` in `environment`; `replicas: 0` can.
//! - Ports are keyed by the published port alone: `8080:80/tcp` and `8080:80/udp` collapse into
//!   the later one, and so do all ports that publish nothing (published 0). This happens within
//!   one list too, as soon as the service is in both files and the earlier file has `ports`.
//! - Lists are appended without removing duplicates, `healthcheck.test` included
//!   (`["CMD", "a"]` then `["CMD", "b"]` gives `["CMD", "a", "CMD", "b"]`).
//! - `logging.options` of the later file are lost when the earlier `logging` has no `options` and
//!   the drivers agree (or one is missing): `mergeLoggingConfig` merges them into a copy of a nil
//!   map.
//! - A service network given again without `aliases` loses its aliases; the later `driver_opts`
//!   are ignored.
//! - `x-*` keys at the top level of later files are dropped.
//!
//! # Not done here
//!
//! Per file, before merging, Docker's loader also reads each service's `env_file`s into its
//! `environment` and fills unset variables (`FOO`, `FOO=`) from the process environment
//! (`resolveEnvironment`), and makes relative bind-mount sources absolute. Those need files and
//! the environment, not the documents, so they are not done here: a variable left unset in a
//! later file keeps the earlier value here, where Docker would first look it up. Interpolation
//! (`${VAR}`) is the job of [`super::interpolate`], run on each file before merging; YAML merge
//! keys (`<<`) must be applied beforehand (`Value::apply_merge`). Documents are not validated
//! against Docker's schema: only what the merge itself needs is checked. The order of the keys is
//! the earlier file's, then the new keys of the later file (Docker sorts services by name, which
//! a mapping does not need).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde_norway::{Mapping, Value};

/// The version Docker assumes when a file has none (`schema.defaultVersion`).
const DEFAULT_VERSION: &str = "3.13";

/// The service fields whose lists Docker merges by a key (`mergeSlice`): merged, and so sorted
/// and deduplicated, even when only the earlier file has them.
const KEYED_FIELDS: [&str; 4] = ["ports", "volumes", "secrets", "configs"];

/// Merges `overrides` into `base` as `docker stack deploy -c base -c override` does.
///
/// Both must be whole compose documents (a mapping at the top level); `base` may itself be the
/// result of an earlier merge. See the [module documentation](self) for the rules.
pub fn merge(base: Value, overrides: Value) -> Result<Value, MergeError> {
    let mut base = top_level(base, Origin::Base)?;
    let overrides = top_level(overrides, Origin::Override)?;

    let first = version_of(&base);
    let other = version_of(&overrides);
    if first != other {
        return Err(MergeError::VersionMismatch {
            first,
            first_origin: Origin::Base,
            other,
            origin: Origin::Override,
        });
    }

    for (key, value) in overrides {
        match key.as_str() {
            Some("services") => merge_services(&mut base, key, value)?,
            Some(section @ ("networks" | "volumes" | "secrets" | "configs")) => {
                let section = section.to_owned();
                merge_named(&mut base, key, value, &section)?;
            }
            // `merge` keeps the first file's `Config.Extras` and never looks at the others'.
            Some(name) if name.starts_with("x-") => {}
            // `version` (equal, checked above) and keys Docker's schema does not know.
            _ => {
                base.insert(key, value);
            }
        }
    }
    Ok(Value::Mapping(base))
}

/// Merges the compose files of one stack in order, each later one into the result of the
/// earlier ones, as `docker stack deploy -c files[0] -c files[1] …` does.
///
/// One file is returned as it is (after checking that it is a mapping); none is an error.
pub fn merge_all(files: Vec<Value>) -> Result<Value, MergeError> {
    let mut files = files.into_iter();
    let Some(first) = files.next() else {
        return Err(MergeError::NoFiles);
    };
    let mut merged = Value::Mapping(top_level(first, Origin::File(1))?);
    for (index, file) in files.enumerate() {
        // `index` 0 is the second file.
        let number = index + 2;
        merged = merge(merged, file).map_err(|error| error.renumbered(number))?;
    }
    Ok(merged)
}

/// Where a problem was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The first argument of [`merge`].
    Base,
    /// The second argument of [`merge`].
    Override,
    /// File `n` of [`merge_all`], counted from 1.
    File(usize),
    /// The files before file `n` of [`merge_all`], as merged so far.
    FilesBefore(usize),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Base => f.write_str("the base file"),
            Origin::Override => f.write_str("the override file"),
            Origin::File(n) => write!(f, "file {n}"),
            Origin::FilesBefore(n) if *n <= 2 => f.write_str("file 1"),
            Origin::FilesBefore(n) => write!(f, "one of files 1 to {}", n - 1),
        }
    }
}

/// Why compose files could not be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// [`merge_all`] was given no file.
    #[error("there are no compose files to merge")]
    NoFiles,
    /// The files declare different versions, which `docker stack deploy` refuses.
    #[error(
        "the compose files declare different versions, {first} in {first_origin} and {other} in \
         {origin}: `docker stack deploy` refuses to merge them (\"version mismatched between two \
         composefiles\"); give every file the same `version` (a file without one counts as 3.13)"
    )]
    VersionMismatch {
        /// The version of the first file, as Docker normalises it.
        first: String,
        /// Where `first` comes from.
        first_origin: Origin,
        /// The differing version.
        other: String,
        /// Where `other` comes from.
        origin: Origin,
    },
    /// A value has a shape the merge cannot work with.
    #[error("{path}: {problem} (in {origin})")]
    Invalid {
        /// The keys down to the value, joined with `.`, list items as `[n]`:
        /// `services.api.ports[0]`.
        path: String,
        /// What is wrong, in words.
        problem: String,
        /// The file the value is in.
        origin: Origin,
    },
}

impl MergeError {
    /// The error of `merge(result of files 1..n-1, file n)` in terms of [`merge_all`]'s files.
    fn renumbered(self, number: usize) -> Self {
        let renumber = |origin| match origin {
            Origin::Base => Origin::FilesBefore(number),
            Origin::Override => Origin::File(number),
            other => other,
        };
        match self {
            MergeError::VersionMismatch {
                first,
                other,
                origin,
                ..
            } => MergeError::VersionMismatch {
                first,
                // All the files before agree with the first one.
                first_origin: Origin::File(1),
                other,
                origin: renumber(origin),
            },
            MergeError::Invalid {
                path,
                problem,
                origin,
            } => MergeError::Invalid {
                path,
                problem,
                origin: renumber(origin),
            },
            MergeError::NoFiles => MergeError::NoFiles,
        }
    }
}

fn invalid(path: &str, origin: Origin, problem: impl Into<String>) -> MergeError {
    MergeError::Invalid {
        path: path.to_owned(),
        problem: problem.into(),
        origin,
    }
}

fn wrong_type(path: &str, origin: Origin, expected: &str, found: &Value) -> MergeError {
    invalid(
        path,
        origin,
        format!("expected {expected}, found {}", describe(found)),
    )
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "an empty value (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn top_level(document: Value, origin: Origin) -> Result<Mapping, MergeError> {
    mapping(
        document,
        "(top level)",
        origin,
        "a mapping (a compose file's sections: services, networks, …)",
    )
}

/// `schema.Version`: `fmt.Sprintf("%v", version)`, with `""` and `"3"` (and no version) being
/// the latest 3.x.
fn version_of(document: &Mapping) -> String {
    let Some(version) = document.get("version") else {
        return DEFAULT_VERSION.to_owned();
    };
    let text = match version {
        Value::Null => "<nil>".to_owned(),
        other => go_text(other).unwrap_or_else(|| format!("{other:?}")),
    };
    match text.as_str() {
        "" | "3" => DEFAULT_VERSION.to_owned(),
        _ => text,
    }
}

// ---------------------------------------------------------------------------------------------
// Top-level sections.

/// `value` as a mapping, or the error naming `path`, the file and what was `expected`.
fn mapping(
    value: Value,
    path: &str,
    origin: Origin,
    expected: &str,
) -> Result<Mapping, MergeError> {
    match value {
        Value::Mapping(mapping) => Ok(mapping),
        other => Err(wrong_type(path, origin, expected, &other)),
    }
}

/// [`mapping`], with an empty value (`services:` and nothing) as an empty mapping.
fn mapping_or_empty(
    value: Value,
    path: &str,
    origin: Origin,
    expected: &str,
) -> Result<Mapping, MergeError> {
    match value {
        Value::Null => Ok(Mapping::new()),
        other => mapping(other, path, origin, expected),
    }
}

fn merge_services(base: &mut Mapping, key: Value, new: Value) -> Result<(), MergeError> {
    const SERVICES: &str = "a mapping of service names to services";
    const SERVICE: &str = "a mapping (the service's settings)";
    if new.is_null() {
        return Ok(());
    }
    let new = mapping(new, "services", Origin::Override, SERVICES)?;
    let Some(slot) = base.get_mut(&key) else {
        base.insert(key, Value::Mapping(new));
        return Ok(());
    };
    let mut services = mapping_or_empty(std::mem::take(slot), "services", Origin::Base, SERVICES)?;
    for (name, service) in new {
        let path = join("services", &key_text(&name));
        let service = mapping(service, &path, Origin::Override, SERVICE)?;
        match services.get_mut(&name) {
            None => {
                services.insert(name, Value::Mapping(service));
            }
            Some(existing) => {
                let mut merged = mapping(std::mem::take(existing), &path, Origin::Base, SERVICE)?;
                merge_service(&mut merged, service, &path)?;
                *existing = Value::Mapping(merged);
            }
        }
    }
    *slot = Value::Mapping(services);
    Ok(())
}

/// `mergeVolumes`, `mergeNetworks`, `mergeSecrets`, `mergeConfigs`: `mergo.Map` of structs, so
/// a later definition replaces the earlier one whole.
fn merge_named(
    base: &mut Mapping,
    key: Value,
    new: Value,
    section: &str,
) -> Result<(), MergeError> {
    const DEFINITIONS: &str = "a mapping of names to definitions";
    if new.is_null() {
        return Ok(());
    }
    let new = mapping(new, section, Origin::Override, DEFINITIONS)?;
    let Some(slot) = base.get_mut(&key) else {
        base.insert(key, Value::Mapping(new));
        return Ok(());
    };
    let mut definitions =
        mapping_or_empty(std::mem::take(slot), section, Origin::Base, DEFINITIONS)?;
    for (name, definition) in new {
        definitions.insert(name, definition);
    }
    *slot = Value::Mapping(definitions);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Fields: the rule of each, from its Go type.

/// How one field is merged, from its Go type and the transformers of `mergeServices`.
#[derive(Clone, Copy)]
enum Rule {
    /// `string`: replaced unless the new value is empty.
    Str,
    /// `bool`, `*bool`: replaced only by `true`.
    Bool,
    /// Integers, floats, `Duration`, `*Duration`, `UnitBytes`: replaced unless zero.
    Num,
    /// `*uint64` (`mergeUint64`): any value replaces, `0` included.
    Set,
    /// Slices (`WithAppendSlice`): appended.
    Append(ListForm),
    /// `ShellCommand` (`mergeShellCommand`): replaced whole unless empty.
    Command,
    /// `map[string]string`, `Labels`, `Mapping`: by key, the new value wins.
    Labels,
    /// `MappingWithEquals`: by key, the new value wins unless empty or unset.
    Env,
    /// A struct or a pointer to one: field by field.
    Struct(Table),
    /// `BuildConfig`, which may also be a string.
    Build,
    /// `*LoggingConfig` (`mergeLoggingConfig`).
    Logging,
    /// `map[string]*ServiceNetworkConfig` (`mergeServiceNetworkConfig`).
    Networks,
    /// `map[string]*UlimitsConfig` (`mergeUlimitsConfig`).
    Ulimits,
    /// `[]ServicePortConfig` and the like (`mergeSlice`): by a key, sorted by it.
    Keyed(KeyedBy),
    /// `Extras map[string]any`: mergo on untyped values.
    Extension,
    /// Not a field of Docker's struct: the new value.
    Replace,
}

type Table = fn(&str) -> Rule;

/// The forms a list field accepts, and how each becomes a list.
#[derive(Clone, Copy)]
enum ListForm {
    /// A list only.
    List,
    /// `StringList`: a string is a list of one.
    StringOrList,
    /// `HealthCheckTest`: a string `s` is `["CMD-SHELL", s]`.
    HealthTest,
    /// `HostsList`: a mapping or a list, as `host:ip` strings.
    Hosts,
}

/// The key of a list merged by key.
#[derive(Clone, Copy)]
enum KeyedBy {
    /// `ports`: `toServicePortConfigsMap`, by `Published`.
    Published,
    /// `volumes`: `toServiceVolumeConfigsMap`, by `Target`.
    Target,
    /// `secrets`, `configs`: by `Source`.
    Source,
}

/// `types.ServiceConfig`.
fn service_rule(key: &str) -> Rule {
    use ListForm::{Hosts, List, StringOrList};
    match key {
        "build" => Rule::Build,
        "cap_add" | "cap_drop" | "depends_on" | "devices" | "external_links" | "links"
        | "security_opt" | "expose" => Rule::Append(List),
        "dns" | "dns_search" | "env_file" | "tmpfs" => Rule::Append(StringOrList),
        "extra_hosts" => Rule::Append(Hosts),
        "cgroupns_mode" | "cgroup_parent" | "container_name" | "domainname" | "hostname"
        | "image" | "ipc" | "isolation" | "mac_address" | "network_mode" | "pid" | "restart"
        | "shm_size" | "stop_signal" | "user" | "userns_mode" | "working_dir" => Rule::Str,
        "command" | "entrypoint" => Rule::Command,
        "configs" | "secrets" => Rule::Keyed(KeyedBy::Source),
        "ports" => Rule::Keyed(KeyedBy::Published),
        "volumes" => Rule::Keyed(KeyedBy::Target),
        "credential_spec" => Rule::Struct(credential_spec_rule),
        "deploy" => Rule::Struct(deploy_rule),
        "healthcheck" => Rule::Struct(healthcheck_rule),
        "environment" => Rule::Env,
        "labels" | "sysctls" => Rule::Labels,
        "logging" => Rule::Logging,
        "networks" => Rule::Networks,
        "ulimits" => Rule::Ulimits,
        // `*bool`, `bool`.
        "init" | "privileged" | "read_only" | "stdin_open" | "tty" => Rule::Bool,
        // `*Duration`, `int64`.
        "stop_grace_period" | "oom_score_adj" => Rule::Num,
        _ if key.starts_with("x-") => Rule::Extension,
        _ => Rule::Replace,
    }
}

/// `types.BuildConfig`.
fn build_rule(key: &str) -> Rule {
    match key {
        "context" | "dockerfile" | "network" | "target" => Rule::Str,
        "args" => Rule::Env,
        "labels" => Rule::Labels,
        "cache_from" => Rule::Append(ListForm::StringOrList),
        "extra_hosts" => Rule::Append(ListForm::Hosts),
        _ => Rule::Replace,
    }
}

/// `types.CredentialSpecConfig`.
fn credential_spec_rule(key: &str) -> Rule {
    match key {
        "config" | "file" | "registry" => Rule::Str,
        _ => Rule::Replace,
    }
}

/// `types.DeployConfig`.
fn deploy_rule(key: &str) -> Rule {
    match key {
        "mode" | "endpoint_mode" => Rule::Str,
        "replicas" => Rule::Set,
        "labels" => Rule::Labels,
        "update_config" | "rollback_config" => Rule::Struct(update_rule),
        "resources" => Rule::Struct(resources_rule),
        "restart_policy" => Rule::Struct(restart_policy_rule),
        "placement" => Rule::Struct(placement_rule),
        _ => Rule::Replace,
    }
}

/// `types.UpdateConfig`.
fn update_rule(key: &str) -> Rule {
    match key {
        "parallelism" => Rule::Set,
        "delay" | "monitor" | "max_failure_ratio" => Rule::Num,
        "failure_action" | "order" => Rule::Str,
        _ => Rule::Replace,
    }
}

/// `types.Resources`.
fn resources_rule(key: &str) -> Rule {
    match key {
        "limits" => Rule::Struct(limits_rule),
        "reservations" => Rule::Struct(reservations_rule),
        _ => Rule::Replace,
    }
}

/// `types.ResourceLimit`.
fn limits_rule(key: &str) -> Rule {
    match key {
        "cpus" => Rule::Str,
        "memory" | "pids" => Rule::Num,
        _ => Rule::Replace,
    }
}

/// `types.Resource`.
fn reservations_rule(key: &str) -> Rule {
    match key {
        "cpus" => Rule::Str,
        "memory" => Rule::Num,
        "generic_resources" => Rule::Append(ListForm::List),
        _ => Rule::Replace,
    }
}

/// `types.RestartPolicy`.
fn restart_policy_rule(key: &str) -> Rule {
    match key {
        "condition" => Rule::Str,
        "delay" | "window" => Rule::Num,
        "max_attempts" => Rule::Set,
        _ => Rule::Replace,
    }
}

/// `types.Placement`.
fn placement_rule(key: &str) -> Rule {
    match key {
        "constraints" | "preferences" => Rule::Append(ListForm::List),
        "max_replicas_per_node" => Rule::Num,
        _ => Rule::Replace,
    }
}

/// `types.HealthCheckConfig`.
fn healthcheck_rule(key: &str) -> Rule {
    match key {
        "test" => Rule::Append(ListForm::HealthTest),
        "timeout" | "interval" | "start_period" | "start_interval" => Rule::Num,
        "retries" => Rule::Set,
        "disable" => Rule::Bool,
        _ => Rule::Replace,
    }
}

fn merge_service(out: &mut Mapping, new: Mapping, path: &str) -> Result<(), MergeError> {
    // `mergeSlice` runs whenever the earlier list is not nil, even with nothing to merge in.
    let absent: Vec<&str> = KEYED_FIELDS
        .into_iter()
        .filter(|field| !new.contains_key(*field))
        .collect();
    merge_fields(out, new, service_rule, path)?;
    for field in absent {
        if let Some(slot) = out.get_mut(field)
            && slot.is_sequence()
            && let Rule::Keyed(by) = service_rule(field)
        {
            let old = std::mem::take(slot);
            *slot = keyed(by, old, Value::Null, &join(path, field))?;
        }
    }
    Ok(())
}

/// mergo on a struct: each field of `new` into `out` by its rule.
fn merge_fields(
    out: &mut Mapping,
    new: Mapping,
    table: Table,
    path: &str,
) -> Result<(), MergeError> {
    for (key, value) in new {
        let name = key_text(&key);
        let rule = table(&name);
        let child = join(path, &name);
        match out.get_mut(&key) {
            // Merging into a zero field gives the new value, whatever the rule.
            None => {
                out.insert(key, value);
            }
            Some(slot) => {
                let old = std::mem::take(slot);
                *slot = apply(rule, old, value, &child)?;
            }
        }
    }
    Ok(())
}

fn apply(rule: Rule, old: Value, new: Value, path: &str) -> Result<Value, MergeError> {
    match rule {
        Rule::Extension => merge_any(old, new, path),
        Rule::Replace => Ok(new),
        Rule::Keyed(_) if old.is_null() => Ok(new),
        Rule::Keyed(by) => keyed(by, old, new, path),
        // A typed field set to null is the zero value, which merges as if it were absent.
        _ if new.is_null() => Ok(old),
        _ if old.is_null() => Ok(new),
        Rule::Str => Ok(if is_empty_string(&new) { old } else { new }),
        Rule::Bool => Ok(if is_true(&new) { new } else { old }),
        Rule::Num => Ok(if is_zero(&new) { old } else { new }),
        Rule::Set => Ok(new),
        Rule::Append(form) => {
            let mut list = to_list(old, form, path, Origin::Base)?;
            list.extend(to_list(new, form, path, Origin::Override)?);
            Ok(Value::Sequence(list))
        }
        Rule::Command => Ok(if is_empty_command(&new) { old } else { new }),
        Rule::Labels => {
            let mut labels = labels_map(old, path, Origin::Base)?;
            for (key, value) in labels_map(new, path, Origin::Override)? {
                labels.insert(key, value);
            }
            Ok(Value::Mapping(labels))
        }
        Rule::Env => merge_environment(old, new, path),
        Rule::Struct(table) => {
            let mut out = struct_mapping(old, path, Origin::Base)?;
            merge_fields(
                &mut out,
                struct_mapping(new, path, Origin::Override)?,
                table,
                path,
            )?;
            Ok(Value::Mapping(out))
        }
        Rule::Build => {
            let mut out = build_mapping(old, path, Origin::Base)?;
            merge_fields(
                &mut out,
                build_mapping(new, path, Origin::Override)?,
                build_rule,
                path,
            )?;
            Ok(Value::Mapping(out))
        }
        Rule::Logging => merge_logging(old, new, path),
        Rule::Networks => merge_service_networks(old, new, path),
        Rule::Ulimits => merge_ulimits(old, new, path),
    }
}

fn struct_mapping(value: Value, path: &str, origin: Origin) -> Result<Mapping, MergeError> {
    mapping(value, path, origin, "a mapping")
}

/// `transformBuildConfig`: a string is the context.
fn build_mapping(value: Value, path: &str, origin: Origin) -> Result<Mapping, MergeError> {
    match value {
        Value::String(context) => {
            let mut build = Mapping::new();
            build.insert(Value::from("context"), Value::String(context));
            Ok(build)
        }
        Value::Mapping(mapping) => Ok(mapping),
        other => Err(wrong_type(
            path,
            origin,
            "a mapping or a string (the build context)",
            &other,
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Zero values, as mergo's `isEmptyValue` sees the Go value the loader makes.

fn is_empty_string(value: &Value) -> bool {
    matches!(value, Value::String(text) if text.is_empty())
}

/// A Go `bool` (YAML 1.1 spellings too, as interpolation casts them).
fn is_true(value: &Value) -> bool {
    match value {
        Value::Bool(flag) => *flag,
        Value::String(text) => matches!(
            text.to_ascii_lowercase().as_str(),
            "y" | "yes" | "true" | "on"
        ),
        _ => false,
    }
}

/// A number, a duration (`0s`, `0h0m`) or a size (`0`, `0M`) that is zero.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(flag) => !flag,
        Value::Number(number) => number.as_f64() == Some(0.0),
        Value::String(text) => !text.chars().any(|c| ('1'..='9').contains(&c)),
        _ => false,
    }
}

/// `shlex.Split` gives no word: blank, or only comments.
fn is_empty_command(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Sequence(words) => words.is_empty(),
        Value::String(text) => text.lines().all(|line| {
            let line = line.trim_start();
            line.is_empty() || line.starts_with('#')
        }),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Go's text of scalars (`fmt.Sprint`), for keys and for the values the loader makes strings of.

fn go_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => Some(if let Some(n) = number.as_u64() {
            n.to_string()
        } else if let Some(n) = number.as_i64() {
            n.to_string()
        } else {
            go_float(number.as_f64().unwrap_or(f64::NAN))
        }),
        _ => None,
    }
}

/// `strconv.FormatFloat(f, 'g', -1, 64)`, what `%v` prints.
fn go_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    // Shortest precision: exponents from -4 to 5 are written out, others in %e form.
    if !(-4..6).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    } else {
        format!("{value}")
    }
}

/// A mapping key as text, for paths and for the string keys Docker's maps have.
fn key_text(key: &Value) -> String {
    go_text(key).unwrap_or_else(|| format!("{key:?}"))
}

fn scalar_text(value: &Value, path: &str, origin: Origin) -> Result<String, MergeError> {
    go_text(value).ok_or_else(|| wrong_type(path, origin, "a string, a number or a boolean", value))
}

// ---------------------------------------------------------------------------------------------
// Lists, labels, environment.

fn to_list(
    value: Value,
    form: ListForm,
    path: &str,
    origin: Origin,
) -> Result<Vec<Value>, MergeError> {
    match (form, value) {
        (_, Value::Sequence(items)) if !matches!(form, ListForm::Hosts) => Ok(items),
        (ListForm::StringOrList, text @ Value::String(_)) => Ok(vec![text]),
        (ListForm::HealthTest, Value::String(text)) => {
            Ok(vec![Value::from("CMD-SHELL"), Value::String(text)])
        }
        (ListForm::Hosts, value) => hosts_list(value, path, origin),
        (ListForm::List, other) => Err(wrong_type(path, origin, "a list", &other)),
        (_, other) => Err(wrong_type(path, origin, "a string or a list", &other)),
    }
}

/// `transformHostsList`: `host:ip` strings from a mapping or a list of `host:ip`/`host=ip`.
fn hosts_list(value: Value, path: &str, origin: Origin) -> Result<Vec<Value>, MergeError> {
    let entries: Vec<String> = match value {
        Value::Mapping(hosts) => {
            let mut entries = Vec::new();
            for (host, ip) in &hosts {
                if ip.is_null() {
                    continue;
                }
                let ip = scalar_text(ip, &join(path, &key_text(host)), origin)?;
                entries.push(format!("{}:{ip}", key_text(host)));
            }
            entries.sort();
            entries
        }
        Value::Sequence(items) => {
            let mut entries = Vec::new();
            for (index, item) in items.iter().enumerate() {
                let entry = scalar_text(item, &format!("{path}[{index}]"), origin)?;
                if let Some((host, ip)) = entry.split_once('=').or_else(|| entry.split_once(':')) {
                    entries.push(format!("{host}:{ip}"));
                }
            }
            entries
        }
        other => {
            return Err(wrong_type(
                path,
                origin,
                "a mapping of hosts to IPs or a list of \"host:ip\"",
                &other,
            ));
        }
    };
    Ok(entries
        .into_iter()
        .map(|entry| {
            let (host, ip) = entry.split_once(':').unwrap_or((entry.as_str(), ""));
            let ip = if ip.len() > 2 && ip.starts_with('[') && ip.ends_with(']') {
                &ip[1..ip.len() - 1]
            } else {
                ip
            };
            Value::String(format!("{host}:{ip}"))
        })
        .collect())
}

/// `transformMappingOrList(…, "=", false)`: a mapping of strings.
fn labels_map(value: Value, path: &str, origin: Origin) -> Result<Mapping, MergeError> {
    let mut labels = Mapping::new();
    match value {
        Value::Mapping(entries) => {
            for (key, value) in entries {
                let key = key_text(&key);
                let text = match &value {
                    Value::Null => String::new(),
                    other => scalar_text(other, &join(path, &key), origin)?,
                };
                labels.insert(Value::String(key), Value::String(text));
            }
        }
        Value::Sequence(items) => {
            for (index, item) in items.iter().enumerate() {
                let entry = scalar_text(item, &format!("{path}[{index}]"), origin)?;
                let (key, text) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
                labels.insert(Value::from(key), Value::from(text));
            }
        }
        other => {
            return Err(wrong_type(
                path,
                origin,
                "a mapping or a list of \"key=value\" strings",
                &other,
            ));
        }
    }
    Ok(labels)
}

/// `transformMappingOrList(…, "=", true)`: a mapping of strings and nulls (unset).
fn environment_map(value: Value, path: &str, origin: Origin) -> Result<Mapping, MergeError> {
    let mut environment = Mapping::new();
    match value {
        Value::Mapping(entries) => {
            for (key, value) in entries {
                let key = key_text(&key);
                let value = match &value {
                    Value::Null => Value::Null,
                    other => Value::String(scalar_text(other, &join(path, &key), origin)?),
                };
                environment.insert(Value::String(key), value);
            }
        }
        Value::Sequence(items) => {
            for (index, item) in items.iter().enumerate() {
                let entry = scalar_text(item, &format!("{path}[{index}]"), origin)?;
                match entry.split_once('=') {
                    Some((key, value)) => environment.insert(Value::from(key), Value::from(value)),
                    None => environment.insert(Value::String(entry), Value::Null),
                };
            }
        }
        other => {
            return Err(wrong_type(
                path,
                origin,
                "a mapping or a list of \"NAME=value\" strings",
                &other,
            ));
        }
    }
    Ok(environment)
}

/// mergo on `map[string]*string`: the pointed-to string is replaced only by a non-empty one,
/// and the pointer only when the earlier one is nil or points to `""`.
fn merge_environment(old: Value, new: Value, path: &str) -> Result<Value, MergeError> {
    let mut environment = environment_map(old, path, Origin::Base)?;
    for (key, value) in environment_map(new, path, Origin::Override)? {
        match environment.get_mut(&key) {
            None => {
                environment.insert(key, value);
            }
            Some(existing) => {
                let set = |v: &Value| matches!(v, Value::String(text) if !text.is_empty());
                if set(&value) || !set(existing) {
                    *existing = value;
                }
            }
        }
    }
    Ok(Value::Mapping(environment))
}

// ---------------------------------------------------------------------------------------------
// The transformers of `mergeServices`.

/// `safelyMerge(mergeLoggingConfig)`.
fn merge_logging(old: Value, new: Value, path: &str) -> Result<Value, MergeError> {
    let mut out = struct_mapping(old, path, Origin::Base)?;
    let new = struct_mapping(new, path, Origin::Override)?;
    let driver = |logging: &Mapping| match logging.get("driver") {
        Some(Value::String(driver)) => driver.clone(),
        _ => String::new(),
    };
    let (old_driver, new_driver) = (driver(&out), driver(&new));
    if old_driver != new_driver && !old_driver.is_empty() && !new_driver.is_empty() {
        // Different drivers: the later logging whole.
        return Ok(Value::Mapping(new));
    }
    if old_driver.is_empty() && !new_driver.is_empty() {
        out.insert(Value::from("driver"), Value::String(new_driver));
    }
    let options_path = join(path, "options");
    // Merged into the existing map only: into a nil one they are lost, as in Docker.
    if let Some(options) = out.get_mut("options")
        && !options.is_null()
    {
        let mut merged = labels_map(std::mem::take(options), &options_path, Origin::Base)?;
        match new.get("options") {
            None | Some(Value::Null) => {}
            Some(more) => {
                for (key, value) in labels_map(more.clone(), &options_path, Origin::Override)? {
                    merged.insert(key, value);
                }
            }
        }
        *options = Value::Mapping(merged);
    }
    Ok(Value::Mapping(out))
}

/// `transformServiceNetworkMap`: a list of names is a mapping of them to null.
fn service_networks_map(value: Value, path: &str, origin: Origin) -> Result<Mapping, MergeError> {
    let networks = match value {
        Value::Sequence(names) => {
            let mut networks = Mapping::new();
            for name in names {
                networks.insert(name, Value::Null);
            }
            networks
        }
        Value::Mapping(networks) => networks,
        other => {
            return Err(wrong_type(
                path,
                origin,
                "a list of network names or a mapping of them",
                &other,
            ));
        }
    };
    for (name, config) in &networks {
        if !matches!(config, Value::Null | Value::Mapping(_)) {
            return Err(wrong_type(
                &join(path, &key_text(name)),
                origin,
                "a mapping (aliases, ipv4_address, …) or nothing",
                config,
            ));
        }
    }
    Ok(networks)
}

/// mergo on `map[string]*ServiceNetworkConfig` with `mergeServiceNetworkConfig`.
fn merge_service_networks(old: Value, new: Value, path: &str) -> Result<Value, MergeError> {
    let mut networks = service_networks_map(old, path, Origin::Base)?;
    for (name, config) in service_networks_map(new, path, Origin::Override)? {
        match networks.get_mut(&name) {
            None => {
                networks.insert(name, config);
            }
            Some(existing) if existing.is_null() => *existing = config,
            Some(Value::Mapping(existing)) => {
                if let Value::Mapping(config) = config {
                    match config.get("aliases") {
                        Some(aliases) if !aliases.is_null() => {
                            existing.insert(Value::from("aliases"), aliases.clone());
                        }
                        _ => {
                            existing.shift_remove("aliases");
                        }
                    }
                    for address in ["ipv4_address", "ipv6_address"] {
                        if let Some(Value::String(ip)) = config.get(address)
                            && !ip.is_empty()
                        {
                            existing.insert(Value::from(address), Value::String(ip.clone()));
                        }
                    }
                }
            }
            // Checked by `service_networks_map`.
            Some(_) => {}
        }
    }
    Ok(Value::Mapping(networks))
}

/// mergo on `map[string]*UlimitsConfig` with `mergeUlimitsConfig`: each limit whole.
fn merge_ulimits(old: Value, new: Value, path: &str) -> Result<Value, MergeError> {
    let mut ulimits = struct_mapping(old, path, Origin::Base)?;
    for (name, limit) in struct_mapping(new, path, Origin::Override)? {
        match ulimits.get_mut(&name) {
            None => {
                ulimits.insert(name, limit);
            }
            Some(existing) => {
                if !limit.is_null() {
                    *existing = limit;
                }
            }
        }
    }
    Ok(Value::Mapping(ulimits))
}

/// mergo (`WithOverride, WithAppendSlice`) on the untyped values of `Extras map[string]any`.
fn merge_any(old: Value, new: Value, path: &str) -> Result<Value, MergeError> {
    match (old, new) {
        (Value::Mapping(mut old), Value::Mapping(new)) if !old.is_empty() => {
            for (key, value) in new {
                let child = join(path, &key_text(&key));
                match old.get_mut(&key) {
                    None => {
                        old.insert(key, value);
                    }
                    Some(slot) => {
                        let previous = std::mem::take(slot);
                        *slot = merge_any(previous, value, &child)?;
                    }
                }
            }
            Ok(Value::Mapping(old))
        }
        (Value::Sequence(mut old), Value::Sequence(new)) => {
            old.extend(new);
            Ok(Value::Sequence(old))
        }
        (Value::Null, new) => Ok(new),
        (old, Value::Sequence(_)) => Err(invalid(
            path,
            Origin::Override,
            format!(
                "this list cannot be merged into {} of the earlier files: `docker stack deploy` \
                 appends lists in `x-` extensions and fails here (\"cannot append two slices \
                 with different type\")",
                describe(&old)
            ),
        )),
        (_, new) => Ok(new),
    }
}

// ---------------------------------------------------------------------------------------------
// Lists merged by a key: `mergeSlice`.

fn keyed(by: KeyedBy, old: Value, new: Value, path: &str) -> Result<Value, MergeError> {
    match by {
        KeyedBy::Published => Ok(by_key(
            port_items(old, path, Origin::Base)?,
            port_items(new, path, Origin::Override)?,
        )),
        KeyedBy::Target => Ok(by_key(
            volume_items(old, path, Origin::Base)?,
            volume_items(new, path, Origin::Override)?,
        )),
        KeyedBy::Source => Ok(by_key(
            source_items(old, path, Origin::Base)?,
            source_items(new, path, Origin::Override)?,
        )),
    }
}

/// `mergo.Map(&dstMap, srcMap, mergo.WithOverride)` of the two lists keyed, then sorted by key:
/// a later item replaces an earlier one with the same key, in the same list too.
fn by_key<K: Ord>(old: Vec<(K, Value)>, new: Vec<(K, Value)>) -> Value {
    let items: BTreeMap<K, Value> = old.into_iter().chain(new).collect();
    Value::Sequence(items.into_values().collect())
}

fn list_items(value: Value, path: &str, origin: Origin) -> Result<Vec<Value>, MergeError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Sequence(items) => Ok(items),
        other => Err(wrong_type(path, origin, "a list", &other)),
    }
}

/// `transformServicePort`, then `Published` as the key.
fn port_items(value: Value, path: &str, origin: Origin) -> Result<Vec<(u32, Value)>, MergeError> {
    let mut ports = Vec::new();
    for (index, item) in list_items(value, path, origin)?.into_iter().enumerate() {
        let item_path = format!("{path}[{index}]");
        let spec = match item {
            Value::Mapping(port) => {
                let published = match port.get("published") {
                    None | Some(Value::Null) => Some(0),
                    Some(Value::Number(number)) => {
                        number.as_u64().and_then(|n| u32::try_from(n).ok())
                    }
                    Some(Value::String(text)) => text.parse().ok(),
                    Some(_) => None,
                };
                let Some(published) = published else {
                    return Err(invalid(
                        &join(&item_path, "published"),
                        origin,
                        "expected a port number",
                    ));
                };
                ports.push((published, Value::Mapping(port)));
                continue;
            }
            Value::String(spec) => spec,
            Value::Number(number) if number.as_i64().is_some() || number.as_u64().is_some() => {
                key_text(&Value::Number(number))
            }
            other => {
                return Err(wrong_type(
                    &item_path,
                    origin,
                    "a port (\"8080:80\", 80 or a mapping with target and published)",
                    &other,
                ));
            }
        };
        let parsed = parse_short_port(&spec).map_err(|reason| {
            invalid(
                &item_path,
                origin,
                format!("{spec:?} is not a valid port: {reason}"),
            )
        })?;
        for port in parsed {
            let mut long = Mapping::new();
            long.insert(Value::from("mode"), Value::from("ingress"));
            long.insert(Value::from("target"), Value::from(port.target));
            if port.published != 0 {
                long.insert(Value::from("published"), Value::from(port.published));
            }
            long.insert(Value::from("protocol"), Value::String(port.protocol));
            ports.push((port.published, Value::Mapping(long)));
        }
    }
    Ok(ports)
}

/// `transformServiceVolumeConfig`, then `Target` as the key.
fn volume_items(
    value: Value,
    path: &str,
    origin: Origin,
) -> Result<Vec<(String, Value)>, MergeError> {
    let mut volumes = Vec::new();
    for (index, item) in list_items(value, path, origin)?.into_iter().enumerate() {
        let item_path = format!("{path}[{index}]");
        let target = match &item {
            Value::String(spec) => volume_target(spec).map_err(|reason| {
                invalid(
                    &item_path,
                    origin,
                    format!("{spec:?} is not a valid volume: {reason}"),
                )
            })?,
            Value::Mapping(volume) => match volume.get("target") {
                None | Some(Value::Null) => String::new(),
                Some(target) => scalar_text(target, &join(&item_path, "target"), origin)?,
            },
            other => {
                return Err(wrong_type(
                    &item_path,
                    origin,
                    "a volume (\"source:target\" or a mapping with type, source and target)",
                    other,
                ));
            }
        };
        volumes.push((target, item));
    }
    Ok(volumes)
}

/// `transformStringSourceMap`, then `Source` as the key.
fn source_items(
    value: Value,
    path: &str,
    origin: Origin,
) -> Result<Vec<(String, Value)>, MergeError> {
    let mut items = Vec::new();
    for (index, item) in list_items(value, path, origin)?.into_iter().enumerate() {
        let item_path = format!("{path}[{index}]");
        let source = match &item {
            Value::String(name) => name.clone(),
            Value::Mapping(reference) => match reference.get("source") {
                None | Some(Value::Null) => String::new(),
                Some(source) => scalar_text(source, &join(&item_path, "source"), origin)?,
            },
            other => {
                return Err(wrong_type(
                    &item_path,
                    origin,
                    "a name or a mapping with source and target",
                    other,
                ));
            }
        };
        items.push((source, item));
    }
    Ok(items)
}

/// One `ServicePortConfig` made from the short syntax.
struct ShortPort {
    target: u32,
    published: u32,
    protocol: String,
}

/// `toServicePortConfigs`: `nat.ParsePortSpecs` then `swarmopts.ConvertPortToPortConfig`,
/// with their error messages.
fn parse_short_port(raw: &str) -> Result<Vec<ShortPort>, String> {
    // nat.splitParts
    let parts: Vec<&str> = raw.split(':').collect();
    let (ip, host_port, container) = match parts.as_slice() {
        [] => (String::new(), "", ""),
        [container] => (String::new(), "", *container),
        [ip @ .., host, container] => (ip.join(":"), *host, *container),
    };
    // nat.SplitProtoPort, then the protocol is checked first.
    let (port, protocol) = container.split_once('/').unwrap_or((container, ""));
    let (protocol, container) = match (port, protocol) {
        ("", _) => (String::new(), ""),
        (port, "") => ("tcp".to_owned(), port),
        (port, protocol) => (protocol.to_lowercase(), port),
    };
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {protocol}"));
    }
    let ip = match ip.strip_prefix('[') {
        Some(bracketed) => match bracketed.strip_suffix(']') {
            Some(inner) => inner.to_owned(),
            None => return Err(format!("invalid IP address {ip}")),
        },
        None => ip,
    };
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    let (start, end) =
        port_range(container).ok_or_else(|| format!("invalid containerPort: {container}"))?;
    let (host_start, host_end) = if host_port.is_empty() {
        (0, 0)
    } else {
        port_range(host_port).ok_or_else(|| format!("invalid hostPort: {host_port}"))?
    };
    if !host_port.is_empty() && end - start != host_end - host_start && end != start {
        return Err(format!(
            "invalid ranges specified for container and host Ports: {container} and {host_port}"
        ));
    }
    let count = end - start + 1;
    // (the `nat.Port` key, the container port, the host port binding)
    let mut bindings: Vec<(String, u64, String)> = (0..count)
        .map(|i| {
            let host = if host_port.is_empty() {
                String::new()
            } else if count == 1 && host_start != host_end {
                format!("{host_start}-{host_end}")
            } else {
                (host_start + i).to_string()
            };
            (format!("{}/{protocol}", start + i), start + i, host)
        })
        .collect();
    // "We need to sort the key of the ports to make sure it is consistent": as strings.
    bindings.sort_by(|a, b| a.0.cmp(&b.0));
    let mut ports = Vec::new();
    for (_, target, host) in bindings {
        let (first, last) = if host.is_empty() {
            (0, 0)
        } else {
            port_range(&host)
                .ok_or_else(|| format!("invalid hostport binding ({host}) for port ({target})"))?
        };
        for published in first..=last {
            ports.push(ShortPort {
                target: u32::try_from(target).unwrap_or(u32::MAX),
                published: u32::try_from(published).unwrap_or(u32::MAX),
                protocol: protocol.clone(),
            });
        }
    }
    Ok(ports)
}

/// `nat.ParsePortRange`: `80` or `8000-8010`, 16-bit decimal numbers.
fn port_range(ports: &str) -> Option<(u64, u64)> {
    let number = |text: &str| {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse::<u16>().ok().map(u64::from)
    };
    if !ports.contains('-') {
        let port = number(ports)?;
        return Some((port, port));
    }
    let mut parts = ports.split('-');
    let start = number(parts.next()?)?;
    let end = number(parts.next()?)?;
    (end >= start).then_some((start, end))
}

/// The target of a short volume (`volumespec.Parse`), with its error messages.
fn volume_target(spec: &str) -> Result<String, String> {
    match spec.len() {
        0 => return Err("invalid empty volume spec".to_owned()),
        1 | 2 => return Ok(spec.to_owned()),
        _ => {}
    }
    let mut buffer: Vec<char> = Vec::new();
    let (mut source, mut target) = (String::new(), String::new());
    for char in spec.chars().map(Some).chain([None]) {
        let windows_drive = char == Some(':')
            && buffer.len() == 1
            && buffer.first().is_some_and(|c| c.is_alphabetic());
        if windows_drive {
            buffer.push(':');
        } else if char.is_none() || char == Some(':') {
            let section: String = buffer.drain(..).collect();
            if section.is_empty() {
                return Err(format!(
                    "invalid spec: {spec}: empty section between colons"
                ));
            } else if source.is_empty() && char.is_none() {
                target = section;
            } else if source.is_empty() {
                source = section;
            } else if target.is_empty() {
                target = section;
            } else if char.is_some() {
                return Err(format!("invalid spec: {spec}: too many colons"));
            }
            // Otherwise the mode (`ro`, `nocopy`, …), which is not part of the key.
        } else if let Some(char) = char {
            buffer.push(char);
        }
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).expect("test YAML parses")
    }

    fn merged(base: &str, overrides: &str) -> Value {
        merge(yaml(base), yaml(overrides)).expect("the files merge")
    }

    fn service(document: &Value, name: &str) -> Value {
        document["services"][name].clone()
    }

    fn assert_service(base: &str, overrides: &str, expected: &str) {
        let document = merged(base, overrides);
        assert_eq!(service(&document, "foo"), yaml(expected), "{document:?}");
    }

    // A later image replaces the earlier one; other fields stay.
    #[test]
    fn image_is_overridden() {
        assert_service(
            "services: {foo: {image: app:1, user: web}}",
            "services: {foo: {image: app:2}}",
            "{image: app:2, user: web}",
        );
    }

    // A service only in the later file is added as it is.
    #[test]
    fn service_is_added() {
        let document = merged(
            "services: {foo: {image: a}}",
            "services: {bar: {image: b, ports: ['80']}}",
        );
        assert_eq!(service(&document, "foo"), yaml("{image: a}"));
        assert_eq!(service(&document, "bar"), yaml("{image: b, ports: ['80']}"));
    }

    // An environment list and an environment map merge by name; empty or unset values do not
    // clear earlier ones.
    #[test]
    fn environment_map_and_list_merge() {
        assert_service(
            "services: {foo: {environment: [A=1, B=2, C=3, D, E=]}}",
            "services: {foo: {environment: {B: two, C: '', D: 4, E: null, F: 6}}}",
            "{environment: {A: '1', B: two, C: '3', D: '4', E: null, F: '6'}}",
        );
    }

    // Labels merge by key from a list and a map, the later value winning even when empty.
    #[test]
    fn labels_merge() {
        assert_service(
            "services: {foo: {labels: [a=1, b=2, c], deploy: {labels: {x: '1'}}}}",
            "services: {foo: {labels: {b: three, c: x, d: ''}, deploy: {labels: [y=2]}}}",
            "{labels: {a: '1', b: three, c: x, d: ''}, deploy: {labels: {x: '1', y: '2'}}}",
        );
    }

    // Ports merge by their published port, short and long syntax alike, and are sorted by it.
    #[test]
    fn ports_merge_by_published_port() {
        assert_service(
            "services: {foo: {ports: ['9090:90', '8080:80', {target: 443, published: 8443}]}}",
            "services: {foo: {ports: [{target: 81, published: 8080}, '127.0.0.1:7070:70/UDP']}}",
            "{ports: [
                {mode: ingress, target: 70, published: 7070, protocol: udp},
                {target: 81, published: 8080},
                {target: 443, published: 8443},
                {mode: ingress, target: 90, published: 9090, protocol: tcp}]}",
        );
    }

    // Docker keys ports by the published port alone: tcp and udp on one port collapse, and so
    // do all unpublished ports, and a host range gives one port per host port.
    #[test]
    fn ports_key_is_the_published_port_only() {
        assert_service(
            "services: {foo: {ports: ['53:53/tcp', '80', '81']}}",
            "services: {foo: {ports: ['53:53/udp', '8000-8001:90']}}",
            "{ports: [
                {mode: ingress, target: 81, protocol: tcp},
                {mode: ingress, target: 53, published: 53, protocol: udp},
                {mode: ingress, target: 90, published: 8000, protocol: tcp},
                {mode: ingress, target: 90, published: 8001, protocol: tcp}]}",
        );
    }

    // Volumes merge by their target, short syntax parsed for it and kept as written.
    #[test]
    fn volumes_merge_by_target() {
        assert_service(
            "services: {foo: {volumes: ['data:/var/lib/data', '/etc/app:/etc/app:ro', /cache]}}",
            "services: {foo: {volumes: [{type: bind, source: ./conf, target: /etc/app}, 'C:\\logs:/logs']}}",
            "{volumes: [
                /cache,
                {type: bind, source: ./conf, target: /etc/app},
                'C:\\logs:/logs',
                'data:/var/lib/data']}",
        );
    }

    // Secrets merge by their source, short and long syntax alike; configs likewise.
    #[test]
    fn secrets_merge_by_source() {
        assert_service(
            "services: {foo: {secrets: [db, {source: tls, target: cert.pem}], configs: [a]}}",
            "services: {foo: {secrets: [{source: tls, target: tls.pem}, api], configs: [{source: a, mode: 0400}]}}",
            "{secrets: [api, db, {source: tls, target: tls.pem}], configs: [{source: a, mode: 0400}]}",
        );
    }

    // A later command replaces the earlier one whole (never appended), but an empty one does not.
    #[test]
    fn command_is_replaced_whole() {
        assert_service(
            "services: {foo: {command: [run, --fast], entrypoint: /init}}",
            "services: {foo: {command: serve --port 80, entrypoint: []}}",
            "{command: serve --port 80, entrypoint: /init}",
        );
    }

    // deploy.replicas is replaced, by 0 too (TestMergeServiceOverrideReplicasZero), and kept
    // when the later file leaves it out (TestMergeServiceOverrideReplicasNotNil).
    #[test]
    fn deploy_replicas_are_overridden() {
        assert_service(
            "services: {foo: {deploy: {replicas: 3, mode: replicated}}}",
            "services: {foo: {deploy: {replicas: 0}}}",
            "{deploy: {replicas: 0, mode: replicated}}",
        );
        assert_service(
            "services: {foo: {deploy: {replicas: 3}}}",
            "services: {foo: {deploy: {}}}",
            "{deploy: {replicas: 3}}",
        );
    }

    // deploy.resources merges field by field, limits and reservations alike.
    #[test]
    fn deploy_resources_merge() {
        assert_service(
            "services: {foo: {deploy: {resources: {limits: {cpus: '0.5', memory: 512M}, reservations: {memory: 128M}}}}}",
            "services: {foo: {deploy: {resources: {limits: {memory: 1G, pids: 100}, reservations: {cpus: '0.25'}}}}}",
            "{deploy: {resources: {limits: {cpus: '0.5', memory: 1G, pids: 100}, reservations: {memory: 128M, cpus: '0.25'}}}}",
        );
    }

    // Top-level networks merge by name, a later definition replacing the earlier one whole
    // (TestLoadMultipleNetworks, issue #972).
    #[test]
    fn top_level_networks_merge_by_name() {
        let document = merged(
            "
version: '3.4'
services: {foo: {image: baz}}
networks:
  hostnet:
    driver: overlay
    ipam: {driver: default, config: [{subnet: 10.0.0.0/20}]}
  backend: {driver: overlay}
",
            "
version: '3.4'
services: {}
networks:
  hostnet: {external: {name: host}}
  frontend: {}
",
        );
        assert_eq!(
            document["networks"],
            yaml("{hostnet: {external: {name: host}}, backend: {driver: overlay}, frontend: {}}")
        );
        assert_eq!(service(&document, "foo"), yaml("{image: baz}"));
    }

    // Three files merge in order, each later one into the result of the earlier ones.
    #[test]
    fn three_files_merge_in_order() {
        let document = merge_all(vec![
            yaml("services: {foo: {image: a:1, environment: [A=1], cap_add: [X]}}"),
            yaml(
                "services: {foo: {image: a:2, environment: [B=2], cap_add: [Y]}, bar: {image: b}}",
            ),
            yaml("services: {foo: {image: a:3, environment: {A: three}}, bar: {image: b:2}}"),
        ])
        .expect("the files merge");
        assert_eq!(
            service(&document, "foo"),
            yaml("{image: a:3, environment: {A: three, B: '2'}, cap_add: [X, Y]}")
        );
        assert_eq!(service(&document, "bar"), yaml("{image: b:2}"));
    }

    // merge_test.go TestLoadMultipleConfigs: image, build, ports, labels, cap_add and a new
    // service together.
    #[test]
    fn docker_load_multiple_configs() {
        let document = merged(
            "
version: '3.4'
services:
  foo:
    image: foo
    build: {context: ., dockerfile: bar.Dockerfile}
    ports: ['8080:80', '9090:90']
    labels: [foo=bar]
    cap_add: [NET_ADMIN]
volumes: {}
networks: {}
secrets: {}
configs: {}
",
            "
version: '3.4'
services:
  foo:
    image: baz
    build: {dockerfile: foo.Dockerfile, args: [buildno=1, password=secret]}
    ports: [{target: 81, published: 8080}]
    labels: {foo: baz}
    cap_add: [SYS_ADMIN]
  bar:
    image: bar
volumes: {}
networks: {}
secrets: {}
configs: {}
",
        );
        assert_eq!(
            document,
            yaml(
                "
version: '3.4'
services:
  foo:
    image: baz
    build: {context: ., dockerfile: foo.Dockerfile, args: [buildno=1, password=secret]}
    ports:
      - {target: 81, published: 8080}
      - {mode: ingress, target: 90, published: 9090, protocol: tcp}
    labels: {foo: baz}
    cap_add: [NET_ADMIN, SYS_ADMIN]
  bar:
    image: bar
volumes: {}
networks: {}
secrets: {}
configs: {}
"
            )
        );
    }

    // merge_test.go TestLoadMultipleServicePorts: no_override, override_different_published,
    // override_same_published.
    #[test]
    fn docker_load_multiple_service_ports() {
        let port = |published: u32, target: u32| {
            format!("{{mode: ingress, target: {target}, published: {published}, protocol: tcp}}")
        };
        let cases = [
            ("{ports: ['8080:80']}", "{}", vec![port(8080, 80)]),
            (
                "{ports: ['8080:80']}",
                "{ports: ['8081:80']}",
                vec![port(8080, 80), port(8081, 80)],
            ),
            (
                "{ports: ['8080:80']}",
                "{ports: ['8080:81']}",
                vec![port(8080, 81)],
            ),
        ];
        for (base, overrides, expected) in cases {
            assert_service(
                &format!("services: {{foo: {base}}}"),
                &format!("services: {{foo: {overrides}}}"),
                &format!("{{ports: [{}]}}", expected.join(", ")),
            );
        }
    }

    // merge_test.go TestLoadMultipleSecretsConfig and TestLoadMultipleConfigobjsConfig:
    // no_override, override_simple, override_same_source.
    #[test]
    fn docker_load_multiple_secrets_and_configs() {
        for field in ["secrets", "configs"] {
            let cases = [
                ("[my_x]", "null", "[my_x]"),
                ("[foo_x]", "[bar_x]", "[bar_x, foo_x]"),
                (
                    "[foo_x, {source: bar_x, target: waw_x}]",
                    "[{source: bar_x, target: bof_x}, {source: baz_x, target: waw_x}]",
                    "[{source: bar_x, target: bof_x}, {source: baz_x, target: waw_x}, foo_x]",
                ),
            ];
            for (base, overrides, expected) in cases {
                assert_service(
                    &format!("services: {{foo: {{{field}: {base}}}}}"),
                    &format!("services: {{foo: {{{field}: {overrides}}}}}"),
                    &format!("{{{field}: {expected}}}"),
                );
            }
        }
    }

    // merge_test.go TestLoadLogging: the six cases, and the options lost when the earlier
    // logging has none (the nil map of mergeLoggingConfig).
    #[test]
    fn docker_load_logging() {
        let cases = [
            (
                "{driver: json-file, options: {frequency: '2000', timeout: '23'}}",
                "{options: {timeout: '360', pretty-print: 'on'}}",
                "{driver: json-file, options: {frequency: '2000', timeout: '360', pretty-print: 'on'}}",
            ),
            (
                "{driver: json-file, options: {frequency: '2000', timeout: '23'}}",
                "{driver: syslog, options: {timeout: '360', pretty-print: 'on'}}",
                "{driver: syslog, options: {timeout: '360', pretty-print: 'on'}}",
            ),
            (
                "{options: {frequency: '2000', timeout: '23'}}",
                "{driver: json-file, options: {timeout: '360', pretty-print: 'on'}}",
                "{driver: json-file, options: {frequency: '2000', timeout: '360', pretty-print: 'on'}}",
            ),
            (
                "{options: {frequency: '2000', timeout: '23'}}",
                "{options: {timeout: '360', pretty-print: 'on'}}",
                "{options: {frequency: '2000', timeout: '360', pretty-print: 'on'}}",
            ),
            (
                "{driver: json-file, options: {frequency: '2000', timeout: '23'}}",
                "{driver: syslog}",
                "{driver: syslog}",
            ),
            (
                "null",
                "{driver: json-file, options: {frequency: '2000'}}",
                "{driver: json-file, options: {frequency: '2000'}}",
            ),
            (
                "{driver: json-file}",
                "{options: {max-size: 10m}}",
                "{driver: json-file}",
            ),
        ];
        for (base, overrides, expected) in cases {
            assert_service(
                &format!("services: {{foo: {{logging: {base}}}}}"),
                &format!("services: {{foo: {{logging: {overrides}}}}}"),
                &format!("{{logging: {expected}}}"),
            );
        }
    }

    // merge_test.go TestLoadMultipleUlimits (override_different_notation) and
    // TestMergeUlimitsConfig: each limit replaced whole, whatever its notation.
    #[test]
    fn docker_multiple_ulimits() {
        assert_service(
            "services: {foo: {ulimits: {nofile: {soft: 11111, hard: 99999}, noproc: 44444}}}",
            "services: {foo: {ulimits: {nofile: 55555, noproc: {soft: 22222, hard: 33333}}}}",
            "{ulimits: {nofile: 55555, noproc: {soft: 22222, hard: 33333}}}",
        );
        assert_service(
            "services: {foo: {ulimits: {
                override-single: 100, override-single-with-soft-hard: 200,
                override-soft-hard: {soft: 300, hard: 301},
                override-soft-hard-with-single: {soft: 400, hard: 401}, dont-override: 500}}}",
            "services: {foo: {ulimits: {
                override-single: 110, override-single-with-soft-hard: {soft: 210, hard: 211},
                override-soft-hard: {soft: 310, hard: 311}, override-soft-hard-with-single: 410,
                add: 610}}}",
            "{ulimits: {
                override-single: 110, override-single-with-soft-hard: {soft: 210, hard: 211},
                override-soft-hard: {soft: 310, hard: 311}, override-soft-hard-with-single: 410,
                dont-override: 500, add: 610}}",
        );
    }

    // merge_test.go TestLoadMultipleServiceNetworks (no_override, override_simple,
    // override_with_aliases) and TestMergeServiceNetworkConfig.
    #[test]
    fn docker_multiple_service_networks() {
        assert_service(
            "services: {foo: {networks: [net1, net2]}}",
            "services: {foo: {}}",
            "{networks: [net1, net2]}",
        );
        assert_service(
            "services: {foo: {networks: [net1, net2]}}",
            "services: {foo: {networks: [net1, net3]}}",
            "{networks: {net1: null, net2: null, net3: null}}",
        );
        assert_service(
            "services: {foo: {networks: {net1: {aliases: [alias1]}, net2: null}}}",
            "services: {foo: {networks: {net1: {aliases: [alias2, alias3]}, net3: {}}}}",
            "{networks: {net1: {aliases: [alias2, alias3]}, net2: null, net3: {}}}",
        );
        assert_service(
            "services: {foo: {networks: {
                override-aliases: {aliases: ['100', '101'], ipv4_address: 127.0.0.1, ipv6_address: '0:0:0:0:0:0:0:1'},
                dont-override: {aliases: ['200', '201'], ipv4_address: 127.0.0.2, ipv6_address: '0:0:0:0:0:0:0:2'}}}}",
            "services: {foo: {networks: {
                override-aliases: {aliases: ['110', '111'], ipv4_address: 127.0.1.1, ipv6_address: '0:0:0:0:0:0:1:1'},
                add: {aliases: ['310', '311'], ipv4_address: 127.0.3.1, ipv6_address: '0:0:0:0:0:0:3:1'}}}}",
            "{networks: {
                override-aliases: {aliases: ['110', '111'], ipv4_address: 127.0.1.1, ipv6_address: '0:0:0:0:0:0:1:1'},
                dont-override: {aliases: ['200', '201'], ipv4_address: 127.0.0.2, ipv6_address: '0:0:0:0:0:0:0:2'},
                add: {aliases: ['310', '311'], ipv4_address: 127.0.3.1, ipv6_address: '0:0:0:0:0:0:3:1'}}}",
        );
    }

    // merge_test.go TestLoadMultipleServiceCommands: a string command replaced by another.
    #[test]
    fn docker_multiple_service_commands() {
        assert_service(
            "version: '3.7'\nservices: {foo: {image: baz, command: foo bar}}",
            "version: '3.7'\nservices: {foo: {image: baz, command: foo baz}}",
            "{image: baz, command: foo baz}",
        );
    }

    // merge_test.go TestLoadMultipleServiceVolumes: a volume replaced by one with the same
    // target; the top-level volume stays.
    #[test]
    fn docker_multiple_service_volumes() {
        let document = merged(
            "
version: '3.7'
services: {foo: {image: baz, volumes: [{type: volume, source: sourceVolume, target: /var/app}]}}
volumes: {sourceVolume: {}}
",
            "
version: '3.7'
services: {foo: {image: baz, volumes: [{type: volume, source: /local, target: /var/app}]}}
volumes: {}
",
        );
        assert_eq!(
            service(&document, "foo"),
            yaml("{image: baz, volumes: [{type: volume, source: /local, target: /var/app}]}")
        );
        assert_eq!(document["volumes"], yaml("{sourceVolume: {}}"));
    }

    // merge_test.go TestLoadTwoDifferentVersion: different versions are refused, a missing one
    // counts as 3.13, and equal ones are fine.
    #[test]
    fn docker_two_different_versions() {
        let error = merge(yaml("version: '3.1'"), yaml("version: '3.4'")).expect_err("refused");
        assert_eq!(
            error,
            MergeError::VersionMismatch {
                first: "3.1".into(),
                first_origin: Origin::Base,
                other: "3.4".into(),
                origin: Origin::Override,
            }
        );
        assert!(
            error
                .to_string()
                .contains("version mismatched between two composefiles")
        );
        assert!(merge(yaml("services: {}"), yaml("version: '3'")).is_ok());
        assert!(merge(yaml("version: 3.10"), yaml("version: '3.1'")).is_ok());
        let error =
            merge_all(vec![yaml("{}"), yaml("{}"), yaml("version: '3.8'")]).expect_err("refused");
        assert!(
            error
                .to_string()
                .contains("3.13 in file 1 and 3.8 in file 3"),
            "{error}"
        );
    }

    // Zero values cannot reset earlier ones, as with mergo: false, "", 0s; lists append.
    #[test]
    fn zero_values_do_not_override() {
        assert_service(
            "services: {foo: {read_only: true, init: true, user: web, stop_grace_period: 30s, dns: 1.1.1.1, healthcheck: {test: [CMD, a], retries: 3}}}",
            "services: {foo: {read_only: false, init: false, user: '', stop_grace_period: 0s, dns: [8.8.8.8], healthcheck: {test: b, retries: 0}}}",
            "{read_only: true, init: true, user: web, stop_grace_period: 30s, dns: [1.1.1.1, 8.8.8.8], healthcheck: {test: [CMD, a, CMD-SHELL, b], retries: 0}}",
        );
    }

    // extra_hosts from a map and a list become one appended list of host:ip.
    #[test]
    fn extra_hosts_are_appended() {
        assert_service(
            "services: {foo: {extra_hosts: {db: 10.0.0.2, api: 10.0.0.1}}}",
            "services: {foo: {extra_hosts: ['cache=10.0.0.3', 'v6:[::1]']}}",
            "{extra_hosts: ['api:10.0.0.1', 'db:10.0.0.2', 'cache:10.0.0.3', 'v6:::1']}",
        );
    }

    // x- extensions merge as untyped values: maps by key, lists appended, scalars replaced;
    // those at the top level of a later file are dropped.
    #[test]
    fn extensions_merge_like_mergo() {
        let document = merged(
            "x-top: 1\nservices: {foo: {x-meta: {a: 1, list: [1], keep: k}}}",
            "x-top: 2\nx-new: 3\nservices: {foo: {x-meta: {a: 2, list: [2], b: null}}}",
        );
        assert_eq!(document["x-top"], yaml("1"));
        assert!(document.get("x-new").is_none());
        assert_eq!(
            service(&document, "foo"),
            yaml("{x-meta: {a: 2, list: [1, 2], keep: k, b: null}}")
        );
    }

    // A service that is a mapping in one file and a string in the other is an error naming
    // the path and the file.
    #[test]
    fn service_of_another_shape_is_an_error() {
        let error = merge_all(vec![
            yaml("services: {api: {image: a}}"),
            yaml("services: {web: {image: w}}"),
            yaml("services: {api: nginx}"),
        ])
        .expect_err("refused");
        assert_eq!(
            error.to_string(),
            "services.api: expected a mapping (the service's settings), found a string (in file 3)"
        );
        let error = merge(
            yaml("services: {api: {environment: FOO}}"),
            yaml("services: {api: {environment: [BAR=1]}}"),
        )
        .expect_err("refused");
        assert_eq!(
            error.to_string(),
            "services.api.environment: expected a mapping or a list of \"NAME=value\" strings, \
             found a string (in the base file)"
        );
    }

    // A port Docker cannot parse is an error naming the item and Docker's reason.
    #[test]
    fn invalid_port_is_an_error() {
        let error = merge(
            yaml("services: {api: {ports: ['80:80']}}"),
            yaml("services: {api: {ports: ['80:80/icmp']}}"),
        )
        .expect_err("refused");
        assert_eq!(
            error.to_string(),
            "services.api.ports[0]: \"80:80/icmp\" is not a valid port: invalid proto: icmp \
             (in the override file)"
        );
        assert_eq!(merge_all(Vec::new()), Err(MergeError::NoFiles));
    }

    // The short port syntax parses as nat.ParsePortSpec does.
    #[test]
    fn short_ports_parse_like_docker() {
        let parse = |spec: &str| {
            parse_short_port(spec).map(|ports| {
                ports
                    .into_iter()
                    .map(|p| (p.target, p.published, p.protocol))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(parse("80"), Ok(vec![(80, 0, "tcp".into())]));
        assert_eq!(parse("[::1]:53:53/udp"), Ok(vec![(53, 53, "udp".into())]));
        assert_eq!(
            parse("8000-8001:80-81"),
            Ok(vec![(80, 8000, "tcp".into()), (81, 8001, "tcp".into())])
        );
        assert_eq!(
            parse("9-10"),
            Ok(vec![(10, 0, "tcp".into()), (9, 0, "tcp".into())])
        );
        assert_eq!(
            parse("1.2.3:80:80"),
            Err("invalid IP address: 1.2.3".into())
        );
        assert_eq!(parse("80-79"), Err("invalid containerPort: 80-79".into()));
        assert_eq!(
            parse("8000-8002:80-81"),
            Err(
                "invalid ranges specified for container and host Ports: 80-81 and 8000-8002".into()
            )
        );
        assert_eq!(
            volume_target("data:/b:ro:x"),
            Err("invalid spec: data:/b:ro:x: too many colons".into())
        );
        // A one-letter source is a Windows drive, as in volumespec.Parse.
        assert_eq!(volume_target("a:b:ro:x"), Ok("ro".into()));
        assert_eq!(volume_target("/x"), Ok("/x".into()));
        assert_eq!(go_float(3.1), "3.1");
        assert_eq!(go_float(1_000_000.0), "1e+06");
        assert_eq!(go_float(0.00001), "1e-05");
    }
}

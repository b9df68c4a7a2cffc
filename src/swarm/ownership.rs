//! Ownership labels: every network, secret, config, hosted registry service and stack service
//! swarmform creates says whose it is (`swarmform.lineage`, the state's lineage) and what it is
//! (`swarmform.address`, its resource address). A refresh lists them, so an object created by a
//! run killed before it recorded it is adopted, and a version left behind by a change killed
//! half-way, or an object of a resource since removed from the config, is removed by the plan.
//! Objects of another lineage are never touched.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::refresh::Refreshed;
use super::{Context, StepError, docker};
use crate::address::{Address, Kind};
use crate::resource::Resource;
use crate::ssh::{RemoteCommand, Script};
use crate::state::ResourceState;

/// The ownership labels (defined with the state, whose lineage they carry; nodes use them too).
pub use crate::state::{ADDRESS_LABEL, LABEL_PREFIX as RESERVED_PREFIX, LINEAGE_LABEL};

/// `swarmform.address=ADDRESS` and `swarmform.lineage=LINEAGE`, as `KEY=VALUE` words for
/// `--label`.
pub(super) fn label_words(context: &Context, address: &Address) -> Vec<String> {
    labels(context, address)
        .into_iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect()
}

/// `swarmform.address` and `swarmform.lineage` for what `address` names, as key and value.
pub(super) fn labels(context: &Context, address: &Address) -> [(String, String); 2] {
    ownership_labels(&lineage(context), address)
}

/// The lineage of the state this run records into.
pub(super) fn lineage(context: &Context) -> String {
    context
        .state
        .lock()
        .map(|state| state.lineage.clone())
        .unwrap_or_default()
}

fn ownership_labels(lineage: &str, address: &Address) -> [(String, String); 2] {
    [
        (ADDRESS_LABEL.to_owned(), address.to_string()),
        (LINEAGE_LABEL.to_owned(), lineage.to_owned()),
    ]
}

/// The compose file `docker stack deploy` is given: the config's, with the ownership labels
/// added to every service's `deploy.labels` (a mapping or a list, both kept in their form),
/// written in block style with every string quoted ([`crate::yaml`]).
/// Only what is sent changes: the desired attributes and the compose hash stay as they are.
pub fn label_compose(compose: &[u8], address: &Address, lineage: &str) -> Result<Vec<u8>, String> {
    let mut document: serde_norway::Value =
        serde_norway::from_slice(compose).map_err(|error| error.to_string())?;
    // Anchors and `<<` merges are resolved first, so the file written back means the same.
    document.apply_merge().map_err(|error| error.to_string())?;
    let labels = ownership_labels(lineage, address);
    let Some(services) = document
        .get_mut("services")
        .and_then(serde_norway::Value::as_mapping_mut)
    else {
        return Ok(compose.to_vec());
    };
    for (_, service) in services.iter_mut() {
        let Some(service) = service.as_mapping_mut() else {
            continue;
        };
        let deploy = service
            .entry(serde_norway::Value::from("deploy"))
            .or_insert(serde_norway::Value::Null);
        if deploy.is_null() {
            *deploy = serde_norway::Value::Mapping(serde_norway::Mapping::new());
        }
        let Some(deploy) = deploy.as_mapping_mut() else {
            continue;
        };
        let existing = deploy
            .entry(serde_norway::Value::from("labels"))
            .or_insert(serde_norway::Value::Null);
        if existing.is_null() {
            *existing = serde_norway::Value::Mapping(serde_norway::Mapping::new());
        }
        match existing {
            serde_norway::Value::Mapping(mapping) => {
                for (key, value) in &labels {
                    mapping.insert(
                        serde_norway::Value::from(key.clone()),
                        serde_norway::Value::from(value.clone()),
                    );
                }
            }
            serde_norway::Value::Sequence(items) => {
                items.retain(|item| {
                    !item.as_str().is_some_and(|text| {
                        labels
                            .iter()
                            .any(|(key, _)| text == key || text.starts_with(&format!("{key}=")))
                    })
                });
                for (key, value) in &labels {
                    items.push(serde_norway::Value::from(format!("{key}={value}")));
                }
            }
            _ => {}
        }
    }
    // Every string double-quoted: Docker 20.10's YAML 1.1 reader would take a plain `yes`,
    // `on`, `1_000` or `60:30` for a boolean or a (base 60) number.
    Ok(crate::yaml::to_string(&document).into_bytes())
}

/// The secrets and configs a hosted registry's service mounts, by the names their content
/// gives them: `(object, name, content, target)`.
pub(super) fn registry_objects(
    resource: &Resource,
    name: &str,
) -> Vec<(&'static str, String, Vec<u8>, &'static str)> {
    let config = resource
        .payload("config")
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    let mut objects = vec![(
        "config",
        format!("{name}-config-{}", &crate::hash::sha256_hex(&config)[..8]),
        config,
        "/etc/docker/registry/config.yml",
    )];
    for (attribute_name, target) in [
        ("tls_cert", "registry_tls_cert"),
        ("tls_key", "registry_tls_key"),
        ("htpasswd", "registry_htpasswd"),
    ] {
        if let Some(content) = resource.payload(attribute_name) {
            objects.push((
                "secret",
                format!("{name}-{target}-{}", &crate::hash::sha256_hex(content)[..8]),
                content.to_vec(),
                target,
            ));
        }
    }
    objects
}

/// One network, secret or config as `docker KIND ls --format '{{json .}}'` lists it, with the
/// ownership labels it carries.
#[derive(Debug, Clone)]
pub(super) struct Listed {
    pub name: String,
    pub id: String,
    pub address: Option<String>,
    pub lineage: Option<String>,
}

/// Every object of one kind, from one `docker KIND ls`. Its `Labels` column is Docker's
/// `KEY=VALUE,KEY=VALUE`; our keys are reserved (no user label starts with `swarmform.`) and
/// our values hold no comma, so they are read from it without an `inspect`.
/// `docker OBJECT ls` with every field as JSON, as [`list`] and the refresh's read ahead send
/// it. `docker network ls` cuts ids to 12 characters unless told not to (secrets and configs
/// list theirs whole, and have no such flag).
pub(super) fn list_command(object: &str) -> RemoteCommand {
    let command = docker(&[object, "ls", "--format", "{{json .}}"]);
    if object == "network" {
        command.arg("--no-trunc")
    } else {
        command
    }
}

pub(super) async fn list(
    context: &Context,
    anchor: &str,
    object: &str,
) -> Result<Vec<Listed>, StepError> {
    let script = Script::new(list_command(object));
    let output = context.check(anchor, &script, None).await?;
    Ok(super::json_lines(&output.stdout_text())
        .iter()
        .filter_map(|value| {
            let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
            let labels = text("Labels").unwrap_or_default();
            let ours = |key: &str| {
                labels
                    .split(',')
                    .find_map(|entry| entry.strip_prefix(&format!("{key}=")))
                    .map(str::to_owned)
            };
            Some(Listed {
                name: text("Name")?,
                id: text("ID").unwrap_or_default(),
                address: ours(ADDRESS_LABEL),
                lineage: ours(LINEAGE_LABEL),
            })
        })
        .collect())
}

/// Who uses an object, from the live services' specs.
#[derive(Debug, Default)]
struct Users {
    /// The addresses of our resources whose services use it (a stack, a registry).
    ours: BTreeSet<Address>,
    /// Services that are not ours.
    others: BTreeSet<String>,
}

/// Compares what the cluster holds of ours (this lineage) with the state: adopts objects
/// created but never recorded, and reports versions nothing records and services made before
/// the labels, for the planner.
pub(super) fn reconcile(
    context: &Context,
    refreshed: &mut Refreshed,
    listed: &[(Kind, &str, Vec<Listed>)],
    services: &[Value],
) {
    let lineage = refreshed.state.lineage.clone();
    let users = users(context, refreshed, services, listed);
    for (kind, object, objects) in listed {
        for live in objects {
            if live.lineage.as_deref() != Some(lineage.as_str()) {
                continue;
            }
            let Some(address) = live
                .address
                .as_deref()
                .and_then(|text| text.parse::<Address>().ok())
            else {
                continue;
            };
            let wanted = context.desired.resource(&address);
            if address.kind == Kind::Registry {
                // A hosted registry's own secrets and configs: wanted while its content names
                // them, or while a service mounts them.
                let wanted_names: BTreeSet<String> = wanted
                    .map(|resource| {
                        let name = resource
                            .docker_name
                            .clone()
                            .unwrap_or_else(|| address.name.clone());
                        registry_objects(resource, &name)
                            .into_iter()
                            .map(|(_, name, _, _)| name)
                            .collect()
                    })
                    .unwrap_or_default();
                if !wanted_names.contains(&live.name) {
                    stray(refreshed, &users, &address, object, live);
                }
                continue;
            }
            if address.kind != *kind {
                continue;
            }
            let recorded = refreshed.state.resource(&address).cloned();
            if recorded.as_ref().is_some_and(|recorded| {
                !recorded.pending && recorded.docker_name.as_deref() == Some(live.name.as_str())
            }) {
                continue;
            }
            if let Some(resource) = wanted
                && resource.docker_name.as_deref() == Some(live.name.as_str())
            {
                if recorded.as_ref().is_none_or(|recorded| recorded.pending) {
                    refreshed.state.upsert(ResourceState::from_resource(
                        resource,
                        Some(live.id.clone()),
                    ));
                    refreshed.drift.push(format!(
                        "`{address}`: {object} {} exists on the cluster but was never recorded (an apply was interrupted after creating it); adopted",
                        live.name
                    ));
                }
                // Recorded with another name: the planned replacement adopts it.
                continue;
            }
            stray(refreshed, &users, &address, object, live);
        }
    }
    // Hosted registry services made before the labels: labelled in place by the next apply.
    for service in services {
        let spec = &service["Spec"];
        let Some(name) = spec["Name"].as_str() else {
            continue;
        };
        if spec["Labels"][LINEAGE_LABEL].is_string() {
            continue;
        }
        let registry = refreshed.state.resources.iter().find(|resource| {
            resource.address.kind == Kind::Registry
                && !resource.pending
                && resource.attributes.contains_key("node")
                && resource.live_name() == name
        });
        if let Some(registry) = registry {
            refreshed.unlabelled.push(Unlabelled {
                address: registry.address.clone(),
                name: name.to_owned(),
            });
        }
    }
}

fn stray(
    refreshed: &mut Refreshed,
    users: &BTreeMap<(String, String), Users>,
    address: &Address,
    object: &str,
    live: &Listed,
) {
    let empty = Users::default();
    let using = users
        .get(&(object.to_owned(), live.name.clone()))
        .or_else(|| users.get(&(object.to_owned(), live.id.clone())))
        .unwrap_or(&empty);
    if !using.others.is_empty() {
        refreshed.drift.push(format!(
            "`{address}`: {object} {} is not the version the state records, but service{} {} still use{} it: it is left until nothing does",
            live.name,
            if using.others.len() == 1 { "" } else { "s" },
            using.others.iter().cloned().collect::<Vec<_>>().join(", "),
            if using.others.len() == 1 { "s" } else { "" },
        ));
        return;
    }
    refreshed.strays.push(Stray {
        address: address.clone(),
        object: object.to_owned(),
        name: live.name.clone(),
        used_by: using.ours.iter().cloned().collect(),
    });
}

/// Who uses each object, keyed by `(object kind, name or id)`: services are ours when they
/// carry our labels, belong to a stack the state or the config knows, or are a recorded
/// registry's service.
fn users(
    context: &Context,
    refreshed: &Refreshed,
    services: &[Value],
    listed: &[(Kind, &str, Vec<Listed>)],
) -> BTreeMap<(String, String), Users> {
    let lineage = &refreshed.state.lineage;
    let owner_by_name: BTreeMap<String, Address> = refreshed
        .state
        .resources
        .iter()
        .filter(|resource| matches!(resource.address.kind, Kind::Stack | Kind::Registry))
        .map(|resource| (resource.live_name().to_owned(), resource.address.clone()))
        .chain(
            context
                .desired
                .resources
                .iter()
                .filter(|resource| matches!(resource.address.kind, Kind::Stack | Kind::Registry))
                .map(|resource| (resource.live_name().to_owned(), resource.address.clone())),
        )
        .collect();
    // Network references name the network by id.
    let network_names: BTreeMap<&str, &str> = listed
        .iter()
        .filter(|(kind, _, _)| *kind == Kind::Network)
        .flat_map(|(_, _, objects)| objects)
        .map(|network| (network.id.as_str(), network.name.as_str()))
        .collect();
    let mut users: BTreeMap<(String, String), Users> = BTreeMap::new();
    for service in services {
        let spec = &service["Spec"];
        let Some(name) = spec["Name"].as_str() else {
            continue;
        };
        let labels = &spec["Labels"];
        let owner = if labels[LINEAGE_LABEL].as_str() == Some(lineage.as_str()) {
            labels[ADDRESS_LABEL]
                .as_str()
                .and_then(|text| text.parse::<Address>().ok())
        } else {
            None
        }
        .or_else(|| {
            labels[crate::service::NAMESPACE_LABEL]
                .as_str()
                .and_then(|stack| owner_by_name.get(stack))
                .filter(|address| address.kind == Kind::Stack)
                .cloned()
        })
        .or_else(|| {
            owner_by_name
                .get(name)
                .filter(|address| address.kind == Kind::Registry)
                .cloned()
        });
        let container = &spec["TaskTemplate"]["ContainerSpec"];
        let mut uses: Vec<(String, String)> = Vec::new();
        for (object, list, key) in [
            ("secret", &container["Secrets"], "SecretName"),
            ("config", &container["Configs"], "ConfigName"),
        ] {
            for item in list.as_array().into_iter().flatten() {
                if let Some(used) = item[key].as_str() {
                    uses.push((object.to_owned(), used.to_owned()));
                }
            }
        }
        for network in spec["TaskTemplate"]["Networks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(target) = network["Target"].as_str() {
                uses.push(("network".to_owned(), target.to_owned()));
                if let Some(name) = network_names.get(target) {
                    uses.push(("network".to_owned(), (*name).to_owned()));
                }
            }
        }
        for key in uses {
            let entry = users.entry(key).or_default();
            match &owner {
                Some(address) => {
                    entry.ours.insert(address.clone());
                }
                None => {
                    entry.others.insert(name.to_owned());
                }
            }
        }
    }
    users
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labelled(compose: &str) -> serde_norway::Value {
        let address: Address = "module.edge.stack.web".parse().expect("address");
        let bytes = label_compose(compose.as_bytes(), &address, "L1").expect("labelled");
        serde_norway::from_slice(&bytes).expect("yaml")
    }

    #[test]
    fn compose_labels_are_added_in_the_form_the_file_uses() {
        // A mapping gains two keys, a list two `KEY=VALUE` items, a service without `deploy`
        // gets one; the user's own labels and the rest of the file stay as they were.
        let document = labelled(
            "version: \"3.8\"\nservices:\n  a:\n    image: x:1\n    ports: [\"8080:80\"]\n    deploy:\n      labels: {team: web}\n  b:\n    image: y:1\n    deploy:\n      replicas: 2\n      labels: [\"team=db\", \"swarmform.lineage=old\"]\n  c:\n    image: z:1\n",
        );
        let service = |name: &str| &document["services"][name];
        assert_eq!(document["version"].as_str(), Some("3.8"));
        assert_eq!(service("a")["ports"][0].as_str(), Some("8080:80"));
        let a = &service("a")["deploy"]["labels"];
        assert_eq!(a["team"].as_str(), Some("web"));
        assert_eq!(
            a[ADDRESS_LABEL].as_str(),
            Some("module.edge.stack.web"),
            "{document:?}"
        );
        assert_eq!(a[LINEAGE_LABEL].as_str(), Some("L1"));
        let b: Vec<&str> = service("b")["deploy"]["labels"]
            .as_sequence()
            .expect("a list")
            .iter()
            .filter_map(serde_norway::Value::as_str)
            .collect();
        assert_eq!(
            b,
            [
                "team=db",
                "swarmform.address=module.edge.stack.web",
                "swarmform.lineage=L1"
            ]
        );
        assert_eq!(service("b")["deploy"]["replicas"].as_u64(), Some(2));
        assert_eq!(
            service("c")["deploy"]["labels"][LINEAGE_LABEL].as_str(),
            Some("L1")
        );
    }

    #[test]
    fn strings_a_yaml_1_1_reader_would_misread_stay_strings() {
        // Docker 20.10 reads compose files as YAML 1.1: what is sent quotes every string, so
        // `yes` stays a word and `60:30` a port mapping, not a boolean and a base-60 number.
        let address: Address = "stack.web".parse().expect("address");
        let bytes = label_compose(
            b"services:\n  a:\n    image: x:1\n    ports: [\"60:30\"]\n    environment: {A: \"yes\", B: \"1_000\"}\n",
            &address,
            "L1",
        )
        .expect("labelled");
        let text = String::from_utf8(bytes).expect("text");
        assert!(
            text.contains("\"60:30\"") && text.contains("A: \"yes\""),
            "{text}"
        );
        let sent: serde_norway::Value = serde_norway::from_str(&text).expect("YAML");
        assert_eq!(sent["services"]["a"]["ports"][0], "60:30");
        assert_eq!(sent["services"]["a"]["environment"]["A"], "yes");
        assert_eq!(sent["services"]["a"]["environment"]["B"], "1_000");
    }

    #[test]
    fn merge_keys_are_resolved_before_labelling() {
        // A service built from an anchor keeps what the anchor gave it.
        let document = labelled(
            "x-base: &base\n  image: x:1\n  deploy:\n    replicas: 3\nservices:\n  a:\n    <<: *base\n",
        );
        let a = &document["services"]["a"];
        assert_eq!(a["image"].as_str(), Some("x:1"));
        assert_eq!(a["deploy"]["replicas"].as_u64(), Some(3));
        assert_eq!(a["deploy"]["labels"][LINEAGE_LABEL].as_str(), Some("L1"));
    }
}

/// A swarm object of this state's lineage that the state does not record: a version left
/// behind by a change killed between creating the new one and removing the old one, or an
/// object of a resource since removed from the config. Found by the refresh through the
/// ownership labels; the planner removes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stray {
    /// The resource its `swarmform.address` label names.
    pub address: Address,
    /// `network`, `secret` or `config`.
    pub object: String,
    /// Its Docker name.
    pub name: String,
    /// Our resources whose services still use it (a stack, a registry): it can go once the
    /// one of them that deploys in the plan has deployed. Empty when nothing uses it.
    pub used_by: Vec<Address>,
}

/// A service swarmform made before it labelled what it creates (a hosted registry's): the
/// next apply adds the labels in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlabelled {
    pub address: Address,
    /// The service's Docker name.
    pub name: String,
}

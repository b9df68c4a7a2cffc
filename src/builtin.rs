//! The modules shipped inside the binary (`modules/` in the repository), so a config can say
//! `source = "visualizer"` wherever swarmform runs.

/// (module name, file path inside the module, content). A test checks that every file under
/// `modules/` (but READMEs) is listed.
static FILES: &[(&str, &str, &str)] = &[
    (
        "registry",
        "htpasswd.hbs",
        include_str!("../modules/registry/htpasswd.hbs"),
    ),
    (
        "registry",
        "module.toml",
        include_str!("../modules/registry/module.toml"),
    ),
    (
        "registry",
        "registry.yml.hbs",
        include_str!("../modules/registry/registry.yml.hbs"),
    ),
    (
        "traefik",
        "module.toml",
        include_str!("../modules/traefik/module.toml"),
    ),
    (
        "traefik",
        "traefik.yml.hbs",
        include_str!("../modules/traefik/traefik.yml.hbs"),
    ),
    (
        "visualizer",
        "module.toml",
        include_str!("../modules/visualizer/module.toml"),
    ),
    (
        "visualizer",
        "visualizer.yml.hbs",
        include_str!("../modules/visualizer/visualizer.yml.hbs"),
    ),
];

pub fn module_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = FILES.iter().map(|(module, _, _)| *module).collect();
    names.dedup();
    names
}

/// The module's `module.toml`, with the module's name as a `'static` string.
pub fn module(name: &str) -> Option<(&'static str, &'static str)> {
    FILES
        .iter()
        .find(|(module, path, _)| *module == name && *path == "module.toml")
        .map(|(module, _, text)| (*module, *text))
}

pub fn module_file(module: &str, path: &str) -> Option<&'static str> {
    let path = path.strip_prefix("./").unwrap_or(path);
    FILES
        .iter()
        .find(|(name, file, _)| *name == module && *file == path)
        .map(|(_, _, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every file shipped under modules/ is embedded, so built-in modules never miss a template.
    #[test]
    fn every_module_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("modules");
        let mut on_disk = Vec::new();
        for module in std::fs::read_dir(&root).expect("modules/") {
            let module = module.expect("entry").path();
            let name = module
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            for file in std::fs::read_dir(&module).expect("module folder") {
                let file = file.expect("entry").path();
                let file_name = file
                    .file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned();
                if file_name != "README.md" {
                    on_disk.push((
                        name.clone(),
                        file_name,
                        std::fs::read_to_string(&file).expect("text"),
                    ));
                }
            }
        }
        on_disk.sort();
        let embedded: Vec<(String, String, String)> = FILES
            .iter()
            .map(|(module, path, text)| {
                ((*module).to_owned(), (*path).to_owned(), (*text).to_owned())
            })
            .collect();
        assert_eq!(embedded, on_disk);
        assert_eq!(module_names(), vec!["registry", "traefik", "visualizer"]);
    }
}

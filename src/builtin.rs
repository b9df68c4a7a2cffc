//! The modules shipped inside the binary (`modules/` in the repository), so a config can say
//! `source = "visualizer"` wherever swarmform runs.

/// (module name, file path inside the module, content)
static FILES: &[(&str, &str, &str)] = &[];

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

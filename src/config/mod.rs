//! `swarmform.toml`: the model, loading with spans, modules, templates and validation.

pub mod check;
pub mod desired;
pub mod evaluate;
pub mod load;
pub mod model;
pub mod read;
pub mod source;
pub mod template;

/// Evaluates a config written to a temporary folder with the given extra files; for unit tests
/// of the stages after the config.
#[cfg(test)]
pub fn test_desired(config: &str, files: &[(&str, &str)]) -> evaluate::Desired {
    let dir = tempfile::tempdir().expect("temporary folder");
    for (path, text) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("folders");
        std::fs::write(full, text).expect("write");
    }
    let path = dir.path().join("swarmform.toml");
    std::fs::write(&path, config).expect("write config");
    let mut sources = source::Sources::default();
    let options = load::Options {
        path,
        ..load::Options::default()
    };
    let loaded = load::load(&options, &mut sources).unwrap_or_else(|errors| {
        panic!(
            "{}",
            errors
                .iter()
                .map(|error| error.render(&sources, false))
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    evaluate::evaluate(&loaded.config, &mut sources).unwrap_or_else(|errors| {
        panic!(
            "{}",
            errors
                .iter()
                .map(|error| error.render(&sources, false))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

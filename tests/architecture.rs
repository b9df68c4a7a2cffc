//! The shape of the code: the top-level modules of `src/` import each other without a cycle
//! (ARCHITECTURE.md, "Stages and who owns what").

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every `crate::MODULE` a top-level module's files name (tests excluded), by module.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(&root).expect("under src");
            let file_name = relative.file_name().and_then(|name| name.to_str());
            if path.extension().is_none_or(|extension| extension != "rs")
                || file_name == Some("tests.rs")
                || relative
                    .components()
                    .any(|part| part.as_os_str() == "tests")
            {
                continue;
            }
            let top = relative
                .components()
                .next()
                .and_then(|part| part.as_os_str().to_str())
                .expect("a name")
                .trim_end_matches(".rs")
                .to_owned();
            if top == "lib" || top == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a source file");
            let named = imports.entry(top.clone()).or_default();
            for (index, _) in text.match_indices("crate::") {
                let module: String = text[index + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !module.is_empty() && module != top {
                    named.insert(module);
                }
            }
        }
    }
    imports
}

#[test]
fn the_modules_import_each_other_without_a_cycle() {
    let imports = imports();
    assert!(
        imports.contains_key("swarm") && imports.contains_key("plan"),
        "the scan found the modules: {imports:?}"
    );
    // Depth-first search from every module; a path back to its start is a cycle.
    let mut cycles = Vec::new();
    for start in imports.keys() {
        let mut stack = vec![vec![start.clone()]];
        while let Some(path) = stack.pop() {
            let last = path.last().expect("a path");
            for next in imports.get(last).into_iter().flatten() {
                if next == start {
                    cycles.push(path.join(" -> ") + " -> " + start);
                } else if !path.contains(next) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push(longer);
                }
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
}

//! The validate path on one fuzz input (a small project, see `swarmform_fuzz`), in a folder of
//! this process's own that every input empties first.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

static DIR: OnceLock<PathBuf> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let dir = DIR.get_or_init(|| {
        std::env::temp_dir().join(format!("swarmform-fuzz-{}", std::process::id()))
    });
    let _ = swarmform_fuzz::run(data, dir);
});

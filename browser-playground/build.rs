//! Finds the example tenants `scripts/build-tenants.sh` built and writes
//! `$OUT_DIR/bundled_tenants.rs`, a table of their bytes (`include_bytes!`) that only the wasm
//! tests include: a wasm test has no filesystem, so the ELFs must be compiled into it. The
//! directory is `$TENANT_OUT`, else `$CARGO_TARGET_DIR/tenants`, else `<repo>/target/tenants`,
//! as build-tenants.sh chooses it. A second table, `IDE_TENANTS`, holds the examples as the
//! IDE builds them (with debug information) and their sources, from `$IDE_TENANT_OUT`
//! (scripts/build-playground.sh's `tenants/`, with the sources in `src/`), for the DWARF tests.
//! A missing directory gives an empty table, which the tests report with what to run; the
//! library itself never embeds a tenant.

use std::path::{Path, PathBuf};

fn tenant_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TENANT_OUT") {
        return PathBuf::from(dir);
    }
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                manifest_dir.join("..").join(dir)
            }
        })
        .unwrap_or_else(|| manifest_dir.join("../target"));
    target.join("tenants")
}

fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

fn main() {
    println!("cargo:rerun-if-env-changed=TENANT_OUT");
    println!("cargo:rerun-if-env-changed=IDE_TENANT_OUT");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    println!("cargo:rerun-if-changed=build.rs");
    let dir = tenant_dir();
    // The directory's own timestamp changes when a tenant is added or removed.
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .map(|listing| {
            listing
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.is_file() && is_elf(path))
                .filter_map(|path| Some((path.file_name()?.to_str()?.to_string(), path)))
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    let mut table = format!(
        "/// Where the tenants below were found.\npub const TENANT_DIR: &str = {:?};\n\
         /// The built example tenants by file name.\npub const TENANTS: &[(&str, &[u8])] = &[\n",
        dir.display().to_string()
    );
    for (name, path) in &entries {
        println!("cargo:rerun-if-changed={}", path.display());
        table.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    table.push_str("];\n");
    table.push_str(&ide_table());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    std::fs::write(out.join("bundled_tenants.rs"), table).expect("OUT_DIR is writable");
}

/// `IDE_TENANTS`: (name, ELF, source, file name the source is built as) of every source in
/// `$IDE_TENANT_OUT/src` with a program beside it.
fn ide_table() -> String {
    let mut table = String::from(
        "/// The examples as the IDE builds them: (name, ELF, source, source file name).\n\
         pub const IDE_TENANTS: &[(&str, &[u8], &str, &str)] = &[\n",
    );
    let Some(dir) = std::env::var_os("IDE_TENANT_OUT").map(PathBuf::from) else {
        return table + "];\n";
    };
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut sources: Vec<PathBuf> = std::fs::read_dir(dir.join("src"))
        .map(|listing| {
            listing
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default();
    sources.sort();
    for source in sources {
        let file = match source.extension().and_then(|extension| extension.to_str()) {
            Some("c") => "tenant.c",
            Some("cpp") => "tenant.cpp",
            Some("rs") => "src/main.rs",
            _ => continue,
        };
        let Some(name) = source.file_stem().and_then(|stem| stem.to_str()) else {
            continue;
        };
        let elf = dir.join(name);
        if !is_elf(&elf) {
            continue;
        }
        println!("cargo:rerun-if-changed={}", elf.display());
        println!("cargo:rerun-if-changed={}", source.display());
        table.push_str(&format!(
            "    ({name:?}, include_bytes!({:?}), include_str!({:?}), {file:?}),\n",
            elf.display().to_string(),
            source.display().to_string()
        ));
    }
    table + "];\n"
}

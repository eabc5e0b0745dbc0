//! Turns vmod.vcc into the boilerplate Varnish loads (`varnish::generate_boilerplate` runs
//! Varnish's vmodtool through the crate's script), and into the reference documentation:
//! vmodtool's `rstfile` writes vmod_riscv.rst (and the rst2man input), rst2man makes the man
//! page vmod_riscv.3. Both land next to libvmod_riscv.so in the target directory.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    varnish::generate_boilerplate().expect("vmod.vcc must turn into the VMOD's boilerplate");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    add_enum_members(&out_dir.join("generated.rs"));
    write_rst(&out_dir);
    let rst = out_dir.join("vmod_riscv.rst");
    let man_rst = out_dir.join("vmod_riscv.man.rst");
    assert!(rst.is_file(), "vmodtool wrote no {}", rst.display());
    // OUT_DIR is <target>/<profile>/build/<package>-<hash>/out; the .so goes to <target>/<profile>.
    let profile_dir = out_dir
        .ancestors()
        .nth(3)
        .expect("OUT_DIR lies three levels below the profile directory");
    copy(&rst, &profile_dir.join("vmod_riscv.rst"));
    let man_page = profile_dir.join("vmod_riscv.3");
    match Command::new("rst2man").arg(&man_rst).arg(&man_page).status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("rst2man {} failed: {status}", man_rst.display()),
        Err(error) => println!(
            "cargo:warning=no man page: rst2man is not available ({error}); install python3-docutils"
        ),
    }
}

/// The varnish crate's generator leaves ENUM arguments' members out of the function table
/// (`Vmod_vmod_riscv_Func`), whose size varnishd checks against the C prototype: append them
/// as the prototype declares them (`VCL_ENUM *enum_X;`, after the functions), each pointing at
/// the enum's name.
fn add_enum_members(generated: &Path) {
    let code = std::fs::read_to_string(generated).expect("read generated.rs");
    let names: Vec<&str> = code
        .lines()
        .filter_map(|line| line.trim().strip_prefix("VCL_ENUM"))
        .filter_map(|rest| rest.trim().strip_prefix("*enum_"))
        .filter_map(|rest| rest.strip_suffix(';'))
        .collect();
    if names.is_empty() {
        return;
    }
    let table = "pub struct Vmod_vmod_riscv_Func {";
    let value = "pub static Vmod_vmod_riscv_Func: Vmod_vmod_riscv_Func = Vmod_vmod_riscv_Func {";
    let mut out = String::new();
    let mut section = None;
    for line in code.lines() {
        if line.starts_with(table) {
            section = Some(table);
        } else if line.starts_with(value) {
            section = Some(value);
        } else if let (Some(current), true) = (section, line.starts_with('}')) {
            for name in &names {
                if current == table {
                    out.push_str(&format!("\tenum_{name}: &'static VclEnum,\n"));
                } else {
                    out.push_str(&format!("\tenum_{name}: &ENUM_{name},\n"));
                }
            }
            section = None;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(
        "\n/// An ENUM value: a pointer to the name's C string, shared read-only.\n\
         #[repr(transparent)]\npub struct VclEnum(varnish_sys::VCL_ENUM);\n\
         unsafe impl Sync for VclEnum {}\n",
    );
    for name in &names {
        out.push_str(&format!(
            "static ENUM_{name}: VclEnum = VclEnum(c\"{name}\".as_ptr());\n"
        ));
    }
    std::fs::write(generated, out).expect("write generated.rs");
}

/// Runs vmodtool's documentation writer on vmod.vcc (the crate's script only makes code).
fn write_rst(out_dir: &Path) {
    let vmodtool = Command::new("pkg-config")
        .args(["--variable=vmodtool", "varnishapi"])
        .output()
        .expect("pkg-config must be installed (scripts/bootstrap.sh)");
    let vmodtool = String::from_utf8_lossy(&vmodtool.stdout).trim().to_string();
    let vmodtool_dir = Path::new(&vmodtool)
        .parent()
        .expect("pkg-config names vmodtool.py by its path (libvarnishapi-dev)");
    let script = "import sys, vmodtool\n\
                  v = vmodtool.vcc(sys.argv[1], sys.argv[2], None)\n\
                  v.parse()\n\
                  v.rstfile(man=False)\n\
                  v.rstfile(man=True)\n\
                  v.commit()\n";
    let status = Command::new("python3")
        .args(["-c", script, "vmod.vcc"])
        .arg(out_dir)
        .env("PYTHONPATH", vmodtool_dir)
        .status()
        .expect("python3 must be installed to run vmodtool");
    assert!(status.success(), "vmodtool could not document vmod.vcc");
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|error| {
        panic!(
            "cannot copy {} to {}: {error}",
            from.display(),
            to.display()
        )
    });
}

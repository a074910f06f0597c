//! Builds the Verilated riptide_core: writes riptide_core.v with riptide-hw
//! (the Verilog this commit emits, `assign_once` rewriting included), turns
//! it into C++ with `verilator --cc`, and compiles that, Verilator's runtime
//! and `csrc/shim.cpp` into a static library with `cc`.
//!
//! Without `verilator` on the PATH: under `CI=true` the build fails (CI
//! installs it with scripts/install-hdl-tools.sh); elsewhere it warns and
//! builds the crate without the model, whose constructor then returns an
//! error saying so.

use std::path::{Path, PathBuf};
use std::process::Command;

const INSTALL: &str = "scripts/install-hdl-tools.sh installs it";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=csrc/shim.cpp");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rustc-check-cfg=cfg(verilated)");

    let Some(root) = verilator_root() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("verilator is missing under CI: {INSTALL}");
        }
        println!(
            "cargo::warning=verilator not found: riptide-verilated is built without the \
             Verilated core, and VerilatedCore::new returns an error ({INSTALL})"
        );
        return;
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let verilog =
        riptide_hw::verilog::write_verilog(&out.join("verilog")).unwrap_or_else(|e| panic!("{e}"));
    let obj = out.join("obj");
    verilate(&verilog, &obj);
    compile(&root, &obj);
    println!("cargo::rustc-cfg=verilated");
}

/// Verilator's install root (`verilator --getenv VERILATOR_ROOT`), or `None`
/// when it is not installed.
fn verilator_root() -> Option<PathBuf> {
    let out = Command::new("verilator")
        .args(["--getenv", "VERILATOR_ROOT"])
        .output()
        .ok()?;
    let root = String::from_utf8(out.stdout).ok()?;
    let root = PathBuf::from(root.trim());
    (out.status.success() && root.join("include/verilated.cpp").exists()).then_some(root)
}

fn verilate(verilog: &Path, obj: &Path) {
    if obj.exists() {
        std::fs::remove_dir_all(obj).expect("clear the Verilator output directory");
    }
    let status = Command::new("verilator")
        .args([
            "--cc",
            "--top-module",
            riptide_hw::verilog::TOP,
            "--prefix",
            "Vriptide_core",
            "-O3",
            "--x-assign",
            "fast",
            "--noassert",
            // Lint is hw/tests/verilog.rs' job (`-Wall` with its waivers);
            // here only errors stop the build.
            "-Wno-fatal",
            "-Wno-lint",
            "-Wno-style",
            "--Mdir",
        ])
        .arg(obj)
        .arg(verilog)
        .status()
        .expect("run verilator");
    assert!(
        status.success(),
        "verilator failed on {}",
        verilog.display()
    );
}

fn compile(root: &Path, obj: &Path) {
    let include = root.join("include");
    let mut generated: Vec<PathBuf> = std::fs::read_dir(obj)
        .expect("read the Verilator output directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cpp"))
        .collect();
    generated.sort();
    cc::Build::new()
        .cpp(true)
        .std("c++17")
        .opt_level(2)
        .warnings(false)
        .flag_if_supported("-w")
        .define("VM_COVERAGE", "0")
        .define("VM_SC", "0")
        .define("VM_TRACE", "0")
        .define("VM_TRACE_FST", "0")
        .define("VM_TRACE_VCD", "0")
        .include(&include)
        .include(include.join("vltstd"))
        .include(obj)
        .files(&generated)
        .file(include.join("verilated.cpp"))
        .file(include.join("verilated_threads.cpp"))
        .file("csrc/shim.cpp")
        .compile("riptide_verilated");
}

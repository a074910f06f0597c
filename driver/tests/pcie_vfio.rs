//! Opening a board through VFIO where there is none: every failure is a typed
//! error whose message says what to do, and nothing panics. The failure modes
//! are staged in stand-in sysfs and /dev trees; one test opens
//! `vfio:0000:00:00.0` on the machine itself.

use riptide_driver::pcie::board::{AlveoNic, AlveoOptions, BoardError};
use riptide_driver::pcie::vfio::{PciAddress, SysPaths, VfioError, parse_nic_spec, preflight};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

const BOARD: &str = "0000:3b:00.0";

/// A scratch sysfs + /dev tree, removed when dropped.
struct Tree {
    root: PathBuf,
}

impl Tree {
    fn new(name: &str) -> Tree {
        let root =
            std::env::temp_dir().join(format!("riptide-pcie-vfio-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("sys/bus/pci/devices")).unwrap();
        fs::create_dir_all(root.join("sys/kernel/iommu_groups")).unwrap();
        fs::create_dir_all(root.join("dev")).unwrap();
        Tree { root }
    }

    fn paths(&self) -> SysPaths {
        SysPaths {
            sysfs: self.root.join("sys"),
            dev: self.root.join("dev"),
        }
    }

    /// A device directory, in IOMMU group `group` if any, bound to `driver`
    /// if any (links point where the kernel's do; only their names matter).
    fn device(&self, address: &str, group: Option<u32>, driver: Option<&str>) {
        let dir = self.root.join("sys/bus/pci/devices").join(address);
        fs::create_dir_all(&dir).unwrap();
        if let Some(group) = group {
            let devices = self
                .root
                .join(format!("sys/kernel/iommu_groups/{group}/devices"));
            fs::create_dir_all(&devices).unwrap();
            symlink(
                format!("../../../kernel/iommu_groups/{group}"),
                dir.join("iommu_group"),
            )
            .unwrap();
            symlink(&dir, devices.join(address)).unwrap();
        }
        if let Some(driver) = driver {
            symlink(
                format!("../../../bus/pci/drivers/{driver}"),
                dir.join("driver"),
            )
            .unwrap();
        }
    }

    fn dev_file(&self, path: &str) {
        let file = self.root.join("dev").join(path);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(file, b"").unwrap();
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn board() -> PciAddress {
    BOARD.parse().unwrap()
}

fn says(error: &VfioError, needles: &[&str]) {
    let text = error.to_string();
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} missing from: {text}");
    }
}

#[test]
fn opening_vfio_0000_00_00_0_here_fails_with_an_actionable_error() {
    // Whatever this machine has at 0000:00:00.0 (nothing, or a host bridge
    // not bound to vfio-pci, or no IOMMU), it is not a riptide board.
    let result = std::panic::catch_unwind(|| {
        AlveoNic::open_vfio("vfio:0000:00:00.0", AlveoOptions::default()).map(|_| ())
    });
    let Ok(Err(e)) = result else {
        panic!("expected an error, not a panic or a board");
    };
    let text = e.to_string();
    eprintln!("vfio:0000:00:00.0 on this machine: {text}");
    let remedies = [
        "lspci -D -d 10ee:",
        "intel_iommu=on",
        "driver_override",
        "modprobe vfio-pci",
        "chown",
        "viable",
        "already in use",
    ];
    assert!(
        matches!(e, BoardError::Vfio(_)),
        "a VFIO setup error, got {e:?}"
    );
    assert!(
        text.contains("0000:00:00.0") || text.contains("/dev/vfio"),
        "{text}"
    );
    assert!(
        remedies.iter().any(|r| text.contains(r)),
        "no remedy in: {text}"
    );
}

#[test]
fn bad_address_syntax_is_its_own_error() {
    for spec in ["vfio:3b:00", "vfio:zz:00.0", "vfio:0000:3b:00.9", "vfio:"] {
        match AlveoNic::open_vfio(spec, AlveoOptions::default()) {
            Err(BoardError::Vfio(e @ VfioError::BadAddress { .. })) => {
                says(&e, &["DDDD:BB:DD.F", "vfio:0000:3b:00.0"])
            }
            other => panic!("{spec}: expected BadAddress, got {other:?}"),
        }
    }
    assert_eq!(parse_nic_spec("vfio:0000:3b:00.0").unwrap(), board());
}

#[test]
fn a_missing_device_says_how_to_find_the_board() {
    let tree = Tree::new("missing");
    let e = preflight(&tree.paths(), board()).unwrap_err();
    assert!(matches!(e, VfioError::NoSuchDevice { .. }));
    says(
        &e,
        &["no PCI device 0000:3b:00.0", "lspci -D -d 10ee:", "rescan"],
    );
}

#[test]
fn no_iommu_group_says_how_to_turn_the_iommu_on() {
    let tree = Tree::new("noiommu");
    tree.device(BOARD, None, Some("vfio-pci"));
    let e = preflight(&tree.paths(), board()).unwrap_err();
    assert!(matches!(e, VfioError::NoIommu { .. }));
    says(
        &e,
        &["intel_iommu=on", "amd_iommu=on", "iommu_groups", "reboot"],
    );
}

#[test]
fn a_board_on_another_driver_gets_the_rebinding_commands() {
    let tree = Tree::new("xdma");
    tree.device(BOARD, Some(7), Some("xdma"));
    let e = preflight(&tree.paths(), board()).unwrap_err();
    match &e {
        VfioError::NotBoundToVfio { driver, .. } => assert_eq!(driver.as_deref(), Some("xdma")),
        other => panic!("expected NotBoundToVfio, got {other:?}"),
    }
    says(
        &e,
        &[
            "driver xdma",
            "modprobe vfio-pci",
            "echo vfio-pci > /sys/bus/pci/devices/0000:3b:00.0/driver_override",
            "echo 0000:3b:00.0 > /sys/bus/pci/devices/0000:3b:00.0/driver/unbind",
            "echo 0000:3b:00.0 > /sys/bus/pci/drivers_probe",
        ],
    );

    let unbound = Tree::new("unbound");
    unbound.device(BOARD, Some(7), None);
    let e = preflight(&unbound.paths(), board()).unwrap_err();
    says(&e, &["no driver", "driver_override", "drivers_probe"]);
    assert!(!e.to_string().contains("unbind"), "nothing to unbind: {e}");
}

#[test]
fn a_shared_iommu_group_names_the_devices_to_rebind() {
    let tree = Tree::new("group");
    tree.device(BOARD, Some(7), Some("vfio-pci"));
    tree.device("0000:3b:00.1", Some(7), Some("nvme"));
    tree.device("0000:3a:00.0", Some(7), Some("pcieport"));
    let e = preflight(&tree.paths(), board()).unwrap_err();
    match &e {
        VfioError::GroupNotViable { group: 7, others } => {
            assert_eq!(others, &[("0000:3b:00.1".to_string(), "nvme".to_string())])
        }
        other => panic!("expected GroupNotViable, got {other:?}"),
    }
    says(
        &e,
        &["IOMMU group 7 is not viable", "0000:3b:00.1 (driver nvme)"],
    );
}

#[test]
fn missing_vfio_device_nodes_say_to_load_the_module() {
    let tree = Tree::new("nodev");
    tree.device(BOARD, Some(7), Some("vfio-pci"));
    let e = preflight(&tree.paths(), board()).unwrap_err();
    assert!(matches!(e, VfioError::NoVfio { .. }));
    says(&e, &["vfio/vfio is missing", "modprobe vfio-pci"]);

    tree.dev_file("vfio/vfio");
    let e = preflight(&tree.paths(), board()).unwrap_err();
    says(&e, &["vfio/7 is missing"]);
}

#[test]
fn a_ready_system_passes_preflight_with_the_group_number() {
    let tree = Tree::new("ready");
    tree.device(BOARD, Some(7), Some("vfio-pci"));
    tree.dev_file("vfio/vfio");
    tree.dev_file("vfio/7");
    assert_eq!(preflight(&tree.paths(), board()).unwrap(), 7);
    assert!(Path::new(&tree.paths().device(board())).ends_with(BOARD));
}

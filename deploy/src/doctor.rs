//! `riptide doctor`: is this host ready to run riptide on an Alveo board?
//! One line per check; each failure says what to do. Host checks read sysfs
//! and `/proc` under a root directory (`/` on a real host, a fake tree in
//! tests); board checks read registers through any [`PcieDevice`].

use crate::shell::{LINK_STATUS, LINK_STATUS_UP};
use riptide_driver::pcie::AlveoOptions;
use riptide_driver::pcie::board::{DEFAULT_DMA_BAR, DEFAULT_USER_BAR, RIPTIDE_IDS};
use riptide_driver::pcie::vfio::VfioError;
use riptide_driver::pcie::xdma::{
    Alignments, Direction, IDENTIFIER_STREAM, IDENTIFIER_SUBSYSTEM, reg,
};
use riptide_driver::pcie::{PciAddress, PcieDevice};
use riptide_wire::regs;
use std::fmt;
use std::fs;
use std::path::Path;

/// Locked memory riptide wants: the descriptor rings and record buffers of
/// both streams with room to spare (`docs/driver.md`).
pub const MIN_MEMLOCK_BYTES: u64 = 64 << 20;
/// The user BAR holds the core's 4 KiB map and the shell's registers.
pub const MIN_USER_BAR: u64 = 2 * 4096;
/// The DMA BAR holds the XDMA's register blocks up to 0x6FFF (PG195).
pub const MIN_DMA_BAR: u64 = 64 * 1024;
/// Drivers these may share the board's IOMMU group with (as `vfio::preflight`).
const GROUP_SAFE_DRIVERS: [&str; 3] = ["vfio-pci", "pci-stub", "pcieport"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass(String),
    Fail {
        found: String,
        fix: String,
    },
    /// Not checked because an earlier check failed.
    Skip(String),
}

#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
}

impl Check {
    fn pass(name: &'static str, found: impl Into<String>) -> Check {
        Check {
            name,
            outcome: Outcome::Pass(found.into()),
        }
    }
    pub fn fail(name: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            outcome: Outcome::Fail {
                found: found.into(),
                fix: fix.into(),
            },
        }
    }
    pub fn skip(name: &'static str, why: impl Into<String>) -> Check {
        Check {
            name,
            outcome: Outcome::Skip(why.into()),
        }
    }
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Fail { .. })
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Pass(found) => write!(f, "ok    {:<14} {found}", self.name),
            Outcome::Fail { found, fix } => {
                write!(f, "FAIL  {:<14} {found}; fix: {fix}", self.name)
            }
            Outcome::Skip(why) => write!(f, "skip  {:<14} {why}", self.name),
        }
    }
}

/// The host checks, against the system rooted at `root`, for `device` (or
/// the first riptide board found).
pub fn host_checks(root: &Path, device: Option<PciAddress>) -> (Vec<Check>, Option<PciAddress>) {
    let sysfs = root.join("sys");
    let mut checks = vec![iommu(&sysfs), memlock(root)];
    let address = match find_device(&sysfs, device) {
        Ok((address, found)) => {
            checks.push(Check::pass("device", found));
            address
        }
        Err(check) => {
            checks.push(check);
            for name in ["driver", "iommu-group", "bars", "pcie-link", "msi-x"] {
                checks.push(Check::skip(name, "no device"));
            }
            return (checks, None);
        }
    };
    let dir = sysfs.join("bus/pci/devices").join(address.to_string());
    checks.push(driver(&dir, address));
    checks.push(iommu_group(&sysfs, &dir, address));
    checks.push(bars(&dir));
    checks.push(link(&dir));
    checks.push(msix(&dir));
    (checks, Some(address))
}

fn iommu(sysfs: &Path) -> Check {
    let groups = fs::read_dir(sysfs.join("kernel/iommu_groups"))
        .map(|entries| entries.count())
        .unwrap_or(0);
    if groups > 0 {
        Check::pass("iommu", format!("on ({groups} groups)"))
    } else {
        Check::fail(
            "iommu",
            "off: /sys/kernel/iommu_groups is empty",
            "enable VT-d (Intel) or AMD-Vi (AMD) in the firmware setup, add intel_iommu=on \
             iommu=pt (or amd_iommu=on iommu=pt) to the kernel command line, reboot",
        )
    }
}

fn memlock(root: &Path) -> Check {
    let limits = fs::read_to_string(root.join("proc/self/limits")).unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max locked memory"))
        .and_then(|l| l.split_whitespace().nth(3));
    let fix = "raise it: `ulimit -l unlimited` in the shell that runs riptide, \
               LimitMEMLOCK=infinity in its systemd unit, or a memlock line in \
               /etc/security/limits.conf";
    match soft {
        Some("unlimited") => Check::pass("memlock", "unlimited"),
        Some(value) => match value.parse::<u64>() {
            Ok(bytes) if bytes >= MIN_MEMLOCK_BYTES => {
                Check::pass("memlock", format!("{} MiB", bytes >> 20))
            }
            Ok(bytes) => Check::fail(
                "memlock",
                format!(
                    "{} KiB locked memory, DMA buffers need {} MiB",
                    bytes >> 10,
                    MIN_MEMLOCK_BYTES >> 20
                ),
                fix,
            ),
            Err(_) => Check::fail("memlock", format!("unreadable limit {value:?}"), fix),
        },
        None => Check::fail(
            "memlock",
            "no 'Max locked memory' in /proc/self/limits",
            fix,
        ),
    }
}

fn read_hex(path: &Path) -> Option<u32> {
    let text = fs::read_to_string(path).ok()?;
    u32::from_str_radix(text.trim().trim_start_matches("0x"), 16).ok()
}

fn link_name(path: &Path) -> Option<String> {
    Some(
        fs::read_link(path)
            .ok()?
            .file_name()?
            .to_string_lossy()
            .into_owned(),
    )
}

fn find_device(sysfs: &Path, wanted: Option<PciAddress>) -> Result<(PciAddress, String), Check> {
    let devices = sysfs.join("bus/pci/devices");
    let ids = |dir: &Path| {
        Some((
            read_hex(&dir.join("vendor"))? as u16,
            read_hex(&dir.join("device"))? as u16,
        ))
    };
    let lspci = "`lspci -D -d 10ee:` lists Xilinx functions";
    if let Some(address) = wanted {
        let dir = devices.join(address.to_string());
        return match ids(&dir) {
            Some((vendor, device))
                if (vendor, device) == (RIPTIDE_IDS.vendor, RIPTIDE_IDS.device) =>
            {
                Ok((address, format!("{address} {vendor:04x}:{device:04x}")))
            }
            Some((vendor, device)) => Err(Check::fail(
                "device",
                format!(
                    "{address} is {vendor:04x}:{device:04x}, not riptide's {}",
                    RIPTIDE_IDS
                ),
                format!(
                    "flash the riptide bitstream (riptide hw project; make flash) or pick the right function: {lspci}"
                ),
            )),
            None => Err(Check::fail(
                "device",
                format!("no PCI function {address}"),
                format!("pass an address that exists: {lspci}"),
            )),
        };
    }
    let mut found: Vec<PciAddress> = fs::read_dir(&devices)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| ids(&entry.path()) == Some((RIPTIDE_IDS.vendor, RIPTIDE_IDS.device)))
        .filter_map(|entry| entry.file_name().to_string_lossy().parse().ok())
        .collect();
    found.sort_by_key(|a| a.to_string());
    match found.first() {
        Some(address) => Ok((
            *address,
            format!("{address} {} ({} found)", RIPTIDE_IDS, found.len()),
        )),
        None => Err(Check::fail(
            "device",
            format!("no riptide board ({}) on the PCI bus", RIPTIDE_IDS),
            format!(
                "seat the board, flash the riptide bitstream (riptide hw project; make flash), \
                 power-cycle or rescan (`echo 1 > /sys/bus/pci/rescan`); {lspci}"
            ),
        )),
    }
}

fn driver(dir: &Path, address: PciAddress) -> Check {
    let driver = link_name(&dir.join("driver"));
    if driver.as_deref() == Some("vfio-pci") {
        Check::pass("driver", "vfio-pci")
    } else {
        let found = format!(
            "bound to {}",
            driver.clone().unwrap_or_else(|| "no driver".to_string())
        );
        let fix = VfioError::NotBoundToVfio { address, driver }.to_string();
        Check::fail("driver", found, fix)
    }
}

fn iommu_group(sysfs: &Path, dir: &Path, address: PciAddress) -> Check {
    let Some(group) = link_name(&dir.join("iommu_group")).and_then(|g| g.parse::<u32>().ok())
    else {
        return no_group(address);
    };
    let group_dir = sysfs.join("kernel/iommu_groups").join(group.to_string());
    if !group_dir.exists() {
        return no_group(address);
    }
    let mut others: Vec<(String, String)> = fs::read_dir(group_dir.join("devices"))
        .into_iter()
        .flatten()
        .flatten()
        // The board's own driver is the driver check's business.
        .filter(|entry| entry.file_name().to_string_lossy() != address.to_string())
        .filter_map(|entry| {
            let driver = link_name(&entry.path().join("driver"))?;
            (!GROUP_SAFE_DRIVERS.contains(&driver.as_str()))
                .then(|| (entry.file_name().to_string_lossy().into_owned(), driver))
        })
        .collect();
    if others.is_empty() {
        return Check::pass("iommu-group", format!("group {group} viable"));
    }
    others.sort();
    let found = format!("group {group} also holds devices bound to other drivers");
    Check::fail(
        "iommu-group",
        found,
        VfioError::GroupNotViable { group, others }.to_string(),
    )
}

fn no_group(address: PciAddress) -> Check {
    Check::fail(
        "iommu-group",
        format!("{address} has no IOMMU group"),
        "turn the IOMMU on (see the iommu check)",
    )
}

/// BAR sizes from the `resource` file: one `start end flags` line per BAR.
fn bars(dir: &Path) -> Check {
    let text = fs::read_to_string(dir.join("resource")).unwrap_or_default();
    let sizes: Vec<u64> = text
        .lines()
        .map(|line| {
            let fields: Vec<u64> = line
                .split_whitespace()
                .filter_map(|f| u64::from_str_radix(f.trim_start_matches("0x"), 16).ok())
                .collect();
            match fields.as_slice() {
                [start, end, ..] if end > start => end - start + 1,
                _ => 0,
            }
        })
        .collect();
    let size = |bar: u8| sizes.get(usize::from(bar)).copied().unwrap_or(0);
    let (user, dma) = (size(DEFAULT_USER_BAR), size(DEFAULT_DMA_BAR));
    let found = format!(
        "BAR{DEFAULT_USER_BAR} {} KiB (user), BAR{DEFAULT_DMA_BAR} {} KiB (XDMA)",
        user >> 10,
        dma >> 10
    );
    if user >= MIN_USER_BAR && dma >= MIN_DMA_BAR {
        Check::pass("bars", found)
    } else {
        Check::fail(
            "bars",
            format!(
                "{found}; riptide needs at least {} KiB and {} KiB",
                MIN_USER_BAR >> 10,
                MIN_DMA_BAR >> 10
            ),
            "the loaded bitstream is not riptide's shell (XDMA with the AXI-Lite master on \
             BAR 0): build and flash it (riptide hw project; make flash), then power-cycle",
        )
    }
}

fn link(dir: &Path) -> Check {
    let read = |name: &str| {
        fs::read_to_string(dir.join(name))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let (speed, max_speed) = (read("current_link_speed"), read("max_link_speed"));
    let (width, max_width) = (read("current_link_width"), read("max_link_width"));
    let found = format!("{speed} x{width} (device maximum {max_speed} x{max_width})");
    if speed.is_empty() || width.is_empty() {
        return Check::fail(
            "pcie-link",
            "link speed/width not reported",
            "the device is not linked: reseat the board and check its power",
        );
    }
    if speed == max_speed && width == max_width {
        Check::pass("pcie-link", found)
    } else {
        Check::fail(
            "pcie-link",
            found,
            "move the board to a Gen3 x16 slot wired x16 (not x8 behind a x16 connector), \
             check the slot's bifurcation and link speed settings in the firmware setup, reseat",
        )
    }
}

/// Walks the capability list of the `config` file for MSI-X (ID 0x11).
/// Unprivileged reads of `config` stop at 64 bytes, before the list.
fn msix(dir: &Path) -> Check {
    let config = fs::read(dir.join("config")).unwrap_or_default();
    if config.len() <= 64 {
        return Check::fail(
            "msi-x",
            "configuration space beyond 64 bytes is not readable",
            "run riptide doctor as root (only root reads the capability list)",
        );
    }
    let mut pointer = usize::from(config[0x34] & 0xFC);
    let mut hops = 0;
    while pointer >= 0x40 && pointer + 3 < config.len() && hops < 48 {
        if config[pointer] == 0x11 {
            let control = u16::from_le_bytes([config[pointer + 2], config[pointer + 3]]);
            return Check::pass("msi-x", format!("{} vectors", (control & 0x7FF) + 1));
        }
        pointer = usize::from(config[pointer + 1] & 0xFC);
        hops += 1;
    }
    Check::fail(
        "msi-x",
        "no MSI-X capability",
        "the bitstream's XDMA was built without MSI-X (pf0_msix_enabled): rebuild with \
         riptide hw project, whose xdma_0.tcl enables it; riptide then falls back to polling",
    )
}

/// The board checks, through the opened device: identity and version of the
/// core, the window, the XDMA engines' identifiers and alignments, and the
/// Ethernet link.
pub fn board_checks(device: &mut dyn PcieDevice) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut read = |bar, offset| device.read32(bar, offset).map_err(|e| e.to_string());
    let flash =
        "build and flash the riptide bitstream (riptide hw project; make flash), power-cycle";
    match read(DEFAULT_USER_BAR, u64::from(regs::ID.offset)) {
        Ok(regs::ID_VALUE) => checks.push(Check::pass("id", "RPTD")),
        Ok(other) => checks.push(Check::fail(
            "id",
            format!("ID reads {other:#010x}, not RPTD"),
            flash,
        )),
        Err(e) => checks.push(Check::fail("id", e, flash)),
    }
    let version = (u32::from(riptide_wire::layout::VERSION) << 16) | regs::REGMAP_REVISION;
    match read(DEFAULT_USER_BAR, u64::from(regs::VERSION.offset)) {
        Ok(found) if found == version => {
            checks.push(Check::pass("version", format!("{found:#010x}")))
        }
        Ok(found) => checks.push(Check::fail(
            "version",
            format!("VERSION {found:#010x}, this riptide expects {version:#010x}"),
            "build the bitstream from this riptide's sources (riptide hw project) and flash it",
        )),
        Err(e) => checks.push(Check::fail("version", e, flash)),
    }
    match read(DEFAULT_USER_BAR, u64::from(regs::MAX_WINDOW.offset)) {
        Ok(regs::MAX_WINDOW_SLOTS) => checks.push(Check::pass(
            "max-window",
            regs::MAX_WINDOW_SLOTS.to_string(),
        )),
        Ok(found) => checks.push(Check::fail(
            "max-window",
            format!("MAX_WINDOW {found}, expected {}", regs::MAX_WINDOW_SLOTS),
            "the bitstream and this riptide disagree: rebuild and flash the bitstream",
        )),
        Err(e) => checks.push(Check::fail("max-window", e, flash)),
    }
    let options = AlveoOptions::default();
    for (name, block, direction, buffer_size) in [
        (
            "xdma-h2c",
            0x0000u64,
            Direction::H2c,
            options.h2c.buffer_size,
        ),
        ("xdma-c2h", 0x1000, Direction::C2h, options.c2h.buffer_size),
    ] {
        let identifier = read(DEFAULT_DMA_BAR, block + reg::IDENTIFIER);
        let alignments = read(DEFAULT_DMA_BAR, block + reg::ALIGNMENTS);
        checks.push(engine(name, direction, buffer_size, identifier, alignments));
    }
    match read(DEFAULT_USER_BAR, u64::from(LINK_STATUS)) {
        Ok(status) if status & LINK_STATUS_UP != 0 => checks.push(Check::pass(
            "ethernet",
            format!("link up ({} flaps since reset)", status >> 16),
        )),
        Ok(status) => checks.push(Check::fail(
            "ethernet",
            format!("link down (status {status:#010x}: the MAC's receiver is not aligned)"),
            "check the QSFP28 module and cable, that the partner port runs 100GBASE with \
             RS-FEC, and that the bitstream was built for the cage in use (--qsfp)",
        )),
        Err(e) => checks.push(Check::fail("ethernet", e, flash)),
    }
    checks
}

fn engine(
    name: &'static str,
    direction: Direction,
    buffer_size: usize,
    identifier: Result<u32, String>,
    alignments: Result<u32, String>,
) -> Check {
    let fix = "BAR 1 is not an XDMA in streaming mode: the loaded bitstream is not riptide's \
               shell; build and flash it (riptide hw project; make flash)";
    let target = match direction {
        Direction::H2c => 0,
        Direction::C2h => 1,
    };
    let id = match identifier {
        Ok(id) => id,
        Err(e) => return Check::fail(name, e, fix),
    };
    if id >> 20 != IDENTIFIER_SUBSYSTEM || (id >> 16) & 0xF != target || id & IDENTIFIER_STREAM == 0
    {
        return Check::fail(name, format!("identifier {id:#010x}"), fix);
    }
    let found = match alignments {
        Ok(word) => Alignments::decode(word),
        Err(e) => return Check::fail(name, e, fix),
    };
    let text = format!(
        "identifier {id:#010x}, alignment {} B, granularity {} B, {} address bits",
        found.address, found.granularity, found.address_bits
    );
    if found.fit(direction, buffer_size) {
        Check::pass(name, text)
    } else {
        Check::fail(
            name,
            text,
            "the engine's alignment needs differ from the driver's (64-byte aligned buffers, \
             any H2C length, 64-bit addresses): rebuild the bitstream with riptide hw \
             project's xdma_0.tcl",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use riptide_driver::pcie::{Bar, DeviceError, DmaBuffer, PciIds, Wake};
    use std::collections::BTreeMap;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;
    use std::time::Duration;

    const BOARD: &str = "0000:3b:00.0";

    /// A host with a riptide board bound to vfio-pci, everything right.
    fn healthy(name: &str) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("riptide-doctor-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let sys = root.join("sys");
        let device = sys.join("bus/pci/devices").join(BOARD);
        let group = sys.join("kernel/iommu_groups/42");
        fs::create_dir_all(&device).unwrap();
        fs::create_dir_all(group.join("devices")).unwrap();
        fs::create_dir_all(sys.join("bus/pci/drivers/vfio-pci")).unwrap();
        fs::create_dir_all(root.join("proc/self")).unwrap();
        symlink(&group, device.join("iommu_group")).unwrap();
        symlink(sys.join("bus/pci/drivers/vfio-pci"), device.join("driver")).unwrap();
        symlink(&device, group.join("devices").join(BOARD)).unwrap();
        fs::write(device.join("vendor"), "0x10ee\n").unwrap();
        fs::write(device.join("device"), "0x903f\n").unwrap();
        fs::write(
            device.join("resource"),
            "0x00000000f0000000 0x00000000f00fffff 0x000000000014220c\n\
             0x00000000f0100000 0x00000000f010ffff 0x000000000014220c\n",
        )
        .unwrap();
        for (file, value) in [
            ("current_link_speed", "8.0 GT/s PCIe"),
            ("max_link_speed", "8.0 GT/s PCIe"),
            ("current_link_width", "16"),
            ("max_link_width", "16"),
        ] {
            fs::write(device.join(file), format!("{value}\n")).unwrap();
        }
        let mut config = vec![0u8; 256];
        config[0x34] = 0x40;
        config[0x40] = 0x05; // MSI, then
        config[0x41] = 0x60;
        config[0x60] = 0x11; // MSI-X, 32 vectors
        config[0x62] = 0x1F;
        fs::write(device.join("config"), config).unwrap();
        fs::write(
            root.join("proc/self/limits"),
            "Limit                     Soft Limit           Hard Limit           Units\n\
             Max locked memory         unlimited            unlimited            bytes\n",
        )
        .unwrap();
        root
    }

    fn failed(root: &Path) -> Vec<&'static str> {
        let (checks, _) = host_checks(root, None);
        for check in &checks {
            if let Outcome::Fail { fix, .. } = &check.outcome {
                assert!(!fix.is_empty(), "{check}");
            }
        }
        checks
            .iter()
            .filter(|c| c.failed())
            .map(|c| c.name)
            .collect()
    }

    #[test]
    fn a_ready_host_passes_every_check() {
        let root = healthy("ready");
        assert_eq!(failed(&root), Vec::<&str>::new());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn each_kind_of_broken_host_fails_its_own_check_with_a_fix() {
        type Break = fn(&Path, &Path);
        let cases: [(&str, Break, &[&str]); 9] = [
            (
                "no-iommu",
                |root, _| fs::remove_dir_all(root.join("sys/kernel/iommu_groups/42")).unwrap(),
                &["iommu", "iommu-group"],
            ),
            (
                "no-board",
                |_, device| fs::write(device.join("device"), "0x9038\n").unwrap(),
                &["device"],
            ),
            (
                "wrong-driver",
                |root, device| {
                    fs::create_dir_all(root.join("sys/bus/pci/drivers/xdma")).unwrap();
                    fs::remove_file(device.join("driver")).unwrap();
                    symlink(root.join("sys/bus/pci/drivers/xdma"), device.join("driver")).unwrap();
                },
                &["driver"],
            ),
            (
                "group-not-viable",
                |root, _| {
                    let other = root.join("sys/bus/pci/devices/0000:3b:00.1");
                    fs::create_dir_all(&other).unwrap();
                    fs::create_dir_all(root.join("sys/bus/pci/drivers/ixgbe")).unwrap();
                    symlink(root.join("sys/bus/pci/drivers/ixgbe"), other.join("driver")).unwrap();
                    symlink(
                        &other,
                        root.join("sys/kernel/iommu_groups/42/devices/0000:3b:00.1"),
                    )
                    .unwrap();
                },
                &["iommu-group"],
            ),
            (
                "small-bars",
                |_, device| {
                    fs::write(device.join("resource"), "0xf0000000 0xf0000fff 0x0\n").unwrap()
                },
                &["bars"],
            ),
            (
                "narrow-link",
                |_, device| fs::write(device.join("current_link_width"), "8\n").unwrap(),
                &["pcie-link"],
            ),
            (
                "slow-link",
                |_, device| {
                    fs::write(device.join("current_link_speed"), "2.5 GT/s PCIe\n").unwrap()
                },
                &["pcie-link"],
            ),
            (
                "memlock",
                |root, _| {
                    fs::write(root.join("proc/self/limits"), "Max locked memory         8388608              8388608              bytes\n").unwrap()
                },
                &["memlock"],
            ),
            (
                "no-msix",
                |_, device| {
                    let mut config = fs::read(device.join("config")).unwrap();
                    config[0x60] = 0x10; // PCI Express, not MSI-X
                    fs::write(device.join("config"), config).unwrap();
                },
                &["msi-x"],
            ),
        ];
        for (name, breaker, expected) in cases {
            let root = healthy(name);
            let device = root.join("sys/bus/pci/devices").join(BOARD);
            breaker(&root, &device);
            assert_eq!(failed(&root), expected.to_vec(), "{name}");
            fs::remove_dir_all(root).unwrap();
        }
    }

    #[test]
    fn an_unprivileged_config_read_asks_for_root() {
        let root = healthy("unprivileged");
        let device = root.join("sys/bus/pci/devices").join(BOARD);
        fs::write(device.join("config"), [0u8; 64]).unwrap();
        let (checks, _) = host_checks(&root, None);
        let msix = checks.iter().find(|c| c.name == "msi-x").unwrap();
        assert!(
            msix.to_string().contains("run riptide doctor as root"),
            "{msix}"
        );
        fs::remove_dir_all(root).unwrap();
    }

    /// Registers only: BAR offset to value.
    struct Registers(BTreeMap<(Bar, u64), u32>);

    impl PcieDevice for Registers {
        fn ids(&self) -> PciIds {
            RIPTIDE_IDS
        }
        fn read32(&mut self, bar: Bar, offset: u64) -> Result<u32, DeviceError> {
            Ok(self.0.get(&(bar, offset)).copied().unwrap_or(0))
        }
        fn write32(&mut self, _: Bar, _: u64, _: u32) -> Result<(), DeviceError> {
            unreachable!("the doctor only reads")
        }
        fn dma_map(&mut self, _: usize) -> Result<DmaBuffer, DeviceError> {
            unreachable!()
        }
        fn dma_unmap(&mut self, _: DmaBuffer) -> Result<(), DeviceError> {
            unreachable!()
        }
        fn dma_write(&mut self, _: &DmaBuffer, _: usize, _: &[u8]) -> Result<(), DeviceError> {
            unreachable!()
        }
        fn dma_read(&mut self, _: &DmaBuffer, _: usize, _: &mut [u8]) -> Result<(), DeviceError> {
            unreachable!()
        }
        fn wait_interrupt(&mut self, _: Duration) -> Result<Wake, DeviceError> {
            unreachable!()
        }
    }

    fn riptide_board() -> Registers {
        let version = (u32::from(riptide_wire::layout::VERSION) << 16) | regs::REGMAP_REVISION;
        Registers(BTreeMap::from([
            ((0, u64::from(regs::ID.offset)), regs::ID_VALUE),
            ((0, u64::from(regs::VERSION.offset)), version),
            (
                (0, u64::from(regs::MAX_WINDOW.offset)),
                regs::MAX_WINDOW_SLOTS,
            ),
            (
                (0, u64::from(LINK_STATUS)),
                3 << 16 | (2 << 1) | LINK_STATUS_UP,
            ),
            ((1, 0x0000), 0x1FC0_8006),
            ((1, 0x1000), 0x1FC1_8006),
            ((1, 0x004C), 0x0040_0140),
            ((1, 0x104C), 0),
        ]))
    }

    #[test]
    fn a_riptide_board_with_its_link_up_passes() {
        let checks = board_checks(&mut riptide_board());
        assert!(checks.iter().all(|c| !c.failed()), "{checks:#?}");
        assert!(
            checks
                .iter()
                .any(|c| c.to_string().contains("link up (3 flaps"))
        );
    }

    #[test]
    fn a_wrong_bitstream_a_down_link_and_odd_alignments_fail() {
        let mut board = riptide_board();
        board.0.insert((0, 0), 0xFFFF_FFFF);
        board.0.insert((0, u64::from(LINK_STATUS)), 1 << 1);
        board.0.insert((1, 0x004C), 0x0003_0140);
        board.0.insert((1, 0x1000), 0x1FC0_8006);
        let failed: Vec<&str> = board_checks(&mut board)
            .iter()
            .filter(|c| c.failed())
            .map(|c| c.name)
            .collect();
        assert_eq!(failed, ["id", "xdma-h2c", "xdma-c2h", "ethernet"]);
    }
}

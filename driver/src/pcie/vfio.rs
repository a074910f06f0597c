//! The real board through VFIO (`pci-driver`'s `VfioPciDevice`): BARs mapped
//! for MMIO, page-aligned host memory mapped into the device's IOMMU domain,
//! MSI-X (else MSI) vectors delivered to an eventfd, polling without them.
//!
//! Opening first checks, through sysfs and /dev, every condition VFIO needs,
//! in the order a user fixes them, so that each failure names its remedy:
//! address syntax, device present, IOMMU on, bound to vfio-pci, IOMMU group
//! viable, /dev/vfio present and accessible, group not in use.

use super::device::{Bar, DeviceError, DmaBuffer, PciIds, PcieDevice, Wake, check_dma_range};
use pci_driver::backends::vfio::VfioPciDevice;
use pci_driver::device::PciDevice;
use pci_driver::regions::{MappedOwningPciRegion, PciRegion, Permissions};
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{Ordering, fence};
use std::time::Duration;
use thiserror::Error;

/// The prefix of a VFIO NIC spec on the command line.
pub const SPEC_PREFIX: &str = "vfio:";
/// Drivers a device may be bound to while VFIO owns its IOMMU group.
const GROUP_SAFE_DRIVERS: [&str; 3] = ["vfio-pci", "pci-stub", "pcieport"];
/// Most interrupt vectors wired to the eventfd (the XDMA has 32 at most).
const MAX_VECTORS: usize = 32;
/// How long a wait sleeps when the device has no interrupts.
const POLL_INTERVAL: Duration = Duration::from_micros(100);

/// A PCI function address, `DDDD:BB:DD.F`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PciAddress {
    pub domain: u16,
    pub bus: u8,
    pub device: u8,
    pub function: u8,
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

impl FromStr for PciAddress {
    type Err = VfioError;

    /// Accepts `DDDD:BB:DD.F` and, as `lspci` prints it, `BB:DD.F`.
    fn from_str(input: &str) -> Result<PciAddress, VfioError> {
        let bad = |reason: &str| VfioError::BadAddress {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let (rest, function) = input
            .rsplit_once('.')
            .ok_or_else(|| bad("no '.' before the function number"))?;
        let parts: Vec<&str> = rest.split(':').collect();
        let (domain, bus, device) = match parts.as_slice() {
            [domain, bus, device] => (*domain, *bus, *device),
            [bus, device] => ("0000", *bus, *device),
            _ => return Err(bad("expected DDDD:BB:DD.F")),
        };
        let hex = |s: &str, digits: usize, what: &str| {
            if s.is_empty() || s.len() > digits || !s.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad(&format!("{what} must be 1 to {digits} hex digits")));
            }
            u32::from_str_radix(s, 16).map_err(|_| bad(what))
        };
        let domain = hex(domain, 4, "the domain")? as u16;
        let bus = hex(bus, 2, "the bus")? as u8;
        let device = hex(device, 2, "the device")?;
        if device > 0x1F {
            return Err(bad("the device number is at most 1f"));
        }
        let function = hex(function, 1, "the function")?;
        if function > 7 {
            return Err(bad("the function number is at most 7"));
        }
        Ok(PciAddress {
            domain,
            bus,
            device: device as u8,
            function: function as u8,
        })
    }
}

/// The address in a `vfio:DDDD:BB:DD.F` spec (the prefix is optional).
pub fn parse_nic_spec(spec: &str) -> Result<PciAddress, VfioError> {
    spec.strip_prefix(SPEC_PREFIX).unwrap_or(spec).parse()
}

/// Where sysfs and /dev are: the system's, or a test's stand-in tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysPaths {
    pub sysfs: PathBuf,
    pub dev: PathBuf,
}

impl SysPaths {
    pub fn system() -> SysPaths {
        SysPaths {
            sysfs: PathBuf::from("/sys"),
            dev: PathBuf::from("/dev"),
        }
    }

    pub fn device(&self, address: PciAddress) -> PathBuf {
        self.sysfs.join("bus/pci/devices").join(address.to_string())
    }

    fn group_devices(&self, group: u32) -> PathBuf {
        self.sysfs
            .join("kernel/iommu_groups")
            .join(group.to_string())
            .join("devices")
    }

    fn vfio(&self) -> PathBuf {
        self.dev.join("vfio")
    }
}

/// Why the board could not be opened, each with what to do about it.
#[derive(Debug, Error)]
pub enum VfioError {
    #[error(
        "bad PCI address {input:?}: {reason}; write it as DDDD:BB:DD.F, e.g. \
         vfio:0000:3b:00.0 (`lspci -D -d 10ee:` lists Xilinx devices with their addresses)"
    )]
    BadAddress { input: String, reason: String },
    #[error(
        "no PCI device {address}: {} does not exist. List Xilinx devices with \
         `lspci -D -d 10ee:` and pass one of their addresses as vfio:DDDD:BB:DD.F; if the \
         board is missing, check that it is seated and powered and that its bitstream \
         enumerates (a rescan: `echo 1 > /sys/bus/pci/rescan`)",
        path.display()
    )]
    NoSuchDevice { address: PciAddress, path: PathBuf },
    #[error(
        "PCI device {address} has no IOMMU group ({} is missing): the IOMMU is off. \
         Enable VT-d (Intel) or AMD-Vi/IOMMU (AMD) in the firmware setup, add \
         `intel_iommu=on iommu=pt` (Intel) or `amd_iommu=on iommu=pt` (AMD) to the kernel \
         command line, reboot, and check that /sys/kernel/iommu_groups/ is not empty",
        path.display()
    )]
    NoIommu { address: PciAddress, path: PathBuf },
    #[error(
        "PCI device {address} is bound to {}, not vfio-pci. As root: \
         `modprobe vfio-pci`; `echo vfio-pci > /sys/bus/pci/devices/{address}/driver_override`; \
         {}`echo {address} > /sys/bus/pci/drivers_probe`",
        driver.as_deref().map_or("no driver".to_string(), |d| format!("driver {d}")),
        driver.as_ref().map_or(String::new(), |_| format!(
            "`echo {address} > /sys/bus/pci/devices/{address}/driver/unbind`; "
        ))
    )]
    NotBoundToVfio {
        address: PciAddress,
        driver: Option<String>,
    },
    #[error(
        "IOMMU group {group} is not viable: every device in it must be bound to vfio-pci \
         (or to no driver) before VFIO may use the board. Rebind these the same way as the \
         board (driver_override = vfio-pci, unbind, drivers_probe): {}; or move the board to \
         a slot with its own IOMMU group",
        others.iter().map(|(a, d)| format!("{a} (driver {d})")).collect::<Vec<_>>().join(", ")
    )]
    GroupNotViable {
        group: u32,
        others: Vec<(String, String)>,
    },
    #[error(
        "{} is missing: the VFIO driver is not loaded. As root: `modprobe vfio-pci` \
         (and bind the board to it: driver_override = vfio-pci)",
        path.display()
    )]
    NoVfio { path: PathBuf },
    #[error(
        "cannot open {}: permission denied. Run as root, or give your user the IOMMU \
         group: `sudo chown $USER {}` (a udev rule makes it stick); DMA also needs locked \
         memory: `ulimit -l unlimited` or LimitMEMLOCK=infinity",
        path.display(),
        path.display()
    )]
    NoAccess { path: PathBuf },
    #[error(
        "IOMMU group {group} ({}) is already in use, by another riptide process or a \
         virtual machine: stop it first (`fuser -v {}` shows who holds it)",
        path.display(),
        path.display()
    )]
    GroupBusy { group: u32, path: PathBuf },
    #[error("opening {address} with VFIO failed while {step}")]
    Open {
        address: PciAddress,
        step: &'static str,
        source: io::Error,
    },
    #[error(
        "BAR {bar} of {address} is not present or cannot be mapped: is the riptide \
         bitstream (XDMA with the AXI-Lite master) loaded?"
    )]
    Bar { address: PciAddress, bar: Bar },
}

/// The name of the final component a symlink points to, if it is one.
fn link_name(path: &Path) -> Option<String> {
    let target = fs::read_link(path).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}

/// Checks everything VFIO needs before touching it; returns the IOMMU group.
pub fn preflight(paths: &SysPaths, address: PciAddress) -> Result<u32, VfioError> {
    let device = paths.device(address);
    if !device.exists() {
        return Err(VfioError::NoSuchDevice {
            address,
            path: device,
        });
    }
    let group_link = device.join("iommu_group");
    let group = link_name(&group_link)
        .and_then(|name| name.parse::<u32>().ok())
        .ok_or(VfioError::NoIommu {
            address,
            path: group_link,
        })?;
    let driver = link_name(&device.join("driver"));
    if driver.as_deref() != Some("vfio-pci") {
        return Err(VfioError::NotBoundToVfio { address, driver });
    }
    let mut others = Vec::new();
    if let Ok(entries) = fs::read_dir(paths.group_devices(group)) {
        for entry in entries.flatten() {
            let driver = link_name(&entry.path().join("driver"));
            if let Some(driver) = driver.filter(|d| !GROUP_SAFE_DRIVERS.contains(&d.as_str())) {
                others.push((entry.file_name().to_string_lossy().into_owned(), driver));
            }
        }
    }
    if !others.is_empty() {
        others.sort();
        return Err(VfioError::GroupNotViable { group, others });
    }
    let container = paths.vfio().join("vfio");
    if !container.exists() {
        return Err(VfioError::NoVfio { path: container });
    }
    let group_path = paths.vfio().join(group.to_string());
    if !group_path.exists() {
        return Err(VfioError::NoVfio { path: group_path });
    }
    for path in [&container, &group_path] {
        match fs::OpenOptions::new().read(true).write(true).open(path) {
            Ok(_) => {}
            Err(e) => return Err(open_error(e, group, path, address, "opening /dev/vfio")),
        }
    }
    Ok(group)
}

/// The typed error for an `io::Error` met while opening.
fn open_error(
    e: io::Error,
    group: u32,
    path: &Path,
    address: PciAddress,
    step: &'static str,
) -> VfioError {
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => VfioError::NoAccess {
            path: path.to_path_buf(),
        },
        Some(libc::EBUSY) => VfioError::GroupBusy {
            group,
            path: path.to_path_buf(),
        },
        _ => VfioError::Open {
            address,
            step,
            source: e,
        },
    }
}

/// What to map and enable when opening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VfioOptions {
    pub bars: Vec<Bar>,
    /// Wire MSI-X/MSI to an eventfd; without, waits poll.
    pub interrupts: bool,
}

/// How the device signals the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterruptMode {
    MsiX { vectors: usize },
    Msi { vectors: usize },
    Polling,
}

/// Anonymous, page-aligned, zeroed memory for DMA.
#[derive(Debug)]
struct HostMemory {
    ptr: *mut u8,
    len: usize,
}

impl HostMemory {
    fn new(len: usize) -> io::Result<HostMemory> {
        // SAFETY: an anonymous private mapping with no address hint aliases
        // nothing; the result is checked before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(HostMemory {
            ptr: ptr.cast(),
            len,
        })
    }
}

// SAFETY: the mapping is owned by exactly one `HostMemory` and only reached
// through `&mut VfioDevice`, so moving it to another thread (the NIC poll
// thread) cannot create shared access.
unsafe impl Send for HostMemory {}

impl Drop for HostMemory {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly the mapping made in `new`, and the
        // IOMMU mapping of it was removed before (see `VfioDevice::drop`).
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// A riptide board opened through VFIO.
#[derive(Debug)]
pub struct VfioDevice {
    address: PciAddress,
    ids: PciIds,
    bars: BTreeMap<Bar, MappedOwningPciRegion>,
    dma: BTreeMap<u64, HostMemory>,
    next_iova: u64,
    interrupts: InterruptMode,
    eventfd: Option<OwnedFd>,
    /// Declared last: dropped after the memory it maps is unmapped.
    device: VfioPciDevice,
}

impl VfioDevice {
    pub fn open(
        paths: &SysPaths,
        address: PciAddress,
        options: &VfioOptions,
    ) -> Result<VfioDevice, VfioError> {
        let group = preflight(paths, address)?;
        let group_path = paths.vfio().join(group.to_string());
        let device = VfioPciDevice::open(paths.device(address))
            .map_err(|e| open_error(e, group, &group_path, address, "opening the VFIO device"))?;
        let failed = |step: &'static str| {
            move |source| VfioError::Open {
                address,
                step,
                source,
            }
        };
        let config = device.config();
        let ids = PciIds {
            vendor: config
                .vendor_id()
                .read()
                .map_err(failed("reading the vendor id"))?,
            device: config
                .device_id()
                .read()
                .map_err(failed("reading the device id"))?,
        };
        // Without bus mastering the board cannot reach host memory.
        config
            .command()
            .bus_master_enable()
            .write(true)
            .map_err(failed("enabling bus mastering"))?;
        let mut bars = BTreeMap::new();
        for &bar in &options.bars {
            let region = device
                .bar(bar.into())
                .filter(|r| r.is_mappable())
                .ok_or(VfioError::Bar { address, bar })?;
            let mapped = region
                .map(.., Permissions::ReadWrite)
                .map_err(|_| VfioError::Bar { address, bar })?;
            bars.insert(bar, mapped);
        }
        let first_iova = {
            let iommu = device.iommu();
            let align = iommu.alignment() as u64;
            iommu
                .valid_iova_ranges()
                .first()
                .map_or(align, |r| r.start.div_ceil(align) * align)
        };
        let (interrupts, eventfd) = if options.interrupts {
            enable_interrupts(&device).map_err(failed("enabling MSI-X/MSI"))?
        } else {
            (InterruptMode::Polling, None)
        };
        Ok(VfioDevice {
            address,
            ids,
            bars,
            dma: BTreeMap::new(),
            next_iova: first_iova,
            interrupts,
            eventfd,
            device,
        })
    }

    pub fn address(&self) -> PciAddress {
        self.address
    }

    pub fn interrupt_mode(&self) -> InterruptMode {
        self.interrupts
    }

    fn bar(&self, bar: Bar) -> Result<&MappedOwningPciRegion, DeviceError> {
        self.bars.get(&bar).ok_or(DeviceError::NoBar { bar })
    }

    fn memory(&self, buffer: &DmaBuffer) -> Result<&HostMemory, DeviceError> {
        self.dma
            .get(&buffer.iova())
            .ok_or(DeviceError::UnknownBuffer {
                iova: buffer.iova(),
            })
    }
}

/// Wires every MSI-X (else MSI) vector to one eventfd: any vector wakes the
/// poller, which then looks at the rings. Falls back to polling.
fn enable_interrupts(device: &VfioPciDevice) -> io::Result<(InterruptMode, Option<OwnedFd>)> {
    let interrupts = device.interrupts();
    let (mechanism, msix) = if interrupts.msi_x().max() > 0 {
        (interrupts.msi_x(), true)
    } else if interrupts.msi().max() > 0 {
        (interrupts.msi(), false)
    } else {
        return Ok((InterruptMode::Polling, None));
    };
    let vectors = mechanism.max().min(MAX_VECTORS);
    // SAFETY: eventfd takes no pointers; the result is checked.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor owned by nobody else.
    let eventfd = unsafe { OwnedFd::from_raw_fd(fd) };
    mechanism.enable(&vec![eventfd.as_raw_fd(); vectors])?;
    let mode = if msix {
        InterruptMode::MsiX { vectors }
    } else {
        InterruptMode::Msi { vectors }
    };
    Ok((mode, Some(eventfd)))
}

impl PcieDevice for VfioDevice {
    fn ids(&self) -> PciIds {
        self.ids
    }

    fn read32(&mut self, bar: Bar, offset: u64) -> Result<u32, DeviceError> {
        let value = self
            .bar(bar)?
            .read_le_u32(offset)
            .map_err(|e| DeviceError::Mmio {
                bar,
                offset,
                reason: e.to_string(),
            })?;
        // Data the device wrote before this read is read after it.
        fence(Ordering::Acquire);
        Ok(value)
    }

    fn write32(&mut self, bar: Bar, offset: u64, value: u32) -> Result<(), DeviceError> {
        // Descriptors and data written to DMA memory before a doorbell must
        // be visible to the device before it sees the doorbell.
        fence(Ordering::SeqCst);
        self.bar(bar)?
            .write_le_u32(offset, value)
            .map_err(|e| DeviceError::Mmio {
                bar,
                offset,
                reason: e.to_string(),
            })
    }

    fn dma_map(&mut self, len: usize) -> Result<DmaBuffer, DeviceError> {
        let iommu = self.device.iommu();
        let align = iommu.alignment();
        let size = len.max(1).div_ceil(align) * align;
        let iova = self.next_iova;
        let fits = iommu
            .valid_iova_ranges()
            .iter()
            .any(|r| r.start <= iova && iova + size as u64 <= r.end);
        if !fits {
            return Err(DeviceError::DmaMap {
                len,
                reason: format!("no IOVA space left at {iova:#x}"),
            });
        }
        let memory = HostMemory::new(size).map_err(|e| DeviceError::DmaMap {
            len,
            reason: e.to_string(),
        })?;
        // SAFETY: the memory stays mapped in this process while the IOMMU maps
        // it: it is unmapped from the IOMMU before it is freed (`dma_unmap`,
        // `drop`), and VFIO pins the pages for the lifetime of the mapping.
        unsafe { iommu.map(iova, size, memory.ptr, Permissions::ReadWrite) }.map_err(|e| {
            DeviceError::DmaMap {
                len,
                reason: e.to_string(),
            }
        })?;
        self.next_iova = iova + size as u64;
        self.dma.insert(iova, memory);
        Ok(DmaBuffer::new(iova, len))
    }

    fn dma_unmap(&mut self, buffer: DmaBuffer) -> Result<(), DeviceError> {
        let size = self.memory(&buffer)?.len;
        self.device
            .iommu()
            .unmap(buffer.iova(), size)
            .map_err(|e| DeviceError::DmaMap {
                len: size,
                reason: format!("unmapping: {e}"),
            })?;
        self.dma.remove(&buffer.iova());
        Ok(())
    }

    fn dma_write(
        &mut self,
        buffer: &DmaBuffer,
        offset: usize,
        bytes: &[u8],
    ) -> Result<(), DeviceError> {
        check_dma_range(offset, bytes.len(), buffer.len())?;
        let memory = self.memory(buffer)?;
        // SAFETY: the range was checked against the buffer, which lies inside
        // the mapping; `bytes` is ordinary memory and cannot overlap it.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), memory.ptr.add(offset), bytes.len())
        };
        Ok(())
    }

    fn dma_read(
        &mut self,
        buffer: &DmaBuffer,
        offset: usize,
        out: &mut [u8],
    ) -> Result<(), DeviceError> {
        check_dma_range(offset, out.len(), buffer.len())?;
        let memory = self.memory(buffer)?;
        fence(Ordering::Acquire);
        // SAFETY: as in `dma_write`; the device writes these bytes, so they
        // are read volatile, one at a time, never cached by the compiler.
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = unsafe { std::ptr::read_volatile(memory.ptr.add(offset + i)) };
        }
        Ok(())
    }

    fn wait_interrupt(&mut self, timeout: Duration) -> Result<Wake, DeviceError> {
        let Some(eventfd) = &self.eventfd else {
            std::thread::sleep(timeout.min(POLL_INTERVAL));
            return Ok(Wake::Timeout);
        };
        let mut poll = libc::pollfd {
            fd: eventfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut poll, 1, millis) };
        if ready < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::Interrupted => Ok(Wake::Timeout),
                _ => Err(DeviceError::Interrupt(e.to_string())),
            };
        }
        if ready == 0 {
            return Ok(Wake::Timeout);
        }
        let mut count = [0u8; 8];
        // SAFETY: reads 8 bytes into a local 8-byte buffer. An eventfd read
        // resets its counter, re-arming the wait.
        let read = unsafe { libc::read(eventfd.as_raw_fd(), count.as_mut_ptr().cast(), 8) };
        if read != 8 {
            return Err(DeviceError::Interrupt(
                io::Error::last_os_error().to_string(),
            ));
        }
        Ok(Wake::Interrupt)
    }
}

impl Drop for VfioDevice {
    /// Interrupts off and every IOMMU mapping removed before the memory goes.
    fn drop(&mut self) {
        let interrupts = self.device.interrupts();
        let _ = match self.interrupts {
            InterruptMode::MsiX { .. } => interrupts.msi_x().disable(),
            InterruptMode::Msi { .. } => interrupts.msi().disable(),
            InterruptMode::Polling => Ok(()),
        };
        let iommu = self.device.iommu();
        for (iova, memory) in &self.dma {
            let _ = iommu.unmap(*iova, memory.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print_canonically() {
        let a: PciAddress = "0000:3b:00.0".parse().unwrap();
        assert_eq!(
            a,
            PciAddress {
                domain: 0,
                bus: 0x3b,
                device: 0,
                function: 0
            }
        );
        assert_eq!(a.to_string(), "0000:3b:00.0");
        assert_eq!(
            "3B:1f.7".parse::<PciAddress>().unwrap().to_string(),
            "0000:3b:1f.7"
        );
        assert_eq!(parse_nic_spec("vfio:0001:02:03.4").unwrap().domain, 1);
    }

    #[test]
    fn bad_addresses_are_typed_errors_naming_the_input() {
        for bad in [
            "",
            "3b:00",
            "0000:3b:00.8",
            "0000:3b:20.0",
            "00000:3b:00.0",
            "x:3b:00.0",
            "0000:3b:00.0.1",
            "a:b:c:d.0",
        ] {
            match bad.parse::<PciAddress>() {
                Err(VfioError::BadAddress { input, .. }) => assert_eq!(input, bad),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }
}

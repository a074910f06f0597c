//! UDP sockets driven by one io_uring: batched receive and send, no syscall
//! per packet in the steady state.
//!
//! Every socket has one multishot `recvmsg` armed: the kernel completes it
//! once per datagram, into a buffer it picks from a ring of provided buffers
//! allocated once (`IORING_REGISTER_PBUF_RING`), and the buffer goes back to
//! that ring as soon as the datagram was handled. One armed operation per
//! socket, so a datagram wakes one receive, not every receive posted (which
//! single-shot receives did: the others completed with `EAGAIN`), and no
//! receive is re-submitted per datagram. Sends take a
//! slot from a fixed pool of `sendmsg` slots (the datagram's bytes are moved
//! in, not copied); when every slot is in flight, sends wait in a bounded
//! backlog, and past it they are dropped and counted, as a full NIC queue
//! drops. One `io_uring_enter` per loop iteration submits every queued send
//! and re-posted receive and waits for the next completion or the deadline,
//! so a burst of N datagrams costs one syscall, not N.
//!
//! Consecutive sends of equal length from one socket to one address (a
//! leader's replies to a batch of writes from one client process, a load
//! generator's requests) go out as one `sendmsg` with `UDP_SEGMENT`: the
//! kernel routes and wakes the receiver once for the lot and still delivers
//! separate datagrams. Each `sendmsg` on loopback also runs the receiver's
//! network stack and wakeup, which is most of a leader's CPU per reply.
//!
//! The pools live in boxed slices that never move or shrink while the ring
//! lives: the kernel holds pointers into them for every operation in flight.
//! Dropping the ring cancels every operation and waits for them first.
//! Nothing on the hot path allocates: completions are collected into
//! vectors kept across iterations.

use std::collections::VecDeque;
use std::io;
use std::mem;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::{BufRingEntry, CancelBuilder, Fd, RecvMsgOut, SubmitArgs, Timespec};
use io_uring::{IoUring, cqueue, opcode, squeue};
use serde::{Deserialize, Serialize};
use tracing::warn;

/// Index of a socket in the order given to [`UdpRing::new`].
pub type SocketId = usize;

/// Buffer size of a provided receive buffer: the multishot header, the
/// source address, and any UDP payload over IPv4, so nothing is truncated.
const RECV_BUFFER: usize = (1 << 16) + 256;

/// The provided buffers' group id (one group serves every socket).
const BUFFER_GROUP: u16 = 0;

/// Kernel socket buffer size asked for: bursts of a benchmark must not
/// overflow the default (about 200 KiB) before the loop drains them.
const SOCKET_BUFFER: libc::c_int = 4 << 20;

/// Datagrams coalesced into one `sendmsg` at most (the kernel's
/// `UDP_MAX_SEGMENTS` is 64 on older kernels).
const MAX_SEGMENTS: u64 = 64;

/// Longest datagram coalesced: a segment must fit the path's MTU, where a
/// datagram of its own would be fragmented instead of refused.
const MAX_SEGMENT: usize = 1400;

/// Bytes of one coalesced `sendmsg` at most: an IPv4 packet's limit, with
/// room for headers.
const MAX_COALESCED: usize = 65_000;

/// Room for one control message holding a `u16` (`CMSG_SPACE(2)` is 24 on
/// 64-bit Linux), 8-byte aligned as `cmsghdr` needs.
const CONTROL_WORDS: usize = 4;

const KIND_RECV: u64 = 1 << 32;
const KIND_SEND: u64 = 2 << 32;
const SLOT_MASK: u64 = (1 << 32) - 1;

/// Pool sizes.
#[derive(Debug, Clone, Copy)]
pub struct RingOptions {
    /// Provided receive buffers, shared by the sockets (a power of two):
    /// datagrams received and not yet handled at most.
    pub recv_buffers: usize,
    /// `sendmsg` operations in flight at most.
    pub send_slots: usize,
    /// Sends waiting for a slot at most; more are dropped.
    pub backlog: usize,
    /// Whether equal-length sends to one address share a `sendmsg`
    /// (`UDP_SEGMENT`).
    pub coalesce: bool,
}

impl Default for RingOptions {
    fn default() -> RingOptions {
        RingOptions {
            recv_buffers: 128,
            send_slots: 256,
            backlog: 8192,
            coalesce: true,
        }
    }
}

/// What the transport did, for status dumps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportStats {
    /// Datagrams received (on every socket of the ring).
    pub received: u64,
    /// Receives that failed with an error other than "nothing there":
    /// no datagram was lost to them that the kernel had delivered.
    pub receive_errors: u64,
    /// Times a socket's multishot receive stopped because every provided
    /// buffer held a datagram not yet handled (it is armed again once they
    /// are); datagrams meanwhile wait in the socket's kernel buffer.
    #[serde(default)]
    pub out_of_buffers: u64,
    /// Datagrams the kernel accepted for sending.
    pub sent: u64,
    /// Sends that failed (an unreachable address, a bad range).
    pub send_errors: u64,
    /// Sends dropped because the slots and the backlog were full.
    pub send_dropped: u64,
    /// `io_uring_enter` calls: compare with `received + sent` to see the batching.
    pub enters: u64,
    /// Datagrams of `sent` that shared a `sendmsg` with others (`UDP_SEGMENT`).
    #[serde(default)]
    pub coalesced: u64,
}

/// A datagram to send: `bytes[range]` to `to` from socket `socket`. Sending
/// a range lets a caller hand over a buffer with headers in front (a NIC
/// frame) without copying the datagram out of it.
#[derive(Debug)]
pub struct Outbound {
    pub socket: SocketId,
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
    pub range: Range<usize>,
}

impl Outbound {
    pub fn whole(socket: SocketId, to: SocketAddr, bytes: Vec<u8>) -> Outbound {
        let range = 0..bytes.len();
        Outbound {
            socket,
            to,
            bytes,
            range,
        }
    }
}

/// The `msghdr` a socket's multishot receive reads its limits from (the
/// name length: room for any source address; no control data).
struct RecvArm {
    msg: libc::msghdr,
}

/// The provided buffers and the ring the kernel takes them from: a
/// page-aligned array of `BufRingEntry`, whose first entry's spare field is
/// the tail the application advances.
struct BufferRing {
    entries: *mut BufRingEntry,
    layout: Layout,
    buffers: Box<[u8]>,
    count: u16,
    /// The tail as the application last published it.
    tail: u16,
}

impl BufferRing {
    fn new(count: usize) -> io::Result<BufferRing> {
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "recv_buffers");
        if !count.is_power_of_two() || count > 1 << 15 {
            return Err(invalid());
        }
        let layout = Layout::from_size_align(count * mem::size_of::<BufRingEntry>(), 4096)
            .map_err(|_| invalid())?;
        // SAFETY: a non-zero size; all-zero entries are valid.
        let entries = unsafe { alloc_zeroed(layout) }.cast::<BufRingEntry>();
        if entries.is_null() {
            return Err(io::Error::new(io::ErrorKind::OutOfMemory, "buffer ring"));
        }
        let mut ring = BufferRing {
            entries,
            layout,
            // Zeroed and untouched until the kernel writes a datagram: only
            // the pages datagrams land in become resident.
            buffers: vec![0; count * RECV_BUFFER].into_boxed_slice(),
            count: count as u16,
            tail: 0,
        };
        for bid in 0..ring.count {
            ring.push(bid);
        }
        ring.publish();
        Ok(ring)
    }

    fn buffer(&self, bid: u16) -> &[u8] {
        let start = usize::from(bid) * RECV_BUFFER;
        &self.buffers[start..start + RECV_BUFFER]
    }

    /// Gives buffer `bid` back to the kernel (visible after `publish`).
    fn push(&mut self, bid: u16) {
        let index = usize::from(self.tail & (self.count - 1));
        let addr = self.buffers[usize::from(bid) * RECV_BUFFER..].as_ptr() as u64;
        // SAFETY: index < count, within the allocation; the kernel reads
        // entries only between the head and the published tail, and this
        // one is past it.
        let entry = unsafe { &mut *self.entries.add(index) };
        entry.set_addr(addr);
        entry.set_len(RECV_BUFFER as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes every pushed buffer available to the kernel.
    fn publish(&self) {
        // SAFETY: the tail field lies in the first entry, which is
        // allocated and aligned for a u16; the kernel reads it concurrently,
        // hence the atomic release store after the entries were written.
        unsafe {
            let tail = BufRingEntry::tail(self.entries).cast_mut();
            AtomicU16::from_ptr(tail).store(self.tail, Ordering::Release);
        }
    }
}

impl Drop for BufferRing {
    fn drop(&mut self) {
        // Null when a ring that would not give its operations back leaked it.
        if !self.entries.is_null() {
            // SAFETY: allocated in `new` with this layout.
            unsafe { dealloc(self.entries.cast(), self.layout) };
        }
    }
}

/// One `sendmsg`: a datagram, or `datagrams` of `segment` bytes each to one
/// address.
struct SendOp {
    socket: SocketId,
    to: SocketAddr,
    bytes: Vec<u8>,
    range: Range<usize>,
    segment: Option<u16>,
    datagrams: u64,
}

impl SendOp {
    fn single(out: Outbound) -> SendOp {
        SendOp {
            socket: out.socket,
            to: out.to,
            bytes: out.bytes,
            range: out.range,
            segment: None,
            datagrams: 1,
        }
    }
}

struct SendSlot {
    bytes: Vec<u8>,
    addr: libc::sockaddr_storage,
    iov: libc::iovec,
    msg: libc::msghdr,
    control: [u64; CONTROL_WORDS],
    /// Datagrams the operation in flight carries, and whether it is
    /// coalesced.
    datagrams: u64,
    coalesced: bool,
}

/// Sockets and one io_uring. Not `Send`: the kernel holds raw pointers into
/// the pools, and one thread owns the network.
pub struct UdpRing {
    // Dropped first: the kernel releases the buffers before they are freed.
    ring: IoUring,
    sockets: Vec<UdpSocket>,
    arms: Box<[RecvArm]>,
    buffers: BufferRing,
    send: Box<[SendSlot]>,
    free_send: Vec<usize>,
    /// Sends queued since the last enter, coalesced when it submits them.
    pending: Vec<Outbound>,
    backlog: VecDeque<SendOp>,
    backlog_limit: usize,
    /// Cleared for good when the kernel refuses a coalesced send.
    coalesce: bool,
    /// Receive completions not yet handed out: (socket, result, flags).
    received: Vec<(SocketId, i32, u32)>,
    /// Completions of the last reap, kept to reuse its allocation.
    completions: Vec<(u64, i32, u32)>,
    /// Sockets whose multishot receive ended and must be armed again.
    disarmed: Vec<SocketId>,
    in_flight: usize,
    stats: TransportStats,
}

impl UdpRing {
    /// Takes over `sockets` and posts their receives.
    pub fn new(sockets: Vec<UdpSocket>, options: RingOptions) -> io::Result<UdpRing> {
        for socket in &sockets {
            // Non-blocking, so io_uring arms a poll for a receive that has
            // nothing yet instead of parking a worker thread in it: no
            // thread hop per datagram, and cancellation is immediate.
            socket.set_nonblocking(true)?;
            grow_buffers(socket);
        }
        let ops = sockets.len() + options.send_slots;
        let entries = u32::try_from(ops.next_power_of_two())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too many ring operations"))?;
        // Completions of a multishot receive do not consume submissions:
        // room for a burst of datagrams and every send.
        let ring = IoUring::builder()
            .setup_cqsize((entries * 2).max(2 * options.recv_buffers as u32))
            .build(entries)?;
        let buffers = BufferRing::new(options.recv_buffers)?;
        // SAFETY: the entries stay allocated and in place until the ring is
        // dropped (the ring field is dropped before the buffers field).
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                buffers.entries as u64,
                buffers.count,
                BUFFER_GROUP,
                0,
            )?;
        }
        let arms: Box<[RecvArm]> = sockets
            .iter()
            .map(|_| {
                // SAFETY: all-zero is a valid msghdr.
                let mut msg: libc::msghdr = unsafe { mem::zeroed() };
                msg.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                RecvArm { msg }
            })
            .collect();
        let send: Box<[SendSlot]> = (0..options.send_slots)
            .map(|_| SendSlot {
                bytes: Vec::new(),
                // SAFETY: all-zero bytes are a valid sockaddr_storage / iovec / msghdr.
                addr: unsafe { mem::zeroed() },
                iov: unsafe { mem::zeroed() },
                msg: unsafe { mem::zeroed() },
                control: [0; CONTROL_WORDS],
                datagrams: 0,
                coalesced: false,
            })
            .collect();
        let mut this = UdpRing {
            ring,
            arms,
            buffers,
            send,
            free_send: (0..options.send_slots).rev().collect(),
            pending: Vec::new(),
            backlog: VecDeque::new(),
            backlog_limit: options.backlog,
            coalesce: options.coalesce,
            received: Vec::new(),
            completions: Vec::new(),
            disarmed: Vec::new(),
            in_flight: 0,
            stats: TransportStats::default(),
            sockets,
        };
        for socket in 0..this.sockets.len() {
            this.arm_recv(socket)?;
        }
        Ok(this)
    }

    pub fn local_addr(&self, socket: SocketId) -> io::Result<SocketAddr> {
        self.sockets[socket].local_addr()
    }

    pub fn stats(&self) -> TransportStats {
        self.stats
    }

    /// Queues a datagram; it goes out with the next [`UdpRing::wait`].
    pub fn send(&mut self, out: Outbound) {
        if out.range.end > out.bytes.len() || out.range.start > out.range.end {
            self.stats.send_errors += 1;
            return;
        }
        self.pending.push(out);
    }

    /// Turns the queued sends into `sendmsg` operations: each run of
    /// equal-length datagrams from one socket to one address becomes one,
    /// its datagrams copied into one buffer; a datagram alone is moved.
    fn flush_pending(&mut self) {
        let mut pending = mem::take(&mut self.pending);
        let mut queued = pending.drain(..).peekable();
        while let Some(first) = queued.next() {
            let len = first.range.len();
            let joins = |next: &Outbound| {
                next.socket == first.socket && next.to == first.to && next.range.len() == len
            };
            let coalesce = self.coalesce
                && (1..=MAX_SEGMENT).contains(&len)
                && queued.peek().is_some_and(joins);
            if !coalesce {
                self.queue_op(SendOp::single(first));
                continue;
            }
            let mut bytes = Vec::with_capacity(MAX_COALESCED.min(len * MAX_SEGMENTS as usize));
            bytes.extend_from_slice(&first.bytes[first.range.clone()]);
            let mut datagrams = 1;
            while datagrams < MAX_SEGMENTS && bytes.len() + len <= MAX_COALESCED {
                let Some(next) = queued.next_if(joins) else {
                    break;
                };
                bytes.extend_from_slice(&next.bytes[next.range]);
                datagrams += 1;
            }
            self.queue_op(SendOp {
                socket: first.socket,
                to: first.to,
                range: 0..bytes.len(),
                bytes,
                // Within MAX_SEGMENT.
                segment: (datagrams > 1).then_some(len as u16),
                datagrams,
            });
        }
        drop(queued);
        // Kept for its capacity.
        self.pending = pending;
    }

    fn queue_op(&mut self, op: SendOp) {
        match self.free_send.pop() {
            Some(slot) => self.post_send(slot, op),
            None if self.backlog.len() < self.backlog_limit => self.backlog.push_back(op),
            None => self.stats.send_dropped += op.datagrams,
        }
    }

    /// Submits everything queued and waits until something completes or
    /// `deadline` passes (`None`: no deadline). Completions are collected;
    /// received datagrams are then handed out by [`UdpRing::drain_received`].
    pub fn wait(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        self.flush_pending();
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        self.stats.enters += 1;
        let result = match timeout {
            Some(Duration::ZERO) => self.ring.submit(),
            Some(timeout) => {
                let ts = Timespec::from(timeout);
                let args = SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
            None => self.ring.submit_and_wait(1),
        };
        match result {
            Ok(_) => {}
            // The deadline passed, or a signal arrived: both just end the wait.
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
            Err(e) => return Err(e),
        }
        self.reap();
        Ok(())
    }

    /// Hands every datagram received so far to `handle(socket, from, bytes)`,
    /// then gives its buffer back to the kernel.
    pub fn drain_received(
        &mut self,
        mut handle: impl FnMut(SocketId, SocketAddr, &[u8]),
    ) -> io::Result<()> {
        let mut received = mem::take(&mut self.received);
        for &(socket, result, flags) in &received {
            let Some(bid) = cqueue::buffer_select(flags) else {
                // No buffer: the receive failed (or ran out of buffers).
                match -result {
                    libc::ENOBUFS => self.stats.out_of_buffers += 1,
                    _ => self.stats.receive_errors += 1,
                }
                continue;
            };
            let used = usize::try_from(result).unwrap_or(0).min(RECV_BUFFER);
            let buffer = &self.buffers.buffer(bid)[..used];
            match RecvMsgOut::parse(buffer, &self.arms[socket].msg) {
                Ok(out) if !out.is_payload_truncated() && !out.is_name_data_truncated() => {
                    self.stats.received += 1;
                    if let Some(from) = sockaddr_from_bytes(out.name_data()) {
                        handle(socket, from, out.payload_data());
                    }
                }
                _ => self.stats.receive_errors += 1,
            }
            self.buffers.push(bid);
        }
        self.buffers.publish();
        received.clear();
        self.received = received;
        // Armed again only now that buffers are back: armed earlier, a
        // receive that ran out would stop again at once.
        while let Some(socket) = self.disarmed.pop() {
            self.arm_recv(socket)?;
        }
        Ok(())
    }

    fn reap(&mut self) {
        let mut completions = mem::take(&mut self.completions);
        completions.clear();
        completions.extend(
            self.ring
                .completion()
                .map(|cqe| (cqe.user_data(), cqe.result(), cqe.flags())),
        );
        for &(user_data, result, flags) in &completions {
            let slot = (user_data & SLOT_MASK) as usize;
            if user_data & !SLOT_MASK == KIND_RECV {
                if !cqueue::more(flags) {
                    self.in_flight -= 1;
                    self.disarmed.push(slot);
                }
                self.received.push((slot, result, flags));
            } else {
                self.in_flight -= 1;
                let (datagrams, coalesced) = (self.send[slot].datagrams, self.send[slot].coalesced);
                if result < 0 {
                    self.stats.send_errors += datagrams;
                    // What a kernel or path without UDP segmentation answers:
                    // from now on every datagram goes alone.
                    let unsupported =
                        [libc::EIO, libc::EINVAL, libc::EOPNOTSUPP, libc::ENOPROTOOPT];
                    if coalesced && self.coalesce && unsupported.contains(&-result) {
                        self.coalesce = false;
                        warn!(
                            error = %io::Error::from_raw_os_error(-result),
                            "a coalesced send (UDP_SEGMENT) failed: sending datagrams one by one"
                        );
                    }
                } else {
                    self.stats.sent += datagrams;
                    if coalesced {
                        self.stats.coalesced += datagrams;
                    }
                }
                self.send[slot].bytes = Vec::new();
                match self.backlog.pop_front() {
                    Some(out) => self.post_send(slot, out),
                    None => self.free_send.push(slot),
                }
            }
        }
        self.completions = completions;
    }

    fn arm_recv(&mut self, socket: SocketId) -> io::Result<()> {
        let fd = Fd(self.sockets[socket].as_raw_fd());
        let entry = opcode::RecvMsgMulti::new(fd, &raw const self.arms[socket].msg, BUFFER_GROUP)
            .build()
            .user_data(KIND_RECV | socket as u64);
        self.push(entry)
    }

    fn post_send(&mut self, slot: usize, out: SendOp) {
        let Some(fd) = self.sockets.get(out.socket).map(|s| Fd(s.as_raw_fd())) else {
            self.stats.send_errors += out.datagrams;
            self.free_send.push(slot);
            return;
        };
        let s = &mut self.send[slot];
        s.bytes = out.bytes;
        s.datagrams = out.datagrams;
        s.coalesced = out.segment.is_some();
        let (addr, addr_len) = to_sockaddr(out.to);
        s.addr = addr;
        let data = &mut s.bytes[out.range];
        s.iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        // SAFETY: all-zero is a valid msghdr.
        s.msg = unsafe { mem::zeroed() };
        s.msg.msg_name = (&raw mut s.addr).cast();
        s.msg.msg_namelen = addr_len;
        s.msg.msg_iov = &raw mut s.iov;
        s.msg.msg_iovlen = 1;
        if let Some(segment) = out.segment {
            s.msg.msg_control = s.control.as_mut_ptr().cast();
            // SAFETY: CMSG_SPACE is arithmetic; CONTROL_WORDS words hold
            // it, so the first header and its u16 lie within `control`,
            // which is aligned for cmsghdr.
            unsafe {
                s.msg.msg_controllen = libc::CMSG_SPACE(2) as _;
                let cmsg = libc::CMSG_FIRSTHDR(&raw const s.msg);
                (*cmsg).cmsg_level = libc::SOL_UDP;
                (*cmsg).cmsg_type = libc::UDP_SEGMENT;
                (*cmsg).cmsg_len = libc::CMSG_LEN(2) as _;
                libc::CMSG_DATA(cmsg).cast::<u16>().write_unaligned(segment);
            }
        }
        let entry = opcode::SendMsg::new(fd, &raw const s.msg)
            .build()
            .user_data(KIND_SEND | slot as u64);
        if self.push(entry).is_err() {
            self.stats.send_errors += self.send[slot].datagrams;
            self.send[slot].bytes = Vec::new();
            self.free_send.push(slot);
        }
    }

    fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        // The queue holds every operation the pools allow, so it is full only
        // if submissions piled up since the last enter: submit and retry.
        loop {
            // SAFETY: the entry points into the pools, which outlive the
            // operation (they are freed only after Drop cancelled and reaped
            // every operation in flight).
            if unsafe { self.ring.submission().push(&entry) }.is_ok() {
                self.in_flight += 1;
                return Ok(());
            }
            self.ring.submit()?;
        }
    }
}

impl Drop for UdpRing {
    fn drop(&mut self) {
        let timeout = Timespec::from(Duration::from_secs(1));
        // Entries still queued are not in the kernel yet, so no cancel would
        // find them: submit them first, then cancel everything.
        let _ = self.ring.submit();
        let _ = self
            .ring
            .submitter()
            .register_sync_cancel(Some(timeout), CancelBuilder::any());
        // Reap until the kernel holds no pointer into the pools.
        let pause = Timespec::from(Duration::from_millis(10));
        for _ in 0..100 {
            for cqe in self.ring.completion() {
                if cqe.user_data() & !SLOT_MASK != KIND_RECV || !cqueue::more(cqe.flags()) {
                    self.in_flight -= 1;
                }
            }
            if self.in_flight == 0 {
                return;
            }
            let args = SubmitArgs::new().timespec(&pause);
            let _ = self.ring.submitter().submit_with_args(1, &args);
        }
        // Operations the kernel would not give back: leak the pools rather
        // than let it write into freed memory.
        mem::forget(mem::take(&mut self.send));
        let buffers = mem::replace(&mut self.buffers.buffers, Box::new([]));
        mem::forget(buffers);
        self.buffers.entries = std::ptr::null_mut();
    }
}

fn grow_buffers(socket: &UdpSocket) {
    let size = SOCKET_BUFFER;
    // The FORCE options pass the system's `rmem_max`/`wmem_max` cap, as root
    // may; otherwise the plain options get as much as the cap allows.
    for (forced, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        let set = |option| {
            // SAFETY: a valid fd and a c_int option value of the right size.
            unsafe {
                libc::setsockopt(
                    socket.as_raw_fd(),
                    libc::SOL_SOCKET,
                    option,
                    (&raw const size).cast(),
                    mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            }
        };
        // Failure of both only leaves the default size.
        if set(forced) != 0 {
            set(plain);
        }
    }
}

fn to_sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { (&raw mut storage).cast::<libc::sockaddr_in>().write(sin) };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { (&raw mut storage).cast::<libc::sockaddr_in6>().write(sin6) };
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// The source address a multishot receive wrote into its buffer.
fn sockaddr_from_bytes(bytes: &[u8]) -> Option<SocketAddr> {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = bytes.len().min(mem::size_of::<libc::sockaddr_storage>());
    // SAFETY: at most the storage's size, from a slice of at least `len`.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), (&raw mut storage).cast::<u8>(), len);
    }
    from_sockaddr(&storage)
}

fn from_sockaddr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = sin.sin_addr.s_addr.to_ne_bytes();
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip.into(),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            Some(SocketAddr::V6(SocketAddrV6::new(
                sin6.sin6_addr.s6_addr.into(),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound() -> UdpSocket {
        UdpSocket::bind("127.0.0.1:0").unwrap()
    }

    fn collect(ring: &mut UdpRing, want: usize) -> Vec<(SocketId, SocketAddr, Vec<u8>)> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        while got.len() < want && Instant::now() < deadline {
            ring.wait(Some(deadline)).unwrap();
            ring.drain_received(|socket, from, bytes| got.push((socket, from, bytes.to_vec())))
                .unwrap();
        }
        got
    }

    #[test]
    fn sockaddrs_round_trip() {
        for addr in ["127.0.0.1:7100", "[::1]:9", "10.1.2.3:65535"] {
            let addr: SocketAddr = addr.parse().unwrap();
            let (storage, _) = to_sockaddr(addr);
            assert_eq!(from_sockaddr(&storage), Some(addr));
        }
    }

    #[test]
    fn a_burst_is_received_in_few_enters_and_echoed() {
        let peer = bound();
        let mut ring = UdpRing::new(vec![bound(), bound()], RingOptions::default()).unwrap();
        let target = ring.local_addr(1).unwrap();
        for i in 0..100u8 {
            peer.send_to(&[i; 3], target).unwrap();
        }
        let got = collect(&mut ring, 100);
        assert_eq!(got.len(), 100);
        assert!(
            got.iter()
                .all(|(socket, from, _)| *socket == 1 && *from == peer.local_addr().unwrap())
        );
        let mut firsts: Vec<u8> = got.iter().map(|(_, _, b)| b[0]).collect();
        firsts.sort_unstable();
        assert_eq!(firsts, (0..100).collect::<Vec<u8>>());
        assert!(ring.stats().enters < 50, "{:?}", ring.stats());

        // Send a range of a larger buffer back from socket 0.
        let to = peer.local_addr().unwrap();
        ring.send(Outbound {
            socket: 0,
            to,
            bytes: b"headerpayload".to_vec(),
            range: 6..13,
        });
        ring.wait(Some(Instant::now() + Duration::from_millis(100)))
            .unwrap();
        let mut buf = [0; 64];
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let (len, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"payload");
        assert_eq!(from, ring.local_addr(0).unwrap());
    }

    #[test]
    fn more_sends_than_slots_wait_in_the_backlog_then_drop() {
        let peer = bound();
        let options = RingOptions {
            recv_buffers: 2,
            send_slots: 4,
            backlog: 6,
            // Else the twelve equal datagrams would be one send.
            coalesce: false,
        };
        let mut ring = UdpRing::new(vec![bound()], options).unwrap();
        let to = peer.local_addr().unwrap();
        for i in 0..12u8 {
            ring.send(Outbound::whole(0, to, vec![i]));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while ring.stats().sent < 10 && Instant::now() < deadline {
            ring.wait(Some(Instant::now() + Duration::from_millis(10)))
                .unwrap();
        }
        assert_eq!(ring.stats().sent, 10);
        assert_eq!(ring.stats().send_dropped, 2);
        let mut buf = [0; 8];
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut seen: Vec<u8> = (0..10)
            .map(|_| {
                peer.recv_from(&mut buf).unwrap();
                buf[0]
            })
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<u8>>());
    }

    #[test]
    fn equal_sends_to_one_address_share_a_sendmsg_and_arrive_as_separate_datagrams() {
        let peer = bound();
        let other = bound();
        let mut ring = UdpRing::new(vec![bound()], RingOptions::default()).unwrap();
        let (to, to_other) = (peer.local_addr().unwrap(), other.local_addr().unwrap());
        let datagram = |i: u8, len: usize| {
            let mut bytes = vec![i; len + 2];
            // A range, as a NIC frame is sent: only bytes 1..=len go out.
            bytes[0] = 0xee;
            Outbound {
                socket: 0,
                to,
                range: 1..len + 1,
                bytes,
            }
        };
        // 70 of 40 bytes (two sendmsgs: 64 segments at most), one of
        // another length, one to another address, 3 more of 40 bytes.
        for i in 0..70 {
            ring.send(datagram(i, 40));
        }
        ring.send(datagram(70, 41));
        ring.send(Outbound::whole(0, to_other, vec![71; 40]));
        for i in 72..75 {
            ring.send(datagram(i, 40));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while ring.stats().sent + ring.stats().send_errors < 75 && Instant::now() < deadline {
            ring.wait(Some(Instant::now() + Duration::from_millis(10)))
                .unwrap();
        }
        let stats = ring.stats();
        assert_eq!((stats.sent, stats.send_errors), (75, 0), "{stats:?}");
        assert_eq!(stats.coalesced, 73, "{stats:?}");
        peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 100];
        let mut seen = Vec::new();
        for _ in 0..74 {
            let n = peer.recv(&mut buf).unwrap();
            assert!(buf[..n].iter().all(|&b| b == buf[0]), "{:?}", &buf[..n]);
            assert_eq!(n, if buf[0] == 70 { 41 } else { 40 });
            seen.push(buf[0]);
        }
        seen.sort_unstable();
        let want: Vec<u8> = (0..75).filter(|&i| i != 71).collect();
        assert_eq!(seen, want);
        assert_eq!(other.recv(&mut buf).unwrap(), 40);
        assert_eq!(buf[0], 71);
    }

    #[test]
    fn without_coalescing_each_datagram_is_its_own_sendmsg() {
        let peer = bound();
        let options = RingOptions {
            coalesce: false,
            ..RingOptions::default()
        };
        let mut ring = UdpRing::new(vec![bound()], options).unwrap();
        let to = peer.local_addr().unwrap();
        for i in 0..10u8 {
            ring.send(Outbound::whole(0, to, vec![i; 30]));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while ring.stats().sent < 10 && Instant::now() < deadline {
            ring.wait(Some(Instant::now() + Duration::from_millis(10)))
                .unwrap();
        }
        assert_eq!((ring.stats().sent, ring.stats().coalesced), (10, 0));
        let mut buf = [0u8; 100];
        for _ in 0..10 {
            assert_eq!(peer.recv(&mut buf).unwrap(), 30);
        }
    }

    #[test]
    fn a_burst_beyond_the_provided_buffers_is_received_whole() {
        let peer = bound();
        let options = RingOptions {
            recv_buffers: 4,
            ..RingOptions::default()
        };
        let mut ring = UdpRing::new(vec![bound()], options).unwrap();
        let target = ring.local_addr(0).unwrap();
        for i in 0..40u8 {
            peer.send_to(&[i; 100], target).unwrap();
        }
        // Let the whole burst reach the socket before the first drain, so
        // the multishot receive runs out of its four buffers.
        std::thread::sleep(Duration::from_millis(50));
        let got = collect(&mut ring, 40);
        let mut firsts: Vec<u8> = got.iter().map(|(_, _, b)| b[0]).collect();
        firsts.sort_unstable();
        assert_eq!(firsts, (0..40).collect::<Vec<u8>>());
        assert!(got.iter().all(|(_, _, b)| b.len() == 100));
        let stats = ring.stats();
        assert!(stats.out_of_buffers > 0, "{stats:?}");
        assert_eq!(stats.receive_errors, 0, "{stats:?}");
    }

    #[test]
    fn dropping_a_ring_with_receives_posted_returns_promptly() {
        let start = Instant::now();
        for _ in 0..10 {
            drop(UdpRing::new(vec![bound(), bound()], RingOptions::default()).unwrap());
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn a_deadline_ends_an_idle_wait() {
        let mut ring = UdpRing::new(vec![bound()], RingOptions::default()).unwrap();
        let start = Instant::now();
        ring.wait(Some(start + Duration::from_millis(20))).unwrap();
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(15) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
    }

    #[test]
    fn big_datagrams_are_all_received_and_no_receive_is_an_error() {
        let peer = bound();
        let mut ring = UdpRing::new(vec![bound()], RingOptions::default()).unwrap();
        let target = ring.local_addr(0).unwrap();
        const COUNT: u64 = 1_500;
        // Paced so the socket's buffer never overflows: every datagram
        // sent is one the ring must receive.
        let sender = std::thread::spawn(move || {
            let big = vec![7u8; riptide_wire::layout::MAX_DATAGRAM];
            for i in 0..COUNT {
                peer.send_to(&big, target).unwrap();
                if i % 4 == 0 {
                    std::thread::sleep(Duration::from_micros(300));
                }
            }
        });
        let got = collect(&mut ring, COUNT as usize);
        sender.join().unwrap();
        let stats = ring.stats();
        assert_eq!(got.len() as u64, COUNT, "{stats:?}");
        assert!(
            got.iter()
                .all(|(_, _, b)| b.len() == riptide_wire::layout::MAX_DATAGRAM)
        );
        assert_eq!(stats.received, COUNT, "{stats:?}");
        assert_eq!(stats.receive_errors, 0, "{stats:?}");
    }
}

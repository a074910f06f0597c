//! Frame store: the receive buffer between the parser and the card-to-host
//! writer, in block RAM (512-bit words). Store-and-forward is required: a
//! frame's length checks complete at `tlast`, and a bad frame must never
//! reach the host.
//!
//! Frames are written as they arrive. With the frame's last beat the fast
//! path says whether it keeps the frame (a host record will read it); if not,
//! the write pointer rolls back to the frame's start, so dropped, re-acked and
//! network-only frames cost no buffer space. A frame that finds the buffer
//! full loses its remaining beats and is reported as overflowed.

use crate::beat::Data;
use rust_hdl::prelude::*;

/// Address width: 2^8 beats of 64 bytes = 16 KiB, a 9000-byte jumbo frame fits.
pub const STORE_ADDR_BITS: usize = 8;
pub type Addr = Bits<STORE_ADDR_BITS>;

#[derive(LogicBlock, Default)]
pub struct FrameStore {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub wr_valid: Signal<In, Bit>,
    pub wr_data: Signal<In, Data>,
    /// The beat written this cycle is its frame's last.
    pub wr_last: Signal<In, Bit>,
    /// With `wr_last`: keep the frame (otherwise roll it back).
    pub keep: Signal<In, Bit>,
    /// The current frame lost a beat (this one included).
    pub overflow: Signal<Out, Bit>,
    /// Address of the current frame's first beat.
    pub frame_start: Signal<Out, Addr>,
    /// Read port (one cycle latency).
    pub rd_addr: Signal<In, Addr>,
    pub rd_data: Signal<Out, Data>,
    /// First address the reader still needs: the buffer is full one below it.
    pub rd_free: Signal<In, Addr>,
    ram: RAM<Data, STORE_ADDR_BITS>,
    write_at: DFF<Addr>,
    start: DFF<Addr>,
    lost: DFF<Bit>,
    full: Signal<Local, Bit>,
    written: Signal<Local, Bit>,
}

impl Logic for FrameStore {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, write_at, start, lost);
        self.ram.write_clock.next = self.clock.val();
        self.ram.read_clock.next = self.clock.val();
        self.ram.read_address.next = self.rd_addr.val();
        self.rd_data.next = self.ram.read_data.val();

        self.full.next = (self.write_at.q.val() + 1) == self.rd_free.val();
        self.written.next = self.wr_valid.val() && !self.full.val() && !self.lost.q.val();
        self.ram.write_address.next = self.write_at.q.val();
        self.ram.write_data.next = self.wr_data.val();
        self.ram.write_enable.next = self.written.val();
        self.overflow.next = self.lost.q.val() || (self.wr_valid.val() && self.full.val());
        self.frame_start.next = self.start.q.val();

        if self.written.val() {
            self.write_at.d.next = self.write_at.q.val() + 1;
        }
        if self.wr_valid.val() && self.full.val() {
            self.lost.d.next = true;
        }
        if self.wr_valid.val() && self.wr_last.val() {
            self.lost.d.next = false;
            if self.keep.val() && !self.overflow.val() {
                self.start.d.next = self.write_at.q.val() + 1;
            } else {
                self.write_at.d.next = self.start.q.val();
            }
        }
        if self.rst.val() {
            self.write_at.d.next = 0.into();
            self.start.d.next = 0.into();
            self.lost.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbench::Bench;

    crate::clocked!(FrameStore);

    /// Writes a frame of `beats` beats (beat `i` holds `tag + i`); returns
    /// whether it overflowed.
    fn frame(bench: &mut Bench<FrameStore>, tag: u64, beats: u64, keep: bool) -> bool {
        let mut overflow = false;
        for i in 0..beats {
            bench.uut.wr_valid.next = true;
            bench.uut.wr_data.next = (tag + i).into();
            bench.uut.wr_last.next = i + 1 == beats;
            bench.uut.keep.next = keep;
            bench.settle();
            overflow |= bench.uut.overflow.val();
            bench.step();
        }
        bench.uut.wr_valid.next = false;
        bench.settle();
        overflow
    }

    fn read(bench: &mut Bench<FrameStore>, addr: u64) -> u64 {
        bench.uut.rd_addr.next = addr.into();
        bench.step();
        bench.uut.rd_data.val().get_bits::<32>(0).to_u64()
    }

    #[test]
    fn kept_frames_stay_rolled_back_ones_vanish_and_overflow_is_whole_frame() {
        let mut bench = Bench::new("store", FrameStore::default());
        assert!(!frame(&mut bench, 100, 3, true));
        assert!(!frame(&mut bench, 200, 2, false));
        assert!(!frame(&mut bench, 300, 2, true));
        assert_eq!(bench.uut.frame_start.val().to_u64(), 5);
        assert_eq!(read(&mut bench, 2), 102);
        assert_eq!(read(&mut bench, 3), 300, "the dropped frame left no trace");
        // Nothing read yet: the buffer holds 255 beats, so a 251-beat frame
        // overflows and is dropped whole.
        assert!(frame(&mut bench, 400, 251, true));
        assert_eq!(bench.uut.frame_start.val().to_u64(), 5);
        bench.uut.rd_free.next = 5.into();
        assert!(!frame(&mut bench, 500, 250, true));
    }
}

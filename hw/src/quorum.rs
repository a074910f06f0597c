//! Leader ack bitmaps: one bit per replica for each slot in flight, over a
//! ring of [`WINDOW_SLOTS`] slots (slot `s` at index `s % WINDOW_SLOTS`), and
//! the in-order commit advance over contiguous slots that reached a quorum.
//!
//! The bitmaps are registers rather than block RAM: finding how far commit
//! can advance looks at every slot in one cycle (the model advances over all
//! contiguous chosen slots at once, and so must we).

use rust_hdl::prelude::*;

/// Most slots in flight past commit: `CFG_WINDOW` is clamped to this.
pub const WINDOW_SLOTS: usize = 16;
pub type SlotIndex = Bits<4>;
/// Replica ids that fit a bitmap (the register map's peer table size).
pub type Bitmap = Bits<8>;

const _: () = assert!(1 << 4 == WINDOW_SLOTS);

#[derive(LogicBlock)]
pub struct Quorum {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    /// Forget every bitmap (reconfiguration).
    pub clear: Signal<In, Bit>,
    /// A submitted slot starts with the leader's own acceptance.
    pub start: Signal<In, Bit>,
    pub start_at: Signal<In, SlotIndex>,
    pub own_bit: Signal<In, Bitmap>,
    /// A counted ACCEPTED: set `mark_bit` in slot `mark_at`.
    pub mark: Signal<In, Bit>,
    pub mark_at: Signal<In, SlotIndex>,
    pub mark_bit: Signal<In, Bitmap>,
    /// Acks that choose a slot: `replicas / 2 + 1`.
    pub needed: Signal<In, Bits<4>>,
    /// Index of slot `commit + 1`.
    pub first: Signal<In, SlotIndex>,
    /// How many slots from `first` on are chosen (the commit advance).
    pub advance: Signal<Out, Bits<5>>,
    /// Retire the `advance` chosen slots now.
    pub take: Signal<In, Bit>,
    bitmaps: [DFF<Bitmap>; WINDOW_SLOTS],
    counts: [Popcount8; WINDOW_SLOTS],
    first_wide: Signal<Local, Bits<5>>,
    /// `chosen[i]`: bit `j < i` set when slot index `j` has a quorum.
    chosen: [Signal<Local, Bits<16>>; WINDOW_SLOTS + 1],
    rotated: Signal<Local, Bits<16>>,
    index: [Constant<SlotIndex>; WINDOW_SLOTS],
    index_wide: [Constant<Bits<5>>; WINDOW_SLOTS],
    run: [Constant<Bits<5>>; WINDOW_SLOTS],
    one_hot: [Constant<Bits<16>>; WINDOW_SLOTS],
}

impl Default for Quorum {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            rst: Default::default(),
            clear: Default::default(),
            start: Default::default(),
            start_at: Default::default(),
            own_bit: Default::default(),
            mark: Default::default(),
            mark_at: Default::default(),
            mark_bit: Default::default(),
            needed: Default::default(),
            first: Default::default(),
            advance: Default::default(),
            take: Default::default(),
            bitmaps: Default::default(),
            counts: Default::default(),
            chosen: Default::default(),
            rotated: Default::default(),
            index: std::array::from_fn(|i| Constant::new((i as u64).into())),
            index_wide: std::array::from_fn(|i| Constant::new((i as u64).into())),
            first_wide: Default::default(),
            run: std::array::from_fn(|i| Constant::new((i as u64).into())),
            one_hot: std::array::from_fn(|i| Constant::new((1u64 << i).into())),
        }
    }
}

impl Logic for Quorum {
    #[hdl_gen]
    fn update(&mut self) {
        self.chosen[0].next = 0.into();
        for i in 0..16 {
            self.bitmaps[i].clock.next = self.clock.val();
            self.bitmaps[i].d.next = self.bitmaps[i].q.val();
            self.counts[i].bits.next = self.bitmaps[i].q.val();
        }
        for i in 0..16 {
            self.chosen[i + 1].next = self.chosen[i].val();
            if self.counts[i].count.val() >= self.needed.val() {
                self.chosen[i + 1].next = self.chosen[i].val() | self.one_hot[i].val();
            }
        }
        // Slot `first` moved to bit 0; the advance is its run of ones.
        self.first_wide.next = bit_cast::<5, 4>(self.first.val());
        self.rotated.next = (self.chosen[16].val() >> self.first.val())
            | (self.chosen[16].val() << (16_u64 - self.first_wide.val()));
        self.advance.next = 16.into();
        for i in 0..16 {
            if !self.rotated.val().get_bit(15 - i) {
                self.advance.next = self.run[15 - i].val();
            }
        }
        for i in 0..16 {
            if self.take.val()
                && (((self.index_wide[i].val() - self.first_wide.val()) & 15_u64)
                    < self.advance.val())
            {
                self.bitmaps[i].d.next = 0.into();
            }
            if self.mark.val() && (self.mark_at.val() == self.index[i].val()) {
                self.bitmaps[i].d.next = self.bitmaps[i].q.val() | self.mark_bit.val();
            }
            if self.start.val() && (self.start_at.val() == self.index[i].val()) {
                self.bitmaps[i].d.next = self.own_bit.val();
            }
            if self.clear.val() || self.rst.val() {
                self.bitmaps[i].d.next = 0.into();
            }
        }
    }
}

/// Ones in a bitmap (`bit_cast` cannot sit in an HDL loop, so this is a block).
#[derive(LogicBlock, Default)]
pub struct Popcount8 {
    pub bits: Signal<In, Bitmap>,
    pub count: Signal<Out, Bits<4>>,
}

impl Logic for Popcount8 {
    #[hdl_gen]
    fn update(&mut self) {
        self.count.next = bit_cast::<4, 1>(self.bits.val().get_bits::<1>(0))
            + bit_cast::<4, 1>(self.bits.val().get_bits::<1>(1))
            + bit_cast::<4, 1>(self.bits.val().get_bits::<1>(2))
            + bit_cast::<4, 1>(self.bits.val().get_bits::<1>(3))
            + bit_cast::<4, 1>(self.bits.val().get_bits::<1>(4))
            + bit_cast::<4, 1>(self.bits.val().get_bits::<1>(5))
            + bit_cast::<4, 1>(self.bits.val().get_bits::<1>(6))
            + bit_cast::<4, 1>(self.bits.val().get_bits::<1>(7));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbench::Bench;

    crate::clocked!(Quorum);

    fn mark(bench: &mut Bench<Quorum>, slot: u64, who: u64) {
        bench.uut.mark.next = true;
        bench.uut.mark_at.next = (slot % WINDOW_SLOTS as u64).into();
        bench.uut.mark_bit.next = (1u64 << who).into();
        bench.step();
        bench.uut.mark.next = false;
        bench.settle();
    }

    #[test]
    fn commit_advances_over_contiguous_majorities_only() {
        for (replicas, quorum) in [(3u64, 2u64), (5, 3)] {
            let mut bench = Bench::new("quorum", Quorum::default());
            bench.uut.needed.next = quorum.into();
            // Slots 15..=18 in flight (wrapping the ring), commit = 14.
            bench.uut.first.next = 15.into();
            for slot in 15..=18u64 {
                bench.uut.start.next = true;
                bench.uut.start_at.next = (slot % 16).into();
                bench.uut.own_bit.next = 1.into();
                bench.step();
            }
            bench.uut.start.next = false;
            bench.settle();
            assert_eq!(bench.uut.advance.val().to_u64(), 0);
            // Slot 16 reaches a quorum first: nothing is committed yet.
            for who in 1..quorum {
                mark(&mut bench, 16, who);
            }
            assert_eq!(bench.uut.advance.val().to_u64(), 0, "{replicas} replicas");
            for who in 1..quorum {
                mark(&mut bench, 15, who);
            }
            assert_eq!(bench.uut.advance.val().to_u64(), 2, "{replicas} replicas");
            bench.uut.take.next = true;
            bench.step();
            bench.uut.take.next = false;
            bench.uut.first.next = 1.into();
            bench.settle();
            assert_eq!(bench.uut.advance.val().to_u64(), 0);
            // Retired slots were cleared: slot 15 + 16 = 31 starts empty.
            mark(&mut bench, 31, 1);
            bench.uut.first.next = 15.into();
            bench.settle();
            assert_eq!(bench.uut.advance.val().to_u64(), 0);
            mark(&mut bench, 31, 2);
            assert_eq!(bench.uut.advance.val().to_u64(), u64::from(quorum == 2));
        }
    }
}

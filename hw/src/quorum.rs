//! Leader ack bitmaps over a window of [`WINDOW_SLOTS`] slots in flight, and
//! the in-order commit advance over contiguous slots that reached a quorum.
//!
//! The bitmaps (one bit per replica, slot `s` at index `s % WINDOW_SLOTS`)
//! live in a small synchronous RAM (LUTRAM or block RAM) and are updated by
//! read-modify-write: an ack reads its slot's bitmap in the cycle of its
//! decision and writes it back, with the sender's bit, one cycle later. What
//! the commit advance needs is only one bit per slot, `chosen`, kept in
//! registers so that the whole run of chosen slots after commit is found in
//! one cycle (the model advances over all of them at once, and so must we).
//!
//! Starting a slot or clearing the window (reconfiguration) never touches
//! the RAM: a `fresh` bit per slot says its RAM word is left over from an
//! older slot, and reads as the leader's own acceptance (`owned`) or as
//! nothing. The advance is bounded by the number of slots in flight, so
//! `chosen` bits of retired slots never count again.

use riptide_wire::regs;
use rust_hdl::prelude::*;

/// Most slots in flight past commit: `CFG_WINDOW` is clamped to this, and
/// the driver reads it from `MAX_WINDOW`.
pub const WINDOW_SLOTS: usize = regs::MAX_WINDOW_SLOTS as usize;
const INDEX_BITS: usize = 6;
pub type SlotIndex = Bits<INDEX_BITS>;
/// Slots in a run: 0 to [`WINDOW_SLOTS`] inclusive.
pub type RunLength = Bits<7>;
pub type SlotSet = Bits<WINDOW_SLOTS>;
/// Replica ids that fit a bitmap (the register map's peer table size).
pub type Bitmap = Bits<8>;

const _: () = assert!(1 << INDEX_BITS == WINDOW_SLOTS && WINDOW_SLOTS < 1 << 7);
const _: () = assert!(regs::MAX_REPLICAS <= 8);

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
    /// Slots in flight past commit (at most [`WINDOW_SLOTS`] count).
    pub limit: Signal<In, RunLength>,
    /// How many slots from `first` on are chosen (the commit advance),
    /// registered: the commit it was computed from must move by exactly this
    /// in the cycle it is shown, which is the caller's part.
    pub advance: Signal<Out, RunLength>,
    /// An ack is between its read and its write.
    pub busy: Signal<Out, Bit>,
    bitmaps: RAM<Bitmap, INDEX_BITS>,
    chosen: DFF<SlotSet>,
    /// The commit advance, one cycle after the run it counts, and the
    /// inputs of that run, registered: the run starts from register outputs.
    adv: DFF<RunLength>,
    first_q: DFF<SlotIndex>,
    limit_q: DFF<RunLength>,
    /// `chosen` rotated so that slot `first_q` is bit 0, and `limit_q`, a
    /// cycle later: the run is counted from these.
    rot: DFF<SlotSet>,
    rot_limit: DFF<RunLength>,
    /// The registered inputs may predate a move of commit (an advance or a
    /// clear one and two cycles ago): no advance is counted from them.
    hold: DFF<Bit>,
    hold2: DFF<Bit>,
    run_adv: Signal<Local, RunLength>,
    fresh: DFF<SlotSet>,
    owned: DFF<SlotSet>,
    // The ack in its write cycle.
    m_valid: DFF<Bit>,
    m_at: DFF<SlotIndex>,
    m_bit: DFF<Bitmap>,
    // The last word written, for an ack to the same slot right behind it.
    w_valid: DFF<Bit>,
    w_at: DFF<SlotIndex>,
    w_data: DFF<Bitmap>,
    // The ack's merged word, counted a cycle after its write.
    p_valid: DFF<Bit>,
    p_one: DFF<SlotSet>,
    p_merged: DFF<Bitmap>,
    // The slot the ack chose (if any), set in `chosen` a cycle later.
    c_set: DFF<SlotSet>,
    m_one: Signal<Local, SlotSet>,
    start_one: Signal<Local, SlotSet>,
    old: Signal<Local, Bitmap>,
    merged: Signal<Local, Bitmap>,
    fresh_marked: Signal<Local, SlotSet>,
    chosen_marked: Signal<Local, SlotSet>,
    merged_count: Popcount8,
    own_count: Popcount8,
    run: TrailingOnes,
    first_wide: Signal<Local, RunLength>,
    one: Constant<SlotSet>,
    all: Constant<SlotSet>,
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
            limit: Default::default(),
            advance: Default::default(),
            busy: Default::default(),
            bitmaps: Default::default(),
            chosen: Default::default(),
            adv: Default::default(),
            first_q: Default::default(),
            limit_q: Default::default(),
            rot: Default::default(),
            rot_limit: Default::default(),
            hold: Default::default(),
            hold2: Default::default(),
            run_adv: Default::default(),
            fresh: Default::default(),
            owned: Default::default(),
            m_valid: Default::default(),
            m_at: Default::default(),
            m_bit: Default::default(),
            w_valid: Default::default(),
            w_at: Default::default(),
            w_data: Default::default(),
            p_valid: Default::default(),
            p_one: Default::default(),
            p_merged: Default::default(),
            c_set: Default::default(),
            m_one: Default::default(),
            start_one: Default::default(),
            old: Default::default(),
            merged: Default::default(),
            fresh_marked: Default::default(),
            chosen_marked: Default::default(),
            merged_count: Default::default(),
            own_count: Default::default(),
            run: Default::default(),
            first_wide: Default::default(),
            one: Constant::new(1u64.into()),
            all: Constant::new(u64::MAX.into()),
        }
    }
}

impl Quorum {
    /// Simulation view: an ack between its read and its write.
    pub fn in_flight(&self) -> bool {
        self.m_valid.q.val() || self.p_valid.q.val() || self.c_set.q.val() != 0_u64
    }

    /// Simulation view: a commit advance on its way (counted, or to be
    /// counted once the inputs are fresh).
    pub fn advancing(&self) -> bool {
        self.hold.q.val()
            || self.hold2.q.val()
            || self.adv.q.val() != 0_u64
            || self.run_adv.val() != 0_u64
            || (self.rot.d.val() & 1_u64 != 0_u64 && self.limit_q.q.val() != 0_u64)
    }
}

impl Logic for Quorum {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, chosen, adv, first_q, limit_q, rot, rot_limit, hold, hold2, fresh, owned,
            m_valid, m_at, m_bit, w_valid, w_at, w_data, p_valid, p_one, p_merged, c_set
        );
        self.bitmaps.read_clock.next = self.clock.val();
        self.bitmaps.write_clock.next = self.clock.val();

        // Read cycle: the ack's word is read; it is written back next cycle.
        self.bitmaps.read_address.next = self.mark_at.val();
        self.m_valid.d.next = self.mark.val();
        self.m_at.d.next = self.mark_at.val();
        self.m_bit.d.next = self.mark_bit.val();
        self.busy.next = self.m_valid.q.val();

        // Write cycle.
        self.m_one.next = self.one.val() << self.m_at.q.val();
        self.start_one.next = self.one.val() << self.start_at.val();
        self.old.next = self.bitmaps.read_data.val();
        if self.w_valid.q.val() && (self.w_at.q.val() == self.m_at.q.val()) {
            self.old.next = self.w_data.q.val();
        }
        if self.fresh.q.val().get_bit(self.m_at.q.val().index()) {
            self.old.next = 0.into();
            if self.owned.q.val().get_bit(self.m_at.q.val().index()) {
                self.old.next = self.own_bit.val();
            }
        }
        self.merged.next = self.old.val() | self.m_bit.q.val();
        self.own_count.bits.next = self.own_bit.val();
        self.bitmaps.write_address.next = self.m_at.q.val();
        self.bitmaps.write_data.next = self.merged.val();
        self.bitmaps.write_enable.next = self.m_valid.q.val();
        self.w_valid.d.next = self.m_valid.q.val();
        self.w_at.d.next = self.m_at.q.val();
        self.w_data.d.next = self.merged.val();
        self.fresh_marked.next = self.fresh.q.val();
        if self.m_valid.q.val() {
            self.fresh_marked.next = self.fresh.q.val() & !self.m_one.val();
        }

        // For timing the quorum is counted a cycle after the write and the
        // slot set in `chosen` a cycle after that (the word itself is
        // complete at the write, so no forwarding is needed here). A slot
        // started meanwhile at the same index is a new slot: the acks in
        // these stages are for the slot a window before, and are dropped.
        self.p_valid.d.next = self.m_valid.q.val();
        self.p_one.d.next = self.m_one.val();
        self.p_merged.d.next = self.merged.val();
        self.merged_count.bits.next = self.p_merged.q.val();
        self.c_set.d.next = 0.into();
        if self.p_valid.q.val() && (self.merged_count.count.val() >= self.needed.val()) {
            self.c_set.d.next = self.p_one.q.val();
        }
        self.chosen_marked.next = self.chosen.q.val() | self.c_set.q.val();
        if self.start.val() {
            if self.start_at.val() == self.m_at.q.val() {
                self.p_valid.d.next = false;
            }
            self.p_one.d.next = self.m_one.val() & !self.start_one.val();
            self.c_set.d.next = 0.into();
            if self.p_valid.q.val() && (self.merged_count.count.val() >= self.needed.val()) {
                self.c_set.d.next = self.p_one.q.val() & !self.start_one.val();
            }
        }

        // A new slot (it wins over an ack to the slot a window before): its
        // word reads as the leader's own acceptance.
        self.fresh.d.next = self.fresh_marked.val();
        self.chosen.d.next = self.chosen_marked.val();
        if self.start.val() {
            self.fresh.d.next = self.fresh_marked.val() | self.start_one.val();
            self.owned.d.next = self.owned.q.val() | self.start_one.val();
            self.chosen.d.next = self.chosen_marked.val() & !self.start_one.val();
            if self.own_count.count.val() >= self.needed.val() {
                self.chosen.d.next = self.chosen_marked.val() | self.start_one.val();
            }
        }
        if self.clear.val() || self.rst.val() {
            self.fresh.d.next = self.all.val();
            self.owned.d.next = 0.into();
            self.chosen.d.next = 0.into();
            self.m_valid.d.next = false;
            self.w_valid.d.next = false;
            self.p_valid.d.next = false;
            self.c_set.d.next = 0.into();
        }

        // Slot `first` moved to bit 0; the advance is its run of ones, within
        // the slots in flight. For timing, `first` and `limit` are taken
        // registered, the rotate is registered, and the advance leaves
        // registered: the commit it moves changes one cycle after it shows,
        // so the cycle showing an advance and the two after it (whose
        // registered inputs predate the move) count nothing. An advance thus
        // comes at most every fourth cycle and covers every slot chosen
        // meanwhile.
        self.first_q.d.next = self.first.val();
        self.limit_q.d.next = self.limit.val();
        self.first_wide.next = bit_cast::<7, 6>(self.first_q.q.val());
        self.rot.d.next = (self.chosen.q.val() >> self.first_q.q.val())
            | (self.chosen.q.val() << (64_u64 - self.first_wide.val()));
        self.rot_limit.d.next = self.limit_q.q.val();
        self.run.bits.next = self.rot.q.val();
        self.run_adv.next = self.run.count.val();
        if self.rot_limit.q.val() < self.run.count.val() {
            self.run_adv.next = self.rot_limit.q.val();
        }
        self.adv.d.next = self.run_adv.val();
        self.hold.d.next = (self.adv.q.val() != 0_u64) || self.clear.val() || self.rst.val();
        self.hold2.d.next = self.hold.q.val();
        if (self.adv.q.val() != 0_u64)
            || self.hold.q.val()
            || self.hold2.q.val()
            || self.clear.val()
            || self.rst.val()
        {
            self.adv.d.next = 0.into();
        }
        self.advance.next = self.adv.q.val();
    }
}

/// Ones in a bitmap. A leaf block: in Verilog an adder of the bits; in
/// simulation `count_ones`, because RustHDL's part-selects of narrow `Bits`
/// shift through a big integer on every settle pass.
#[derive(LogicBlock, Default)]
pub struct Popcount8 {
    pub bits: Signal<In, Bitmap>,
    pub count: Signal<Out, Bits<4>>,
}

impl Logic for Popcount8 {
    fn update(&mut self) {
        self.count.next = u64::from(self.bits.val().to_u64().count_ones()).into();
    }

    fn connect(&mut self) {
        self.count.connect();
    }

    fn hdl(&self) -> Verilog {
        let sum: Vec<String> = (0..8).map(|i| format!("{{3'b0, bits[{i}]}}")).collect();
        Verilog::Custom(format!(
            "always @(*) begin\n   count = {};\nend\n",
            sum.join(" + ")
        ))
    }
}

/// Ones below the lowest zero of a slot set. A leaf block: in Verilog the
/// lowest zero isolated by a carry chain (`~x & (x + 1)`) and encoded by six
/// OR trees (a priority chain of 64 `if`s would synthesize as a mux chain,
/// the longest path of the core); in simulation `trailing_ones`.
#[derive(LogicBlock, Default)]
pub struct TrailingOnes {
    pub bits: Signal<In, SlotSet>,
    pub count: Signal<Out, RunLength>,
}

impl Logic for TrailingOnes {
    fn update(&mut self) {
        self.count.next = u64::from(self.bits.val().to_u64().trailing_ones()).into();
    }

    fn connect(&mut self) {
        self.count.connect();
    }

    fn hdl(&self) -> Verilog {
        let n = WINDOW_SLOTS;
        let encode: String = (0..INDEX_BITS)
            .map(|k| {
                let mask = (0..n)
                    .filter(|i| i >> k & 1 == 1)
                    .fold(0u64, |m, i| m | 1 << i);
                format!("   count[{k}] = |(lowest & {n}'h{mask:x});\n")
            })
            .collect();
        Verilog::Custom(format!(
            "reg [{top}:0] lowest;\nalways @(*) begin\n   lowest = ~bits & (bits + {n}'d1);\n   count[{INDEX_BITS}] = &bits;\n{encode}end\n",
            top = n - 1
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbench::Bench;

    crate::clocked!(Quorum);

    const W: u64 = WINDOW_SLOTS as u64;

    fn bench(needed: u64) -> Bench<Quorum> {
        let mut bench = Bench::new("quorum", Quorum::default());
        bench.uut.needed.next = needed.into();
        bench.uut.own_bit.next = 1.into();
        bench.uut.rst.next = true;
        bench.step();
        bench.uut.rst.next = false;
        bench
    }

    fn start(bench: &mut Bench<Quorum>, slot: u64) {
        bench.uut.start.next = true;
        bench.uut.start_at.next = (slot % W).into();
        bench.step();
        bench.uut.start.next = false;
    }

    /// One ack, then the cycle its write takes.
    fn mark(bench: &mut Bench<Quorum>, slot: u64, who: u64) {
        bench.uut.mark.next = true;
        bench.uut.mark_at.next = (slot % W).into();
        bench.uut.mark_bit.next = (1u64 << who).into();
        bench.step();
        bench.uut.mark.next = false;
        bench.step();
        bench.settle();
    }

    /// Commit is `commit`, slots up to `next - 1` in flight.
    fn window(bench: &mut Bench<Quorum>, commit: u64, next: u64) -> u64 {
        bench.uut.first.next = ((commit + 1) % W).into();
        bench.uut.limit.next = (next - 1 - commit).min(W).into();
        // Two cycles for the last ack's slot to reach `chosen` (quorum
        // counted, then set), one to take `first` and `limit` into their
        // registers, one to rotate; the run counted from them is what
        // `advance` shows a cycle later.
        for _ in 0..4 {
            bench.step();
        }
        bench.settle();
        bench.uut.run_adv.val().to_u64()
    }

    #[test]
    fn the_advance_is_registered_then_held_while_commit_moves() {
        let mut bench = bench(2);
        for slot in 1..=3 {
            start(&mut bench, slot);
            mark(&mut bench, slot, 2);
        }
        // The last ack's slot reaches `chosen` two cycles after its write.
        bench.step();
        bench.step();
        bench.uut.first.next = 1.into();
        bench.uut.limit.next = 3.into();
        let mut shown = vec![];
        for _ in 0..12 {
            bench.step();
            bench.settle();
            shown.push(bench.uut.advance.val().to_u64());
        }
        // The caller did not move commit, so the same run shows again
        // after the three quiet cycles an advance is followed by.
        let first = shown.iter().position(|&a| a != 0).expect("an advance");
        assert_eq!(shown[first], 3, "{shown:?}");
        assert_eq!(&shown[first + 1..first + 4], &[0, 0, 0], "{shown:?}");
        assert_eq!(shown[first + 4], 3, "{shown:?}");
        // A clear stops an advance already counted.
        bench.uut.clear.next = true;
        bench.step();
        bench.uut.clear.next = false;
        for _ in 0..4 {
            bench.step();
            bench.settle();
            assert_eq!(bench.uut.advance.val().to_u64(), 0);
        }
    }

    fn retire(bench: &mut Bench<Quorum>) {
        bench.step();
    }

    #[test]
    fn commit_advances_over_contiguous_majorities_only() {
        for (replicas, quorum) in [(3u64, 2u64), (5, 3)] {
            let mut bench = bench(quorum);
            // Slots 63..=66 in flight (wrapping the ring), commit = 62.
            for slot in 63..=66 {
                start(&mut bench, slot);
            }
            assert_eq!(window(&mut bench, 62, 67), 0);
            // Slot 64 reaches a quorum first: nothing is committed yet.
            for who in 1..quorum {
                mark(&mut bench, 64, who);
            }
            assert_eq!(window(&mut bench, 62, 67), 0, "{replicas} replicas");
            // A duplicate ack does not count twice.
            mark(&mut bench, 63, 1);
            mark(&mut bench, 63, 1);
            let want = if quorum == 2 { 2 } else { 0 };
            assert_eq!(window(&mut bench, 62, 67), want, "{replicas} replicas");
            for who in 2..quorum {
                mark(&mut bench, 63, who);
            }
            assert_eq!(window(&mut bench, 62, 67), 2, "{replicas} replicas");
            retire(&mut bench);
            assert_eq!(window(&mut bench, 64, 67), 0);
            for who in 1..quorum {
                mark(&mut bench, 65, who);
                mark(&mut bench, 66, who);
            }
            assert_eq!(window(&mut bench, 64, 67), 2);
            // A full window; slot 64 + W reuses the word of slot 64, whose
            // acks must not count for it.
            for slot in 67..=64 + W {
                start(&mut bench, slot);
            }
            for slot in 67..64 + W {
                for who in 1..quorum {
                    mark(&mut bench, slot, who);
                }
            }
            assert_eq!(window(&mut bench, 64, 65 + W), W - 1);
            assert_eq!(
                window(&mut bench, 64, 70),
                5,
                "bounded by the slots in flight"
            );
            for who in 1..quorum {
                mark(&mut bench, 64 + W, who);
            }
            assert_eq!(window(&mut bench, 64, 65 + W), W, "{replicas} replicas");
        }
    }

    #[test]
    fn acks_right_behind_each_other_and_a_reset_window() {
        let mut bench = bench(3);
        start(&mut bench, 5);
        // Two acks for the same slot in consecutive cycles: the second reads
        // the word before the first's write lands, and takes it from the bypass.
        for who in [1u64, 2] {
            bench.uut.mark.next = true;
            bench.uut.mark_at.next = 5.into();
            bench.uut.mark_bit.next = (1u64 << who).into();
            bench.step();
        }
        bench.uut.mark.next = false;
        bench.step();
        assert_eq!(window(&mut bench, 4, 6), 1);
        // Cleared: the word is left over and reads as nothing (a slot in
        // flight from the configuration, not started by this leader).
        bench.uut.clear.next = true;
        bench.step();
        bench.uut.clear.next = false;
        assert_eq!(window(&mut bench, 4, 6), 0);
        mark(&mut bench, 5, 1);
        mark(&mut bench, 5, 2);
        assert_eq!(window(&mut bench, 4, 6), 0, "own acceptance not implied");
        mark(&mut bench, 5, 3);
        assert_eq!(window(&mut bench, 4, 6), 1);
    }

    #[test]
    fn an_ack_to_the_slot_a_window_before_does_not_choose_a_slot_started_meanwhile() {
        // The ack is at each stage after its read (write, count, set) when
        // slot 5 + W starts at its index.
        for delay in 1..=3 {
            let mut bench = bench(3);
            start(&mut bench, 5);
            mark(&mut bench, 5, 1);
            bench.uut.mark.next = true;
            bench.uut.mark_at.next = 5.into();
            bench.uut.mark_bit.next = (1u64 << 2).into();
            bench.step();
            bench.uut.mark.next = false;
            for _ in 1..delay {
                bench.step();
            }
            start(&mut bench, 5 + W);
            assert_eq!(window(&mut bench, 4 + W, 6 + W), 0, "ack {delay} cycles in");
            mark(&mut bench, 5 + W, 1);
            mark(&mut bench, 5 + W, 2);
            assert_eq!(window(&mut bench, 4 + W, 6 + W), 1, "ack {delay} cycles in");
        }
    }

    #[test]
    fn one_replica_chooses_at_start() {
        let mut bench = bench(1);
        start(&mut bench, 9);
        assert_eq!(window(&mut bench, 8, 10), 1);
    }

    #[test]
    fn leaves_match_their_verilog_and_native_counts() {
        let mut pop = Popcount8::default();
        pop.connect_all();
        for bits in 0..=255u64 {
            pop.bits.next = bits.into();
            assert!(simulate(&mut pop, 10));
            assert_eq!(pop.count.val().to_u64(), u64::from(bits.count_ones()));
        }
        assert!(generate_verilog(&pop).contains("count = {3'b0, bits[0]} + {3'b0, bits[1]}"));
        let mut ones = TrailingOnes::default();
        ones.connect_all();
        for bits in [0u64, 1, 0b1011, u64::MAX, u64::MAX >> 1, 0xFFFF_0FFF] {
            ones.bits.next = bits.into();
            assert!(simulate(&mut ones, 10));
            assert_eq!(ones.count.val().to_u64(), u64::from(bits.trailing_ones()));
        }
        let verilog = generate_verilog(&ones);
        assert!(
            verilog.contains("lowest = ~bits & (bits + 64'd1);"),
            "{verilog}"
        );
        assert!(
            verilog.contains("count[0] = |(lowest & 64'haaaaaaaaaaaaaaaa);"),
            "{verilog}"
        );
    }
}

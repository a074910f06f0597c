//! A 4-entry first-word-fall-through FIFO in registers, for short command
//! queues between units (wide frame data lives in block RAM, not here).
//! Several of them with the same `push`/`pop` carry the fields of one command.

use rust_hdl::prelude::*;

pub const FIFO_DEPTH: usize = 4;

#[derive(LogicBlock)]
pub struct RegFifo<D: Synth> {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub push: Signal<In, Bit>,
    pub data_in: Signal<In, D>,
    /// Drops the head; ignored when empty.
    pub pop: Signal<In, Bit>,
    /// The head, valid while `count > 0`.
    pub data_out: Signal<Out, D>,
    pub count: Signal<Out, Bits<3>>,
    entries: [DFF<D>; FIFO_DEPTH],
    write_at: DFF<Bits<2>>,
    read_at: DFF<Bits<2>>,
    held: DFF<Bits<3>>,
    popped: Signal<Local, Bit>,
    pushed: Signal<Local, Bit>,
}

impl<D: Synth> Default for RegFifo<D> {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            rst: Default::default(),
            push: Default::default(),
            data_in: Default::default(),
            pop: Default::default(),
            data_out: Default::default(),
            count: Default::default(),
            entries: Default::default(),
            write_at: Default::default(),
            read_at: Default::default(),
            held: Default::default(),
            popped: Default::default(),
            pushed: Default::default(),
        }
    }
}

impl<D: Synth> RegFifo<D> {
    /// Simulation view: no entry held.
    pub fn is_empty(&self) -> bool {
        self.held.q.val() == 0
    }
}

impl<D: Synth> Logic for RegFifo<D> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, write_at, read_at, held);
        for i in 0..4 {
            self.entries[i].clock.next = self.clock.val();
            self.entries[i].d.next = self.entries[i].q.val();
        }
        self.popped.next = self.pop.val() && (self.held.q.val() != 0);
        self.pushed.next = self.push.val() && (self.held.q.val() != 4);
        for i in 0..4 {
            if self.pushed.val() && (self.write_at.q.val().index() == i) {
                self.entries[i].d.next = self.data_in.val();
            }
        }
        self.data_out.next = self.entries[0].q.val();
        for i in 0..4 {
            if self.read_at.q.val().index() == i {
                self.data_out.next = self.entries[i].q.val();
            }
        }
        if self.pushed.val() {
            self.write_at.d.next = self.write_at.q.val() + 1;
        }
        if self.popped.val() {
            self.read_at.d.next = self.read_at.q.val() + 1;
        }
        if self.pushed.val() && !self.popped.val() {
            self.held.d.next = self.held.q.val() + 1;
        }
        if !self.pushed.val() && self.popped.val() {
            self.held.d.next = self.held.q.val() - 1;
        }
        self.count.next = self.held.q.val();
        if self.rst.val() {
            self.write_at.d.next = 0.into();
            self.read_at.d.next = 0.into();
            self.held.d.next = 0.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(uut: &mut RegFifo<Bits<8>>) {
        uut.clock.next = true.into();
        simulate(uut, 20);
        uut.clock.next = false.into();
        simulate(uut, 20);
    }

    #[test]
    fn keeps_order_and_refuses_a_fifth_entry() {
        let mut uut = RegFifo::<Bits<8>>::default();
        uut.connect_all();
        uut.push.next = true;
        for v in 1..=5u64 {
            uut.data_in.next = v.into();
            simulate(&mut uut, 20);
            tick(&mut uut);
        }
        uut.push.next = false;
        simulate(&mut uut, 20);
        assert_eq!(uut.count.val().to_u64(), 4);
        let mut seen = vec![];
        uut.pop.next = true;
        for _ in 0..6 {
            simulate(&mut uut, 20);
            if uut.count.val().to_u64() > 0 {
                seen.push(uut.data_out.val().to_u64());
            }
            tick(&mut uut);
        }
        assert_eq!(seen, vec![1, 2, 3, 4]);
    }

    #[test]
    fn verilog_is_generated() {
        let mut uut = RegFifo::<Bits<8>>::default();
        uut.connect_all();
        let v = generate_verilog(&uut);
        assert!(v.contains("entries$3"));
    }
}

//! Card-to-host writer: turns record commands into records on the c2h
//! AXI4-Stream (one record per packet), reading bodies from the receive store
//! (an accepted or punted frame) or the host-to-card store (the leader's own
//! copy of a submitted entry).
//!
//! Record layouts are `riptide_wire::records`: a 64-byte header beat, then
//! the body beats exactly as the store holds them, because the layouts keep
//! every body byte in its frame byte lane. An Accepted record's first body
//! beat is the frame's second beat with its 10 header bytes zeroed.
//!
//! Three stages with one stall signal (`valid && !tready` at the output), so
//! a record streams at one beat per cycle and back-to-back records need no
//! bubble: A (sequencer, issues the store read), B (store read data), C (the
//! output register).

use crate::beat::{BEAT_BYTES, Data, Keep, KeepFor};
use crate::fastpath::C2hKind;
use crate::fifo::{FIFO_DEPTH, RegFifo};
use crate::store::Addr;
use riptide_wire::{layout, records};
use rust_hdl::prelude::*;

/// Bytes of frame header in the first body beat of an Accepted record.
const PAD_BYTES: usize = records::ACCEPTED_VALUE_OFFSET - records::RECORD_HEADER_LEN;
const _: () = assert!(PAD_BYTES == layout::FRAME_HEADER_LEN - BEAT_BYTES);
const _: () = assert!(records::RECORD_HEADER_LEN == BEAT_BYTES);

#[derive(LogicBlock)]
pub struct C2hWriter {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    // Commands (see `FastPath`'s c2h outputs).
    pub push: Signal<In, Bit>,
    pub kind: Signal<In, C2hKind>,
    pub from_h2c: Signal<In, Bit>,
    pub ballot: Signal<In, Bits<64>>,
    pub slot: Signal<In, Bits<64>>,
    pub commit: Signal<In, Bits<64>>,
    pub then_commit: Signal<In, Bit>,
    pub len: Signal<In, Bits<17>>,
    pub start: Signal<In, Addr>,
    /// The command queue can take a command this cycle.
    pub room: Signal<Out, Bit>,
    // Store read ports (both see `rd_addr`).
    pub rd_addr: Signal<Out, Addr>,
    pub rx_data: Signal<In, Data>,
    pub h2c_data: Signal<In, Data>,
    /// Receive store: addresses below this are free again.
    pub rx_free: Signal<Out, Addr>,
    /// Pulses when the last beat of a record read from the h2c store is out
    /// of the store (the leader unit may reuse it).
    pub h2c_done: Signal<Out, Bit>,
    // The stream.
    pub c2h_tdata: Signal<Out, Data>,
    pub c2h_tkeep: Signal<Out, Keep>,
    pub c2h_tvalid: Signal<Out, Bit>,
    pub c2h_tlast: Signal<Out, Bit>,
    pub c2h_tready: Signal<In, Bit>,
    // Counter pulses.
    pub record_out: Signal<Out, Bit>,
    pub committed_out: Signal<Out, Bit>,
    pub fence_done_out: Signal<Out, Bit>,

    q_kind: RegFifo<C2hKind>,
    q_from_h2c: RegFifo<Bit>,
    q_ballot: RegFifo<Bits<64>>,
    q_slot: RegFifo<Bits<64>>,
    q_commit: RegFifo<Bits<64>>,
    q_then_commit: RegFifo<Bit>,
    q_len: RegFifo<Bits<17>>,
    q_start: RegFifo<Addr>,

    k_accepted: Constant<C2hKind>,
    k_committed: Constant<C2hKind>,
    k_fence_done: Constant<C2hKind>,
    k_punted: Constant<C2hKind>,
    at_len: Constant<Bits<16>>,
    at_ballot: Constant<Bits<16>>,
    at_slot: Constant<Bits<16>>,
    at_commit: Constant<Bits<16>>,
    accepted_last: Constant<Bits<18>>,
    header_last: Constant<Bits<18>>,
    accepted_tail: Constant<Bits<6>>,
    pad_mask: Constant<Data>,
    all_keep: Constant<Keep>,

    // Stage A: the record being sequenced.
    busy: DFF<Bit>,
    trailer: DFF<Bit>,
    a_from_h2c: DFF<Bit>,
    a_ballot: DFF<Bits<64>>,
    a_commit: DFF<Bits<64>>,
    a_addr: DFF<Addr>,
    a_left: DFF<Bits<11>>,
    a_pad: DFF<Bit>,
    /// The record's length modulo 64: its last beat's keep is decoded from
    /// this register, not from the queue head (that path ran through the
    /// head's read mux, the length add and a shift into one register).
    a_tail: DFF<Bits<6>>,
    keep_tail: KeepFor,
    // Stage B.
    b_valid: DFF<Bit>,
    b_header: DFF<Bit>,
    b_header_data: DFF<Data>,
    b_pad: DFF<Bit>,
    b_from_h2c: DFF<Bit>,
    b_keep: DFF<Keep>,
    b_last: DFF<Bit>,
    b_addr: DFF<Addr>,
    b_frees: DFF<Bit>,
    b_fence: DFF<Bit>,
    // Stage C.
    c_valid: DFF<Bit>,
    c_data: DFF<Data>,
    c_keep: DFF<Keep>,
    c_last: DFF<Bit>,
    c_fence: DFF<Bit>,
    freed: DFF<Addr>,

    advance: Signal<Local, Bit>,
    head_ready: Signal<Local, Bit>,
    last_byte: Signal<Local, Bits<18>>,
    tail: Signal<Local, Bits<6>>,
    emit: Signal<Local, Bit>,
    emit_header: Signal<Local, Bit>,
    header_data: Signal<Local, Data>,
    emit_keep: Signal<Local, Keep>,
    emit_last: Signal<Local, Bit>,
    emit_pad: Signal<Local, Bit>,
    emit_from_h2c: Signal<Local, Bit>,
    emit_frees: Signal<Local, Bit>,
    emit_fence: Signal<Local, Bit>,
    body_raw: Signal<Local, Data>,
    body_data: Signal<Local, Data>,
}

fn kind(k: u8) -> Constant<C2hKind> {
    Constant::new(u64::from(k).into())
}

fn bit_at(field: records::RecordField) -> Constant<Bits<16>> {
    Constant::new(((field.offset * 8) as u64).into())
}

impl Default for C2hWriter {
    fn default() -> Self {
        let pad: Data = (!Data::default()) << (PAD_BYTES as u64 * 8);
        Self {
            clock: Default::default(),
            rst: Default::default(),
            push: Default::default(),
            kind: Default::default(),
            from_h2c: Default::default(),
            ballot: Default::default(),
            slot: Default::default(),
            commit: Default::default(),
            then_commit: Default::default(),
            len: Default::default(),
            start: Default::default(),
            room: Default::default(),
            rd_addr: Default::default(),
            rx_data: Default::default(),
            h2c_data: Default::default(),
            rx_free: Default::default(),
            h2c_done: Default::default(),
            c2h_tdata: Default::default(),
            c2h_tkeep: Default::default(),
            c2h_tvalid: Default::default(),
            c2h_tlast: Default::default(),
            c2h_tready: Default::default(),
            record_out: Default::default(),
            committed_out: Default::default(),
            fence_done_out: Default::default(),
            q_kind: Default::default(),
            q_from_h2c: Default::default(),
            q_ballot: Default::default(),
            q_slot: Default::default(),
            q_commit: Default::default(),
            q_then_commit: Default::default(),
            q_len: Default::default(),
            q_start: Default::default(),
            k_accepted: kind(records::C2H_ACCEPTED),
            k_committed: kind(records::C2H_COMMITTED),
            k_fence_done: kind(records::C2H_FENCE_DONE),
            k_punted: kind(records::C2H_PUNTED),
            at_len: bit_at(records::LEN),
            at_ballot: bit_at(records::BALLOT),
            at_slot: bit_at(records::SLOT),
            at_commit: bit_at(records::COMMIT),
            accepted_last: Constant::new((records::ACCEPTED_VALUE_OFFSET as u64 - 1).into()),
            header_last: Constant::new((records::RECORD_HEADER_LEN as u64 - 1).into()),
            accepted_tail: Constant::new(
                ((records::ACCEPTED_VALUE_OFFSET % BEAT_BYTES) as u64).into(),
            ),
            pad_mask: Constant::new(pad),
            all_keep: Constant::new(u64::MAX.into()),
            busy: Default::default(),
            trailer: Default::default(),
            a_from_h2c: Default::default(),
            a_ballot: Default::default(),
            a_commit: Default::default(),
            a_addr: Default::default(),
            a_left: Default::default(),
            a_pad: Default::default(),
            a_tail: Default::default(),
            keep_tail: Default::default(),
            b_valid: Default::default(),
            b_header: Default::default(),
            b_header_data: Default::default(),
            b_pad: Default::default(),
            b_from_h2c: Default::default(),
            b_keep: Default::default(),
            b_last: Default::default(),
            b_addr: Default::default(),
            b_frees: Default::default(),
            b_fence: Default::default(),
            c_valid: Default::default(),
            c_data: Default::default(),
            c_keep: Default::default(),
            c_last: Default::default(),
            c_fence: Default::default(),
            freed: Default::default(),
            advance: Default::default(),
            head_ready: Default::default(),
            last_byte: Default::default(),
            tail: Default::default(),
            emit: Default::default(),
            emit_header: Default::default(),
            header_data: Default::default(),
            emit_keep: Default::default(),
            emit_last: Default::default(),
            emit_pad: Default::default(),
            emit_from_h2c: Default::default(),
            emit_frees: Default::default(),
            emit_fence: Default::default(),
            body_raw: Default::default(),
            body_data: Default::default(),
        }
    }
}

impl C2hWriter {
    /// Simulation view: a queued command or a record on its way out.
    pub fn in_flight(&self) -> bool {
        !self.q_kind.is_empty() || self.busy.q.val() || self.b_valid.q.val() || self.c_valid.q.val()
    }
}

impl Logic for C2hWriter {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            busy,
            trailer,
            a_from_h2c,
            a_ballot,
            a_commit,
            a_addr,
            a_left,
            a_pad,
            a_tail,
            b_valid,
            b_header,
            b_header_data,
            b_pad,
            b_from_h2c,
            b_keep,
            b_last,
            b_addr,
            b_frees,
            b_fence,
            c_valid,
            c_data,
            c_keep,
            c_last,
            c_fence,
            freed
        );
        self.q_kind.clock.next = self.clock.val();
        self.q_from_h2c.clock.next = self.clock.val();
        self.q_ballot.clock.next = self.clock.val();
        self.q_slot.clock.next = self.clock.val();
        self.q_commit.clock.next = self.clock.val();
        self.q_then_commit.clock.next = self.clock.val();
        self.q_len.clock.next = self.clock.val();
        self.q_start.clock.next = self.clock.val();
        self.q_kind.rst.next = self.rst.val();
        self.q_from_h2c.rst.next = self.rst.val();
        self.q_ballot.rst.next = self.rst.val();
        self.q_slot.rst.next = self.rst.val();
        self.q_commit.rst.next = self.rst.val();
        self.q_then_commit.rst.next = self.rst.val();
        self.q_len.rst.next = self.rst.val();
        self.q_start.rst.next = self.rst.val();
        self.q_kind.push.next = self.push.val();
        self.q_from_h2c.push.next = self.push.val();
        self.q_ballot.push.next = self.push.val();
        self.q_slot.push.next = self.push.val();
        self.q_commit.push.next = self.push.val();
        self.q_then_commit.push.next = self.push.val();
        self.q_len.push.next = self.push.val();
        self.q_start.push.next = self.push.val();
        self.q_kind.data_in.next = self.kind.val();
        self.q_from_h2c.data_in.next = self.from_h2c.val();
        self.q_ballot.data_in.next = self.ballot.val();
        self.q_slot.data_in.next = self.slot.val();
        self.q_commit.data_in.next = self.commit.val();
        self.q_then_commit.data_in.next = self.then_commit.val();
        self.q_len.data_in.next = self.len.val();
        self.q_start.data_in.next = self.start.val();
        self.room.next = self.q_kind.count.val() < 4_u64;

        self.advance.next = !self.c_valid.q.val() || self.c2h_tready.val();
        self.head_ready.next = self.q_kind.count.val() != 0_u64;

        // The head command's record length gives its body beats (from the
        // index of its last byte: one add, no rounding up) and its last
        // beat's tail (a six-bit add; registered, and the keep decoded from
        // it a cycle later). The header is one beat: a record without a
        // body has no tail.
        self.last_byte.next = self.header_last.val();
        self.tail.next = 0.into();
        if self.q_kind.data_out.val() == self.k_accepted.val() {
            self.last_byte.next =
                self.accepted_last.val() + bit_cast::<18, 17>(self.q_len.data_out.val());
            self.tail.next =
                self.accepted_tail.val() + bit_cast::<6, 17>(self.q_len.data_out.val());
        }
        if self.q_kind.data_out.val() == self.k_punted.val() {
            self.last_byte.next =
                self.header_last.val() + bit_cast::<18, 17>(self.q_len.data_out.val());
            self.tail.next = bit_cast::<6, 17>(self.q_len.data_out.val());
        }
        self.keep_tail.tail.next = self.a_tail.q.val();

        // What stage A issues this cycle.
        self.emit.next = false;
        self.emit_header.next = false;
        self.emit_keep.next = self.all_keep.val();
        self.emit_last.next = false;
        self.emit_pad.next = false;
        self.emit_from_h2c.next = self.a_from_h2c.q.val();
        self.emit_frees.next = false;
        self.emit_fence.next = false;
        self.header_data.next = 0.into();
        self.record_out.next = false;
        self.committed_out.next = false;
        self.q_kind.pop.next = false;
        self.q_from_h2c.pop.next = false;
        self.q_ballot.pop.next = false;
        self.q_slot.pop.next = false;
        self.q_commit.pop.next = false;
        self.q_then_commit.pop.next = false;
        self.q_len.pop.next = false;
        self.q_start.pop.next = false;
        self.rd_addr.next = self.b_addr.q.val();
        if self.advance.val() {
            self.rd_addr.next = self.a_addr.q.val();
            if self.busy.q.val() {
                // A body beat, straight from the store.
                self.emit.next = true;
                self.emit_pad.next = self.a_pad.q.val();
                self.a_addr.d.next = self.a_addr.q.val() + 1;
                self.a_left.d.next = self.a_left.q.val() - 1;
                self.a_pad.d.next = false;
                if self.a_left.q.val() == 1_u64 {
                    self.emit_keep.next = self.keep_tail.keep.val();
                    self.emit_last.next = true;
                    self.emit_frees.next = true;
                    self.busy.d.next = false;
                }
            } else if self.trailer.q.val() {
                // The Committed record that follows an Accepted one.
                self.emit.next = true;
                self.emit_header.next = true;
                self.emit_last.next = true;
                self.trailer.d.next = false;
                self.record_out.next = true;
                self.committed_out.next = true;
                self.header_data.next = bit_cast::<512, 3>(self.k_committed.val())
                    | (bit_cast::<512, 64>(self.a_ballot.q.val()) << self.at_ballot.val())
                    | (bit_cast::<512, 64>(self.a_commit.q.val()) << self.at_commit.val());
            } else if self.head_ready.val() {
                // The header beat of the next record; its body follows.
                self.emit.next = true;
                self.emit_header.next = true;
                self.record_out.next = true;
                self.q_kind.pop.next = true;
                self.q_from_h2c.pop.next = true;
                self.q_ballot.pop.next = true;
                self.q_slot.pop.next = true;
                self.q_commit.pop.next = true;
                self.q_then_commit.pop.next = true;
                self.q_len.pop.next = true;
                self.q_start.pop.next = true;
                self.a_from_h2c.d.next = self.q_from_h2c.data_out.val();
                self.a_ballot.d.next = self.q_ballot.data_out.val();
                self.a_commit.d.next = self.q_commit.data_out.val();
                self.a_left.d.next = bit_cast::<11, 18>(self.last_byte.val() >> 6);
                self.a_tail.d.next = self.tail.val();
                self.header_data.next = bit_cast::<512, 3>(self.q_kind.data_out.val());
                if self.q_kind.data_out.val() == self.k_accepted.val() {
                    self.busy.d.next = true;
                    self.trailer.d.next = self.q_then_commit.data_out.val();
                    self.a_addr.d.next = self.q_start.data_out.val() + 1;
                    self.a_pad.d.next = true;
                    self.header_data.next = bit_cast::<512, 3>(self.q_kind.data_out.val())
                        | (bit_cast::<512, 17>(self.q_len.data_out.val()) << self.at_len.val())
                        | (bit_cast::<512, 64>(self.q_ballot.data_out.val())
                            << self.at_ballot.val())
                        | (bit_cast::<512, 64>(self.q_slot.data_out.val()) << self.at_slot.val());
                }
                if self.q_kind.data_out.val() == self.k_punted.val() {
                    self.busy.d.next = true;
                    self.a_addr.d.next = self.q_start.data_out.val();
                    self.header_data.next = bit_cast::<512, 3>(self.q_kind.data_out.val())
                        | (bit_cast::<512, 17>(self.q_len.data_out.val()) << self.at_len.val());
                }
                if self.q_kind.data_out.val() == self.k_committed.val() {
                    self.emit_last.next = true;
                    self.committed_out.next = true;
                    self.header_data.next = bit_cast::<512, 3>(self.q_kind.data_out.val())
                        | (bit_cast::<512, 64>(self.q_ballot.data_out.val())
                            << self.at_ballot.val())
                        | (bit_cast::<512, 64>(self.q_commit.data_out.val())
                            << self.at_commit.val());
                }
                if self.q_kind.data_out.val() == self.k_fence_done.val() {
                    self.emit_last.next = true;
                    self.emit_fence.next = true;
                    self.header_data.next = bit_cast::<512, 3>(self.q_kind.data_out.val())
                        | (bit_cast::<512, 64>(self.q_ballot.data_out.val())
                            << self.at_ballot.val());
                }
            }
        }

        // Stages B and C move together unless the output is stalled.
        self.body_raw.next = self.rx_data.val();
        if self.b_from_h2c.q.val() {
            self.body_raw.next = self.h2c_data.val();
        }
        self.body_data.next = self.body_raw.val();
        if self.b_pad.q.val() {
            self.body_data.next = self.body_raw.val() & self.pad_mask.val();
        }
        self.h2c_done.next = false;
        if self.advance.val() {
            self.b_valid.d.next = self.emit.val();
            self.b_header.d.next = self.emit_header.val();
            self.b_header_data.d.next = self.header_data.val();
            self.b_pad.d.next = self.emit_pad.val();
            self.b_from_h2c.d.next = self.emit_from_h2c.val();
            self.b_keep.d.next = self.emit_keep.val();
            self.b_last.d.next = self.emit_last.val();
            self.b_addr.d.next = self.a_addr.q.val();
            self.b_frees.d.next = self.emit_frees.val();
            self.b_fence.d.next = self.emit_fence.val();
            self.c_valid.d.next = self.b_valid.q.val();
            self.c_data.d.next = self.body_data.val();
            if self.b_header.q.val() {
                self.c_data.d.next = self.b_header_data.q.val();
            }
            self.c_keep.d.next = self.b_keep.q.val();
            self.c_last.d.next = self.b_last.q.val();
            self.c_fence.d.next = self.b_fence.q.val();
            if self.b_valid.q.val() && self.b_frees.q.val() {
                if self.b_from_h2c.q.val() {
                    self.h2c_done.next = true;
                } else {
                    self.freed.d.next = self.b_addr.q.val() + 1;
                }
            }
        }
        self.fence_done_out.next =
            self.c_valid.q.val() && self.c2h_tready.val() && self.c_fence.q.val();
        if self.rst.val() {
            self.busy.d.next = false;
            self.trailer.d.next = false;
            self.b_valid.d.next = false;
            self.c_valid.d.next = false;
            self.freed.d.next = 0.into();
        }
        self.rx_free.next = self.freed.q.val();
        self.c2h_tdata.next = self.c_data.q.val();
        self.c2h_tkeep.next = self.c_keep.q.val();
        self.c2h_tvalid.next = self.c_valid.q.val();
        self.c2h_tlast.next = self.c_last.q.val();
    }
}

const _: () = assert!(FIFO_DEPTH == 4);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beat::{Beat, beats};
    use crate::testbench::Bench;
    use riptide_wire::Ballot;
    use riptide_wire::host::{CardToHost, NicEvent};
    use riptide_wire::records::decode_c2h;

    crate::clocked!(C2hWriter);

    #[test]
    fn writes_records_from_commands_and_store_beats_under_backpressure() {
        let mut bench = Bench::new("c2h", C2hWriter::default());
        // A punted 150-byte frame in the receive store at address 7.
        let frame: Vec<u8> = (0..150u32).map(|i| (i * 3) as u8).collect();
        let stored = beats(&frame);
        let commands = [
            (records::C2H_COMMITTED, 0u64, 41u64, 0u64, 0u64),
            (records::C2H_PUNTED, 0, 0, frame.len() as u64, 7),
            (records::C2H_FENCE_DONE, 0x0905, 0, 0, 0),
        ];
        for (kind, ballot, commit, len, start) in commands {
            let u = &mut bench.uut;
            u.push.next = true;
            u.kind.next = u64::from(kind).into();
            u.ballot.next = (ballot | 0x0300).into();
            u.commit.next = commit.into();
            u.len.next = len.into();
            u.start.next = start.into();
            bench.step();
        }
        bench.uut.push.next = false;
        let mut records = vec![];
        let mut partial = vec![];
        let mut read_addr = 0u64;
        for cycle in 0..60u64 {
            // The store answers one cycle after the address, like block RAM.
            let word = read_addr
                .checked_sub(7)
                .and_then(|i| stored.get(i as usize));
            bench.uut.rx_data.next = word.map(Beat::tdata).unwrap_or_default();
            bench.uut.c2h_tready.next = cycle % 3 != 1;
            bench.settle();
            let u = &bench.uut;
            if u.c2h_tvalid.val() && u.c2h_tready.val() {
                let beat =
                    Beat::from_tdata(u.c2h_tdata.val(), u.c2h_tkeep.val(), u.c2h_tlast.val());
                partial.extend_from_slice(beat.bytes());
                if beat.last {
                    records.push(decode_c2h(&std::mem::take(&mut partial)));
                }
            }
            read_addr = u.rd_addr.val().to_u64();
            bench.step();
        }
        assert_eq!(
            records,
            vec![
                Ok(CardToHost::Event(NicEvent::Committed {
                    ballot: Ballot(0x0300),
                    commit: 41
                })),
                Ok(CardToHost::Punted(frame)),
                Ok(CardToHost::Event(NicEvent::FenceDone {
                    ballot: Ballot(0x0905 | 0x0300)
                })),
            ]
        );
        assert_eq!(
            bench.uut.rx_free.val().to_u64(),
            7 + 3,
            "the frame's beats are free again"
        );
    }
}

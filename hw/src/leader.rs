//! Leader unit: takes host-to-card records (Submit, Transmit) off the h2c
//! AXI4-Stream into its own store, asks the fast path for a slot for each
//! submitted entry (waiting while the window is full: that is the host's
//! back-pressure), fans ACCEPT frames out to every follower, and sends
//! heartbeat COMMIT frames and host datagrams.
//!
//! One record at a time: the next is taken once every frame and record that
//! reads the store is out of it. The store has two read ports (two RAMs
//! written together), one for the card-to-host writer (the leader's own
//! Accepted record) and one for the transmit builder.
//!
//! A board outlives its host: with `HOST_WATCHDOG` set, the unit stops its
//! own heartbeats once the host has given no sign (a register write, a
//! host-to-card record) for that many cycles, so that followers elect a new
//! leader instead of obeying a card whose host is gone.
//!
//! Malformed records (unknown kind, length field disagreeing with the
//! packet, longer than the store) and commands the role does not allow are
//! dropped, as the behavioural model refuses them.

use crate::beat::{Data, Keep, KeepFor};
use crate::fastpath::{TX_RAW, TxKind};
use crate::store::{Addr, STORE_ADDR_BITS};
use riptide_wire::message::MsgType;
use riptide_wire::records;
use rust_hdl::prelude::*;

const _: () = assert!(records::KIND.width == 1 && records::TO.width == 1);
const _: () = assert!(records::LEN.width == 4);
const _: () = assert!(
    records::SUBMIT_VALUE_OFFSET > 64 && records::TRANSMIT_DATAGRAM_OFFSET > 64,
    "a valid record has two beats or more"
);

#[derive(LogicBlock)]
pub struct LeaderUnit {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub h2c_tdata: Signal<In, Data>,
    pub h2c_tkeep: Signal<In, Keep>,
    pub h2c_tvalid: Signal<In, Bit>,
    pub h2c_tlast: Signal<In, Bit>,
    pub h2c_tready: Signal<Out, Bit>,
    // Configuration and fast-path state.
    pub is_leader: Signal<In, Bit>,
    pub replicas: Signal<In, Bits<4>>,
    pub replica_id: Signal<In, Bits<8>>,
    pub ballot: Signal<In, Bits<64>>,
    pub next_slot: Signal<In, Bits<64>>,
    pub commit_index: Signal<In, Bits<64>>,
    pub heartbeat: Signal<In, Bit>,
    /// Cycles without a frame to the followers before a heartbeat goes out
    /// by itself (0: never).
    pub heartbeat_interval: Signal<In, Bits<32>>,
    /// Cycles without a sign of the host before the unit's own heartbeats
    /// stop (0: never), and a sign other than a record (a register write).
    pub host_watchdog: Signal<In, Bits<32>>,
    pub host_kick: Signal<In, Bit>,
    /// The watchdog expired: no heartbeat goes out by itself.
    pub host_lost: Signal<Out, Bit>,
    // Slot requests.
    pub submit: Signal<Out, Bit>,
    pub submit_len: Signal<Out, Bits<17>>,
    pub submit_grant: Signal<In, Bit>,
    // Frames to send.
    pub tx_req: Signal<Out, Bit>,
    pub tx_grant: Signal<In, Bit>,
    pub tx_kind: Signal<Out, TxKind>,
    pub tx_to: Signal<Out, Bits<8>>,
    pub tx_ballot: Signal<Out, Bits<64>>,
    pub tx_slot: Signal<Out, Bits<64>>,
    pub tx_commit: Signal<Out, Bits<64>>,
    pub tx_len: Signal<Out, Bits<17>>,
    // The store's read ports and their readers' completions.
    pub c2h_addr: Signal<In, Addr>,
    pub c2h_data: Signal<Out, Data>,
    pub c2h_done: Signal<In, Bit>,
    pub tx_addr: Signal<In, Addr>,
    pub tx_data: Signal<Out, Data>,
    pub tx_done: Signal<In, Bit>,

    ram_c2h: RAM<Data, STORE_ADDR_BITS>,
    ram_tx: RAM<Data, STORE_ADDR_BITS>,

    s_receive: Constant<Bits<3>>,
    s_submit: Constant<Bits<3>>,
    s_fan: Constant<Bits<3>>,
    s_raw: Constant<Bits<3>>,
    s_heartbeat: Constant<Bits<3>>,
    k_submit: Constant<Bits<8>>,
    k_transmit: Constant<Bits<8>>,
    t_accept: Constant<TxKind>,
    t_commit: Constant<TxKind>,
    raw: Constant<TxKind>,
    at_to: Constant<Bits<16>>,
    at_len: Constant<Bits<16>>,
    submit_offset: Constant<Bits<18>>,
    transmit_offset: Constant<Bits<18>>,
    all_keep: Constant<Keep>,
    all_data: Constant<Data>,
    last_addr: Constant<Bits<9>>,

    state: DFF<Bits<3>>,
    beat_no: DFF<Bits<9>>,
    /// The record's length in bytes and whether its kind and length are
    /// acceptable, from its header beat: the last beat's checks read them
    /// registered (a valid record has at least two beats, see `update`).
    total_q: DFF<Bits<18>>,
    known_q: DFF<Bit>,
    fits_q: DFF<Bit>,
    bad: DFF<Bit>,
    kind: DFF<Bits<8>>,
    to: DFF<Bits<8>>,
    len: DFF<Bits<32>>,
    fan_to: DFF<Bits<4>>,
    outstanding: DFF<Bits<5>>,
    slot: DFF<Bits<64>>,
    commit: DFF<Bits<64>>,
    heartbeat_pending: DFF<Bit>,
    quiet: DFF<Bits<32>>,
    /// Cycles left before the watchdog expires (0: expired, or off).
    host_left: DFF<Bits<32>>,

    first: Signal<Local, Bit>,
    kind_now: Signal<Local, Bits<8>>,
    len_now: Signal<Local, Bits<32>>,
    total: Signal<Local, Bits<18>>,
    tail: Signal<Local, Bits<7>>,
    last_keep: Signal<Local, Keep>,
    keep_tail: KeepFor,
    data_mask: Signal<Local, Data>,
    beats: Signal<Local, Bits<18>>,
    known: Signal<Local, Bit>,
    fits: Signal<Local, Bit>,
    skip: Signal<Local, Bit>,
    pushed: Signal<Local, Bit>,
    granted: Signal<Local, Bit>,
    finished: Signal<Local, Bit>,
    record_in: Signal<Local, Bit>,
    lost: Signal<Local, Bit>,
}

impl Default for LeaderUnit {
    fn default() -> Self {
        let state = |s: u64| Constant::new(s.into());
        let bit_at = |f: records::RecordField| Constant::new(((f.offset * 8) as u64).into());
        Self {
            clock: Default::default(),
            rst: Default::default(),
            h2c_tdata: Default::default(),
            h2c_tkeep: Default::default(),
            h2c_tvalid: Default::default(),
            h2c_tlast: Default::default(),
            h2c_tready: Default::default(),
            is_leader: Default::default(),
            replicas: Default::default(),
            replica_id: Default::default(),
            ballot: Default::default(),
            next_slot: Default::default(),
            commit_index: Default::default(),
            heartbeat: Default::default(),
            heartbeat_interval: Default::default(),
            host_watchdog: Default::default(),
            host_kick: Default::default(),
            host_lost: Default::default(),
            submit: Default::default(),
            submit_len: Default::default(),
            submit_grant: Default::default(),
            tx_req: Default::default(),
            tx_grant: Default::default(),
            tx_kind: Default::default(),
            tx_to: Default::default(),
            tx_ballot: Default::default(),
            tx_slot: Default::default(),
            tx_commit: Default::default(),
            tx_len: Default::default(),
            c2h_addr: Default::default(),
            c2h_data: Default::default(),
            c2h_done: Default::default(),
            tx_addr: Default::default(),
            tx_data: Default::default(),
            tx_done: Default::default(),
            ram_c2h: Default::default(),
            ram_tx: Default::default(),
            s_receive: state(0),
            s_submit: state(1),
            s_fan: state(2),
            s_raw: state(3),
            s_heartbeat: state(4),
            k_submit: Constant::new(u64::from(records::H2C_SUBMIT).into()),
            k_transmit: Constant::new(u64::from(records::H2C_TRANSMIT).into()),
            t_accept: Constant::new(u64::from(MsgType::Accept.code()).into()),
            t_commit: Constant::new(u64::from(MsgType::Commit.code()).into()),
            raw: Constant::new(TX_RAW.into()),
            at_to: bit_at(records::TO),
            at_len: bit_at(records::LEN),
            submit_offset: Constant::new((records::SUBMIT_VALUE_OFFSET as u64).into()),
            transmit_offset: Constant::new((records::TRANSMIT_DATAGRAM_OFFSET as u64).into()),
            all_keep: Constant::new(u64::MAX.into()),
            all_data: Constant::new(!Data::default()),
            last_addr: Constant::new(((1u64 << STORE_ADDR_BITS) - 1).into()),
            state: Default::default(),
            beat_no: Default::default(),
            total_q: Default::default(),
            known_q: Default::default(),
            fits_q: Default::default(),
            bad: Default::default(),
            kind: Default::default(),
            to: Default::default(),
            len: Default::default(),
            fan_to: Default::default(),
            outstanding: Default::default(),
            slot: Default::default(),
            commit: Default::default(),
            heartbeat_pending: Default::default(),
            quiet: Default::default(),
            host_left: Default::default(),
            first: Default::default(),
            kind_now: Default::default(),
            len_now: Default::default(),
            total: Default::default(),
            tail: Default::default(),
            last_keep: Default::default(),
            keep_tail: Default::default(),
            data_mask: Default::default(),
            beats: Default::default(),
            known: Default::default(),
            fits: Default::default(),
            skip: Default::default(),
            pushed: Default::default(),
            granted: Default::default(),
            finished: Default::default(),
            record_in: Default::default(),
            lost: Default::default(),
        }
    }
}

impl LeaderUnit {
    /// Simulation view: a record being received or fanned out, a heartbeat
    /// due, or a reader still holding the store.
    pub fn in_flight(&self) -> bool {
        self.state.q.val() != self.s_receive.val()
            || self.heartbeat_pending.q.val()
            || self.outstanding.q.val() != 0
    }
}

impl Logic for LeaderUnit {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            state,
            beat_no,
            total_q,
            known_q,
            fits_q,
            bad,
            kind,
            to,
            len,
            fan_to,
            outstanding,
            slot,
            commit,
            heartbeat_pending,
            quiet,
            host_left
        );
        self.ram_c2h.write_clock.next = self.clock.val();
        self.ram_c2h.read_clock.next = self.clock.val();
        self.ram_tx.write_clock.next = self.clock.val();
        self.ram_tx.read_clock.next = self.clock.val();
        self.ram_c2h.read_address.next = self.c2h_addr.val();
        self.ram_tx.read_address.next = self.tx_addr.val();
        self.c2h_data.next = self.ram_c2h.read_data.val();
        self.tx_data.next = self.ram_tx.read_data.val();

        // The record's length, from its header (beat 0) or as captured.
        self.first.next = self.beat_no.q.val() == 0_u64;
        self.kind_now.next = self.kind.q.val();
        self.len_now.next = self.len.q.val();
        if self.first.val() {
            self.kind_now.next = bit_cast::<8, 512>(self.h2c_tdata.val() & 0xFF_u64);
            self.len_now.next = self
                .h2c_tdata
                .val()
                .get_bits::<32>(self.at_len.val().index());
        }
        self.known.next = (self.kind_now.val() == self.k_submit.val())
            || (self.kind_now.val() == self.k_transmit.val());
        self.fits.next = self.len_now.val() < 0x1_0000_u64;
        self.total.next =
            self.submit_offset.val() + bit_cast::<18, 32>(self.len_now.val() & 0xFFFF_u64);
        if self.kind_now.val() == self.k_transmit.val() {
            self.total.next =
                self.transmit_offset.val() + bit_cast::<18, 32>(self.len_now.val() & 0xFFFF_u64);
        }
        // Every body starts past the 64-byte header beat, so a valid record
        // has two beats or more: its last beat's checks use the header's
        // figures registered, not recomputed from the bus in the same cycle.
        self.tail.next = bit_cast::<7, 18>(self.total_q.q.val() & 63_u64);
        self.beats.next = (self.total_q.q.val() + 63_u64) >> 6;
        self.keep_tail.tail.next = bit_cast::<6, 7>(self.tail.val());
        self.last_keep.next = self.keep_tail.keep.val();
        self.data_mask.next = self.all_data.val();
        if (self.tail.val() != 0_u64) && self.h2c_tvalid.val() && self.h2c_tlast.val() {
            self.data_mask.next =
                self.all_data.val() >> (512_u64 - (bit_cast::<10, 7>(self.tail.val()) << 3));
        }

        // Receive: beats go to the store, bytes past the record zeroed.
        self.h2c_tready.next = false;
        self.ram_c2h.write_enable.next = false;
        self.ram_tx.write_enable.next = false;
        self.ram_c2h.write_address.next = bit_cast::<8, 9>(self.beat_no.q.val());
        self.ram_tx.write_address.next = bit_cast::<8, 9>(self.beat_no.q.val());
        self.ram_c2h.write_data.next = self.h2c_tdata.val();
        if self.h2c_tlast.val() {
            self.ram_c2h.write_data.next = self.h2c_tdata.val() & self.data_mask.val();
        }
        self.ram_tx.write_data.next = self.ram_c2h.write_data.val();
        if (self.state.q.val() == self.s_receive.val())
            && !(self.heartbeat_pending.q.val() && self.first.val())
        {
            self.h2c_tready.next = true;
            if self.h2c_tvalid.val() {
                self.ram_c2h.write_enable.next = self.beat_no.q.val() <= self.last_addr.val();
                self.ram_tx.write_enable.next = self.beat_no.q.val() <= self.last_addr.val();
                if self.first.val() {
                    self.total_q.d.next = self.total.val();
                    self.known_q.d.next = self.known.val();
                    self.fits_q.d.next = self.fits.val();
                    self.kind.d.next = self.kind_now.val();
                    self.to.d.next = self.h2c_tdata.val().get_bits::<8>(self.at_to.val().index());
                    self.len.d.next = self.len_now.val();
                }
                if self.beat_no.q.val() != 0x1FF_u64 {
                    self.beat_no.d.next = self.beat_no.q.val() + 1;
                }
                if self.h2c_tlast.val() {
                    self.beat_no.d.next = 0.into();
                    self.bad.d.next = false;
                    if !self.first.val()
                        && !self.bad.q.val()
                        && self.known_q.q.val()
                        && self.fits_q.q.val()
                        && (bit_cast::<18, 9>(self.beat_no.q.val() + 1) == self.beats.val())
                        && (self.h2c_tkeep.val() == self.last_keep.val())
                        && (self.beat_no.q.val() <= self.last_addr.val())
                    {
                        self.state.d.next = self.s_raw.val();
                        if self.kind.q.val() == self.k_submit.val() {
                            self.state.d.next = self.s_submit.val();
                        }
                    }
                } else if self.h2c_tkeep.val() != self.all_keep.val() {
                    self.bad.d.next = true;
                }
            }
        }

        // Frame requests.
        self.submit.next = false;
        self.submit_len.next = bit_cast::<17, 32>(self.len.q.val() & 0xFFFF_u64);
        self.tx_req.next = false;
        self.tx_kind.next = self.t_accept.val();
        self.tx_to.next = bit_cast::<8, 4>(self.fan_to.q.val());
        self.tx_ballot.next = self.ballot.val();
        self.tx_slot.next = self.slot.q.val();
        self.tx_commit.next = self.commit.q.val();
        self.tx_len.next = bit_cast::<17, 32>(self.len.q.val() & 0xFFFF_u64);
        self.skip.next = bit_cast::<8, 4>(self.fan_to.q.val()) == self.replica_id.val();
        self.pushed.next = false;
        self.granted.next = false;
        self.finished.next = self.fan_to.q.val() >= self.replicas.val();

        if self.state.q.val() == self.s_submit.val() {
            if !self.is_leader.val() {
                self.state.d.next = self.s_receive.val();
            } else {
                self.submit.next = true;
                if self.submit_grant.val() {
                    self.granted.next = true;
                    self.slot.d.next = self.next_slot.val();
                    self.commit.d.next = self.commit_index.val();
                    self.fan_to.d.next = 0.into();
                    self.state.d.next = self.s_fan.val();
                }
            }
        }
        if self.state.q.val() == self.s_fan.val() {
            if !self.finished.val() {
                if self.skip.val() {
                    self.fan_to.d.next = self.fan_to.q.val() + 1;
                } else {
                    self.tx_req.next = true;
                    if self.tx_grant.val() {
                        self.pushed.next = true;
                        self.fan_to.d.next = self.fan_to.q.val() + 1;
                    }
                }
            } else if self.outstanding.q.val() == 0_u64 {
                self.state.d.next = self.s_receive.val();
            }
        }
        if self.state.q.val() == self.s_raw.val() {
            self.tx_kind.next = self.raw.val();
            self.tx_to.next = self.to.q.val();
            if self.to.q.val() >= bit_cast::<8, 4>(self.replicas.val()) {
                self.state.d.next = self.s_receive.val();
            } else {
                self.tx_req.next = true;
                if self.tx_grant.val() {
                    self.pushed.next = true;
                    self.fan_to.d.next = self.replicas.val();
                    self.state.d.next = self.s_fan.val();
                }
            }
        }
        if (self.state.q.val() == self.s_receive.val())
            && self.heartbeat_pending.q.val()
            && self.first.val()
        {
            self.heartbeat_pending.d.next = false;
            if self.is_leader.val() {
                self.fan_to.d.next = 0.into();
                self.slot.d.next = 0.into();
                self.commit.d.next = self.commit_index.val();
                self.state.d.next = self.s_heartbeat.val();
            }
        }
        if self.state.q.val() == self.s_heartbeat.val() {
            self.tx_kind.next = self.t_commit.val();
            if self.finished.val() {
                self.state.d.next = self.s_receive.val();
            } else if self.skip.val() {
                self.fan_to.d.next = self.fan_to.q.val() + 1;
            } else {
                self.tx_req.next = true;
                if self.tx_grant.val() {
                    self.fan_to.d.next = self.fan_to.q.val() + 1;
                }
            }
        }
        if self.heartbeat.val() {
            self.heartbeat_pending.d.next = true;
        }
        // The host watchdog: reloaded by every sign of the host, so a host
        // that leads (and heartbeats itself) never lets it expire.
        self.record_in.next =
            self.h2c_tvalid.val() && self.h2c_tready.val() && self.h2c_tlast.val();
        self.host_left.d.next = self.host_left.q.val();
        if self.host_left.q.val() != 0_u64 {
            self.host_left.d.next = self.host_left.q.val() - 1;
        }
        if self.host_kick.val() || self.record_in.val() {
            self.host_left.d.next = self.host_watchdog.val();
        }
        self.lost.next = (self.host_watchdog.val() != 0_u64) && (self.host_left.q.val() == 0_u64);
        self.host_lost.next = self.lost.val();
        // Followers hear from an idle leader every interval, while its host
        // lives: a leader whose host died must fall silent so that they elect
        // another.
        if self.is_leader.val() && (self.heartbeat_interval.val() != 0_u64) && !self.lost.val() {
            self.quiet.d.next = self.quiet.q.val() + 1;
            if self.quiet.q.val() >= self.heartbeat_interval.val() {
                self.quiet.d.next = 0.into();
                self.heartbeat_pending.d.next = true;
            }
        } else {
            self.quiet.d.next = 0.into();
        }
        if self.tx_grant.val() {
            self.quiet.d.next = 0.into();
        }

        // Readers still holding the store: one per frame and record issued.
        self.outstanding.d.next = self.outstanding.q.val()
            + bit_cast::<5, 1>(self.pushed.val().into())
            + bit_cast::<5, 1>(self.granted.val().into())
            - bit_cast::<5, 1>(self.c2h_done.val().into())
            - bit_cast::<5, 1>(self.tx_done.val().into());
        if self.rst.val() {
            self.state.d.next = self.s_receive.val();
            self.beat_no.d.next = 0.into();
            self.bad.d.next = false;
            self.outstanding.d.next = 0.into();
            self.heartbeat_pending.d.next = false;
            self.quiet.d.next = 0.into();
            self.host_left.d.next = 0.into();
        }
    }
}

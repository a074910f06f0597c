//! Shared by the whole-core tests: the behavioural model and the RTL core
//! side by side, driven with the same frames and commands.

#![allow(dead_code)]

use riptide_driver::model::{ModelBugs, ModelNic};
use riptide_hw::ports::{CorePorts, HdlCore};
use riptide_hw::sim::RtlNic;
use riptide_wire::frame::Endpoint;
use riptide_wire::host::{CardToHost, NicCommand, NicConfig, NicRole};
use riptide_wire::regs::{self, Counter};
use riptide_wire::{Ballot, Message};

pub const GROUP: u16 = 7;

pub fn peers(replicas: u8) -> Vec<Endpoint> {
    (0..replicas).map(ModelNic::default_endpoint).collect()
}

/// A frame from replica `from` to replica `to`.
pub fn frame(from: u8, to: u8, message: Message) -> Vec<u8> {
    ModelNic::default_frame(GROUP, from, to, message)
}

/// A frame from life `life` of replica `from` to replica `to`.
pub fn frame_of_life(from: u8, life: u8, to: u8, message: Message) -> Vec<u8> {
    ModelNic::default_frame_of_life(GROUP, from, life, to, message)
}

pub fn config(role: NicRole, ballot: Ballot, next_slot: u64, replicas: u8) -> NicConfig {
    NicConfig {
        role,
        ballot,
        next_slot,
        commit: next_slot - 1,
        replicas,
        window: u64::from(regs::MAX_WINDOW_SLOTS),
        lives: Default::default(),
    }
}

/// The model and the RTL of replica `id` (the RustHDL core unless given
/// another), fed the same inputs.
pub struct Pair<C: CorePorts = HdlCore> {
    pub model: ModelNic,
    pub rtl: RtlNic<C>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outputs {
    pub frames: Vec<(u8, Vec<u8>)>,
    pub records: Vec<CardToHost>,
}

impl Pair {
    pub fn new(name: &str, id: u8, replicas: u8) -> Pair {
        Pair::on(HdlCore::new(name), id, replicas)
    }
}

impl<C: CorePorts> Pair<C> {
    pub fn on(core: C, id: u8, replicas: u8) -> Pair<C> {
        Pair {
            model: ModelNic::new(id, replicas, GROUP, ModelBugs::default()),
            rtl: RtlNic::on(core, id, GROUP, peers(replicas)),
        }
    }

    /// The same simulated core as a fresh NIC of replica `id` in a group of
    /// `replicas` (reset instead of rebuilt: building costs more than a stream).
    pub fn restart(&mut self, id: u8, replicas: u8) {
        self.model = ModelNic::new(id, replicas, GROUP, ModelBugs::default());
        self.rtl.reset();
        self.rtl.identify(id, GROUP);
    }

    pub fn command(&mut self, command: NicCommand) {
        self.model.command(command.clone());
        self.rtl.command(command);
    }

    pub fn receive(&mut self, frame: &[u8]) {
        self.model.receive(frame);
        self.rtl.receive(frame);
    }

    /// `frame` with a bad FCS (`tuser` on its last beat).
    pub fn receive_bad_fcs(&mut self, frame: &[u8]) {
        self.model.receive_bad_fcs(frame);
        self.rtl.receive_bad_fcs(frame);
    }

    /// Everything each side produced since the last call.
    pub fn outputs(&mut self) -> (Outputs, Outputs) {
        let mut model = Outputs::default();
        while let Some(f) = self.model.poll_transmit() {
            model.frames.push(f);
        }
        while let Some(r) = self.model.poll_host() {
            model.records.push(r);
        }
        let mut rtl = Outputs::default();
        while let Some(f) = self.rtl.poll_transmit() {
            rtl.frames.push(f);
        }
        while let Some(r) = self.rtl.poll_record() {
            rtl.records
                .push(r.expect("the RTL writes well-formed records"));
        }
        (model, rtl)
    }

    /// Asserts both sides produced the same frames and records.
    pub fn agree(&mut self, context: &str) -> Outputs {
        let (model, rtl) = self.outputs();
        first_difference("host records", &rtl.records, &model.records, context);
        first_difference("frames", &rtl.frames, &model.frames, context);
        rtl
    }

    /// Asserts every counter agrees (the RTL's are 32-bit).
    pub fn counters_agree(&mut self, context: &str) {
        for (counter, value) in self.rtl.counters() {
            assert_eq!(
                u64::from(value),
                self.model.counters().get(counter) & 0xFFFF_FFFF,
                "counter {} differs: {context}",
                counter.name()
            );
        }
    }

    pub fn counter(&mut self, counter: Counter) -> u64 {
        let rtl = u64::from(self.rtl.counter(counter));
        assert_eq!(
            rtl,
            self.model.counters().get(counter),
            "{}",
            counter.name()
        );
        rtl
    }
}

/// Panics at the first element where the RTL's output differs from the model's.
fn first_difference<T: std::fmt::Debug + PartialEq>(
    what: &str,
    rtl: &[T],
    model: &[T],
    context: &str,
) {
    let at = rtl.iter().zip(model).position(|(r, m)| r != m);
    if at.is_none() && rtl.len() == model.len() {
        return;
    }
    let at = at.unwrap_or(rtl.len().min(model.len()));
    let show = |v: Option<&T>| format!("{v:?}").chars().take(600).collect::<String>();
    panic!(
        "{what} differ at {at} ({} RTL, {} model):\n  RTL:   {}\n  model: {}\n{context}",
        rtl.len(),
        model.len(),
        show(rtl.get(at)),
        show(model.get(at))
    );
}

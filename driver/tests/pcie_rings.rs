//! XDMA ring and register sequences against the fake engine: what the driver
//! writes where and in which order, descriptor contents (Stop at the end of
//! every H2C run, adjacent counts), doorbell values, wrap-around, records
//! spanning descriptors, backpressure, descriptors owned by the engine, and
//! every error bit the fake can raise turning into a typed error.

use riptide_driver::model::{ModelBugs, ModelNic};
use riptide_driver::pcie::board::DEFAULT_DMA_BAR;
use riptide_driver::pcie::device::DmaBuffer;
use riptide_driver::pcie::device::PcieDevice;
use riptide_driver::pcie::fake::{FakeDevice, Fault, Violation};
use riptide_driver::pcie::xdma::{
    C2hChannel, DESC_COMPLETED, DESC_EOP, DESC_STOP, DESCRIPTOR_LEN, Descriptor, Direction, Engine,
    H2cChannel, RingConfig, XdmaError, adjacent_after, control, reg, status,
};
use riptide_wire::Ballot;
use riptide_wire::frame::decode_frame;
use riptide_wire::host::{CardToHost, NicCommand, NicConfig, NicEvent, NicRole};
use riptide_wire::layout::UDP_PORT;
use riptide_wire::records::{TRANSMIT_DATAGRAM_OFFSET, decode_c2h, encode_h2c};

const BAR: u8 = DEFAULT_DMA_BAR;
const H2C: Engine = Engine::new(Direction::H2c, 0);
const C2H: Engine = Engine::new(Direction::C2h, 0);
const B1: Ballot = Ballot::new(1, 0);

type Fake = FakeDevice<ModelNic>;

fn fake() -> Fake {
    FakeDevice::new(ModelNic::new(0, 3, 7, ModelBugs::default()))
}

/// The fake with its card leading ballot B1 from slot 1.
fn leading() -> Fake {
    let mut dev = fake();
    dev.card_mut().command(NicCommand::Configure(NicConfig {
        role: NicRole::Leader,
        ballot: B1,
        next_slot: 1,
        commit: 0,
        replicas: 3,
        window: 1000,
        lives: Default::default(),
    }));
    dev
}

fn ring(descriptors: usize, buffer_size: usize) -> RingConfig {
    RingConfig {
        descriptors,
        buffer_size,
    }
}

/// An h2c Transmit record to replica 1 whose datagram is `n` bytes of `tag`.
fn transmit(tag: u8, n: usize) -> Vec<u8> {
    encode_h2c(&NicCommand::Transmit {
        to: 1,
        datagram: vec![tag; n],
    })
    .unwrap()
}

/// The datagrams the card put on the network, in order.
fn sent_datagrams(dev: &mut Fake) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| dev.card_mut().poll_transmit())
        .map(|(to, frame)| {
            assert_eq!(to, 1);
            decode_frame(&frame, UDP_PORT).unwrap().datagram.to_vec()
        })
        .collect()
}

/// Where the engine's current chain starts (its descriptor address registers).
fn chain_start(dev: &mut Fake, engine: Engine) -> u64 {
    let lo = dev.read32(BAR, engine.sgdma_reg(reg::DESC_LO)).unwrap();
    let hi = dev.read32(BAR, engine.sgdma_reg(reg::DESC_HI)).unwrap();
    u64::from(lo) | u64::from(hi) << 32
}

fn descriptor(dev: &mut Fake, base: u64, index: usize) -> Descriptor {
    let raw = dev
        .peek(base + (index * DESCRIPTOR_LEN) as u64, DESCRIPTOR_LEN)
        .unwrap();
    Descriptor::decode(&raw.try_into().unwrap()).unwrap()
}

/// Values written to an engine's credit register (its doorbell), in order.
fn doorbells(dev: &Fake, engine: Engine) -> Vec<u32> {
    dev.writes()
        .iter()
        .filter(|w| w.bar == BAR && w.offset == engine.sgdma_reg(reg::DESC_CREDITS))
        .map(|w| w.value)
        .collect()
}

/// The H2C runs started: control writes that set Run.
fn runs(dev: &Fake) -> usize {
    dev.writes()
        .iter()
        .filter(|w| {
            w.bar == BAR && w.offset == H2C.channel_reg(reg::CONTROL) && w.value & control::RUN != 0
        })
        .count()
}

fn engine_error(result: Result<(), XdmaError>) -> (Engine, u32, String) {
    match result {
        Err(e @ XdmaError::Engine { .. }) => {
            let text = e.to_string();
            let XdmaError::Engine { engine, status } = e else {
                unreachable!()
            };
            (engine, status.0, text)
        }
        other => panic!("expected an engine error, got {other:?}"),
    }
}

#[test]
fn h2c_start_programs_the_engine_but_runs_nothing_and_stays_out_of_credit_mode() {
    let mut dev = fake();
    let h2c = H2cChannel::start(&mut dev, BAR, 0, ring(4, 256)).unwrap();
    let sequence: Vec<(u64, u32)> = dev.writes().iter().map(|w| (w.offset, w.value)).collect();
    let offsets: Vec<u64> = sequence.iter().map(|(o, _)| *o).collect();
    assert_eq!(
        offsets,
        [
            H2C.channel_reg(reg::CONTROL),
            H2C.channel_reg(reg::POLL_WB_LO),
            H2C.channel_reg(reg::POLL_WB_HI),
            H2C.channel_reg(reg::INTERRUPT_ENABLE),
        ]
    );
    assert_eq!(sequence[0].1, 0, "stopped before it is reprogrammed");
    let credit_mode = reg::SGDMA_COMMON_BLOCK + reg::CREDIT_MODE_ENABLE;
    assert_eq!(dev.read32(BAR, credit_mode).unwrap() & H2C.credit_bit(), 0);
    assert_eq!(h2c.in_flight(), 0);
    // Until a run uses it, every descriptor is a Stop descriptor.
    for i in 0..4 {
        let d = descriptor(&mut dev, h2c.ring_iova(), i);
        assert_eq!(d.control & DESC_STOP, DESC_STOP, "{i}");
    }
}

#[test]
fn c2h_runs_its_circle_in_credit_mode() {
    let mut dev = fake();
    H2cChannel::start(&mut dev, BAR, 0, ring(4, 256)).unwrap();
    let c2h = C2hChannel::start(&mut dev, BAR, 0, ring(4, 256)).unwrap();
    let base = c2h.ring_iova();
    for i in 0..4 {
        let d = descriptor(&mut dev, c2h.ring_iova(), i);
        let next = (i + 1) % 4;
        assert_eq!(d.next, base + (next * DESCRIPTOR_LEN) as u64, "{i}");
        assert_eq!(d.next_adjacent, adjacent_after(next, 4, 3));
        assert_eq!(d.control, DESC_COMPLETED, "no Stop in the circle");
    }
    let d = descriptor(&mut dev, c2h.ring_iova(), 2);
    assert_eq!(d.len, 256, "a C2H descriptor offers its whole buffer");
    assert_ne!(d.src, 0, "C2H source is the writeback address");
    assert_eq!(
        doorbells(&dev, C2H),
        [4],
        "every C2H descriptor credited at start"
    );
    let credit_mode = reg::SGDMA_COMMON_BLOCK + reg::CREDIT_MODE_ENABLE;
    assert_eq!(dev.read32(BAR, credit_mode).unwrap(), C2H.credit_bit());
    assert!(dev.violations().is_empty(), "{:?}", dev.violations());
}

#[test]
fn h2c_send_writes_a_stop_terminated_chain_then_starts_the_engine() {
    let mut dev = fake();
    let mut h2c = H2cChannel::start(&mut dev, BAR, 0, ring(4, 256)).unwrap();
    let before = dev.writes().len();
    let record = transmit(0xA5, 40);
    h2c.send(&mut dev, &record).unwrap();
    let d = descriptor(&mut dev, h2c.ring_iova(), 0);
    assert_eq!(d.control, DESC_COMPLETED | DESC_EOP | DESC_STOP);
    assert_eq!(d.next_adjacent, 0);
    assert_eq!(d.len as usize, record.len());
    assert_eq!(dev.peek(d.src, record.len()).unwrap(), record);
    let run: Vec<(u64, u32)> = dev.writes()[before..]
        .iter()
        .map(|w| (w.offset, w.value))
        .collect();
    let base = chain_start(&mut dev, H2C);
    assert_eq!(
        run,
        [
            (H2C.sgdma_reg(reg::DESC_LO), base as u32),
            (H2C.sgdma_reg(reg::DESC_HI), (base >> 32) as u32),
            (H2C.sgdma_reg(reg::DESC_ADJACENT), 0),
            (H2C.channel_reg(reg::CONTROL), H2C.running_control()),
        ],
        "Run is the last write"
    );
    assert!(doorbells(&dev, H2C).is_empty(), "no credits on H2C");
    assert_eq!(sent_datagrams(&mut dev), [vec![0xA5; 40]]);
    assert_eq!(h2c.reap(&mut dev).unwrap(), 1);
    assert_eq!(h2c.in_flight(), 0);
    let status = dev.read32(BAR, H2C.channel_reg(reg::STATUS)).unwrap();
    assert_eq!(status & status::DESC_STOPPED, status::DESC_STOPPED);
    let last = dev.writes().last().unwrap();
    assert_eq!(
        (last.offset, last.value),
        (H2C.channel_reg(reg::CONTROL_W1C), control::RUN),
        "a finished run is stopped"
    );
    assert!(dev.violations().is_empty(), "{:?}", dev.violations());
}

#[test]
fn a_record_longer_than_a_buffer_spans_one_run() {
    let mut dev = fake();
    let mut h2c = H2cChannel::start(&mut dev, BAR, 0, ring(8, 64)).unwrap();
    let record = transmit(7, 100);
    assert_eq!(record.len(), TRANSMIT_DATAGRAM_OFFSET + 100);
    h2c.send(&mut dev, &record).unwrap();
    let chain: Vec<(u32, u8, u8)> = (0..4)
        .map(|i| {
            let d = descriptor(&mut dev, h2c.ring_iova(), i);
            (d.len, d.control & (DESC_EOP | DESC_STOP), d.next_adjacent)
        })
        .collect();
    // Adjacent counts name the descriptors after the next one, up to the
    // chain's end (the reference driver's rule), never past the Stop.
    assert_eq!(
        chain,
        [
            (64, 0, 2),
            (64, 0, 1),
            (64, 0, 0),
            (14, DESC_EOP | DESC_STOP, 0)
        ]
    );
    let adjacent = dev.read32(BAR, H2C.sgdma_reg(reg::DESC_ADJACENT)).unwrap();
    assert_eq!(adjacent, 3, "the first block is the whole chain");
    assert_eq!(runs(&dev), 1);
    assert_eq!(sent_datagrams(&mut dev), [vec![7; 100]]);
    assert!(dev.violations().is_empty(), "{:?}", dev.violations());
}

#[test]
fn the_h2c_ring_wraps_and_reuses_its_slots() {
    let mut dev = fake();
    let mut h2c = H2cChannel::start(&mut dev, BAR, 0, ring(4, 256)).unwrap();
    for tag in 0..10u8 {
        h2c.send(&mut dev, &transmit(tag, 20 + usize::from(tag)))
            .unwrap();
    }
    let expected: Vec<Vec<u8>> = (0..10u8).map(|t| vec![t; 20 + usize::from(t)]).collect();
    assert_eq!(sent_datagrams(&mut dev), expected, "in order, none lost");
    assert_eq!(runs(&dev), 10, "the engine was idle at every send");
    // Packet 9 went into slot 9 % 4 = 1, over packets 1 and 5.
    let d = descriptor(&mut dev, h2c.ring_iova(), 1);
    assert_eq!(dev.peek(d.src, d.len as usize).unwrap(), transmit(9, 29));
    let count = dev
        .read32(BAR, H2C.channel_reg(reg::COMPLETED_COUNT))
        .unwrap();
    assert_eq!(count, 1, "the count restarts with every run");
    h2c.reap(&mut dev).unwrap();
    assert_eq!(h2c.in_flight(), 0);
    assert!(dev.violations().is_empty(), "{:?}", dev.violations());
}

#[test]
fn packets_queued_behind_a_run_go_out_in_the_next_one() {
    let mut dev = fake();
    let mut h2c = H2cChannel::start(&mut dev, BAR, 0, ring(8, 256)).unwrap();
    dev.hold_h2c(true);
    for tag in 0..3u8 {
        h2c.send(&mut dev, &transmit(tag, 8)).unwrap();
    }
    assert_eq!(runs(&dev), 1, "the engine is busy with the first packet");
    assert_eq!(h2c.in_flight(), 3);
    dev.hold_h2c(false);
    h2c.reap(&mut dev).unwrap();
    assert_eq!(runs(&dev), 2, "the other two in one run");
    let second_slot = h2c.ring_iova() + DESCRIPTOR_LEN as u64;
    assert_eq!(
        chain_start(&mut dev, H2C),
        second_slot,
        "the run starts at slot 1"
    );
    let second = descriptor(&mut dev, h2c.ring_iova(), 1);
    assert_eq!(second.control & DESC_STOP, 0, "mid-run: no Stop");
    let third = descriptor(&mut dev, h2c.ring_iova(), 2);
    assert_eq!(third.control & DESC_STOP, DESC_STOP);
    h2c.reap(&mut dev).unwrap();
    assert_eq!(h2c.in_flight(), 0);
    assert_eq!(
        sent_datagrams(&mut dev),
        [vec![0; 8], vec![1; 8], vec![2; 8]]
    );
    assert!(dev.violations().is_empty(), "{:?}", dev.violations());
}

#[test]
fn long_chains_keep_their_adjacent_blocks_inside_64_descriptors() {
    // A 200-descriptor ring of 128-byte buffers: 60 one-descriptor packets
    // put the next chain at slot 60, and a 130-descriptor packet then runs
    // across the 64- and 128-descriptor boundaries and to the ring's end.
    let mut dev = fake();
    let mut h2c = H2cChannel::start(&mut dev, BAR, 0, ring(200, 128)).unwrap();
    for tag in 0..60u8 {
        h2c.send(&mut dev, &transmit(tag, 1)).unwrap();
    }
    let long = transmit(0xEE, 130 * 128 - TRANSMIT_DATAGRAM_OFFSET);
    h2c.send(&mut dev, &long).unwrap();
    for i in 60..189 {
        let d = descriptor(&mut dev, h2c.ring_iova(), i);
        let next = i + 1;
        let left = 189 - next;
        assert_eq!(
            usize::from(d.next_adjacent),
            left.min(63 - next % 64),
            "descriptor {i}"
        );
    }
    assert_eq!(
        dev.read32(BAR, H2C.sgdma_reg(reg::DESC_ADJACENT)).unwrap(),
        3,
        "slot 60's block ends at 63"
    );
    let sent = sent_datagrams(&mut dev);
    assert_eq!(sent.len(), 61);
    assert_eq!(sent[60], vec![0xEE; 130 * 128 - TRANSMIT_DATAGRAM_OFFSET]);
    assert!(dev.violations().is_empty(), "{:?}", dev.violations());
}

#[test]
fn a_full_h2c_ring_refuses_more_work() {
    let mut dev = fake();
    let mut h2c = H2cChannel::start(&mut dev, BAR, 0, ring(4, 256)).unwrap();
    // The card takes nothing: descriptors are posted but never completed.
    dev.hold_h2c(true);
    for tag in 0..4 {
        h2c.send(&mut dev, &transmit(tag, 8)).unwrap();
    }
    match h2c.send(&mut dev, &transmit(4, 8)) {
        Err(XdmaError::RingFull {
            in_flight: 4,
            capacity: 4,
        }) => {}
        other => panic!("expected a full ring, got {other:?}"),
    }
    assert!(matches!(
        h2c.send(&mut dev, &[0u8; 5 * 256]),
        Err(XdmaError::TooLarge { needed: 5, .. })
    ));
    assert!(matches!(
        h2c.send(&mut dev, &[]),
        Err(XdmaError::EmptyPacket)
    ));
    dev.hold_h2c(false);
    while h2c.in_flight() > 0 {
        h2c.reap(&mut dev).unwrap();
    }
    h2c.send(&mut dev, &transmit(4, 8)).unwrap();
    let sent = sent_datagrams(&mut dev);
    assert_eq!(sent, (0..5u8).map(|t| vec![t; 8]).collect::<Vec<_>>());
    assert!(
        dev.violations().is_empty(),
        "the driver never wrote what the engine owned: {:?}",
        dev.violations()
    );
}

#[test]
fn the_engine_works_from_the_descriptor_it_fetched_and_a_rewrite_is_caught() {
    // What a driver that reused a descriptor still owned by the engine would
    // do: the engine has fetched descriptor 0 (Run), the card holds the
    // stream, and the descriptor is rewritten to a shorter length.
    let mut dev = fake();
    let mut h2c = H2cChannel::start(&mut dev, BAR, 0, ring(4, 256)).unwrap();
    dev.hold_h2c(true);
    let record = transmit(0x5A, 40);
    h2c.send(&mut dev, &record).unwrap();
    let base = h2c.ring_iova();
    let mut rewritten = descriptor(&mut dev, h2c.ring_iova(), 0);
    rewritten.len = 8;
    let ring_memory = DmaBuffer::new(base, 4 * DESCRIPTOR_LEN);
    dev.dma_write(&ring_memory, 0, &rewritten.encode()).unwrap();
    assert_eq!(
        dev.violations(),
        [Violation::DescriptorRewritten {
            direction: Direction::H2c,
            iova: base,
        }]
    );
    dev.hold_h2c(false);
    assert_eq!(
        sent_datagrams(&mut dev),
        [vec![0x5A; 40]],
        "the engine did not see the rewrite"
    );
    // Rewriting the data of an owned descriptor is caught too.
    dev.hold_h2c(true);
    h2c.send(&mut dev, &transmit(1, 8)).unwrap();
    let d = descriptor(&mut dev, h2c.ring_iova(), 1);
    let data = DmaBuffer::new(d.src, d.len as usize);
    dev.dma_write(&data, 0, &[0]).unwrap();
    assert!(
        matches!(
            dev.violations().last(),
            Some(Violation::BufferRewritten {
                direction: Direction::H2c,
                ..
            })
        ),
        "{:?}",
        dev.violations()
    );
}

#[test]
fn a_c2h_descriptor_rewritten_after_its_credit_is_not_seen() {
    let mut dev = leading();
    let mut c2h = C2hChannel::start(&mut dev, BAR, 0, ring(4, 256)).unwrap();
    // Every descriptor was credited at start, so the engine holds them all.
    let base = c2h.ring_iova();
    let mut moved = descriptor(&mut dev, c2h.ring_iova(), 0);
    let elsewhere = dev.dma_map(4096).unwrap();
    moved.dst = elsewhere.iova();
    dev.dma_write(
        &DmaBuffer::new(base, 4 * DESCRIPTOR_LEN),
        0,
        &moved.encode(),
    )
    .unwrap();
    dev.card_mut()
        .command(NicCommand::Submit { value: vec![9; 3] });
    let packet = c2h.poll(&mut dev).unwrap().expect("a record");
    assert!(matches!(
        decode_c2h(&packet).unwrap(),
        CardToHost::Event(NicEvent::Accepted { slot: 1, .. })
    ));
    assert_eq!(
        dev.peek(elsewhere.iova(), 8).unwrap(),
        [0; 8],
        "the record went where the fetched descriptor said"
    );
    assert_eq!(
        dev.violations(),
        [Violation::DescriptorRewritten {
            direction: Direction::C2h,
            iova: base,
        }]
    );
}

#[test]
fn the_fake_engine_catches_adjacent_blocks_the_reference_never_builds() {
    // Programmed by hand: a first block of 63 adjacent descriptors from
    // descriptor 100 of a ring runs from 0xC80 to 0x1C7F, across 4 KiB.
    let mut dev = fake();
    let ring_memory = dev.dma_map(200 * DESCRIPTOR_LEN).unwrap();
    let at = ring_memory.iova_at(100 * DESCRIPTOR_LEN);
    dev.write32(BAR, H2C.sgdma_reg(reg::DESC_LO), at as u32)
        .unwrap();
    dev.write32(BAR, H2C.sgdma_reg(reg::DESC_HI), (at >> 32) as u32)
        .unwrap();
    dev.write32(BAR, H2C.sgdma_reg(reg::DESC_ADJACENT), 63)
        .unwrap();
    dev.write32(BAR, H2C.channel_reg(reg::CONTROL), H2C.running_control())
        .unwrap();
    assert!(matches!(
        dev.violations().first(),
        Some(Violation::BlockCrossesPage {
            direction: Direction::H2c,
            adjacent: 63,
            ..
        })
    ));
}

#[test]
fn c2h_records_arrive_in_order_and_each_returns_a_credit() {
    let mut dev = leading();
    let mut c2h = C2hChannel::start(&mut dev, BAR, 0, ring(4, 256)).unwrap();
    for i in 0..10u8 {
        dev.card_mut()
            .command(NicCommand::Submit { value: vec![i; 3] });
    }
    let mut slots = Vec::new();
    while let Some(packet) = c2h.poll(&mut dev).unwrap() {
        match decode_c2h(&packet).unwrap() {
            CardToHost::Event(NicEvent::Accepted { slot, value, .. }) => {
                assert_eq!(value, vec![(slot - 1) as u8; 3]);
                slots.push(slot);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(slots, (1..=10).collect::<Vec<u64>>());
    let mut expected = vec![4];
    expected.extend([1; 10]);
    assert_eq!(doorbells(&dev, C2H), expected);
}

#[test]
fn c2h_records_longer_than_a_buffer_are_reassembled_across_the_wrap() {
    let mut dev = leading();
    let mut c2h = C2hChannel::start(&mut dev, BAR, 0, ring(8, 64)).unwrap();
    for i in 0..5u8 {
        dev.card_mut().command(NicCommand::Submit {
            value: vec![i; 100],
        });
    }
    // 74 bytes of header and padding + 100 of value: 3 descriptors each, so
    // the third record wraps the 8-descriptor ring.
    for i in 0..5u8 {
        let packet = c2h.poll(&mut dev).unwrap().expect("a record");
        assert_eq!(packet.len(), 174);
        assert_eq!(
            decode_c2h(&packet).unwrap(),
            CardToHost::Event(NicEvent::Accepted {
                ballot: B1,
                slot: u64::from(i) + 1,
                value: vec![i; 100],
            })
        );
    }
    assert_eq!(c2h.poll(&mut dev).unwrap(), None);
}

#[test]
fn c2h_backpressure_holds_records_until_credits_return() {
    let mut dev = leading();
    let mut c2h = C2hChannel::start(&mut dev, BAR, 0, ring(2, 256)).unwrap();
    for i in 0..5u8 {
        dev.card_mut()
            .command(NicCommand::Submit { value: vec![i] });
    }
    let done = dev
        .read32(BAR, C2H.channel_reg(reg::COMPLETED_COUNT))
        .unwrap();
    assert_eq!(done, 2, "only the credited descriptors are filled");
    let credits = dev.read32(BAR, C2H.sgdma_reg(reg::DESC_CREDITS)).unwrap();
    assert_eq!(credits, 0);
    let mut n = 0;
    while c2h.poll(&mut dev).unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 5);
}

#[test]
fn a_descriptor_without_magic_stops_the_engine_with_a_typed_error() {
    let mut dev = fake();
    let mut h2c = H2cChannel::start(&mut dev, BAR, 0, ring(4, 256)).unwrap();
    dev.inject(Fault::BadMagic(Direction::H2c));
    h2c.send(&mut dev, &transmit(1, 8)).unwrap();
    assert!(sent_datagrams(&mut dev).is_empty());
    let (engine, bits, text) = engine_error(h2c.check(&mut dev));
    assert_eq!(engine, H2C);
    assert_eq!(bits & status::MAGIC_STOPPED, status::MAGIC_STOPPED);
    assert_eq!(bits & status::BUSY, 0, "stopped");
    assert!(text.contains("H2C channel 0 stopped"), "{text}");
    assert!(text.contains("0xAD4B"), "{text}");
    // With work outstanding and no progress, reaping looks at the status too.
    assert!(matches!(h2c.reap(&mut dev), Err(XdmaError::Engine { .. })));
}

#[test]
fn fetch_and_read_errors_name_the_failed_transfer() {
    let mut dev = leading();
    let mut h2c = H2cChannel::start(&mut dev, BAR, 0, ring(4, 256)).unwrap();
    // The C2H engine fetches its credited descriptors at start.
    dev.inject(Fault::DescriptorFetchError(Direction::C2h));
    let mut c2h = C2hChannel::start(&mut dev, BAR, 0, ring(4, 256)).unwrap();
    dev.inject(Fault::H2cReadError);
    h2c.send(&mut dev, &transmit(1, 8)).unwrap();
    let (_, bits, text) = engine_error(h2c.check(&mut dev));
    assert_eq!(bits & status::READ_ERROR, 1 << status::READ_ERROR_SHIFT);
    assert!(
        text.contains("data read failed: unsupported request"),
        "{text}"
    );

    dev.card_mut()
        .command(NicCommand::Submit { value: vec![1] });
    assert_eq!(c2h.poll(&mut dev).unwrap(), None, "nothing was written");
    let (engine, bits, text) = engine_error(c2h.check(&mut dev));
    assert_eq!(engine, C2H);
    assert_eq!(bits & status::DESC_ERROR, 1 << status::DESC_ERROR_SHIFT);
    assert!(text.contains("descriptor fetch failed"), "{text}");
}

#[test]
fn a_bad_writeback_is_reported_and_the_ring_goes_on() {
    let mut dev = leading();
    let mut c2h = C2hChannel::start(&mut dev, BAR, 0, ring(4, 256)).unwrap();
    dev.inject(Fault::BadWriteback);
    for i in 0..2u8 {
        dev.card_mut()
            .command(NicCommand::Submit { value: vec![i] });
    }
    match c2h.poll(&mut dev) {
        Err(XdmaError::BadWriteback { index: 0, found }) => assert_ne!(found, 0x52B4),
        other => panic!("expected a bad writeback, got {other:?}"),
    }
    let second = c2h.poll(&mut dev).unwrap().expect("the next record");
    assert!(matches!(
        decode_c2h(&second).unwrap(),
        CardToHost::Event(NicEvent::Accepted { slot: 2, .. })
    ));
    assert_eq!(
        doorbells(&dev, C2H),
        [4, 1, 1],
        "the bad descriptor was recycled"
    );
}

#[test]
fn a_c2h_descriptor_of_invalid_length_sets_its_status_bit() {
    // Program the C2H engine by hand with a 100-byte buffer: not a multiple
    // of 64, which the engine refuses (the driver's ring geometry never does).
    let mut dev = leading();
    let ring_mem = dev.dma_map(DESCRIPTOR_LEN).unwrap();
    let data = dev.dma_map(4096).unwrap();
    let d = Descriptor {
        control: DESC_COMPLETED,
        next_adjacent: 0,
        len: 100,
        src: data.iova_at(2048),
        dst: data.iova(),
        next: ring_mem.iova(),
    };
    dev.dma_write(&ring_mem, 0, &d.encode()).unwrap();
    let iova = ring_mem.iova();
    dev.write32(BAR, C2H.sgdma_reg(reg::DESC_LO), iova as u32)
        .unwrap();
    dev.write32(BAR, C2H.sgdma_reg(reg::DESC_HI), (iova >> 32) as u32)
        .unwrap();
    dev.write32(
        BAR,
        reg::SGDMA_COMMON_BLOCK + reg::CREDIT_MODE_ENABLE_W1S,
        C2H.credit_bit(),
    )
    .unwrap();
    dev.write32(BAR, C2H.channel_reg(reg::CONTROL), C2H.running_control())
        .unwrap();
    dev.write32(BAR, C2H.sgdma_reg(reg::DESC_CREDITS), 1)
        .unwrap();
    dev.card_mut()
        .command(NicCommand::Submit { value: vec![1] });
    let value = dev.read32(BAR, C2H.channel_reg(reg::STATUS)).unwrap();
    assert_eq!(value & status::INVALID_LENGTH, status::INVALID_LENGTH);
    let text = riptide_driver::pcie::xdma::EngineStatus(value).to_string();
    assert!(text.contains("multiple of 64"), "{text}");
    // The read-clear register reports it once.
    let rc = dev.read32(BAR, C2H.channel_reg(reg::STATUS_RC)).unwrap();
    assert_eq!(rc & status::INVALID_LENGTH, status::INVALID_LENGTH);
    let after = dev.read32(BAR, C2H.channel_reg(reg::STATUS)).unwrap();
    assert_eq!(after & status::ERRORS, 0);
}

#[test]
fn ring_geometry_is_checked_before_anything_is_programmed() {
    for bad in [ring(1, 64), ring(1024, 64), ring(4, 100), ring(4, 0)] {
        let mut dev = fake();
        assert!(
            matches!(
                H2cChannel::start(&mut dev, BAR, 0, bad),
                Err(XdmaError::Geometry(_))
            ),
            "{bad:?}"
        );
        assert!(dev.writes().is_empty());
    }
}

use rust_hdl::prelude::*;
fn time<B: Block>(name: &str, mut b: B) {
    b.connect_all();
    simulate(&mut b, 100);
    let t = std::time::Instant::now();
    for _ in 0..5000 {
        b.update_all();
    }
    println!(
        "{name}: {:.2} us/pass",
        t.elapsed().as_secs_f64() / 5000.0 * 1e6
    );
}
fn main() {
    time("parser", riptide_hw::parser::RxParser::default());
    time("store", riptide_hw::store::FrameStore::default());
    time("fast", riptide_hw::fastpath::FastPath::default());
    time("quorum", riptide_hw::quorum::Quorum::default());
    time("c2h", riptide_hw::c2h::C2hWriter::default());
    time("tx", riptide_hw::tx::TxBuilder::default());
    time("leader", riptide_hw::leader::LeaderUnit::default());
    time("regs", riptide_hw::regfile::RegFile::default());
    time("swap", riptide_hw::swap::Swap64::default());
    time("fifo64", riptide_hw::fifo::RegFifo::<Bits<64>>::default());
    time("core", riptide_hw::core::RiptideCore::default());
}

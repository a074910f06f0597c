fn main() {
    let path = riptide_hw::verilog::write_verilog(std::path::Path::new("/tmp/rv")).unwrap();
    println!("{}", path.display());
}

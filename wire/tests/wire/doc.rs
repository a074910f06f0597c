//! `docs/wire.md` holds a hand-written intro and a part generated from the code.

use riptide_wire::doc::markdown;

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/wire.md");
const BEGIN: &str = "<!-- generated:begin -->\n";
const END: &str = "<!-- generated:end -->";

/// The file's text before, inside and after the generated part.
fn split(text: &str) -> Option<(&str, &str, &str)> {
    let (before, rest) = text.split_once(BEGIN)?;
    let (generated, after) = rest.split_once(END)?;
    Some((before, generated, after))
}

#[test]
fn docs_wire_md_is_generated_from_the_code() {
    let text = std::fs::read_to_string(PATH).expect("docs/wire.md exists");
    let (before, generated, after) =
        split(&text).expect("docs/wire.md has the generated:begin/end markers");
    let fresh = markdown();
    if std::env::var_os("RIPTIDE_BLESS").is_some() {
        std::fs::write(PATH, format!("{before}{BEGIN}{fresh}{END}{after}"))
            .expect("write docs/wire.md");
        return;
    }
    assert!(
        generated == fresh,
        "docs/wire.md is stale: regenerate it with `RIPTIDE_BLESS=1 cargo test -p riptide-wire doc`"
    );
}

#[test]
fn generated_part_states_the_key_figures() {
    let doc = markdown();
    for fact in [
        "**74 bytes** without FCS",
        "**2 beats at 512 bits**",
        "| `0x01` | ACCEPT | fast path | `BALLOT`, `SLOT`, `COMMIT` |",
        "| `DST_PORT` | 36 | 2 |",
        "| `SLOT` | 58 | 16 | 8 |",
        "| `absurd_count` |",
        "**Header fields are little-endian**",
        "| 1 | Accepted | `len`, `ballot`, `slot` | 74 |",
        "| 4 | Punted | `len` | 64 |",
        "| 2 | Transmit | `to`, `len` | 106 |",
        "its own entry of the peer table",
        "payload length (`payload_len_mismatch`), `oversize`, header fields",
    ] {
        assert!(doc.contains(fact), "missing {fact:?} in:\n{doc}");
    }
}

//! Board data, parsed from `deploy/boards/<name>.toml` (compiled in, so the
//! CLI needs no source tree). Every value names its source; [`Board::check`]
//! refuses a board whose `src` keys are not in its `[sources]` table.

use serde::Deserialize;
use std::collections::BTreeMap;
use thiserror::Error;

/// The boards the kit knows, by name, with their TOML text.
pub const BOARDS: &[(&str, &str)] = &[
    ("u250", include_str!("../boards/u250.toml")),
    ("u280", include_str!("../boards/u280.toml")),
    ("u55c", include_str!("../boards/u55c.toml")),
];

#[derive(Debug, Error)]
pub enum BoardError {
    #[error("unknown board {0:?} (known: u250, u280, u55c)")]
    Unknown(String),
    #[error("board {board}: {message}")]
    Syntax { board: String, message: String },
    #[error("board {board}: {what} cites {source_key:?}, which [sources] does not define")]
    Uncited {
        board: String,
        what: String,
        source_key: String,
    },
    #[error("board {board}: {0}", board = .1)]
    Invalid(String, String),
    #[error("board {board} has no QSFP cage {qsfp}")]
    NoCage { board: String, qsfp: u8 },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Board {
    pub name: String,
    pub title: String,
    pub part: String,
    pub part_src: String,
    pub sources: BTreeMap<String, String>,
    pub pcie: Pcie,
    pub flash: Flash,
    pub bitstream: Bitstream,
    pub qsfp: Vec<Qsfp>,
    #[serde(default)]
    pub drive: Vec<Drive>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pcie {
    pub refclk_p: String,
    pub refclk_n: String,
    pub perst_n: String,
    pub perst_iostandard: String,
    pub lanes: u8,
    /// XDMA's `pcie_blk_locn`; empty where no source read gives it.
    pub block: String,
    pub src: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flash {
    pub part: String,
    pub interface: String,
    pub size_mb: u32,
    pub user_offset: String,
    pub src: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bitstream {
    pub config_voltage: String,
    pub spi_buswidth: u8,
    pub config_rate: String,
    pub src: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Qsfp {
    pub index: u8,
    pub refclk_p: String,
    pub refclk_n: String,
    pub refclk_mhz: f64,
    pub cmac_site: String,
    pub gt_channels: Vec<String>,
    pub rx_p: Vec<String>,
    pub tx_p: Vec<String>,
    pub src: String,
}

/// A pin the design must drive to a constant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drive {
    pub port: String,
    pub loc: String,
    pub iostandard: String,
    pub value: u8,
    /// The cage the pin belongs to; none for board-wide pins (HBM CATTRIP).
    pub qsfp: Option<u8>,
    pub why: String,
    pub src: String,
}

impl Board {
    /// The named board, parsed and checked.
    pub fn named(name: &str) -> Result<Board, BoardError> {
        let text = BOARDS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| *text)
            .ok_or_else(|| BoardError::Unknown(name.to_string()))?;
        Board::parse(name, text)
    }

    pub fn parse(name: &str, text: &str) -> Result<Board, BoardError> {
        let board: Board = toml::from_str(text).map_err(|error| BoardError::Syntax {
            board: name.to_string(),
            message: error.to_string(),
        })?;
        board.check()?;
        Ok(board)
    }

    /// Every `src` names a defined source; the GT data is four lanes per
    /// cage; the cages are numbered 0, 1, ...
    pub fn check(&self) -> Result<(), BoardError> {
        let mut cited = vec![
            ("part".to_string(), self.part_src.as_str()),
            ("[pcie]".to_string(), self.pcie.src.as_str()),
            ("[flash]".to_string(), self.flash.src.as_str()),
            ("[bitstream]".to_string(), self.bitstream.src.as_str()),
        ];
        for cage in &self.qsfp {
            cited.push((format!("qsfp {}", cage.index), cage.src.as_str()));
        }
        for pin in &self.drive {
            cited.push((format!("drive {}", pin.port), pin.src.as_str()));
        }
        for (what, list) in cited {
            if list.trim().is_empty() {
                return Err(self.invalid(format!("{what} cites no source")));
            }
            for key in list.split(',').map(str::trim) {
                if !self.sources.contains_key(key) {
                    return Err(BoardError::Uncited {
                        board: self.name.clone(),
                        what,
                        source_key: key.to_string(),
                    });
                }
            }
        }
        for (position, cage) in self.qsfp.iter().enumerate() {
            if usize::from(cage.index) != position {
                return Err(self.invalid(format!("qsfp {} out of order", cage.index)));
            }
            for (what, list) in [
                ("gt_channels", &cage.gt_channels),
                ("rx_p", &cage.rx_p),
                ("tx_p", &cage.tx_p),
            ] {
                if list.len() != 4 {
                    return Err(self.invalid(format!(
                        "qsfp {} {what} has {} lanes, CAUI-4 needs 4",
                        cage.index,
                        list.len()
                    )));
                }
            }
        }
        for pin in &self.drive {
            if pin.value > 1 {
                return Err(self.invalid(format!("drive {} value {}", pin.port, pin.value)));
            }
            if pin.qsfp.is_some_and(|q| usize::from(q) >= self.qsfp.len()) {
                return Err(self.invalid(format!("drive {} names a missing cage", pin.port)));
            }
        }
        if self.pcie.lanes != 16 {
            return Err(self.invalid("riptide's shell needs PCIe x16".to_string()));
        }
        Ok(())
    }

    pub fn cage(&self, qsfp: u8) -> Result<&Qsfp, BoardError> {
        self.qsfp
            .get(usize::from(qsfp))
            .ok_or_else(|| BoardError::NoCage {
                board: self.name.clone(),
                qsfp,
            })
    }

    /// The constant pins a build for `qsfp` drives: board-wide ones and the
    /// chosen cage's (the other cage's lines are left to their pull-ups).
    pub fn driven(&self, qsfp: u8) -> impl Iterator<Item = &Drive> {
        self.drive
            .iter()
            .filter(move |pin| pin.qsfp.is_none_or(|q| q == qsfp))
    }

    fn invalid(&self, message: String) -> BoardError {
        BoardError::Invalid(message, self.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_board_parses_and_cites_its_sources() {
        for (name, _) in BOARDS {
            let board = Board::named(name).unwrap();
            assert_eq!(&board.name, name);
            assert_eq!(board.qsfp.len(), 2, "{name}: two QSFP28 cages");
        }
    }

    #[test]
    fn a_value_citing_an_undefined_source_is_refused() {
        let text = include_str!("../boards/u280.toml").replace(
            "src = \"corundum_au280_xdc\"\n\n[[qsfp]]",
            "src = \"nobody\"\n\n[[qsfp]]",
        );
        assert!(matches!(
            Board::parse("u280", &text),
            Err(BoardError::Uncited { source_key, .. }) if source_key == "nobody"
        ));
    }

    #[test]
    fn an_unknown_field_is_a_syntax_error() {
        let text = format!(
            "{}\ncolour = \"red\"\n",
            include_str!("../boards/u55c.toml")
        );
        assert!(matches!(
            Board::parse("u55c", &text),
            Err(BoardError::Syntax { .. })
        ));
    }

    #[test]
    fn a_build_drives_only_its_own_cage_lines() {
        let board = Board::named("u250").unwrap();
        assert!(board.driven(1).all(|pin| pin.port.starts_with("qsfp1_")));
        assert_eq!(board.driven(0).count(), 6);
        let u280 = Board::named("u280").unwrap();
        assert!(u280.driven(1).any(|pin| pin.port == "hbm_cattrip"));
    }
}

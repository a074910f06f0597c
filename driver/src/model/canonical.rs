//! The model's canonical form: the state that decides what the NIC does
//! next, for an exhaustive explorer (`mc/`, `docs/model-check.md`) to
//! fingerprint. Counters are left out: they only count (no rule reads
//! them), and they grow without bound, so with them no two states of a
//! long run would ever be equal. The peer addresses are fixed at boot.

use std::fmt;

use super::ModelNic;

impl ModelNic {
    /// Writes the canonical form (above) of this NIC to `out`.
    pub fn write_canonical(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        write!(
            out,
            "{:?}",
            (
                self.id,
                self.group,
                self.bugs,
                &self.config,
                self.base,
                self.fence,
                &self.acks,
                self.reported_commit,
                &self.transmit,
                &self.host,
            )
        )
    }
}

#[cfg(test)]
mod tests {
    use riptide_wire::Ballot;
    use riptide_wire::host::NicCommand;

    use super::*;
    use crate::model::ModelBugs;

    fn canonical(nic: &ModelNic) -> String {
        let mut out = String::new();
        nic.write_canonical(&mut out).unwrap();
        out
    }

    #[test]
    fn counters_do_not_change_the_canonical_form_but_a_fence_does() {
        let mut nic = ModelNic::new(0, 3, 7, ModelBugs::default());
        let before = canonical(&nic);
        nic.receive(&[0xff; 20]);
        assert_eq!(canonical(&nic), before, "a dropped frame only counts");
        nic.command(NicCommand::Fence {
            ballot: Ballot::new(1, 0),
        });
        while nic.poll_host().is_some() {}
        assert_ne!(canonical(&nic), before);
    }
}

//! A run as a space-time diagram in text: one column per replica, time going
//! down. Each protocol frame appears twice, where it leaves (with where it
//! goes and when it lands, or that the network lost it) and where it lands;
//! crashes, restarts and client requests sit on their replica's column.
//! Meant for reading a short run, such as a replayed LDFI counterexample:
//! every frame is a row.
//!
//! ```text
//!   time us  r0                          r1                          r2
//!      1203  ACCEPT b1.0 s1 -> r1 @1210  |                           |
//!      1210  |                           <- r0 ACCEPT b1.0 s1        |
//! ```

use std::fmt::Write;

use riptide_control::kv::{Command, LogValue};
use riptide_wire::frame::decode_frame;
use riptide_wire::layout::UDP_PORT;
use riptide_wire::message::{Ballot, Envelope, Message};

use crate::latency::Micros;

/// Width of a replica's column, in characters.
const COLUMN: usize = 30;

#[derive(Debug, Clone)]
struct Row {
    at: Micros,
    replica: u8,
    text: String,
}

#[derive(Debug, Clone)]
pub struct Timeline {
    replicas: u8,
    group: u16,
    rows: Vec<Row>,
}

impl Timeline {
    pub fn new(replicas: u8, group: u16) -> Timeline {
        Timeline {
            replicas,
            group,
            rows: Vec::new(),
        }
    }

    /// `from`'s NIC put `frame` on the link to `to` at `at`; copies land at
    /// `arrivals` (none: the network lost it).
    pub fn sent(&mut self, from: u8, to: u8, at: Micros, frame: &[u8], arrivals: &[Micros]) {
        let fate = match arrivals {
            [] => "lost".to_string(),
            [one] => format!("@{one}"),
            many => format!(
                "@{}",
                many.iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        };
        let text = format!("{} -> r{to} {fate}", self.describe(frame));
        self.push(at, from, text);
    }

    /// `frame` from `from` reached `to`'s NIC at `at`.
    pub fn delivered(&mut self, from: u8, to: u8, at: Micros, frame: &[u8]) {
        let text = format!("<- r{from} {}", self.describe(frame));
        self.push(at, to, text);
    }

    /// Something that happened to or at `replica`: a crash, a client request.
    pub fn note(&mut self, at: Micros, replica: u8, text: impl Into<String>) {
        self.push(at, replica, text.into());
    }

    /// Client `client`'s request number `request` reached `replica`.
    pub fn request(
        &mut self,
        at: Micros,
        replica: u8,
        client: u64,
        request: u64,
        command: &Command,
    ) {
        let (name, key) = match command {
            Command::Get { key } => ("get", key),
            Command::Put { key, .. } => ("put", key),
            Command::Delete { key } => ("delete", key),
            Command::Cas { key, .. } => ("cas", key),
        };
        self.push(
            at,
            replica,
            format!("client {client} #{request}: {name} {key}"),
        );
    }

    /// `replica` applied `value` (a log value's encoding) in `slot`.
    pub fn applied(&mut self, at: Micros, replica: u8, slot: u64, value: &[u8]) {
        let what = match LogValue::decode(value) {
            Ok(LogValue::Noop) => "no-op".to_string(),
            Ok(LogValue::Request {
                client, request, ..
            }) => format!("client {client} #{request}"),
            Ok(LogValue::Batch(writes)) => {
                let each: Vec<String> = writes
                    .iter()
                    .map(|w| format!("client {} #{}", w.client, w.request))
                    .collect();
                format!("batch of {}", each.join(", "))
            }
            Err(_) => format!("undecodable ({} B)", value.len()),
        };
        self.push(at, replica, format!("applied s{slot}: {what}"));
    }

    fn push(&mut self, at: Micros, replica: u8, text: String) {
        self.rows.push(Row { at, replica, text });
    }

    /// Frames are untrusted bytes: one that does not decode is shown as such.
    fn describe(&self, frame: &[u8]) -> String {
        match decode_frame(frame, UDP_PORT)
            .and_then(|view| Envelope::decode(view.datagram, self.group))
        {
            Ok(envelope) => describe_message(&envelope.message),
            Err(_) => format!("undecodable ({} B)", frame.len()),
        }
    }

    /// The diagram, rows in time order (rows at the same time in the order
    /// they happened).
    pub fn render(&self) -> String {
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        rows.sort_by_key(|row| row.at);
        let mut out = format!("{:>10}  ", "time us");
        for replica in 0..self.replicas {
            out.push_str(&cell(&format!("r{replica}")));
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        for row in rows {
            let _ = write!(out, "{:>10}  ", row.at);
            for replica in 0..self.replicas {
                if replica == row.replica {
                    out.push_str(&cell(&row.text));
                } else {
                    out.push_str(&cell("|"));
                }
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
        }
        out
    }
}

/// `text` padded to the column, or cut to it with a marker.
fn cell(text: &str) -> String {
    let chars = text.chars().count();
    if chars < COLUMN {
        format!("{text}{}", " ".repeat(COLUMN - chars))
    } else {
        let cut: String = text.chars().take(COLUMN - 2).collect();
        format!("{cut}~ ")
    }
}

fn ballot(b: Ballot) -> String {
    format!("b{}.{}", b.round(), b.leader())
}

fn describe_message(message: &Message) -> String {
    match message {
        Message::Accept {
            ballot: b, slot, ..
        } => format!("ACCEPT {} s{slot}", ballot(*b)),
        Message::Accepted { ballot: b, slot } => format!("ACCEPTED {} s{slot}", ballot(*b)),
        Message::Nack { ballot: b, .. } => format!("NACK {}", ballot(*b)),
        Message::Commit { ballot: b, commit } => format!("COMMIT {} c{commit}", ballot(*b)),
        Message::Prepare { ballot: b, .. } => format!("PREPARE {}", ballot(*b)),
        Message::Promise { ballot: b, .. } => format!("PROMISE {}", ballot(*b)),
        other => other.msg_type().name().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use riptide_driver::model::ModelNic;

    use super::*;

    #[test]
    fn frames_appear_where_they_leave_and_where_they_land_in_time_order() {
        let accept = Message::Accept {
            ballot: Ballot::new(1, 0),
            slot: 3,
            commit: 2,
            value: b"v".to_vec(),
        };
        let frame = ModelNic::default_frame(7, 0, 2, accept);
        let mut timeline = Timeline::new(3, 7);
        timeline.delivered(0, 2, 120, &frame);
        timeline.sent(0, 2, 100, &frame, &[120]);
        timeline.sent(0, 1, 100, &frame, &[]);
        timeline.note(130, 1, "CRASH");
        timeline.delivered(1, 0, 140, b"garbage");
        let put = Command::Put {
            key: "k".into(),
            value: "v".into(),
        };
        timeline.request(150, 0, 4, 9, &put);
        let value = LogValue::Request {
            client: 4,
            request: 9,
            command: put,
        };
        timeline.applied(160, 2, 3, &value.encode());
        let text = timeline.render();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("r0") && lines[0].contains("r2"), "{text}");
        assert!(lines[1].contains("ACCEPT b1.0 s3 -> r2 @120"), "{text}");
        assert!(lines[2].contains("-> r1 lost"), "{text}");
        // The arrival sits in r2's column: two column widths in.
        let arrival = lines[3];
        assert!(arrival.trim_start().starts_with("120"), "{text}");
        assert_eq!(arrival.find("<- r0 ACCEPT b1.0 s3"), Some(12 + 2 * COLUMN));
        assert!(lines[4].contains("CRASH"), "{text}");
        assert!(lines[5].contains("<- r1 undecodable (7 B)"), "{text}");
        assert!(lines[6].contains("client 4 #9: put k"), "{text}");
        assert!(lines[7].contains("applied s3: client 4 #9"), "{text}");
    }
}

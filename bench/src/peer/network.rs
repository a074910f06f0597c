//! openraft's network for the peer: its RPCs over persistent loopback TCP
//! connections, each a length-prefixed frame in the binary codec of
//! [`super::codec`], answered on the same connection.
//!
//! TCP because openraft's RPCs are request/response with unbounded bodies
//! (an AppendEntries batch may exceed a datagram), as in its own example
//! network layers. `TCP_NODELAY` is set, so a small RPC is not held back by
//! Nagle's algorithm; each frame leaves in one write and is read through a
//! buffer, so a frame costs about one syscall each way. A connection is
//! opened once per openraft network client (one per replication stream, one
//! for elections) and kept until it fails. openraft 0.9 keeps one
//! AppendEntries in flight per follower and batches every entry appended
//! meanwhile into the next one, so there is nothing more to pipeline on a
//! stream: the batching is openraft's own.

use std::io;
use std::net::SocketAddr;

use openraft::error::{InstallSnapshotError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, Raft, RaftNetwork, RaftNetworkFactory};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::codec::{Reader, Writer};
use super::{NodeId, Types};

/// Largest frame accepted (a bound on untrusted lengths).
const MAX_FRAME: u32 = 64 << 20;

const APPEND: u8 = 1;
const VOTE: u8 = 2;
const SNAPSHOT: u8 = 3;

const OK: u8 = 0;
const ERR: u8 = 1;

/// One end of a connection: a buffered reader, the writer, and the
/// incoming frame's buffer, reused for every message.
struct Conn {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    frame: Vec<u8>,
}

impl Conn {
    fn new(stream: TcpStream) -> io::Result<Conn> {
        stream.set_nodelay(true)?;
        let (read, write) = stream.into_split();
        Ok(Conn {
            reader: BufReader::with_capacity(64 << 10, read),
            writer: write,
            frame: Vec::new(),
        })
    }

    /// Reads the next frame's body into the reused buffer.
    async fn receive(&mut self) -> io::Result<&[u8]> {
        let len = self.reader.read_u32_le().await?;
        if len > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "frame too large",
            ));
        }
        self.frame.resize(len as usize, 0);
        self.reader.read_exact(&mut self.frame).await?;
        Ok(&self.frame)
    }
}

/// Builds in `out` the frame `fill` writes: a length prefix and the body, so
/// the frame leaves in one write.
fn build(out: &mut Vec<u8>, fill: impl FnOnce(&mut Writer) -> io::Result<()>) -> io::Result<()> {
    let mut w = Writer {
        bytes: std::mem::take(out),
    };
    w.bytes.clear();
    w.bytes.extend_from_slice(&[0; 4]);
    let filled = fill(&mut w);
    *out = w.bytes;
    filled?;
    let len = u32::try_from(out.len() - 4).map_err(|_| io::Error::other("frame too large"))?;
    out[..4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Writes `result`: OK and `ok`'s fields, or ERR and the error as JSON.
fn write_result<T, E: Serialize>(
    w: &mut Writer,
    result: &Result<T, E>,
    ok: impl FnOnce(&mut Writer, &T) -> io::Result<()>,
) -> io::Result<()> {
    match result {
        Ok(value) => {
            w.u8(OK);
            ok(w, value)
        }
        Err(error) => {
            w.u8(ERR);
            w.json(error)
        }
    }
}

/// Serves `raft`'s RPCs on `listener` until the runtime stops.
pub async fn serve(listener: TcpListener, raft: Raft<Types>) {
    while let Ok((stream, _)) = listener.accept().await {
        let raft = raft.clone();
        tokio::spawn(async move {
            let _ = connection(stream, raft).await;
        });
    }
}

async fn connection(stream: TcpStream, raft: Raft<Types>) -> io::Result<()> {
    let mut conn = Conn::new(stream)?;
    let mut out = Vec::new();
    loop {
        let body = conn.receive().await?;
        let mut r = Reader { bytes: body };
        match r.u8()? {
            APPEND => {
                let rpc = r.append_request()?;
                let result = raft.append_entries(rpc).await;
                build(&mut out, |w| {
                    write_result(w, &result, |w, v| {
                        w.append_response(v);
                        Ok(())
                    })
                })?;
            }
            VOTE => {
                let rpc = r.vote_request()?;
                let result = raft.vote(rpc).await;
                build(&mut out, |w| {
                    write_result(w, &result, |w, v| {
                        w.vote_response(v);
                        Ok(())
                    })
                })?;
            }
            SNAPSHOT => {
                let rpc: InstallSnapshotRequest<Types> = r.json()?;
                let result = raft.install_snapshot(rpc).await;
                build(&mut out, |w| write_result(w, &result, |w, v| w.json(v)))?;
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "unknown RPC kind",
                ));
            }
        }
        conn.writer.write_all(&out).await?;
    }
}

/// Makes one [`Peer`] connection per replication stream or election.
pub struct Network;

impl RaftNetworkFactory<Types> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Peer {
        Peer {
            target,
            addr: node.addr.parse().ok(),
            conn: None,
            out: Vec::new(),
        }
    }
}

/// A connection to one node, opened on first use and again after a failure.
pub struct Peer {
    target: NodeId,
    addr: Option<SocketAddr>,
    conn: Option<Conn>,
    /// The outgoing frame, reused for every RPC.
    out: Vec<u8>,
}

/// Parses the fields of a successful answer.
type ReadAnswer<R> = for<'a> fn(&mut Reader<'a>) -> io::Result<R>;

impl Peer {
    /// Sends the RPC framed in `self.out` (`framed`: whether that worked)
    /// and reads its answer (`read` parses the fields of a success).
    async fn call<R, E: std::error::Error + DeserializeOwned>(
        &mut self,
        framed: io::Result<()>,
        read: ReadAnswer<R>,
    ) -> Result<R, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>> {
        let answer = match framed {
            Ok(()) => self.exchange(read).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(remote)) => Err(RPCError::RemoteError(RemoteError::new(self.target, remote))),
            Err(error) => {
                self.conn = None;
                Err(RPCError::Unreachable(Unreachable::new(&error)))
            }
        }
    }

    async fn exchange<R, E: DeserializeOwned>(
        &mut self,
        read: ReadAnswer<R>,
    ) -> io::Result<Result<R, E>> {
        if self.conn.is_none() {
            let addr = self
                .addr
                .ok_or_else(|| io::Error::other("node has no valid address"))?;
            self.conn = Some(Conn::new(TcpStream::connect(addr).await?)?);
        }
        let conn = self.conn.as_mut().expect("connected above");
        conn.writer.write_all(&self.out).await?;
        let mut r = Reader {
            bytes: conn.receive().await?,
        };
        match r.u8()? {
            OK => Ok(Ok(read(&mut r)?)),
            ERR => Ok(Err(r.json()?)),
            _ => Err(io::Error::new(io::ErrorKind::InvalidData, "bad answer tag")),
        }
    }
}

impl RaftNetwork<Types> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<Types>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let framed = build(&mut self.out, |w| {
            w.u8(APPEND);
            w.append_request(&rpc)
        });
        self.call(framed, |r| r.append_response()).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<Types>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let framed = build(&mut self.out, |w| {
            w.u8(SNAPSHOT);
            w.json(&rpc)
        });
        self.call(framed, |r| r.json()).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let framed = build(&mut self.out, |w| {
            w.u8(VOTE);
            w.vote_request(&rpc);
            Ok(())
        });
        self.call(framed, |r| r.vote_response()).await
    }
}

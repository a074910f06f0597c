//! openraft's network for the peer harness: its RPCs over loopback TCP,
//! each a length-prefixed JSON frame, answered on the same connection.
//!
//! TCP because openraft's RPCs are request/response with unbounded bodies
//! (an AppendEntries batch may exceed a datagram); this is the shape of its
//! own example network layers (HTTP over TCP), minus HTTP. `TCP_NODELAY` is
//! set, so a small RPC is not held back by Nagle's algorithm.

use std::io;
use std::net::SocketAddr;

use openraft::error::{InstallSnapshotError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, Raft, RaftNetwork, RaftNetworkFactory};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{NodeId, Types};

/// Largest frame accepted (a bound on untrusted lengths).
const MAX_FRAME: u32 = 64 << 20;

#[derive(Serialize, Deserialize)]
enum Rpc {
    Append(AppendEntriesRequest<Types>),
    Vote(VoteRequest<NodeId>),
    Snapshot(InstallSnapshotRequest<Types>),
}

async fn write_frame(stream: &mut TcpStream, value: &impl Serialize) -> io::Result<()> {
    let bytes = serde_json::to_vec(value)?;
    let len = u32::try_from(bytes.len()).map_err(|_| io::Error::other("frame too large"))?;
    stream.write_all(&len.to_be_bytes()).await?;
    stream.write_all(&bytes).await
}

async fn read_frame<T: DeserializeOwned>(stream: &mut TcpStream) -> io::Result<T> {
    let len = stream.read_u32().await?;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut bytes = vec![0; len as usize];
    stream.read_exact(&mut bytes).await?;
    Ok(serde_json::from_slice(&bytes)?)
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

async fn connection(mut stream: TcpStream, raft: Raft<Types>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    loop {
        match read_frame::<Rpc>(&mut stream).await? {
            Rpc::Append(rpc) => write_frame(&mut stream, &raft.append_entries(rpc).await).await?,
            Rpc::Vote(rpc) => write_frame(&mut stream, &raft.vote(rpc).await).await?,
            Rpc::Snapshot(rpc) => {
                write_frame(&mut stream, &raft.install_snapshot(rpc).await).await?
            }
        }
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
            stream: None,
        }
    }
}

/// A connection to one node, opened on first use and again after a failure.
pub struct Peer {
    target: NodeId,
    addr: Option<SocketAddr>,
    stream: Option<TcpStream>,
}

impl Peer {
    async fn call<R: DeserializeOwned, E: std::error::Error + DeserializeOwned>(
        &mut self,
        rpc: Rpc,
    ) -> Result<R, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>> {
        let result = self.exchange::<Result<R, RaftError<NodeId, E>>>(&rpc).await;
        match result {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(remote)) => Err(RPCError::RemoteError(RemoteError::new(self.target, remote))),
            Err(error) => {
                self.stream = None;
                Err(RPCError::Unreachable(Unreachable::new(&error)))
            }
        }
    }

    async fn exchange<T: DeserializeOwned>(&mut self, rpc: &Rpc) -> io::Result<T> {
        if self.stream.is_none() {
            let addr = self
                .addr
                .ok_or_else(|| io::Error::other("node has no valid address"))?;
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().expect("connected above");
        write_frame(stream, rpc).await?;
        read_frame(stream).await
    }
}

impl RaftNetwork<Types> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<Types>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(Rpc::Append(rpc)).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<Types>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call(Rpc::Snapshot(rpc)).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(Rpc::Vote(rpc)).await
    }
}

//! [`AgentMsg`]: a node agent's mailbox, and how its remote part crosses
//! the wire.
//!
//! Frames from peers arrive as serialized casts. ractor drops a serialized
//! message whose decoder fails without telling anyone, so the decoder here
//! never fails: a frame that does not decode becomes
//! [`AgentMsg::Malformed`], which the agent reports and answers by closing
//! the peer's session.

use std::time::Duration;

use hale_core::ExitReason;
use ractor::message::{BoxedDowncastErr, SerializedMessage};
use ractor::{ActorCell, RpcReplyPort};
use ractor_cluster::node::NodeServerSessionInformation;

use crate::error::RemoteError;
use crate::node_id::NodeId;
use crate::wire::{self, DecodeError, Frame, PROTOCOL};

/// The longest sender name kept from a malformed frame's metadata.
const MAX_BLAMED_NAME: usize = crate::node_id::MAX_NODE_NAME;

/// A node agent's mailbox.
pub(crate) enum AgentMsg {
    /// A frame from a peer's agent (or from this agent to itself, for a
    /// child placed on this node).
    Remote(Frame),
    /// A frame from a peer that did not decode.
    Malformed {
        /// The sender named in the cast's metadata, if readable.
        from: Option<String>,
        /// What was wrong.
        error: DecodeError,
    },
    /// Everything that never crosses the wire.
    Local(Local),
}

/// A child this node owns, as an answer about placements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The child's path in the owner's tree.
    pub path: String,
    /// The node it runs on.
    pub node: String,
    /// The incarnation.
    pub generation: u64,
}

/// A peer as this node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's name.
    pub name: String,
    /// Its run, once heard from.
    pub epoch: Option<u64>,
    /// Whether it is up (heartbeats arrive).
    pub up: bool,
    /// Whether its agent is reachable through a session now.
    pub connected: bool,
}

/// A child this node hosts for a remote owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostedInfo {
    /// The owner.
    pub owner: NodeId,
    /// The owner's key (its path to the child).
    pub key: String,
    /// The incarnation.
    pub generation: u64,
    /// Whether it runs (rather than starting or stopping).
    pub running: bool,
}

/// A session event from ractor_cluster's node server.
pub(crate) enum SessionEvent {
    Opened(NodeServerSessionInformation),
    Authenticated(NodeServerSessionInformation),
    Closed(NodeServerSessionInformation),
}

/// The local part of the mailbox.
pub(crate) enum Local {
    /// Heartbeats, failure detection, leases, deadlines, reconnections.
    Tick,
    /// A supervisor's start function asks for a remote child.
    StartRemote {
        key: String,
        spec: String,
        nodes: Vec<String>,
        supervisor: ActorCell,
        timeout: Duration,
        stop_wait: Duration,
        /// The stand-in and the node the child started on; `None` if its
        /// start answered ignore.
        reply: RpcReplyPort<Result<Option<(ActorCell, String)>, RemoteError>>,
    },
    /// A stand-in is being stopped by its supervisor: stop the child.
    StopRemote {
        key: String,
        generation: u64,
        reply: RpcReplyPort<()>,
    },
    /// A stand-in was killed: kill the child.
    KillRemote {
        key: String,
        generation: u64,
    },
    /// A hosted start finished.
    HostStartDone {
        child_id: String,
        result: Result<Option<ActorCell>, String>,
    },
    /// A hosted stop finished.
    HostStopDone {
        child_id: String,
    },
    /// A hosted child exited by itself.
    HostedExited {
        child_id: String,
        reason: ExitReason,
    },
    /// The hosting supervisor's events lagged: compare with its children.
    HostedResync(Vec<String>),
    /// A session changed.
    Session(SessionEvent),
    /// A connection attempt to a configured peer finished.
    Connected {
        addr: String,
        result: Result<String, String>,
    },
    /// Stop (true) or resume (false) all traffic of this agent: a
    /// partition, as the tests and the chaos example make one.
    Isolate(bool),
    Peers(RpcReplyPort<Vec<PeerInfo>>),
    Hosted(RpcReplyPort<Vec<HostedInfo>>),
    Placements(RpcReplyPort<Vec<Placement>>),
    /// Sends raw bytes to a peer's agent as if they were a frame (tests of
    /// the decoder's error path).
    SendRaw {
        node: String,
        payload: Vec<u8>,
    },
}

impl ractor::Message for AgentMsg {
    fn serializable() -> bool {
        true
    }

    fn serialize(self) -> Result<SerializedMessage, BoxedDowncastErr> {
        match self {
            Self::Remote(frame) => Ok(SerializedMessage::Cast {
                variant: PROTOCOL.to_owned(),
                metadata: Some(frame.from.name.clone().into_bytes()),
                args: wire::encode(&frame),
            }),
            // Local messages never go to a remote actor.
            Self::Malformed { .. } | Self::Local(_) => Err(BoxedDowncastErr),
        }
    }

    fn deserialize(message: SerializedMessage) -> Result<Self, BoxedDowncastErr> {
        Ok(match message {
            SerializedMessage::Cast {
                variant,
                args,
                metadata,
            } => match wire::decode(&variant, &args) {
                Ok(frame) => Self::Remote(frame),
                Err(error) => Self::Malformed {
                    from: blamed(metadata),
                    error,
                },
            },
            SerializedMessage::Call { metadata, .. } => Self::Malformed {
                from: blamed(metadata),
                error: DecodeError::Shape("a call"),
            },
            SerializedMessage::CallReply(..) => Self::Malformed {
                from: None,
                error: DecodeError::Shape("a call reply"),
            },
        })
    }
}

/// The sender name in a cast's metadata, if it is a plausible node name.
fn blamed(metadata: Option<Vec<u8>>) -> Option<String> {
    let bytes = metadata?;
    if bytes.len() > MAX_BLAMED_NAME {
        return None;
    }
    let name = String::from_utf8(bytes).ok()?;
    crate::node_id::validate_node_name(&name).ok()?;
    Some(name)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use ractor::Message;

    use super::*;
    use crate::wire::Wire;

    #[test]
    fn remote_frames_round_trip_through_ractor_serialization() {
        let frame = Frame {
            from: NodeId {
                name: "a".into(),
                epoch: 1,
            },
            ack: None,
            body: Wire::Heartbeat { seq: 1 },
        };
        let serialized = AgentMsg::Remote(frame.clone()).serialize().unwrap();
        match AgentMsg::deserialize(serialized).unwrap() {
            AgentMsg::Remote(back) => assert_eq!(back, frame),
            _ => panic!("the frame did not come back"),
        }
    }

    proptest! {
        // Whatever a peer sends, the decoder answers a message: a frame or a
        // Malformed one to report. It never fails (ractor would drop the
        // message silently) and never panics.
        #[test]
        fn any_cast_decodes_to_a_message(
            variant in "\\PC{0,32}",
            args in proptest::collection::vec(any::<u8>(), 0..512),
            metadata in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..128)),
        ) {
            let decoded = AgentMsg::deserialize(SerializedMessage::Cast { variant, args, metadata });
            prop_assert!(decoded.is_ok());
        }
    }
}

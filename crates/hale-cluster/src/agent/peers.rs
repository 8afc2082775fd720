//! [`Peers`]: what a node knows of every other node, and the failure
//! detector that runs on it.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use ractor::ActorCell;
use tokio::time::Instant;

use crate::agent_msg::PeerInfo;
use crate::node_id::NodeId;

/// How many of this node's own heartbeats are remembered, to turn a peer's
/// acknowledgement back into the time the heartbeat was sent. Acks older
/// than this window are too old to extend a lease anyway.
const SENT_WINDOW: usize = 256;

/// One peer.
#[derive(Debug, Default)]
pub(crate) struct Peer {
    /// Its agent's stand-in, while a session carries it.
    pub(crate) agent: Option<ActorCell>,
    /// Its run, once heard from.
    pub(crate) epoch: Option<u64>,
    /// Up: heard from within `down_after`.
    pub(crate) up: bool,
    last_heard: Option<Instant>,
    /// The number of its latest heartbeat this node got, for our acks.
    their_seq: Option<u64>,
    /// When this node sent the latest heartbeat the peer acknowledged: the
    /// start of the lease on the children this node hosts for it.
    anchor: Option<Instant>,
}

/// What hearing from a peer changed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Observed {
    /// It was not up and now is.
    pub(crate) came_up: bool,
    /// It runs under a new epoch: its earlier run is over (the epoch of that
    /// run).
    pub(crate) restarted_from: Option<u64>,
}

/// Every peer, and this node's own heartbeat numbering.
#[derive(Debug, Default)]
pub(crate) struct Peers {
    by_name: HashMap<String, Peer>,
    sent: VecDeque<(u64, Instant)>,
    next_seq: u64,
}

impl Peers {
    /// A frame from `from` arrived at `now`, acknowledging `ack`.
    pub(crate) fn observe(
        &mut self,
        my_epoch: u64,
        from: &NodeId,
        ack: Option<(u64, u64)>,
        now: Instant,
    ) -> Observed {
        let anchor = ack
            .filter(|(epoch, _)| *epoch == my_epoch)
            .and_then(|(_, seq)| self.sent_at(seq));
        let peer = self.by_name.entry(from.name.clone()).or_default();
        let restarted_from = match peer.epoch {
            Some(old) if old != from.epoch => {
                peer.their_seq = None;
                peer.anchor = None;
                Some(old)
            }
            _ => None,
        };
        peer.epoch = Some(from.epoch);
        peer.last_heard = Some(now);
        if let Some(sent) = anchor {
            peer.anchor = Some(peer.anchor.map_or(sent, |old| old.max(sent)));
        }
        let came_up = !peer.up;
        peer.up = true;
        Observed {
            came_up,
            restarted_from,
        }
    }

    /// Records the peer's heartbeat number `seq`.
    pub(crate) fn heard_seq(&mut self, name: &str, seq: u64) {
        if let Some(peer) = self.by_name.get_mut(name) {
            peer.their_seq = Some(peer.their_seq.map_or(seq, |old| old.max(seq)));
        }
    }

    fn sent_at(&self, seq: u64) -> Option<Instant> {
        self.sent
            .iter()
            .rev()
            .find(|(sent, _)| *sent == seq)
            .map(|(_, at)| *at)
    }

    /// Numbers a new heartbeat sent at `now`.
    pub(crate) fn next_heartbeat(&mut self, now: Instant) -> u64 {
        self.next_seq += 1;
        if self.sent.len() == SENT_WINDOW {
            self.sent.pop_front();
        }
        self.sent.push_back((self.next_seq, now));
        self.next_seq
    }

    /// What this node acknowledges to `name`.
    pub(crate) fn ack_for(&self, name: &str) -> Option<(u64, u64)> {
        let peer = self.by_name.get(name)?;
        Some((peer.epoch?, peer.their_seq?))
    }

    /// Marks down, and returns with how long they were silent, the peers
    /// that are up but silent for longer than `down_after`.
    pub(crate) fn overdue(&mut self, now: Instant, down_after: Duration) -> Vec<(String, Duration)> {
        let mut down = Vec::new();
        for (name, peer) in &mut self.by_name {
            let silent = peer
                .last_heard
                .map_or(Duration::MAX, |heard| now.saturating_duration_since(heard));
            if peer.up && silent > down_after {
                peer.up = false;
                down.push((name.clone(), silent));
            }
        }
        down.sort();
        down
    }

    /// Whether the lease on children hosted for `owner` (in run `epoch`)
    /// still holds at `now`: the owner acknowledged a heartbeat this node
    /// sent less than `lease` ago.
    pub(crate) fn lease_holds(&self, owner: &str, epoch: u64, now: Instant, lease: Duration) -> bool {
        self.by_name.get(owner).is_some_and(|peer| {
            peer.epoch == Some(epoch)
                && peer
                    .anchor
                    .is_some_and(|anchor| now.saturating_duration_since(anchor) < lease)
        })
    }

    pub(crate) fn is_up(&self, name: &str) -> bool {
        self.by_name
            .get(name)
            .is_some_and(|peer| peer.up && peer.agent.is_some())
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Peer> {
        self.by_name.get(name)
    }

    /// The agents to send heartbeats to.
    pub(crate) fn agents(&self) -> impl Iterator<Item = (&String, &ActorCell)> {
        self.by_name
            .iter()
            .filter_map(|(name, peer)| peer.agent.as_ref().map(|agent| (name, agent)))
    }

    /// A peer's agent joined the agents' group.
    pub(crate) fn agent_joined(&mut self, name: &str, agent: ActorCell) {
        self.by_name.entry(name.to_owned()).or_default().agent = Some(agent);
    }

    /// A stand-in left the agents' group (its session closed).
    pub(crate) fn agent_left(&mut self, agent: &ActorCell) {
        for peer in self.by_name.values_mut() {
            if peer
                .agent
                .as_ref()
                .is_some_and(|known| known.get_id() == agent.get_id())
            {
                peer.agent = None;
            }
        }
    }

    pub(crate) fn info(&self) -> Vec<PeerInfo> {
        let mut peers: Vec<PeerInfo> = self
            .by_name
            .iter()
            .map(|(name, peer)| PeerInfo {
                name: name.clone(),
                epoch: peer.epoch,
                up: peer.up,
                connected: peer.agent.is_some(),
            })
            .collect();
        peers.sort_by(|a, b| a.name.cmp(&b.name));
        peers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, epoch: u64) -> NodeId {
        NodeId {
            name: name.into(),
            epoch,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_goes_down_once_and_comes_back_up() {
        let mut peers = Peers::default();
        let start = Instant::now();
        let seen = peers.observe(1, &node("b", 9), None, start);
        assert!(seen.came_up);
        assert!(
            peers
                .overdue(start + Duration::from_millis(1000), Duration::from_millis(1500))
                .is_empty()
        );
        let down = peers.overdue(start + Duration::from_millis(1600), Duration::from_millis(1500));
        assert_eq!(down.len(), 1);
        assert!(
            peers
                .overdue(start + Duration::from_millis(3000), Duration::from_millis(1500))
                .is_empty()
        );
        let back = peers.observe(1, &node("b", 9), None, start + Duration::from_millis(3000));
        assert_eq!(
            back,
            Observed {
                came_up: true,
                restarted_from: None
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_epoch_means_a_restart() {
        let mut peers = Peers::default();
        let now = Instant::now();
        peers.observe(1, &node("b", 9), None, now);
        let seen = peers.observe(1, &node("b", 10), None, now);
        assert_eq!(seen.restarted_from, Some(9));
        assert!(!seen.came_up);
    }

    #[tokio::test(start_paused = true)]
    async fn the_lease_runs_from_the_send_time_of_the_acknowledged_heartbeat() {
        let mut peers = Peers::default();
        let lease = Duration::from_millis(1000);
        let t0 = Instant::now();
        let seq = peers.next_heartbeat(t0);
        // No ack yet: no lease.
        peers.observe(1, &node("a", 5), None, t0);
        assert!(!peers.lease_holds("a", 5, t0, lease));
        // Acked 300 ms later: the lease runs from t0, not from the ack.
        peers.observe(1, &node("a", 5), Some((1, seq)), t0 + Duration::from_millis(300));
        assert!(peers.lease_holds("a", 5, t0 + Duration::from_millis(999), lease));
        assert!(!peers.lease_holds("a", 5, t0 + Duration::from_millis(1000), lease));
        // An ack for another run of this node extends nothing.
        let later = peers.next_heartbeat(t0 + Duration::from_millis(900));
        peers.observe(
            1,
            &node("a", 5),
            Some((2, later)),
            t0 + Duration::from_millis(950),
        );
        assert!(!peers.lease_holds("a", 5, t0 + Duration::from_millis(1000), lease));
        // Nor does a lease for another run of the owner hold.
        assert!(!peers.lease_holds("a", 6, t0 + Duration::from_millis(10), lease));
    }
}

//! A bounded event bus: emitting never waits, a slow reader learns what it
//! missed.
//!
//! Events go into one ring of `capacity` slots shared by every subscriber
//! (tokio's `broadcast` channel). Sending is a lock, a write into the ring
//! and a wake-up of waiting readers: it never waits for a reader and never
//! allocates per subscriber. A subscriber more than `capacity` events behind
//! has its oldest unread events overwritten; its next [`EventStream::recv`]
//! answers [`RecvError::Lagged`] with how many it missed, and then goes on
//! with the oldest event still held. So memory is bounded by the capacity
//! whatever the rate of events and however many readers stall, and no loss
//! is silent.
//!
//! The promise is exact: a subscriber that keeps within `capacity` events of
//! the newest receives every event sent after it subscribed, in order.

use std::fmt;
use std::time::Duration;

use tokio::sync::broadcast;

/// The capacity of [`Broadcast::new`]: events a subscriber may fall behind
/// before it misses some.
pub const DEFAULT_CAPACITY: usize = 4096;

/// The largest capacity [`Broadcast::with_capacity`] gives: the ring is
/// allocated up front, so a capacity a user writes by mistake (`usize::MAX`)
/// must not reserve the machine's memory.
pub const MAX_CAPACITY: usize = 1 << 22;

/// The sending side of a bounded event bus. Cloning it gives another handle
/// to the same subscribers.
///
/// # Examples
///
/// ```
/// use hale_util::{Broadcast, RecvError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let bus = Broadcast::with_capacity(2);
/// let mut stream = bus.subscribe();
/// for n in 0..5 {
///     bus.send(n);
/// }
/// // Three events were overwritten before the stream read any.
/// assert_eq!(stream.recv().await, Err(RecvError::Lagged(3)));
/// assert_eq!(stream.recv().await, Ok(3));
/// assert_eq!(stream.recv().await, Ok(4));
/// assert_eq!(stream.missed(), 3);
/// # }
/// ```
pub struct Broadcast<E> {
    sender: broadcast::Sender<E>,
    capacity: usize,
}

impl<E> Clone for Broadcast<E> {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
            capacity: self.capacity,
        }
    }
}

impl<E: Clone> Default for Broadcast<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> fmt::Debug for Broadcast<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broadcast")
            .field("capacity", &self.capacity)
            .field("subscribers", &self.sender.receiver_count())
            .finish()
    }
}

impl<E: Clone> Broadcast<E> {
    /// A bus holding up to [`DEFAULT_CAPACITY`] unread events per subscriber.
    ///
    /// # Examples
    ///
    /// ```
    /// let bus = hale_util::Broadcast::<u32>::new();
    /// assert_eq!(bus.capacity(), hale_util::DEFAULT_CAPACITY);
    /// ```
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A bus holding up to `capacity` unread events per subscriber, taken
    /// into `1..=`[`MAX_CAPACITY`] (0 would hold nothing; more would reserve
    /// memory no reader needs) and rounded up to a power of two.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_util::{Broadcast, MAX_CAPACITY};
    ///
    /// assert_eq!(Broadcast::<u8>::with_capacity(0).capacity(), 1);
    /// assert_eq!(Broadcast::<u8>::with_capacity(usize::MAX).capacity(), MAX_CAPACITY);
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        // The ring's real size: tokio rounds it up to a power of two.
        let capacity = capacity.clamp(1, MAX_CAPACITY).next_power_of_two();
        let (sender, _) = broadcast::channel(capacity);
        Self { sender, capacity }
    }

    /// How many unread events a subscriber may hold before it misses some.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// A new subscription: it receives every event sent from now on.
    ///
    /// # Examples
    ///
    /// ```
    /// let bus = hale_util::Broadcast::new();
    /// bus.send("before");
    /// let mut stream = bus.subscribe();
    /// bus.send("after");
    /// assert_eq!(stream.try_recv(), Ok("after"));
    /// ```
    pub fn subscribe(&self) -> EventStream<E> {
        EventStream {
            receiver: self.sender.subscribe(),
            capacity: self.capacity,
            missed: 0,
        }
    }

    /// Whether anyone listens: an emitter can skip building an event nobody
    /// would receive.
    pub fn has_subscribers(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    /// How many subscriptions are alive.
    pub fn subscriber_count(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Sends `event` to every subscriber. Never waits: a subscriber that is
    /// `capacity` events behind loses its oldest unread event and is told so
    /// on its next read. With no subscriber the event is dropped.
    pub fn send(&self, event: E) {
        // Fails only when nobody listens, which is not an error here.
        let _ = self.sender.send(event);
    }
}

/// Why [`EventStream::recv`] returned no event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// The stream fell more than the bus's capacity behind: this many events
    /// were overwritten before it read them. The next read returns the
    /// oldest event still held.
    Lagged(u64),
    /// Every sender is gone and every event was read.
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lagged(missed) => write!(f, "the reader fell behind and missed {missed} event(s)"),
            Self::Closed => f.write_str("the event bus is closed"),
        }
    }
}

impl std::error::Error for RecvError {}

/// Why [`EventStream::try_recv`] returned no event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// No event is waiting now.
    Empty,
    /// As [`RecvError::Lagged`].
    Lagged(u64),
    /// As [`RecvError::Closed`].
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("no event is waiting"),
            Self::Lagged(missed) => RecvError::Lagged(*missed).fmt(f),
            Self::Closed => RecvError::Closed.fmt(f),
        }
    }
}

impl std::error::Error for TryRecvError {}

/// One subscription to a [`Broadcast`].
pub struct EventStream<E> {
    receiver: broadcast::Receiver<E>,
    capacity: usize,
    missed: u64,
}

impl<E: Clone> fmt::Debug for EventStream<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("unread", &self.len())
            .field("missed", &self.missed)
            .finish()
    }
}

impl<E: Clone> EventStream<E> {
    /// Waits for the next event.
    ///
    /// # Errors
    ///
    /// [`RecvError::Lagged`] once after events were overwritten unread (the
    /// stream goes on with the oldest event held); [`RecvError::Closed`] once
    /// every sender is gone and everything was read.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future before it completes takes no event
    /// off the stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_util::{Broadcast, RecvError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let bus = Broadcast::new();
    /// let mut stream = bus.subscribe();
    /// bus.send(1);
    /// drop(bus);
    /// assert_eq!(stream.recv().await, Ok(1));
    /// assert_eq!(stream.recv().await, Err(RecvError::Closed));
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Result<E, RecvError> {
        match self.receiver.recv().await {
            Ok(event) => Ok(event),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                self.missed = self.missed.saturating_add(missed);
                Err(RecvError::Lagged(missed))
            }
            Err(broadcast::error::RecvError::Closed) => Err(RecvError::Closed),
        }
    }

    /// The next event if one is waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when none is; otherwise as [`recv`](Self::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_util::{Broadcast, TryRecvError};
    ///
    /// let bus = Broadcast::new();
    /// let mut stream = bus.subscribe();
    /// assert_eq!(stream.try_recv(), Err(TryRecvError::Empty));
    /// bus.send('a');
    /// assert_eq!(stream.try_recv(), Ok('a'));
    /// ```
    pub fn try_recv(&mut self) -> Result<E, TryRecvError> {
        match self.receiver.try_recv() {
            Ok(event) => Ok(event),
            Err(broadcast::error::TryRecvError::Empty) => Err(TryRecvError::Empty),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                self.missed = self.missed.saturating_add(missed);
                Err(TryRecvError::Lagged(missed))
            }
            Err(broadcast::error::TryRecvError::Closed) => Err(TryRecvError::Closed),
        }
    }

    /// Every event waiting now, oldest first. Events missed on the way are
    /// skipped and counted in [`missed`](Self::missed).
    ///
    /// # Examples
    ///
    /// ```
    /// let bus = hale_util::Broadcast::new();
    /// let mut stream = bus.subscribe();
    /// bus.send(1);
    /// bus.send(2);
    /// assert_eq!(stream.drain(), [1, 2]);
    /// assert!(stream.drain().is_empty());
    /// ```
    pub fn drain(&mut self) -> Vec<E> {
        let mut events = Vec::new();
        loop {
            match self.try_recv() {
                Ok(event) => events.push(event),
                Err(TryRecvError::Lagged(_)) => {}
                Err(TryRecvError::Empty | TryRecvError::Closed) => return events,
            }
        }
    }

    /// Waits for the first event that satisfies `wanted`, skipping the
    /// others, for at most `limit` (tokio time, so a paused clock applies).
    /// Returns `None` if the limit passes or the bus closes first. Events
    /// missed on the way are skipped and counted in [`missed`](Self::missed).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future loses the events it had already read and skipped,
    /// and nothing else.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let bus = hale_util::Broadcast::new();
    /// let mut stream = bus.subscribe();
    /// for n in 0..10 {
    ///     bus.send(n);
    /// }
    /// assert_eq!(stream.wait_for(Duration::from_secs(1), |n| n % 7 == 6).await, Some(6));
    /// assert_eq!(stream.wait_for(Duration::from_secs(1), |n| *n > 100).await, None);
    /// # }
    /// ```
    pub async fn wait_for(&mut self, limit: Duration, mut wanted: impl FnMut(&E) -> bool) -> Option<E> {
        let search = async {
            loop {
                match self.recv().await {
                    Ok(event) if wanted(&event) => return Some(event),
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return None,
                }
            }
        };
        tokio::time::timeout(limit, search).await.ok().flatten()
    }

    /// How many events this stream has missed so far by falling behind.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// How many events wait unread now (at most the bus's capacity: older
    /// unread ones are already overwritten).
    pub fn len(&self) -> usize {
        self.receiver.len().min(self.capacity)
    }

    /// Whether no event waits unread now.
    pub fn is_empty(&self) -> bool {
        self.receiver.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_stream_stops_counting_as_a_subscriber() {
        let bus = Broadcast::<u8>::new();
        let stream = bus.subscribe();
        assert!(bus.has_subscribers());
        drop(stream);
        assert!(!bus.has_subscribers());
        bus.send(1);
    }

    #[test]
    fn a_stalled_stream_holds_at_most_the_capacity() {
        let bus = Broadcast::with_capacity(16);
        let mut stalled = bus.subscribe();
        for n in 0..100_000u32 {
            bus.send(n);
        }
        assert!(stalled.len() <= 16);
        assert_eq!(stalled.try_recv(), Err(TryRecvError::Lagged(100_000 - 16)));
        assert_eq!(stalled.drain(), (100_000 - 16..100_000).collect::<Vec<_>>());
        assert_eq!(stalled.missed(), 100_000 - 16);
    }

    #[test]
    fn every_subscriber_within_capacity_gets_every_event_in_order() {
        let bus = Broadcast::with_capacity(4);
        let mut first = bus.subscribe();
        let mut second = bus.subscribe();
        for n in 0..4 {
            bus.send(n);
        }
        assert_eq!(first.drain(), [0, 1, 2, 3]);
        assert_eq!(second.drain(), [0, 1, 2, 3]);
        assert_eq!(first.missed() + second.missed(), 0);
    }
}

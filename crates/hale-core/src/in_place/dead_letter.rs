//! [`DeadLetterSink`] and [`FailedMessage`]: where the message that crashed
//! an in-place child goes.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use crate::path::ChildPath;

/// The message that crashed a child restarted in place, with why and where.
///
/// # Examples
///
/// ```
/// use hale_core::FailedMessage;
///
/// fn describe(letter: &FailedMessage<String>) -> String {
///     format!("{} (incarnation {}) failed on {:?}: {}", letter.path, letter.incarnation, letter.message, letter.error)
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedMessage<M> {
    /// The child's path in the tree.
    pub path: ChildPath,
    /// The incarnation that failed on it (1 for the first start).
    pub incarnation: u64,
    /// What its handler returned, or the panic's text.
    pub error: String,
    /// The message itself, when the sink keeps messages
    /// ([`DeadLetterSink::keep_messages`], [`DeadLetterSink::keep_with`]);
    /// `None` otherwise (the handler consumed it).
    pub message: Option<M>,
}

type Deliver<M> = Arc<dyn Fn(FailedMessage<M>) -> Result<(), FailedMessage<M>> + Send + Sync>;
type Keep<M> = Arc<dyn Fn(&M) -> Option<M> + Send + Sync>;

/// Where a child restarted in place hands the message it failed on
/// (see [`ChildSpec::dead_letters`](crate::ChildSpec::dead_letters)).
///
/// Two kinds:
/// - [`channel`](Self::channel): a bounded channel. The child never waits
///   on it: when it is full (or its receiver is gone) the letter is
///   dropped, counted in [`dropped`](Self::dropped) and reported by a
///   `MessageDeadLettered { dropped: true, .. }` event, so a slow reader can
///   hold up neither the restart nor the messages queued behind it, and a
///   loss is never silent.
/// - [`callback`](Self::callback): a function called on the child's task
///   (keep it short; it runs before the restart).
///
/// A handler consumes its message, so a sink keeps a copy of each message
/// only when asked: [`keep_messages`](Self::keep_messages) clones every
/// message before it is handled (the cost of a clone per message on the
/// happy path), [`keep_with`](Self::keep_with) keeps what a function takes
/// from it (an id, a summary, a clone of some messages only). Without
/// either, the letter carries the error and the path only.
///
/// # Examples
///
/// ```
/// use hale_core::DeadLetterSink;
///
/// let (sink, mut letters) = DeadLetterSink::<String>::channel(64);
/// let sink = sink.keep_messages();
/// assert_eq!(sink.dropped(), 0);
/// assert!(letters.try_recv().is_err());
/// ```
pub struct DeadLetterSink<M> {
    deliver: Deliver<M>,
    keep: Option<Keep<M>>,
    dropped: Arc<AtomicU64>,
}

impl<M> Clone for DeadLetterSink<M> {
    fn clone(&self) -> Self {
        Self {
            deliver: Arc::clone(&self.deliver),
            keep: self.keep.clone(),
            dropped: Arc::clone(&self.dropped),
        }
    }
}

impl<M> fmt::Debug for DeadLetterSink<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadLetterSink")
            .field("keeps_messages", &self.keep.is_some())
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .finish()
    }
}

impl<M: Send + 'static> DeadLetterSink<M> {
    /// A sink that is a bounded channel holding up to `capacity` letters
    /// (at least 1), and its receiving end. When the channel is full the
    /// letter is dropped and counted (see the type's docs).
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<FailedMessage<M>>) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let deliver: Deliver<M> =
            Arc::new(move |letter| sender.try_send(letter).map_err(|error| error.into_inner()));
        (Self::with(deliver), receiver)
    }

    /// A sink that calls `deliver` with each letter, on the failed child's
    /// task, before the child is restarted.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_core::DeadLetterSink;
    ///
    /// let sink = DeadLetterSink::<u32>::callback(|letter| eprintln!("dead letter: {}", letter.error));
    /// assert_eq!(sink.dropped(), 0);
    /// ```
    pub fn callback(deliver: impl Fn(FailedMessage<M>) + Send + Sync + 'static) -> Self {
        Self::with(Arc::new(move |letter| {
            deliver(letter);
            Ok(())
        }))
    }

    fn with(deliver: Deliver<M>) -> Self {
        Self {
            deliver,
            keep: None,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Keeps what `keep` takes from each message before it is handled, so a
    /// letter carries it. `keep` runs for every message: keep it cheap.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_core::DeadLetterSink;
    ///
    /// // Keep only the orders, not the pings.
    /// enum Msg { Order(u64), Ping }
    /// let (sink, _letters) = DeadLetterSink::<Msg>::channel(16);
    /// let sink = sink.keep_with(|msg| match msg {
    ///     Msg::Order(id) => Some(Msg::Order(*id)),
    ///     Msg::Ping => None,
    /// });
    /// # let _ = sink;
    /// ```
    pub fn keep_with(mut self, keep: impl Fn(&M) -> Option<M> + Send + Sync + 'static) -> Self {
        self.keep = Some(Arc::new(keep));
        self
    }

    /// How many letters were dropped because the channel was full or its
    /// receiver gone.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The copy to keep of `message`, if this sink keeps one.
    pub(crate) fn keep(&self, message: &M) -> Option<M> {
        self.keep.as_ref().and_then(|keep| keep(message))
    }

    /// Hands `letter` over; `false` (and counted) if it had to be dropped.
    pub(crate) fn deliver(&self, letter: FailedMessage<M>) -> bool {
        if (self.deliver)(letter).is_ok() {
            return true;
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// This sink with its message type erased, to ride on a `ChildSpec`.
    pub(crate) fn erase(self) -> ErasedSink {
        ErasedSink {
            message_type: TypeId::of::<M>(),
            message_type_name: std::any::type_name::<M>(),
            sink: Arc::new(self),
        }
    }
}

impl<M: Clone + Send + 'static> DeadLetterSink<M> {
    /// Keeps a clone of every message before it is handled, so a letter
    /// carries the message that failed (one clone per message handled).
    pub fn keep_messages(self) -> Self {
        self.keep_with(|message| Some(message.clone()))
    }
}

/// A [`DeadLetterSink`] of some message type, as a `ChildSpec` holds it.
#[derive(Clone)]
pub(crate) struct ErasedSink {
    pub(crate) message_type: TypeId,
    pub(crate) message_type_name: &'static str,
    sink: Arc<dyn Any + Send + Sync>,
}

impl ErasedSink {
    /// The sink, if its message type is `M`.
    pub(crate) fn typed<M: Send + 'static>(&self) -> Option<DeadLetterSink<M>> {
        self.sink.downcast_ref::<DeadLetterSink<M>>().cloned()
    }
}

impl fmt::Debug for ErasedSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErasedSink")
            .field("message_type", &self.message_type_name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(error: &str) -> FailedMessage<u8> {
        FailedMessage {
            path: ChildPath::root("root").child("a"),
            incarnation: 1,
            error: error.to_owned(),
            message: Some(1),
        }
    }

    #[test]
    fn a_full_channel_drops_and_counts_the_letter() {
        let (sink, mut letters) = DeadLetterSink::<u8>::channel(1);
        assert!(sink.deliver(letter("first")));
        assert!(!sink.deliver(letter("second")), "the channel holds one");
        assert_eq!(sink.dropped(), 1);
        assert_eq!(letters.try_recv().map(|l| l.error), Ok("first".to_owned()));
        drop(letters);
        assert!(!sink.deliver(letter("third")), "nobody reads any more");
        assert_eq!(sink.dropped(), 2);
    }

    #[test]
    fn an_erased_sink_comes_back_only_as_its_own_type() {
        let (sink, _letters) = DeadLetterSink::<u8>::channel(1);
        let erased = sink.erase();
        assert!(erased.typed::<u8>().is_some());
        assert!(erased.typed::<u16>().is_none());
    }

    #[test]
    fn only_a_keeping_sink_keeps_messages() {
        let (sink, _letters) = DeadLetterSink::<u8>::channel(1);
        assert_eq!(sink.keep(&7), None);
        assert_eq!(sink.keep_messages().keep(&7), Some(7));
    }
}

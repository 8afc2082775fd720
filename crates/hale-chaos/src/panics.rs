//! Injected panics, and a panic hook that keeps only those off the screen.
//!
//! A chaos run panics on purpose, often, inside agents whose supervisors heal the
//! crash. The default panic hook would print a message (and maybe a backtrace) for each,
//! so examples used to replace it with one that prints nothing, which also hid every
//! real bug. Here an injected panic is marked on its own thread just before it is
//! raised, and [`silence_injected_panics`] installs a hook that recognises that mark and
//! hands every other panic to the hook it replaced.
//!
//! The payload stays the message `String`, as for `panic!("...")`, so a supervisor
//! reports the same exit reason as before.

use std::cell::RefCell;

thread_local! {
    /// The message of the injected panic this thread is raising, until the hook sees it.
    static RAISING: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Panics with `message` as an injected fault: the hook installed by
/// [`silence_injected_panics`] leaves it off the screen. The payload is the message, a
/// `String`, exactly as `panic!("{message}")` would make it.
///
/// # Examples
///
/// ```
/// let caught = std::panic::catch_unwind(|| {
///     hale_chaos::inject_panic("agent hit a malformed document");
/// });
/// let payload = caught.unwrap_err();
/// assert_eq!(
///     payload.downcast_ref::<String>().map(String::as_str),
///     Some("agent hit a malformed document")
/// );
/// ```
pub fn inject_panic(message: impl Into<String>) -> ! {
    let message = message.into();
    RAISING.with(|raising| *raising.borrow_mut() = Some(message.clone()));
    std::panic::panic_any(message)
}

/// Installs a panic hook that prints nothing for panics raised by [`inject_panic`] (and
/// so by the [`Injector`](crate::Injector)'s `panic` faults) and passes every other
/// panic to the hook that was installed before, the default one printing the message as
/// usual. Call it once, at the start of `main`.
///
/// A panic counts as injected only if it is raised on the thread that marked it and its
/// payload is the marked message, so a real panic whose text happens to read the same
/// is still printed.
///
/// # Examples
///
/// ```
/// hale_chaos::silence_injected_panics();
/// // Silent: the injected fault is expected.
/// let _ = std::panic::catch_unwind(|| hale_chaos::inject_panic("injected"));
/// ```
pub fn silence_injected_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let marked = RAISING.with(|raising| raising.borrow_mut().take());
        let payload = info.payload().downcast_ref::<String>();
        if marked.is_some() && marked.as_ref() == payload {
            return;
        }
        previous(info);
    }));
}

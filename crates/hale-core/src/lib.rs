//! Hale core (work in progress).

//! Resilience policies for the calls agents make (work in progress).

//! One child as its supervisor holds it.

mod state;

pub use state::ChildState;

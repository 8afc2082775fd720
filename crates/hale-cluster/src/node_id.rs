//! [`NodeId`]: a node's name and the run it is in.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// The longest node name accepted, in bytes.
pub const MAX_NODE_NAME: usize = 64;

/// A node: the name it was configured with and the epoch of its current run
/// (a random number drawn at start). A node that restarts keeps its name and
/// gets a new epoch, so its peers know that every child it hosted before is
/// gone.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeId {
    /// The node's name, unique in the cluster.
    pub name: String,
    /// The current run of the node.
    pub epoch: u64,
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{:016x}", self.name, self.epoch)
    }
}

/// Checks a node name: 1 to [`MAX_NODE_NAME`] bytes of ASCII letters,
/// digits, `-` and `_` (it becomes part of actor names and child ids).
///
/// # Errors
///
/// [`ConfigError::NodeName`] for any other name.
///
/// # Examples
///
/// ```
/// use hale_cluster::validate_node_name;
///
/// assert!(validate_node_name("node-a").is_ok());
/// assert!(validate_node_name("").is_err());
/// assert!(validate_node_name("a/b").is_err());
/// ```
pub fn validate_node_name(name: &str) -> Result<(), ConfigError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NODE_NAME
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::NodeName(name.chars().take(MAX_NODE_NAME).collect()))
    }
}

//! Where a node sits in a supervision tree.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The path of a supervisor or child in the tree, from the root down:
/// `["root", "pipeline", "extractor"]` displays as `root/pipeline/extractor`.
///
/// Every healing event carries the path of the node it is about, so a
/// subscriber can tell two children with the same id under different
/// supervisors apart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChildPath(Vec<String>);

impl ChildPath {
    /// A path with a single segment: the root of a tree.
    pub fn root(name: impl Into<String>) -> Self {
        Self(vec![name.into()])
    }

    /// The path of a child with `id` below this node.
    pub fn child(&self, id: &str) -> Self {
        let mut segments = Vec::with_capacity(self.0.len() + 1);
        segments.extend(self.0.iter().cloned());
        segments.push(id.to_owned());
        Self(segments)
    }

    /// The segments from the root down.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// The last segment: the node's own id (empty for an empty path).
    pub fn leaf(&self) -> &str {
        self.0.last().map(String::as_str).unwrap_or("")
    }

    /// True when `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &ChildPath) -> bool {
        self.0.starts_with(&other.0)
    }
}

impl fmt::Display for ChildPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_paths_extend_their_parent() {
        let root = ChildPath::root("root");
        let leaf = root.child("pipeline").child("extractor");
        assert_eq!(leaf.to_string(), "root/pipeline/extractor");
        assert_eq!(leaf.leaf(), "extractor");
        assert!(leaf.starts_with(&root));
        assert!(!root.starts_with(&leaf));
    }

    #[test]
    fn serializes_as_a_list_of_segments() {
        let path = ChildPath::root("a").child("b");
        let json = serde_json::to_string(&path).unwrap();
        assert_eq!(json, r#"["a","b"]"#);
        assert_eq!(serde_json::from_str::<ChildPath>(&json).unwrap(), path);
    }
}

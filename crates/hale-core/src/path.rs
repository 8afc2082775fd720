//! Where a node sits in a supervision tree.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The path of a supervisor or child in the tree, from the root down:
/// `["root", "pipeline", "extractor"]` displays as `root/pipeline/extractor`.
///
/// Every healing event carries the path of the node it is about, so a
/// subscriber can tell two children with the same id under different
/// supervisors apart. Segments are shared: cloning a path (every event and
/// every start does) is one reference-count increment, not an allocation.
/// Serialized as a list of strings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChildPath(Arc<[Arc<str>]>);

impl ChildPath {
    /// A path with a single segment: the root of a tree.
    pub fn root(name: impl Into<String>) -> Self {
        Self(Arc::from([Arc::from(name.into())]))
    }

    /// The path of a child with `id` below this node.
    pub fn child(&self, id: &str) -> Self {
        let segments = self.0.iter().cloned().chain([Arc::from(id)]);
        Self(segments.collect())
    }

    /// The segments from the root down.
    pub fn segments(&self) -> impl ExactSizeIterator<Item = &str> {
        self.0.iter().map(|segment| &**segment)
    }

    /// The last segment: the node's own id (empty for an empty path).
    pub fn leaf(&self) -> &str {
        self.0.last().map_or("", |segment| segment)
    }

    /// True when `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &ChildPath) -> bool {
        self.0.starts_with(&other.0)
    }
}

impl fmt::Display for ChildPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, segment) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("/")?;
            }
            f.write_str(segment)?;
        }
        Ok(())
    }
}

impl Serialize for ChildPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.segments())
    }
}

impl<'de> Deserialize<'de> for ChildPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let segments = Vec::<String>::deserialize(deserializer)?;
        Ok(Self(segments.into_iter().map(Arc::from).collect()))
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
        assert_eq!(
            leaf.segments().collect::<Vec<_>>(),
            ["root", "pipeline", "extractor"]
        );
    }

    #[test]
    fn serializes_as_a_list_of_segments() {
        let path = ChildPath::root("a").child("b");
        let json = serde_json::to_string(&path).unwrap();
        assert_eq!(json, r#"["a","b"]"#);
        assert_eq!(serde_json::from_str::<ChildPath>(&json).unwrap(), path);
    }
}

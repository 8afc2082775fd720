//! [`ChildTable`]: a supervisor's children in start order, with the indexes
//! its decisions need.
//!
//! Every child gets a serial when it is added, from a counter that only
//! grows, so serial order is start order, and a restarted child keeps its
//! serial and with it its place. A static supervisor finds a child by its id,
//! a dynamic one by the serial inside the child's handle, and both find the
//! child of an exit by its actor: every lookup is a map lookup, and removing
//! a child shifts nothing.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeFrom;

use ractor::{ActorCell, ActorId};

use crate::child::Child;

/// A child's place in its supervisor: its serial.
pub(crate) type Serial = u64;

#[derive(Default)]
pub(crate) struct ChildTable {
    children: BTreeMap<Serial, Child>,
    next_serial: Serial,
    /// Spec id → serial, for children that are addressed by id (a static
    /// supervisor's; a dynamic supervisor's ids repeat).
    by_id: HashMap<String, Serial>,
    /// The actors of the running children. After a group restart the
    /// supervisor receives an exit for every sibling it stopped itself;
    /// this map turns each of those stale exits away at once.
    by_actor: HashMap<ActorId, Serial>,
    /// Unique key → serial (a dynamic supervisor's unique children).
    by_key: HashMap<String, Serial>,
    /// Restarts of the children removed so far: a dynamic supervisor's
    /// statistics keep them after its per-request children are gone.
    restarts_of_removed: u64,
}

impl ChildTable {
    /// The serial the next child added will get.
    pub(crate) fn next_serial(&self) -> Serial {
        self.next_serial
    }

    /// Adds `child` at the end of the start order; indexes it by id when
    /// `by_id` is set and by its unique key when it has one.
    pub(crate) fn push(&mut self, child: Child, by_id: bool) -> Serial {
        let serial = self.next_serial;
        self.next_serial += 1;
        if by_id {
            self.by_id.insert(child.spec.id.clone(), serial);
        }
        if let Some((_, Some(key))) = &child.dynamic {
            self.by_key.insert(key.clone(), serial);
        }
        self.children.insert(serial, child);
        serial
    }

    /// Removes a child and every index entry of it.
    pub(crate) fn remove(&mut self, serial: Serial) -> Option<Child> {
        let child = self.children.remove(&serial)?;
        self.restarts_of_removed = self.restarts_of_removed.saturating_add(u64::from(child.restarts));
        if self.by_id.get(&child.spec.id) == Some(&serial) {
            self.by_id.remove(&child.spec.id);
        }
        if let Some((_, Some(key))) = &child.dynamic {
            self.by_key.remove(key);
        }
        if let Some(actor) = child.actor() {
            self.by_actor.remove(&actor.get_id());
        }
        Some(child)
    }

    /// How many restarts the children removed so far had, together.
    pub(crate) fn restarts_of_removed(&self) -> u64 {
        self.restarts_of_removed
    }

    pub(crate) fn get(&self, serial: Serial) -> Option<&Child> {
        self.children.get(&serial)
    }

    pub(crate) fn get_mut(&mut self, serial: Serial) -> Option<&mut Child> {
        self.children.get_mut(&serial)
    }

    pub(crate) fn by_id(&self, id: &str) -> Option<Serial> {
        self.by_id.get(id).copied()
    }

    pub(crate) fn by_key(&self, key: &str) -> Option<Serial> {
        self.by_key.get(key).copied()
    }

    /// Records that the child `serial` runs as `actor`.
    pub(crate) fn running(&mut self, serial: Serial, actor: &ActorCell) {
        self.by_actor.insert(actor.get_id(), serial);
    }

    /// The child an exit of `actor` is about, forgetting the actor: `None`
    /// for an actor that is not a current child.
    pub(crate) fn take_actor(&mut self, actor: ActorId) -> Option<Serial> {
        let serial = self.by_actor.remove(&actor)?;
        // The index is kept exact; the check costs nothing and keeps a stale
        // entry from ever picking a wrong child.
        self.children
            .get(&serial)
            .is_some_and(|child| child.is(actor))
            .then_some(serial)
    }

    /// Forgets the running actor of the child `serial` (it is being stopped
    /// by its supervisor, whose own exit report then finds no child).
    pub(crate) fn forget_actor(&mut self, serial: Serial) {
        if let Some(actor) = self.children.get(&serial).and_then(Child::actor) {
            self.by_actor.remove(&actor.get_id());
        }
    }

    /// How many children run now.
    pub(crate) fn running_count(&self) -> usize {
        self.by_actor.len()
    }

    /// Every serial, in start order.
    pub(crate) fn serials(&self) -> Vec<Serial> {
        self.children.keys().copied().collect()
    }

    /// The serials from `range.start` on, in start order.
    pub(crate) fn serials_from(&self, range: RangeFrom<Serial>) -> Vec<Serial> {
        self.children.range(range).map(|(&serial, _)| serial).collect()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Child> {
        self.children.values()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Child> {
        self.children.values_mut()
    }

    pub(crate) fn len(&self) -> usize {
        self.children.len()
    }

    /// Forgets every running actor at once (all children are being stopped).
    pub(crate) fn forget_all_actors(&mut self) {
        self.by_actor.clear();
    }
}

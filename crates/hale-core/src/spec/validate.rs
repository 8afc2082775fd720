//! Spec validation: every bad spec is caught before anything starts.

use std::collections::HashSet;

use crate::path::ChildPath;
use crate::spec::{AutoShutdown, ChildSpec, Restart, SupervisorSpec};

/// A spec that cannot be run. Each variant names the supervisor (by path)
/// and, where there is one, the offending child.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A supervisor's name is empty.
    #[error("a supervisor under `{parent}` has an empty name")]
    EmptySupervisorName {
        /// The path above the nameless supervisor (empty for a root).
        parent: ChildPath,
    },
    /// A child's id is empty.
    #[error("supervisor `{supervisor}`: a child has an empty id")]
    EmptyChildId {
        /// The supervisor.
        supervisor: ChildPath,
    },
    /// Two children of one supervisor share an id.
    #[error("supervisor `{supervisor}`: child id `{child}` is used more than once")]
    DuplicateChildId {
        /// The supervisor.
        supervisor: ChildPath,
        /// The repeated id.
        child: String,
    },
    /// The restart period is zero.
    #[error("supervisor `{supervisor}`: period must be greater than zero")]
    ZeroPeriod {
        /// The supervisor.
        supervisor: ChildPath,
    },
    /// A significant child is permanent: it would never exit by itself, so
    /// auto_shutdown could never fire for it.
    #[error(
        "supervisor `{supervisor}`: child `{child}` is significant and permanent; \
         a significant child must be transient or temporary"
    )]
    SignificantPermanent {
        /// The supervisor.
        supervisor: ChildPath,
        /// The child.
        child: String,
    },
    /// A duration of a child's watch is zero where zero cannot work: a
    /// heartbeat timeout of zero would find every child hung at once, a
    /// probe every zero seconds would never let the watchdog rest.
    #[error("supervisor `{supervisor}`: child `{child}`: the {setting} must be greater than zero")]
    ZeroDuration {
        /// The supervisor.
        supervisor: ChildPath,
        /// The child.
        child: String,
        /// Which setting: `heartbeat timeout`, `probe interval`, `probe
        /// timeout` or `restart limit window`.
        setting: &'static str,
    },
    /// Restart in place was asked of a child that is not an actor child
    /// (only [`ChildSpec::actor`] children can be restarted in place).
    #[error("supervisor `{supervisor}`: child `{child}`: only actor children can restart in place")]
    InPlaceNeedsActor {
        /// The supervisor.
        supervisor: ChildPath,
        /// The child.
        child: String,
    },
    /// A child's dead-letter sink takes messages of another type than its
    /// actor handles.
    #[error(
        "supervisor `{supervisor}`: child `{child}`: the dead-letter sink takes `{sink}`, \
         but the actor handles `{actor}`"
    )]
    DeadLetterType {
        /// The supervisor.
        supervisor: ChildPath,
        /// The child.
        child: String,
        /// The sink's message type.
        sink: &'static str,
        /// The actor's message type.
        actor: &'static str,
    },
    /// A child is significant but its supervisor's auto_shutdown is never.
    #[error(
        "supervisor `{supervisor}`: child `{child}` is significant, \
         but the supervisor's auto_shutdown is never"
    )]
    SignificantWithoutAutoShutdown {
        /// The supervisor.
        supervisor: ChildPath,
        /// The child.
        child: String,
    },
}

impl SupervisorSpec {
    /// Checks this supervisor and every supervisor nested in it, as a root.
    pub fn validate(&self) -> Result<(), SpecError> {
        self.validate_at(&ChildPath::default())
    }

    /// Checks this supervisor as a child of the node at `parent`.
    pub(crate) fn validate_at(&self, parent: &ChildPath) -> Result<(), SpecError> {
        let path = validate_supervisor(parent, &self.name, self.flags.period)?;
        let mut seen = HashSet::with_capacity(self.children.len());
        for child in &self.children {
            child.validate_under(&path, self.flags.auto_shutdown)?;
            if !seen.insert(child.id.as_str()) {
                return Err(SpecError::DuplicateChildId {
                    supervisor: path,
                    child: child.id.clone(),
                });
            }
        }
        Ok(())
    }
}

/// The checks every kind of supervisor shares: a name, and a period > 0.
/// Returns the supervisor's path.
pub(crate) fn validate_supervisor(
    parent: &ChildPath,
    name: &str,
    period: std::time::Duration,
) -> Result<ChildPath, SpecError> {
    if name.is_empty() {
        return Err(SpecError::EmptySupervisorName {
            parent: parent.clone(),
        });
    }
    let path = parent.child(name);
    if period.is_zero() {
        return Err(SpecError::ZeroPeriod { supervisor: path });
    }
    Ok(path)
}

impl ChildSpec {
    /// Checks this child as a child of the supervisor at `supervisor`, and
    /// the subtree below it if it is a nested supervisor.
    pub(crate) fn validate_under(
        &self,
        supervisor: &ChildPath,
        auto_shutdown: AutoShutdown,
    ) -> Result<(), SpecError> {
        if self.id.is_empty() {
            return Err(SpecError::EmptyChildId {
                supervisor: supervisor.clone(),
            });
        }
        if self.significant {
            if self.restart == Restart::Permanent {
                return Err(SpecError::SignificantPermanent {
                    supervisor: supervisor.clone(),
                    child: self.id.clone(),
                });
            }
            if auto_shutdown == AutoShutdown::Never {
                return Err(SpecError::SignificantWithoutAutoShutdown {
                    supervisor: supervisor.clone(),
                    child: self.id.clone(),
                });
            }
        }
        let zero = |setting| SpecError::ZeroDuration {
            supervisor: supervisor.clone(),
            child: self.id.clone(),
            setting,
        };
        if self.restart_limit.is_some_and(|(_, within)| within.is_zero()) {
            return Err(zero("restart limit window"));
        }
        if let Some(watch) = &self.watch {
            if watch.timeout.is_zero() {
                return Err(zero("heartbeat timeout"));
            }
            if let Some(probe) = &watch.probe {
                if probe.every.is_zero() {
                    return Err(zero("probe interval"));
                }
                if probe.timeout.is_zero() {
                    return Err(zero("probe timeout"));
                }
            }
        }
        self.validate_in_place(supervisor)?;
        if let Some(validate_nested) = &self.validate_nested {
            validate_nested(supervisor)?;
        }
        Ok(())
    }
}

impl ChildSpec {
    fn validate_in_place(&self, supervisor: &ChildPath) -> Result<(), SpecError> {
        let setting = &self.in_place;
        match (setting.message_type, &setting.sink) {
            (None, _) if setting.asked == Some(true) => Err(SpecError::InPlaceNeedsActor {
                supervisor: supervisor.clone(),
                child: self.id.clone(),
            }),
            (Some((actor, actor_name)), Some(sink)) if sink.message_type != actor => {
                Err(SpecError::DeadLetterType {
                    supervisor: supervisor.clone(),
                    child: self.id.clone(),
                    sink: sink.message_type_name,
                    actor: actor_name,
                })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn noop(id: &str) -> ChildSpec {
        ChildSpec::task(id, |_| async { Ok(()) })
    }

    #[test]
    fn duplicate_ids_name_the_child() {
        let spec = SupervisorSpec::new("root").child(noop("a")).child(noop("a"));
        assert_eq!(
            spec.validate(),
            Err(SpecError::DuplicateChildId {
                supervisor: ChildPath::root("root"),
                child: "a".into()
            })
        );
    }

    #[test]
    fn zero_period_is_rejected() {
        let spec = SupervisorSpec::new("root").period(Duration::ZERO);
        assert!(matches!(spec.validate(), Err(SpecError::ZeroPeriod { .. })));
    }

    #[test]
    fn significant_children_need_auto_shutdown_and_a_non_permanent_restart() {
        let permanent = SupervisorSpec::new("root")
            .auto_shutdown(AutoShutdown::AnySignificant)
            .child(noop("a").significant(true));
        assert!(matches!(
            permanent.validate(),
            Err(SpecError::SignificantPermanent { .. })
        ));
        let never =
            SupervisorSpec::new("root").child(noop("a").restart(Restart::Transient).significant(true));
        assert!(matches!(
            never.validate(),
            Err(SpecError::SignificantWithoutAutoShutdown { .. })
        ));
    }

    #[test]
    fn zero_watch_durations_are_rejected_and_name_the_setting() {
        use crate::{Probe, Watch};
        let watched = |watch: Watch| SupervisorSpec::new("root").child(noop("agent").watch(watch));
        let zero = Duration::ZERO;
        for (watch, setting) in [
            (Watch::heartbeat(zero), "heartbeat timeout"),
            (Watch::per_message(zero), "heartbeat timeout"),
            (
                Watch::heartbeat(Duration::from_secs(1)).probe(Probe::new(zero, |_| async { Ok(()) })),
                "probe interval",
            ),
            (
                Watch::heartbeat(Duration::from_secs(1))
                    .probe(Probe::new(Duration::from_secs(1), |_| async { Ok(()) }).timeout(zero)),
                "probe timeout",
            ),
        ] {
            assert_eq!(
                watched(watch).validate(),
                Err(SpecError::ZeroDuration {
                    supervisor: ChildPath::root("root"),
                    child: "agent".into(),
                    setting
                })
            );
        }
        // Duration::MAX means "never": handled, not refused.
        assert!(watched(Watch::heartbeat(Duration::MAX)).validate().is_ok());
    }

    #[test]
    fn nested_supervisors_are_checked_with_their_full_path() {
        let spec = SupervisorSpec::new("root").child(ChildSpec::supervisor(
            SupervisorSpec::new("inner").child(noop("")),
        ));
        assert_eq!(
            spec.validate(),
            Err(SpecError::EmptyChildId {
                supervisor: ChildPath::root("root").child("inner")
            })
        );
    }
}

//! The panic hook hides injected panics and nothing else. One test in its own binary:
//! a panic hook is global to the process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::panic::catch_unwind;
use std::sync::{Arc, Mutex};

use hale_chaos::{FaultKind, FaultPlan, FaultRule, Injector, inject_panic, silence_injected_panics};

#[test]
fn only_injected_panics_are_silenced_and_real_ones_reach_the_previous_hook() {
    // Stands in for the default hook (which prints): records what reaches it.
    let reached: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = Arc::clone(&reached);
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let text = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        record.lock().unwrap().push(text);
    }));
    silence_injected_panics();
    let reached_now = || reached.lock().unwrap().clone();

    assert!(catch_unwind(|| inject_panic("agent hit a malformed document")).is_err());
    assert!(reached_now().is_empty(), "an injected panic is silent");

    assert!(catch_unwind(|| panic!("a real bug")).is_err());
    assert_eq!(reached_now(), vec!["a real bug"]);

    // The same text as an injected panic, raised as a real one: still shown.
    let text = String::from("agent hit a malformed document");
    assert!(catch_unwind(|| panic!("{text}")).is_err());
    assert_eq!(reached_now().len(), 2);

    // The injector's panic faults, inside a task on a runtime worker.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    let injector = Injector::new(FaultPlan::new(1).rule(FaultRule::new("llm", FaultKind::Panic, 1.0)));
    let crashed = runtime.block_on(async move {
        tokio::spawn(async move {
            injector
                .inject("llm", 7, 0, || async { Ok::<_, String>(()) }, |v| v)
                .await
        })
        .await
    });
    let panic = crashed.unwrap_err().into_panic();
    assert_eq!(
        panic.downcast_ref::<String>().map(String::as_str),
        Some("chaos: injected panic at `llm` (item 7)"),
        "the payload, and so a supervisor's exit reason, is the message as before"
    );
    assert_eq!(reached_now().len(), 2, "the injector's panic is silent too");

    // And a real panic on that worker still shows.
    let real = runtime.block_on(async { tokio::spawn(async { panic!("worker bug") }).await });
    assert!(real.is_err());
    assert_eq!(reached_now().last().map(String::as_str), Some("worker bug"));
}

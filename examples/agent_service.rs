//! A supervised agent tree inside an axum service: the way to embed Hale.
//!
//! Each `POST /tasks/{id}` hands its body to an agent keyed on the task id.
//! The agent calls a flaky model through a resilience pipeline (timeout,
//! retry, circuit breaker) and answers its caller. A request for an id that
//! an agent is working on joins that agent's answer; an id answered before
//! gets the recorded answer; so no task runs twice. An agent that crashes is
//! restarted with the same input; one that crashes past its own restart
//! limit is dead-lettered (its caller gets 422) and never counts against its
//! siblings. `GET /health` answers 200 while the tree is healthy and 503
//! with the reasons when it is not; `GET /stats` counts what happened.
//! Ctrl-C or SIGTERM drains the requests in flight, stops the tree and
//! prints one line.
//!
//! ```sh
//! cargo run --example agent_service -- --addr 127.0.0.1:3000
//! curl -X POST localhost:3000/tasks/t-1 -d 'summarize the quarter'
//! curl -X POST localhost:3000/tasks/t-2 -d 'poison'      # dead-lettered: 422
//! curl localhost:3000/health
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use hale::prelude::*;
use hale::util::lock;
use serde_json::{Value, json};

/// How long stopping the tree may take before it is killed.
const STOP_LIMIT: Duration = Duration::from_secs(5);
/// How many tasks the service remembers (the oldest is forgotten first).
const REMEMBERED: usize = 10_000;

/// What the service knows of one task id.
#[derive(Clone, Default)]
struct Task {
    /// Whether an agent has begun working on it (its first run, not a restart).
    begun: bool,
    /// Its answer, or why it was dead-lettered.
    outcome: Option<Result<String, String>>,
}

/// The tasks seen, at most [`REMEMBERED`] of them.
#[derive(Default)]
struct Tasks {
    by_id: HashMap<String, Task>,
    order: VecDeque<String>,
}

impl Tasks {
    fn get(&self, id: &str) -> Task {
        self.by_id.get(id).cloned().unwrap_or_default()
    }

    fn update(&mut self, id: &str, change: impl FnOnce(&mut Task)) {
        if !self.by_id.contains_key(id) {
            self.order.push_back(id.to_owned());
            if self.order.len() > REMEMBERED
                && let Some(oldest) = self.order.pop_front()
            {
                self.by_id.remove(&oldest);
            }
        }
        change(self.by_id.entry(id.to_owned()).or_default());
    }
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    joined: AtomicU64,
    model_runs: AtomicU64,
    dead_lettered: AtomicU64,
    /// An agent began a task another agent had already begun: must stay 0.
    ran_twice: AtomicU64,
}

/// A stand-in for an LLM endpoint: a few milliseconds per call, every third
/// call a 503, and a prompt that says `hang` hangs on its first call.
#[derive(Default)]
struct Model {
    calls: AtomicU64,
}

impl Model {
    async fn complete(&self, prompt: &str) -> Result<String, String> {
        let call = self.calls.fetch_add(1, Relaxed);
        if prompt.contains("hang") && call.is_multiple_of(2) {
            std::future::pending::<()>().await; // cut by the pipeline's timeout
        }
        tokio::time::sleep(Duration::from_millis(2 + call % 5)).await;
        if call % 3 == 2 {
            return Err("503 service unavailable".into());
        }
        Ok(format!("{} words", prompt.split_whitespace().count()))
    }
}

#[derive(Clone)]
struct Service {
    agents: DynamicSupervisorRef,
    template: JobTemplate<(String, String), String>,
    tasks: Arc<Mutex<Tasks>>,
    counts: Arc<Counts>,
}

impl Service {
    /// The agents' template: one job per task id, two restarts of its own,
    /// then dead-lettered; watched by heartbeat, which the pipeline beats.
    fn new(agents: DynamicSupervisorRef) -> Result<Self, ResilienceError<String>> {
        let (tasks, counts) = (Arc::<Mutex<Tasks>>::default(), Arc::<Counts>::default());
        let model = Arc::new(Model::default());
        let pipeline = Pipeline::builder("model")
            .circuit_breaker(|breaker| breaker.count_window(50).minimum_calls(20))
            .retry(|retry| {
                retry
                    .maximum_attempts(4)
                    .initial_interval(Duration::from_millis(5))
            })
            .timeout(Duration::from_millis(200))
            .build()
            .map_err(|error| ResilienceError::Inner(error.to_string()))?;
        let (run_tasks, run_counts) = (Arc::clone(&tasks), Arc::clone(&counts));
        let (dead_tasks, dead_counts) = (Arc::clone(&tasks), Arc::clone(&counts));
        let template = JobTemplate::new("task", move |(id, prompt): (String, String), ctx: TaskContext| {
            let (model, pipeline) = (Arc::clone(&model), pipeline.clone());
            let (tasks, counts) = (Arc::clone(&run_tasks), Arc::clone(&run_counts));
            async move {
                let task = lock(&tasks).get(&id);
                if let Some(Ok(answer)) = task.outcome {
                    return Ok(answer); // answered while this request was on its way
                }
                if ctx.restarts() == 0 {
                    if task.begun {
                        counts.ran_twice.fetch_add(1, Relaxed);
                    }
                    lock(&tasks).update(&id, |task| task.begun = true);
                }
                if prompt.contains("poison") {
                    panic!("the agent cannot handle this input"); // restarted, then dead-lettered
                }
                counts.model_runs.fetch_add(1, Relaxed);
                let answer = pipeline
                    .call(|| model.complete(&prompt))
                    .await
                    .map_err(|e| e.to_string())?;
                // Recorded before the job ends, so a later request for this id
                // finds it instead of starting the task again.
                lock(&tasks).update(&id, |task| task.outcome = Some(Ok(answer.clone())));
                Ok(answer)
            }
        })
        .restart_limit(2, Duration::from_secs(60))
        .configure(|spec| spec.watch(Watch::heartbeat(Duration::from_secs(2))))
        .dead_letters(move |letter| {
            dead_counts.dead_lettered.fetch_add(1, Relaxed);
            let reason = format!(
                "dead-lettered after {} restarts: {}",
                letter.restarts, letter.error
            );
            lock(&dead_tasks).update(&letter.input.0, |task| task.outcome = Some(Err(reason)));
        });
        Ok(Self {
            agents,
            template,
            tasks,
            counts,
        })
    }

    async fn run_task(&self, id: String, prompt: String) -> (StatusCode, Json<Value>) {
        self.counts.requests.fetch_add(1, Relaxed);
        let reply = |status, outcome: Result<String, String>| match outcome {
            Ok(answer) => (status, Json(json!({ "id": id, "answer": answer }))),
            Err(error) => (status, Json(json!({ "id": id, "error": error }))),
        };
        match lock(&self.tasks).get(&id).outcome {
            Some(Ok(answer)) => return reply(StatusCode::OK, Ok(answer)),
            Some(Err(why)) => return reply(StatusCode::UNPROCESSABLE_ENTITY, Err(why)),
            None => {}
        }
        let job = match self
            .agents
            .start_job(&self.template, id.clone(), (id.clone(), prompt))
            .await
        {
            Ok(job) => job,
            Err(error) => return reply(StatusCode::SERVICE_UNAVAILABLE, Err(error.to_string())),
        };
        if job.joined() {
            self.counts.joined.fetch_add(1, Relaxed);
        }
        match job.answer().await {
            Ok(answer) => reply(StatusCode::OK, Ok(answer)),
            Err(error @ JobError::GaveUp { .. }) => {
                reply(StatusCode::UNPROCESSABLE_ENTITY, Err(error.to_string()))
            }
            Err(error) => reply(StatusCode::SERVICE_UNAVAILABLE, Err(error.to_string())),
        }
    }

    fn stats(&self) -> Value {
        let count = |counter: &AtomicU64| counter.load(Relaxed);
        let counts = &self.counts;
        json!({
            "requests": count(&counts.requests),
            "joined": count(&counts.joined),
            "model_runs": count(&counts.model_runs),
            "dead_lettered": count(&counts.dead_lettered),
            "ran_twice": count(&counts.ran_twice),
        })
    }
}

/// 200 and `healthy` while every node is; 503 and each concern otherwise.
async fn health(root: &SupervisorRef) -> (StatusCode, Json<Value>) {
    match root.health().await {
        Ok(tree) if tree.is_healthy() => (StatusCode::OK, Json(json!({ "healthy": true }))),
        Ok(tree) => {
            let concerns: Vec<Value> = tree
                .concerns()
                .iter()
                .map(|(node, concern)| json!({ "path": node.path.to_string(), "concern": concern }))
                .collect();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "healthy": false, "concerns": concerns })),
            )
        }
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": error.to_string() })),
        ),
    }
}

fn router(service: Service, root: SupervisorRef) -> Router {
    Router::new()
        .route(
            "/tasks/{id}",
            post(
                |State(service): State<Service>, Path(id): Path<String>, prompt: String| async move {
                    service.run_task(id, prompt).await
                },
            ),
        )
        .route(
            "/stats",
            get(|State(service): State<Service>| async move { Json(service.stats()) }),
        )
        .route("/health", get(move || async move { health(&root).await }))
        .with_state(service)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(error) => {
            eprintln!("agent_service: no SIGTERM handler ({error}); Ctrl-C still stops it");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("agent_service: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // A poison input panics its agent on purpose: one line each, not a
    // backtrace (the supervisor reports the crash as a healing event too).
    std::panic::set_hook(Box::new(|panic| eprintln!("agent_service: {panic}")));
    let mut args = std::env::args().skip(1);
    let addr = match (args.next().as_deref(), args.next()) {
        (None, _) => "127.0.0.1:3000".to_owned(),
        (Some("--addr"), Some(addr)) => addr,
        _ => return Err("usage: agent_service [--addr HOST:PORT]".into()),
    };
    // The service's tree: a dynamic supervisor for the agents under a root.
    let root = Supervisor::start(
        SupervisorSpec::new("service").child(ChildSpec::dynamic_supervisor(DynamicSupervisorSpec::new(
            "agents",
        ))),
    )
    .await?;
    let service = Service::new(root.child_dynamic_supervisor("agents").await?)?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, router(service.clone(), root.clone()))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    let exit = root.stop(STOP_LIMIT).await;
    println!("stopped ({exit}): {}", service.stats());
    if exit == ExitReason::Normal {
        Ok(())
    } else {
        Err(format!("the tree ended {exit}").into())
    }
}

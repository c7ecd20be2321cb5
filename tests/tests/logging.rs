//! RUST_LOG lines carry virtual time and node (sim_core::logging).

use std::io::Write;
use std::sync::{Arc, Mutex};

use scenarios::runner::run_scenario;
use sim_core::logging::subscriber;
use tracing_subscriber::EnvFilter;

/// A writer into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logged(filter: &str) -> String {
    let buffer = Buffer::default();
    let sink = buffer.clone();
    let sub = subscriber(EnvFilter::new(filter), move || sink.clone());
    tracing::subscriber::with_default(sub, || {
        run_scenario("election", 1, "", &[]).unwrap();
    });
    let bytes = buffer.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn trace_events_are_logged_with_virtual_time_and_their_node() {
    let text = logged("ksim::trace=debug");
    let send = text
        .lines()
        .find(|l| l.contains(r#""type":"send""#))
        .expect("a send is logged");
    // `   0.012345s etcd-2    DEBUG ksim::trace: e17 {...}`
    let fields: Vec<&str> = send.split_whitespace().collect();
    assert!(
        fields[0].ends_with('s') && fields[0].contains('.'),
        "{send}"
    );
    assert!(
        ["etcd-", "client-"]
            .iter()
            .any(|p| fields[1].starts_with(p)),
        "{send}"
    );
    assert_eq!(fields[2], "DEBUG", "{send}");
    assert_eq!(fields[3], "ksim::trace:", "{send}");
    assert!(
        text.lines().all(|l| !l.contains("ksim::raft")),
        "filtered out"
    );
}

#[test]
fn log_lines_from_node_tasks_take_the_node_from_madsims_span() {
    let text = logged("ksim::raft=info");
    let leader = text
        .lines()
        .find(|l| l.contains("Leader in term"))
        .expect("an election is logged");
    let fields: Vec<&str> = leader.split_whitespace().collect();
    assert!(fields[1].starts_with("etcd-"), "{leader}");
    assert_eq!(fields[2], "INFO", "{leader}");
    assert!(!text.contains("ksim::trace"), "filtered out");
}

#[test]
fn without_a_subscriber_nothing_is_installed_and_runs_are_unchanged() {
    let a = run_scenario("election", 2, "", &[]).unwrap().trace.hash();
    let b = {
        let sub = subscriber(EnvFilter::new("ksim=debug"), std::io::sink);
        tracing::subscriber::with_default(sub, || {
            run_scenario("election", 2, "", &[]).unwrap().trace.hash()
        })
    };
    assert_eq!(a, b, "logging must not change the run");
}

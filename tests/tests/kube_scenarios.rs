//! The Kubernetes scenarios as `ksim run` runs them: their configs are checked (an
//! impossible cluster is a clear error), and a run is the same trace on every replay.

use scenarios::runner::{execute, prepare};
use scenarios::{ScenarioError, ScenarioFile};

fn file(scenario: &str, seed: u64, config: &str) -> ScenarioFile {
    ScenarioFile {
        scenario: scenario.into(),
        seed,
        config: toml::from_str(config).expect("test configs parse"),
        mutants: Vec::new(),
        faults: None,
    }
}

#[test]
fn impossible_clusters_and_quantities_are_refused_naming_the_field() {
    for (config, field) in [
        ("[cluster]\netcd_members = 2\n", "cluster.etcd_members = 2"),
        ("[cluster]\napi_servers = 0\n", "cluster.api_servers = 0"),
        ("[cluster]\nworkers = 0\n", "cluster.workers = 0"),
        ("[cluster]\nworker_cpu = \"lots\"\n", "cluster.worker_cpu"),
        ("pod_cpu = \"-\"\n", "pod_cpu"),
        ("pods = 0\n", "pods = 0"),
        ("duration_ms = 1000\n", "duration_ms = 1000"),
    ] {
        match prepare(&file("pod-lifecycle", 1, config)) {
            Err(ScenarioError::Config(message)) => {
                assert!(message.contains(field), "{config:?}: {message}")
            }
            other => panic!("{config:?}: {:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn a_pod_lifecycle_run_replays_to_the_same_trace() {
    let f = file("pod-lifecycle", 4, "");
    let a = execute(&prepare(&f).unwrap()).unwrap().trace.hash();
    let b = execute(&prepare(&f).unwrap()).unwrap().trace.hash();
    assert_eq!(a, b);
}

#[test]
fn node_failure_without_its_kill_reports_its_story_missing_not_a_violation() {
    let mut f = file("node-failure", 2, "");
    f.faults = Some(Vec::new());
    let run = execute(&prepare(&f).unwrap()).unwrap();
    assert_eq!(run.verdict.status(), sim_core::Status::Pass);
    let missing: Vec<&str> = run
        .verdict
        .stories_missing()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        missing,
        [
            "node-marked-unknown",
            "node-tainted-unreachable",
            "pod-evicted",
            "evicted-pods-replaced"
        ],
        "{:?}",
        run.verdict
    );
}

#[test]
fn node_failure_refuses_a_worker_it_does_not_have() {
    match prepare(&file("node-failure", 1, "worker = \"worker-9\"\n")) {
        Err(ScenarioError::Config(m)) => assert!(m.contains("worker-1 to worker-3"), "{m}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn deployment_reconcile_names_a_deployment_left_unreconciled() {
    // Every controller-manager replica dies before the scale to 1 and stays down: the
    // Deployment keeps its 3 pods and deployment-converges says when and how far off.
    let mut f = file("deployment-reconcile", 1, "");
    let faults = "[[faults]]\nat_ms = 30000\nop = \"kill\"\nnode = \"master-1\"\n\n\
                  [[faults]]\nat_ms = 30000\nop = \"kill\"\nnode = \"master-2\"\n\n\
                  [[faults]]\nat_ms = 30000\nop = \"kill\"\nnode = \"master-3\"\n";
    let directory = prepare(&f).unwrap().configured.directory();
    f.faults = Some(
        sim_core::FaultSchedule::from_toml_in(faults, "faults.toml", &directory)
            .unwrap()
            .faults,
    );
    let run = execute(&prepare(&f).unwrap()).unwrap();
    assert_eq!(run.verdict.status(), sim_core::Status::LivenessViolation);
    assert_eq!(run.failing_checks(), ["deployment-converges"]);
    let converges = run
        .verdict
        .checks
        .iter()
        .find(|c| c.name == "deployment-converges")
        .unwrap();
    let message = converges.outcome.message().unwrap_or_default().to_string();
    assert!(message.contains("missed its desired count"), "{message}");
    // The same seed with its own faults converges.
    let clean = execute(&prepare(&file("deployment-reconcile", 1, "")).unwrap()).unwrap();
    assert_eq!(clean.verdict.status(), sim_core::Status::Pass);
}

/// A config table holding one manifest file.
fn with_manifest(file: &str, yaml: &str) -> String {
    let mut manifest = toml::Table::new();
    manifest.insert("file".into(), file.into());
    manifest.insert("yaml".into(), yaml.into());
    let mut config = toml::Table::new();
    config.insert(
        "manifests".into(),
        toml::Value::Array(vec![toml::Value::Table(manifest)]),
    );
    toml::to_string(&config).unwrap()
}

fn verdict_of<'a>(run: &'a scenarios::ScenarioRun, check: &str) -> &'a sim_core::Outcome {
    &run.verdict
        .checks
        .iter()
        .find(|c| c.name == check)
        .unwrap_or_else(|| panic!("no {check}"))
        .outcome
}

#[test]
fn a_real_world_deployment_manifest_reaches_its_replicas() {
    let yaml = include_str!("../data/manifests/nginx-deployment.yaml");
    let config = with_manifest("nginx-deployment.yaml", yaml);
    let run = execute(&prepare(&file("deployment-reconcile", 2, &config)).unwrap()).unwrap();
    assert_eq!(
        verdict_of(&run, "manifest-workloads-converge"),
        &sim_core::Outcome::Pass
    );
    assert_eq!(run.verdict.status(), sim_core::Status::Pass);
    // Three nginx pods ran (and the Service was stored beside them).
    let started: std::collections::BTreeSet<String> = run
        .trace
        .events
        .iter()
        .filter_map(|e| match e.layer::<apiserver_model::events::KubeEvent>() {
            Some(apiserver_model::events::KubeEvent::PodStarted { pod })
                if pod.starts_with("default/nginx-deployment-") =>
            {
                Some(pod.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 3, "{started:?}");
}

#[test]
fn a_manifest_workload_that_cannot_fit_is_named() {
    // 20 pods of one CPU on three workers of two: six run, the rest stay Pending.
    let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: big\nspec:\n  replicas: 20\n  selector:\n    matchLabels:\n      app: big\n  template:\n    metadata:\n      labels:\n        app: big\n    spec:\n      containers:\n      - name: c\n        image: busybox\n        resources:\n          requests:\n            cpu: \"1\"\n";
    let run = execute(
        &prepare(&file(
            "deployment-reconcile",
            2,
            &with_manifest("big.yaml", yaml),
        ))
        .unwrap(),
    )
    .unwrap();
    let outcome = verdict_of(&run, "manifest-workloads-converge");
    let message = outcome.message().unwrap_or_default();
    assert!(message.contains("did not converge"), "{outcome:?}");
    assert_eq!(run.verdict.status(), sim_core::Status::LivenessViolation);
}

#[test]
fn a_bad_manifest_is_refused_naming_its_file_document_and_field() {
    let deployment = |extra: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n---\n{extra}")
    };
    for (yaml, want) in [
        (deployment("apiVersion: v1\nkind: Gadget\nmetadata:\n  name: x\n"), "document 2: "),
        (deployment("apiVersion: gadgets/v9\nkind: Deployment\nmetadata:\n  name: x\n"), "document 2: "),
        (deployment("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndatum: {}\n"), "document 2: datum: unknown field"),
        (deployment("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: three\n"), "document 2: spec.replicas"),
        (deployment("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_Valid\n"), "document 2: metadata.name"),
    ] {
        match prepare(&file("pod-lifecycle", 1, &with_manifest("bad.yaml", &yaml))) {
            Err(ScenarioError::Manifest(m)) => {
                assert!(m.starts_with("bad.yaml:") && m.contains(want), "{yaml:?}: {m}");
                assert!(!m.contains('\n'), "one line: {m}");
            }
            other => panic!("{yaml:?}: {:?}", other.map(|_| ())),
        }
    }
}

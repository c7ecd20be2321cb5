//! The request path, request by request, on a real etcd store (no network): each row says
//! who asks what and the code (and words) Kubernetes would answer, and every refused
//! request must leave etcd's revision where it was.

use std::cell::RefCell;

use raft::etcd::{
    Command, EtcdStore, KeyValue, Query, RangeRequest, Response, Revision, TxnRequest,
};
use serde_json::{json, Value};
use sim_core::{NodeId, SimTime};

use super::*;
use crate::authn::MASTERS;
use crate::storage::TxnAnswer;

/// etcd without the network: the store applies each call at once, as its leader would.
/// Transactions queued in the second field are another client's writes, applied just
/// before the server's next transaction (a race the server loses).
#[derive(Debug, Default)]
pub(super) struct Local(
    pub(super) RefCell<EtcdStore>,
    pub(super) RefCell<Vec<TxnRequest>>,
);

impl Backend for Local {
    async fn txn(&self, txn: TxnRequest) -> Result<TxnAnswer, BackendError> {
        let first = std::mem::take(&mut *self.1.borrow_mut());
        for other in first {
            self.0.borrow_mut().apply(&Command::Txn(other), 0, true);
        }
        match self.0.borrow_mut().apply(&Command::Txn(txn), 0, true) {
            Response::Txn {
                header,
                succeeded,
                responses,
            } => Ok((succeeded, responses, header.revision)),
            other => Err(BackendError::Unexpected(format!("{other:?}"))),
        }
    }

    async fn range(
        &self,
        request: RangeRequest,
    ) -> Result<(Vec<KeyValue>, Revision), BackendError> {
        match self
            .0
            .borrow_mut()
            .query(NodeId(0), &Query::Range(request), 0, true)
        {
            Response::Range { header, kvs, .. } => Ok((kvs, header.revision)),
            Response::Error(e) => Err(BackendError::Refused(e)),
            other => Err(BackendError::Unexpected(format!("{other:?}"))),
        }
    }
}

pub(super) fn server() -> ApiServer<Local> {
    let authn = Authenticator::new()
        .with_token("t-admin", "admin", &[MASTERS])
        .with_token("t-reader", "reader", &[])
        .with_token("t-sched", "system:kube-scheduler", &[]);
    let rbac = Rbac {
        roles: vec![serde_json::from_value(json!({
            "metadata": {"name": "pod-reader", "namespace": "default"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
        }))
        .unwrap()],
        cluster_roles: vec![serde_json::from_value(json!({
            "metadata": {"name": "binder"},
            "rules": [{"apiGroups": [""], "resources": ["pods/binding"], "verbs": ["create"]}]
        }))
        .unwrap()],
        role_bindings: vec![serde_json::from_value(json!({
            "metadata": {"name": "read-pods", "namespace": "default"},
            "subjects": [{"kind": "User", "name": "reader"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"}
        }))
        .unwrap()],
        cluster_role_bindings: vec![serde_json::from_value(json!({
            "metadata": {"name": "scheduler"},
            "subjects": [{"kind": "User", "name": "system:kube-scheduler"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "binder"}
        }))
        .unwrap()],
    };
    ApiServer::new("apiserver-1", Local::default(), authn, rbac)
}

pub(super) fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
            "resources": {"requests": {"cpu": "100m"}}}]}})
}

pub(super) fn deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}})
}

pub(super) fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    madsim::runtime::Runtime::new().block_on(f)
}

/// Sends `r` at virtual time 5 s and checks its code; a refused request must not move
/// etcd's revision.
pub(super) async fn expect(s: &ApiServer<Local>, r: Request, code: u16) -> Reply {
    expect_at(s, r, code, SimTime(5_000_000)).await
}

/// Sends `r` at `now` and checks its code; a refused request must not move etcd's revision.
pub(super) async fn expect_at(s: &ApiServer<Local>, r: Request, code: u16, now: SimTime) -> Reply {
    let before = s.backend.0.borrow().current_revision();
    let reply = s.handle(&r, now).await;
    let got = match &reply {
        Ok(_) => {
            if r.verb == Verb::Create {
                201
            } else {
                200
            }
        }
        Err(e) => e.code(),
    };
    assert_eq!(
        got, code,
        "{:?} {}/{:?}: {reply:?}",
        r.verb, r.resource, r.name
    );
    if reply.is_err() {
        assert_eq!(
            s.backend.0.borrow().current_revision(),
            before,
            "a refused {r:?} changed etcd"
        );
    }
    reply
}

pub(super) fn create(
    token: &str,
    group: &str,
    resource: &str,
    ns: Option<&str>,
    body: Value,
) -> Request {
    let mut r = Request::new(Some(token), Verb::Create, group, resource).with_body(body);
    r.namespace = ns.map(str::to_string);
    r
}

#[test]
fn the_request_path_request_by_request() {
    run(async {
        let s = server();
        for ns in ["default", "team-a"] {
            expect(
                &s,
                create(
                    "t-admin",
                    "",
                    "namespaces",
                    None,
                    json!({"metadata": {"name": ns}}),
                ),
                201,
            )
            .await
            .unwrap();
        }
        let quota = json!({"metadata": {"name": "compute"}, "spec": {"hard": {"pods": "1"}}});
        expect(
            &s,
            create("t-admin", "", "resourcequotas", Some("team-a"), quota),
            201,
        )
        .await
        .unwrap();

        // Authentication: a forged token is 401; no token is anonymous, and RBAC refuses it.
        let get = |token: Option<&str>| {
            Request::new(token, Verb::Get, "", "pods")
                .in_namespace("default")
                .named("web")
        };
        let e = expect(&s, get(Some("forged")), 401).await.unwrap_err();
        assert_eq!(e.to_string(), "Unauthorized");
        let e = expect(&s, get(None), 403).await.unwrap_err();
        assert!(
            e.to_string()
                .contains("User \"system:anonymous\" cannot get resource \"pods\""),
            "{e}"
        );

        // A Deployment: created with Kubernetes' defaults, a uid and a resourceVersion.
        let d = expect(
            &s,
            create(
                "t-admin",
                "apps",
                "deployments",
                Some("default"),
                deployment(),
            ),
            201,
        )
        .await
        .unwrap();
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        assert_eq!(d["metadata"]["uid"], "apiserver-1-000004");
        assert_eq!(d["metadata"]["creationTimestamp"], "2026-01-01T00:00:05Z");
        assert_eq!(d["metadata"]["generation"], 1);
        let rv = d["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
        let e = expect(
            &s,
            create(
                "t-admin",
                "apps",
                "deployments",
                Some("default"),
                deployment(),
            ),
            409,
        )
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), "deployments.apps \"web\" already exists");

        // RBAC: the reader may get pods, not deployments, and not delete.
        let e = expect(
            &s,
            Request::new(Some("t-reader"), Verb::Get, "apps", "deployments")
                .in_namespace("default")
                .named("web"),
            403,
        )
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), "deployments.apps \"web\" is forbidden: User \"reader\" cannot get resource \"deployments\" in API group \"apps\" in the namespace \"default\"");
        let p = expect(
            &s,
            create("t-admin", "", "pods", Some("default"), pod("web")),
            201,
        )
        .await
        .unwrap();
        let tolerations = p["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(
            tolerations.len(),
            2,
            "DefaultTolerationSeconds: {tolerations:?}"
        );
        expect(&s, get(Some("t-reader")), 200).await.unwrap();
        expect(
            &s,
            Request::new(Some("t-reader"), Verb::Delete, "", "pods")
                .in_namespace("default")
                .named("web"),
            403,
        )
        .await
        .unwrap_err();

        // Validation, decoding and namespace lifecycle.
        let e = expect(
            &s,
            create("t-admin", "", "pods", Some("default"), pod("Web_1")),
            422,
        )
        .await
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Pod \"Web_1\" is invalid: metadata.name: Invalid value: \"Web_1\""),
            "{e}"
        );
        let mut typo = pod("typo");
        typo["spec"]["containers"][0]["imagePullPolice"] = json!("Always");
        let e = expect(
            &s,
            create("t-admin", "", "pods", Some("default"), typo),
            400,
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "strict decoding error: unknown field \"spec.containers[0].imagePullPolice\""
        );
        let e = expect(
            &s,
            create("t-admin", "", "pods", Some("nope"), pod("p")),
            404,
        )
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), "namespaces \"nope\" not found");

        // ResourceQuota: one pod fits team-a, the second does not, and usage was charged.
        expect(
            &s,
            create("t-admin", "", "pods", Some("team-a"), pod("a")),
            201,
        )
        .await
        .unwrap();
        let e = expect(
            &s,
            create("t-admin", "", "pods", Some("team-a"), pod("b")),
            403,
        )
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), "pods \"b\" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=1, limited: pods=1");
        let q = expect(
            &s,
            Request::new(Some("t-admin"), Verb::Get, "", "resourcequotas")
                .in_namespace("team-a")
                .named("compute"),
            200,
        )
        .await
        .unwrap();
        assert_eq!(q["status"]["used"]["pods"], "1");

        // Optimistic concurrency: an update from the old resourceVersion is 409.
        let mut scaled = d.clone();
        scaled["spec"]["replicas"] = json!(3);
        let update = |body: Value| {
            Request::new(Some("t-admin"), Verb::Update, "apps", "deployments")
                .in_namespace("default")
                .named("web")
                .with_body(body)
        };
        let up = expect(&s, update(scaled.clone()), 200).await.unwrap();
        assert_eq!(up["metadata"]["generation"], 2);
        assert_ne!(up["metadata"]["resourceVersion"].as_str().unwrap(), rv);
        let e = expect(&s, update(scaled), 409).await.unwrap_err();
        assert!(e.to_string().ends_with("the object has been modified; please apply your changes to the latest version and try again"), "{e}");

        // Binding: once.
        let bind = |node: &str| {
            Request::new(Some("t-sched"), Verb::Create, "", "pods")
                .in_namespace("default")
                .named("web")
                .subresource("binding")
                .with_body(
                    json!({"metadata": {"name": "web"}, "target": {"kind": "Node", "name": node}}),
                )
        };
        expect(&s, bind("worker-a"), 201).await.unwrap();
        let e = expect(&s, bind("worker-b"), 409).await.unwrap_err();
        assert!(
            e.to_string()
                .contains("pod web is already assigned to node \"worker-a\""),
            "{e}"
        );
        expect(
            &s,
            Request::new(Some("t-sched"), Verb::Create, "", "pods")
                .in_namespace("default")
                .with_body(pod("x")),
            403,
        )
        .await
        .unwrap_err();

        // Delete, then the object is gone.
        expect(
            &s,
            Request::new(Some("t-admin"), Verb::Delete, "apps", "deployments")
                .in_namespace("default")
                .named("web"),
            200,
        )
        .await
        .unwrap();
        expect(
            &s,
            Request::new(Some("t-admin"), Verb::Get, "apps", "deployments")
                .in_namespace("default")
                .named("web"),
            404,
        )
        .await
        .unwrap_err();

        // Every request was audited, with its decision and code.
        let audit = s.take_audit();
        assert_eq!(audit.len(), 24, "{audit:#?}");
        assert_eq!(audit[3].decision, AuthzDecision::Unauthenticated);
        assert_eq!(
            (audit[4].user.as_str(), audit[4].code),
            ("system:anonymous", 403)
        );
        assert_eq!(audit[7].decision, AuthzDecision::Deny);
        let bound = audit.iter().find(|a| a.resource == "pods/binding").unwrap();
        assert_eq!(
            bound.decision,
            AuthzDecision::Allow("ClusterRoleBinding scheduler".into())
        );
    });
}

#[test]
fn lists_follow_resource_version_semantics() {
    run(async {
        let s = server();
        let admin = Some("t-admin");
        expect(
            &s,
            create(
                "t-admin",
                "",
                "namespaces",
                None,
                json!({"metadata": {"name": "default"}}),
            ),
            201,
        )
        .await
        .unwrap();
        expect(
            &s,
            create("t-admin", "", "pods", Some("default"), pod("a")),
            201,
        )
        .await
        .unwrap();
        let list = |rv: Option<(&str, VersionMatch)>| {
            let r = Request::new(admin, Verb::List, "", "pods").in_namespace("default");
            match rv {
                Some((v, m)) => r.at_version(v, m),
                None => r,
            }
        };
        let names = |l: &Value| -> Vec<String> {
            l["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
                .collect()
        };
        let pods = resource::by_kind("v1", "Pod").unwrap();
        let primed = s.prime(pods).await.unwrap();

        // A second pod, not yet fed to the cache: a quorum list sees it, a list from the
        // cache ("0") does not, and one not older than its version must wait.
        let b = expect(
            &s,
            create("t-admin", "", "pods", Some("default"), pod("b")),
            201,
        )
        .await
        .unwrap();
        let b_rv = b["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
        let quorum = expect(&s, list(None), 200).await.unwrap();
        assert_eq!(names(&quorum), ["a", "b"]);
        assert_eq!(quorum["kind"], "PodList");
        assert_eq!(quorum["metadata"]["resourceVersion"], b_rv);
        let cached = expect(&s, list(Some(("0", VersionMatch::NotOlderThan))), 200)
            .await
            .unwrap();
        assert_eq!(names(&cached), ["a"]);
        assert_eq!(cached["metadata"]["resourceVersion"], primed.0.to_string());
        let e = expect(&s, list(Some((&b_rv, VersionMatch::NotOlderThan))), 504)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("Too large resource version: {b_rv}, current: {}", primed.0)
        );

        // Fed the event, the cache catches up.
        let key = pods.key(Some("default"), "b");
        let kv = s
            .backend
            .0
            .borrow()
            .mvcc()
            .range(&RangeRequest::latest(raft::etcd::KeyRange::key(&key)))
            .unwrap()
            .kvs[0]
            .clone();
        let put = raft::etcd::Event {
            kind: raft::etcd::EventKind::Put,
            kv,
            prev_kv: None,
        };
        s.feed(pods, &[put], 1_000).unwrap();
        let caught_up = expect(&s, list(Some((&b_rv, VersionMatch::NotOlderThan))), 200)
            .await
            .unwrap();
        assert_eq!(names(&caught_up), ["a", "b"]);

        // Exact: etcd at that revision, and 410 once compacted past it.
        let at_primed = expect(
            &s,
            list(Some((&primed.0.to_string(), VersionMatch::Exact))),
            200,
        )
        .await
        .unwrap();
        assert_eq!(names(&at_primed), ["a"]);
        let b_rev = Revision(b_rv.parse().unwrap());
        s.backend
            .0
            .borrow_mut()
            .apply(&Command::Compact { revision: b_rev }, 0, true);
        let e = expect(
            &s,
            list(Some((&primed.0.to_string(), VersionMatch::Exact))),
            410,
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("too old resource version: {} ({})", primed.0, b_rev.0)
        );
        let e = expect(&s, list(Some(("yesterday", VersionMatch::Exact))), 400)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("invalid resourceVersion"), "{e}");
    });
}

#[test]
fn a_get_with_a_resource_version_is_served_from_the_cache() {
    run(async {
        let s = server();
        let admin = Some("t-admin");
        expect(
            &s,
            create(
                "t-admin",
                "",
                "namespaces",
                None,
                json!({"metadata": {"name": "default"}}),
            ),
            201,
        )
        .await
        .unwrap();
        expect(
            &s,
            create("t-admin", "", "pods", Some("default"), pod("a")),
            201,
        )
        .await
        .unwrap();
        let pods = resource::by_kind("v1", "Pod").unwrap();
        let primed = s.prime(pods).await.unwrap();
        let mut changed = pod("a");
        changed["metadata"]["labels"] = json!({"changed": "yes"});
        let updated = expect(
            &s,
            Request::new(admin, Verb::Update, "", "pods")
                .in_namespace("default")
                .named("a")
                .with_body(changed),
            200,
        )
        .await
        .unwrap();
        let new_rv = updated["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
        let get = |rv: Option<&str>| {
            let r = Request::new(admin, Verb::Get, "", "pods")
                .in_namespace("default")
                .named("a");
            match rv {
                Some(v) => r.at_version(v, VersionMatch::NotOlderThan),
                None => r,
            }
        };
        let rv_of = |o: &Value| {
            o["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .to_string()
        };
        // The update is not fed to the cache: a quorum get sees it, "0" the cached state,
        // and a version the cache has not reached must wait (504).
        assert_eq!(rv_of(&expect(&s, get(None), 200).await.unwrap()), new_rv);
        let cached = expect(&s, get(Some("0")), 200).await.unwrap();
        assert_eq!(rv_of(&cached), primed.0.to_string());
        let e = expect(&s, get(Some(&new_rv)), 504).await.unwrap_err();
        assert!(
            e.to_string().starts_with("Too large resource version"),
            "{e}"
        );
        expect(
            &s,
            Request::new(admin, Verb::Get, "", "pods")
                .in_namespace("default")
                .named("b")
                .at_version("0", VersionMatch::NotOlderThan),
            404,
        )
        .await
        .unwrap_err();
        // The planted bug: a quorum get answered from the cache, a past state.
        s.set_quorum_get_from_cache(true);
        let stale = expect(&s, get(None), 200).await.unwrap();
        assert_eq!(rv_of(&stale), primed.0.to_string());
    });
}

#[test]
fn status_and_spec_are_written_by_their_own_requests() {
    run(async {
        let s = server();
        let ns = json!({"metadata": {"name": "default"}});
        expect(&s, create("t-admin", "", "namespaces", None, ns), 201)
            .await
            .unwrap();
        let created = expect(
            &s,
            create("t-admin", "", "pods", Some("default"), pod("web")),
            201,
        )
        .await
        .unwrap();
        let update = |sub: Option<&str>, body: Value| {
            let mut r = Request::new(Some("t-admin"), Verb::Update, "", "pods")
                .in_namespace("default")
                .named("web")
                .with_body(body);
            r.subresource = sub.map(str::to_string);
            r
        };
        // pods/status: the status changes, the spec sent along is ignored.
        let mut running = created.clone();
        running["status"] = json!({"phase": "Running"});
        running["spec"]["containers"][0]["image"] = json!("nginx:1.28");
        let stored = expect(&s, update(Some("status"), running), 200)
            .await
            .unwrap();
        assert_eq!(stored["status"]["phase"], "Running");
        assert_eq!(stored["spec"]["containers"][0]["image"], "nginx:1.27");
        // The object itself: the status sent is ignored, the stored one kept.
        let mut relabelled = stored.clone();
        relabelled["metadata"]["labels"] = json!({"tier": "front"});
        relabelled["status"] = json!({"phase": "Failed"});
        let stored = expect(&s, update(None, relabelled), 200).await.unwrap();
        assert_eq!(stored["status"]["phase"], "Running");
        assert_eq!(stored["metadata"]["labels"]["tier"], "front");
        // A status written from a stale version is 409, like any update.
        let mut stale = created;
        stale["status"] = json!({"phase": "Succeeded"});
        expect(&s, update(Some("status"), stale), 409)
            .await
            .unwrap_err();
        // Namespaces have a status; ConfigMaps have none to write.
        let cm = json!({"metadata": {"name": "c"}, "data": {"a": "b"}});
        expect(
            &s,
            create("t-admin", "", "configmaps", Some("default"), cm.clone()),
            201,
        )
        .await
        .unwrap();
        let mut r = Request::new(Some("t-admin"), Verb::Update, "", "configmaps")
            .in_namespace("default")
            .named("c")
            .with_body(cm);
        r.subresource = Some("status".into());
        expect(&s, r, 405).await.unwrap_err();
    });
}

//! Delete and patch through the whole request path, on a real etcd store: each step says
//! what Kubernetes answers and what it leaves in etcd (the object marked, kept, or gone).

use raft::etcd::{KeyRange, RangeRequest};
use serde_json::{json, Value};
use sim_core::SimTime;

use super::tests::{create, deployment, expect, expect_at, pod, run, server, Local};
use super::*;

const ADMIN: Option<&str> = Some("t-admin");

/// A server with the `default` namespace.
async fn with_default() -> ApiServer<Local> {
    let s = server();
    let ns = json!({"metadata": {"name": "default"}});
    expect(&s, create("t-admin", "", "namespaces", None, ns), 201)
        .await
        .unwrap();
    s
}

fn on(verb: Verb, group: &str, resource: &str, name: &str) -> Request {
    Request::new(ADMIN, verb, group, resource)
        .in_namespace("default")
        .named(name)
}

fn delete(group: &str, resource: &str, name: &str, options: DeleteOptions) -> Request {
    on(Verb::Delete, group, resource, name).with_delete_options(options)
}

fn patch(group: &str, resource: &str, name: &str, kind: PatchType, body: Value) -> Request {
    on(Verb::Patch, group, resource, name).with_patch(kind, body)
}

fn grace(seconds: i64) -> DeleteOptions {
    DeleteOptions {
        grace_period_seconds: Some(seconds),
        ..DeleteOptions::default()
    }
}

fn propagation(policy: Propagation) -> DeleteOptions {
    DeleteOptions {
        propagation_policy: Some(policy),
        ..DeleteOptions::default()
    }
}

/// What etcd holds at `key`, if anything (straight from the store, not through the API).
fn in_etcd(s: &ApiServer<Local>, key: &str) -> Option<Value> {
    let kvs = s
        .backend
        .0
        .borrow()
        .mvcc()
        .range(&RangeRequest::latest(KeyRange::key(key)))
        .unwrap()
        .kvs;
    kvs.first()
        .map(|kv| serde_json::from_str(&kv.value).unwrap())
}

fn revision(s: &ApiServer<Local>) -> raft::etcd::Revision {
    s.backend.0.borrow().current_revision()
}

fn rv(object: &Value) -> &str {
    object["metadata"]["resourceVersion"].as_str().unwrap()
}

const POD_KEY: &str = "/registry/pods/default/web";

/// Creates pod `web` and binds it to worker-a, as the scheduler would.
async fn bound_pod(s: &ApiServer<Local>) -> Value {
    expect(
        s,
        create("t-admin", "", "pods", Some("default"), pod("web")),
        201,
    )
    .await
    .unwrap();
    let binding = on(Verb::Create, "", "pods", "web")
        .subresource("binding")
        .with_body(
            json!({"metadata": {"name": "web"}, "target": {"kind": "Node", "name": "worker-a"}}),
        );
    expect(s, binding, 201).await.unwrap();
    expect(s, on(Verb::Get, "", "pods", "web"), 200)
        .await
        .unwrap()
}

#[test]
fn a_running_pod_is_marked_for_its_kubelet_and_goes_on_the_kubelets_delete() {
    run(async {
        let s = with_default().await;
        let bound = bound_pod(&s).await;
        let uid = bound["metadata"]["uid"].as_str().unwrap().to_string();

        // kubectl delete at 5 s: the pod's own 30 s, marked and kept (a MODIFIED in etcd).
        let marked = expect(&s, delete("", "pods", "web", DeleteOptions::default()), 200)
            .await
            .unwrap();
        assert_eq!(
            marked["metadata"]["deletionTimestamp"],
            "2026-01-01T00:00:35Z"
        );
        assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 30);
        assert_eq!(
            marked["metadata"]["generation"], 2,
            "a deletion is a change to act on"
        );
        assert_ne!(rv(&marked), rv(&bound));
        let stored = in_etcd(&s, POD_KEY).expect("still stored");
        assert_eq!(
            stored["metadata"]["deletionTimestamp"],
            "2026-01-01T00:00:35Z"
        );

        // A longer grace period changes nothing and writes nothing.
        let at = revision(&s);
        let again = expect(&s, delete("", "pods", "web", grace(60)), 200)
            .await
            .unwrap();
        assert_eq!(again, marked);
        assert_eq!(revision(&s), at);

        // A shorter one, asked at 6 s, moves the deadline to the first delete's 5 s + 10 s.
        let shorter = expect_at(
            &s,
            delete("", "pods", "web", grace(10)),
            200,
            SimTime(6_000_000),
        )
        .await
        .unwrap();
        assert_eq!(
            shorter["metadata"]["deletionTimestamp"],
            "2026-01-01T00:00:15Z"
        );
        assert_eq!(shorter["metadata"]["deletionGracePeriodSeconds"], 10);

        // The kubelet, its containers stopped, deletes with grace 0 and the pod's uid.
        let kubelet = DeleteOptions {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..DeleteOptions::default()
        };
        let gone = expect(&s, delete("", "pods", "web", kubelet), 200)
            .await
            .unwrap();
        assert_eq!(gone["metadata"]["deletionGracePeriodSeconds"], 0);
        assert_eq!(
            gone["metadata"]["deletionTimestamp"],
            "2026-01-01T00:00:05Z"
        );
        assert_eq!(in_etcd(&s, POD_KEY), None);
        expect(&s, on(Verb::Get, "", "pods", "web"), 404)
            .await
            .unwrap_err();
    });
}

#[test]
fn a_pod_no_kubelet_runs_goes_at_once() {
    run(async {
        let s = with_default().await;
        // Never scheduled: no kubelet to stop it, whatever grace the request asks for.
        expect(
            &s,
            create("t-admin", "", "pods", Some("default"), pod("web")),
            201,
        )
        .await
        .unwrap();
        let gone = expect(&s, delete("", "pods", "web", grace(45)), 200)
            .await
            .unwrap();
        assert_eq!(
            gone["metadata"]["deletionTimestamp"],
            "2026-01-01T00:00:05Z"
        );
        assert_eq!(gone["metadata"]["deletionGracePeriodSeconds"], 0);
        assert_eq!(in_etcd(&s, POD_KEY), None);

        // Bound but finished: its kubelet has nothing left to stop.
        let bound = bound_pod(&s).await;
        let mut done = bound.clone();
        done["status"] = json!({"phase": "Succeeded"});
        let status = on(Verb::Update, "", "pods", "web")
            .subresource("status")
            .with_body(done);
        expect(&s, status, 200).await.unwrap();
        expect(&s, delete("", "pods", "web", DeleteOptions::default()), 200)
            .await
            .unwrap();
        assert_eq!(in_etcd(&s, POD_KEY), None);
    });
}

#[test]
fn finalizers_hold_an_object_until_an_update_empties_them() {
    run(async {
        let s = with_default().await;
        let key = "/registry/configmaps/default/cfg";
        let cm = json!({"metadata": {"name": "cfg", "finalizers": ["example.com/cleanup"]},
            "data": {"a": "1"}});
        expect(
            &s,
            create("t-admin", "", "configmaps", Some("default"), cm),
            201,
        )
        .await
        .unwrap();
        let marked = expect(
            &s,
            delete("", "configmaps", "cfg", DeleteOptions::default()),
            200,
        )
        .await
        .unwrap();
        assert_eq!(
            marked["metadata"]["deletionTimestamp"],
            "2026-01-01T00:00:05Z"
        );
        assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 0);
        assert!(in_etcd(&s, key).is_some(), "held by its finalizer");

        // Deleting it again answers it as it is and writes nothing.
        let at = revision(&s);
        let again = expect(
            &s,
            delete("", "configmaps", "cfg", DeleteOptions::default()),
            200,
        )
        .await
        .unwrap();
        assert_eq!(again, marked);
        assert_eq!(revision(&s), at);

        let update = |body: Value| on(Verb::Update, "", "configmaps", "cfg").with_body(body);
        // No new finalizer while it is being deleted.
        let mut more = marked.clone();
        more["metadata"]["finalizers"] = json!(["example.com/cleanup", "example.com/late"]);
        let e = expect(&s, update(more), 422).await.unwrap_err();
        assert_eq!(e.to_string(), "ConfigMap \"cfg\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/late\"}");
        // An update cannot undo the deletion: the timestamp is kept from the stored object.
        let mut revived = marked.clone();
        revived["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("deletionTimestamp");
        revived["data"]["a"] = json!("2");
        let kept = expect(&s, update(revived), 200).await.unwrap();
        assert_eq!(
            kept["metadata"]["deletionTimestamp"],
            "2026-01-01T00:00:05Z"
        );
        assert_eq!(kept["data"]["a"], "2");

        // The finalizer's controller is done: its update removes the object from etcd.
        let mut finalized = kept.clone();
        finalized["metadata"]["finalizers"] = json!([]);
        let last = expect(&s, update(finalized), 200).await.unwrap();
        assert_eq!(last["metadata"]["finalizers"], json!([]));
        assert_eq!(in_etcd(&s, key), None);
        expect(&s, on(Verb::Get, "", "configmaps", "cfg"), 404)
            .await
            .unwrap_err();
    });
}

#[test]
fn propagation_sets_the_garbage_collectors_finalizers() {
    run(async {
        let s = with_default().await;
        let job = json!({"metadata": {"name": "x"}, "spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}});
        let rc = json!({"metadata": {"name": "x"}, "spec": {"selector": {"app": "x"},
            "template": {"metadata": {"labels": {"app": "x"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
        let event =
            json!({"metadata": {"name": "x"}, "involvedObject": {"kind": "Pod", "name": "p"}});
        let mut d = deployment();
        d["metadata"]["name"] = json!("x");
        // Group, resource, body, the request's policy, the finalizers it leaves (none:
        // removed at once).
        type Case<'a> = (
            &'a str,
            &'a str,
            &'a Value,
            Option<Propagation>,
            &'a [&'a str],
        );
        let table: [Case; 8] = [
            ("apps", "deployments", &d, None, &[]),
            (
                "apps",
                "deployments",
                &d,
                Some(Propagation::Background),
                &[],
            ),
            (
                "apps",
                "deployments",
                &d,
                Some(Propagation::Orphan),
                &["orphan"],
            ),
            (
                "apps",
                "deployments",
                &d,
                Some(Propagation::Foreground),
                &["foregroundDeletion"],
            ),
            // batch/v1 Jobs and v1 ReplicationControllers orphan unless told otherwise.
            ("batch", "jobs", &job, None, &["orphan"]),
            ("batch", "jobs", &job, Some(Propagation::Background), &[]),
            ("", "replicationcontrollers", &rc, None, &["orphan"]),
            // Events are never collected: no finalizer, whatever the request says.
            ("", "events", &event, Some(Propagation::Orphan), &[]),
        ];
        for (group, resource, body, policy, finalizers) in table {
            let case = format!("{resource} {policy:?}");
            expect(
                &s,
                create("t-admin", group, resource, Some("default"), body.clone()),
                201,
            )
            .await
            .unwrap();
            let options = DeleteOptions {
                propagation_policy: policy,
                ..DeleteOptions::default()
            };
            let reply = expect(&s, delete(group, resource, "x", options), 200)
                .await
                .unwrap();
            let key = format!("/registry/{resource}/default/x");
            if finalizers.is_empty() {
                assert_eq!(in_etcd(&s, &key), None, "{case}");
                continue;
            }
            assert_eq!(reply["metadata"]["finalizers"], json!(finalizers), "{case}");
            assert_eq!(
                reply["metadata"]["deletionTimestamp"], "2026-01-01T00:00:05Z",
                "{case}"
            );
            // Held: the next case of the kind needs the name, so let the collector finish.
            let mut done = reply.clone();
            done["metadata"]["finalizers"] = json!([]);
            let finish = on(Verb::Update, group, resource, "x").with_body(done);
            expect(&s, finish, 200).await.unwrap();
            assert_eq!(in_etcd(&s, &key), None, "{case}");
        }

        // An object already being deleted may still switch from orphaning to foreground.
        expect(
            &s,
            create("t-admin", "apps", "deployments", Some("default"), d.clone()),
            201,
        )
        .await
        .unwrap();
        expect(
            &s,
            delete("apps", "deployments", "x", propagation(Propagation::Orphan)),
            200,
        )
        .await
        .unwrap();
        let switched = expect(
            &s,
            delete(
                "apps",
                "deployments",
                "x",
                propagation(Propagation::Foreground),
            ),
            200,
        )
        .await
        .unwrap();
        assert_eq!(
            switched["metadata"]["finalizers"],
            json!(["foregroundDeletion"])
        );

        // Orphaning and deleting the dependents first cannot both be asked for.
        let mut both = deployment();
        both["metadata"]["finalizers"] = json!(["orphan", "foregroundDeletion"]);
        let e = expect(
            &s,
            create("t-admin", "apps", "deployments", Some("default"), both),
            422,
        )
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), "Deployment.apps \"web\" is invalid: metadata.finalizers: Invalid value: []string{\"orphan\", \"foregroundDeletion\"}: finalizer orphan and foregroundDeletion cannot be both set");
    });
}

#[test]
fn preconditions_that_no_longer_hold_are_409() {
    run(async {
        let s = with_default().await;
        let created = expect(
            &s,
            create("t-admin", "", "pods", Some("default"), pod("web")),
            201,
        )
        .await
        .unwrap();
        let uid = created["metadata"]["uid"].as_str().unwrap();
        let with = |uid: Option<&str>, rv: Option<&str>| DeleteOptions {
            preconditions: Some(Preconditions {
                uid: uid.map(str::to_string),
                resource_version: rv.map(str::to_string),
            }),
            ..DeleteOptions::default()
        };
        let e = expect(
            &s,
            delete("", "pods", "web", with(Some("someone-else"), None)),
            409,
        )
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), format!("Operation cannot be fulfilled on Pod \"web\": the UID in the precondition (someone-else) does not match the UID in record ({uid}). The object might have been deleted and then recreated"));
        let e = expect(&s, delete("", "pods", "web", with(None, Some("1"))), 409)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), format!("Operation cannot be fulfilled on Pod \"web\": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ({}). The object might have been modified", rv(&created)));
        // An update naming another uid fails the storage layer's precondition.
        let mut other = created.clone();
        other["metadata"]["uid"] = json!("someone-else");
        let e = expect(
            &s,
            on(Verb::Update, "", "pods", "web").with_body(other),
            409,
        )
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), format!("Operation cannot be fulfilled on pods \"web\": StorageError: invalid object, Code: 4, Key: {POD_KEY}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: someone-else, UID in object meta: {uid}"));
        // Both holding, the (unscheduled) pod goes.
        expect(
            &s,
            delete("", "pods", "web", with(Some(uid), Some(rv(&created)))),
            200,
        )
        .await
        .unwrap();
        assert_eq!(in_etcd(&s, POD_KEY), None);
    });
}

#[test]
fn a_create_starts_live_whatever_deletion_it_claims() {
    run(async {
        let s = with_default().await;
        let mut claimed = pod("web");
        claimed["metadata"]["deletionTimestamp"] = json!("2020-01-01T00:00:00Z");
        claimed["metadata"]["deletionGracePeriodSeconds"] = json!(3);
        let created = expect(
            &s,
            create("t-admin", "", "pods", Some("default"), claimed),
            201,
        )
        .await
        .unwrap();
        assert_eq!(created["metadata"].get("deletionTimestamp"), None);
        assert_eq!(created["metadata"].get("deletionGracePeriodSeconds"), None);
        assert_eq!(
            in_etcd(&s, POD_KEY).unwrap()["metadata"].get("deletionTimestamp"),
            None
        );
    });
}

#[test]
fn patches_change_what_they_name_and_go_through_the_update_path() {
    run(async {
        let s = with_default().await;
        let created = expect(
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
        let merge = |body: Value| patch("apps", "deployments", "web", PatchType::Merge, body);

        // A merge patch changes one field and keeps the rest.
        let relabelled = expect(
            &s,
            merge(json!({"metadata": {"labels": {"tier": "front"}}})),
            200,
        )
        .await
        .unwrap();
        assert_eq!(
            relabelled["metadata"]["labels"],
            json!({"app": "web", "tier": "front"})
        );
        assert_eq!(relabelled["spec"], created["spec"]);
        assert_eq!(
            relabelled["metadata"]["generation"], 1,
            "labels are not the spec"
        );
        assert_ne!(rv(&relabelled), rv(&created));

        // With the resourceVersion it was made from, now stale: 409, nothing written.
        let stale =
            merge(json!({"metadata": {"resourceVersion": rv(&created)}, "spec": {"replicas": 4}}));
        let e = expect(&s, stale, 409).await.unwrap_err();
        assert!(e.to_string().ends_with(crate::status::STALE_UPDATE), "{e}");
        // Without one, it applies to whatever is stored.
        let scaled = expect(&s, merge(json!({"spec": {"replicas": 4}})), 200)
            .await
            .unwrap();
        assert_eq!(scaled["spec"]["replicas"], 4);
        assert_eq!(scaled["metadata"]["generation"], 2);
        assert_eq!(scaled["metadata"]["labels"]["tier"], "front");

        // Nothing to change: no write, the same resourceVersion.
        let at = revision(&s);
        let same = expect(&s, merge(json!({"spec": {"replicas": 4}})), 200)
            .await
            .unwrap();
        assert_eq!(rv(&same), rv(&scaled));
        assert_eq!(revision(&s), at);

        // A JSON patch whose test fails is 422 in kube-apiserver's words.
        let test = json!([{"op": "test", "path": "/spec/replicas", "value": 9},
            {"op": "replace", "path": "/spec/replicas", "value": 1}]);
        let e = expect(
            &s,
            patch("apps", "deployments", "web", PatchType::Json, test),
            422,
        )
        .await
        .unwrap_err();
        assert_eq!(
            (e.reason(), e.to_string().as_str()),
            (
                "Invalid",
                "the server rejected our request due to an error in our request"
            )
        );
        let ops = json!([{"op": "test", "path": "/spec/replicas", "value": 4},
            {"op": "replace", "path": "/spec/replicas", "value": 2}]);
        let replaced = expect(
            &s,
            patch("apps", "deployments", "web", PatchType::Json, ops),
            200,
        )
        .await
        .unwrap();
        assert_eq!(replaced["spec"]["replicas"], 2);

        // Strategic merge: the template's containers merge by name.
        let mut two = replaced.clone();
        two["spec"]["template"]["spec"]["containers"] = json!([
            {"name": "nginx", "image": "nginx:1.27"}, {"name": "sidecar", "image": "envoy:1"}]);
        expect(
            &s,
            on(Verb::Update, "apps", "deployments", "web").with_body(two),
            200,
        )
        .await
        .unwrap();
        let smp = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "sidecar", "image": "envoy:2"}]}}}});
        let merged = expect(
            &s,
            patch(
                "apps",
                "deployments",
                "web",
                PatchType::StrategicMerge,
                smp.clone(),
            ),
            200,
        )
        .await
        .unwrap();
        let containers = &merged["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers.as_array().unwrap().len(), 2, "{containers}");
        assert_eq!(containers[0]["image"], "nginx:1.27");
        assert_eq!(containers[1]["image"], "envoy:2");
        assert_eq!(
            containers[1]["imagePullPolicy"], "IfNotPresent",
            "defaults kept"
        );
        // The same patch as a merge patch replaces the list.
        let plain = expect(&s, merge(smp), 200).await.unwrap();
        let containers = &plain["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers.as_array().unwrap().len(), 1, "{containers}");

        // What the patch makes is validated and decoded as an update's body is.
        let e = expect(&s, merge(json!({"spec": {"replicas": -1}})), 422)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("spec.replicas: Invalid value: -1"),
            "{e}"
        );
        let e = expect(&s, merge(json!({"spec": {"replicaz": 1}})), 422)
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with(" \"\" is invalid: patch: Invalid value: \"{"),
            "{e}"
        );
        assert!(
            e.to_string()
                .ends_with(": strict decoding error: unknown field \"spec.replicaz\""),
            "{e}"
        );
        let e = expect(&s, merge(json!({"metadata": {"name": "other"}})), 400)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the name of the object (other) does not match the name on the URL (web)"
        );

        // A patch with no format is 415; of nothing, 404.
        let untyped = on(Verb::Patch, "apps", "deployments", "web").with_body(json!({}));
        let e = expect(&s, untyped, 415).await.unwrap_err();
        assert_eq!(e.to_string(), "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json");
        let e = expect(
            &s,
            patch("apps", "deployments", "nope", PatchType::Merge, json!({})),
            404,
        )
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), "deployments.apps \"nope\" not found");
    });
}

#[test]
fn a_status_is_patched_through_its_subresource_only() {
    run(async {
        let s = with_default().await;
        bound_pod(&s).await;
        let patch_pod = |sub: Option<&str>, body: Value| {
            let mut r = patch("", "pods", "web", PatchType::StrategicMerge, body);
            r.subresource = sub.map(str::to_string);
            r
        };
        let running = json!({"spec": {"activeDeadlineSeconds": 5},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        let stored = expect(&s, patch_pod(Some("status"), running), 200)
            .await
            .unwrap();
        assert_eq!(stored["status"]["phase"], "Running");
        assert_eq!(
            stored["spec"].get("activeDeadlineSeconds"),
            None,
            "the spec is not the status"
        );
        // Conditions merge by type.
        let scheduled =
            json!({"status": {"conditions": [{"type": "PodScheduled", "status": "True"}]}});
        let stored = expect(&s, patch_pod(Some("status"), scheduled), 200)
            .await
            .unwrap();
        assert_eq!(
            stored["status"]["conditions"],
            json!([{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}])
        );
        // Through the pod itself the status is not written.
        let failed = json!({"status": {"phase": "Failed"}, "metadata": {"labels": {"a": "b"}}});
        let stored = expect(&s, patch_pod(None, failed), 200).await.unwrap();
        assert_eq!(stored["status"]["phase"], "Running");
        assert_eq!(stored["metadata"]["labels"]["a"], "b");
        // ConfigMaps have no status subresource.
        let cm = json!({"metadata": {"name": "c"}});
        expect(
            &s,
            create("t-admin", "", "configmaps", Some("default"), cm),
            201,
        )
        .await
        .unwrap();
        let mut r = patch("", "configmaps", "c", PatchType::Merge, json!({}));
        r.subresource = Some("status".into());
        expect(&s, r, 405).await.unwrap_err();
    });
}

#[test]
fn a_patch_that_empties_the_finalizers_of_an_object_being_deleted_removes_it() {
    run(async {
        let s = with_default().await;
        let cm =
            json!({"metadata": {"name": "cfg", "finalizers": ["example.com/a", "example.com/b"]}});
        expect(
            &s,
            create("t-admin", "", "configmaps", Some("default"), cm),
            201,
        )
        .await
        .unwrap();
        expect(
            &s,
            delete("", "configmaps", "cfg", DeleteOptions::default()),
            200,
        )
        .await
        .unwrap();
        let drop_a =
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a"]}});
        let left = expect(
            &s,
            patch("", "configmaps", "cfg", PatchType::StrategicMerge, drop_a),
            200,
        )
        .await
        .unwrap();
        assert_eq!(left["metadata"]["finalizers"], json!(["example.com/b"]));
        let key = "/registry/configmaps/default/cfg";
        assert!(in_etcd(&s, key).is_some());
        let drop_b = json!([{"op": "remove", "path": "/metadata/finalizers"}]);
        expect(
            &s,
            patch("", "configmaps", "cfg", PatchType::Json, drop_b),
            200,
        )
        .await
        .unwrap();
        assert_eq!(in_etcd(&s, key), None);
    });
}

/// Queues another client's write of `object` at `key`, to land just before the server's
/// next transaction.
fn race(s: &ApiServer<Local>, key: &str, object: &Value) {
    let put = raft::etcd::TxnRequest {
        compare: vec![],
        success: vec![raft::etcd::RequestOp::Put(raft::etcd::PutRequest::new(
            key,
            crate::storage::encode(object),
        ))],
        failure: vec![],
    };
    s.backend.1.borrow_mut().push(put);
}

#[test]
fn a_write_that_loses_a_race_is_made_again_from_the_new_state() {
    run(async {
        let s = with_default().await;
        let key = "/registry/configmaps/default/cfg";
        let cm = json!({"metadata": {"name": "cfg"}, "data": {"a": "1"}});
        let created = expect(
            &s,
            create("t-admin", "", "configmaps", Some("default"), cm),
            201,
        )
        .await
        .unwrap();
        let theirs = |data: Value| {
            let mut o = in_etcd(&s, key).unwrap();
            o["data"] = data;
            o
        };

        // Another client writes between the patch's read and its write: the patch is
        // applied again to what they wrote, and neither change is lost.
        race(&s, key, &theirs(json!({"a": "1", "b": "2"})));
        let merge = |body: Value| patch("", "configmaps", "cfg", PatchType::Merge, body);
        let both = expect(&s, merge(json!({"data": {"c": "3"}})), 200)
            .await
            .unwrap();
        assert_eq!(both["data"], json!({"a": "1", "b": "2", "c": "3"}));

        // The same race against a patch carrying the version it read: 409, theirs kept.
        let read = expect(&s, on(Verb::Get, "", "configmaps", "cfg"), 200)
            .await
            .unwrap();
        race(&s, key, &theirs(json!({"a": "theirs"})));
        let pinned =
            merge(json!({"metadata": {"resourceVersion": rv(&read)}, "data": {"a": "mine"}}));
        let e = s.handle(&pinned, SimTime(5_000_000)).await.unwrap_err();
        assert_eq!(e.code(), 409, "{e}");
        assert_eq!(in_etcd(&s, key).unwrap()["data"], json!({"a": "theirs"}));

        // A delete that loses a race to an update adding a finalizer still removes the
        // object: once it has decided to remove, kube-apiserver's conditional delete
        // checks only the request's preconditions again, not the finalizers. The answer is
        // the object as it was removed.
        let mut held = theirs(json!({"a": "theirs"}));
        held["metadata"]["finalizers"] = json!(["example.com/keep"]);
        race(&s, key, &held);
        let gone = expect(
            &s,
            delete("", "configmaps", "cfg", DeleteOptions::default()),
            200,
        )
        .await
        .unwrap();
        assert_eq!(gone["metadata"]["finalizers"], json!(["example.com/keep"]));
        assert_eq!(gone["metadata"].get("deletionTimestamp"), None);
        assert_eq!(in_etcd(&s, key), None);
        assert_ne!(rv(&gone), rv(&created));
    });
}

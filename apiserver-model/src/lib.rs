//! The Kubernetes control plane model for ksim.
//!
//! Being built (issue 12). Landed so far, sans-IO and each tested on its own, the pieces
//! of the API server's request path:
//! - [`resource`]: the resources served (k8s-openapi types: plural, scope, etcd key) and
//!   typed decoding that names the path of a wrong type or an unknown field;
//! - [`manifest`]: multi-document YAML manifests, with file, document, line and path in
//!   every error;
//! - [`authn`] (bearer tokens, anonymous) and [`rbac`] (Roles, ClusterRoles and bindings);
//! - [`defaults`] (SetDefaults, DefaultTolerationSeconds) and [`validation`] (422 field
//!   errors, immutable fields);
//! - [`status`]: every refusal as Kubernetes words it, as a `metav1.Status`;
//! - [`quota`]: ResourceQuota admission's charge (kube_quantity arithmetic);
//! - [`storage`]: kube-apiserver's etcd3 store as transaction plans and their meaning
//!   (resourceVersion = mod revision; create, update and delete with preconditions),
//!   tested against the real etcd store;
//! - [`watch_cache`]: kube-apiserver's watch cache (window sizing, filters, 410 Gone,
//!   bookmarks);
//! - [`informer`]: client-go's list-then-watch copy of a resource (relist after 410,
//!   resync), sans-IO;
//! - [`apiserver`]: the request path over all of these (authn, RBAC, decoding, defaults,
//!   admission with the quota's read-check-update loop, validation, storage, binding,
//!   audit) on a [`apiserver::Backend`], the etcd client in a simulation.
//!
//! The components, each a process on its own node talking over the simulated network:
//! - [`wire`]: the control plane's messages (etcd's traffic and the API's in one world, via
//!   `sim_core::Carries`), with typed fields on the trace; [`events`]: the Kubernetes
//!   layer's trace events (audit records, cache state, scheduling and kubelet decisions);
//! - [`apiserver::run_apiserver`]: the API server process (API port 6443; its etcd client on
//!   the node's main port; caches fed by one etcd watch; client watches; post-start hooks
//!   writing the system namespaces and the bootstrap RBAC policy);
//! - [`client`]: the API client (client-go's shape) and [`reflector`]: the informer over it;
//! - [`kubectl`]: the commands a person types (apply, get, list, scale, set image, edit,
//!   delete) over an API client, as scenarios drive a cluster; its requests are the run's
//!   history operations ([`api_history`]: verb, object key, versions, ok/fail/info);
//! - [`scheduler`]: kube-scheduler (filters, scores, assumed pods, binding);
//! - [`kubelet`]: node registration, node Lease, node status, admission, pod start, status
//!   and graceful stop;
//! - [`controllers`]: kube-controller-manager, replicas electing a leader through a Lease
//!   ([`leader_election`]) and running the Deployment, ReplicaSet, garbage collector, node
//!   lifecycle and taint eviction controllers;
//! - [`cluster`]: a whole control plane laid out as kubeadm's HA cluster, by its sizes;
//! - [`checks`]: the Kubernetes layer's named checks, judged from the trace
//!   (`no-overcommit`, `binding-once`, `all-roads-lead-to-apiserver`) and from the history
//!   of API operations (`linearizable-objects`, `resource-version-monotonic`,
//!   `stale-update-conflicts`).
//!
//! Next: the other checks of the catalog, the Kubernetes scenarios in `ksim run` with their
//! planted bugs, `--manifest`, the pictures.
//!
//! Objects are plain JSON (`serde_json::Value`) in the store, as kube-apiserver's generic
//! registry keeps them; components decode the kinds they act on into k8s-openapi types.

pub mod api_history;
pub mod apiserver;
pub mod authn;
pub mod checks;
pub mod client;
pub mod cluster;
pub mod controllers;
pub mod defaults;
pub mod events;
pub mod informer;
pub mod kubectl;
pub mod kubelet;
pub mod leader_election;
pub mod manifest;
pub mod pod_resources;
pub mod quota;
pub mod rbac;
pub mod reflector;
pub mod resource;
pub mod scheduler;
pub mod status;
pub mod storage;
pub mod validation;
pub mod verb;
pub mod watch_cache;
pub mod wire;

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
//! Next: list and watch through the watch cache, the API server as a component on its own
//! node serving clients over the simulated network, the controllers, the scheduler and
//! the kubelets, all talking only through the API, as `../shared/DESIGN.md` ("Kubernetes
//! model") describes.
//!
//! Objects are plain JSON (`serde_json::Value`) in the store, as kube-apiserver's generic
//! registry keeps them; components decode the kinds they act on into k8s-openapi types.

pub mod apiserver;
pub mod authn;
pub mod client;
pub mod defaults;
pub mod events;
pub mod informer;
pub mod kubelet;
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

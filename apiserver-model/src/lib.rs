//! The Kubernetes control plane model for ksim.
//!
//! Being built (issue 12). Landed so far, sans-IO and tested on its own: the resources the
//! API serves with their typed decoding ([`resource`]). Next: manifests, defaulting,
//! validation, authentication, RBAC, admission, then the API server as a component on the
//! simulated etcd, the controllers, the scheduler and the kubelets, all talking only
//! through the API, as `../shared/DESIGN.md` ("Kubernetes model") describes.
//!
//! Objects are plain JSON (`serde_json::Value`) in the store, as kube-apiserver's generic
//! registry keeps them; components decode the kinds they act on into k8s-openapi types.

pub mod defaults;
pub mod resource;
pub mod validation;

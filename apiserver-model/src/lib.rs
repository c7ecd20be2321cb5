//! The Kubernetes control plane model for ksim.
//!
//! Not filled yet. This crate will hold the API server (authentication, RBAC, admission with
//! quota, validation, storage on the simulated etcd, watch cache, audit log), the controllers
//! (Deployment, ReplicaSet, garbage collector, node lifecycle), the scheduler (filter, score,
//! bind) and kubelets (node lease heartbeats, pod status), all talking only through the API,
//! as `../shared/DESIGN.md` ("Kubernetes model") describes.

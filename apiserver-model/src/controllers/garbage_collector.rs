//! The garbage collector: deletes objects whose owners are gone, and carries out the
//! foreground and orphan deletions the API server starts, as kube-controller-manager's
//! `garbagecollector` does.
//!
//! It keeps a graph of every monitored object by uid, with its ownerReferences, fed by the
//! term's informers (Kubernetes' GraphBuilder, over metadata informers of every resource).
//! An object is looked at (`attemptToDelete`) when one of its owners is not in the graph,
//! when an owner leaves it, or when its own references change:
//!
//! - an owner missing from the graph is **checked live** with a GET (a quorum read): the
//!   informer may simply not have seen it yet, and deleting a dependent on a stale view is
//!   the bug this check exists to prevent. Absent, or present under another uid, it is
//!   dangling;
//! - with at least one owner still there, dangling references are removed from the object
//!   (it lives on with the owners it has);
//! - with none, the object is deleted (uid precondition: never a newer object of that
//!   name), in the foreground when an owner is itself being deleted in the foreground and
//!   the object has dependents of its own, else in the background.
//!
//! An owner the API server is deleting with a finalizer is finished here: `orphan`
//! (propagationPolicy Orphan) removes its reference from every dependent, then the
//! finalizer; `foregroundDeletion` deletes its dependents and removes the finalizer once no
//! dependent with `blockOwnerDeletion` is left. Removing the last finalizer lets the API
//! server delete the owner.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::workqueue::WorkQueue;
use super::writer::{WriteError, Writer};
use crate::apiserver::{DeleteOptions, Preconditions, Propagation, Request};
use crate::client::CallError;
use crate::informer::Delta;
use crate::resource;
use crate::status::ApiError;
use crate::validation::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN};
use crate::verb::Verb;

/// An ownerReference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerRef {
    /// The owner's uid.
    pub uid: String,
    /// `apiVersion` (`apps/v1`).
    pub api_version: String,
    /// `kind` (`ReplicaSet`).
    pub kind: String,
    /// The owner's name (in the dependent's namespace).
    pub name: String,
    /// `blockOwnerDeletion`.
    pub block: bool,
}

/// One object in the graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// Its group and resource.
    pub group: &'static str,
    /// Resource, plural.
    pub resource: &'static str,
    /// The object as last seen.
    pub object: Value,
}

impl Item {
    fn uid(&self) -> &str {
        self.object["metadata"]["uid"].as_str().unwrap_or("")
    }

    fn namespace(&self) -> &str {
        self.object["metadata"]["namespace"].as_str().unwrap_or("")
    }

    fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or("")
    }

    fn owners(&self) -> Vec<OwnerRef> {
        owner_refs(&self.object)
    }

    fn deleting(&self) -> bool {
        self.object.pointer("/metadata/deletionTimestamp").is_some()
    }

    fn has_finalizer(&self, finalizer: &str) -> bool {
        self.object["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == finalizer))
    }
}

/// The ownerReferences of `object`.
pub fn owner_refs(object: &Value) -> Vec<OwnerRef> {
    object["metadata"]["ownerReferences"]
        .as_array()
        .map(|refs| {
            refs.iter()
                .map(|r| OwnerRef {
                    uid: r["uid"].as_str().unwrap_or("").to_string(),
                    api_version: r["apiVersion"].as_str().unwrap_or("").to_string(),
                    kind: r["kind"].as_str().unwrap_or("").to_string(),
                    name: r["name"].as_str().unwrap_or("").to_string(),
                    block: r["blockOwnerDeletion"] == true,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `object` without the ownerReferences whose uids are in `drop`.
pub fn without_owners(object: &Value, drop: &BTreeSet<String>) -> Value {
    let mut out = object.clone();
    if let Some(refs) = out["metadata"]["ownerReferences"].as_array_mut() {
        refs.retain(|r| !r["uid"].as_str().is_some_and(|u| drop.contains(u)));
    }
    out
}

/// `object` without `finalizer`.
pub fn without_finalizer(object: &Value, finalizer: &str) -> Value {
    let mut out = object.clone();
    if let Some(f) = out["metadata"]["finalizers"].as_array_mut() {
        f.retain(|x| x != finalizer);
    }
    out
}

/// The garbage collector's graph and queue.
#[derive(Debug, Default)]
pub struct GarbageCollector {
    /// Objects to look at, by uid.
    pub queue: RefCell<WorkQueue>,
    graph: RefCell<BTreeMap<String, Item>>,
    /// Dependents by owner uid (owners may be absent from the graph).
    dependents: RefCell<BTreeMap<String, BTreeSet<String>>>,
}

impl GarbageCollector {
    /// Notes a change of an object of `group`/`resource`.
    pub fn on_delta(&self, group: &'static str, resource: &'static str, delta: &Delta) {
        let object = delta.object();
        let uid = object["metadata"]["uid"].as_str().unwrap_or("").to_string();
        if uid.is_empty() {
            return;
        }
        let old_owners = self
            .graph
            .borrow()
            .get(&uid)
            .map(Item::owners)
            .unwrap_or_default();
        let mut dependents = self.dependents.borrow_mut();
        for o in &old_owners {
            if let Some(d) = dependents.get_mut(&o.uid) {
                d.remove(&uid);
            }
        }
        let mut queue = self.queue.borrow_mut();
        if let Delta::Deleted(_) = delta {
            self.graph.borrow_mut().remove(&uid);
            // Its dependents may now be dangling.
            for d in dependents.get(&uid).into_iter().flatten() {
                queue.add(d);
            }
            // And an owner waiting in the foreground may now be free.
            for o in &old_owners {
                queue.add(&o.uid);
            }
            return;
        }
        let item = Item {
            group,
            resource,
            object: object.clone(),
        };
        let owners = item.owners();
        for o in &owners {
            dependents
                .entry(o.uid.clone())
                .or_default()
                .insert(uid.clone());
        }
        let graph_has = |u: &str| self.graph.borrow().contains_key(u);
        // A known object whose references changed (a new one is judged by its owners' presence).
        let known = self.graph.borrow().contains_key(&uid);
        let changed_refs = known && owners != old_owners;
        let dangling = owners.iter().any(|o| !graph_has(&o.uid));
        let finishing = item.deleting()
            && (item.has_finalizer(FINALIZER_ORPHAN) || item.has_finalizer(FINALIZER_FOREGROUND));
        self.graph.borrow_mut().insert(uid.clone(), item);
        if dangling || finishing || (changed_refs && !owners.is_empty()) {
            queue.add(&uid);
        }
        if finishing {
            for o in &owners {
                queue.add(&o.uid);
            }
        }
    }

    fn item(&self, uid: &str) -> Option<Item> {
        self.graph.borrow().get(uid).cloned()
    }

    fn dependents_of(&self, uid: &str) -> Vec<Item> {
        let ids: Vec<String> = self
            .dependents
            .borrow()
            .get(uid)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default();
        ids.iter().filter_map(|d| self.item(d)).collect()
    }

    /// Looks at the object `uid`.
    ///
    /// # Errors
    ///
    /// The first call that failed (the uid is retried after its backoff).
    pub async fn sync(&self, uid: &str, writer: &Writer) -> Result<(), WriteError> {
        let Some(item) = self.item(uid) else {
            return Ok(());
        };
        if item.deleting() && item.has_finalizer(FINALIZER_ORPHAN) {
            return self.orphan_dependents(&item, writer).await;
        }
        if item.deleting() && item.has_finalizer(FINALIZER_FOREGROUND) {
            return self.delete_dependents(&item, writer).await;
        }
        self.attempt_to_delete(&item, writer).await
    }

    /// `attemptToDeleteItem` (see the module docs).
    async fn attempt_to_delete(&self, item: &Item, writer: &Writer) -> Result<(), WriteError> {
        let owners = item.owners();
        if owners.is_empty() || item.deleting() {
            return Ok(());
        }
        let mut solid = 0;
        let mut dangling = BTreeSet::new();
        let mut waiting = false;
        for owner in &owners {
            let known = self.item(&owner.uid);
            let present = match known {
                Some(o) => Some(o),
                None => self.live_owner(item, owner, writer).await?,
            };
            match present {
                None => {
                    dangling.insert(owner.uid.clone());
                }
                Some(o) if o.deleting() && o.has_finalizer(FINALIZER_FOREGROUND) => waiting = true,
                Some(_) => solid += 1,
            }
        }
        if solid > 0 {
            if dangling.is_empty() {
                return Ok(());
            }
            let pruned = without_owners(&item.object, &dangling);
            return writer
                .update(item.group, item.resource, None, pruned)
                .await
                .map(|_| ());
        }
        if dangling.is_empty() && !waiting {
            return Ok(());
        }
        let propagation = if waiting && !self.dependents_of(item.uid()).is_empty() {
            Propagation::Foreground
        } else {
            Propagation::Background
        };
        self.delete(item, propagation, writer).await
    }

    /// The owner `owner` of `item` as the API holds it now (a GET: a quorum read); `None`
    /// when it is gone or was replaced by another object of its name.
    async fn live_owner(
        &self,
        item: &Item,
        owner: &OwnerRef,
        writer: &Writer,
    ) -> Result<Option<Item>, WriteError> {
        let Ok(res) = resource::by_kind(&owner.api_version, &owner.kind) else {
            // A kind the API does not serve cannot exist.
            return Ok(None);
        };
        let mut get = Request::new(None, Verb::Get, res.group, res.plural).named(&owner.name);
        if res.namespaced {
            get = get.in_namespace(item.namespace());
        }
        match writer.call(get).await {
            Ok(object) if object["metadata"]["uid"] == owner.uid.as_str() => Ok(Some(Item {
                group: res.group,
                resource: res.plural,
                object,
            })),
            Ok(_) | Err(WriteError::Call(CallError::Api(ApiError::NotFound { .. }))) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes `item` with `propagation`, on its uid.
    async fn delete(
        &self,
        item: &Item,
        propagation: Propagation,
        writer: &Writer,
    ) -> Result<(), WriteError> {
        let options = DeleteOptions {
            propagation_policy: Some(propagation),
            preconditions: Some(Preconditions {
                uid: Some(item.uid().to_string()),
                resource_version: None,
            }),
            ..DeleteOptions::default()
        };
        let deleted = writer
            .delete_with(
                item.group,
                item.resource,
                item.namespace(),
                item.name(),
                options,
            )
            .await;
        match deleted {
            Ok(_)
            | Err(WriteError::Call(CallError::Api(
                ApiError::NotFound { .. } | ApiError::Conflict { .. },
            ))) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Removes `owner`'s reference from every dependent, then its `orphan` finalizer.
    async fn orphan_dependents(&self, owner: &Item, writer: &Writer) -> Result<(), WriteError> {
        let drop: BTreeSet<String> = [owner.uid().to_string()].into();
        for dependent in self.dependents_of(owner.uid()) {
            let pruned = without_owners(&dependent.object, &drop);
            match writer
                .update(dependent.group, dependent.resource, None, pruned)
                .await
            {
                Ok(_) | Err(WriteError::Call(CallError::Api(ApiError::NotFound { .. }))) => {}
                Err(e) => return Err(e),
            }
        }
        self.remove_finalizer(owner, FINALIZER_ORPHAN, writer).await
    }

    /// Deletes `owner`'s dependents; once none that blocks it is left, removes its
    /// `foregroundDeletion` finalizer.
    async fn delete_dependents(&self, owner: &Item, writer: &Writer) -> Result<(), WriteError> {
        let dependents = self.dependents_of(owner.uid());
        let blocking = dependents
            .iter()
            .filter(|d| d.owners().iter().any(|o| o.uid == owner.uid() && o.block))
            .count();
        if blocking == 0 {
            return self
                .remove_finalizer(owner, FINALIZER_FOREGROUND, writer)
                .await;
        }
        for dependent in dependents.iter().filter(|d| !d.deleting()) {
            let propagation = if self.dependents_of(dependent.uid()).is_empty() {
                Propagation::Background
            } else {
                Propagation::Foreground
            };
            self.delete(dependent, propagation, writer).await?;
        }
        // Done when their deletions come back through the informers (which queue this
        // owner again).
        Ok(())
    }

    async fn remove_finalizer(
        &self,
        item: &Item,
        finalizer: &str,
        writer: &Writer,
    ) -> Result<(), WriteError> {
        let updated = without_finalizer(&item.object, finalizer);
        match writer
            .update(item.group, item.resource, None, updated)
            .await
        {
            Ok(_) | Err(WriteError::Call(CallError::Api(ApiError::NotFound { .. }))) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(uid: &str, owners: &[(&str, bool)]) -> Value {
        json!({"metadata": {"name": uid, "namespace": "default", "uid": uid,
            "ownerReferences": owners.iter().map(|(o, block)| json!({"apiVersion": "apps/v1",
                "kind": "ReplicaSet", "name": o, "uid": o, "controller": true,
                "blockOwnerDeletion": block})).collect::<Vec<_>>()}})
    }

    #[test]
    fn a_dependent_whose_owner_is_not_in_the_graph_is_looked_at() {
        let gc = GarbageCollector::default();
        gc.on_delta("apps", "replicasets", &Delta::Added(object("rs", &[])));
        gc.on_delta("", "pods", &Delta::Added(object("p1", &[("rs", true)])));
        assert!(gc.queue.borrow().is_empty(), "its owner is known");
        gc.on_delta("", "pods", &Delta::Added(object("p2", &[("gone", true)])));
        assert_eq!(gc.queue.borrow_mut().get().as_deref(), Some("p2"));
        // The owner leaves: its dependents are looked at.
        gc.on_delta("apps", "replicasets", &Delta::Deleted(object("rs", &[])));
        assert_eq!(gc.queue.borrow_mut().get().as_deref(), Some("p1"));
    }

    #[test]
    fn an_owner_being_deleted_with_a_finalizer_is_finished_by_the_collector() {
        let gc = GarbageCollector::default();
        let mut rs = object("rs", &[]);
        gc.on_delta("apps", "replicasets", &Delta::Added(rs.clone()));
        rs["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:10Z");
        rs["metadata"]["finalizers"] = json!([FINALIZER_ORPHAN]);
        gc.on_delta(
            "apps",
            "replicasets",
            &Delta::Updated {
                old: object("rs", &[]),
                new: rs,
            },
        );
        assert_eq!(gc.queue.borrow_mut().get().as_deref(), Some("rs"));
    }

    #[test]
    fn pruning_and_finalizer_removal_touch_only_what_they_name() {
        let p = object("p", &[("a", true), ("b", false)]);
        let pruned = without_owners(&p, &["a".to_string()].into());
        assert_eq!(owner_refs(&pruned).len(), 1);
        assert_eq!(owner_refs(&pruned)[0].uid, "b");
        let mut o = object("o", &[]);
        o["metadata"]["finalizers"] = json!([FINALIZER_ORPHAN, "example.com/keep"]);
        assert_eq!(
            without_finalizer(&o, FINALIZER_ORPHAN)["metadata"]["finalizers"],
            json!(["example.com/keep"])
        );
    }
}

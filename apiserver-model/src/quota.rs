//! ResourceQuota admission: what a create would add to a namespace's usage, checked against
//! every quota there before the object is stored, as kube-apiserver's ResourceQuota plugin
//! does (`plugin/pkg/admission/resourcequota`).
//!
//! The plugin charges the usage to each quota's `status.used` with an update that carries
//! the quota's resourceVersion, and only then lets the create go on: two creates racing for
//! the last unit both read the same usage, but only one update of the quota succeeds (the
//! other gets a conflict, rereads, and finds the quota full). This module computes the
//! charge and the new status; the API server does the read-check-update loop through
//! [`storage`](crate::storage).
//!
//! Counted: `pods` (and `count/pods`), `count/<resource>[.<group>]` for every other kind,
//! and a pod's `requests.cpu`, `requests.memory`, `limits.cpu`, `limits.memory` (the sum of
//! its containers'; Kubernetes also takes the largest init container, which the model does
//! not use). A quota only tracks what its `spec.hard` names.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, ResourceQuota, ResourceQuotaStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube_quantity::ParsedQuantity;
use serde_json::Value;

use crate::resource::Resource;

/// What one object consumes, by quota resource name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Usage(pub BTreeMap<String, ParsedQuantity>);

fn count(n: i64) -> ParsedQuantity {
    ParsedQuantity::try_from(n.to_string().as_str()).expect("an integer is a quantity")
}

fn parse(q: &Quantity) -> Option<ParsedQuantity> {
    ParsedQuantity::try_from(q).ok()
}

/// What creating `object` (of `resource`) would add to its namespace's usage.
pub fn usage_of(resource: &Resource, object: &Value) -> Usage {
    let mut usage = BTreeMap::new();
    let counted = if resource.group.is_empty() {
        format!("count/{}", resource.plural)
    } else {
        format!("count/{}.{}", resource.plural, resource.group)
    };
    usage.insert(counted, count(1));
    if (resource.group, resource.kind) == ("", "Pod") {
        usage.insert("pods".to_string(), count(1));
        if let Ok(pod) = serde_json::from_value::<Pod>(object.clone()) {
            let containers = pod.spec.map(|s| s.containers).unwrap_or_default();
            for c in containers {
                let res = c.resources.unwrap_or_default();
                for (kind, list) in [("requests", res.requests), ("limits", res.limits)] {
                    for (name, q) in list.unwrap_or_default() {
                        if !matches!(name.as_str(), "cpu" | "memory") {
                            continue;
                        }
                        if let Some(q) = parse(&q) {
                            let key = format!("{kind}.{name}");
                            let sum = usage.remove(&key).map_or(q.clone(), |s| s + q);
                            usage.insert(key, sum);
                        }
                    }
                }
            }
        }
    }
    Usage(usage)
}

/// Why a quota refuses a create: Kubernetes' message, naming only what would be exceeded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("exceeded quota: {quota}, requested: {requested}, used: {used}, limited: {limited}")]
pub struct Exceeded {
    /// The quota's name.
    pub quota: String,
    /// `pods=1,requests.cpu=500m`: what the request asked for, of what ran out.
    pub requested: String,
    /// What was in use before it.
    pub used: String,
    /// The quota's hard limits.
    pub limited: String,
}

/// One resource a charge would take past its limit.
struct Over {
    name: String,
    asked: ParsedQuantity,
    used: ParsedQuantity,
    limit: String,
}

/// Charges `delta` to `quota`: its new status (to be written with the quota's
/// resourceVersion as precondition), `None` if the quota tracks none of it, or why it
/// does not fit.
///
/// # Errors
///
/// [`Exceeded`] when the new usage of some tracked resource would pass its hard limit.
pub fn charge(quota: &ResourceQuota, delta: &Usage) -> Result<Option<ResourceQuota>, Exceeded> {
    let hard = quota
        .spec
        .as_ref()
        .and_then(|s| s.hard.clone())
        .unwrap_or_default();
    let used = quota
        .status
        .as_ref()
        .and_then(|s| s.used.clone())
        .unwrap_or_default();
    let mut new_used = used.clone();
    let mut over: Vec<Over> = Vec::new();
    let mut touched = false;
    for (name, limit) in &hard {
        let Some(asked) = delta.0.get(name) else {
            continue;
        };
        touched = true;
        let Some(limit_q) = parse(limit) else {
            continue;
        };
        let before = used.get(name).and_then(parse).unwrap_or_else(|| count(0));
        let after = before.clone() + asked.clone();
        if after > limit_q {
            over.push(Over {
                name: name.clone(),
                asked: asked.clone(),
                used: before,
                limit: limit.0.clone(),
            });
        }
        new_used.insert(name.clone(), Quantity(after.to_string()));
    }
    if !over.is_empty() {
        let list = |f: &dyn Fn(&Over) -> String| over.iter().map(f).collect::<Vec<_>>().join(",");
        return Err(Exceeded {
            quota: quota.metadata.name.clone().unwrap_or_default(),
            requested: list(&|o| format!("{}={}", o.name, o.asked)),
            used: list(&|o| format!("{}={}", o.name, o.used)),
            limited: list(&|o| format!("{}={}", o.name, o.limit)),
        });
    }
    if !touched {
        return Ok(None);
    }
    let mut charged = quota.clone();
    charged.status = Some(ResourceQuotaStatus {
        hard: Some(hard),
        used: Some(new_used),
    });
    Ok(Some(charged))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::by_kind;
    use serde_json::json;

    fn quota(used_pods: &str) -> ResourceQuota {
        serde_json::from_value(json!({
            "metadata": {"name": "compute", "namespace": "team-a"},
            "spec": {"hard": {"pods": "2", "requests.cpu": "1"}},
            "status": {"used": {"pods": used_pods, "requests.cpu": "500m"}}
        }))
        .unwrap()
    }

    fn pod(cpu: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team-a"},
            "spec": {"containers": [
                {"name": "a", "image": "i", "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}},
                {"name": "b", "image": "i", "resources": {"requests": {"cpu": cpu}}}]}})
    }

    #[test]
    fn a_pod_is_charged_its_count_and_summed_requests() {
        let u = usage_of(by_kind("v1", "Pod").unwrap(), &pod("100m"));
        let shown: Vec<String> = u.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            shown,
            [
                "count/pods=1",
                "pods=1",
                "requests.cpu=200m",
                "requests.memory=64Mi"
            ]
        );
        let d = usage_of(by_kind("apps/v1", "Deployment").unwrap(), &json!({}));
        assert_eq!(d.0.keys().collect::<Vec<_>>(), ["count/deployments.apps"]);
    }

    #[test]
    fn a_charge_that_fits_raises_used_and_one_that_does_not_is_refused_in_kubernetes_words() {
        let pods = by_kind("v1", "Pod").unwrap();
        let charged = charge(&quota("1"), &usage_of(pods, &pod("100m")))
            .unwrap()
            .unwrap();
        let used = charged.status.unwrap().used.unwrap();
        assert_eq!(used["pods"].0, "2");
        assert_eq!(used["requests.cpu"].0, "700m");
        // The quota is now full for pods: the next one is refused, naming only pods.
        let e = charge(&quota("2"), &usage_of(pods, &pod("100m"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2"
        );
        // Over on cpu too: both named.
        let e = charge(&quota("2"), &usage_of(pods, &pod("300m"))).unwrap_err();
        assert_eq!(e.requested, "pods=1,requests.cpu=600m");
        // A quota that tracks nothing the object uses is left alone.
        let cms = by_kind("v1", "ConfigMap").unwrap();
        assert_eq!(charge(&quota("2"), &usage_of(cms, &json!({}))), Ok(None));
    }
}

//! What pods ask for and nodes offer, in the two units the scheduler and the kubelet
//! compare: millicores and bytes (Kubernetes' `resource.Quantity` parsed by kube_quantity).
//! A pod's request is the sum of its containers' (init containers, which run one at a
//! time before them, are left out: the model's pods have none).

use kube_quantity::ParsedQuantity;
use serde_json::Value;

/// CPU, memory and a pod count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Resources {
    /// CPU, millicores.
    pub cpu_milli: u64,
    /// Memory, bytes.
    pub memory_bytes: u64,
    /// Pods.
    pub pods: u64,
}

impl Resources {
    /// The sum.
    pub fn plus(self, other: Resources) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli + other.cpu_milli,
            memory_bytes: self.memory_bytes + other.memory_bytes,
            pods: self.pods + other.pods,
        }
    }

    /// What `self` lacks to hold `asked` on top of `used`: the names Kubernetes gives them
    /// (`cpu`, `memory`, `pods`), in that order.
    pub fn short_of(self, used: Resources, asked: Resources) -> Vec<&'static str> {
        let mut short = Vec::new();
        if used.cpu_milli + asked.cpu_milli > self.cpu_milli {
            short.push("cpu");
        }
        if used.memory_bytes + asked.memory_bytes > self.memory_bytes {
            short.push("memory");
        }
        if used.pods + asked.pods > self.pods {
            short.push("pods");
        }
        short
    }
}

/// Whether `q` is written as Kubernetes' `resource.ParseQuantity` accepts: a signed decimal
/// number (at least one digit) and then nothing, a binary suffix (`Ki` .. `Ei`), a decimal
/// suffix (`n`, `u`, `m`, `k`, `M`, `G`, `T`, `P`, `E`) or an exponent (`e3`, `E-2`).
/// kube_quantity's parser is more lenient (it takes `"-"` as zero), so this comes first.
pub fn well_formed(q: &str) -> bool {
    let unsigned = q.strip_prefix(['+', '-']).unwrap_or(q);
    let split = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(split);
    let digits = number.chars().filter(char::is_ascii_digit).count();
    if digits == 0 || number.matches('.').count() > 1 {
        return false;
    }
    const SUFFIXES: [&str; 16] = [
        "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E",
    ];
    if SUFFIXES.contains(&suffix) {
        return true;
    }
    let exponent = suffix.strip_prefix(['e', 'E']).unwrap_or("");
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    !exponent.is_empty() && exponent.chars().all(|c| c.is_ascii_digit())
}

/// A quantity (`"100m"`, `"2"`, `"512Mi"`) in thousandths of its unit (`milli`) or in
/// units; none if it does not parse.
pub fn quantity(q: &str, milli: bool) -> Option<u64> {
    if !well_formed(q) {
        return None;
    }
    let parsed = ParsedQuantity::try_from(q).ok()?;
    let units = parsed.to_bytes_f64()?;
    let scaled = if milli { units * 1000.0 } else { units };
    // Quantities are rounded up, as Kubernetes' MilliValue and Value do.
    (scaled >= 0.0).then(|| scaled.ceil() as u64)
}

/// What `pod` requests: its containers' requests summed, one pod.
pub fn requests_of(pod: &Value) -> Resources {
    let mut total = Resources {
        pods: 1,
        ..Resources::default()
    };
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for c in containers {
        let requests = &c["resources"]["requests"];
        if let Some(cpu) = requests["cpu"].as_str().and_then(|q| quantity(q, true)) {
            total.cpu_milli += cpu;
        }
        if let Some(mem) = requests["memory"].as_str().and_then(|q| quantity(q, false)) {
            total.memory_bytes += mem;
        }
    }
    total
}

/// What `node` offers pods: its `status.allocatable`.
pub fn allocatable_of(node: &Value) -> Resources {
    let a = &node["status"]["allocatable"];
    Resources {
        cpu_milli: a["cpu"]
            .as_str()
            .and_then(|q| quantity(q, true))
            .unwrap_or(0),
        memory_bytes: a["memory"]
            .as_str()
            .and_then(|q| quantity(q, false))
            .unwrap_or(0),
        pods: a["pods"]
            .as_str()
            .and_then(|q| quantity(q, false))
            .unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_in_millicores_and_bytes() {
        assert_eq!(quantity("100m", true), Some(100));
        assert_eq!(quantity("2", true), Some(2000));
        assert_eq!(quantity("1.5", true), Some(1500));
        assert_eq!(quantity("512Mi", false), Some(512 * 1024 * 1024));
        assert_eq!(quantity("1G", false), Some(1_000_000_000));
        assert_eq!(quantity("lots", false), None);
        for bad in ["-", "", "1..5", "2Q", "1e", "m"] {
            assert!(!well_formed(bad), "{bad:?}");
            assert_eq!(quantity(bad, true), None, "{bad:?}");
        }
        for good in ["+1", "0.5", "1e3", "2E-2", "10Ki", ".5"] {
            assert!(well_formed(good), "{good:?}");
        }
    }

    #[test]
    fn a_pod_requests_its_containers_sum_and_a_node_offers_its_allocatable() {
        let pod = json!({"spec": {"containers": [
            {"resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
            {"resources": {"requests": {"cpu": "1"}}},
            {}]}});
        let asked = requests_of(&pod);
        assert_eq!(
            asked,
            Resources {
                cpu_milli: 1250,
                memory_bytes: 64 << 20,
                pods: 1
            }
        );
        let node = json!({"status": {"allocatable": {"cpu": "2", "memory": "1Gi", "pods": "110"}}});
        let offer = allocatable_of(&node);
        assert_eq!(offer.short_of(asked, asked), vec!["cpu"]);
        assert!(offer.short_of(Resources::default(), asked).is_empty());
    }
}

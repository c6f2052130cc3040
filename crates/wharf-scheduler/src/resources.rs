//! Resource quantities as the scheduler counts them: milli-CPU, bytes, pod slots.

use serde_json::Value;
use wharf_api::validation::Quantity;

/// CPU assumed for a container that requests none, when scoring (Kubernetes' `DefaultMilliCPURequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory assumed for a container that requests none, when scoring (200Mi).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of each resource the scheduler accounts for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU in thousandths of a core.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// Pod slots (only meaningful for allocatable).
    pub pods: i64,
}

impl Resources {
    /// Reads a `ResourceList` object (`{"cpu": "500m", "memory": "1Gi", ...}`); unparsable
    /// entries count as zero.
    pub fn from_list(list: Option<&Value>) -> Self {
        let get = |k: &str, milli: bool| {
            list.and_then(|l| l.get(k))
                .map(|v| quantity_value(v, milli))
                .unwrap_or(0)
        };
        Self {
            milli_cpu: get("cpu", true),
            memory: get("memory", false),
            ephemeral_storage: get("ephemeral-storage", false),
            pods: get("pods", false),
        }
    }

    /// Adds `o` to `self`.
    pub fn add(&mut self, o: &Resources) {
        self.milli_cpu += o.milli_cpu;
        self.memory += o.memory;
        self.ephemeral_storage += o.ephemeral_storage;
        self.pods += o.pods;
    }

    /// Subtracts `o` from `self`.
    pub fn sub(&mut self, o: &Resources) {
        self.milli_cpu -= o.milli_cpu;
        self.memory -= o.memory;
        self.ephemeral_storage -= o.ephemeral_storage;
        self.pods -= o.pods;
    }

    /// Element-wise maximum.
    pub fn max(&mut self, o: &Resources) {
        self.milli_cpu = self.milli_cpu.max(o.milli_cpu);
        self.memory = self.memory.max(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(o.ephemeral_storage);
        self.pods = self.pods.max(o.pods);
    }

    /// Whether every amount is zero.
    pub fn is_zero(&self) -> bool {
        *self == Resources::default()
    }
}

/// The value of a quantity in milli-units (`milli`) or whole units, rounded up as Kubernetes'
/// `MilliValue`/`Value` do; zero when the value cannot be read.
pub fn quantity_value(v: &Value, milli: bool) -> i64 {
    let Ok(q) = Quantity::from_value(v) else {
        return 0;
    };
    let q = q.rounded_up(if milli { -3 } else { 0 });
    let s = q.canonical();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let Ok(n) = num.parse::<i128>() else { return 0 };
    // value = n * 10^exp10 * 2^exp2; result in units of 10^-3 when milli.
    let (exp10, exp2): (i32, u32) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        other => match other.strip_prefix('e').and_then(|e| e.parse::<i32>().ok()) {
            Some(e) => (e, 0),
            None => return 0,
        },
    };
    let exp10 = exp10 + if milli { 3 } else { 0 };
    let mut v = n.saturating_mul(1i128 << exp2);
    if exp10 >= 0 {
        v = v.saturating_mul(10i128.saturating_pow(exp10.unsigned_abs()));
    } else {
        let d = 10i128.saturating_pow(exp10.unsigned_abs());
        v = v / d + i128::from(v % d != 0);
    }
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn container_requests(c: &Value) -> Resources {
    Resources::from_list(c.pointer("/resources/requests"))
}

/// A pod's effective request as Kubernetes computes it: the larger of the sum of app containers
/// (plus restartable sidecar init containers) and each init container's peak (with the sidecars
/// started before it), plus `spec.overhead`.
pub fn pod_requests(pod: &Value) -> Resources {
    let spec = pod.get("spec");
    let list = |k: &str| {
        spec.and_then(|s| s.get(k))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
    };
    let mut reqs = Resources::default();
    for c in list("containers") {
        reqs.add(&container_requests(c));
    }
    let mut restartable = Resources::default();
    let mut init_max = Resources::default();
    for c in list("initContainers") {
        let r = container_requests(c);
        if c.get("restartPolicy").and_then(Value::as_str) == Some("Always") {
            reqs.add(&r);
            restartable.add(&r);
            let mut peak = restartable;
            peak.max(&Resources::default());
            init_max.max(&peak);
        } else {
            let mut peak = restartable;
            peak.add(&r);
            init_max.max(&peak);
        }
    }
    reqs.max(&init_max);
    reqs.add(&Resources::from_list(spec.and_then(|s| s.get("overhead"))));
    reqs.pods = 0;
    reqs
}

/// The request used for scoring: containers without a CPU or memory request count the
/// defaults (100m, 200Mi), as Kubernetes' `NonZeroRequested`.
pub fn pod_non_zero_requests(pod: &Value) -> Resources {
    let mut r = pod_requests(pod);
    if r.milli_cpu == 0 {
        r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
    }
    if r.memory == 0 {
        r.memory = DEFAULT_MEMORY_REQUEST;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_should_convert_to_milli_and_whole_units() {
        let cases = [
            (json!("500m"), true, 500),
            (json!("1"), true, 1000),
            (json!("1.5"), true, 1500),
            (json!("0.0001"), true, 1),
            (json!("1Gi"), false, 1 << 30),
            (json!("1536Mi"), false, 1536 << 20),
            (json!("1G"), false, 1_000_000_000),
            (json!(110), false, 110),
            (json!("2e3"), false, 2000),
            (json!("garbage"), false, 0),
        ];
        for (v, milli, want) in cases {
            assert_eq!(quantity_value(&v, milli), want, "{v}");
        }
    }

    #[test]
    fn pod_requests_should_take_max_of_containers_and_init_containers_plus_overhead() {
        let pod = json!({"spec": {
            "containers": [
                {"resources": {"requests": {"cpu": "100m", "memory": "100Mi"}}},
                {"resources": {"requests": {"cpu": "200m"}}}
            ],
            "initContainers": [
                {"resources": {"requests": {"cpu": "1", "memory": "50Mi"}}}
            ],
            "overhead": {"cpu": "10m"}
        }});
        let r = pod_requests(&pod);
        assert_eq!(r.milli_cpu, 1010);
        assert_eq!(r.memory, 100 << 20);
    }

    #[test]
    fn pod_requests_should_count_sidecar_init_containers_in_the_sum() {
        let pod = json!({"spec": {
            "containers": [{"resources": {"requests": {"cpu": "100m"}}}],
            "initContainers": [
                {"restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}},
                {"resources": {"requests": {"cpu": "120m"}}}
            ]
        }});
        // sum = 100 + 50 = 150; init peak = 50 + 120 = 170
        assert_eq!(pod_requests(&pod).milli_cpu, 170);
        let pod2 = json!({"spec": {
            "containers": [{"resources": {"requests": {"cpu": "100m"}}}],
            "initContainers": [{"restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}}]
        }});
        assert_eq!(pod_requests(&pod2).milli_cpu, 150);
    }
}

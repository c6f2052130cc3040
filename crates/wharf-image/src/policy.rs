//! `imagePullPolicy`, the kubelet's pull back-off, and the waiting reasons and messages a
//! container status shows when its image cannot be had (`ErrImagePull`, `ImagePullBackOff`,
//! `ErrImageNeverPull`, `InvalidImageName`), worded as the kubelet words them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::auth::Keyring;
use crate::error::Error;
use crate::reference::Reference;
use crate::store::{Image, ImageStore};

/// A container's `imagePullPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Resolve the reference at the registry on every container start.
    Always,
    /// Pull only if the image is not present.
    IfNotPresent,
    /// Never pull; fail if absent.
    Never,
}

impl PullPolicy {
    /// The policy for a container: the spec's value when set, else the API server's
    /// defaulting rule (`:latest` or no tag → `Always`, otherwise `IfNotPresent`; a digest
    /// without a tag → `IfNotPresent`).
    pub fn for_container(spec_value: Option<&str>, image: &str) -> PullPolicy {
        match spec_value {
            Some("Always") => PullPolicy::Always,
            Some("IfNotPresent") => PullPolicy::IfNotPresent,
            Some("Never") => PullPolicy::Never,
            _ => PullPolicy::default_for(image),
        }
    }

    /// The defaulting rule alone, applied to the image string as written.
    pub fn default_for(image: &str) -> PullPolicy {
        // Mirrors the API server: look at the tag as written, before normalisation.
        let (name, has_digest) = match image.split_once('@') {
            Some((n, _)) => (n, true),
            None => (image, false),
        };
        let last = name.rsplit('/').next().unwrap_or(name);
        match last.split_once(':') {
            Some((_, "latest")) => PullPolicy::Always,
            Some(_) => PullPolicy::IfNotPresent,
            None if has_digest => PullPolicy::IfNotPresent,
            None => PullPolicy::Always,
        }
    }

    /// The API value.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

/// Why a container's image is not available, as a container status shows it.
#[derive(Debug, thiserror::Error)]
pub enum ImageFailure {
    /// `InvalidImageName`.
    #[error("Failed to apply default image tag {image:?}: {source}")]
    InvalidImageName {
        /// The image as written in the spec.
        image: String,
        /// The parse error.
        #[source]
        source: Error,
    },
    /// `ErrImageNeverPull`.
    #[error("Container image {image:?} is not present with pull policy of Never")]
    NeverPull {
        /// The image as written in the spec.
        image: String,
    },
    /// `ImagePullBackOff`.
    #[error("Back-off pulling image {image:?}")]
    BackOff {
        /// The image as written in the spec.
        image: String,
    },
    /// `ErrImagePull`.
    #[error("failed to pull and unpack image {reference:?}: {source}")]
    Pull {
        /// The image as written in the spec.
        image: String,
        /// The normalised reference.
        reference: String,
        /// What went wrong.
        #[source]
        source: Error,
    },
}

impl ImageFailure {
    /// The waiting reason (`ErrImagePull`, `ImagePullBackOff`, `ErrImageNeverPull`,
    /// `InvalidImageName`).
    pub fn reason(&self) -> &'static str {
        match self {
            ImageFailure::InvalidImageName { .. } => "InvalidImageName",
            ImageFailure::NeverPull { .. } => "ErrImageNeverPull",
            ImageFailure::BackOff { .. } => "ImagePullBackOff",
            ImageFailure::Pull { .. } => "ErrImagePull",
        }
    }

    /// The waiting message (the error's text).
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The `Failed` event's message for pull errors (`Failed to pull image "x": ...`).
    pub fn event_message(&self) -> String {
        match self {
            ImageFailure::Pull { image, .. } => format!("Failed to pull image {image:?}: {self}"),
            other => other.to_string(),
        }
    }
}

/// The kubelet's per-(pod, image) pull back-off: 10 s after a failure, doubling to 300 s;
/// reset after a success or after a quiet period twice the maximum.
#[derive(Debug)]
pub struct PullBackoff {
    initial: Duration,
    max: Duration,
    entries: HashMap<String, (Duration, Instant)>,
}

impl Default for PullBackoff {
    fn default() -> Self {
        PullBackoff::new(Duration::from_secs(10), Duration::from_secs(300))
    }
}

impl PullBackoff {
    /// A back-off with the given initial and maximum delay.
    pub fn new(initial: Duration, max: Duration) -> PullBackoff {
        PullBackoff { initial, max, entries: HashMap::new() }
    }

    /// Whether `key` (the kubelet uses `<podUID>_<image>`) is still backing off at `now`.
    pub fn in_backoff(&self, key: &str, now: Instant) -> bool {
        self.entries.get(key).is_some_and(|(delay, at)| now.saturating_duration_since(*at) < *delay)
    }

    /// Records a failed pull at `now`, growing the delay.
    pub fn failed(&mut self, key: &str, now: Instant) {
        let next = match self.entries.get(key) {
            Some((delay, at)) if now.saturating_duration_since(*at) < self.max * 2 => (*delay * 2).min(self.max),
            _ => self.initial,
        };
        self.entries.insert(key.to_string(), (next, now));
    }

    /// Forgets `key` after a success.
    pub fn succeeded(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// The current delay for `key`, if backing off.
    pub fn delay(&self, key: &str) -> Option<Duration> {
        self.entries.get(key).map(|(d, _)| *d)
    }
}

impl ImageStore {
    /// What the kubelet's image manager does before starting a container: apply the pull
    /// policy, respect the back-off for `backoff_key`, pull when needed, and describe any
    /// failure with the reason and message a container status shows.
    pub async fn ensure_image(
        &self,
        image: &str,
        policy: PullPolicy,
        keyring: &Keyring,
        backoff: &std::sync::Mutex<PullBackoff>,
        backoff_key: &str,
    ) -> Result<Image, ImageFailure> {
        let reference = Reference::parse(image).map_err(|source| ImageFailure::InvalidImageName {
            image: image.to_string(),
            source: Error::InvalidReference { image: image.to_string(), source },
        })?;
        let present = self.get(image).map_err(|source| ImageFailure::Pull {
            image: image.to_string(),
            reference: reference.to_string(),
            source,
        })?;
        match (policy, present) {
            (PullPolicy::Never, Some(img)) | (PullPolicy::IfNotPresent, Some(img)) => return Ok(img),
            (PullPolicy::Never, None) => return Err(ImageFailure::NeverPull { image: image.to_string() }),
            _ => {}
        }
        let now = Instant::now();
        if backoff.lock().map(|b| b.in_backoff(backoff_key, now)).unwrap_or(false) {
            return Err(ImageFailure::BackOff { image: image.to_string() });
        }
        match self.pull(image, keyring).await {
            Ok(img) => {
                if let Ok(mut b) = backoff.lock() {
                    b.succeeded(backoff_key);
                }
                Ok(img)
            }
            Err(source) => {
                if let Ok(mut b) = backoff.lock() {
                    b.failed(backoff_key, Instant::now());
                }
                Err(ImageFailure::Pull { image: image.to_string(), reference: reference.to_string(), source })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_should_be_always_for_latest_or_untagged_else_if_not_present() {
        assert_eq!(PullPolicy::default_for("busybox"), PullPolicy::Always);
        assert_eq!(PullPolicy::default_for("busybox:latest"), PullPolicy::Always);
        assert_eq!(PullPolicy::default_for("127.0.0.1:5000/app"), PullPolicy::Always);
        assert_eq!(PullPolicy::default_for("127.0.0.1:5000/app:v1"), PullPolicy::IfNotPresent);
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(PullPolicy::default_for(&format!("busybox@{d}")), PullPolicy::IfNotPresent);
        assert_eq!(PullPolicy::for_container(Some("Never"), "busybox"), PullPolicy::Never);
        assert_eq!(PullPolicy::for_container(None, "busybox:1.36"), PullPolicy::IfNotPresent);
    }

    #[test]
    fn backoff_should_start_at_ten_seconds_and_double_to_five_minutes() {
        let mut b = PullBackoff::default();
        let t0 = Instant::now();
        assert!(!b.in_backoff("k", t0));
        b.failed("k", t0);
        assert!(b.in_backoff("k", t0 + Duration::from_secs(9)));
        assert!(!b.in_backoff("k", t0 + Duration::from_secs(10)));
        let mut t = t0;
        for _ in 0..10 {
            t += Duration::from_secs(11);
            b.failed("k", t);
        }
        assert_eq!(b.delay("k"), Some(Duration::from_secs(300)));
        b.succeeded("k");
        assert!(!b.in_backoff("k", t));
    }

    #[test]
    fn failures_should_carry_kubelet_reasons_and_messages() {
        let never = ImageFailure::NeverPull { image: "app:v1".into() };
        assert_eq!(never.reason(), "ErrImageNeverPull");
        assert_eq!(never.message(), r#"Container image "app:v1" is not present with pull policy of Never"#);
        let back = ImageFailure::BackOff { image: "app:v1".into() };
        assert_eq!((back.reason(), back.message().as_str()), ("ImagePullBackOff", r#"Back-off pulling image "app:v1""#));
        let bad = Reference::parse("app:-x").unwrap_err();
        let inv = ImageFailure::InvalidImageName {
            image: "app:-x".into(),
            source: Error::InvalidReference { image: "app:-x".into(), source: bad },
        };
        assert_eq!(inv.reason(), "InvalidImageName");
        assert_eq!(
            inv.message(),
            r#"Failed to apply default image tag "app:-x": couldn't parse image name "app:-x": invalid reference format"#
        );
        let pull = ImageFailure::Pull {
            image: "nope".into(),
            reference: "docker.io/library/nope:latest".into(),
            source: Error::NotFound { what: "docker.io/library/nope:latest".into() },
        };
        assert_eq!(pull.reason(), "ErrImagePull");
        assert_eq!(
            pull.event_message(),
            r#"Failed to pull image "nope": failed to pull and unpack image "docker.io/library/nope:latest": docker.io/library/nope:latest: not found"#
        );
    }
}

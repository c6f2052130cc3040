//! Manifests, indexes and image configs (OCI image spec v1.1 and Docker schema 2), and
//! platform selection from a manifest list.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// The `Accept` header sent for manifests.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// A plain tar.
    None,
    /// A gzip-compressed tar.
    Gzip,
    /// A zstd-compressed tar (decoded with the pure-Rust `ruzstd`).
    Zstd,
}

/// The compression of a layer media type, or `None` if it is not a layer type we know.
pub fn layer_compression(media_type: &str) -> Option<Compression> {
    match media_type {
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar" => Some(Compression::None),
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip"
        | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Some(Compression::Gzip),
        "application/vnd.oci.image.layer.v1.tar+zstd"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => Some(Compression::Zstd),
        _ => None,
    }
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type of the referenced content.
    #[serde(default)]
    pub media_type: String,
    /// The digest of the referenced content.
    pub digest: Digest,
    /// The size in bytes.
    pub size: u64,
    /// Set on index entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An OS/architecture pair with optional variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// e.g. `amd64`, `arm64`.
    pub architecture: String,
    /// e.g. `linux`.
    pub os: String,
    /// e.g. `v8`, `v7`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The platform this process runs on (`linux` and the Go name of the CPU architecture).
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "riscv64" => "riscv64",
            "s390x" => "s390x",
            "arm" => "arm",
            other => other,
        };
        let variant = match arch {
            "arm" => Some("v7".to_string()),
            _ => None,
        };
        Platform { architecture: arch.to_string(), os: "linux".to_string(), variant }
    }

    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Option<Platform> {
        let mut it = s.split('/');
        let os = it.next()?.to_string();
        let architecture = it.next()?.to_string();
        let variant = it.next().map(str::to_string);
        if it.next().is_some() || os.is_empty() || architecture.is_empty() {
            return None;
        }
        Some(Platform { architecture, os, variant })
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Normalises an architecture/variant pair the way containerd's `platforms.Normalize` does.
fn normalize(arch: &str, variant: Option<&str>) -> (String, Option<u32>) {
    let arch = match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "armhf" => "arm",
        "i386" => "386",
        a => a,
    };
    let level = variant.and_then(|v| v.trim_start_matches(['v', 'V']).parse::<u32>().ok());
    let level = match (arch, level) {
        ("arm64", None) => Some(8),
        ("arm", None) => Some(7),
        ("amd64", None) => Some(1),
        (_, l) => l,
    };
    (arch.to_string(), level)
}

/// Picks the entry of an index that best matches `want`: same OS and architecture, the
/// highest variant not above the wanted one (an `arm/v7` host runs `v6` and `v5` images, an
/// `amd64/v3` host runs `v2` and `v1`). Entries with an `unknown` platform (attestations)
/// never match.
pub fn select_platform<'a>(manifests: &'a [Descriptor], want: &Platform) -> Option<&'a Descriptor> {
    let (want_arch, want_level) = normalize(&want.architecture, want.variant.as_deref());
    let mut best: Option<(&Descriptor, Option<u32>)> = None;
    for d in manifests {
        let Some(p) = &d.platform else { continue };
        if p.os != want.os {
            continue;
        }
        let (arch, level) = normalize(&p.architecture, p.variant.as_deref());
        if arch != want_arch {
            continue;
        }
        let ok = match (level, want_level) {
            (Some(l), Some(w)) => l <= w,
            _ => true,
        };
        if !ok {
            continue;
        }
        let better = match &best {
            None => true,
            Some((_, b)) => level.unwrap_or(0) > b.unwrap_or(0),
        };
        if better {
            best = Some((d, level));
        }
    }
    best.map(|(d, _)| d)
}

/// An OCI index or Docker manifest list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// The index's media type, when written.
    #[serde(default)]
    pub media_type: Option<String>,
    /// The per-platform manifests.
    pub manifests: Vec<Descriptor>,
}

/// An OCI image manifest or Docker schema 2 manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's media type, when written.
    #[serde(default)]
    pub media_type: Option<String>,
    /// The image config blob.
    pub config: Descriptor,
    /// The layers, bottom first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// What a manifest endpoint returned.
#[derive(Debug, Clone)]
pub enum ManifestKind {
    /// An index / manifest list.
    Index(Index),
    /// A single-platform manifest.
    Manifest(Manifest),
}

/// Why a manifest was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The media type is not one we pull (e.g. schema 1).
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
    /// The body does not parse.
    #[error("invalid manifest: {0}")]
    Json(#[source] serde_json::Error),
}

/// Parses a manifest body, trusting the body's own `mediaType` over the header when present
/// (and guessing from its shape when neither says).
pub fn parse_manifest(content_type: Option<&str>, body: &[u8]) -> Result<ManifestKind, ManifestError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        config: Option<serde_json::Value>,
        schema_version: Option<u32>,
    }
    let probe: Probe = serde_json::from_slice(body).map_err(ManifestError::Json)?;
    let header = content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_string());
    let media = probe.media_type.clone().or(header.filter(|h| h != "application/json" && !h.is_empty()));
    let media = match media {
        Some(m) => m,
        None if probe.manifests.is_some() => OCI_INDEX.to_string(),
        None if probe.config.is_some() && probe.schema_version == Some(2) => OCI_MANIFEST.to_string(),
        None => return Err(ManifestError::UnsupportedMediaType(String::new())),
    };
    match media.as_str() {
        OCI_INDEX | DOCKER_LIST => Ok(ManifestKind::Index(serde_json::from_slice(body).map_err(ManifestError::Json)?)),
        OCI_MANIFEST | DOCKER_MANIFEST => {
            Ok(ManifestKind::Manifest(serde_json::from_slice(body).map_err(ManifestError::Json)?))
        }
        other => Err(ManifestError::UnsupportedMediaType(other.to_string())),
    }
}

/// The image config blob (only what a runtime and the kubelet need).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageConfigFile {
    /// CPU architecture.
    #[serde(default)]
    pub architecture: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// The execution parameters.
    #[serde(default)]
    pub config: Option<ImageConfig>,
    /// The uncompressed layer digests.
    #[serde(default)]
    pub rootfs: Option<RootFs>,
}

/// `rootfs` of the image config.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The digest of each layer's uncompressed tar, bottom first.
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

/// The execution parameters of an image (`config` in the image config).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ImageConfig {
    /// `USER`, e.g. `1000:1000` or `nobody`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `ENV` as `KEY=value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// `ENTRYPOINT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// `CMD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// `WORKDIR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// `STOPSIGNAL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// `EXPOSE`, keys like `80/tcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// `LABEL`s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(arch: &str, variant: Option<&str>, byte: char) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: format!("sha256:{}", byte.to_string().repeat(64)).parse().unwrap(),
            size: 1,
            platform: Some(Platform { architecture: arch.into(), os: "linux".into(), variant: variant.map(Into::into) }),
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn platform_selection_should_pick_matching_arch_and_best_variant() {
        let list = vec![
            entry("arm", Some("v6"), 'a'),
            entry("arm64", Some("v8"), 'b'),
            entry("amd64", None, 'c'),
            entry("arm", Some("v7"), 'd'),
            entry("unknown", None, 'e'),
        ];
        let amd = Platform { architecture: "amd64".into(), os: "linux".into(), variant: None };
        assert_eq!(select_platform(&list, &amd).unwrap().digest.hex().as_bytes()[0], b'c');
        let arm7 = Platform { architecture: "arm".into(), os: "linux".into(), variant: Some("v7".into()) };
        assert_eq!(select_platform(&list, &arm7).unwrap().digest.hex().as_bytes()[0], b'd');
        let arm6 = Platform { architecture: "arm".into(), os: "linux".into(), variant: Some("v6".into()) };
        assert_eq!(select_platform(&list, &arm6).unwrap().digest.hex().as_bytes()[0], b'a');
        let arm64 = Platform { architecture: "aarch64".into(), os: "linux".into(), variant: None };
        assert_eq!(select_platform(&list, &arm64).unwrap().digest.hex().as_bytes()[0], b'b');
        let s390 = Platform { architecture: "s390x".into(), os: "linux".into(), variant: None };
        assert!(select_platform(&list, &s390).is_none());
        let win = Platform { architecture: "amd64".into(), os: "windows".into(), variant: None };
        assert!(select_platform(&list, &win).is_none());
    }

    #[test]
    fn parse_manifest_should_tell_indexes_from_manifests_and_reject_schema1() {
        let idx = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(parse_manifest(None, idx).unwrap(), ManifestKind::Index(_)));
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"{DOCKER_CONFIG}","digest":"sha256:{}","size":2}},"layers":[]}}"#,
            "0".repeat(64)
        );
        assert!(matches!(parse_manifest(Some(OCI_INDEX), m.as_bytes()).unwrap(), ManifestKind::Manifest(_)));
        let s1 = br#"{"schemaVersion":1,"name":"x"}"#;
        assert!(parse_manifest(Some("application/vnd.docker.distribution.manifest.v1+prettyjws"), s1).is_err());
    }

    #[test]
    fn image_config_should_expose_entrypoint_cmd_env_workdir_user() {
        let cfg: ImageConfigFile = serde_json::from_str(
            r#"{"architecture":"amd64","os":"linux","config":{"User":"1000","Env":["PATH=/bin"],"Entrypoint":["/bin/sh"],"Cmd":["-c","true"],"WorkingDir":"/w"},"rootfs":{"type":"layers","diff_ids":[]}}"#,
        )
        .unwrap();
        let c = cfg.config.unwrap();
        assert_eq!(c.user.as_deref(), Some("1000"));
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh"]);
        assert_eq!(c.cmd.unwrap(), ["-c", "true"]);
        assert_eq!(c.env.unwrap(), ["PATH=/bin"]);
        assert_eq!(c.working_dir.as_deref(), Some("/w"));
    }
}

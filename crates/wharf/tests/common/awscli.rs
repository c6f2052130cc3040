//! The real aws CLI and kubectl as EKS users run them: the variables of `DIR/aws.env`, an
//! isolated HOME, kubeconfigs whose exec plugin runs `aws eks get-token`.

use std::path::Path;
use std::process::{Command, Output};

use super::Wharf;

/// The variables of `DIR/aws.env` plus an isolated HOME and no config files.
pub fn aws_env(w: &Wharf) -> Vec<(String, String)> {
    let env = std::fs::read_to_string(w.dir.join("aws.env")).expect("aws.env written on start");
    let mut out = vec![
        ("PATH".to_string(), std::env::var("PATH").unwrap_or_default()),
        ("HOME".to_string(), w.dir.display().to_string()),
        ("AWS_CONFIG_FILE".to_string(), "/dev/null".to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE".to_string(), "/dev/null".to_string()),
        ("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()),
    ];
    for line in env.lines() {
        let Some((k, v)) = line.trim().trim_start_matches("export ").split_once('=') else { continue };
        out.push((k.to_string(), v.trim_matches(|c| c == '"' || c == '\'').to_string()));
    }
    out
}

pub fn with(env: &[(String, String)], overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut e: Vec<(String, String)> = env.iter().filter(|(k, _)| !overrides.iter().any(|(o, _)| o == k)).cloned().collect();
    e.extend(overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    e
}

pub fn run(program: &str, env: &[(String, String)], args: &[&str]) -> Output {
    let mut cmd = Command::new(program);
    cmd.env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).output().unwrap_or_else(|e| panic!("run {program}: {e}"))
}

pub fn ok(o: Output, what: &str) -> String {
    assert!(o.status.success(), "{what} failed: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn aws(env: &[(String, String)], args: &[&str]) -> String {
    ok(run("aws", env, args), &format!("aws {args:?}"))
}

pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

pub fn kubectl_out(env: &[(String, String)], kubeconfig: &Path, args: &[&str]) -> Output {
    let mut a = vec!["--kubeconfig", kubeconfig.to_str().expect("utf-8 path")];
    a.extend_from_slice(args);
    run("kubectl", env, &a)
}


/// `subnetIds=…` of the default VPC's subnets (one per availability zone), as EKS wants at least two.
pub fn default_subnets(env: &[(String, String)]) -> String {
    let ids = aws(env, &["ec2", "describe-subnets", "--filters", "Name=default-for-az,Values=true", "--query", "Subnets[].SubnetId", "--output", "text"]);
    let ids: Vec<&str> = ids.split_whitespace().collect();
    assert_eq!(ids.len(), 3, "one default subnet per zone: {ids:?}");
    format!("subnetIds={}", ids.join(","))
}

//! The AWS front door on `wharf up`'s one listener: the real aws CLI with only the variables
//! of `DIR/aws.env` set.

mod common;

use common::Wharf;
use std::process::Command;

fn aws(w: &Wharf, args: &[&str]) -> std::process::Output {
    let env = std::fs::read_to_string(w.dir.join("aws.env")).expect("aws.env written on start");
    let mut cmd = Command::new("aws");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", w.dir.as_os_str())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for line in env.lines() {
        let Some((k, v)) = line.trim().trim_start_matches("export ").split_once('=') else { continue };
        cmd.env(k, v.trim_matches(|c| c == '"' || c == '\''));
    }
    cmd.args(args).output().expect("run aws")
}

#[test]
fn the_aws_cli_reaches_iam_and_sts_through_the_api_servers_port() {
    let w = Wharf::start();
    let out = aws(&w, &["sts", "get-caller-identity", "--output", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let account = id["Account"].as_str().expect("account").to_string();
    assert_eq!(account.len(), 12);
    assert_eq!(id["Arn"], format!("arn:aws:iam::{account}:root"));

    let out = aws(&w, &["iam", "create-user", "--user-name", "alice"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = aws(&w, &["iam", "list-users", "--query", "Users[].UserName", "--output", "text"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "alice");
    let out = aws(&w, &["iam", "get-user", "--user-name", "nobody"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NoSuchEntity"), "{}", String::from_utf8_lossy(&out.stderr));
    // kubectl keeps working on the same port.
    assert!(w.ok(&["get", "namespaces"]).contains("kube-system"));
}

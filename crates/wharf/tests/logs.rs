//! CloudWatch Logs on `wharf up`'s listener, driven by the real aws CLI with only the
//! variables of `DIR/aws.env` set.

mod common;

use common::Wharf;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

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

fn ok(w: &Wharf, args: &[&str]) -> serde_json::Value {
    let out = aws(w, args);
    assert!(out.status.success(), "aws {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    if out.stdout.iter().all(|b| b.is_ascii_whitespace()) {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("aws {args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn messages(v: &serde_json::Value) -> Vec<String> {
    v["events"].as_array().expect("events").iter().map(|e| e["message"].as_str().expect("message").to_string()).collect()
}

#[test]
fn the_aws_cli_puts_gets_and_filters_log_events_that_survive_a_kill_9() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut w = Wharf::start_in(tmp.path());
    let group = "/wharf/e2e/app";
    ok(&w, &["logs", "create-log-group", "--log-group-name", group, "--tags", "team=platform"]);
    let dup = aws(&w, &["logs", "create-log-group", "--log-group-name", group]);
    assert!(String::from_utf8_lossy(&dup.stderr).contains("ResourceAlreadyExistsException"), "{}", String::from_utf8_lossy(&dup.stderr));
    ok(&w, &["logs", "create-log-stream", "--log-group-name", group, "--log-stream-name", "web-1"]);

    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as i64;
    let events = serde_json::json!([
        { "timestamp": now - 3000, "message": "INFO started" },
        { "timestamp": now - 2000, "message": "{\"level\":\"error\",\"latency\":250}" },
        { "timestamp": now - 1000, "message": "ERROR database unreachable" },
    ])
    .to_string();
    let put = ok(&w, &["logs", "put-log-events", "--log-group-name", group, "--log-stream-name", "web-1", "--log-events", &events, "--output", "json"]);
    assert!(put.get("rejectedLogEventsInfo").is_none(), "{put}");

    let got = ok(&w, &["logs", "get-log-events", "--log-group-name", group, "--log-stream-name", "web-1", "--start-from-head", "--output", "json"]);
    assert_eq!(messages(&got), ["INFO started", "{\"level\":\"error\",\"latency\":250}", "ERROR database unreachable"]);
    assert!(got["nextForwardToken"].as_str().expect("token").starts_with("f/"));

    let term = ok(&w, &["logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", "ERROR", "--output", "json"]);
    assert_eq!(messages(&term), ["ERROR database unreachable"]);
    assert_eq!(term["searchedLogStreams"][0]["logStreamName"], "web-1");
    let json = ok(&w, &["logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", "{ $.level = \"error\" }", "--output", "json"]);
    assert_eq!(messages(&json), ["{\"level\":\"error\",\"latency\":250}"]);
    let num = ok(&w, &["logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", "{ $.latency > 100 }", "--output", "json"]);
    assert_eq!(messages(&num).len(), 1);

    let bad = aws(&w, &["logs", "put-retention-policy", "--log-group-name", group, "--retention-in-days", "2"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("InvalidParameterException"), "{}", String::from_utf8_lossy(&bad.stderr));
    ok(&w, &["logs", "put-retention-policy", "--log-group-name", group, "--retention-in-days", "7"]);
    let groups = ok(&w, &["logs", "describe-log-groups", "--log-group-name-prefix", "/wharf/e2e", "--output", "json"]);
    assert_eq!(groups["logGroups"][0]["logGroupName"], group);
    assert_eq!(groups["logGroups"][0]["retentionInDays"], 7);
    let tags = ok(&w, &["logs", "list-tags-log-group", "--log-group-name", group, "--output", "json"]);
    assert_eq!(tags["tags"]["team"], "platform");
    let streams = ok(&w, &["logs", "describe-log-streams", "--log-group-name", group, "--order-by", "LastEventTime", "--descending", "--output", "json"]);
    assert_eq!(streams["logStreams"][0]["lastEventTimestamp"], now - 1000);

    // `aws logs tail` exists in CLI v2 only; it polls FilterLogEvents, which is covered above.
    if aws(&w, &["logs", "tail", "help"]).status.success() {
        let out = aws(&w, &["logs", "tail", group, "--since", "1h"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("ERROR database unreachable"));
    }

    // Acknowledged events survive kill -9.
    w.kill9();
    drop(w);
    let w = Wharf::start_in(tmp.path());
    let got = ok(&w, &["logs", "get-log-events", "--log-group-name", group, "--log-stream-name", "web-1", "--start-from-head", "--output", "json"]);
    assert_eq!(messages(&got).len(), 3);
    let groups = ok(&w, &["logs", "describe-log-groups", "--output", "json"]);
    assert_eq!(groups["logGroups"][0]["retentionInDays"], 7);
}

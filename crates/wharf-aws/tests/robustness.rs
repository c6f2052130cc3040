//! The parsers never panic: random and mutated SigV4 headers, presigned queries, paths,
//! query strings, form bodies and JSON bodies, through the parsers and the whole front door.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wharf_aws::{sigv4, AwsError, Credential, Decision, FrontDoor, Identity, QueryParams, RequestContext};

const ALPHABET: &[u8] = b"AWS4-HMAC-SHA256 Credential=/,;=&%?.:_~+ SignedHeaders Signature X-Amz-Date 0123456789abcdefT Z\\\"{}[]";

fn random_string(rng: &mut StdRng, max: usize) -> String {
    let n = rng.gen_range(0..max);
    (0..n).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

fn mutate(rng: &mut StdRng, seed: &str) -> String {
    let mut b: Vec<u8> = seed.as_bytes().to_vec();
    for _ in 0..rng.gen_range(1..6) {
        if b.is_empty() {
            break;
        }
        let i = rng.gen_range(0..b.len());
        match rng.gen_range(0..3) {
            0 => {
                b.remove(i);
            }
            1 => b.insert(i, ALPHABET[rng.gen_range(0..ALPHABET.len())]),
            _ => b[i] = ALPHABET[rng.gen_range(0..ALPHABET.len())],
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

const GOOD_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
const GOOD_QUERY: &str = "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00";

#[test]
fn sigv4_parsers_never_panic_on_random_or_mutated_input() {
    let mut rng = StdRng::seed_from_u64(8);
    for i in 0..20_000 {
        let auth = if i % 2 == 0 { mutate(&mut rng, GOOD_AUTH) } else { random_string(&mut rng, 200) };
        let query = if i % 3 == 0 { mutate(&mut rng, GOOD_QUERY) } else { random_string(&mut rng, 200) };
        let path = format!("/{}", random_string(&mut rng, 40).replace(['?', '#', ' ', '\\', '"', '{', '}', '[', ']'], ""));
        let uri = format!("{path}?{}", query.replace(['#', ' ', '\\', '"', '{', '}', '[', ']'], ""));
        let Ok(mut req) = http::Request::builder().uri(uri.as_str()).body(()) else { continue };
        if let Ok(v) = http::HeaderValue::from_str(&auth) {
            req.headers_mut().insert("authorization", v);
        }
        if let Ok(v) = http::HeaderValue::from_str(&mutate(&mut rng, "20150830T123600Z")) {
            req.headers_mut().insert("x-amz-date", v);
        }
        let (parts, _) = req.into_parts();
        let _ = sigv4::canonical_uri(parts.uri.path());
        let _ = sigv4::canonical_query(parts.uri.query().unwrap_or(""));
        if let Ok(Some(s)) = sigv4::parse(&parts) {
            let _ = sigv4::verify(&parts, &s, b"body", "secret", 1_440_938_160);
        }
        let _ = QueryParams::parse(query.as_bytes()).structs("Tags", "member");
        let _ = sigv4::percent_decode(&query);
        let _ = wharf_aws::time::parse_amz_date(&random_string(&mut rng, 20));
        let _ = wharf_aws::time::parse_iso8601(&mutate(&mut rng, "2015-08-30T12:36:00.000Z"));
    }
}

struct NoKeys;

#[async_trait]
impl Identity for NoKeys {
    async fn credential(&self, id: &str) -> Result<Option<Credential>, AwsError> {
        Ok((id == "AKIDEXAMPLE").then(|| Credential {
            secret_access_key: "s".into(),
            session_token: None,
            expires_at: None,
            caller: wharf_aws::Caller::anonymous(),
        }))
    }
    async fn authorize(&self, _: &RequestContext, _: &str, _: &str, _: &wharf_aws::ConditionKeys) -> Result<Decision, AwsError> {
        Ok(Decision::ImplicitDeny)
    }
}

#[tokio::test]
async fn the_front_door_answers_every_malformed_request_with_an_aws_error() {
    let fd = FrontDoor::new(Arc::new(NoKeys), "us-east-1");
    let mut rng = StdRng::seed_from_u64(9);
    for i in 0..3_000 {
        let mut b = http::Request::builder().method(if i % 2 == 0 { "POST" } else { "GET" }).uri("/");
        match i % 4 {
            0 => b = b.header("content-type", "application/x-www-form-urlencoded"),
            1 => b = b.header("x-amz-target", mutate(&mut rng, "AmazonEC2ContainerRegistry_V20150921.ListImages")),
            2 => b = b.header("authorization", mutate(&mut rng, GOOD_AUTH)).header("x-amz-date", "20150830T123600Z"),
            _ => {}
        }
        let body = if i % 3 == 0 { mutate(&mut rng, "Action=ListUsers&Version=2010-05-08") } else { random_string(&mut rng, 100) };
        let Ok(req) = b.body(()) else { continue };
        let (parts, _) = req.into_parts();
        let r = fd.handle_bytes(&parts, Bytes::from(body), "rid".into()).await;
        assert!(r.status().is_client_error(), "status {} for request {i}", r.status());
        assert!(r.headers().contains_key("x-amzn-requestid"));
    }
}

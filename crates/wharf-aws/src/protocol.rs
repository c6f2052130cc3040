//! The wire protocols: how a request is recognized, and how results and errors are
//! enveloped. This is the one place AWS errors become wire shapes.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use crate::error::{AuthFailure, AwsError};
use crate::service::Output;
use crate::xml::{escape_attr as escape, XmlWriter};

/// An AWS wire protocol with the parameters the front door routes by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `awsQuery` (IAM, STS, CloudWatch): form `Action` + `Version`, XML responses.
    Query {
        /// The API version (`2010-05-08`).
        version: &'static str,
        /// The response XML namespace.
        xmlns: &'static str,
    },
    /// `ec2`: form `Action` + `Version`, EC2's XML shapes.
    Ec2 {
        /// The API version (`2016-11-15`).
        version: &'static str,
        /// The response XML namespace.
        xmlns: &'static str,
    },
    /// `awsJson1_0` / `awsJson1_1`: `X-Amz-Target: Prefix.Operation`.
    Json {
        /// `1.0` or `1.1`.
        json_version: &'static str,
        /// The target prefix (`AmazonEC2ContainerRegistry_V20150921`).
        target_prefix: &'static str,
        /// Whether the service is `awsQueryCompatible` (errors also carry `x-amzn-query-error`).
        query_compatible: bool,
    },
    /// `restJson1` (EKS): operations by method and path.
    RestJson,
}

fn response(status: StatusCode, content_type: &str, request_id: &str, body: Vec<u8>) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from(body));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        r.headers_mut().insert("x-amzn-requestid", v.clone());
        r.headers_mut().insert("x-amz-request-id", v);
    }
    r
}

impl Protocol {
    fn json_content_type(&self) -> String {
        match self {
            Protocol::Json { json_version, .. } => format!("application/x-amz-json-{json_version}"),
            _ => "application/json".into(),
        }
    }

    /// Names an authentication failure as this protocol's services do.
    pub fn auth_error(&self, f: &AuthFailure) -> AwsError {
        use StatusCode as S;
        let (status, code, message): (S, &str, String) = match (self, f) {
            (Protocol::Ec2 { .. }, AuthFailure::RequestExpired) => (S::BAD_REQUEST, "RequestExpired", "Request has expired.".into()),
            (Protocol::Ec2 { .. }, AuthFailure::Missing) => {
                (S::UNAUTHORIZED, "AuthFailure", "AWS was not able to validate the provided access credentials".into())
            }
            (Protocol::Ec2 { .. }, AuthFailure::SignatureMismatch(m) | AuthFailure::Incomplete(m)) => {
                (S::UNAUTHORIZED, "AuthFailure", m.clone())
            }
            (Protocol::Ec2 { .. }, _) => {
                (S::UNAUTHORIZED, "AuthFailure", "AWS was not able to validate the provided access credentials".into())
            }
            (Protocol::Query { .. }, f) => match f {
                AuthFailure::Missing => (S::FORBIDDEN, "MissingAuthenticationToken", "Request is missing Authentication Token".into()),
                AuthFailure::Incomplete(m) => (S::BAD_REQUEST, "IncompleteSignature", m.clone()),
                AuthFailure::InvalidToken => {
                    (S::FORBIDDEN, "InvalidClientTokenId", "The security token included in the request is invalid.".into())
                }
                AuthFailure::ExpiredToken => {
                    (S::BAD_REQUEST, "ExpiredToken", "The security token included in the request is expired".into())
                }
                AuthFailure::SignatureMismatch(m) => (S::FORBIDDEN, "SignatureDoesNotMatch", m.clone()),
                AuthFailure::RequestExpired => (S::BAD_REQUEST, "RequestExpired", "Request has expired.".into()),
            },
            (_, f) => match f {
                AuthFailure::Missing => {
                    (S::FORBIDDEN, "MissingAuthenticationTokenException", "Missing Authentication Token".into())
                }
                AuthFailure::Incomplete(m) => (S::BAD_REQUEST, "IncompleteSignatureException", m.clone()),
                AuthFailure::InvalidToken => {
                    (S::BAD_REQUEST, "UnrecognizedClientException", "The security token included in the request is invalid.".into())
                }
                AuthFailure::ExpiredToken => {
                    (S::BAD_REQUEST, "ExpiredTokenException", "The security token included in the request is expired".into())
                }
                AuthFailure::SignatureMismatch(m) => (S::FORBIDDEN, "InvalidSignatureException", m.clone()),
                AuthFailure::RequestExpired => (S::FORBIDDEN, "InvalidSignatureException", "Signature expired".into()),
            },
        };
        AwsError::new(status, code, message)
    }

    /// The error for an operation the service does not have.
    pub fn unknown_operation(&self, operation: &str) -> AwsError {
        match self {
            Protocol::Query { version, .. } => {
                AwsError::bad_request("InvalidAction", format!("Could not find operation {operation} for version {version}"))
            }
            Protocol::Ec2 { .. } => {
                AwsError::bad_request("InvalidAction", format!("The action {operation} is not valid for this web service."))
            }
            Protocol::Json { .. } | Protocol::RestJson => {
                AwsError::bad_request("UnknownOperationException", format!("Unknown operation {operation}"))
            }
        }
    }

    /// The wire form of an error.
    pub fn error_response(&self, err: &AwsError, request_id: &str) -> Response<Bytes> {
        match self {
            Protocol::Query { xmlns, .. } => {
                let mut w = XmlWriter::new();
                w.raw(&format!("<ErrorResponse xmlns=\"{}\">", escape(xmlns)))
                    .open("Error")
                    .elem("Type", if err.sender_fault { "Sender" } else { "Receiver" })
                    .elem("Code", &err.code)
                    .elem("Message", &err.message)
                    .close("Error")
                    .elem("RequestId", request_id)
                    .close("ErrorResponse");
                response(err.status, "text/xml", request_id, w.finish().into_bytes())
            }
            Protocol::Ec2 { .. } => {
                let mut w = XmlWriter::new();
                w.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
                    .open("Response")
                    .open("Errors")
                    .open("Error")
                    // EC2 names a service-side failure `InternalError`, not `InternalFailure`.
                    .elem("Code", if err.code == "InternalFailure" { "InternalError" } else { &err.code })
                    .elem("Message", &err.message)
                    .close("Error")
                    .close("Errors")
                    .elem("RequestID", request_id)
                    .close("Response");
                response(err.status, "text/xml;charset=UTF-8", request_id, w.finish().into_bytes())
            }
            Protocol::Json { query_compatible, .. } => {
                let code = json_code(&err.code);
                let body = serde_json::json!({ "__type": code, "message": err.message });
                let mut r = response(err.status, &self.json_content_type(), request_id, body.to_string().into_bytes());
                if let Ok(v) = HeaderValue::from_str(&code) {
                    r.headers_mut().insert("x-amzn-errortype", v);
                }
                if *query_compatible {
                    let fault = if err.sender_fault { "Sender" } else { "Receiver" };
                    if let Ok(v) = HeaderValue::from_str(&format!("{};{fault}", err.code)) {
                        r.headers_mut().insert("x-amzn-query-error", v);
                    }
                }
                r
            }
            Protocol::RestJson => {
                let code = json_code(&err.code);
                let body = serde_json::json!({ "message": err.message });
                let mut r = response(err.status, "application/json", request_id, body.to_string().into_bytes());
                if let Ok(v) = HeaderValue::from_str(&code) {
                    r.headers_mut().insert("x-amzn-errortype", v);
                }
                r
            }
        }
    }

    /// The wire form of a successful result of `operation`.
    pub fn success_response(&self, operation: &str, out: Output, request_id: &str) -> Response<Bytes> {
        match (self, out) {
            (Protocol::Query { xmlns, .. }, out) => {
                let mut w = XmlWriter::new();
                w.raw(&format!("<{operation}Response xmlns=\"{}\">", escape(xmlns)));
                match out {
                    Output::Xml(inner) => {
                        w.raw(&format!("<{operation}Result>")).raw(&inner).raw(&format!("</{operation}Result>"));
                    }
                    Output::Empty => {}
                    Output::Json(v) | Output::JsonStatus(_, v) => {
                        return Self::RestJson.success_response(operation, Output::Json(v), request_id);
                    }
                }
                w.open("ResponseMetadata").elem("RequestId", request_id).close("ResponseMetadata");
                w.raw(&format!("</{operation}Response>"));
                response(StatusCode::OK, "text/xml", request_id, w.finish().into_bytes())
            }
            (Protocol::Ec2 { xmlns, .. }, out) => {
                let mut w = XmlWriter::new();
                w.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
                w.raw(&format!("<{operation}Response xmlns=\"{}\">", escape(xmlns)));
                w.elem("requestId", request_id);
                if let Output::Xml(inner) = out {
                    w.raw(&inner);
                }
                w.raw(&format!("</{operation}Response>"));
                response(StatusCode::OK, "text/xml;charset=UTF-8", request_id, w.finish().into_bytes())
            }
            (_, out) => {
                let (status, body) = match out {
                    Output::Json(v) => (StatusCode::OK, v),
                    Output::JsonStatus(s, v) => (s, v),
                    Output::Empty => (StatusCode::OK, serde_json::json!({})),
                    Output::Xml(_) => {
                        return self.error_response(&AwsError::internal("a JSON service returned XML"), request_id)
                    }
                };
                response(status, &self.json_content_type(), request_id, body.to_string().into_bytes())
            }
        }
    }
}

/// JSON services name `AccessDenied` `AccessDeniedException`.
fn json_code(code: &str) -> String {
    match code {
        "AccessDenied" => "AccessDeniedException".into(),
        "ValidationError" => "ValidationException".into(),
        c => c.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IAM: Protocol = Protocol::Query { version: "2010-05-08", xmlns: "https://iam.amazonaws.com/doc/2010-05-08/" };

    #[test]
    fn query_errors_use_the_error_response_envelope() {
        let r = IAM.error_response(&AwsError::new(StatusCode::NOT_FOUND, "NoSuchEntity", "The user with name x cannot be found."), "rid");
        assert_eq!(r.status(), 404);
        assert_eq!(
            std::str::from_utf8(r.body()).unwrap(),
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The user with name x cannot be found.</Message></Error><RequestId>rid</RequestId></ErrorResponse>"
        );
        assert_eq!(r.headers()["x-amzn-requestid"], "rid");
    }

    #[test]
    fn json_errors_carry_type_header_and_query_error_when_compatible() {
        let p = Protocol::Json { json_version: "1.0", target_prefix: "GraniteServiceVersion20100801", query_compatible: true };
        let r = p.error_response(&AwsError::bad_request("InvalidParameterValue", "bad"), "rid");
        assert_eq!(r.headers()["x-amzn-query-error"], "InvalidParameterValue;Sender");
        assert_eq!(r.headers()["x-amzn-errortype"], "InvalidParameterValue");
        assert_eq!(r.headers()["content-type"], "application/x-amz-json-1.0");
        let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v, serde_json::json!({"__type": "InvalidParameterValue", "message": "bad"}));
    }

    #[test]
    fn ec2_errors_use_the_response_errors_envelope() {
        let p = Protocol::Ec2 { version: "2016-11-15", xmlns: "http://ec2.amazonaws.com/doc/2016-11-15/" };
        let r = p.error_response(&AwsError::bad_request("InvalidVpcID.NotFound", "The vpc ID 'vpc-1' does not exist"), "rid");
        let body = std::str::from_utf8(r.body()).unwrap();
        assert!(body.contains("<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code>"), "{body}");
        assert!(body.ends_with("<RequestID>rid</RequestID></Response>"));
        let r = p.error_response(&AwsError::internal("boom"), "rid");
        assert_eq!(r.status(), 500);
        assert!(std::str::from_utf8(r.body()).unwrap().contains("<Code>InternalError</Code>"));
    }

    #[test]
    fn query_results_are_wrapped_with_response_metadata() {
        let r = IAM.success_response("GetUser", Output::Xml("<User/>".into()), "rid");
        assert_eq!(
            std::str::from_utf8(r.body()).unwrap(),
            "<GetUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetUserResult><User/></GetUserResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetUserResponse>"
        );
    }
}

//! A corpus of malformed and hostile requests: each gets a JSON 4xx or per-item `invalid` /
//! `not_routable` results; never a 5xx, a panic, a hang, or an upstream call.

use std::time::Duration;

use reqwest::header::HeaderValue;

use crate::helpers::spawn_app;

/// What a corpus entry must get.
enum Expect {
    /// This 4xx status with the JSON error shape.
    Error(u16),
    /// 200 with every result in one of these statuses.
    Items(&'static [&'static str]),
}

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    /// An `x-request-id` to send (raw bytes: hostile ones are the point).
    request_id: Option<Vec<u8>>,
    body: Vec<u8>,
    expect: Expect,
}

fn post(name: &'static str, body: impl Into<Vec<u8>>, expect: Expect) -> Case {
    Case {
        name,
        method: "POST",
        path: "/v1/enrich".into(),
        content_type: Some("application/json"),
        request_id: None,
        body: body.into(),
        expect,
    }
}

fn get(name: &'static str, path: impl Into<String>, expect: Expect) -> Case {
    Case {
        name,
        method: "GET",
        path: path.into(),
        content_type: None,
        request_id: None,
        body: Vec::new(),
        expect,
    }
}

fn batch(entries: &str) -> Vec<u8> {
    format!("{{\"observables\": [{entries}]}}").into_bytes()
}

const INVALID: Expect = Expect::Items(&["invalid"]);
const LOCAL: Expect = Expect::Items(&["not_routable"]);

fn corpus() -> Vec<Case> {
    use Expect::Error;
    let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let many = format!(
        "{{\"observables\": [{}]}}",
        vec!["\"1.1.1.1\""; 100_000].join(",")
    );
    let ten_mb = format!("{{\"observables\": [\"{}\"]}}", "A".repeat(10 << 20));
    vec![
        post("truncated object", "{", Error(400)),
        post("lone closing brace", "}", Error(400)),
        post("empty body", "", Error(400)),
        post("a bare array", "[]", Error(422)),
        post("null", "null", Error(422)),
        post("a bare string", "\"8.8.8.8\"", Error(422)),
        post("observables null", "{\"observables\": null}", Error(422)),
        post("observables an object", "{\"observables\": {}}", Error(422)),
        post("observables empty", batch(""), Error(422)),
        post(
            "unknown field",
            "{\"observables\": [\"8.8.8.8\"], \"x\": 1}",
            Error(422),
        ),
        post(
            "duplicate field",
            "{\"observables\": [\"1.1.1.1\"], \"observables\": []}",
            Error(422),
        ),
        post(
            "wait as text",
            "{\"observables\": [\"8.8.8.8\"], \"max_wait_ms\": \"soon\"}",
            Error(422),
        ),
        post(
            "wait as a numeric string",
            "{\"observables\": [\"8.8.8.8\"], \"max_wait_ms\": \"8000\"}",
            Error(422),
        ),
        post(
            "negative wait",
            "{\"observables\": [\"8.8.8.8\"], \"max_wait_ms\": -5}",
            Error(422),
        ),
        post(
            "enormous wait",
            "{\"observables\": [\"8.8.8.8\"], \"max_wait_ms\": 1e99}",
            Error(422),
        ),
        post("nesting 5,000 deep", deep, Error(400)),
        post("100k observables", many, Error(422)),
        post("10 MB body", ten_mb, Error(413)),
        post(
            "invalid UTF-8 in a string",
            [b"{\"observables\": [\"".as_slice(), &[0xff, 0xfe], b"\"]}"].concat(),
            Error(400),
        ),
        post(
            "byte order mark",
            [b"\xEF\xBB\xBF".as_slice(), &batch("\"8.8.8.8\"")].concat(),
            Error(400),
        ),
        post(
            "nested junk entries",
            batch("[[[\"8.8.8.8\"]]], {\"a\": {\"b\": []}}, null, true, 1.5"),
            Expect::Items(&["invalid"]),
        ),
        post(
            "value not a string",
            batch("{\"type\": \"ip\", \"value\": {\"x\": 1}}"),
            INVALID,
        ),
        post(
            "value given twice in an item",
            batch("{\"type\": \"ip\", \"value\": \"1.1.1.1\", \"value\": \"8.8.8.8\"}"),
            INVALID,
        ),
        post(
            "type given twice in an item",
            batch("{\"type\": \"ip\", \"type\": \"ip\", \"value\": \"8.8.8.8\"}"),
            INVALID,
        ),
        post(
            "unknown type",
            batch("{\"type\": \"hostname\", \"value\": \"example.com\"}"),
            INVALID,
        ),
        post(
            "a 100 KB string",
            batch(&format!("\"{}\"", "9".repeat(100_000))),
            INVALID,
        ),
        post("NUL byte", batch("\"8.8.8.8\\u0000\""), INVALID),
        post(
            "bell and escape",
            batch("\"\\u0007\\u001b[31m8.8.8.8\""),
            INVALID,
        ),
        post("octal-looking IPv4", batch("\"010.1.1.1\""), INVALID),
        post("hex IPv4", batch("\"0x7f.1\""), INVALID),
        post("short IPv4", batch("\"127.1\""), INVALID),
        post("leading zero octet", batch("\"1.2.3.04\""), INVALID),
        post("IPv6 zone id", batch("\"fe80::1%eth0\""), INVALID),
        post("CIDR suffix", batch("\"8.8.8.0/24\""), INVALID),
        post("bracketed IPv6", batch("\"[2001:db8::1]\""), INVALID),
        post("full-width digits", batch("\"８.８.８.８\""), INVALID),
        post("IPv4 with port", batch("\"8.8.8.8:53\""), INVALID),
        post("mapped loopback", batch("\"::ffff:127.0.0.1\""), LOCAL),
        post("unspecified", batch("\"0.0.0.0\", \"::\""), LOCAL),
        Case {
            content_type: Some("text/plain"),
            ..post("text content type", batch("\"8.8.8.8\""), Error(415))
        },
        Case {
            content_type: None,
            ..post("no content type", batch("\"8.8.8.8\""), Error(415))
        },
        Case {
            content_type: Some("application/x-www-form-urlencoded"),
            ..post("form content type", "observables=8.8.8.8", Error(415))
        },
        Case {
            method: "PUT",
            ..post("PUT on enrich", batch("\"8.8.8.8\""), Error(405))
        },
        get("GET on enrich", "/v1/enrich", Error(405)),
        get("dot-dot in path", "/v1/ip/%2e%2e%2fadmin", Error(400)),
        get("percent-encoded NUL", "/v1/ip/8.8.8.8%00", Error(400)),
        get(
            "percent-encoded zone id",
            "/v1/ip/fe80::1%25eth0",
            Error(400),
        ),
        get("invalid UTF-8 in path", "/v1/ip/%FF%FE", Error(400)),
        get("octal in path", "/v1/ip/010.1.1.1", Error(400)),
        get("hex in path", "/v1/ip/0x7f.1", Error(400)),
        get("bracketed in path", "/v1/ip/%5B%3A%3A1%5D", Error(400)),
        get(
            "5,000 characters in path",
            format!("/v1/ip/{}", "1".repeat(5_000)),
            Error(400),
        ),
        get(
            "negative wait in query",
            "/v1/ip/8.8.8.8?max_wait_ms=-1",
            Error(400),
        ),
        get(
            "fractional wait in query",
            "/v1/ip/8.8.8.8?max_wait_ms=8000.5",
            Error(400),
        ),
        get(
            "unknown query parameter",
            "/v1/ip/8.8.8.8?debug=1",
            Error(400),
        ),
        get("extra path segment", "/v1/ip/8.8.8.8/whois", Error(404)),
        get("empty address", "/v1/ip/", Error(404)),
        get(
            "private address in path",
            "/v1/ip/10.0.0.1",
            Expect::Items(&["not_routable"]),
        ),
        get("unknown path under the docs", "/docs/x", Error(404)),
        Case {
            method: "OPTIONS",
            ..get("OPTIONS on the docs", "/docs/", Error(405))
        },
        Case {
            method: "TRACE",
            ..get("TRACE on the document", "/openapi.json", Error(405))
        },
        Case {
            request_id: Some(b"<script>alert(1)</script>".to_vec()),
            ..get("markup as request id", "/v1/ip/10.0.0.1", LOCAL)
        },
        Case {
            request_id: Some("r\u{e9}q-\u{1F600}".as_bytes().to_vec()),
            ..get("non-ASCII request id", "/v1/ip/not-an-ip", Error(400))
        },
        Case {
            request_id: Some(vec![b'a'; 30 * 1024]),
            ..get("30 KB request id", "/nowhere", Error(404))
        },
    ]
}

#[tokio::test]
async fn sixty_four_hostile_requests_get_a_json_4xx_or_local_results_and_no_upstream_call() {
    let app = spawn_app().await;
    let corpus = corpus();
    assert_eq!(corpus.len(), 64, "the test name states the count");

    for case in corpus {
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
        let mut request = app
            .http
            .request(method, format!("{}{}", app.address, case.path))
            .timeout(Duration::from_secs(20))
            .body(case.body);
        if let Some(ct) = case.content_type {
            request = request.header("content-type", ct);
        }
        if let Some(id) = case.request_id {
            request = request.header("x-request-id", HeaderValue::from_bytes(&id).unwrap());
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let status = response.status().as_u16();
        let echoed_id = response.headers()["x-request-id"].as_bytes();
        assert!(
            (1..=128).contains(&echoed_id.len())
                && echoed_id
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b".:_-".contains(b)),
            "{}: unsafe request id echoed: {:.200}",
            case.name,
            String::from_utf8_lossy(echoed_id)
        );
        let text = response.text().await.unwrap();
        let body: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{}: not JSON ({status}): {text:.200}", case.name));
        match case.expect {
            Expect::Error(expected) => {
                assert_eq!(status, expected, "{}: {text:.300}", case.name);
                assert!(
                    body["error"]["code"].is_string(),
                    "{}: {text:.300}",
                    case.name
                );
            }
            Expect::Items(allowed) => {
                assert_eq!(status, 200, "{}: {text:.300}", case.name);
                let results = body["results"]
                    .as_array()
                    .cloned()
                    .unwrap_or_else(|| vec![body.clone()]);
                for r in results {
                    let s = r["status"].as_str().unwrap_or_default();
                    assert!(allowed.contains(&s), "{}: {s} in {text:.300}", case.name);
                }
            }
        }
    }
    assert_eq!(
        app.sim.total_call_count(),
        0,
        "hostile input never reaches VirusTotal"
    );
    let (status, _) = app.get("/livez").await;
    assert_eq!(status, 200, "still serving");
}

//! The VirusTotal client against real fixtures, wiremock and raw loopback sockets.

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use vtenrich::observable::Observable;
use vtenrich::report::{IpReport, Report};
use vtenrich::virustotal::{ClientSettings, VtClient, VtError, parse_ip_report};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{fixture, fixtures_dir};

/// Distinctive enough that any leak into output is unmistakable.
const KEY: &str = "canary-vtkey-5f1e9d3c7b2a48e6-must-never-leak";
const GOOGLE_V4: &str = "ip_8.8.8.8_google_2026-07_paidkey.json";
const GOOGLE_V6: &str = "ip_2001-4860-4860--8888_ipv6_google_2026-07_paidkey.json";
const GENEROUS: Duration = Duration::from_secs(10);
const SHORT: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------- helpers

fn settings(base_url: &str, request_timeout: Duration, max_body_bytes: usize) -> ClientSettings {
    ClientSettings {
        base_url: base_url.parse().expect("test base URL"),
        api_key: SecretString::from(KEY),
        connect_timeout: GENEROUS,
        request_timeout,
        max_body_bytes,
    }
}

fn client(base_url: &str) -> VtClient {
    VtClient::new(settings(base_url, GENEROUS, 1024 * 1024)).expect("client builds")
}

fn google_v4() -> IpAddr {
    "8.8.8.8".parse().expect("literal IP")
}

/// The IP report through the client's one lookup path (`VtClient::lookup`), as the engine asks.
async fn ip_report(client: &VtClient, ip: IpAddr) -> Result<Option<IpReport>, VtError> {
    Ok(client
        .lookup(&Observable::Ip(ip))
        .await?
        .map(|report| match report {
            Report::Ip(report) => *report,
            other => panic!("an IP lookup answered {other:?}"),
        }))
}

/// Serves `template` for exactly one GET of 8.8.8.8 (more calls would fail on drop: no retries).
async fn answer_with(template: ResponseTemplate) -> Result<Option<IpReport>, VtError> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/ip_addresses/8.8.8.8"))
        .respond_with(template)
        .expect(1)
        .mount(&server)
        .await;
    ip_report(&client(&format!("{}/api/v3", server.uri())), google_v4()).await
}

fn vt_error(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        format!(r#"{{"error":{{"code":"{code}","message":"test"}}}}"#),
        "application/json",
    )
}

/// The failure, after checking its Display and Debug hide the key and the URL.
fn failure(result: Result<Option<IpReport>, VtError>) -> VtError {
    let err = result.expect_err("the call should fail");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(KEY), "key leaked: {text}");
        assert!(!text.contains("ip_addresses"), "URL leaked: {text}");
        assert!(!text.contains("127.0.0.1"), "address leaked: {text}");
    }
    err
}

/// A one-connection HTTP server whose answer is scripted at the byte level.
async fn raw_server<F, Fut>(respond: F) -> (String, JoinHandle<()>)
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        if let Ok(Ok((mut stream, _))) = tokio::time::timeout(GENEROUS, listener.accept()).await {
            read_request_head(&mut stream).await;
            respond(stream).await;
        }
    });
    (format!("http://{addr}/api/v3"), task)
}

/// Consumes the request so closing the socket sends FIN, not RST.
async fn read_request_head(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    for _ in 0..64 {
        match tokio::time::timeout(GENEROUS, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => return,
        }
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            return;
        }
    }
}

// ---------------------------------------------------------------- fixtures

struct Expected {
    file: &'static str,
    country: (&'static str, &'static str),
    continent: (&'static str, &'static str),
    asn: u32,
    as_owner: &'static str,
    cidr: &'static str,
    rir: &'static str,
    /// malicious, suspicious, harmless, undetected, timeout
    stats: Option<[u32; 5]>,
    /// harmless, malicious
    votes: (u32, u32),
    community_score: i64,
    tags: Option<&'static [&'static str]>,
    last_analysis_at: Option<&'static str>,
}

const US: (&str, &str) = ("US", "United States of America");
const NA: (&str, &str) = ("NA", "North America");

const EXPECTED: [Expected; 5] = [
    Expected {
        file: GOOGLE_V4,
        country: US,
        continent: NA,
        asn: 15169,
        as_owner: "Google LLC",
        cidr: "8.8.8.0/24",
        rir: "ARIN",
        stats: Some([0, 0, 55, 36, 0]),
        votes: (287, 57),
        community_score: 556,
        tags: Some(&["suspicious-udp"]),
        last_analysis_at: Some("2026-07-29T15:59:59+00:00"),
    },
    Expected {
        file: GOOGLE_V6,
        country: US,
        continent: NA,
        asn: 15169,
        as_owner: "Google LLC",
        cidr: "2001:4860:4840::/42",
        rir: "ARIN",
        stats: Some([0, 0, 54, 37, 0]),
        votes: (0, 1),
        community_score: -1,
        tags: Some(&[]),
        last_analysis_at: Some("2026-07-27T02:50:25+00:00"),
    },
    Expected {
        file: "ip_8.8.8.8_google_2024-03.json",
        country: US,
        continent: NA,
        asn: 15169,
        as_owner: "GOOGLE",
        cidr: "8.8.8.0/24",
        rir: "ARIN",
        stats: Some([2, 0, 66, 21, 0]),
        votes: (184, 28),
        community_score: 520,
        tags: Some(&[]),
        last_analysis_at: Some("2024-03-02T02:03:28+00:00"),
    },
    Expected {
        file: "ip_1.1.1.1_cloudflare_2019-09.json",
        country: ("AU", "Australia"),
        continent: ("OC", "Oceania"),
        asn: 13335,
        as_owner: "Cloudflare, Inc.",
        cidr: "1.1.1.0/24",
        rir: "APNIC",
        stats: None,
        votes: (1, 1),
        community_score: 0,
        tags: None,
        last_analysis_at: None,
    },
    Expected {
        file: "extra/ip_8.8.8.8_google_2025-08_gti.json",
        country: US,
        continent: NA,
        asn: 15169,
        as_owner: "GOOGLE",
        cidr: "8.8.8.0/24",
        rir: "ARIN",
        stats: Some([0, 0, 61, 33, 0]),
        votes: (236, 44),
        community_score: 556,
        tags: Some(&[]),
        last_analysis_at: Some("2025-08-07T07:47:58+00:00"),
    },
];

fn ip_fixture_files() -> Vec<String> {
    let root = fixtures_dir();
    let mut found = Vec::new();
    for sub in ["", "extra"] {
        let dir = root.join(sub);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let name = entry.expect("directory entry").file_name();
            let name = name.to_string_lossy();
            if name.starts_with("ip_") && name.ends_with(".json") {
                let relative = if sub.is_empty() {
                    name.into_owned()
                } else {
                    format!("{sub}/{name}")
                };
                found.push(relative);
            }
        }
    }
    found.sort();
    found
}

fn assert_matches(report: &IpReport, want: &Expected) {
    let file = want.file;
    let country = report
        .country
        .unwrap_or_else(|| panic!("{file}: no country"));
    let continent = report
        .continent
        .unwrap_or_else(|| panic!("{file}: no continent"));
    assert_eq!(
        (country.as_str(), country.country_name()),
        (want.country.0, Some(want.country.1)),
        "{file}"
    );
    assert_eq!(
        (continent.as_str(), continent.continent_name()),
        (want.continent.0, Some(want.continent.1)),
        "{file}"
    );
    assert_eq!(report.asn, Some(want.asn), "{file}");
    assert_eq!(report.as_owner.as_deref(), Some(want.as_owner), "{file}");
    assert_eq!(report.cidr.as_deref(), Some(want.cidr), "{file}");
    assert_eq!(report.rir.as_deref(), Some(want.rir), "{file}");
    let stats = report.stats.map(|s| {
        [
            s.malicious,
            s.suspicious,
            s.harmless,
            s.undetected,
            s.timeout,
        ]
    });
    assert_eq!(stats, want.stats, "{file}");
    let votes = report.votes.map(|v| (v.harmless, v.malicious));
    assert_eq!(votes, Some(want.votes), "{file}");
    assert_eq!(report.community_score, Some(want.community_score), "{file}");
    let tags: Option<Vec<&str>> = report.tags.as_ref().map(|t| t.iter().collect());
    assert_eq!(tags.as_deref(), want.tags, "{file}");
    let at = report.last_analysis_at.map(|t| t.to_rfc3339());
    assert_eq!(at.as_deref(), want.last_analysis_at, "{file}");
}

#[test]
fn every_ip_fixture_normalises_to_its_known_values() {
    // Arrange
    let files = ip_fixture_files();

    // Act
    let mut checked = 0;
    for relative in &files {
        let want = EXPECTED
            .iter()
            .find(|e| e.file == relative)
            .unwrap_or_else(|| panic!("no expected values written for fixture {relative}"));
        let report = parse_ip_report(&fixture(relative))
            .unwrap_or_else(|e| panic!("{relative} did not parse: {e}"));

        // Assert
        assert_matches(&report, want);
        checked += 1;
    }
    assert_eq!(
        checked,
        EXPECTED.len(),
        "expected every IP fixture, found {files:?}"
    );
}

// ---------------------------------------------------------------- end to end

async fn fetch_fixture_end_to_end(file: &str, ip: &str) -> (IpReport, wiremock::Request) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v3/ip_addresses/{ip}")))
        .and(header("x-apikey", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_raw(fixture(file), "application/json"))
        .expect(1)
        .mount(&server)
        .await;

    let report = ip_report(
        &client(&format!("{}/api/v3", server.uri())),
        ip.parse().expect("literal IP"),
    )
    .await
    .expect("call succeeds")
    .expect("VirusTotal knows it");

    let mut requests = server.received_requests().await.expect("recording on");
    assert_eq!(requests.len(), 1);
    (report, requests.remove(0))
}

#[tokio::test]
async fn an_ipv4_report_is_fetched_with_the_key_and_normalised() {
    // Arrange + Act
    let (report, request) = fetch_fixture_end_to_end(GOOGLE_V4, "8.8.8.8").await;

    // Assert
    assert_matches(&report, &EXPECTED[0]);
    assert_eq!(request.url.path(), "/api/v3/ip_addresses/8.8.8.8");
    assert_eq!(request.headers["x-apikey"], KEY);
    assert_eq!(request.headers["accept"], "application/json");
    assert_eq!(
        request.headers["user-agent"],
        concat!("vtenrich/", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn an_ipv6_report_is_fetched_with_the_key_and_normalised() {
    // Arrange + Act
    let (report, request) = fetch_fixture_end_to_end(GOOGLE_V6, "2001:4860:4860::8888").await;

    // Assert
    assert_matches(&report, &EXPECTED[1]);
    assert_eq!(
        request.url.path(),
        "/api/v3/ip_addresses/2001:4860:4860::8888"
    );
    assert_eq!(request.headers["x-apikey"], KEY);
}

#[tokio::test]
async fn a_base_url_with_a_trailing_slash_calls_the_same_path() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/ip_addresses/8.8.8.8"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture(GOOGLE_V4), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;

    // Act
    let report = ip_report(&client(&format!("{}/api/v3/", server.uri())), google_v4()).await;

    // Assert
    assert!(matches!(report, Ok(Some(_))), "{report:?}");
}

// ---------------------------------------------------------------- classification

#[tokio::test]
async fn a_404_not_found_error_means_virustotal_does_not_know_the_ip() {
    let body = fixture("errors_and_headers/error_404_NotFoundError_unknown_file_2026-07.json");

    let result =
        answer_with(ResponseTemplate::new(404).set_body_raw(body, "application/json")).await;

    assert_eq!(result, Ok(None));
}

#[tokio::test]
async fn a_404_html_page_from_a_wrong_base_url_is_a_client_error_without_its_text() {
    let page = format!("<html><body>{}</body></html>", "Not Found ".repeat(50));

    let err =
        failure(answer_with(ResponseTemplate::new(404).set_body_raw(page, "text/html")).await);

    assert_eq!(
        err,
        VtError::Client {
            status: 404,
            code: String::new()
        }
    );
}

#[tokio::test]
async fn a_401_wrong_credentials_is_an_auth_error() {
    let body = fixture("errors_and_headers/error_401_WrongCredentialsError_2026-07.json");

    let err = failure(
        answer_with(ResponseTemplate::new(401).set_body_raw(body, "application/json")).await,
    );

    assert_eq!(
        err,
        VtError::Auth {
            status: 401,
            code: "WrongCredentialsError".to_owned()
        }
    );
}

#[tokio::test]
async fn a_403_forbidden_is_an_auth_error() {
    let err = failure(answer_with(vt_error(403, "ForbiddenError")).await);

    assert_eq!(
        err,
        VtError::Auth {
            status: 403,
            code: "ForbiddenError".to_owned()
        }
    );
}

#[tokio::test]
async fn a_400_invalid_argument_is_a_client_error() {
    let err = failure(answer_with(vt_error(400, "InvalidArgumentError")).await);

    assert_eq!(
        err,
        VtError::Client {
            status: 400,
            code: "InvalidArgumentError".to_owned()
        }
    );
}

#[tokio::test]
async fn a_429_quota_exceeded_is_quota_exceeded() {
    let err = failure(answer_with(vt_error(429, "QuotaExceededError")).await);

    assert_eq!(err, VtError::QuotaExceeded);
}

#[tokio::test]
async fn a_429_too_many_requests_carries_its_retry_after() {
    let template = vt_error(429, "TooManyRequestsError").insert_header("retry-after", "7");

    let err = failure(answer_with(template).await);

    assert_eq!(
        err,
        VtError::TooManyRequests {
            retry_after: Some(Duration::from_secs(7))
        }
    );
}

#[tokio::test]
async fn a_429_without_a_code_is_too_many_requests() {
    let err = failure(answer_with(ResponseTemplate::new(429)).await);

    assert_eq!(err, VtError::TooManyRequests { retry_after: None });
}

#[tokio::test]
async fn server_errors_keep_their_status_and_code() {
    let cases = [
        (500, "", ResponseTemplate::new(500)),
        (503, "TransientError", vt_error(503, "TransientError")),
        (
            504,
            "DeadlineExceededError",
            vt_error(504, "DeadlineExceededError"),
        ),
    ];
    for (status, code, template) in cases {
        let err = failure(answer_with(template).await);

        assert_eq!(
            err,
            VtError::Server {
                status,
                code: code.to_owned()
            }
        );
    }
}

#[tokio::test]
async fn a_200_that_is_not_json_is_malformed() {
    let err =
        failure(answer_with(ResponseTemplate::new(200).set_body_string("<html>hi</html>")).await);

    assert!(matches!(err, VtError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn a_200_with_fields_of_the_wrong_type_is_malformed() {
    let bodies = [
        r#"{"data":{"type":"ip_address","id":"8.8.8.8","attributes":{"asn":"15169"}}}"#,
        r#"{"data":{"type":"ip_address","id":"8.8.8.8","attributes":{"last_analysis_stats":"x"}}}"#,
    ];
    for body in bodies {
        let template = ResponseTemplate::new(200).set_body_raw(body, "application/json");

        let err = failure(answer_with(template).await);

        assert!(matches!(err, VtError::Malformed(_)), "{body}: {err:?}");
    }
}

#[tokio::test]
async fn a_null_country_is_absent_not_an_error() {
    let body = r#"{"data":{"type":"ip_address","id":"8.8.8.8","attributes":{"country":null,"asn":15169}}}"#;

    let result =
        answer_with(ResponseTemplate::new(200).set_body_raw(body, "application/json")).await;

    let report = result.expect("parses").expect("known");
    assert_eq!(report.country, None);
    assert_eq!(report.asn, Some(15169));
}

#[tokio::test]
async fn an_answer_slower_than_the_request_timeout_is_a_timeout() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/ip_addresses/8.8.8.8"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let client = VtClient::new(settings(&format!("{}/api/v3", server.uri()), SHORT, 1024))
        .expect("client builds");

    // Act
    let err = failure(ip_report(&client, google_v4()).await);

    // Assert
    assert_eq!(err, VtError::Timeout);
}

#[tokio::test]
async fn a_body_declared_larger_than_the_limit_is_malformed() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/ip_addresses/8.8.8.8"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture(GOOGLE_V4), "application/json"),
        )
        .mount(&server)
        .await;
    let client = VtClient::new(settings(
        &format!("{}/api/v3", server.uri()),
        GENEROUS,
        1024,
    ))
    .expect("client builds");

    // Act
    let err = failure(ip_report(&client, google_v4()).await);

    // Assert
    assert_eq!(
        err,
        VtError::Malformed("body exceeds 1024 bytes".to_owned())
    );
}

#[tokio::test]
async fn a_chunked_body_growing_past_the_limit_is_malformed() {
    // Arrange: no Content-Length, so only counting while streaming can catch it.
    let (base, server) = raw_server(|mut stream| async move {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = format!("200\r\n{}\r\n", " ".repeat(0x200));
        for _ in 0..16 {
            if stream.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
    })
    .await;
    let client = VtClient::new(settings(&base, GENEROUS, 1024)).expect("client builds");

    // Act
    let err = failure(ip_report(&client, google_v4()).await);

    // Assert
    assert_eq!(
        err,
        VtError::Malformed("body exceeds 1024 bytes".to_owned())
    );
    server.abort();
}

#[tokio::test]
async fn a_body_dripping_past_the_request_timeout_is_a_timeout() {
    // Arrange: headers arrive at once, then one byte every 100 ms (at most 100 of them).
    let (base, server) = raw_server(|mut stream| async move {
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        for _ in 0..100 {
            if stream.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let client = VtClient::new(settings(&base, SHORT, 4096)).expect("client builds");

    // Act
    let err = failure(ip_report(&client, google_v4()).await);

    // Assert
    assert_eq!(err, VtError::Timeout);
    server.abort();
}

#[tokio::test]
async fn a_body_cut_short_of_its_content_length_is_a_transport_error() {
    // Arrange
    let (base, server) = raw_server(|mut stream| async move {
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n";
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(&[b' '; 100]).await;
        let _ = stream.shutdown().await;
    })
    .await;
    let client = VtClient::new(settings(&base, GENEROUS, 1024 * 1024)).expect("client builds");

    // Act
    let err = failure(ip_report(&client, google_v4()).await);

    // Assert
    assert!(matches!(err, VtError::Transport(_)), "{err:?}");
    server.abort();
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error_that_never_reached_virustotal() {
    // Arrange: a port that was just free and is no longer listened on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);

    // Act
    let err = failure(ip_report(&client(&format!("http://{addr}/api/v3")), google_v4()).await);

    // Assert
    assert!(matches!(err, VtError::Connect(_)), "{err:?}");
    assert!(err.never_reached_virustotal());
    assert_eq!(err.outcome(), "transport");
}

// ---------------------------------------------------------------- the key stays secret

#[test]
fn the_client_and_settings_debug_output_hides_the_key() {
    let settings = settings("https://www.virustotal.com/api/v3", GENEROUS, 1024);
    let settings_debug = format!("{settings:?}");
    let client_debug = format!("{:?}", VtClient::new(settings).expect("client builds"));

    assert!(!settings_debug.contains(KEY), "{settings_debug}");
    assert!(!client_debug.contains(KEY), "{client_debug}");
    assert!(client_debug.contains("virustotal.com"), "{client_debug}");
}

#[test]
fn a_key_that_is_not_a_header_value_is_rejected_without_echoing_it() {
    let mut bad = settings("https://www.virustotal.com/api/v3", GENEROUS, 1024);
    bad.api_key = SecretString::from(format!("{KEY}\n"));

    let err = VtClient::new(bad).expect_err("a newline is not allowed in a header");

    assert!(!format!("{err:#} {err:?}").contains(KEY));
}

// ---------------------------------------------------------------- overall quotas

#[tokio::test]
async fn overall_quotas_reads_the_users_daily_and_monthly_use() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/users/analyst-1/overall_quotas"))
        .and(header("x-apikey", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixture("docs_examples/overall_quotas_docs_example.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;

    // Act
    let usage = client(&format!("{}/api/v3", server.uri()))
        .overall_quotas("analyst-1")
        .await
        .expect("quotas parse");

    // Assert
    assert_eq!((usage.day_used, usage.month_used), (17, 137));
}

#[tokio::test]
async fn overall_quotas_with_a_wrong_key_is_an_auth_error() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/users/analyst-1/overall_quotas"))
        .respond_with(vt_error(401, "WrongCredentialsError"))
        .expect(1)
        .mount(&server)
        .await;

    let result = client(&format!("{}/api/v3", server.uri()))
        .overall_quotas("analyst-1")
        .await;

    assert_eq!(
        result,
        Err(VtError::Auth {
            status: 401,
            code: "WrongCredentialsError".to_owned()
        })
    );
}

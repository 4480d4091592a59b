//! Domain, URL and file answers: every real fixture normalised field by field, and the typed
//! lookup asking each type at its documented path.

use std::time::Duration;

use secrecy::SecretString;
use vtenrich::observable::Observable;
use vtenrich::report::{Analysis, Categories, DomainReport, FileReport, Report, UrlReport};
use vtenrich::virustotal::{
    ClientSettings, VtClient, parse_domain_report, parse_file_report, parse_url_report,
};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{fixture, fixtures_dir};

const KEY: &str = "canary-vtkey-types-must-never-leak";

/// Reputation facts as read from a fixture: stats (malicious, suspicious, harmless,
/// undetected, timeout), votes (harmless, malicious), score, tags, last analysis time.
struct Facts {
    stats: Option<[u32; 5]>,
    votes: (u32, u32),
    score: i64,
    tags: Option<&'static [&'static str]>,
    analysed: Option<&'static str>,
}

fn assert_facts(file: &str, got: &Analysis, want: &Facts) {
    let stats = got.stats.map(|s| {
        [
            s.malicious,
            s.suspicious,
            s.harmless,
            s.undetected,
            s.timeout,
        ]
    });
    assert_eq!(stats, want.stats, "{file}: stats");
    assert_eq!(
        got.votes.map(|v| (v.harmless, v.malicious)),
        Some(want.votes),
        "{file}: votes"
    );
    assert_eq!(got.community_score, Some(want.score), "{file}: score");
    let tags: Option<Vec<&str>> = got.tags.as_ref().map(|t| t.iter().collect());
    assert_eq!(tags.as_deref(), want.tags, "{file}: tags");
    let at = got.last_analysis_at.map(|t| t.to_rfc3339());
    assert_eq!(at.as_deref(), want.analysed, "{file}: last analysis");
}

fn strs<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    values.into_iter().collect()
}

fn categories(map: &Option<Categories>) -> Option<Vec<(&str, &str)>> {
    map.as_ref().map(|m| m.iter().collect())
}

/// Every `{prefix}*.json` in the fixtures directory and its `extra/`.
fn fixture_files(prefix: &str) -> Vec<String> {
    let root = fixtures_dir();
    let mut found = Vec::new();
    for sub in ["", "extra"] {
        let dir = root.join(sub);
        for entry in std::fs::read_dir(&dir).expect("fixture directory lists") {
            let name = entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            if name.starts_with(prefix) && name.ends_with(".json") {
                found.push(if sub.is_empty() {
                    name
                } else {
                    format!("{sub}/{name}")
                });
            }
        }
    }
    found.sort();
    found
}

// ---------------------------------------------------------------- domains

fn domain(file: &str) -> DomainReport {
    parse_domain_report(&fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn every_domain_fixture_is_one_of_those_checked_below() {
    assert_eq!(
        fixture_files("domain_"),
        [
            "domain_example.com_2026-07_paidkey.json",
            "extra/domain_github.com_2019-09.json",
            "extra/domain_www.google.com_2025-08_gti.json",
        ]
    );
}

#[test]
fn the_example_com_domain_normalises_field_by_field() {
    let file = "domain_example.com_2026-07_paidkey.json";
    let r = domain(file);

    assert_facts(
        file,
        &r.analysis,
        &Facts {
            stats: Some([0, 0, 62, 29, 0]),
            votes: (59, 9),
            score: 27,
            tags: Some(&[]),
            analysed: Some("2026-07-29T16:10:41+00:00"),
        },
    );
    assert_eq!(
        r.registrar.as_deref(),
        Some("RESERVED-Internet Assigned Numbers Authority")
    );
    assert_eq!(
        r.created_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("1995-08-14T04:00:00+00:00")
    );
    assert_eq!(categories(&r.categories), Some(vec![]));
    let dns = r.dns.expect("DNS records");
    assert_eq!(strs(dns.a()), ["104.20.23.154", "172.66.147.243"]);
    assert_eq!(
        strs(dns.aaaa()),
        ["2606:4700:10::ac42:93f3", "2606:4700:10::6814:179a"]
    );
    assert!(dns.cname().next().is_none());
    // The fixture's only MX is the null MX (RFC 7505), an empty value.
    assert!(dns.mx().next().is_none());
    assert_eq!(
        strs(dns.ns()),
        ["hera.ns.cloudflare.com", "elliott.ns.cloudflare.com"]
    );
    let best = r.popularity.expect("ranks");
    assert_eq!((best.rank, &*best.source), (118, "Majestic"));
    assert_eq!(r.tld.as_deref(), Some("com"));
}

#[test]
fn the_2019_github_domain_lacks_analysis_and_tld_and_says_so_with_nulls() {
    let file = "extra/domain_github.com_2019-09.json";
    let r = domain(file);

    assert_facts(
        file,
        &r.analysis,
        &Facts {
            stats: None,
            votes: (2, 0),
            score: 2,
            tags: None,
            analysed: None,
        },
    );
    assert_eq!(r.registrar.as_deref(), Some("MarkMonitor Inc."));
    assert_eq!(
        r.created_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2007-10-09T11:20:50+00:00")
    );
    assert_eq!(
        categories(&r.categories),
        Some(vec![
            ("BitDefender", "computersandsoftware"),
            ("Dr.Web", "social networks"),
            ("Forcepoint ThreatSeeker", "information technology"),
            ("Websense ThreatSeeker", "information technology"),
        ])
    );
    let dns = r.dns.expect("DNS records");
    assert_eq!(strs(dns.a()), ["140.82.114.3"]);
    assert!(dns.aaaa().next().is_none() && dns.cname().next().is_none());
    assert_eq!(
        strs(dns.mx()),
        [
            "ASPMX.L.GOOGLE.com",
            "ALT3.ASPMX.L.GOOGLE.com",
            "ALT4.ASPMX.L.GOOGLE.com",
            "ALT2.ASPMX.L.GOOGLE.com",
            "ALT1.ASPMX.L.GOOGLE.com",
        ]
    );
    assert_eq!(
        strs(dns.ns()),
        [
            "ns-1283.awsdns-32.org",
            "ns-1707.awsdns-21.co.uk",
            "ns-421.awsdns-52.com",
            "ns-520.awsdns-01.net",
            "ns1.p16.dynect.net",
            "ns2.p16.dynect.net",
            "ns3.p16.dynect.net",
            "ns4.p16.dynect.net",
        ]
    );
    let best = r.popularity.expect("ranks");
    assert_eq!((best.rank, &*best.source), (29, "Majestic"));
    assert_eq!(r.tld, None);
}

#[test]
fn the_gti_google_domain_normalises_field_by_field() {
    let file = "extra/domain_www.google.com_2025-08_gti.json";
    let r = domain(file);

    assert_facts(
        file,
        &r.analysis,
        &Facts {
            stats: Some([0, 0, 65, 29, 0]),
            votes: (89, 15),
            score: 212,
            tags: Some(&[]),
            analysed: Some("2025-08-07T07:49:30+00:00"),
        },
    );
    assert_eq!(r.registrar.as_deref(), Some("MarkMonitor Inc."));
    assert_eq!(
        r.created_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("1997-09-15T07:00:00+00:00")
    );
    assert_eq!(
        categories(&r.categories),
        Some(vec![
            ("BitDefender", "searchengines"),
            ("Forcepoint ThreatSeeker", "search engines and portals"),
            ("Sophos", "search engines"),
        ])
    );
    let dns = r.dns.expect("DNS records");
    assert_eq!(
        strs(dns.a()),
        [
            "64.233.179.147",
            "64.233.179.104",
            "64.233.179.106",
            "64.233.179.99",
            "64.233.179.103",
            "64.233.179.105",
        ]
    );
    assert_eq!(
        strs(dns.aaaa()),
        [
            "2607:f8b0:4001:c68::68",
            "2607:f8b0:4001:c68::93",
            "2607:f8b0:4001:c68::69",
            "2607:f8b0:4001:c68::67",
        ]
    );
    assert!(dns.cname().next().is_none() && dns.mx().next().is_none() && dns.ns().next().is_none());
    let best = r.popularity.expect("ranks");
    assert_eq!((best.rank, &*best.source), (5, "Cisco Umbrella"));
    assert_eq!(r.tld.as_deref(), Some("com"));
}

// ---------------------------------------------------------------- URLs

struct UrlExpected {
    file: &'static str,
    facts: Facts,
    final_url: &'static str,
    title: &'static str,
    categories: &'static [(&'static str, &'static str)],
    tld: Option<&'static str>,
}

const URLS: [UrlExpected; 3] = [
    UrlExpected {
        file: "extra/url_http_example.com_2019-09.json",
        facts: Facts {
            stats: Some([0, 0, 64, 7, 0]),
            votes: (50, 118),
            score: -58,
            tags: Some(&[]),
            analysed: Some("2019-10-19T22:56:52+00:00"),
        },
        final_url: "http://example.com/",
        title: "Example Domain",
        categories: &[],
        tld: None,
    },
    UrlExpected {
        file: "extra/url_https_www.youtube.com_2025-08_gti.json",
        facts: Facts {
            stats: Some([0, 0, 71, 26, 0]),
            votes: (702, 120),
            score: 1257,
            tags: Some(&["external-resources", "iframes"]),
            analysed: Some("2025-08-07T09:51:45+00:00"),
        },
        final_url: "https://www.youtube.com/",
        title: "YouTube",
        categories: &[
            ("BitDefender", "videos"),
            ("Dr.Web", "adult content/violence"),
            ("Forcepoint ThreatSeeker", "social web - youtube"),
            ("Sophos", "video hosting"),
            (
                "alphaMountain.ai",
                "Mixed Content/Potentially Adult, Video/Multimedia (alphaMountain.ai)",
            ),
        ],
        tld: Some("com"),
    },
    UrlExpected {
        file: "url_http_example.com_2026-07_paidkey.json",
        facts: Facts {
            stats: Some([0, 0, 63, 29, 0]),
            votes: (90, 126),
            score: -5,
            tags: Some(&[]),
            analysed: Some("2026-07-29T14:58:39+00:00"),
        },
        final_url: "https://example.com/",
        title: "Example Domain",
        categories: &[
            ("BitDefender", "computersandsoftware"),
            ("Forcepoint ThreatSeeker", "information technology"),
            ("Sophos", "information technology"),
            (
                "alphaMountain.ai",
                "Information Technology (alphaMountain.ai)",
            ),
        ],
        tld: Some("com"),
    },
];

#[test]
fn every_url_fixture_normalises_field_by_field() {
    let files = fixture_files("url_");
    let listed: Vec<&str> = URLS.iter().map(|u| u.file).collect();
    assert_eq!(files, listed, "every URL fixture has expected values");

    for want in &URLS {
        let r: UrlReport =
            parse_url_report(&fixture(want.file)).unwrap_or_else(|e| panic!("{}: {e}", want.file));

        assert_facts(want.file, &r.analysis, &want.facts);
        assert_eq!(
            r.final_url.as_deref(),
            Some(want.final_url),
            "{}",
            want.file
        );
        assert_eq!(r.http_status, Some(200), "{}", want.file);
        assert_eq!(r.title.as_deref(), Some(want.title), "{}", want.file);
        assert_eq!(
            categories(&r.categories),
            Some(want.categories.to_vec()),
            "{}",
            want.file
        );
        assert_eq!(r.tld.as_deref(), want.tld, "{}", want.file);
    }
}

// ---------------------------------------------------------------- files

#[test]
fn every_file_fixture_is_one_of_those_checked_below() {
    assert_eq!(
        fixture_files("file_"),
        [
            "file_0078c813_hive-ransomware_2025-08_gti.json",
            "file_eicar_by_md5_2026-07_paidkey.json",
        ]
    );
}

fn file(name: &str) -> FileReport {
    parse_file_report(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn counts(list: &[vtenrich::report::ThreatCount]) -> Vec<(&str, u32)> {
    list.iter().map(|c| (&*c.value, c.count)).collect()
}

#[test]
fn the_eicar_file_normalises_field_by_field() {
    let name = "file_eicar_by_md5_2026-07_paidkey.json";
    let r = file(name);

    // Its stats carry eight buckets; the three file-only ones are not engine opinions.
    assert_facts(
        name,
        &r.analysis,
        &Facts {
            stats: Some([65, 0, 0, 3, 0]),
            votes: (2294, 416),
            score: 3788,
            tags: Some(&[
                "via-tor",
                "known-distributor",
                "direct-cpu-clock-access",
                "detect-debug-environment",
                "attachment",
                "idle",
                "long-sleeps",
                "powershell",
            ]),
            analysed: Some("2026-07-29T16:53:21+00:00"),
        },
    );
    assert_eq!(r.md5.as_deref(), Some("44d88612fea8a8f36de82e1278abb02f"));
    assert_eq!(
        r.sha1.as_deref(),
        Some("3395856ce81f2b7382dee72602f798b642f14140")
    );
    assert_eq!(
        r.sha256.as_deref(),
        Some("275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f")
    );
    assert_eq!(r.size, Some(68));
    assert_eq!(r.type_description.as_deref(), Some("Powershell"));
    assert_eq!(r.meaningful_name.as_deref(), Some("eicar.com-25389"));
    assert_eq!(
        strs(r.names.as_ref().expect("names")),
        [
            "eicar.com-25389",
            "Nouveau Document texte.txt",
            "eicar.com-21002",
            "eicar.txt",
            "eicar.com-16490",
            "eicar.com.txt",
            "eicar.com-12179",
            "eicar.com-7617",
            "eicar.com-46323",
            "eicar.com-41894",
        ]
    );
    let threat = r.threat.expect("classification");
    assert_eq!(threat.suggested_label.as_deref(), Some("virus.eicar/test"));
    assert_eq!(counts(&threat.categories), [("virus", 15), ("trojan", 2)]);
    assert_eq!(
        counts(&threat.names),
        [("eicar", 59), ("test", 48), ("file", 34)]
    );
    assert_eq!(
        r.first_submitted_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2006-05-22T12:42:02+00:00")
    );
}

#[test]
fn the_hive_file_without_a_meaningful_name_normalises_field_by_field() {
    let name = "file_0078c813_hive-ransomware_2025-08_gti.json";
    let r = file(name);

    assert_facts(
        name,
        &r.analysis,
        &Facts {
            stats: Some([44, 0, 0, 29, 0]),
            votes: (0, 0),
            score: 0,
            tags: Some(&["peexe", "64bits", "overlay", "spreader"]),
            analysed: Some("2025-05-13T04:05:44+00:00"),
        },
    );
    assert_eq!(r.md5.as_deref(), Some("37ece581c10a7a88ee6c666b13807a03"));
    assert_eq!(
        r.sha1.as_deref(),
        Some("33d915448f1bc6b8a479d160a73df38129a4ccb1")
    );
    assert_eq!(
        r.sha256.as_deref(),
        Some("0078c8132fb99b4bccbb2e2429885a857d6a89534f74e23e6a12821abd2c3db2")
    );
    assert_eq!(r.size, Some(4_385_462));
    assert_eq!(r.type_description.as_deref(), Some("Win32 EXE"));
    assert_eq!(r.meaningful_name, None);
    assert_eq!(
        strs(r.names.as_ref().expect("names")),
        ["/scratch/zoo/2025/05/13/37ece581c10a7a88ee6c666b13807a03"]
    );
    let threat = r.threat.expect("classification");
    assert_eq!(
        threat.suggested_label.as_deref(),
        Some("ransomware.hive/recyl")
    );
    assert_eq!(
        counts(&threat.categories),
        [("ransomware", 14), ("trojan", 14), ("worm", 4)]
    );
    assert_eq!(
        counts(&threat.names),
        [("hive", 8), ("recyl", 4), ("gofing", 3)]
    );
    assert_eq!(
        r.first_submitted_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2025-05-13T04:05:44+00:00")
    );
}

// ---------------------------------------------------------------- typed lookup

async fn lookup_against(
    api_path: &str,
    response: ResponseTemplate,
    text: &str,
) -> Result<Option<Report>, vtenrich::virustotal::VtError> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api_path))
        .and(header("x-apikey", KEY))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    let client = VtClient::new(ClientSettings {
        base_url: format!("{}/api/v3", server.uri()).parse().unwrap(),
        api_key: SecretString::from(KEY),
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(10),
        max_body_bytes: 1024 * 1024,
    })
    .expect("client builds");

    client
        .lookup(&Observable::infer(text).expect("test observable"))
        .await
}

fn ok(file: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture(file), "application/json")
}

#[tokio::test]
async fn each_type_is_asked_once_at_its_own_path_and_parsed_as_its_own_report() {
    let domain = lookup_against(
        "/api/v3/domains/example.com",
        ok("domain_example.com_2026-07_paidkey.json"),
        "EXAMPLE.com.",
    )
    .await;
    let url = lookup_against(
        "/api/v3/urls/aHR0cDovL2V4YW1wbGUuY29tLw",
        ok("url_http_example.com_2026-07_paidkey.json"),
        "HTTP://Example.com#top",
    )
    .await;
    let file = lookup_against(
        "/api/v3/files/44d88612fea8a8f36de82e1278abb02f",
        ok("file_eicar_by_md5_2026-07_paidkey.json"),
        "44D88612FEA8A8F36DE82E1278ABB02F",
    )
    .await;

    assert!(matches!(domain, Ok(Some(Report::Domain(r))) if r.tld.as_deref() == Some("com")));
    assert!(
        matches!(url, Ok(Some(Report::Url(r))) if r.title.as_deref() == Some("Example Domain"))
    );
    assert!(matches!(file, Ok(Some(Report::File(r))) if r.size == Some(68)));
}

#[tokio::test]
async fn an_unknown_file_is_not_found_rather_than_an_error() {
    let body = fixture("errors_and_headers/error_404_NotFoundError_unknown_file_2026-07.json");
    let unknown = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2eeff";

    let result = lookup_against(
        &format!("/api/v3/files/{unknown}"),
        ResponseTemplate::new(404).set_body_raw(body, "application/json"),
        unknown,
    )
    .await;

    assert_eq!(result, Ok(None));
}

#[tokio::test]
async fn an_answer_of_another_type_is_malformed() {
    let result = lookup_against(
        "/api/v3/domains/example.com",
        ok("url_http_example.com_2026-07_paidkey.json"),
        "example.com",
    )
    .await;

    assert!(matches!(
        result,
        Err(vtenrich::virustotal::VtError::Malformed(_))
    ));
}

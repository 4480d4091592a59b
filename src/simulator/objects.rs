//! Deterministic VirusTotal domain, URL and file objects, drawn like the IP ones from a stable
//! hash of the id: the same name, URL or hash always gets the same answer, and some are
//! unknown (404 NotFoundError), as they are to VirusTotal.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::faults::Answer;
use super::generate::{DAY, Draws, NEWEST_ANALYSIS, Verdict, analysis, reputation, tags, votes};
use super::tables::{FILE_TYPES, REGISTRARS, SAFE_CATEGORIES, THREATS, TITLES};
use crate::observable::{DomainName, FileHash, HashKind, WebUrl};
use crate::virustotal::Endpoint;

/// Names that always exist and are clean, so demos and tests can rely on them.
const KNOWN_DOMAINS: [&str; 6] = [
    "example.com",
    "google.com",
    "www.google.com",
    "github.com",
    "www.youtube.com",
    "wikipedia.org",
];
const KNOWN_URLS: [&str; 4] = [
    "http://example.com/",
    "https://example.com/",
    "https://www.youtube.com/",
    "https://github.com/",
];
/// EICAR's real hashes (md5, sha1, sha256): always known, always detected.
const EICAR: [&str; 3] = [
    "44d88612fea8a8f36de82e1278abb02f",
    "3395856ce81f2b7382dee72602f798b642f14140",
    "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
];

/// Which generated file each hash handed out so far belongs to, so asking by the SHA-256 that
/// an MD5 answer showed returns the same file, as it does at VirusTotal.
#[derive(Debug, Default)]
pub(crate) struct FileIndex(HashMap<String, String>);

/// What VirusTotal answers at `endpoint` for the raw path id when nothing goes wrong.
pub(crate) fn answer(endpoint: Endpoint, raw: &str, files: &mut FileIndex) -> Answer {
    let found = |key: String| Answer::Typed {
        endpoint,
        key,
        wrong_types: false,
    };
    match endpoint {
        Endpoint::IpAddresses => Answer::normal(raw),
        Endpoint::Domains => match DomainName::parse(raw) {
            Err(_) => Answer::error(
                400,
                "InvalidArgumentError",
                format!("Domain \"{raw}\" is not a valid domain pattern"),
            ),
            Ok(name) if !known(b"unknown-domain", name.as_str(), 8, &KNOWN_DOMAINS) => {
                not_found("Domain", raw)
            }
            Ok(name) => found(name.to_string()),
        },
        Endpoint::Urls => match decode_url(raw) {
            None => Answer::error(
                400,
                "InvalidArgumentError",
                "Unable to canonicalize url".to_owned(),
            ),
            Some(url) if !known(b"unknown-url", &url, 4, &KNOWN_URLS) => not_found("URL", raw),
            Some(url) => found(url),
        },
        Endpoint::Files => match FileHash::parse(raw) {
            // VirusTotal answers a malformed hash with a bare 404 (see the captured error).
            Err(_) => Answer::error(404, "NotFoundError", "Resource not found."),
            Ok(hash) => {
                let seed = files.0.get(hash.as_str()).cloned();
                let seed = seed.unwrap_or_else(|| hash.to_string());
                if !known(b"unknown-file", &seed, 3, &EICAR) {
                    return not_found("File", raw);
                }
                for hash in file_hashes(&seed) {
                    files.0.insert(hash, seed.clone());
                }
                found(seed)
            }
        },
    }
}

/// Whether the file a hash names exists, before any answer linked it to another hash.
#[cfg(test)]
pub(crate) fn known_for_test(hash: &str) -> bool {
    known(b"unknown-file", hash, 3, &EICAR)
}

/// The object an [`Answer::Typed`] carries, built outside the ledger lock.
pub(crate) fn build(endpoint: Endpoint, key: &str) -> Value {
    match endpoint {
        Endpoint::Domains => domain(key),
        Endpoint::Urls => url(key),
        Endpoint::Files | Endpoint::IpAddresses => file(key),
    }
}

fn not_found(what: &str, raw: &str) -> Answer {
    Answer::error(404, "NotFoundError", format!("{what} \"{raw}\" not found"))
}

/// About `1 - 1/one_in` of ids are known; the listed ones always are.
fn known(salt: &[u8], key: &str, one_in: u64, always: &[&str]) -> bool {
    always.contains(&key) || Draws::new(salt, key.as_bytes()).below(one_in) != 0
}

/// The URL behind an id (unpadded base64url of the URL); SHA-256 ids cannot be reversed, and
/// the simulator treats them as malformed.
fn decode_url(raw: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    WebUrl::parse(&text).ok().map(|_| text)
}

fn verdict(d: &mut Draws, special: bool) -> Verdict {
    match d.below(10) {
        _ if special => Verdict::Harmless,
        0 => Verdict::Malicious,
        1 => Verdict::Suspicious,
        _ => Verdict::Harmless,
    }
}

/// The reputation attributes every object carries, as the IP objects draw them.
fn reputed(d: &mut Draws, verdict: Verdict, special: bool, a: &mut Map<String, Value>) -> i64 {
    let analysed_at = NEWEST_ANALYSIS - d.between(0, 365) * DAY - d.between(0, DAY - 1);
    a.insert("reputation".into(), json!(reputation(d, verdict, special)));
    a.insert("total_votes".into(), votes(d, verdict, special));
    let (malicious, suspicious) = match verdict {
        Verdict::Malicious => (d.between(4, 40), d.between(0, 3)),
        Verdict::Suspicious => (d.between(1, 2), d.between(0, 1)),
        Verdict::Harmless => (0, 0),
    };
    let (results, stats) = analysis(d, malicious as usize, suspicious as usize);
    a.insert("last_analysis_results".into(), results);
    a.insert("last_analysis_stats".into(), stats);
    a.insert("last_analysis_date".into(), json!(analysed_at));
    let modified = analysed_at + d.between(0, 3 * DAY);
    a.insert("last_modification_date".into(), json!(modified));
    a.insert("tags".into(), tags(d, verdict));
    analysed_at
}

fn pick<'a>(d: &mut Draws, list: &[&'a str]) -> &'a str {
    list[d.below(list.len() as u64) as usize]
}

fn categories(d: &mut Draws, verdict: Verdict) -> Value {
    match verdict {
        Verdict::Malicious => json!({
            "BitDefender": "malware",
            "Forcepoint ThreatSeeker": "malicious web sites",
            "Sophos": "malware repository",
        }),
        Verdict::Suspicious => json!({"Forcepoint ThreatSeeker": "suspicious content"}),
        Verdict::Harmless => {
            json!({"BitDefender": pick(d, &SAFE_CATEGORIES), "Sophos": pick(d, &SAFE_CATEGORIES)})
        }
    }
}

fn domain(name: &str) -> Value {
    let special = KNOWN_DOMAINS.contains(&name);
    let mut d = Draws::new(b"domain", name.as_bytes());
    let verdict = verdict(&mut d, special);
    let mut a = Map::new();
    let analysed_at = reputed(&mut d, verdict, special, &mut a);
    let created = analysed_at - d.between(30, 10_000) * DAY;
    a.insert("registrar".into(), json!(pick(&mut d, &REGISTRARS)));
    a.insert("creation_date".into(), json!(created));
    a.insert("categories".into(), categories(&mut d, verdict));
    let mut records = Vec::new();
    for _ in 0..d.between(1, 3) {
        let ip = format!(
            "104.{}.{}.{}",
            d.between(16, 31),
            d.below(256),
            d.between(1, 254)
        );
        records.push(json!({"type": "A", "ttl": 300, "value": ip}));
    }
    let apex = name.strip_prefix("www.").unwrap_or(name);
    records.push(json!({"type": "MX", "ttl": 3600, "value": format!("mx.{apex}")}));
    for ns in ["ns1", "ns2"] {
        records.push(json!({"type": "NS", "ttl": 21600, "value": format!("{ns}.{apex}")}));
    }
    records.push(json!({"type": "TXT", "ttl": 300, "value": "v=spf1 -all"}));
    a.insert("last_dns_records".into(), Value::Array(records));
    a.insert("last_dns_records_date".into(), json!(analysed_at));
    if special || d.below(3) == 0 {
        let rank = if special {
            d.between(1, 500)
        } else {
            d.between(500, 1_000_000)
        };
        a.insert(
            "popularity_ranks".into(),
            json!({"Cisco Umbrella": {"rank": rank, "timestamp": analysed_at}}),
        );
    }
    let tld = name.rsplit('.').next().unwrap_or(name);
    a.insert("tld".into(), json!(tld));
    a.insert(
        "whois".into(),
        json!(format!(
            "Domain Name: {}\nRegistrar: see registrar\n",
            name.to_uppercase()
        )),
    );
    json!({
        "id": name,
        "type": "domain",
        "links": {"self": format!("https://www.virustotal.com/api/v3/domains/{name}")},
        "attributes": a,
    })
}

fn url(text: &str) -> Value {
    let special = KNOWN_URLS.contains(&text);
    let id = hex::encode(Sha256::digest(text));
    let mut d = Draws::new(b"url", text.as_bytes());
    let verdict = verdict(&mut d, special);
    let mut a = Map::new();
    let analysed_at = reputed(&mut d, verdict, special, &mut a);
    let final_url = match text.strip_prefix("http://") {
        Some(rest) if d.below(2) == 0 => format!("https://{rest}"),
        _ => text.to_owned(),
    };
    let code = if special {
        200
    } else {
        [200, 200, 200, 301, 404][d.below(5) as usize]
    };
    a.insert("url".into(), json!(text));
    a.insert("last_final_url".into(), json!(final_url));
    a.insert("last_http_response_code".into(), json!(code));
    a.insert("title".into(), json!(pick(&mut d, &TITLES)));
    a.insert("categories".into(), categories(&mut d, verdict));
    let host = WebUrl::parse(text).ok().map(|u| match u.host() {
        crate::observable::UrlHost::Name(name) => name.to_string(),
        crate::observable::UrlHost::Ip(ip) => ip.to_string(),
    });
    if let Some(tld) = host.as_deref().and_then(|h| h.rsplit('.').next()) {
        a.insert("tld".into(), json!(tld));
    }
    let first = analysed_at - d.between(0, 3000) * DAY;
    a.insert("first_submission_date".into(), json!(first));
    a.insert("last_submission_date".into(), json!(analysed_at));
    a.insert("times_submitted".into(), json!(d.between(1, 5000)));
    json!({
        "id": id,
        "type": "url",
        "links": {"self": format!("https://www.virustotal.com/api/v3/urls/{id}")},
        "attributes": a,
    })
}

/// md5, sha1 and sha256 of the file `seed` names: the seed in its own slot, the others derived.
fn file_hashes(seed: &str) -> [String; 3] {
    if EICAR.contains(&seed) {
        return EICAR.map(str::to_owned);
    }
    let derive = |len: usize, kind: HashKind| -> String {
        match FileHash::parse(seed) {
            Ok(hash) if hash.kind() == kind => seed.to_owned(),
            _ => {
                let digest = Sha256::digest(format!("{}:{seed}", kind.as_str()));
                hex::encode(digest).repeat(2)[..len].to_owned()
            }
        }
    };
    [
        derive(32, HashKind::Md5),
        derive(40, HashKind::Sha1),
        derive(64, HashKind::Sha256),
    ]
}

fn file(seed: &str) -> Value {
    let eicar = EICAR.contains(&seed);
    let [md5, sha1, sha256] = file_hashes(seed);
    let mut d = Draws::new(b"file", seed.as_bytes());
    let verdict = if eicar {
        Verdict::Malicious
    } else {
        verdict(&mut d, false)
    };
    let mut a = Map::new();
    let analysed_at = reputed(&mut d, verdict, false, &mut a);
    // File analyses carry buckets the other types lack.
    if let Some(stats) = a.get_mut("last_analysis_stats") {
        stats["type-unsupported"] = json!(d.between(0, 8));
        stats["failure"] = json!(d.between(0, 1));
        stats["confirmed-timeout"] = json!(0);
    }
    let (description, extension, type_tag) = FILE_TYPES[d.below(FILE_TYPES.len() as u64) as usize];
    let names: Vec<String> = (0..d.between(1, 15))
        .map(|i| format!("sample-{}{i}.{extension}", &sha256[..6]))
        .collect();
    a.insert("md5".into(), json!(md5));
    a.insert("sha1".into(), json!(sha1));
    a.insert("sha256".into(), json!(sha256));
    a.insert("size".into(), json!(d.between(68, 5_000_000)));
    a.insert("type_description".into(), json!(description));
    a.insert("type_extension".into(), json!(extension));
    a.insert("type_tag".into(), json!(type_tag));
    if d.below(5) != 0 {
        a.insert("meaningful_name".into(), json!(names[0]));
    }
    a.insert("names".into(), json!(names));
    if verdict != Verdict::Harmless {
        let (category, family) = THREATS[d.below(THREATS.len() as u64) as usize];
        a.insert(
            "popular_threat_classification".into(),
            json!({
                "suggested_threat_label": format!("{category}.{family}"),
                "popular_threat_category": [{"value": category, "count": d.between(2, 20)}],
                "popular_threat_name": [{"value": family, "count": d.between(2, 20)}],
            }),
        );
    }
    let first = analysed_at - d.between(0, 3000) * DAY;
    a.insert("first_submission_date".into(), json!(first));
    a.insert("times_submitted".into(), json!(d.between(1, 500)));
    json!({
        "id": sha256,
        "type": "file",
        "links": {"self": format!("https://www.virustotal.com/api/v3/files/{sha256}")},
        "attributes": a,
    })
}

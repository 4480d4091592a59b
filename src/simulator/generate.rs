//! Deterministic VirusTotal IP objects: the same address always gets the same answer.
//!
//! Everything is drawn from a stable hash of the address (FNV-1a, then splitmix64), never from
//! `RandomState` or the clock, so answers are identical across runs, machines and Rust versions.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::{Map, Value, json};

use super::tables::{CLOUDFLARE_AU, ENGINES, GOOGLE, OWNERS, Owner, QUAD9};

/// Newest `last_analysis_date` handed out (2026-07-29, the date of the newest real capture);
/// older analyses are spread over the year before it.
pub(super) const NEWEST_ANALYSIS: i64 = 1_785_340_799;
pub(super) const DAY: i64 = 86_400;

/// Well-known resolvers that always exist and are always clean, so demos and tests can rely on them.
const SPECIAL: [IpAddr; 4] = [
    IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)),
    IpAddr::V4(Ipv4Addr::new(1, 1, 1, 1)),
    IpAddr::V4(Ipv4Addr::new(9, 9, 9, 9)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888)),
];

/// What the simulator answers for an IP with no fault: Some(json object) or None for 404.
pub fn ip_object(ip: IpAddr) -> Option<Value> {
    is_known(ip).then(|| build(ip))
}

/// Whether VirusTotal has seen this address (about 7 in 8; the special ones always).
pub(crate) fn is_known(ip: IpAddr) -> bool {
    SPECIAL.contains(&ip) || Draws::new(b"unknown", &octets(ip)).below(8) != 0
}

/// The object for `ip` whether or not it is unknown (faults reuse it to build broken answers).
pub(crate) fn build(ip: IpAddr) -> Value {
    let place = place(ip);
    let special = SPECIAL.contains(&ip);
    let mut d = Draws::new(b"object", &octets(ip));
    let verdict = match d.below(10) {
        _ if special => Verdict::Harmless,
        0 => Verdict::Malicious,
        1 => Verdict::Suspicious,
        _ => Verdict::Harmless,
    };
    let without_owner = !special && d.below(20) == 0;
    // Early v3 answers (2019) had no analysis at all; a few addresses still look like that.
    let legacy = !special && d.below(25) == 0;
    let with_jarm = special || d.below(4) != 0;
    let analysed_at = NEWEST_ANALYSIS - d.between(0, 365) * DAY - d.between(0, DAY - 1);

    let mut a = Map::new();
    a.insert("network".into(), json!(place.cidr));
    a.insert("regional_internet_registry".into(), json!(place.owner.rir));
    a.insert(
        "reputation".into(),
        json!(reputation(&mut d, verdict, special)),
    );
    a.insert("total_votes".into(), votes(&mut d, verdict, special));
    a.insert("whois".into(), json!(whois(&place)));
    a.insert(
        "whois_date".into(),
        json!(analysed_at - d.between(1, 60) * DAY),
    );
    if !without_owner {
        a.insert("asn".into(), json!(place.owner.asn));
        a.insert("as_owner".into(), json!(place.owner.as_owner));
        a.insert("country".into(), json!(place.owner.country));
        a.insert("continent".into(), json!(place.owner.continent));
    }
    if !legacy {
        let (malicious, suspicious) = match verdict {
            Verdict::Malicious => (d.between(4, 20), d.between(0, 3)),
            Verdict::Suspicious => (d.between(1, 2), d.between(0, 1)),
            Verdict::Harmless => (0, 0),
        };
        let (results, stats) = analysis(&mut d, malicious as usize, suspicious as usize);
        a.insert("last_analysis_results".into(), results);
        a.insert("last_analysis_stats".into(), stats);
        a.insert("last_analysis_date".into(), json!(analysed_at));
        let modified = analysed_at + d.between(0, 3 * DAY);
        a.insert("last_modification_date".into(), json!(modified));
        a.insert("tags".into(), tags(&mut d, verdict));
        if with_jarm {
            a.insert("jarm".into(), json!(jarm(&mut d)));
        }
    }
    json!({
        "id": ip.to_string(),
        "type": "ip_address",
        "links": {"self": format!("https://www.virustotal.com/api/v3/ip_addresses/{ip}")},
        "attributes": a,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Harmless,
    Suspicious,
    Malicious,
}

pub(super) fn reputation(d: &mut Draws, verdict: Verdict, special: bool) -> i64 {
    match verdict {
        _ if special => d.between(100, 600),
        Verdict::Harmless if d.below(4) == 0 => d.between(-1, 10),
        Verdict::Harmless => 0,
        Verdict::Suspicious => d.between(-10, 0),
        Verdict::Malicious => d.between(-90, -5),
    }
}

pub(super) fn votes(d: &mut Draws, verdict: Verdict, special: bool) -> Value {
    let (harmless, malicious) = match verdict {
        _ if special => (d.between(50, 300), d.between(0, 60)),
        Verdict::Harmless => (d.between(0, 3), d.between(0, 1)),
        Verdict::Suspicious => (d.between(0, 2), d.between(0, 3)),
        Verdict::Malicious => (d.between(0, 1), d.between(1, 25)),
    };
    json!({"harmless": harmless, "malicious": malicious})
}

pub(super) fn tags(d: &mut Draws, verdict: Verdict) -> Value {
    const BAD: [&str; 4] = ["malware", "c2", "botnet", "scanner"];
    let tags: Vec<&str> = match verdict {
        Verdict::Malicious => match BAD[d.below(BAD.len() as u64) as usize] {
            "malware" => vec!["malware"],
            other => vec!["malware", other],
        },
        Verdict::Suspicious if d.below(2) == 0 => vec!["suspicious-udp"],
        Verdict::Harmless if d.below(10) == 0 => vec!["suspicious-udp"],
        _ => vec![],
    };
    json!(tags)
}

/// One verdict per engine, and stats that add up to exactly those verdicts.
pub(super) fn analysis(d: &mut Draws, malicious: usize, suspicious: usize) -> (Value, Value) {
    const BAD_RESULTS: [&str; 3] = ["malware", "malicious", "phishing"];
    // A partial Fisher-Yates shuffle picks which engines flag the address, without retries.
    let mut order: Vec<usize> = (0..ENGINES.len()).collect();
    let flagged = (malicious + suspicious).min(order.len());
    for i in 0..flagged {
        let j = i + d.below((order.len() - i) as u64) as usize;
        order.swap(i, j);
    }
    let mut category = vec![""; ENGINES.len()];
    let mut result = vec![""; ENGINES.len()];
    for (rank, &engine) in order.iter().enumerate() {
        (category[engine], result[engine]) = if rank < malicious {
            ("malicious", BAD_RESULTS[d.below(3) as usize])
        } else if rank < flagged {
            ("suspicious", "suspicious")
        } else if d.below(5) < 3 {
            ("harmless", "clean")
        } else {
            ("undetected", "unrated")
        };
    }
    let mut results = Map::new();
    for (i, name) in ENGINES.iter().enumerate() {
        let entry = json!({
            "method": "blacklist",
            "engine_name": name,
            "category": category[i],
            "result": result[i],
        });
        results.insert((*name).to_string(), entry);
    }
    let count = |c: &str| category.iter().filter(|x| **x == c).count();
    let stats = json!({
        "malicious": count("malicious"),
        "suspicious": count("suspicious"),
        "undetected": count("undetected"),
        "harmless": count("harmless"),
        "timeout": 0,
    });
    (Value::Object(results), stats)
}

fn jarm(d: &mut Draws) -> String {
    let mut hex: String = (0..4).map(|_| format!("{:016x}", d.next())).collect();
    hex.truncate(62);
    hex
}

/// The network an address belongs to and who owns it.
struct Place {
    owner: Owner,
    cidr: String,
    first: IpAddr,
    last: IpAddr,
}

/// Owners are drawn per network (/24, or /48 for IPv6), so neighbouring addresses agree.
fn place(ip: IpAddr) -> Place {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            let owner = match [a, b, c] {
                [8, 8, 8] => GOOGLE,
                [1, 1, 1] => CLOUDFLARE_AU,
                [9, 9, 9] => QUAD9,
                prefix => pick(&mut Draws::new(b"net4", &prefix)),
            };
            Place {
                owner,
                cidr: format!("{a}.{b}.{c}.0/24"),
                first: IpAddr::V4(Ipv4Addr::new(a, b, c, 0)),
                last: IpAddr::V4(Ipv4Addr::new(a, b, c, 255)),
            }
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mut d = Draws::new(b"net6", &v6.octets()[..6]);
            let (owner, len) = if bits >> 96 == 0x2001_4860 {
                // The real capture of 2001:4860:4860::8888 says 2001:4860:4840::/42.
                (GOOGLE, 42)
            } else {
                (pick(&mut d), 32 + d.below(17) as u32)
            };
            let mask = u128::MAX << (128 - len);
            let first = Ipv6Addr::from(bits & mask);
            Place {
                owner,
                cidr: format!("{first}/{len}"),
                first: IpAddr::V6(first),
                last: IpAddr::V6(Ipv6Addr::from(bits | !mask)),
            }
        }
    }
}

fn pick(d: &mut Draws) -> Owner {
    OWNERS[d.below(OWNERS.len() as u64) as usize]
}

/// A whois record in the registry's own style (ARIN key/value, or RPSL for the others).
fn whois(p: &Place) -> String {
    let o = &p.owner;
    if o.rir == "ARIN" {
        format!(
            "NetRange: {} - {}\nCIDR: {}\nNetName: {}\nNetType: Direct Allocation\n\
             OriginAS: AS{}\nOrganization: {}\nRegDate: 2012-03-14\nUpdated: 2023-12-28\n\
             OrgName: {}\nCountry: {}\nOrgAbuseEmail: abuse@{}\n",
            p.first, p.last, p.cidr, o.netname, o.asn, o.as_owner, o.as_owner, o.country, o.domain
        )
    } else {
        let (key, source) = match p.first {
            IpAddr::V4(_) => ("inetnum", o.rir.trim_end_matches(" NCC")),
            IpAddr::V6(_) => ("inet6num", o.rir.trim_end_matches(" NCC")),
        };
        let range = match p.first {
            IpAddr::V4(_) => format!("{} - {}", p.first, p.last),
            IpAddr::V6(_) => p.cidr.clone(),
        };
        format!(
            "{key}: {range}\nnetname: {}\ndescr: {}\ncountry: {}\nstatus: ASSIGNED PA\n\
             mnt-by: MNT-AS{}\ncreated: 2014-06-02T09:12:44Z\nlast-modified: 2024-01-15T10:03:21Z\n\
             source: {source}\norigin: AS{}\nabuse-mailbox: abuse@{}\n",
            o.netname, o.as_owner, o.country, o.asn, o.asn, o.domain
        )
    }
}

fn octets(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// A tiny deterministic generator: FNV-1a of (salt, bytes) seeds a splitmix64 sequence.
pub(super) struct Draws(u64);

impl Draws {
    pub(super) fn new(salt: &[u8], bytes: &[u8]) -> Self {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in salt.iter().chain(bytes) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Draws(hash)
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A value in `lo..=hi`.
    pub(super) fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below(hi.abs_diff(lo) + 1) as i64
    }
}

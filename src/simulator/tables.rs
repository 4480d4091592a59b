//! The fixed tables the simulator draws from: networks (who owns an address), engines, and the
//! registrars, categories, titles, file types and threats of domain, URL and file objects.

/// One autonomous system an address can belong to, with what VirusTotal reports about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner {
    pub asn: u32,
    pub as_owner: &'static str,
    pub country: &'static str,
    pub continent: &'static str,
    pub rir: &'static str,
    /// Registry network name, used in the whois text.
    pub netname: &'static str,
    /// Domain of the abuse mailbox in the whois text.
    pub domain: &'static str,
}

const fn owner(
    asn: u32,
    as_owner: &'static str,
    country: &'static str,
    continent: &'static str,
    rir: &'static str,
    netname: &'static str,
    domain: &'static str,
) -> Owner {
    Owner {
        asn,
        as_owner,
        country,
        continent,
        rir,
        netname,
        domain,
    }
}

pub(crate) const GOOGLE: Owner = owner(
    15169,
    "Google LLC",
    "US",
    "NA",
    "ARIN",
    "GOGL",
    "google.com",
);

// 1.1.1.1 is registered through APNIC and VirusTotal places it in Australia (see the 2019 capture).
pub(crate) const CLOUDFLARE_AU: Owner = owner(
    13335,
    "CLOUDFLARENET",
    "AU",
    "OC",
    "APNIC",
    "APNIC-LABS",
    "cloudflare.com",
);

pub(crate) const QUAD9: Owner = owner(
    19281,
    "QUAD9-AS-1",
    "CH",
    "EU",
    "ARIN",
    "QUAD9",
    "quad9.net",
);

/// Networks drawn for ordinary addresses; a spread of hosting, carrier and regional ISPs on every RIR.
pub(crate) const OWNERS: [Owner; 16] = [
    GOOGLE,
    owner(
        13335,
        "CLOUDFLARENET",
        "US",
        "NA",
        "ARIN",
        "CLOUDFLARENET",
        "cloudflare.com",
    ),
    owner(
        16509,
        "AMAZON-02",
        "US",
        "NA",
        "ARIN",
        "AMAZON-IAD",
        "amazonaws.com",
    ),
    owner(
        8075,
        "MICROSOFT-CORP-MSN-AS-BLOCK",
        "US",
        "NA",
        "ARIN",
        "MSFT",
        "microsoft.com",
    ),
    owner(
        14061,
        "DIGITALOCEAN-ASN",
        "US",
        "NA",
        "ARIN",
        "DIGITALOCEAN",
        "digitalocean.com",
    ),
    owner(
        24940,
        "Hetzner Online GmbH",
        "DE",
        "EU",
        "RIPE NCC",
        "HETZNER-fsn1-dc14",
        "hetzner.com",
    ),
    owner(16276, "OVH SAS", "FR", "EU", "RIPE NCC", "OVH", "ovh.net"),
    owner(
        3320,
        "Deutsche Telekom AG",
        "DE",
        "EU",
        "RIPE NCC",
        "DTAG-DIAL",
        "telekom.de",
    ),
    owner(
        12389,
        "Rostelecom",
        "RU",
        "EU",
        "RIPE NCC",
        "RT-BROADBAND",
        "rt.ru",
    ),
    owner(
        9009,
        "M247 Europe SRL",
        "RO",
        "EU",
        "RIPE NCC",
        "M247-EU",
        "m247.com",
    ),
    owner(
        45102,
        "Alibaba US Technology Co., Ltd.",
        "CN",
        "AS",
        "APNIC",
        "ALICLOUD",
        "alibaba-inc.com",
    ),
    owner(
        4134,
        "Chinanet",
        "CN",
        "AS",
        "APNIC",
        "CHINANET-GD",
        "chinatelecom.cn",
    ),
    owner(
        4766,
        "Korea Telecom",
        "KR",
        "AS",
        "APNIC",
        "KORNET",
        "kt.com",
    ),
    owner(
        1221,
        "Telstra Limited",
        "AU",
        "OC",
        "APNIC",
        "TELSTRA",
        "telstra.net",
    ),
    owner(
        26599,
        "TELEFONICA BRASIL S.A",
        "BR",
        "SA",
        "LACNIC",
        "VIVO",
        "telefonica.com.br",
    ),
    owner(
        36994,
        "Vodacom",
        "ZA",
        "AF",
        "AFRINIC",
        "VODACOM-ZA",
        "vodacom.co.za",
    ),
];

/// Engine names as they appear in a real 2026 IP answer (91 engines; the answer's size matters
/// for benchmarks, so the count is kept close to VirusTotal's).
pub(crate) const ENGINES: [&str; 91] = [
    "Acronis",
    "0xSI_f33d",
    "Abusix",
    "ADMINUSLabs",
    "Axur",
    "ChainPatrol",
    "Criminal IP",
    "AILabs (MONITORAPP)",
    "AlienVault",
    "alphaMountain.ai",
    "AlphaSOC",
    "Antiy-AVL",
    "ArcSight Threat Intelligence",
    "AutoShun",
    "Bfore.Ai PreCrime",
    "BitDefender",
    "Bkav",
    "Blueliv",
    "Certego",
    "Chong Lua Dao",
    "CINS Army",
    "Cluster25",
    "CRDF",
    "CSIS Security Group",
    "Snort IP sample list",
    "CMC Threat Intelligence",
    "CTX AI",
    "Cyan",
    "Cyble",
    "CyRadar",
    "DNS8",
    "Dr.Web",
    "Ermes",
    "ESET",
    "ESTsecurity",
    "EmergingThreats",
    "Emsisoft",
    "Forcepoint ThreatSeeker",
    "Fortinet",
    "Fortra",
    "G-Data",
    "GCP Abuse Intelligence",
    "Google Safe Browsing",
    "GreenSnow",
    "GreyNoise",
    "Gridinsoft",
    "Guardpot",
    "Heimdal Security",
    "Hunt.io Intelligence",
    "IPsum",
    "Juniper Networks",
    "Kaspersky",
    "LevelBlue",
    "Lionic",
    "Lumu",
    "MalwarePatrol",
    "MalwareURL",
    "Malwared",
    "Mimecast",
    "Netcraft",
    "OpenPhish",
    "Phishing Database",
    "PhishFort",
    "Phishtank",
    "PREBYTES",
    "PrecisionSec",
    "Quick Heal",
    "Quttera",
    "SafeToOpen",
    "Sansec eComscan",
    "Scantitan",
    "SCUMWARE.org",
    "Seclookup",
    "SecureBrain",
    "SOCRadar",
    "Sophos",
    "StopForumSpam",
    "Sucuri SiteCheck",
    "ThreatHive",
    "URLhaus",
    "URLQuery",
    "Viettel Threat Intelligence",
    "VIPRE",
    "VX Vault",
    "ViriBack",
    "Webroot",
    "Yandex Safebrowsing",
    "ZeroCERT",
    "desenmascara.me",
    "Xcitium Verdict Cloud",
    "ZeroFox",
];

/// Registrars domain objects name.
pub(crate) const REGISTRARS: [&str; 6] = [
    "MarkMonitor Inc.",
    "GoDaddy.com, LLC",
    "NameCheap, Inc.",
    "Cloudflare, Inc.",
    "Gandi SAS",
    "Tucows Domains Inc.",
];

/// Categories vendors give clean sites.
pub(crate) const SAFE_CATEGORIES: [&str; 6] = [
    "information technology",
    "search engines",
    "news",
    "business",
    "education",
    "shopping",
];

/// Page titles of fetched URLs.
pub(crate) const TITLES: [&str; 5] = [
    "Example Domain",
    "Home",
    "Login",
    "404 Not Found",
    "Welcome",
];

/// File types: VirusTotal's description, extension and type tag.
pub(crate) const FILE_TYPES: [(&str, &str, &str); 6] = [
    ("Win32 EXE", "exe", "peexe"),
    ("PDF", "pdf", "pdf"),
    ("Office Open XML Document", "docx", "docx"),
    ("ZIP", "zip", "zip"),
    ("Powershell", "ps1", "powershell"),
    ("ELF", "elf", "elf"),
];

/// Threat category and family pairs for detected files.
pub(crate) const THREATS: [(&str, &str); 5] = [
    ("trojan", "emotet"),
    ("ransomware", "hive"),
    ("downloader", "guloader"),
    ("virus", "eicar/test"),
    ("miner", "xmrig"),
];

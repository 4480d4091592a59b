//! VirusTotal's endpoint table: for each observable type, the API path, the object type it
//! answers with, the usage endpoint name it is counted under and the GUI page that shows it.
//!
//! One table, so adding a type is one row, and the client, the usage counters and the result
//! links cannot disagree about where a type lives.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::observable::{Observable, ObservableType, WebUrl};

/// The GUI root every `link` in a result starts with.
const GUI: &str = "https://www.virustotal.com/gui";

/// One object collection of the API (`GET {base}/{collection}/{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    IpAddresses,
    Domains,
    Urls,
    Files,
}

struct Row {
    endpoint: Endpoint,
    kind: ObservableType,
    collection: &'static str,
    object_type: &'static str,
    gui: &'static str,
}

const TABLE: [Row; 4] = [
    row(
        Endpoint::IpAddresses,
        ObservableType::Ip,
        "ip_addresses",
        "ip_address",
        "ip-address",
    ),
    row(
        Endpoint::Domains,
        ObservableType::Domain,
        "domains",
        "domain",
        "domain",
    ),
    row(Endpoint::Urls, ObservableType::Url, "urls", "url", "url"),
    row(
        Endpoint::Files,
        ObservableType::File,
        "files",
        "file",
        "file",
    ),
];

const fn row(
    endpoint: Endpoint,
    kind: ObservableType,
    collection: &'static str,
    object_type: &'static str,
    gui: &'static str,
) -> Row {
    Row {
        endpoint,
        kind,
        collection,
        object_type,
        gui,
    }
}

impl Endpoint {
    /// Every endpoint, in table order.
    pub const ALL: [Endpoint; 4] = [
        Endpoint::IpAddresses,
        Endpoint::Domains,
        Endpoint::Urls,
        Endpoint::Files,
    ];

    /// The endpoint that answers for observables of `kind`.
    pub fn of(kind: ObservableType) -> Endpoint {
        Self::row_where(|row| row.kind == kind).endpoint
    }

    /// The path segment, which is also the name usage is counted under (`ip_addresses`,
    /// `domains`, `urls`, `files`).
    pub fn name(self) -> &'static str {
        self.row().collection
    }

    /// The `data.type` of the object this endpoint answers with.
    pub fn object_type(self) -> &'static str {
        self.row().object_type
    }

    fn row(self) -> &'static Row {
        Self::row_where(|row| row.endpoint == self)
    }

    fn row_where(found: impl Fn(&Row) -> bool) -> &'static Row {
        // Every enum value has its row; a unit test walks them all.
        TABLE.iter().find(|row| found(row)).unwrap_or(&TABLE[0])
    }
}

/// Where to ask about one observable: the endpoint and the id that goes after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub endpoint: Endpoint,
    /// The object id as it appears in the path (not yet percent-encoded).
    pub id: String,
}

impl Target {
    /// The endpoint and id for `observable`: the canonical text, except for a URL, whose id is
    /// the URL in unpadded base64url (VirusTotal's documented identifier; it canonicalises
    /// the URL on its side).
    pub fn of(observable: &Observable) -> Target {
        let id = match observable {
            Observable::Url(url) => url_id(url),
            other => other.canonical(),
        };
        Target {
            endpoint: Endpoint::of(observable.kind()),
            id,
        }
    }
}

/// VirusTotal's id for a URL: the URL in unpadded base64url.
pub fn url_id(url: &WebUrl) -> String {
    URL_SAFE_NO_PAD.encode(url.as_str())
}

/// The VirusTotal GUI page of `observable`. URL pages are addressed by the SHA-256 of the URL,
/// which matches VirusTotal's own id whenever its canonical form equals ours (the usual case).
pub fn gui_link(observable: &Observable) -> String {
    let mut link = Vec::with_capacity(GUI.len() + 80);
    write_gui_link(&mut link, observable);
    String::from_utf8(link).expect("links are ASCII")
}

/// Appends [`gui_link`] to `out` (the renderers write one into every result).
pub fn write_gui_link(out: &mut Vec<u8>, observable: &Observable) {
    out.extend_from_slice(GUI.as_bytes());
    out.push(b'/');
    out.extend_from_slice(Endpoint::of(observable.kind()).row().gui.as_bytes());
    out.push(b'/');
    match observable {
        Observable::Url(url) => {
            let mut id = [0u8; 64];
            hex::encode_to_slice(Sha256::digest(url.as_str()), &mut id)
                .expect("a SHA-256 is 64 hex digits");
            out.extend_from_slice(&id);
        }
        other => other.write_canonical(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observable(text: &str) -> Observable {
        Observable::infer(text).unwrap()
    }

    #[test]
    fn every_endpoint_has_its_own_row_and_type() {
        for endpoint in Endpoint::ALL {
            assert_eq!(endpoint.row().endpoint, endpoint);
            assert_eq!(Endpoint::of(endpoint.row().kind), endpoint);
        }
        let names: Vec<_> = Endpoint::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(names, ["ip_addresses", "domains", "urls", "files"]);
    }

    #[test]
    fn each_type_is_asked_at_its_documented_path() {
        let cases = [
            ("8.8.8.8", Endpoint::IpAddresses, "8.8.8.8"),
            ("Example.COM", Endpoint::Domains, "example.com"),
            // The fixture `url_http_example.com_2026-07_paidkey.json` was fetched at this id.
            (
                "http://example.com",
                Endpoint::Urls,
                "aHR0cDovL2V4YW1wbGUuY29tLw",
            ),
            (
                "44D88612FEA8A8F36DE82E1278ABB02F",
                Endpoint::Files,
                "44d88612fea8a8f36de82e1278abb02f",
            ),
        ];
        for (text, endpoint, id) in cases {
            let target = Target::of(&observable(text));

            assert_eq!(
                (target.endpoint, target.id.as_str()),
                (endpoint, id),
                "{text}"
            );
        }
    }

    #[test]
    fn links_point_at_the_gui_page_of_each_type() {
        assert_eq!(
            gui_link(&observable("8.8.8.8")),
            "https://www.virustotal.com/gui/ip-address/8.8.8.8"
        );
        assert_eq!(
            gui_link(&observable("github.com")),
            "https://www.virustotal.com/gui/domain/github.com"
        );
        // VirusTotal's own id for this URL, as its answer in the fixtures says.
        assert_eq!(
            gui_link(&observable("http://example.com/")),
            "https://www.virustotal.com/gui/url/2a1b402420ef46577471cdc7409b0fa2c6a204db316e59ade2d805435489a067"
        );
        assert_eq!(
            gui_link(&observable("44d88612fea8a8f36de82e1278abb02f")),
            "https://www.virustotal.com/gui/file/44d88612fea8a8f36de82e1278abb02f"
        );
    }
}

use super::*;

/// The canonical observables of `text` with the text each was found as.
fn found(text: &str) -> Vec<(String, String)> {
    hits(text)
        .into_iter()
        .map(|h| (h.observable.canonical(), text[h.start..h.end].to_owned()))
        .collect()
}

fn canonical(text: &str) -> Vec<String> {
    found(text).into_iter().map(|(c, _)| c).collect()
}

#[test]
fn each_type_is_found_with_its_exact_span() {
    let text = "ip 8.8.8.8, v6 2001:4860:4860::8888. name Evil-Site.COM; \
                url https://evil.com/a?b=1 and md5 44D88612FEA8A8F36DE82E1278ABB02F.";

    assert_eq!(
        found(text),
        [
            ("8.8.8.8".into(), "8.8.8.8".into()),
            ("2001:4860:4860::8888".into(), "2001:4860:4860::8888".into()),
            ("evil-site.com".into(), "Evil-Site.COM".into()),
            (
                "https://evil.com/a?b=1".into(),
                "https://evil.com/a?b=1".into()
            ),
            (
                "44d88612fea8a8f36de82e1278abb02f".into(),
                "44D88612FEA8A8F36DE82E1278ABB02F".into()
            ),
        ]
    );
}

#[test]
fn defanged_indicators_are_found_as_written() {
    let text = "C2 at hxxps[://]update-check[.]net/gate.php from 45.155.205[.]233 \
                and mail to ops[@]evil(dot)org";

    assert_eq!(
        found(text),
        [
            (
                "https://update-check.net/gate.php".into(),
                "hxxps[://]update-check[.]net/gate.php".into()
            ),
            ("45.155.205.233".into(), "45.155.205[.]233".into()),
            ("evil.org".into(), "evil(dot)org".into()),
        ]
    );
}

#[test]
fn decoys_are_not_observables() {
    for decoy in [
        "version 1.2.3 of report.pdf and file.txt",
        "a.b 1.2.3.4.5 v2.4.1.7 python3.11",
        "at 2026-11-30T10:00:00Z or 2026-11-30T10:00:00.123+01:00",
        "id 550e8400-e29b-41d4-a716-446655440000",
        "uuid 3f2b8c1e-7d4a-4e6b-9c5d-0a1b2c3d4e5f-abcdef0123456789abcdef0123456789",
        "glued x44d88612fea8a8f36de82e1278abb02f and 44d88612fea8a8f36de82e1278abb02f_x",
        "std::vector at 12:30:45 with mac 00:1a:2b:3c:4d:5e",
        "net 10.0.0.0/8 and 2001:db8::/32, bare co.uk and localhost",
        "leading zeros 010.1.1.1, short 127.1, too big 256.1.1.1",
        "java.lang.String and org.apache.log4j",
        "31 hex 44d88612fea8a8f36de82e1278abb02 and 33 hex 44d88612fea8a8f36de82e1278abb02ff",
    ] {
        assert_eq!(canonical(decoy), Vec::<String>::new(), "{decoy}");
    }
}

#[test]
fn a_url_host_is_not_also_a_domain_but_the_same_name_alone_is() {
    assert_eq!(canonical("http://evil.com/x"), ["http://evil.com/x"]);
    assert_eq!(
        canonical("http://evil.com/x then evil.com"),
        ["http://evil.com/x", "evil.com"]
    );
    assert_eq!(
        canonical("http://8.8.8.8/a/44d88612fea8a8f36de82e1278abb02f"),
        ["http://8.8.8.8/a/44d88612fea8a8f36de82e1278abb02f"]
    );
}

#[test]
fn prose_around_a_url_stays_out_of_it() {
    assert_eq!(
        found("(see http://evil.com/a_(b)), or <https://evil.net/>."),
        [
            (
                "http://evil.com/a_(b)".into(),
                "http://evil.com/a_(b)".into()
            ),
            ("https://evil.net/".into(), "https://evil.net/".into()),
        ]
    );
    assert_eq!(
        canonical("\"http://[2001:db8::1]:8080/x\""),
        ["http://[2001:db8::1]:8080/x"]
    );
}

#[test]
fn ports_labels_and_emails_leave_the_observable_alone() {
    assert_eq!(
        canonical("8.8.4.4:53 evil.com:443 md5:44d88612fea8a8f36de82e1278abb02f bob@phish.co.uk"),
        [
            "8.8.4.4",
            "evil.com",
            "44d88612fea8a8f36de82e1278abb02f",
            "phish.co.uk"
        ]
    );
}

#[test]
fn names_need_a_real_public_suffix() {
    assert_eq!(
        canonical("a.github.io github.io bücher.de evil.xn--p1ai grafana.local host.internal"),
        [
            "a.github.io",
            "github.io",
            "xn--bcher-kva.de",
            "evil.xn--p1ai"
        ]
    );
}

#[test]
fn a_ftp_url_is_not_a_url_but_its_host_is_a_name() {
    assert_eq!(canonical("fxp://files[.]evil[.]com/a"), ["files.evil.com"]);
}

#[test]
fn offsets_are_bytes_of_the_original_even_around_multibyte_text() {
    let text = "café → hxxp://évil[.]com/ü ok";
    let hit = &hits(text)[0];

    assert_eq!(&text[hit.start..hit.end], "hxxp://évil[.]com/ü");
    assert_eq!(
        hit.observable,
        Observable::infer("http://évil.com/ü").unwrap()
    );
}

#[test]
fn closing_parentheses_are_balanced_against_the_opening_ones() {
    assert_eq!(
        canonical("((http://evil.com/a_(b)_(c))))"),
        ["http://evil.com/a_(b)_(c)"]
    );
    let many = format!("http://evil.com/{}", ")".repeat(5_000));
    assert_eq!(canonical(&many), ["http://evil.com/"]);
}

#[test]
fn hostile_shapes_are_scanned_in_one_pass() {
    // Each would take minutes if some step were quadratic in its length; none has an observable.
    for hostile in [
        format!("http://a.com/{}", ")".repeat(200_000)),
        format!("http://{}", "(".repeat(200_000)),
        "a.".repeat(100_000),
        "1:".repeat(100_000),
        "1.".repeat(100_000),
        "[.]".repeat(70_000),
        "hxxp[://]".repeat(20_000),
        "f".repeat(200_000),
    ] {
        let found = hits(&hostile);
        assert!(found.len() <= 1, "{:?}", &found[..found.len().min(3)]);
    }
}

#[test]
fn an_ipv6_address_after_a_label_is_found_and_the_label_read_on_its_own() {
    assert_eq!(
        found("dst:2a06:98c1:3121::7 via:evil.com:2001:4860:4860::8888."),
        [
            ("2a06:98c1:3121::7".into(), "2a06:98c1:3121::7".into()),
            ("evil.com".into(), "evil.com".into()),
            ("2001:4860:4860::8888".into(), "2001:4860:4860::8888".into()),
        ]
    );
    for nothing in [
        "ts:10:00:00",
        "mac:00:1a:2b:3c:4d:5e",
        "std::vector",
        "a::b::c",
    ] {
        assert_eq!(canonical(nothing), Vec::<String>::new(), "{nothing}");
    }
}

//! `GET /domains/{domain}` answers into [`DomainReport`].

use std::collections::BTreeMap;

use super::{analysis, non_empty, object, timestamp, wire};
use crate::report::{DnsRecords, DomainReport, PopularityRank};
use crate::virustotal::VtError;

/// Parses a 200 body of `GET /domains/{domain}` into the normalised report.
pub fn parse_domain_report(body: &[u8]) -> Result<DomainReport, VtError> {
    let Some(a) = object::<wire::DomainAttributes>(body, "domain")? else {
        return Ok(DomainReport::default());
    };
    Ok(DomainReport {
        analysis: analysis(
            a.last_analysis_stats,
            a.reputation,
            a.total_votes,
            a.tags,
            a.last_analysis_date,
        )?,
        registrar: non_empty(a.registrar),
        created_at: a
            .creation_date
            .map(|t| timestamp(t, "creation_date"))
            .transpose()?,
        categories: a.categories.map(Into::into),
        dns: a.last_dns_records.map(dns),
        popularity: a.popularity_ranks.and_then(best_rank),
        tld: non_empty(a.tld),
    })
}

/// The values of the record types we report; SOA, TXT and the rest are dropped.
fn dns(records: Vec<wire::domain::DnsRecord>) -> DnsRecords {
    let [mut a, mut aaaa, mut cname, mut mx, mut ns] = <[Vec<Box<str>>; 5]>::default();
    for record in records {
        let list = match &*record.kind {
            "A" => &mut a,
            "AAAA" => &mut aaaa,
            "CNAME" => &mut cname,
            "MX" => &mut mx,
            "NS" => &mut ns,
            _ => continue,
        };
        // A null MX (RFC 7505) comes back as an empty value: there is nothing to pivot on.
        if !record.value.is_empty() {
            list.push(record.value);
        }
    }
    DnsRecords::new([a, aaaa, cname, mx, ns])
}

/// The lowest rank of any list; on a tie the list first in name order, so the pick is stable.
fn best_rank(ranks: BTreeMap<Box<str>, wire::domain::PopularityRank>) -> Option<PopularityRank> {
    ranks
        .into_iter()
        .filter_map(|(source, list)| list.rank.map(|rank| PopularityRank { rank, source }))
        .min_by_key(|p| p.rank)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(attributes: &str) -> Vec<u8> {
        format!(r#"{{"data":{{"id":"example.com","type":"domain","attributes":{attributes}}}}}"#)
            .into_bytes()
    }

    #[test]
    fn only_the_pivot_record_types_are_kept_in_order() {
        let report = parse_domain_report(&body(
            r#"{"last_dns_records":[{"type":"MX","value":"mx2"},{"type":"TXT","value":"v=spf1"},
                {"type":"A","value":"192.0.2.1"},{"type":"MX","value":"mx1","ttl":5},
                {"type":"SOA","value":"ns","rname":"r","serial":1}]}"#,
        ))
        .unwrap();

        let dns = report.dns.unwrap();
        assert_eq!(dns.mx().collect::<Vec<_>>(), ["mx2", "mx1"]);
        assert_eq!(dns.a().collect::<Vec<_>>(), ["192.0.2.1"]);
        assert_eq!(
            dns.aaaa().count() + dns.cname().count() + dns.ns().count(),
            0
        );
    }

    #[test]
    fn the_best_rank_is_the_lowest_and_ties_go_to_the_first_list_by_name() {
        let report = parse_domain_report(&body(
            r#"{"popularity_ranks":{"Majestic":{"rank":7},"Alexa":{"rank":7},"Umbrella":{"rank":9},"Odd":{}}}"#,
        ))
        .unwrap();
        let none = parse_domain_report(&body(r#"{"popularity_ranks":{}}"#)).unwrap();

        assert_eq!(
            report.popularity,
            Some(PopularityRank {
                rank: 7,
                source: "Alexa".into()
            })
        );
        assert_eq!(none.popularity, None);
    }

    #[test]
    fn wrong_types_and_other_objects_are_malformed() {
        for attributes in [
            r#"{"creation_date":"1997"}"#,
            r#"{"categories":{"a":1}}"#,
            r#"{"last_dns_records":[{"type":"A"}]}"#,
            r#"{"popularity_ranks":{"a":{"rank":-1}}}"#,
            r#"{"creation_date":99999999999999999}"#,
        ] {
            assert!(
                matches!(
                    parse_domain_report(&body(attributes)),
                    Err(VtError::Malformed(_))
                ),
                "{attributes}"
            );
        }
        let ip = br#"{"data":{"type":"ip_address","attributes":{}}}"#;
        assert!(matches!(
            parse_domain_report(ip),
            Err(VtError::Malformed(_))
        ));
    }
}

//! What VirusTotal knows about a domain, normalised.

use std::fmt;

use chrono::{DateTime, Utc};

use super::text_list::{TextItems, TextList};
use super::{Analysis, Categories};

/// A domain's report: reputation plus registration, DNS and popularity facts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DomainReport {
    pub analysis: Analysis,
    pub registrar: Option<Box<str>>,
    pub created_at: Option<DateTime<Utc>>,
    /// Vendor → category, as VirusTotal lists them.
    pub categories: Option<Categories>,
    /// The last DNS answers VirusTotal saw, for the record types analysts pivot on.
    pub dns: Option<DnsRecords>,
    /// The best (lowest) rank among the popularity lists.
    pub popularity: Option<PopularityRank>,
    pub tld: Option<Box<str>>,
}

/// Values of the last DNS records, per type, in VirusTotal's order.
///
/// One allocation for all of them: a [`TextList`] of five items (A, AAAA, CNAME, MX and NS
/// values), each item itself an encoded [`TextList`] of that type's values. Nesting the lists,
/// rather than keeping a count per type beside one flat list, keeps the type 16 bytes (the
/// domain report fits the allocator's 192-byte class) and puts no limit on how many values a
/// type may have.
#[derive(Clone, PartialEq, Eq)]
pub struct DnsRecords(TextList);

/// Values of one record type, as [`DnsRecords`] gives them.
pub type DnsValues<'a> = TextItems<'a>;

impl DnsRecords {
    /// The records from the values of each type, in the order A, AAAA, CNAME, MX, NS.
    pub fn new<L, S>(lists: [L; 5]) -> Self
    where
        L: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let lists = lists.map(|values| values.into_iter().collect::<TextList>());
        Self(lists.iter().map(TextList::encoded).collect())
    }

    /// A values (IPv4 addresses).
    pub fn a(&self) -> DnsValues<'_> {
        self.values(0)
    }

    /// AAAA values (IPv6 addresses).
    pub fn aaaa(&self) -> DnsValues<'_> {
        self.values(1)
    }

    /// CNAME values.
    pub fn cname(&self) -> DnsValues<'_> {
        self.values(2)
    }

    /// MX values.
    pub fn mx(&self) -> DnsValues<'_> {
        self.values(3)
    }

    /// NS values.
    pub fn ns(&self) -> DnsValues<'_> {
        self.values(4)
    }

    fn values(&self, kind: usize) -> DnsValues<'_> {
        // `new` always writes the five lists.
        TextItems::of_encoded(self.0.iter().nth(kind).unwrap_or_default())
    }
}

impl Default for DnsRecords {
    /// No values of any type.
    fn default() -> Self {
        Self::new([[""; 0]; 5])
    }
}

impl fmt::Debug for DnsRecords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list(values: DnsValues<'_>) -> Vec<&str> {
            values.collect()
        }
        f.debug_struct("DnsRecords")
            .field("a", &list(self.a()))
            .field("aaaa", &list(self.aaaa()))
            .field("cname", &list(self.cname()))
            .field("mx", &list(self.mx()))
            .field("ns", &list(self.ns()))
            .finish()
    }
}

/// A rank and the list that gave it (e.g. `Cisco Umbrella`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopularityRank {
    pub rank: u32,
    pub source: Box<str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_keeps_its_own_values_in_order() {
        let dns = DnsRecords::new([
            vec!["192.0.2.1", "192.0.2.2"],
            vec![],
            vec!["alias:with:colons"],
            vec![],
            vec!["ns1.example", "ns2.example"],
        ]);

        assert_eq!(dns.a().collect::<Vec<_>>(), ["192.0.2.1", "192.0.2.2"]);
        assert_eq!(dns.aaaa().count(), 0);
        assert_eq!(dns.cname().collect::<Vec<_>>(), ["alias:with:colons"]);
        assert_eq!(dns.mx().count(), 0);
        assert_eq!(dns.ns().collect::<Vec<_>>(), ["ns1.example", "ns2.example"]);
    }

    #[test]
    fn no_values_equal_the_default() {
        assert_eq!(DnsRecords::new([[""; 0]; 5]), DnsRecords::default());
        assert_eq!(DnsRecords::default().ns().count(), 0);
    }
}

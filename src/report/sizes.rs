//! How big the cached shapes are in memory (see the module doc of [`crate::report`]).

#[cfg(test)]
mod tests {
    use std::mem::size_of;

    use crate::answer::{Answer, Entry};
    use crate::observable::Observable;
    use crate::report::*;

    #[test]
    fn print_sizes() {
        eprintln!(
            "Entry {} Answer {} Report {} Ip {} Domain {} Url {} File {} Analysis {} Observable {} Dns {} Threat {} Pop {}",
            size_of::<Entry>(),
            size_of::<Answer>(),
            size_of::<Report>(),
            size_of::<IpReport>(),
            size_of::<DomainReport>(),
            size_of::<UrlReport>(),
            size_of::<FileReport>(),
            size_of::<Analysis>(),
            size_of::<Observable>(),
            size_of::<DnsRecords>(),
            size_of::<ThreatClassification>(),
            size_of::<PopularityRank>(),
        );
    }
}

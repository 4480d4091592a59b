//! The in-memory sizes of the shapes every cached entry holds, held by a test: the cache keeps
//! up to a million entries, and a field added carelessly costs its size in each of them.

#[cfg(test)]
mod tests {
    use std::mem::size_of;

    use crate::answer::{Answer, Entry};
    use crate::observable::Observable;
    use crate::report::{DomainReport, FileReport, IpReport, Report, UrlReport};

    #[test]
    fn an_entry_fits_the_allocators_224_byte_class_with_its_arc_counts() {
        // `Arc<Entry>` allocates the entry and two counts; at most 224 bytes is the size class
        // below 256 in mimalloc (and glibc rounds to 16 as well). Every entry, found or not,
        // of every type, pays this once.
        assert!(
            size_of::<Entry>() + 2 * size_of::<usize>() <= 224,
            "Entry is {} bytes",
            size_of::<Entry>()
        );
    }

    #[test]
    fn an_answer_is_no_larger_than_an_ip_report() {
        // The domain, URL and file reports are boxed so an IP or not-found answer does not pay
        // for the largest report's size.
        assert_eq!(size_of::<Answer>(), size_of::<IpReport>());
        assert_eq!(size_of::<Report>(), size_of::<IpReport>());
        assert!(size_of::<IpReport>() <= 144);
    }

    #[test]
    fn the_boxed_reports_fit_their_size_classes() {
        // Each is one allocation per cached answer of its type (classes 256, 160 and 224).
        assert!(size_of::<DomainReport>() <= 256);
        assert!(size_of::<UrlReport>() <= 160);
        assert!(size_of::<FileReport>() <= 224);
    }

    #[test]
    fn a_key_is_at_most_48_bytes() {
        // moka holds each key (three per found file) beside its own bookkeeping.
        assert!(size_of::<Observable>() <= 48);
    }
}

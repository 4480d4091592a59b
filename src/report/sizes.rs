//! The in-memory sizes of the shapes every cached entry holds, held by a test: the cache keeps
//! up to a million entries, and a field added carelessly costs its size in each of them.

#[cfg(test)]
mod tests {
    use std::mem::size_of;

    use crate::answer::{Answer, Entry, Prerendered};
    use crate::observable::Observable;
    use crate::report::{
        Categories, DnsRecords, DomainReport, FileReport, IpReport, Report, TextList, UrlReport,
    };

    #[test]
    fn an_entry_fits_the_allocators_96_byte_class_with_its_arc_counts() {
        // `Arc<Entry>` allocates the entry and two counts; 96 bytes is a mimalloc size class
        // (the next is 112). Every entry, found or not, of every type, pays this once: with
        // every report boxed it is 88 bytes, where an inline IP report made it 216 (class 224).
        assert!(
            size_of::<Entry>() + 2 * size_of::<usize>() <= 96,
            "Entry is {} bytes",
            size_of::<Entry>()
        );
    }

    #[test]
    fn an_answer_is_a_tag_and_a_pointer() {
        // Every report is boxed, so a not-found answer and a found one of any type cost the
        // same 16 bytes in the entry, and each report only its own size beside it.
        assert_eq!(size_of::<Report>(), 16);
        assert_eq!(size_of::<Answer>(), 16);
        // The rendered part is a pointer until it is rendered (see `Prerendered`).
        assert_eq!(size_of::<Prerendered>(), 16);
    }

    #[test]
    fn the_boxed_reports_fit_their_size_classes() {
        // Each is one allocation per cached answer of its type (mimalloc classes 160, 192,
        // 160 and 224). The domain report fits 192, not 256, because its DNS values are one
        // string rather than five slices.
        assert!(size_of::<IpReport>() <= 144);
        assert!(size_of::<DomainReport>() <= 192);
        assert!(size_of::<UrlReport>() <= 160);
        assert!(size_of::<FileReport>() <= 224);
    }

    #[test]
    fn a_list_of_texts_is_one_pointer_and_a_length() {
        // One allocation for every item, however many (`TextList`).
        assert_eq!(size_of::<TextList>(), 16);
        assert_eq!(size_of::<Option<TextList>>(), 16);
        assert_eq!(size_of::<Option<Categories>>(), 16);
        assert_eq!(size_of::<Option<DnsRecords>>(), 16);
    }

    #[test]
    fn a_key_is_at_most_48_bytes() {
        // moka holds each key (three per found file) beside its own bookkeeping.
        assert!(size_of::<Observable>() <= 48);
    }
}

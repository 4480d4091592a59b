//! A short list of texts held in one allocation, as cached reports keep DNS values, categories,
//! tags and file names.

use std::fmt;

/// Texts in order, all in one exact-size string: each item is its length in bytes (decimal),
/// a `:`, then the item itself.
///
/// A cached report holds a handful of short texts per list; as `Box<[Box<str>]>` each costs a
/// 16-byte slot plus an allocation rounded up to the allocator's size class, where here it
/// costs its length and two or three digits. The length prefix, rather than a separator, lets
/// any text (with `:`, NUL or anything else) come back exactly as it went in; items are cut at
/// char boundaries the prefixes name, so reading needs no `unsafe`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct TextList(Box<str>);

impl TextList {
    /// The items, in the order they were given.
    pub fn iter(&self) -> TextItems<'_> {
        TextItems(&self.0)
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The encoded form, to nest this list as one item of another.
    pub(super) fn encoded(&self) -> &str {
        &self.0
    }
}

impl<S: AsRef<str>> FromIterator<S> for TextList {
    fn from_iter<I: IntoIterator<Item = S>>(items: I) -> Self {
        let mut packed = String::new();
        for item in items {
            let item = item.as_ref();
            let mut digits = itoa::Buffer::new();
            packed.push_str(digits.format(item.len()));
            packed.push(':');
            packed.push_str(item);
        }
        // A copy rather than `into_boxed_str`: shrinking in place, mimalloc keeps a block whose
        // new size is at least half its old one, so the list could hold up to twice its length.
        Self(Box::from(packed.as_str()))
    }
}

impl<'a> IntoIterator for &'a TextList {
    type Item = &'a str;
    type IntoIter = TextItems<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Debug for TextList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The items of a [`TextList`], as `&str`.
#[derive(Clone)]
pub struct TextItems<'a>(&'a str);

impl<'a> TextItems<'a> {
    /// The items of a list nested as one item of another (see [`TextList::encoded`]).
    pub(super) fn of_encoded(encoded: &'a str) -> Self {
        Self(encoded)
    }
}

impl<'a> Iterator for TextItems<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        // Only `FromIterator` writes the text, so every prefix is well formed; a malformed one
        // (impossible) ends the iteration rather than panicking.
        let (length, rest) = self.0.split_once(':')?;
        let length: usize = length.parse().ok()?;
        let (item, rest) = (rest.get(..length)?, rest.get(length..)?);
        self.0 = rest;
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_text_comes_back_exactly_in_order() {
        let items = [
            "",
            "a:b",
            "12:x",
            "\0",
            "é€😀",
            "",
            "a much longer item than ten bytes",
        ];

        let list: TextList = items.iter().collect();

        assert_eq!(list.iter().collect::<Vec<_>>(), items);
        assert_eq!(list.len(), items.len());
        assert!(!list.is_empty());
    }

    #[test]
    fn an_empty_list_has_no_items_and_no_allocation() {
        let list: TextList = std::iter::empty::<&str>().collect();

        assert!(list.is_empty());
        assert_eq!(list.iter().next(), None);
        assert_eq!(list, TextList::default());
    }

    #[test]
    fn a_list_of_one_empty_text_is_not_empty() {
        let list: TextList = [""].into_iter().collect();

        assert!(!list.is_empty());
        assert_eq!(list.iter().collect::<Vec<_>>(), [""]);
    }
}

//! Vendor → category pairs, as domain and URL reports carry them.

use std::collections::BTreeMap;

use super::TextList;

/// Vendor → category, sorted by vendor with each vendor once: the order and uniqueness a
/// `BTreeMap` gives, held as one [`TextList`] of vendor, category, vendor, category… because a
/// B-tree leaf costs ~370 bytes even for the two or three pairs a report has, and every cached
/// domain and URL holds one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Categories(TextList);

impl Categories {
    /// The (vendor, category) pairs, in vendor order.
    pub fn iter(&self) -> CategoryPairs<'_> {
        CategoryPairs(self.0.iter())
    }

    /// Number of vendors.
    pub fn len(&self) -> usize {
        self.0.len() / 2
    }

    /// Whether no vendor gave a category.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs as an owned map, as the API body and the store's record hold them.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.iter()
            .map(|(vendor, category)| (vendor.to_owned(), category.to_owned()))
            .collect()
    }
}

impl<K: AsRef<str> + Ord, V: AsRef<str>> From<BTreeMap<K, V>> for Categories {
    fn from(map: BTreeMap<K, V>) -> Self {
        Self(
            map.iter()
                .flat_map(|(vendor, category)| [vendor.as_ref(), category.as_ref()])
                .collect(),
        )
    }
}

/// Sorts by vendor; a vendor given twice keeps its last category, as a map would.
impl<K: AsRef<str> + Ord, V: AsRef<str>> FromIterator<(K, V)> for Categories {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        pairs.into_iter().collect::<BTreeMap<K, V>>().into()
    }
}

impl<'a> IntoIterator for &'a Categories {
    type Item = (&'a str, &'a str);
    type IntoIter = CategoryPairs<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The (vendor, category) pairs of [`Categories`].
#[derive(Clone)]
pub struct CategoryPairs<'a>(super::TextItems<'a>);

impl<'a> Iterator for CategoryPairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        Some((self.0.next()?, self.0.next()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_come_out_in_vendor_order_with_the_last_category_of_a_repeated_vendor() {
        let categories: Categories = [("Sophos", "a"), ("BitDefender", "b"), ("Sophos", "c")]
            .into_iter()
            .collect();

        let pairs: Vec<(&str, &str)> = categories.iter().collect();

        assert_eq!(pairs, [("BitDefender", "b"), ("Sophos", "c")]);
        assert_eq!(categories.len(), 2);
    }
}

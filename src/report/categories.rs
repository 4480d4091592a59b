//! Vendor → category pairs, as domain and URL reports carry them.

use std::collections::BTreeMap;

/// Vendor → category, sorted by vendor with each vendor once: the order and uniqueness a
/// `BTreeMap` gives, held as one exact-size slice because a B-tree leaf costs ~370 bytes even
/// for the two or three pairs a report has, and every cached domain and URL holds one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Categories(Box<[(Box<str>, Box<str>)]>);

impl Categories {
    /// The pairs, in vendor order.
    pub fn iter(&self) -> std::slice::Iter<'_, (Box<str>, Box<str>)> {
        self.0.iter()
    }

    /// Number of vendors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no vendor gave a category.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<BTreeMap<Box<str>, Box<str>>> for Categories {
    fn from(map: BTreeMap<Box<str>, Box<str>>) -> Self {
        Self(map.into_iter().collect())
    }
}

/// Sorts by vendor; a vendor given twice keeps its last category, as a map would.
impl<K: Into<Box<str>>, V: Into<Box<str>>> FromIterator<(K, V)> for Categories {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let map: BTreeMap<Box<str>, Box<str>> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        map.into()
    }
}

impl<'a> IntoIterator for &'a Categories {
    type Item = &'a (Box<str>, Box<str>);
    type IntoIter = std::slice::Iter<'a, (Box<str>, Box<str>)>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
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

        let pairs: Vec<(&str, &str)> = categories.iter().map(|(k, v)| (&**k, &**v)).collect();

        assert_eq!(pairs, [("BitDefender", "b"), ("Sophos", "c")]);
    }
}

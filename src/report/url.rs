//! What VirusTotal knows about a URL, normalised.

use super::{Analysis, Categories};

/// A URL's report: reputation plus what VirusTotal's last fetch of it found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UrlReport {
    pub analysis: Analysis,
    /// Where the last fetch ended after redirects.
    pub final_url: Option<Box<str>>,
    /// The HTTP status of the last fetch.
    pub http_status: Option<u16>,
    pub title: Option<Box<str>>,
    /// Vendor → category.
    pub categories: Option<Categories>,
    /// The URL's own top-level domain.
    pub tld: Option<Box<str>>,
}

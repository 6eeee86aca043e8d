//! The rules of long lists, whatever they list: natural order for names (`m2` before `m10`),
//! sort direction, and which page of how many a request gets.
//!
//! Lists are sorted here, not in SQL: the database returns only each row's id and sort key for
//! the filtered set, Rust orders them, and only the page's rows are loaded. SQLite and
//! PostgreSQL then agree on the order, and no collation has to be installed in either.

/// Page sizes a list offers; a requested size is clamped to the largest.
pub const PAGE_SIZES: [i64; 5] = [25, 50, 100, 200, 500];
pub const DEFAULT_PER_PAGE: i64 = 50;
pub const MAX_PER_PAGE: i64 = 500;

/// Marks a run of digits in a [`natural_key`]: `'0'`, so numbers sort where digits do in ASCII.
const DIGITS: u8 = b'0';

/// A byte string whose plain (`memcmp`) order is the natural, case-insensitive order of `text`:
/// each run of digits compares by value (`m2` < `m10`, `v1.9` < `v1.10`), everything else by
/// its lowercased characters. Leading zeros do not count (`m02` and `m2` get the same key; see
/// [`natural_cmp`] for the tie).
pub fn natural_key(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut key = Vec::with_capacity(bytes.len() + 4);
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let run = &bytes[start..i];
            let value = &run[run.iter().take_while(|&&d| d == b'0').count()..];
            // The number of digits first: a longer number is a larger one. Runs of more than 255
            // digits (never a real name) compare as 255-digit ones, then digit by digit.
            key.push(DIGITS);
            key.push(u8::try_from(value.len()).unwrap_or(u8::MAX));
            key.extend_from_slice(value);
        } else if byte.is_ascii() {
            key.push(byte.to_ascii_lowercase());
            i += 1;
        } else {
            // `i` is at a character boundary: only ASCII bytes were stepped over one by one.
            let c = text[i..].chars().next().unwrap_or_default();
            let mut buffer = [0_u8; 4];
            for lower in c.to_lowercase() {
                key.extend_from_slice(lower.encode_utf8(&mut buffer).as_bytes());
            }
            i += c.len_utf8().max(1);
        }
    }
    key
}

/// Natural order of two names ([`natural_key`]), ties broken by the exact text so that the
/// order is total and the same on every run.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    natural_key(a).cmp(&natural_key(b)).then_with(|| a.cmp(b))
}

/// Ascending or descending, as a query string spells it (`dir=asc|desc`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Direction {
    #[default]
    Ascending,
    Descending,
}

impl Direction {
    /// `asc` or `desc` (any case); anything else is not a direction.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "asc" => Some(Self::Ascending),
            "desc" => Some(Self::Descending),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ascending => "asc",
            Self::Descending => "desc",
        }
    }

    pub fn flipped(self) -> Self {
        match self {
            Self::Ascending => Self::Descending,
            Self::Descending => Self::Ascending,
        }
    }
}

/// What to do with a page number past the last page: a page of the UI shows the last page
/// (a stale link still shows rows); the API answers an empty page, so that a client paging
/// until it gets no items stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PastTheEnd {
    LastPage,
    Empty,
}

/// One page of a list of `total` rows: its number, its size and the rows it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub page: i64,
    pub per_page: i64,
    /// How many pages the list has (at least 1, even when empty).
    pub pages: i64,
    /// Index of the page's first row, and how many rows it shows.
    pub offset: usize,
    pub len: usize,
}

/// The page `page` (1-based; clamped to 1 and to [`crate::limits::MAX_PAGE`]) of `per_page`
/// rows (clamped to 1..=[`MAX_PER_PAGE`], default [`DEFAULT_PER_PAGE`]) of a list of `total`.
pub fn window(total: usize, page: Option<i64>, per_page: Option<i64>, past_the_end: PastTheEnd) -> Window {
    let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE).clamp(1, MAX_PER_PAGE);
    let total_rows = i64::try_from(total).unwrap_or(i64::MAX);
    let pages = ((total_rows + per_page - 1) / per_page).max(1);
    let mut page = crate::limits::page(page);
    if past_the_end == PastTheEnd::LastPage {
        page = page.min(pages);
    }
    let start = (page - 1).saturating_mul(per_page);
    let offset = usize::try_from(start).unwrap_or(usize::MAX).min(total);
    let len = usize::try_from(per_page).unwrap_or(usize::MAX).min(total - offset);
    Window { page, per_page, pages, offset, len }
}

/// The page numbers a pager links to: the first, the last, and two either side of the current
/// one; `None` marks a gap (`1 … 4 5 6 7 8 … 40`).
pub fn page_links(current: i64, pages: i64) -> Vec<Option<i64>> {
    let mut links = Vec::new();
    let mut last_shown = 0;
    for n in 1..=pages {
        let near = (n - current).abs() <= 2;
        if n == 1 || n == pages || near {
            if n > last_shown + 1 {
                links.push(None);
            }
            links.push(Some(n));
            last_shown = n;
        } else if n > current + 2 {
            // Jump to the last page instead of walking every hidden one.
            if pages > last_shown + 1 {
                links.push(None);
            }
            links.push(Some(pages));
            break;
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use super::*;

    #[test]
    fn names_sort_in_natural_order() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("m2", "m10", Ordering::Less),
            ("m10", "m2", Ordering::Greater),
            ("model-9", "model-10", Ordering::Less),
            ("llama3.2:3b", "llama3.10:1b", Ordering::Less),
            ("qwen2.5:7b", "qwen2.5:14b", Ordering::Less),
            ("Alpha", "alpha", Ordering::Less),
            ("Beta", "alpha", Ordering::Greater),
            ("m02", "m2", Ordering::Less),
            ("m2", "m2", Ordering::Equal),
            ("a", "a1", Ordering::Less),
            ("a-b", "a1", Ordering::Less),
            ("a1", "ab", Ordering::Less),
            ("ÄB", "äa", Ordering::Greater),
            ("x99999999999999999999999", "x100000000000000000000000", Ordering::Less),
            ("", "a", Ordering::Less),
        ];
        for (a, b, expected) in cases {
            assert_eq!(natural_cmp(a, b), *expected, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn sorting_with_keys_matches_comparing_with_natural_cmp() {
        let mut names = vec!["m10", "M1", "m2", "m1", "m100", "a", "m9b", "m9a"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(names, ["a", "M1", "m1", "m2", "m9a", "m9b", "m10", "m100"]);
        let mut by_key = vec!["m10", "m2", "m100", "m9b"];
        by_key.sort_by_key(|n| natural_key(n));
        assert_eq!(by_key, ["m2", "m9b", "m10", "m100"]);
    }

    #[test]
    fn directions_parse_from_the_query_string() {
        let cases: &[(&str, Option<Direction>)] = &[
            ("asc", Some(Direction::Ascending)),
            ("DESC", Some(Direction::Descending)),
            (" desc ", Some(Direction::Descending)),
            ("", None),
            ("down", None),
        ];
        for (text, expected) in cases {
            assert_eq!(Direction::parse(text), *expected, "{text:?}");
        }
        assert_eq!(Direction::Ascending.flipped().as_str(), "desc");
    }

    #[test]
    fn windows_clamp_bad_pages_and_sizes() {
        use PastTheEnd::{Empty, LastPage};
        // (total, page, per_page, past the end) -> (page, per_page, pages, offset, len)
        type Case = (usize, Option<i64>, Option<i64>, PastTheEnd, (i64, i64, i64, usize, usize));
        let cases: &[Case] = &[
            (120, None, None, LastPage, (1, 50, 3, 0, 50)),
            (120, Some(3), None, LastPage, (3, 50, 3, 100, 20)),
            (120, Some(0), None, LastPage, (1, 50, 3, 0, 50)),
            (120, Some(-4), Some(25), LastPage, (1, 25, 5, 0, 25)),
            (120, Some(99), None, LastPage, (3, 50, 3, 100, 20)),
            (120, Some(99), None, Empty, (99, 50, 3, 120, 0)),
            (120, Some(i64::MAX), None, Empty, (crate::limits::MAX_PAGE, 50, 3, 120, 0)),
            (120, Some(1), Some(10_000), LastPage, (1, 500, 1, 0, 120)),
            (120, Some(1), Some(0), LastPage, (1, 1, 120, 0, 1)),
            (0, Some(5), None, LastPage, (1, 50, 1, 0, 0)),
            (20_000, Some(400), Some(50), LastPage, (400, 50, 400, 19_950, 50)),
        ];
        for &(total, page, per_page, past, expected) in cases {
            let w = window(total, page, per_page, past);
            assert_eq!((w.page, w.per_page, w.pages, w.offset, w.len), expected, "{total} {page:?} {per_page:?}");
        }
    }

    #[test]
    fn pagers_link_the_ends_and_the_neighbourhood() {
        let cases: &[(i64, i64, &[Option<i64>])] = &[
            (1, 1, &[Some(1)]),
            (1, 3, &[Some(1), Some(2), Some(3)]),
            (1, 10, &[Some(1), Some(2), Some(3), None, Some(10)]),
            (6, 40, &[Some(1), None, Some(4), Some(5), Some(6), Some(7), Some(8), None, Some(40)]),
            (40, 40, &[Some(1), None, Some(38), Some(39), Some(40)]),
            (4, 7, &[Some(1), Some(2), Some(3), Some(4), Some(5), Some(6), Some(7)]),
        ];
        for (current, pages, expected) in cases {
            assert_eq!(page_links(*current, *pages), *expected, "page {current} of {pages}");
        }
    }
}

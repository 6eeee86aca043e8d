//! What the long lists (Models, LiteLLM) share: sortable column headers that are links, page
//! numbers, page sizes, and one query string carrying all of it so that links and Back work.

use shared::listing::{DEFAULT_PER_PAGE, Direction, PAGE_SIZES, Window, page_links};

use super::view::{href, thousands};

/// A list's place: its path, its filters as they appear in the query string, its order and
/// its page. Every link the page prints comes from here.
pub struct ListState {
    path: &'static str,
    filters: Vec<(&'static str, String)>,
    sort: &'static str,
    default_sort: &'static str,
    direction: Direction,
    per_page: i64,
}

impl ListState {
    pub fn new(
        path: &'static str,
        filters: Vec<(&'static str, String)>,
        (sort, default_sort): (&'static str, &'static str),
        direction: Direction,
        per_page: i64,
    ) -> Self {
        Self { path, filters, sort, default_sort, direction, per_page }
    }

    fn link(&self, page: i64, sort: &str, direction: Direction) -> String {
        let mut params = self.filters.clone();
        params.push(("sort", if sort == self.default_sort { String::new() } else { sort.to_owned() }));
        params.push(("dir", if direction == Direction::Descending { "desc".into() } else { String::new() }));
        params.push((
            "per_page",
            if self.per_page == DEFAULT_PER_PAGE { String::new() } else { self.per_page.to_string() },
        ));
        params.push(("page", if page > 1 { page.to_string() } else { String::new() }));
        href(self.path, &params)
    }

    /// A header that sorts by `key` (ascending first; a second click reverses).
    pub fn column(&self, label: &'static str, key: &'static str) -> Column {
        let current = self.sort == key;
        let direction = if current { self.direction.flipped() } else { Direction::Ascending };
        let aria_sort = match (current, self.direction) {
            (false, _) => "",
            (true, Direction::Ascending) => "ascending",
            (true, Direction::Descending) => "descending",
        };
        Column { label, href: Some(self.link(1, key, direction)), aria_sort }
    }

    /// A header that does not sort.
    pub fn plain(&self, label: &'static str) -> Column {
        Column { label, href: None, aria_sort: "" }
    }

    /// The filters, order and size as hidden fields, for a form that changes only some of them.
    pub fn hidden(&self, keep: &[&str]) -> Vec<(&'static str, String)> {
        let mut fields = Vec::new();
        if keep.contains(&"sort") && self.sort != self.default_sort {
            fields.push(("sort", self.sort.to_owned()));
        }
        if keep.contains(&"dir") && self.direction == Direction::Descending {
            fields.push(("dir", "desc".to_owned()));
        }
        fields
    }

    pub fn pager(&self, window: &Window, total: usize, shown: usize, noun: &str) -> Pager {
        let first = usize::try_from(window.page - 1).unwrap_or(0).saturating_mul(window.per_page as usize);
        let range = if shown == 0 {
            format!("no {noun}")
        } else {
            let total = i64::try_from(total).unwrap_or(i64::MAX);
            format!("{}–{} of {}", thousands(first as i64 + 1), thousands((first + shown) as i64), thousands(total))
        };
        let links = page_links(window.page, window.pages)
            .into_iter()
            .map(|n| match n {
                Some(n) => PageLink {
                    label: thousands(n),
                    href: Some(self.link(n, self.sort, self.direction)),
                    current: n == window.page,
                },
                None => PageLink { label: "…".into(), href: None, current: false },
            })
            .collect();
        Pager {
            range,
            prev: (window.page > 1).then(|| self.link(window.page - 1, self.sort, self.direction)),
            next: (window.page < window.pages).then(|| self.link(window.page + 1, self.sort, self.direction)),
            links,
        }
    }

    /// The page sizes offered, the current one selected.
    pub fn sizes(&self) -> Vec<(i64, bool)> {
        PAGE_SIZES.iter().map(|&n| (n, n == self.per_page)).collect()
    }
}

pub struct Column {
    pub label: &'static str,
    pub href: Option<String>,
    /// `ascending`, `descending`, or empty when the list is not sorted by this column.
    pub aria_sort: &'static str,
}

pub struct PageLink {
    pub label: String,
    /// `None` for the gap between page numbers.
    pub href: Option<String>,
    pub current: bool,
}

pub struct Pager {
    pub range: String,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub links: Vec<PageLink>,
}

/// A page size from the query string: a number, clamped to what lists offer; anything else is
/// the default.
pub fn per_page(text: &str) -> i64 {
    text.trim().parse::<i64>().map(|n| n.clamp(1, shared::listing::MAX_PER_PAGE)).unwrap_or(DEFAULT_PER_PAGE)
}

/// A page number from the query string; anything but a number is the first page.
pub fn page(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

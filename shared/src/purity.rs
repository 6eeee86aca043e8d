//! The domain rules stay pure: none of their sources (tests included) reaches for the store or
//! its driver, so they take domain values and can be tested without a database.

/// Every domain source, by its path under `src/`.
const SOURCES: &[(&str, &str)] = &[
    ("desired.rs", include_str!("desired.rs")),
    ("desired/groups.rs", include_str!("desired/groups.rs")),
    ("desired/tests.rs", include_str!("desired/tests.rs")),
    ("plan.rs", include_str!("plan.rs")),
    ("plan/tests.rs", include_str!("plan/tests.rs")),
    ("routing.rs", include_str!("routing.rs")),
    ("routing/tests.rs", include_str!("routing/tests.rs")),
    ("pricing.rs", include_str!("pricing.rs")),
    ("pricing/tests.rs", include_str!("pricing/tests.rs")),
    ("schedule.rs", include_str!("schedule.rs")),
    ("runs.rs", include_str!("runs.rs")),
    ("runs/tests.rs", include_str!("runs/tests.rs")),
    ("model.rs", include_str!("model.rs")),
    ("provider.rs", include_str!("provider.rs")),
    ("settings.rs", include_str!("settings.rs")),
];

/// What only the store may name: its module (however reached), its handle and error, the driver.
const FORBIDDEN: &[&str] = &["crate::db", "::db::", "db::{", "crate::Database", "DbError", "sqlx"];

/// The words of `source` that name the store, as `(line, word)`.
fn store_mentions(source: &str) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    for (n, line) in source.lines().enumerate() {
        for word in FORBIDDEN {
            if line.contains(word) {
                found.push((n + 1, *word));
            }
        }
        // `use crate::{db, …}` names the store without any of the words above.
        if line.contains("crate::{") && line.split(['{', ',', '}']).any(|part| part.trim() == "db") {
            found.push((n + 1, "crate::{db}"));
        }
    }
    found
}

#[test]
fn domain_rules_do_not_reach_for_the_store() {
    let offences: Vec<String> = SOURCES
        .iter()
        .flat_map(|(path, source)| {
            store_mentions(source).into_iter().map(move |(line, word)| format!("src/{path}:{line} mentions {word}"))
        })
        .collect();
    assert!(offences.is_empty(), "domain rules must take domain values, not rows:\n{}", offences.join("\n"));
}

#[test]
fn the_check_sees_every_way_of_naming_the_store() {
    let cases = [
        ("use crate::db::models::Model;", true),
        ("use crate::db;", true),
        ("use crate::{db, tags};", true),
        ("use crate::{tags, db};", true),
        ("let x = super::db::Json(1);", true),
        ("use crate::Database;", true),
        ("fn f() -> Result<(), DbError> {}", true),
        ("sqlx::query(\"SELECT 1\")", true),
        ("use crate::model::Model;", false),
        ("use crate::{routing, tags};", false),
        ("/// Database entries someone else owns: never touched.", false),
    ];
    for (line, named) in cases {
        assert_eq!(!store_mentions(line).is_empty(), named, "{line}");
    }
}

/// A new file in a domain directory is checked too: it must be listed in [`SOURCES`].
#[test]
fn every_file_of_the_domain_directories_is_checked() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for dir in ["desired", "plan", "routing", "pricing", "runs"] {
        let entries = std::fs::read_dir(src.join(dir)).unwrap_or_else(|e| panic!("src/{dir}: {e}"));
        for entry in entries {
            let name = entry.unwrap_or_else(|e| panic!("src/{dir}: {e}")).file_name();
            let path = format!("{dir}/{}", name.to_string_lossy());
            assert!(SOURCES.iter().any(|(listed, _)| *listed == path), "src/{path} is not in purity::SOURCES");
        }
    }
}

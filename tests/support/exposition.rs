//! A parser for the Prometheus text exposition format, so tests compare values instead of grepping.

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Debug, Default)]
pub struct Scrape {
    pub samples: Vec<Sample>,
    pub types: BTreeMap<String, String>,
    pub help: BTreeMap<String, String>,
}

impl Scrape {
    pub fn parse(text: &str) -> Self {
        let mut scrape = Scrape::default();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE line");
                scrape.types.insert(name.to_owned(), kind.to_owned());
            } else if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
                scrape.help.insert(name.to_owned(), help.to_owned());
            } else if !line.starts_with('#') {
                scrape.samples.push(parse_sample(line));
            }
        }
        scrape
    }

    /// Samples named `name` whose labels include every pair of `labels`.
    pub fn matching<'a>(&'a self, name: &'a str, labels: &'a [(&str, &str)]) -> impl Iterator<Item = &'a Sample> {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// The one sample matching; panics when none or several match.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<_> = self.matching(name, labels).collect();
        assert_eq!(found.len(), 1, "expected one {name}{labels:?}, found {found:#?}");
        found[0].value
    }

    /// The one sample matching, or `None`.
    pub fn try_get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<_> = self.matching(name, labels).collect();
        assert!(
            found.len() <= 1,
            "expected at most one {name}{labels:?}, found {found:#?}"
        );
        found.first().map(|s| s.value)
    }

    /// Sum over every sample matching; panics when none matches, so that a renamed metric or label fails
    /// rather than reading as 0 (`sum_or_zero` and `absent` are for series that may or must not exist).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<f64> = self.matching(name, labels).map(|s| s.value).collect();
        assert!(
            !found.is_empty(),
            "no series {name}{labels:?} (series of that name: {:?})",
            self.label_sets(name)
        );
        found.into_iter().sum()
    }

    /// Sum over every sample matching, 0 when none does: only for series that legitimately appear later (a counter
    /// polled before its first increment), never for a check that a count is 0.
    pub fn sum_or_zero(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|s| s.value).sum()
    }

    /// Whether no sample matches: the check for a series that must not exist.
    pub fn absent(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.matching(name, labels).next().is_none()
    }

    /// The label sets of the series named `name`, for failure messages.
    fn label_sets(&self, name: &str) -> Vec<&BTreeMap<String, String>> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .map(|s| &s.labels)
            .collect()
    }

    /// Number of series named `name`.
    pub fn series(&self, name: &str) -> usize {
        self.samples.iter().filter(|s| s.name == name).count()
    }

    /// Distinct values of `label` on series named `name`.
    pub fn label_values(&self, name: &str, label: &str) -> std::collections::BTreeSet<String> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter_map(|s| s.labels.get(label).cloned())
            .collect()
    }
}

fn parse_sample(line: &str) -> Sample {
    let (name_and_labels, value) = match line.find('{') {
        Some(open) => {
            let close = find_label_end(line, open);
            (&line[..=close], line[close + 1..].trim())
        }
        None => line.split_once(' ').expect("sample line"),
    };
    let value = value.split_whitespace().next().expect("value");
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
    };
    let (name, labels) = match name_and_labels.find('{') {
        Some(open) => (
            &name_and_labels[..open],
            parse_labels(&name_and_labels[open + 1..name_and_labels.len() - 1]),
        ),
        None => (name_and_labels, BTreeMap::new()),
    };
    Sample {
        name: name.to_owned(),
        labels,
        value,
    }
}

fn find_label_end(line: &str, open: usize) -> usize {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in line.char_indices().skip_while(|(i, _)| *i <= open) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => in_quotes = !in_quotes,
            '}' if !in_quotes => return i,
            _ => {}
        }
    }
    panic!("unterminated labels in {line:?}")
}

fn parse_labels(body: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = body.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").expect("label key");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("unterminated label value") {
                (_, '\\') => match chars.next().expect("escape").1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim().to_owned(), value);
        rest = after[end + 1..].trim_start_matches(',').trim();
    }
    labels
}

#[test]
fn parses_labels_and_escapes() {
    let s = Scrape::parse("# TYPE x counter\nx{a=\"1\",b=\"q\\\"}\"} 3\ny 4.5\n");
    assert_eq!(s.get("x", &[("b", "q\"}")]), 3.0);
    assert_eq!(s.get("y", &[]), 4.5);
    assert_eq!(s.types["x"], "counter");
}

#[test]
fn sum_tells_a_missing_series_from_a_zero() {
    let s = Scrape::parse("# HELP x_total Help.\n# TYPE x_total counter\nx_total{a=\"1\"} 0\nx_total{a=\"2\"} 2\n");
    assert_eq!(s.sum("x_total", &[]), 2.0);
    assert_eq!(s.sum("x_total", &[("a", "1")]), 0.0);
    assert_eq!(s.sum_or_zero("y_total", &[]), 0.0);
    assert!(s.absent("y_total", &[]) && s.absent("x_total", &[("a", "3")]));
    assert!(!s.absent("x_total", &[("a", "1")]));
    let missing = std::panic::catch_unwind(|| s.sum("y_total", &[]));
    assert!(missing.is_err(), "a series that is not there has no sum");
    let wrong_label = std::panic::catch_unwind(|| s.sum("x_total", &[("a", "3")]));
    assert!(wrong_label.is_err());
}

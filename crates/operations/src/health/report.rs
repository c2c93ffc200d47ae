//! The response body: the IETF health draft's shape.

use std::collections::BTreeMap;

use serde::Serialize;

/// The media type of every health body.
pub const CONTENT_TYPE: &str = "application/health+json";

/// A check's verdict. Ordered from best to worst, so the worst of several is their maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Healthy.
    Pass,
    /// Healthy, with a concern (still ready: 200).
    Warn,
    /// Unhealthy (not ready: 503).
    Fail,
}

impl Status {
    /// The value of `inferwatch_health_status`: 1 pass, 0.5 warn, 0 fail.
    pub const fn gauge_value(self) -> f64 {
        match self {
            Status::Pass => 1.0,
            Status::Warn => 0.5,
            Status::Fail => 0.0,
        }
    }

    /// `pass`, `warn` or `fail`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One measurement of one component: an entry of a check's array in the body.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Observation {
    /// Which instance (a GPU's UUID, a mount point, a URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component_id: Option<String>,
    /// `component`, `datastore` or `system`, as the draft suggests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component_type: Option<String>,
    /// The value measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_value: Option<f64>,
    /// Its unit (`percent`, `requests`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_unit: Option<String>,
    /// The verdict.
    pub status: Status,
    /// When the check ran (RFC 3339), filled in by the registry.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub time: String,
    /// Why, in words (empty for a plain pass).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

impl Observation {
    /// An observation with `status` and nothing else.
    pub fn new(status: Status) -> Self {
        Self {
            component_id: None,
            component_type: None,
            observed_value: None,
            observed_unit: None,
            status,
            time: String::new(),
            output: None,
        }
    }

    /// Healthy.
    pub fn pass() -> Self {
        Self::new(Status::Pass)
    }

    /// Healthy with a concern.
    pub fn warn(output: impl Into<String>) -> Self {
        Self::new(Status::Warn).output(output)
    }

    /// Unhealthy.
    pub fn fail(output: impl Into<String>) -> Self {
        Self::new(Status::Fail).output(output)
    }

    /// Sets the message.
    pub fn output(mut self, output: impl Into<String>) -> Self {
        self.output = Some(output.into());
        self
    }

    /// Sets the value measured and its unit.
    pub fn observed(mut self, value: f64, unit: impl Into<String>) -> Self {
        self.observed_value = Some(value);
        self.observed_unit = Some(unit.into());
        self
    }

    /// Sets which component (id and type) was observed.
    pub fn component(mut self, id: impl Into<String>, kind: impl Into<String>) -> Self {
        self.component_id = Some(id.into());
        self.component_type = Some(kind.into());
        self
    }
}

/// A whole health body: the overall status and each check's observations, keyed `component:measurement`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// The worst status of the checks (pass when there are none).
    pub status: Status,
    /// Each check's observations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, Vec<Observation>>,
}

impl Report {
    /// A report over `checks`, its status their worst.
    pub fn new(checks: BTreeMap<String, Vec<Observation>>) -> Self {
        let status = checks
            .values()
            .flatten()
            .map(|o| o.status)
            .max()
            .unwrap_or(Status::Pass);
        Self { status, checks }
    }

    /// The HTTP status a probe gets: 503 for fail, 200 otherwise.
    pub fn http_status(&self) -> http::StatusCode {
        match self.status {
            Status::Fail => http::StatusCode::SERVICE_UNAVAILABLE,
            Status::Pass | Status::Warn => http::StatusCode::OK,
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        // Serialising these plain types cannot fail; an empty object keeps the body valid JSON regardless.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

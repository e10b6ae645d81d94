//! Domain newtypes, validated when they are built: a value of these types is always legal
//! for AWS Lambda, so the rest of the code never re-checks it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a domain value was rejected. Each variant names the value and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("memory {0} MB is outside Lambda's range 128..=10240 MB")]
    MemoryOutOfRange(u64),
    #[error("unknown architecture {0:?}: expected \"x86_64\" or \"arm64\"")]
    UnknownArchitecture(String),
    #[error("invalid region {0:?}: expected a code such as \"us-east-1\"")]
    InvalidRegion(String),
    #[error("invalid function reference {input:?}: {reason}")]
    InvalidFunction { input: String, reason: &'static str },
    #[error("concurrency {0} is above the largest value Lambda accepts ({max})", max = Concurrency::MAX)]
    ConcurrencyOutOfRange(u64),
}

/// Configured memory of a function, 128–10,240 MB in 1-MB steps. Memory also sets CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemoryMb(u32);

impl MemoryMb {
    /// Smallest memory Lambda accepts.
    pub const MIN: Self = Self(128);
    /// Largest memory Lambda accepts.
    pub const MAX: Self = Self(10_240);
    /// Memory at which a function gets one full vCPU (AWS documentation).
    pub const ONE_VCPU: Self = Self(1_769);

    pub fn new(mb: u64) -> Result<Self, DomainError> {
        if (u64::from(Self::MIN.0)..=u64::from(Self::MAX.0)).contains(&mb) {
            Ok(Self(mb as u32))
        } else {
            Err(DomainError::MemoryOutOfRange(mb))
        }
    }

    /// Clamps any value into Lambda's range; for decision code that computes a size.
    pub fn clamped(mb: f64) -> Self {
        let mb = if mb.is_nan() { f64::from(Self::MIN.0) } else { mb.round() };
        Self(mb.clamp(f64::from(Self::MIN.0), f64::from(Self::MAX.0)) as u32)
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// Memory in GB as Lambda bills it (MB / 1024).
    pub fn gb(self) -> f64 {
        f64::from(self.0) / 1024.0
    }

    /// vCPU share Lambda allocates at this size: proportional to memory, one vCPU at
    /// 1,769 MB, six at the 10,240 MB maximum.
    pub fn vcpus(self) -> f64 {
        (f64::from(self.0) / f64::from(Self::ONE_VCPU.0)).min(6.0)
    }
}

impl fmt::Display for MemoryMb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} MB", self.0)
    }
}

impl TryFrom<u64> for MemoryMb {
    type Error = DomainError;
    fn try_from(mb: u64) -> Result<Self, DomainError> {
        Self::new(mb)
    }
}

impl Serialize for MemoryMb {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

impl<'de> Deserialize<'de> for MemoryMb {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(u64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Instruction set of a function; prices differ between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Architecture {
    X86_64,
    Arm64,
}

impl Architecture {
    pub const ALL: [Self; 2] = [Self::X86_64, Self::Arm64];

    /// The name Lambda's API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "arm64",
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Architecture {
    type Err = DomainError;
    /// Accepts Lambda's names and the common short forms ("x86", "arm").
    fn from_str(s: &str) -> Result<Self, DomainError> {
        match s.to_ascii_lowercase().as_str() {
            "x86_64" | "x86-64" | "x86" | "amd64" => Ok(Self::X86_64),
            "arm64" | "arm" | "aarch64" | "graviton" => Ok(Self::Arm64),
            _ => Err(DomainError::UnknownArchitecture(s.to_owned())),
        }
    }
}

impl Serialize for Architecture {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Architecture {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// An AWS region code such as `us-east-1` or `us-gov-west-1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(String);

impl Region {
    pub fn new(code: &str) -> Result<Self, DomainError> {
        // <partition-ish prefix>-<direction>-<number>, e.g. us-east-1, ap-southeast-3,
        // us-gov-west-1, cn-northwest-1, eu-isoe-west-1.
        let parts: Vec<&str> = code.split('-').collect();
        let letters = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
        let ok = (3..=4).contains(&parts.len())
            && parts[0].len() == 2
            && letters(parts[0])
            && parts[1..parts.len() - 1].iter().all(|p| letters(p))
            && parts[parts.len() - 1].parse::<u8>().is_ok_and(|n| n > 0);
        if ok { Ok(Self(code.to_owned())) } else { Err(DomainError::InvalidRegion(code.to_owned())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Region {
    fn default() -> Self {
        Self("us-east-1".to_owned())
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Region {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Self::new(s)
    }
}

impl Serialize for Region {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Region {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A Lambda function, optionally qualified by a version or an alias (`name:qualifier`).
///
/// Built from a name, a `name:qualifier` pair or a function ARN; the stats table's
/// `resourceId` is [`FunctionRef::resource_id`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionRef {
    name: String,
    qualifier: Option<String>,
}

impl FunctionRef {
    /// Accepts `my-fn`, `my-fn:live`, `my-fn:7`, `my-fn:$LATEST` or
    /// `arn:aws:lambda:us-east-1:123456789012:function:my-fn[:qualifier]`.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let err = |reason| DomainError::InvalidFunction { input: input.to_owned(), reason };
        let rest = if let Some(arn) = input.strip_prefix("arn:") {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            if parts.len() != 6 || parts[1] != "lambda" || parts[4] != "function" {
                return Err(err("an ARN must look like arn:aws:lambda:REGION:ACCOUNT:function:NAME"));
            }
            parts[5]
        } else {
            input
        };
        let (name, qualifier) = match rest.split_once(':') {
            Some((n, q)) => (n, Some(q)),
            None => (rest, None),
        };
        Self::new(name, qualifier).map_err(|e| match e {
            DomainError::InvalidFunction { reason, .. } => err(reason),
            other => other,
        })
    }

    pub fn new(name: &str, qualifier: Option<&str>) -> Result<Self, DomainError> {
        let err = |reason| DomainError::InvalidFunction {
            input: match qualifier {
                Some(q) => format!("{name}:{q}"),
                None => name.to_owned(),
            },
            reason,
        };
        let name_ok = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if name.is_empty() || name.len() > 64 || !name_ok(name) {
            return Err(err("a function name is 1-64 characters of letters, digits, '-' and '_'"));
        }
        if let Some(q) = qualifier {
            let ok = q == "$LATEST" || (!q.is_empty() && q.len() <= 128 && name_ok(q));
            if !ok {
                return Err(err("a qualifier is $LATEST, a version number or an alias name"));
            }
        }
        Ok(Self { name: name.to_owned(), qualifier: qualifier.map(str::to_owned) })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn qualifier(&self) -> Option<&str> {
        self.qualifier.as_deref()
    }

    /// The same function with another qualifier (or none).
    pub fn with_qualifier(&self, qualifier: Option<&str>) -> Result<Self, DomainError> {
        Self::new(&self.name, qualifier)
    }

    /// True when the qualifier is an alias (not a version number, not `$LATEST`).
    pub fn is_alias(&self) -> bool {
        self.qualifier.as_deref().is_some_and(|q| q != "$LATEST" && !q.bytes().all(|b| b.is_ascii_digit()))
    }

    /// Key of the stats table and of the change log: `name` or `name:qualifier`.
    pub fn resource_id(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for FunctionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.qualifier {
            Some(q) => write!(f, "{}:{q}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

impl FromStr for FunctionRef {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Self::parse(s)
    }
}

impl Serialize for FunctionRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FunctionRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A number of concurrent executions (reserved, provisioned or observed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Concurrency(u32);

impl Concurrency {
    pub const ZERO: Self = Self(0);
    /// Far above any account quota; rejects values that can only be a bug.
    pub const MAX: u32 = 1_000_000;

    pub fn new(n: u64) -> Result<Self, DomainError> {
        if n <= u64::from(Self::MAX) { Ok(Self(n as u32)) } else { Err(DomainError::ConcurrencyOutOfRange(n)) }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Concurrency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Concurrency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(u64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A wall-clock minute: whole minutes since the Unix epoch (UTC). Every decision takes its
/// `now` as one of these; the core never reads a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Minute(pub i64);

impl Minute {
    pub const PER_HOUR: i64 = 60;
    pub const PER_DAY: i64 = 1_440;
    pub const PER_WEEK: i64 = 10_080;

    /// The minute that contains the given Unix time in milliseconds.
    pub fn from_epoch_ms(ms: i64) -> Self {
        Self(ms.div_euclid(60_000))
    }

    pub fn epoch_ms(self) -> i64 {
        self.0 * 60_000
    }

    pub fn plus(self, minutes: i64) -> Self {
        Self(self.0 + minutes)
    }

    /// Minute of the day, 0..1440 (UTC).
    pub fn minute_of_day(self) -> i64 {
        self.0.rem_euclid(Self::PER_DAY)
    }

    /// Minute of the week, 0..10080, with 0 at Monday 00:00 UTC.
    pub fn minute_of_week(self) -> i64 {
        // 1970-01-01 was a Thursday: shift by three days so that Monday starts the week.
        (self.0 + 3 * Self::PER_DAY).rem_euclid(Self::PER_WEEK)
    }
}

impl fmt::Display for Minute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (date, hh, mm) = crate::calendar::civil_from_minute(*self);
        write!(f, "{date}T{hh:02}:{mm:02}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_bounds_are_lambdas() {
        assert!(MemoryMb::new(127).is_err());
        assert_eq!(MemoryMb::new(128).unwrap().get(), 128);
        assert_eq!(MemoryMb::new(10_240).unwrap().get(), 10_240);
        assert_eq!(MemoryMb::new(10_241), Err(DomainError::MemoryOutOfRange(10_241)));
        assert_eq!(MemoryMb::clamped(5.0), MemoryMb::MIN);
        assert_eq!(MemoryMb::clamped(1e9), MemoryMb::MAX);
        assert_eq!(MemoryMb::clamped(f64::NAN), MemoryMb::MIN);
        assert!((MemoryMb::ONE_VCPU.vcpus() - 1.0).abs() < 1e-12);
        assert!((MemoryMb::MAX.vcpus() - 5.788).abs() < 0.001, "10,240/1,769 is under the 6-vCPU cap");
    }

    #[test]
    fn memory_deserialization_validates() {
        assert!(serde_json::from_str::<MemoryMb>("64").unwrap_err().to_string().contains("128..=10240"));
        assert_eq!(serde_json::from_str::<MemoryMb>("1024").unwrap().get(), 1024);
    }

    #[test]
    fn architecture_names() {
        assert_eq!("x86".parse::<Architecture>().unwrap(), Architecture::X86_64);
        assert_eq!("ARM64".parse::<Architecture>().unwrap(), Architecture::Arm64);
        assert!("sparc".parse::<Architecture>().is_err());
        assert_eq!(serde_json::to_string(&Architecture::Arm64).unwrap(), "\"arm64\"");
    }

    #[test]
    fn regions() {
        for ok in ["us-east-1", "eu-west-1", "ap-southeast-3", "us-gov-west-1", "cn-northwest-1"] {
            assert!(Region::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "us-east", "useast1", "US-EAST-1", "us-east-0", "u-east-1"] {
            assert!(Region::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn function_refs() {
        let f = FunctionRef::parse("arn:aws:lambda:us-east-1:123456789012:function:orders:live").unwrap();
        assert_eq!((f.name(), f.qualifier()), ("orders", Some("live")));
        assert!(f.is_alias());
        assert_eq!(f.resource_id(), "orders:live");
        assert!(!FunctionRef::parse("orders:7").unwrap().is_alias());
        assert!(!FunctionRef::parse("orders:$LATEST").unwrap().is_alias());
        assert!(FunctionRef::parse("orders").unwrap().qualifier().is_none());
        let err = FunctionRef::parse("bad name").unwrap_err().to_string();
        assert!(err.contains("bad name") && err.contains("1-64"), "{err}");
        assert!(FunctionRef::parse("arn:aws:s3:::bucket").is_err());
        assert!(FunctionRef::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn minutes() {
        // 2026-11-27T15:41Z is a Friday.
        let m = Minute::from_epoch_ms(1_795_794_060_000);
        assert_eq!(m.to_string(), "2026-11-27T15:41Z");
        assert_eq!(m.minute_of_day(), 15 * 60 + 41);
        assert_eq!(m.minute_of_week(), 4 * 1440 + 15 * 60 + 41);
        assert_eq!(Minute::from_epoch_ms(-1), Minute(-1));
    }
}

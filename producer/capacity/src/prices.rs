//! The dated price table `plan` costs with: a TOML file in the repository
//! (`load-tests/prices/`), compiled in as the default. Never fetched: a plan
//! must say which prices it used, and give the same answer tomorrow.

use std::collections::BTreeMap;

use crate::error::Error;

/// The price table compiled into the binary.
pub(crate) const DEFAULT_NAME: &str = "load-tests/prices/aws-us-east-1-2026-11.toml";
pub(crate) const DEFAULT_TEXT: &str =
    include_str!("../../../load-tests/prices/aws-us-east-1-2026-11.toml");

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Instance {
    pub vcpu: f64,
    pub on_demand_hour: f64,
    pub spot_hour: f64,
    /// EMR's charge on top of EC2's, per instance-hour.
    pub emr_hour: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Prices {
    /// Where the table came from: its file, source and date.
    pub name: String,
    pub source: String,
    pub date: String,
    pub region: String,
    pub s3_put_per_1000: f64,
    pub s3_storage_gb_month: f64,
    pub kinesis_shard_hour: f64,
    pub kinesis_put_payload_units_per_million: f64,
    pub kinesis_shard_mb_per_second: f64,
    pub kinesis_shard_records_per_second: f64,
    pub kinesis_payload_unit_kb: f64,
    pub firehose_ingest_gb: f64,
    pub firehose_record_rounding_kb: f64,
    pub fargate_vcpu_hour: f64,
    pub fargate_gb_hour: f64,
    pub fargate_spot_vcpu_hour: f64,
    pub fargate_spot_gb_hour: f64,
    pub instances: BTreeMap<String, Instance>,
}

impl Prices {
    pub(crate) fn parse(name: &str, text: &str) -> Result<Prices, Error> {
        let bad = |why: String| Error::usage(format!("invalid price file {name}: {why}"));
        let table: toml::Table =
            toml::from_str(text).map_err(|e| bad(e.message().replace('\n', " ")))?;
        let text_of = |key: &str| -> Result<String, Error> {
            table
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .ok_or_else(|| bad(format!("missing {key} (a string)")))
        };
        let num = |section: &toml::Table, path: &str, key: &str| -> Result<f64, Error> {
            let v = section
                .get(key)
                .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
                .ok_or_else(|| bad(format!("missing {path}.{key} (a number)")))?;
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(bad(format!("{path}.{key} must be a number of at least 0")))
            }
        };
        let section = |key: &str| -> Result<&toml::Table, Error> {
            table
                .get(key)
                .and_then(|v| v.as_table())
                .ok_or_else(|| bad(format!("missing [{key}]")))
        };
        let (source, date, region) = (text_of("source")?, text_of("date")?, text_of("region")?);
        let s3 = section("s3")?;
        let kinesis = section("kinesis")?;
        let firehose = section("firehose")?;
        let fargate = section("fargate")?;
        let mut instances = BTreeMap::new();
        for (type_name, v) in section("instance")? {
            let path = format!("instance.\"{type_name}\"");
            let t = v
                .as_table()
                .ok_or_else(|| bad(format!("[{path}] must be a table")))?;
            let i = Instance {
                vcpu: num(t, &path, "vcpu")?,
                on_demand_hour: num(t, &path, "on_demand_hour")?,
                spot_hour: num(t, &path, "spot_hour")?,
                emr_hour: num(t, &path, "emr_hour")?,
            };
            if i.vcpu < 1.0 {
                return Err(bad(format!("{path}.vcpu must be at least 1")));
            }
            instances.insert(type_name.clone(), i);
        }
        let positive = |v: f64, what: &str| {
            if v > 0.0 {
                Ok(v)
            } else {
                Err(bad(format!("{what} must be above 0")))
            }
        };
        Ok(Prices {
            name: name.to_string(),
            source,
            date,
            region,
            s3_put_per_1000: num(s3, "s3", "put_per_1000")?,
            s3_storage_gb_month: num(s3, "s3", "storage_gb_month")?,
            kinesis_shard_hour: num(kinesis, "kinesis", "shard_hour")?,
            kinesis_put_payload_units_per_million: num(
                kinesis,
                "kinesis",
                "put_payload_units_per_million",
            )?,
            kinesis_shard_mb_per_second: positive(
                num(kinesis, "kinesis", "shard_ingest_mb_per_second")?,
                "kinesis.shard_ingest_mb_per_second",
            )?,
            kinesis_shard_records_per_second: positive(
                num(kinesis, "kinesis", "shard_ingest_records_per_second")?,
                "kinesis.shard_ingest_records_per_second",
            )?,
            kinesis_payload_unit_kb: positive(
                num(kinesis, "kinesis", "payload_unit_kb")?,
                "kinesis.payload_unit_kb",
            )?,
            firehose_ingest_gb: num(firehose, "firehose", "ingest_gb")?,
            firehose_record_rounding_kb: num(firehose, "firehose", "record_rounding_kb")?,
            fargate_vcpu_hour: num(fargate, "fargate", "vcpu_hour")?,
            fargate_gb_hour: num(fargate, "fargate", "gb_hour")?,
            fargate_spot_vcpu_hour: num(fargate, "fargate", "spot_vcpu_hour")?,
            fargate_spot_gb_hour: num(fargate, "fargate", "spot_gb_hour")?,
            instances,
        })
    }

    pub(crate) fn instance(&self, type_name: &str) -> Result<&Instance, Error> {
        self.instances.get(type_name).ok_or_else(|| {
            let known: Vec<&str> = self.instances.keys().map(String::as_str).collect();
            Error::usage(format!(
                "unknown instance type '{type_name}': {} prices {}",
                self.name,
                known.join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_table_is_complete() {
        let p = Prices::parse(DEFAULT_NAME, DEFAULT_TEXT).unwrap();
        assert!(p.instances.contains_key("c7i.2xlarge"));
        assert!(p.s3_put_per_1000 > 0.0 && p.kinesis_shard_hour > 0.0);
    }

    #[test]
    fn a_missing_item_is_named() {
        let text = DEFAULT_TEXT.replace("put_per_1000", "put_per_thousand");
        let e = Prices::parse("p.toml", &text).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid price file p.toml: missing s3.put_per_1000 (a number)"
        );
        let e = Prices::parse("p.toml", "source = 1")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "invalid price file p.toml: missing source (a string)");
    }

    #[test]
    fn an_unknown_instance_lists_the_known_ones() {
        let p = Prices::parse(DEFAULT_NAME, DEFAULT_TEXT).unwrap();
        let e = p.instance("m9.huge").unwrap_err();
        assert!(matches!(e, Error::Usage(_)), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("unknown instance type 'm9.huge': "),
            "{e}"
        );
        assert!(e.to_string().contains("c7i.2xlarge"), "{e}");
    }
}

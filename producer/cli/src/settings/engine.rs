//! The shard index from the engine that started the process, when no flag,
//! `MARKETPULSE_SHARD_INDEX` or config file sets it: AWS Batch array jobs
//! and Kubernetes Indexed Jobs number their children themselves. (ECS has
//! no index of its own: its launcher sets `MARKETPULSE_SHARD_INDEX` per
//! task.) The shard count always comes from the settings.

/// Engine variables in the order they are read.
pub(crate) const ENGINE_VARS: [&str; 3] = [
    "AWS_BATCH_JOB_ARRAY_INDEX",
    "AWS_BATCH_JOB_ID",
    "JOB_COMPLETION_INDEX",
];

/// `(index, variable)` from the engine's environment (`get` reads it), or
/// None when no engine set one. A variable that is set but holds no index
/// is an error naming it. `AWS_BATCH_JOB_ID` counts only with its array
/// child suffix (`<job id>:<index>`): a single job is not a shard.
pub(crate) fn shard_from(
    get: impl Fn(&str) -> Option<String>,
) -> Result<Option<(i64, &'static str)>, String> {
    for var in ENGINE_VARS {
        let Some(value) = get(var) else { continue };
        let digits = if var == "AWS_BATCH_JOB_ID" {
            match value.rsplit_once(':') {
                Some((_, index)) => index.to_string(),
                None => continue,
            }
        } else {
            value.clone()
        };
        return match digits.trim().parse::<u32>() {
            Ok(i) => Ok(Some((i64::from(i), var))),
            Err(_) => Err(format!("{var}={value} holds no shard index")),
        };
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn each_engine_names_its_index() {
        let got = shard_from(env(&[("AWS_BATCH_JOB_ARRAY_INDEX", "4")]));
        assert_eq!(got, Ok(Some((4, "AWS_BATCH_JOB_ARRAY_INDEX"))));
        let got = shard_from(env(&[("AWS_BATCH_JOB_ID", "9f1c-77:2")]));
        assert_eq!(got, Ok(Some((2, "AWS_BATCH_JOB_ID"))));
        let got = shard_from(env(&[("JOB_COMPLETION_INDEX", "0")]));
        assert_eq!(got, Ok(Some((0, "JOB_COMPLETION_INDEX"))));
    }

    #[test]
    fn the_batch_array_index_comes_first_and_a_plain_job_id_is_no_shard() {
        let both = env(&[
            ("AWS_BATCH_JOB_ID", "abc:7"),
            ("AWS_BATCH_JOB_ARRAY_INDEX", "3"),
        ]);
        assert_eq!(shard_from(both), Ok(Some((3, "AWS_BATCH_JOB_ARRAY_INDEX"))));
        assert_eq!(shard_from(env(&[("AWS_BATCH_JOB_ID", "abc")])), Ok(None));
        assert_eq!(shard_from(env(&[])), Ok(None));
    }

    #[test]
    fn a_value_that_is_no_index_is_named() {
        let got = shard_from(env(&[("JOB_COMPLETION_INDEX", "two")]));
        assert_eq!(
            got,
            Err("JOB_COMPLETION_INDEX=two holds no shard index".into())
        );
        let got = shard_from(env(&[("AWS_BATCH_JOB_ID", "abc:-1")]));
        assert_eq!(
            got,
            Err("AWS_BATCH_JOB_ID=abc:-1 holds no shard index".into())
        );
    }
}
